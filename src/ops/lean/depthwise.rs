//! Depthwise convolutions (one 2-D filter per channel, MobileNet's and ShuffleNet's), with
//! their bias and clamp (ReLU, ReLU6), as one operator on edgeinfer-kernels' `depthwise`
//! loop (fused before tract optimises: see fuse.rs). tract's own ran a quarter of a
//! ShuffleNet's time, and takes no ReLU in.

use std::sync::Arc;

use edgeinfer_kernels::clamp::Clamp;
use edgeinfer_kernels::depthwise::depthwise_2d;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::PoolSpec;

use super::conv::{ConstantConv, constant_conv};
use super::fuse::{Fused, trailing_clamp};
use super::window_axes;

/// The depthwise convolution at node `id`, if it is one this crate computes, with the clamp
/// that follows it.
pub(super) fn layer(model: &TypedModel, id: usize) -> TractResult<Option<Fused>> {
    let Some(ConstantConv { conv, weights, bias }) = constant_conv(model, id)? else { return Ok(None) };
    let channels = conv.pool_spec.input_channels;
    if conv.group != channels || conv.pool_spec.output_channels != channels {
        return Ok(None);
    }
    let mut op = DepthwiseF32 {
        spec: conv.pool_spec.clone(),
        weights: Arc::new(weights),
        bias: Arc::new(bias),
        clamp: Clamp::NONE,
    };
    let last;
    (op.clamp, last) = trailing_clamp(model, id)?;
    Ok(Some(Fused { op: Box::new(op), input: model.node(id).inputs[0], last }))
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
        let (y, xa) = window_axes(&self.spec, shape);
        let channels = self.spec.input_channels;
        let batch = if shape.len() == 4 { shape[0] } else { 1 };
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[shape.len() - 2] = y.output;
        out_shape[shape.len() - 1] = xa.output;
        let mut out = super::zeros(DatumType::F32, &out_shape)?;
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
