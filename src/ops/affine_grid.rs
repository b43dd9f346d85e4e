//! AffineGrid (ONNX, opset 20), which tract lacks: for each theta (N, 2, 3) or (N, 3, 4), the
//! sampling grid (N, H, W, 2) or (N, D, H, W, 3) of theta times the homogeneous coordinates
//! (x, y[, z], 1) of a [-1, 1] grid, as the reference builds it (`-1 + i * step`, with
//! align_corners step 2/(n-1) from -1, else 2/n from -1 + step/2). `size` must be a constant
//! when the graph is typed (a graph input feeding it is a value input, so it is one).
//! Computed in f64 and cast back to theta's type.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, bad_shape, label, plain};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let align = match node.get_attr_opt::<i64>("align_corners")?.unwrap_or(0) {
        0 => false,
        1 => true,
        other => bail!("{}: align_corners is {other}, expected 0 or 1", label(node)),
    };
    Ok((expand(Translate { label: label(node), align }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Translate {
    label: String,
    align: bool,
}

impl Expansion for Translate {
    fn name(&self) -> StaticName {
        "AffineGrid".into()
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
        s.equals(&inputs[0].rank, 3)?;
        s.equals(&inputs[1].rank, 1)?;
        s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let label = &self.label;
        let size = model.outlet_fact(inputs[1])?.konst.clone();
        let size = size.with_context(|| format!("{label}: size must be a constant"))?;
        if !matches!(size.datum_type(), DatumType::I32 | DatumType::I64) || !matches!(size.len(), 4 | 5) {
            bail!("{label}: expected size as 4 or 5 int64 values");
        }
        let size = size.cast_to::<i64>()?;
        let dims = &plain::<i64>(&size)?[2..];
        if dims.iter().any(|&d| d < 1) {
            bail!("{label}: size {dims:?}");
        }
        let op =
            AffineGrid { label: label.clone(), align: self.align, dims: dims.iter().map(|&d| d as usize).collect() };
        model.wire_node(prefix, op, &inputs[..1])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AffineGrid {
    label: String,
    align: bool,
    /// [H, W] or [D, H, W].
    dims: Vec<usize>,
}

impl AffineGrid {
    /// The coordinates along an axis of `n` points.
    fn axis(&self, n: usize) -> Vec<f64> {
        let (start, step) = match (self.align, n) {
            (true, 1) => (0.0, 0.0),
            (true, _) => (-1.0, 2.0 / (n - 1) as f64),
            (false, _) => (-1.0 + 1.0 / n as f64, 2.0 / n as f64),
        };
        (0..n).map(|i| start + i as f64 * step).collect()
    }

    fn apply(&self, theta: &Tensor) -> TractResult<Tensor> {
        let k = self.dims.len();
        let (n, shape) = (theta.shape()[0], theta.shape());
        if shape[1..] != [k, k + 1] {
            return Err(bad_shape(&self.label, format!("theta is {shape:?}, expected (N, {k}, {})", k + 1)));
        }
        let t = theta.cast_to::<f64>()?;
        let t = plain::<f64>(&t)?;
        // Coordinates per axis, innermost (x) first, as the homogeneous vector orders them.
        let axes: Vec<Vec<f64>> = self.dims.iter().rev().map(|&d| self.axis(d)).collect();
        let points: usize = self.dims.iter().product();
        let mut out = Vec::with_capacity(n * points * k);
        let mut base = vec![1.0; k + 1];
        for m in t.chunks_exact(k * (k + 1)) {
            for p in 0..points {
                let mut rest = p;
                for (b, coords) in base.iter_mut().zip(&axes) {
                    *b = coords[rest % coords.len()];
                    rest /= coords.len();
                }
                for row in m.chunks_exact(k + 1) {
                    out.push(row.iter().zip(&base).map(|(a, b)| a * b).sum::<f64>());
                }
            }
        }
        let mut dims = vec![n];
        dims.extend(&self.dims);
        dims.push(k);
        Ok(Tensor::from_shape(&dims, &out)?.cast_to_dt(theta.datum_type())?.into_owned())
    }
}

crate::ops::one_input_eval!(AffineGrid, "AffineGrid");

impl TypedOp for AffineGrid {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let theta = inputs[0];
        if !theta.datum_type.is_float() || theta.rank() != 3 {
            bail!("{}: expected theta as a 3-D float tensor", self.label);
        }
        let mut shape = tvec![theta.shape[0].clone()];
        shape.extend(self.dims.iter().map(|d| d.to_dim()));
        shape.push(self.dims.len().to_dim());
        Ok(tvec!(theta.datum_type.fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node_with};

    fn op(align: bool, dims: &[usize]) -> AffineGrid {
        AffineGrid { label: "a".into(), align, dims: dims.to_vec() }
    }

    #[test]
    fn the_identity_gives_the_base_grid() {
        let id = tensor3(&[[[1f32, 0., 0.], [0., 1., 0.]]]);
        let y = op(false, &[1, 2]).apply(&id).unwrap();
        assert_eq!(y, tensor4(&[[[[-0.5f32, 0.], [0.5, 0.]]]]));
        let y = op(true, &[2, 1]).apply(&id).unwrap();
        assert_eq!(y, tensor4(&[[[[0f32, -1.]], [[0., 1.]]]]));
        // A translation and a swap of x and y, in 3-D.
        let t = tensor3(&[[[0f64, 1., 0., 0.], [1., 0., 0., 0.], [0., 0., 1., 2.]]]);
        let y = op(true, &[2, 1, 1]).apply(&t).unwrap();
        assert_eq!(y, Tensor::from_shape(&[1, 2, 1, 1, 3], &[0f64, 0., 1., 0., 0., 3.]).unwrap());
        let err = op(false, &[1, 2]).apply(&t).unwrap_err();
        assert!(err.to_string().contains("theta is [1, 3, 4]"), "{err}");
        assert_eq!(crate::error::from_tract(&err, crate::Error::Runtime).code(), "E_INPUT_SHAPE");
    }

    #[test]
    fn the_registry_reads_align_corners_and_a_constant_size() {
        let theta = [("theta", tensor3(&[[[2f32, 0., 0.], [0., 1., 1.]]]))];
        let run = |a, size: Tensor| {
            run_node_with("AffineGrid", vec![attr("align_corners", a)], &theta, &[("s", size)], &["y"])
        };
        let y = run(Attr::Int(1), tensor1(&[1i64, 1, 1, 3])).unwrap();
        assert_eq!(y[0], tensor4(&[[[[-2f32, 1.], [0., 1.], [2., 1.]]]]));
        assert!(
            format!("{:?}", run(Attr::Int(2), tensor1(&[1i64, 1, 1, 3])).unwrap_err()).contains("align_corners is 2")
        );
        assert!(format!("{:?}", run(Attr::Int(0), tensor1(&[1i64, 1, 0, 3])).unwrap_err()).contains("size [0, 3]"));
        assert!(format!("{:?}", run(Attr::Int(0), tensor1(&[1i64, 3])).unwrap_err()).contains("expected size"));
    }
}
