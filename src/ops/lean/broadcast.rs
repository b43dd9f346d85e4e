//! Comparisons, And and Or, and Where (tract's Iff) of broadcast tensors, on
//! edgeinfer-kernels' `broadcast` loops. tract runs them through ndarray's `Zip` over
//! dynamic shapes in its size-optimised code: about 10 ns an element, so the demo
//! recommender's "is this film picked" (a [picks, 1663] comparison) was a third of its time.

use edgeinfer_kernels::broadcast::{select, zip2};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_onnx::tract_core::ops::logic::{And, CompEq, CompGT, CompGTE, CompLT, CompLTE, CompNE, Iff, Or};

pub(super) fn stand_in(_: &TypedModel, node: &TypedNode, inputs: &[&TypedFact]) -> TractResult<Option<Box<dyn TypedOp>>> {
    if node.op_is::<Iff>() {
        let dt = inputs[1].datum_type;
        let fits = inputs[0].datum_type == DatumType::Bool && inputs[2].datum_type == dt && KINDS.contains(&dt);
        return Ok(fits.then(|| Box::new(Where) as Box<dyn TypedOp>));
    }
    let Some(TypedBinOp(mini, None)) = node.op_as::<TypedBinOp>() else { return Ok(None) };
    let Some(op) = Binary::of(&**mini) else { return Ok(None) };
    let dt = inputs[0].datum_type;
    let fits = inputs[1].datum_type == dt
        && node.outputs[0].fact.datum_type == DatumType::Bool
        && match op {
            Binary::And | Binary::Or => dt == DatumType::Bool,
            _ => KINDS.contains(&dt),
        };
    Ok(fits.then(|| Box::new(Broadcast(op)) as Box<dyn TypedOp>))
}

/// The element types these loops are instantiated for.
const KINDS: [DatumType; 4] = [DatumType::F32, DatumType::I64, DatumType::I32, DatumType::Bool];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binary {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    And,
    Or,
}

impl Binary {
    fn of(mini: &dyn BinMiniOp) -> Option<Binary> {
        Some(if mini.is::<CompEq>() {
            Binary::Eq
        } else if mini.is::<CompNE>() {
            Binary::Ne
        } else if mini.is::<CompLT>() {
            Binary::Lt
        } else if mini.is::<CompGT>() {
            Binary::Gt
        } else if mini.is::<CompLTE>() {
            Binary::Le
        } else if mini.is::<CompGTE>() {
            Binary::Ge
        } else if mini.is::<And>() {
            Binary::And
        } else if mini.is::<Or>() {
            Binary::Or
        } else {
            return None;
        })
    }
}

/// The output shape of broadcasting `inputs` (checked by tract when the plan was made).
fn broadcast_shape(inputs: &[TValue]) -> TractResult<TVec<usize>> {
    let shapes: Vec<&[usize]> = inputs.iter().map(|t| t.shape()).collect();
    tract_onnx::tract_core::broadcast::multi_broadcast(&shapes)
}

/// A comparison, And or Or of two broadcast tensors: a bool tensor.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Broadcast(Binary);

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
        let mut out = Tensor::zero_dt(DatumType::Bool, &shape)?;
        let mut plain = out.try_as_plain_ram_mut()?;
        let ys = plain.as_slice_mut::<bool>()?;
        fn compare<T: Datum + Copy + PartialOrd>(op: Binary, shape: &[usize], a: &Tensor, b: &Tensor, ys: &mut [bool]) -> TractResult<()> {
            let a = (a.try_as_plain_ram()?.as_slice::<T>()?, a.shape());
            let b = (b.try_as_plain_ram()?.as_slice::<T>()?, b.shape());
            match op {
                Binary::Eq => zip2(shape, a, b, ys, |x, y| x == y),
                Binary::Ne => zip2(shape, a, b, ys, |x, y| x != y),
                Binary::Lt => zip2(shape, a, b, ys, |x, y| x < y),
                Binary::Gt => zip2(shape, a, b, ys, |x, y| x > y),
                Binary::Le => zip2(shape, a, b, ys, |x, y| x <= y),
                Binary::Ge => zip2(shape, a, b, ys, |x, y| x >= y),
                Binary::And | Binary::Or => unreachable!("logic is on bool only"),
            }
            .map_err(TractError::msg)
        }
        let (a, b) = (&inputs[0], &inputs[1]);
        match (self.0, a.datum_type()) {
            (Binary::And, _) => zip2(&shape, (a.try_as_plain_ram()?.as_slice::<bool>()?, a.shape()), (b.try_as_plain_ram()?.as_slice::<bool>()?, b.shape()), ys, |x, y| x && y)
                .map_err(TractError::msg)?,
            (Binary::Or, _) => zip2(&shape, (a.try_as_plain_ram()?.as_slice::<bool>()?, a.shape()), (b.try_as_plain_ram()?.as_slice::<bool>()?, b.shape()), ys, |x, y| x || y)
                .map_err(TractError::msg)?,
            (op, DatumType::F32) => compare::<f32>(op, &shape, a, b, ys)?,
            (op, DatumType::I64) => compare::<i64>(op, &shape, a, b, ys)?,
            (op, DatumType::I32) => compare::<i32>(op, &shape, a, b, ys)?,
            (op, DatumType::Bool) => compare::<bool>(op, &shape, a, b, ys)?,
            (_, dt) => bail!("Broadcast compares no {dt:?}"),
        }
        drop(plain);
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
        fn pick<T: Datum + Copy>(shape: &[usize], c: &Tensor, t: &Tensor, e: &Tensor) -> TractResult<Tensor> {
            let mut out = Tensor::zero_dt(T::datum_type(), shape)?;
            let mut plain = out.try_as_plain_ram_mut()?;
            select(
                shape,
                (c.try_as_plain_ram()?.as_slice::<bool>()?, c.shape()),
                (t.try_as_plain_ram()?.as_slice::<T>()?, t.shape()),
                (e.try_as_plain_ram()?.as_slice::<T>()?, e.shape()),
                plain.as_slice_mut::<T>()?,
            )
            .map_err(TractError::msg)?;
            drop(plain);
            Ok(out)
        }
        let out = match t.datum_type() {
            DatumType::F32 => pick::<f32>(&shape, c, t, e)?,
            DatumType::I64 => pick::<i64>(&shape, c, t, e)?,
            DatumType::I32 => pick::<i32>(&shape, c, t, e)?,
            DatumType::Bool => pick::<bool>(&shape, c, t, e)?,
            dt => bail!("Where selects no {dt:?}"),
        };
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for Where {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape = tract_onnx::tract_core::broadcast::multi_broadcast(&[&*inputs[0].shape, &*inputs[1].shape, &*inputs[2].shape])?;
        Ok(tvec!(inputs[1].datum_type.fact(shape)))
    }
    as_op!();
}
