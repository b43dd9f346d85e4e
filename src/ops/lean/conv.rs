//! 2-D convolutions with their bias and clamp (ReLU, ReLU6), as one operator on
//! edgeinfer-kernels' `conv_2d`, or its `depthwise_2d` for one filter per channel (MobileNet's
//! and ShuffleNet's), fused before tract optimises (see fuse.rs). tract's plan for them (a
//! padding node, its lazy im2col and its 8x8 matrix kernel, then the ReLU as a node of its
//! own) was 90% of the CNNs' time; its depthwise convolutions alone a quarter of a
//! ShuffleNet's.

use std::sync::Arc;

use edgeinfer_kernels::clamp::Clamp;
use edgeinfer_kernels::conv::{Geometry, conv_2d};
use edgeinfer_kernels::depthwise::depthwise_2d;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::Downsample;
use tract_onnx::tract_core::ops::cnn::{Conv, KernelFormat, PaddingSpec, PoolSpec};
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::nn::DataFormat;

use super::fuse::{Fused, successor_with_constant, trailing_clamp};
use super::window_axes;

/// The convolution at node `id`, if it is one this crate computes (2-D, f32, constant
/// filters and bias), with the clamp that follows it.
pub(super) fn layer(model: &TypedModel, id: usize) -> TractResult<Option<Fused>> {
    let node = model.node(id);
    let Some(conv) = node.op_as::<Conv>() else { return Ok(None) };
    let spec = &conv.pool_spec;
    let plain = conv.q_params.is_none()
        && conv.kernel_fmt == KernelFormat::OIHW
        && matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && spec.rank() == 2
        && spec.dilations().iter().all(|&d| d == 1)
        && node.inputs.len() == 3;
    if !plain || model.outlet_fact(node.inputs[0])?.datum_type != DatumType::F32 {
        return Ok(None);
    }
    let constant = |slot: usize| -> TractResult<Option<Arc<Tensor>>> {
        let fact = model.outlet_fact(node.inputs[slot])?;
        Ok(fact.konst.clone().filter(|k| k.datum_type() == DatumType::F32))
    };
    let (Some(kernel), Some(bias)) = (constant(1)?, constant(2)?) else { return Ok(None) };
    let out = spec.output_channels;
    let shape = [out, spec.input_channels / conv.group.max(1), spec.kernel_shape[0], spec.kernel_shape[1]];
    if conv.group == 0 || kernel.shape() != shape || !(bias.len() == out || bias.len() == 1) {
        return Ok(None);
    }
    let biases = bias.try_as_plain_ram()?.as_slice::<f32>()?;
    let bias = if biases.len() == out { biases.to_vec() } else { vec![biases[0]; out] };
    let mut op = ConvF32 {
        spec: conv.pool_spec.clone(),
        groups: conv.group,
        weights: Arc::new(kernel.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()),
        bias: Arc::new(bias),
        clamp: Clamp::NONE,
    };
    let last;
    (op.clamp, last) = trailing_clamp(model, id)?;
    Ok(Some(Fused { op: Box::new(op), input: model.node(id).inputs[0], last }))
}

