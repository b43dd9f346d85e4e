//! Two-dimensional max and average pooling of f32 NCHW (or CHW) data on edgeinfer-kernels'
//! separable loop. tract's visits each output's window through its generic patch iterator,
//! in its size-optimised code: a fifth of SqueezeNet's time in max pooling, a tenth of
//! Inception's in averages.

use edgeinfer_kernels::pool::{self, Pool};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cnn::{MaxPool, OptMaxPool, OptSumPool, PaddingSpec, PoolSpec, SumPool};
use tract_onnx::tract_core::ops::nn::DataFormat;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    // The symbolic plan keeps MaxPool and SumPool, which tract optimises only for concrete
    // shapes.
    let max = |spec: &PoolSpec, indices: &Option<DatumType>| indices.is_none().then(|| (spec.clone(), Pool::Max));
    let mean = |spec: &PoolSpec, normalize: bool, count_padding: bool| {
        // With ONNX's ceil mode, tract leaves out of a padded count the part of the last window
        // that overhangs the padding; that case stays tract's.
        let overhang = matches!(spec.padding, PaddingSpec::ExplicitOnnxPool(_, _, true));
        let pool = if normalize { Pool::Mean { count_padding } } else { Pool::Sum };
        (!(count_padding && overhang)).then(|| (spec.clone(), pool))
    };
    let found = if let Some(op) = node.op_as::<OptMaxPool>() {
        max(&op.pool_spec, &op.with_index_outputs)
    } else if let Some(op) = node.op_as::<MaxPool>() {
        max(&op.pool_spec, &op.with_index_outputs)
    } else if let Some(op) = node.op_as::<OptSumPool>() {
        mean(&op.pool_spec, op.normalize, op.count_include_pad)
    } else if let Some(op) = node.op_as::<SumPool>() {
        mean(&op.pool_spec, op.normalize, op.count_include_pad)
    } else {
        None
    };
    let Some((spec, pool)) = found else { return Ok(None) };
    let fits = matches!(spec.data_format, DataFormat::NCHW | DataFormat::CHW)
        && spec.rank() == 2
        && spec.dilations().iter().all(|&d| d == 1)
        && super::all_f32(node, inputs);
    Ok(fits.then(|| Box::new(PoolF32 { spec, pool }) as Box<dyn TypedOp>))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PoolF32 {
    spec: PoolSpec,
    pool: Pool,
}

impl Op for PoolF32 {
    fn name(&self) -> StaticName {
        match self.pool {
            Pool::Max => "MaxPoolF32",
            Pool::Sum => "SumPoolF32",
            Pool::Mean { .. } => "AvgPoolF32",
        }
        .into()
    }
    op_as_typed_op!();
}

impl EvalOp for PoolF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let shape = x.shape();
        let (y, x_axis) = super::window_axes(&self.spec, shape);
        let planes: usize = shape[..shape.len() - 2].iter().product();
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[shape.len() - 2] = y.output;
        out_shape[shape.len() - 1] = x_axis.output;
        let xs = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let out = super::filled_as::<f32>(&out_shape, |out| pool::pool_2d(xs, planes, y, x_axis, self.pool, out))?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for PoolF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.spec.output_facts(inputs)
    }
    as_op!();
}
