//! CenterCropPad (ONNX, opset 18), which tract lacks: each of `axes` cropped or padded with
//! zeros to its size in `shape`, centred (a crop starts rounded down, a pad's odd element
//! goes at the end). `shape` must be a constant when the graph is typed (a graph input
//! feeding it is a value input, so it is one); the input's sizes may stay symbolic. tract's
//! own slice and assign copies do the work, so every element type shares one code path.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let axes = node.get_attr_opt_tvec::<i64>("axes")?.map(|a| a.into_vec());
    Ok((expand(Translate { label: label(node), axes }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Translate {
    label: String,
    axes: Option<Vec<i64>>,
}

impl Expansion for Translate {
    fn name(&self) -> StaticName {
        "CenterCropPad".into()
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
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        s.equals(&inputs[1].rank, 1)?;
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let label = &self.label;
        let shape = model.outlet_fact(inputs[1])?.konst.clone();
        let shape = shape.with_context(|| format!("{label}: shape must be a constant"))?;
        if !matches!(shape.datum_type(), DatumType::I32 | DatumType::I64) || shape.rank() != 1 {
            bail!("{label}: expected shape as a 1-D int32 or int64 tensor");
        }
        let rank = model.outlet_fact(inputs[0])?.rank() as i64;
        let axes = self.axes.clone().unwrap_or_else(|| (0..rank).collect());
        let sizes = shape.cast_to::<i64>()?;
        let sizes = super::ml::plain::<i64>(&sizes)?;
        if sizes.len() != axes.len() {
            bail!("{label}: shape has {} sizes for {} axes", sizes.len(), axes.len());
        }
        let mut targets: Vec<(usize, usize)> = Vec::new();
        for (&axis, &size) in axes.iter().zip(sizes) {
            if !(-rank..rank).contains(&axis) || size < 0 {
                bail!("{label}: axis {axis} of rank {rank}, size {size}");
            }
            let axis = axis.rem_euclid(rank) as usize;
            if targets.iter().any(|t| t.0 == axis) {
                bail!("{label}: axis {axis} repeats");
            }
            targets.push((axis, size as usize));
        }
        model.wire_node(prefix, CenterCropPad { targets }, &inputs[..1])
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CenterCropPad {
    /// (axis, size) pairs.
    targets: Vec<(usize, usize)>,
}

/// Zeros, or empty strings.
fn zeros(dt: DatumType, shape: &[usize]) -> TractResult<Tensor> {
    if dt == DatumType::String {
        return Ok(tract_ndarray::ArrayD::<String>::default(shape).into_tensor());
    }
    Tensor::zero_dt(dt, shape)
}

impl CenterCropPad {
    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        let mut shape = x.shape().to_vec();
        self.targets.iter().for_each(|&(axis, size)| shape[axis] = size);
        let mut x = x.clone();
        if x.len() == 0 || shape.contains(&0) {
            return zeros(x.datum_type(), &shape);
        }
        for &(axis, size) in &self.targets {
            let dim = x.shape()[axis];
            if size < dim {
                let start = (dim - size) / 2;
                x = x.slice(axis, start, start + size)?;
            } else if size > dim {
                let mut grown = x.shape().to_vec();
                grown[axis] = size;
                let mut y = zeros(x.datum_type(), &grown)?;
                let start = (size - dim) / 2;
                y.assign_slice(start..start + dim, &x, .., axis)?;
                x = y;
            }
        }
        Ok(x)
    }
}

crate::ops::one_input_eval!(CenterCropPad, "CenterCropPad");

impl TypedOp for CenterCropPad {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape = inputs[0].shape.to_tvec();
        for &(axis, size) in &self.targets {
            *shape.get_mut(axis).context("axis out of range")? = size.to_dim();
        }
        Ok(tvec!(inputs[0].datum_type.fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node_with};

    fn ints(name: &str, values: &[i64]) -> tract_onnx::pb::AttributeProto {
        let mut a = attr(name, Attr::Int(0));
        (a.r#type, a.ints) = (7, values.to_vec());
        a
    }

    fn x() -> Tensor {
        tensor2(&[[1f32, 2., 3., 4.], [5., 6., 7., 8.], [9., 10., 11., 12.]])
    }

    #[test]
    fn crops_start_rounded_down_and_pads_put_the_odd_zero_last() {
        let op = |targets: &[(usize, usize)]| CenterCropPad { targets: targets.to_vec() };
        assert_eq!(op(&[(0, 1), (1, 2)]).apply(&x()).unwrap(), tensor2(&[[6f32, 7.]]));
        assert_eq!(op(&[(1, 3)]).apply(&x()).unwrap().slice(0, 0, 1).unwrap(), tensor2(&[[1f32, 2., 3.]]));
        let y = op(&[(0, 4), (1, 1)]).apply(&x()).unwrap();
        assert_eq!(y, tensor2(&[[2f32], [6.], [10.], [0.]]));
        let y = op(&[(0, 6)]).apply(&tensor2(&[["a".to_string()], ["b".to_string()]])).unwrap();
        let strings = ["", "", "a", "b", "", ""].map(|s| [s.to_string()]);
        assert_eq!(y, tensor2(&strings));
        let y = op(&[(0, 3)]).apply(&tensor1(&[true])).unwrap();
        assert_eq!(y, tensor1(&[false, true, false]));
        assert_eq!(op(&[(1, 0)]).apply(&x()).unwrap().shape(), &[3, 0]);
        assert_eq!(op(&[(1, 2)]).apply(&Tensor::zero::<i64>(&[0, 4]).unwrap()).unwrap().shape(), &[0, 2]);
        assert_eq!(
            op(&[(0, 2)]).apply(&Tensor::zero::<i64>(&[0, 4]).unwrap()).unwrap(),
            Tensor::zero::<i64>(&[2, 4]).unwrap()
        );
    }

    #[test]
    fn the_registry_reads_axes_and_a_constant_shape() {
        let run = |attrs, shape: Tensor| run_node_with("CenterCropPad", attrs, &[("x", x())], &[("s", shape)], &["y"]);
        let y = run(vec![ints("axes", &[-1])], tensor1(&[2i64])).unwrap();
        assert_eq!(y[0], tensor2(&[[2f32, 3.], [6., 7.], [10., 11.]]));
        let y = run(vec![], tensor1(&[1i32, 5])).unwrap();
        assert_eq!(y[0], tensor2(&[[5f32, 6., 7., 8., 0.]]));
        let err = |attrs, shape| format!("{:?}", run(attrs, shape).unwrap_err());
        assert!(err(vec![], tensor1(&[1i64])).contains("1 sizes for 2 axes"));
        assert!(err(vec![ints("axes", &[2])], tensor1(&[1i64])).contains("axis 2 of rank 2"));
        assert!(err(vec![ints("axes", &[0, -2])], tensor1(&[1i64, 1])).contains("axis 0 repeats"));
        assert!(err(vec![], tensor1(&[1i64, -1])).contains("size -1"));
    }
}
