//! Sum, Max, Min, ArgMax and ArgMin of f32 over any run of adjacent axes, on
//! edgeinfer-kernels' loops (sums over the last axis are row_sum.rs's). tract's own slices the input once per output element (allocating each time) and
//! vectorises only reductions over the last axis: the demo recommender's "which films are
//! picked" (a max over the first axis of a [picks, 1663] matrix) took 60% of its
//! prediction there. NaN is handled as onnxruntime handles it (see edgeinfer-kernels).

use edgeinfer_kernels::reduce;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer};

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    let Some(op) = node.op_as::<Reduce>() else { return Ok(None) };
    let adjacent = op.axes.windows(2).all(|w| w[1] == w[0] + 1);
    let known =
        matches!(op.reducer, Reducer::Sum | Reducer::Max | Reducer::Min | Reducer::ArgMax(_) | Reducer::ArgMin(_));
    Ok((known && adjacent && !op.axes.is_empty() && inputs[0].datum_type == f32::datum_type())
        .then(|| Box::new(ReduceF32(op.clone())) as Box<dyn TypedOp>))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ReduceF32(Reduce);

impl Op for ReduceF32 {
    fn name(&self) -> StaticName {
        format!("ReduceF32<{:?}>", self.0.reducer).into()
    }
    op_as_typed_op!();
}

impl EvalOp for ReduceF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let shape = x.shape();
        let (first, last) = (self.0.axes[0], self.0.axes[self.0.axes.len() - 1]);
        let outer: usize = shape[..first].iter().product();
        let n: usize = shape[first..=last].iter().product();
        let inner: usize = shape[last + 1..].iter().product();
        let mut out_shape: TVec<usize> = shape.into();
        for &axis in &self.0.axes {
            out_shape[axis] = 1;
        }
        let xs = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let y = match self.0.reducer {
            Reducer::Sum | Reducer::Max | Reducer::Min => {
                super::filled_as::<f32>(&out_shape, |ys| match self.0.reducer {
                    Reducer::Sum => reduce::sum(xs, outer, n, inner, ys),
                    Reducer::Max => reduce::max(xs, outer, n, inner, ys),
                    _ => reduce::min(xs, outer, n, inner, ys),
                })?
            }
            Reducer::ArgMax(last) | Reducer::ArgMin(last) => {
                let smallest = matches!(self.0.reducer, Reducer::ArgMin(_));
                super::filled_as::<i64>(&out_shape, |ys| reduce::arg_extreme(xs, outer, n, inner, smallest, last, ys))?
            }
            _ => bail!("ReduceF32 does not compute {:?}", self.0.reducer),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for ReduceF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.0.output_facts(inputs)
    }
    as_op!();
}