/// A 1x1 convolution, which tract's declutter has turned into a product (an EinSum of the
/// NCHW image by constant `[output, input]` filters, after a Downsample per strided axis,
/// then an Add of the bias), with the clamp that follows it, as one `ConvF32`.
pub(super) fn pointwise_layer(model: &TypedModel, id: usize) -> TractResult<Option<Fused>> {
    let node = model.node(id);
    let Some(einsum) = node.op_as::<EinSum>() else { return Ok(None) };
    if einsum.q_params.is_some() || einsum.operating_dt != DatumType::F32 || node.inputs.len() != 2 {
        return Ok(None);
    }
    let (image, filters) = (model.outlet_fact(node.inputs[0])?, model.outlet_fact(node.inputs[1])?);
    let Some(filters) = filters.konst.clone().filter(|k| k.datum_type() == DatumType::F32 && k.rank() == 2) else {
        return Ok(None);
    };
    let (out, cin) = (filters.shape()[0], filters.shape()[1]);
    if image.datum_type != DatumType::F32 || image.rank() != 4 || image.shape[1] != cin.to_dim() {
        return Ok(None);
    }
    // Axes: batch and the two spatial ones pass through, the image's channels meet the
    // filters' inputs, and the filters' outputs become the output's channels.
    let axes = &einsum.axes;
    let at = |io: InOut, p: usize| axes.axis((io, p));
    let through =
        [0, 2, 3].iter().all(|&p| at(InOut::In(0), p).is_ok_and(|a| a.inputs[1].is_empty() && a.outputs[0][..] == [p]));
    let summed = at(InOut::In(0), 1).is_ok_and(|a| a.inputs[1][..] == [1] && a.outputs[0].is_empty());
    let made = at(InOut::In(1), 0).is_ok_and(|a| a.inputs[0].is_empty() && a.outputs[0][..] == [1]);
    if !(through && summed && made && axes.iter_all_axes().count() == 5) {
        return Ok(None);
    }
    // Strided 1x1 convolutions are decluttered into a Downsample of each strided axis first.
    let mut input = node.inputs[0];
    let mut strides = [1, 1];
    while let Some(down) = model.node(input.node).op_as::<Downsample>() {
        let only_reader = model.node(input.node).outputs[0].successors.len() == 1;
        if !only_reader || down.modulo != 0 || down.stride < 1 || !(2..4).contains(&down.axis) {
            break;
        }
        strides[down.axis - 2] *= down.stride as usize;
        input = model.node(input.node).inputs[0];
    }
    let mut bias = vec![0.0; out];
    let mut last = id;
    if let Some((add, b)) = successor_with_constant::<math::Add>(model, id)?
        && (b.shape() == [1, out, 1, 1] || b.len() == 1)
    {
        let b = b.try_as_plain_ram()?.as_slice::<f32>()?;
        bias = if b.len() == out { b.to_vec() } else { vec![b[0]; out] };
        last = add;
    }
    let mut op = ConvF32 {
        spec: PoolSpec {
            data_format: DataFormat::NCHW,
            kernel_shape: tvec![1, 1],
            padding: PaddingSpec::Valid,
            dilations: None,
            strides: Some(tvec![strides[0], strides[1]]),
            input_channels: cin,
            output_channels: out,
        },
        groups: 1,
        weights: Arc::new(filters.try_as_plain_ram()?.as_slice::<f32>()?.to_vec()),
        bias: Arc::new(bias),
        clamp: Clamp::NONE,
    };
    (op.clamp, last) = trailing_clamp(model, last)?;
    Ok(Some(Fused { op: Box::new(op), input, last }))
}

#[derive(Debug, Clone, PartialEq)]
struct ConvF32 {
    spec: PoolSpec,
    groups: usize,
    /// `[output channels, input channels / groups, kh, kw]`.
    weights: Arc<Vec<f32>>,
    bias: Arc<Vec<f32>>,
    clamp: Clamp,
}

impl Eq for ConvF32 {}

impl ConvF32 {
    /// One filter per channel.
    fn depthwise(&self) -> bool {
        self.groups > 1 && self.groups == self.spec.input_channels && self.groups == self.spec.output_channels
    }
}

impl Op for ConvF32 {
    fn name(&self) -> StaticName {
        let k = &self.spec.kernel_shape;
        format!(
            "{}<{}x{}/{}{}>",
            if self.depthwise() { "DepthwiseF32" } else { "ConvF32" },
            k[0],
            k[1],
            self.spec.stride(0),
            if self.clamp.is_none() { "" } else { "+clamp" }
        )
        .into()
    }
    op_as_typed_op!();
}

impl EvalOp for ConvF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let shape = x.shape();
        let (y, xa) = window_axes(&self.spec, shape);
        let geometry = Geometry {
            batch: if shape.len() == 4 { shape[0] } else { 1 },
            input_channels: self.spec.input_channels,
            output_channels: self.spec.output_channels,
            groups: self.groups,
            y,
            x: xa,
        };
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[shape.len() - 3] = self.spec.output_channels;
        out_shape[shape.len() - 2] = y.output;
        out_shape[shape.len() - 1] = xa.output;
        let x = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let (channels, w, b) = (self.groups, &self.weights[..], &self.bias[..]);
        let out = super::filled_as::<f32>(&out_shape, |y| {
            if self.depthwise() {
                depthwise_2d(x, geometry.batch, channels, geometry.y, geometry.x, w, b, self.clamp, y)
            } else {
                conv_2d(x, &geometry, w, b, self.clamp, y)
            }
        })?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for ConvF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.spec.output_facts(inputs)
    }
    as_op!();
}
