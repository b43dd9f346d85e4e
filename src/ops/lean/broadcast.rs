//! Comparisons, And and Or, and Where (tract's Iff) of broadcast tensors, on
//! edgeinfer-kernels' `broadcast` loops. tract runs them through ndarray's `Zip` over
//! dynamic shapes in its size-optimised code: about 10 ns an element, so the demo
//! recommender's "is this film picked" (a [picks, 1663] comparison) was a third of its time.

use edgeinfer_kernels::broadcast::{Compare, ValuesMut, compare, select};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_onnx::tract_core::ops::logic::{And, CompEq, CompGT, CompGTE, CompLT, CompLTE, CompNE, Iff, Or};

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    if node.op_is::<Iff>() {
        let dt = inputs[1].datum_type;
        let fits = inputs[0].datum_type == DatumType::Bool && inputs[2].datum_type == dt && KINDS.contains(&dt);
        return Ok(fits.then(|| Box::new(Where) as Box<dyn TypedOp>));
    }
    let Some(TypedBinOp(mini, None)) = node.op_as::<TypedBinOp>() else { return Ok(None) };
    let Some(op) = compare_of(&**mini) else { return Ok(None) };
    let dt = inputs[0].datum_type;
    let fits = inputs[1].datum_type == dt
        && node.outputs[0].fact.datum_type == DatumType::Bool
        && match op {
            Compare::And | Compare::Or => dt == DatumType::Bool,
            _ => KINDS.contains(&dt),
        };
    Ok(fits.then(|| Box::new(Broadcast(op)) as Box<dyn TypedOp>))
}

/// The element types these loops are instantiated for.
const KINDS: [DatumType; 4] = [DatumType::F32, DatumType::I64, DatumType::I32, DatumType::Bool];

fn compare_of(mini: &dyn BinMiniOp) -> Option<Compare> {
    Some(if mini.is::<CompEq>() {
        Compare::Eq
    } else if mini.is::<CompNE>() {
        Compare::Ne
    } else if mini.is::<CompLT>() {
        Compare::Lt
    } else if mini.is::<CompGT>() {
        Compare::Gt
    } else if mini.is::<CompLTE>() {
        Compare::Le
    } else if mini.is::<CompGTE>() {
        Compare::Ge
    } else if mini.is::<And>() {
        Compare::And
    } else if mini.is::<Or>() {
        Compare::Or
    } else {
        return None;
    })
}

/// The output shape of broadcasting `inputs` (checked by tract when the plan was made).
fn broadcast_shape(inputs: &[TValue]) -> TractResult<TVec<usize>> {
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
    tract_onnx::tract_core::broadcast::multi_broadcast(&shapes)
}

/// A comparison, And or Or of two broadcast tensors: a bool tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Broadcast(Compare);

impl Op for Broadcast {
    fn name(&self) -> StaticName {
        format!("Broadcast<{:?}>", self.0).into()
    }
    op_as_typed_op!();
}

impl EvalOp for Broadcast {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let inputs = inputs.into_iter().map(super::natural).collect::<TractResult<TVec<_>>>()?;
        let shape = broadcast_shape(&inputs)?;
        let (a, b) = (super::values(&inputs[0])?, super::values(&inputs[1])?);
        let out = super::filled(DatumType::Bool, &shape, |out| match out {
            ValuesMut::Bool(out) => compare(self.0, &shape, (a, inputs[0].shape()), (b, inputs[1].shape()), out),
            _ => unreachable!("a bool tensor"),
        })?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Broadcast {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = tract_onnx::tract_core::broadcast::multi_broadcast(&[&*inputs[0].shape, &*inputs[1].shape])?;
        Ok(tvec!(bool::fact(shape)))
    }
    as_op!();
}

/// `if cond { then } else { otherwise }`, element by element, the three broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Where;

impl Op for Where {
    fn name(&self) -> StaticName {
        "Where".into()
    }
    op_as_typed_op!();
}

impl EvalOp for Where {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let inputs = inputs.into_iter().map(super::natural).collect::<TractResult<TVec<_>>>()?;
        let shape = broadcast_shape(&inputs)?;
        let (c, t, e) = (&inputs[0], &inputs[1], &inputs[2]);
        let cond = (c.try_as_plain_ram()?.as_slice::<bool>()?, c.shape());
        let (then, otherwise) = ((super::values(t)?, t.shape()), (super::values(e)?, e.shape()));
        let out = super::filled(t.datum_type(), &shape, |out| select(&shape, cond, then, otherwise, out))?;
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Where {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = tract_onnx::tract_core::broadcast::multi_broadcast(&[
            &*inputs[0].shape,
            &*inputs[1].shape,
            &*inputs[2].shape,
        ])?;
        Ok(tvec!(inputs[1].datum_type.fact(shape)))
    }
    as_op!();
}
