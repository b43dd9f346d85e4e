//! LpPool (ONNX), which tract lacks: `(sum |x|^p)^(1/p)` over each window. It is wired from
//! tract's own operators, `|x|^p`, tract's SumPool (unnormalised, so padding adds nothing)
//! and `^(1/p)`: SumPool already reads kernel_shape, strides, pads, auto_pad, dilations and
//! ceil_mode as ONNX's AveragePool does (tract passes every AveragePool case), so no second
//! pooling loop goes into the wasm.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::cnn::{PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::math::{abs, pow, sqrt, square};
use tract_onnx::tract_core::ops::nn::DataFormat;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::cnn::HirSumPool;

use super::ml::{Built, label};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let label = label(node);
    let kernel_shape: TVec<usize> = node.get_attr_tvec("kernel_shape")?;
    let p: i64 = node.get_attr_opt("p")?.unwrap_or(2);
    if p < 1 {
        bail!("{label}: p is {p}, expected at least 1");
    }
    let ceil_mode = node.get_attr_opt::<i64>("ceil_mode")?.unwrap_or(0) == 1;
    let zeros = || tvec!(0; kernel_shape.len());
    let mut padding = match node.get_attr_opt::<String>("auto_pad")?.as_deref().unwrap_or("NOTSET") {
        "NOTSET" => PaddingSpec::ExplicitOnnxPool(zeros(), zeros(), ceil_mode),
        "VALID" => PaddingSpec::Valid,
        "SAME_UPPER" => PaddingSpec::SameUpper,
        "SAME_LOWER" => PaddingSpec::SameLower,
        other => bail!("{label}: auto_pad is '{other}'"),
    };
    if let Some(pads) = node.get_attr_opt_tvec::<usize>("pads")? {
        if pads.len() != 2 * kernel_shape.len() {
            bail!("{label}: expected {} pads, got {}", 2 * kernel_shape.len(), pads.len());
        }
        let (begin, end) = pads.split_at(kernel_shape.len());
        padding = PaddingSpec::ExplicitOnnxPool(begin.into(), end.into(), ceil_mode);
    }
    let dilations = node.get_attr_opt_tvec("dilations")?;
    let strides = node.get_attr_opt_tvec("strides")?;
    let spec = PoolSpec::new(DataFormat::NCHW, kernel_shape, padding, dilations, strides, 0, 0);
    Ok((expand(LpPool { label, p, sum: HirSumPool::new(spec, false, false) }), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct LpPool {
    label: String,
    p: i64,
    sum: HirSumPool,
}

impl LpPool {
    /// `x^e` elementwise, e a scalar of x's type.
    fn wire_pow(&self, name: &str, model: &mut TypedModel, x: OutletId, e: f64) -> TractResult<OutletId> {
        let fact = model.outlet_fact(x)?;
        let mut e = tensor0(e).cast_to_dt(fact.datum_type)?.into_owned();
        for _ in 0..fact.rank() {
            e.insert_axis(0)?;
        }
        let e = model.add_const(format!("{name}.exponent"), e)?;
        Ok(model.wire_node(name, pow(), &[x, e])?[0])
    }
}

impl Expansion for LpPool {
    fn name(&self) -> StaticName {
        "LpPool".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.sum.rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let dt = model.outlet_fact(inputs[0])?.datum_type;
        if !dt.is_float() {
            bail!("{}: expected float input, got {dt:?}", self.label);
        }
        let mut x = model.wire_node(format!("{prefix}.abs"), abs(), inputs)?[0];
        x = match self.p {
            1 => x,
            2 => model.wire_node(format!("{prefix}.square"), square(), &[x])?[0],
            p => self.wire_pow(&format!("{prefix}.pow"), model, x, p as f64)?,
        };
        let sum = self.sum.wire(&format!("{prefix}.sum"), model, &[x])?[0];
        Ok(tvec!(match self.p {
            1 => sum,
            2 => model.wire_node(prefix, sqrt(), &[sum])?[0],
            p => self.wire_pow(prefix, model, sum, 1.0 / p as f64)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node};

    fn ints(name: &str, values: &[i64]) -> tract_onnx::pb::AttributeProto {
        let mut a = attr(name, Attr::Int(0));
        (a.r#type, a.ints) = (7, values.to_vec());
        a
    }

    fn close(actual: &Tensor, expected: &[f64]) {
        let actual = actual.cast_to::<f64>().unwrap();
        let actual = crate::ops::ml::plain::<f64>(&actual).unwrap();
        assert_eq!(actual.len(), expected.len(), "{actual:?}, expected {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= 1e-5 * (1.0 + e.abs()), "{actual:?}, expected {expected:?}");
        }
    }

    /// x [1, 1, 4]: -1, 2, -3, 4.
    fn x() -> Tensor {
        tensor3(&[[[-1f32, 2., -3., 4.]]])
    }

    #[test]
    fn the_norm_of_each_window_for_every_p() {
        let run = |attrs| run_node("LpPool", attrs, &[("x", x())], &["y"]).unwrap().remove(0);
        let y = run(vec![ints("kernel_shape", &[2])]);
        close(&y, &[5f64.sqrt(), 13f64.sqrt(), 5.0]);
        let y = run(vec![ints("kernel_shape", &[2]), attr("p", Attr::Int(1))]);
        close(&y, &[3.0, 5.0, 7.0]);
        let y = run(vec![ints("kernel_shape", &[3]), attr("p", Attr::Int(3))]);
        close(&y, &[36f64.cbrt(), 99f64.cbrt()]);
        // Padding counts as zero; strides and dilations as AveragePool reads them.
        let y = run(vec![ints("kernel_shape", &[2]), ints("pads", &[1, 1]), ints("strides", &[2])]);
        close(&y, &[1.0, 13f64.sqrt(), 4.0]);
        let y = run(vec![ints("kernel_shape", &[2]), ints("dilations", &[2])]);
        close(&y, &[10f64.sqrt(), 20f64.sqrt()]);
        let y = run(vec![ints("kernel_shape", &[2]), attr("auto_pad", Attr::Str("SAME_LOWER"))]);
        close(&y, &[1.0, 5f64.sqrt(), 13f64.sqrt(), 5.0]);
        let x = x().cast_to_dt(DatumType::F64).unwrap().into_owned();
        let y = run_node("LpPool", vec![ints("kernel_shape", &[4]), attr("p", Attr::Int(4))], &[("x", x)], &["y"]);
        close(&y.unwrap()[0], &[354f64.powf(0.25)]);
    }

    #[test]
    fn bad_attributes_are_refused_at_load() {
        let run = |attrs| format!("{:?}", run_node("LpPool", attrs, &[("x", x())], &["y"]).unwrap_err());
        assert!(run(vec![ints("kernel_shape", &[2]), attr("p", Attr::Int(0))]).contains("p is 0"));
        assert!(run(vec![ints("kernel_shape", &[2]), ints("pads", &[1])]).contains("expected 2 pads"));
        assert!(run(vec![ints("kernel_shape", &[2]), attr("auto_pad", Attr::Str("FULL"))]).contains("auto_pad"));
        assert!(run(vec![]).contains("kernel_shape"));
    }
}
