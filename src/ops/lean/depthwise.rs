//! Depthwise convolutions (one 2-D filter per channel, MobileNet's and ShuffleNet's), with
//! their bias and clamp (ReLU, ReLU6), as one operator on edgeinfer-kernels' `depthwise`
//! loop (fused before tract optimises: see fuse.rs). tract's own ran a quarter of a
//! ShuffleNet's time, and takes no ReLU in.

use std::sync::Arc;

use edgeinfer_kernels::clamp::Clamp;
use edgeinfer_kernels::depthwise::depthwise_2d;
use edgeinfer_kernels::window::Axis;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PoolSpec};
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::fuse::{Fused, trailing_clamp};

/// The depthwise convolution at node `id`, if it is one this crate computes, with the clamp
/// that follows it.
pub(super) fn layer(model: &TypedModel, id: usize) -> TractResult<Option<Fused>> {
    let node = model.node(id);
    let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
    let spec = &conv.pool_spec;
    let channels = spec.input_channels;
    let plain = conv.q_params.is_none()
        && conv.kernel_fmt == KernelFormat::OIHW
        && matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && spec.rank() == 2
        && spec.dilations().iter().all(|&d| d == 1)
        && conv.group == channels
        && spec.output_channels == channels
        && node.inputs.len() == 3;
    if !plain || model.outlet_fact(node.inputs[0])?.datum_type != DatumType::F32 {
        return Ok(None);
    }
    let constant = |slot: usize| -> TractResult<Option<Arc<Tensor>>> {
        let fact = model.outlet_fact(node.inputs[slot])?;
        Ok(fact.konst.clone().filter(|k| k.datum_type() == DatumType::F32))
    };
    let (Some(kernel), Some(bias)) = (constant(1)?, constant(2)?) else { return Ok(None) };
    let (kh, kw) = (spec.kernel_shape[0], spec.kernel_shape[1]);
    if kernel.shape() != [channels, 1, kh, kw] || !(bias.len() == channels || bias.len() == 1) {
        return Ok(None);
    }
    let biases = bias.try_as_plain_ram()?.as_slice::<f32>()?;
    let mut op = DepthwiseF32 {
        spec: spec.clone(),
        weights: Arc::new(kernel.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()),
        bias: Arc::new(if biases.len() == channels { biases.to_vec() } else { vec![biases[0]; channels] }),
        clamp: Clamp::NONE,
    };
    let last;
    (op.clamp, last) = trailing_clamp(model, id)?;
    Ok(Some(Fused { op: Box::new(op), input: node.inputs[0], last }))
}

#[derive(Debug, Clone, PartialEq)]
struct DepthwiseF32 {
    spec: PoolSpec,
    /// `[channels, kh, kw]`.
    weights: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
    clamp: Clamp,
}

impl Eq for DepthwiseF32 {}

impl Op for DepthwiseF32 {
    fn name(&self) -> StaticName {
        let k = &self.spec.kernel_shape;
        format!(
            "DepthwiseF32<{}x{}/{}{}>",
            k[0],
            k[1],
            self.spec.stride(0),
            if self.clamp.is_none() { "" } else { "+clamp" }
        )
        .into()
    }
    op_as_typed_op!();
}

impl EvalOp for DepthwiseF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let shape = x.shape();
        let hw = &shape[shape.len() - 2..];
        let padding = self.spec.computed_padding(hw);
        let axis = |i: usize| Axis {
            input: hw[i],
            output: padding[i].convoluted,
            kernel: self.spec.kernel_shape[i],
            stride: self.spec.stride(i),
            pad_before: padding[i].pad_before,
        };
        let (y, xa) = (axis(0), axis(1));
        let channels = self.spec.input_channels;
        let batch = if shape.len() == 4 { shape[0] } else { 1 };
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[shape.len() - 2] = y.output;
        out_shape[shape.len() - 1] = xa.output;
        let mut out = Tensor::zero::<f32>(&out_shape)?;
        let mut plain = out.try_as_plain_ram_mut()?;
        depthwise_2d(
            x.try_as_plain_ram()?.as_slice::<f32>()?,
            batch,
            channels,
            y,
            xa,
            &self.weights,
            &self.bias,
            self.clamp,
            plain.as_slice_mut::<f32>()?,
        )
        .map_err(TractError::msg)?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for DepthwiseF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.spec.output_facts(inputs)
    }
    as_op!();
}
