//! CumProd (ONNX, opset 26), which tract lacks. Translated as tract translates CumSum: the
//! axis operand must be a constant when the graph is typed (a graph input feeding it is a
//! value input, so it is one), and the typed operator keeps only the data input.
//!
//! Floats are multiplied in f64 and integers in i64 with wrapping (as numpy's cumprod wraps),
//! each cast back to the input's type, so two loops serve the seven types the standard
//! allows rather than a copy per type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label, plain};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let flag = |name: &str| -> TractResult<bool> {
        match node.get_attr_opt::<i64>(name)?.unwrap_or(0) {
            0 => Ok(false),
            1 => Ok(true),
            other => bail!("{}: {name} is {other}, expected 0 or 1", label(node)),
        }
    };
    let (exclusive, reverse) = (flag("exclusive")?, flag("reverse")?);
    Ok((expand(Translate { label: label(node), exclusive, reverse }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Translate {
    label: String,
    exclusive: bool,
    reverse: bool,
}

impl Expansion for Translate {
    fn name(&self) -> StaticName {
        "CumProd".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].shape, &outputs[0].shape)?;
        s.equals(&inputs[1].rank, 0)?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let label = &self.label;
        let fact = model.outlet_fact(inputs[1])?;
        let axis = fact.konst.as_ref().with_context(|| format!("{label}: axis must be a constant"))?;
        if !matches!(axis.datum_type(), DatumType::I32 | DatumType::I64) {
            bail!("{label}: axis is {:?}, expected int32 or int64", axis.datum_type());
        }
        let axis = axis.cast_to_scalar::<i64>()?;
        let rank = model.outlet_fact(inputs[0])?.rank() as i64;
        if !(-rank..rank).contains(&axis) {
            bail!("{label}: axis {axis} is out of range for rank {rank}");
        }
        let axis = axis.rem_euclid(rank) as usize;
        let op = CumProd { label: self.label.clone(), axis, exclusive: self.exclusive, reverse: self.reverse };
        model.wire_node(prefix, op, &inputs[..1])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CumProd {
    label: String,
    axis: usize,
    exclusive: bool,
    reverse: bool,
}

/// The running products along the axis of `data`, laid out [outer, len, inner].
fn scan<T: Copy>(data: &mut [T], len: usize, inner: usize, one: T, mul: fn(T, T) -> T, exclusive: bool, reverse: bool) {
    if len == 0 || inner == 0 {
        return;
    }
    for block in data.chunks_exact_mut(len * inner) {
        for j in 0..inner {
            let mut acc = one;
            for k in 0..len {
                let at = if reverse { len - 1 - k } else { k } * inner + j;
                let v = block[at];
                if exclusive {
                    block[at] = acc;
                    acc = mul(acc, v);
                } else {
                    acc = mul(acc, v);
                    block[at] = acc;
                }
            }
        }
    }
}

fn check_type(label: &str, dt: DatumType) -> TractResult<()> {
    use DatumType::*;
    if !matches!(dt, I32 | I64 | U32 | U64 | F16 | F32 | F64) {
        bail!("{label}: expected a numeric input (int32/64, uint32/64 or float), got {dt:?}");
    }
    Ok(())
}

impl CumProd {
    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        let dt = x.datum_type();
        check_type(&self.label, dt)?;
        let shape = x.shape();
        let len = shape[self.axis];
        let inner: usize = shape[self.axis + 1..].iter().product();
        let (ex, rev) = (self.exclusive, self.reverse);
        let y = if dt.is_float() {
            let mut v = plain::<f64>(&*x.cast_to::<f64>()?)?.to_vec();
            scan(&mut v, len, inner, 1f64, |a, b| a * b, ex, rev);
            Tensor::from_shape(shape, &v)?
        } else {
            let mut v = plain::<i64>(&*x.cast_to::<i64>()?)?.to_vec();
            scan(&mut v, len, inner, 1i64, i64::wrapping_mul, ex, rev);
            Tensor::from_shape(shape, &v)?
        };
        Ok(y.cast_to_dt(dt)?.into_owned())
    }
}

crate::ops::one_input_eval!(CumProd, "CumProd");

impl TypedOp for CumProd {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        check_type(&self.label, x.datum_type)?;
        ensure!(self.axis < x.rank());
        Ok(tvec!(x.datum_type.fact(x.shape.clone())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node_with};

    fn op(axis: usize, exclusive: bool, reverse: bool) -> CumProd {
        CumProd { label: "c".into(), axis, exclusive, reverse }
    }

    /// The onnx 1.23 cases test_cumprod_1d*.
    #[test]
    fn exclusive_and_reverse_as_the_reference() {
        let x = tensor1(&[1f64, 2., 3., 4., 5.]);
        assert_eq!(op(0, false, false).apply(&x).unwrap(), tensor1(&[1f64, 2., 6., 24., 120.]));
        assert_eq!(op(0, true, false).apply(&x).unwrap(), tensor1(&[1f64, 1., 2., 6., 24.]));
        assert_eq!(op(0, false, true).apply(&x).unwrap(), tensor1(&[120f64, 120., 60., 20., 5.]));
        assert_eq!(op(0, true, true).apply(&x).unwrap(), tensor1(&[120f64, 60., 20., 5., 1.]));
    }

    #[test]
    fn axes_and_integer_types() {
        let x = tensor2(&[[1i32, 2, 3], [4, 5, 6]]);
        assert_eq!(op(0, false, false).apply(&x).unwrap(), tensor2(&[[1i32, 2, 3], [4, 10, 18]]));
        assert_eq!(op(1, false, false).apply(&x).unwrap(), tensor2(&[[1i32, 2, 6], [4, 20, 120]]));
        // int32 wraps as numpy's does.
        let big = tensor1(&[65536i32, 65536, 3]);
        assert_eq!(op(0, false, false).apply(&big).unwrap(), tensor1(&[65536i32, 0, 0]));
        let x = tensor1(&[u64::MAX, 2]);
        assert_eq!(op(0, false, false).apply(&x).unwrap(), tensor1(&[u64::MAX, u64::MAX - 1]));
        let x = tensor1(&[1.5f32, 2.0, -1.0]).cast_to_dt(DatumType::F16).unwrap().into_owned();
        let y = op(0, false, true).apply(&x).unwrap();
        assert_eq!(y, tensor1(&[-3f32, -2.0, -1.0]).cast_to_dt(DatumType::F16).unwrap().into_owned());
        assert!(op(0, false, false).apply(&tensor1(&[1i8])).is_err());
        assert_eq!(op(0, false, false).apply(&Tensor::zero::<f32>(&[0, 2]).unwrap()).unwrap().shape(), &[0, 2]);
    }

    #[test]
    fn the_registry_gives_cumprod_to_this_operator() {
        let x = [("x", tensor2(&[[1f32, 2., 3.], [4., 5., 6.]]))];
        let attrs = || vec![attr("exclusive", Attr::Int(1))];
        let y = run_node_with("CumProd", attrs(), &x, &[("axis", tensor0(-1i64))], &["y"]).unwrap();
        assert_eq!(y[0], tensor2(&[[1f32, 1., 2.], [1., 4., 20.]]));
        let err = run_node_with("CumProd", attrs(), &x, &[("axis", tensor0(2i32))], &["y"]).unwrap_err();
        assert!(format!("{err:?}").contains("axis 2 is out of range"), "{err:?}");
        let err = run_node_with("CumProd", vec![attr("reverse", Attr::Int(2))], &x, &[("axis", tensor0(0i64))], &["y"]);
        assert!(format!("{:?}", err.unwrap_err()).contains("reverse is 2"));
    }
}
