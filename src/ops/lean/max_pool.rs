//! Two-dimensional max pooling of f32 NCHW (or CHW) data on edgeinfer-kernels' separable
//! loop. tract's visits each output's window through its generic patch iterator, in its
//! size-optimised code: a fifth of SqueezeNet's time.

use edgeinfer_kernels::pool;
use edgeinfer_kernels::window::Axis;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, OptMaxPool, PoolSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    // The symbolic plan keeps MaxPool, which tract optimises only for concrete shapes.
    let (spec, indices) = match (node.op_as::<OptMaxPool>(), node.op_as::<MaxPool>()) {
        (Some(op), _) => (&op.pool_spec, op.with_index_outputs),
        (_, Some(op)) => (&op.pool_spec, op.with_index_outputs),
        _ => return Ok(None),
    };
    let fits = indices.is_none()
        && matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && spec.rank() == 2
        && spec.dilations().iter().all(|&d| d == 1)
        && super::all_f32(node, inputs);
    Ok(fits.then(|| Box::new(MaxPoolF32(spec.clone())) as Box<dyn TypedOp>))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MaxPoolF32(PoolSpec);

impl Op for MaxPoolF32 {
    fn name(&self) -> StaticName {
        "MaxPoolF32".into()
    }
    op_as_typed_op!();
}

impl EvalOp for MaxPoolF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let shape = x.shape();
        let hw = &shape[shape.len() - 2..];
        let padding = self.0.computed_padding(hw);
        let axis = |i: usize| Axis {
            input: hw[i],
            output: padding[i].convoluted,
            kernel: self.0.kernel_shape[i],
            stride: self.0.stride(i),
            pad_before: padding[i].pad_before,
        };
        let (y, x_axis) = (axis(0), axis(1));
        let planes: usize = shape[..shape.len() - 2].iter().product();
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[shape.len() - 2] = y.output;
        out_shape[shape.len() - 1] = x_axis.output;
        let mut out = Tensor::zero::<f32>(&out_shape)?;
        pool::max_pool_2d(
            x.try_as_plain_ram()?.as_slice::<f32>()?,
            planes,
            y,
            x_axis,
            out.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        )
        .map_err(TractError::msg)?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for MaxPoolF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.0.output_facts(inputs)
    }
    as_op!();
}
