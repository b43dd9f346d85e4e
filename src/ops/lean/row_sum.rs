//! Row sums (a Reduce<Sum> over the last axis, LayerNorm's mean) with the kernel tract's
//! Reduce uses for them, outside tract's size-optimised generic reduction.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};
use tract_onnx::tract_core::tract_linalg::routines::Func;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    let rank = inputs.first().map_or(0, |f| f.rank());
    Ok(match node.op_as::<Reduce>() {
        Some(r) if r.reducer == Reducer::Sum && rank > 0 && *r.axes == [rank - 1] && super::all_f32(node, inputs) => {
            Some(Box::new(RowSumF32))
        }
        _ => None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RowSumF32;

impl Op for RowSumF32 {
    fn name(&self) -> StaticName {
        "RowSumF32".into()
    }
    op_as_typed_op!();
}

impl EvalOp for RowSumF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let mut shape: TVec<usize> = x.shape().into();
        let row = std::mem::replace(shape.last_mut().context("RowSumF32 on a scalar")?, 1);
        let xs = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let sum = Func::ReduceSum.reduce_f32()?;
        let mut y = super::zeros(DatumType::F32, &shape)?;
        if row > 0 {
            let mut plain = y.try_as_plain_ram_mut()?;
            for (y, r) in plain.as_slice_mut::<f32>()?.iter_mut().zip(xs.chunks_exact(row)) {
                // Below four elements tract sums plainly, as its kernel's remainder does.
                *y = if row >= 4 { sum.run(r)? } else { r.iter().sum() };
            }
        }
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for RowSumF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        if let Some(last) = shape.last_mut() {
            *last = 1.to_dim();
        }
        Ok(tvec!(f32::fact(shape)))
    }
    as_op!();
}
