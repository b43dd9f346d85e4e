//! Element-wise arithmetic (add, subtract, multiply, max, min) of an f32 tensor with
//! operands that repeat along it: tract's fused chains (OptBinChain), its by-scalar and
//! unicast forms, and the broadcasting binary ops it leaves unoptimised, on
//! edgeinfer-kernels' one-pass loop.
//!
//! Two reasons. Max and Min propagate NaN here, as onnxruntime's do: tract's generic max
//! drops it, so a ReLU not fused into a matrix product turned NaN into 0 in some plans and
//! not others. And tract's chains run in its size-optimised code: a DenseNet spends 40% of
//! its time in its unfoldable BatchNormalization-then-ReLU chains there.

use edgeinfer_kernels::binary::{self, Op as Arith, Operand, Step};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::{BinMiniOp, OptBinByScalar, OptBinChain, OptBinUnicast, TypedBinOp};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::tract_linalg::BinOp;
use tract_onnx::tract_core::tract_linalg::multithread::BShare;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    if !super::all_f32(node, inputs) {
        return Ok(None);
    }
    let chain = |steps: Option<Vec<(Arith, Share)>>| {
        steps.map(|steps| Box::new(BinChainF32 { steps, accumulator: 0 }) as Box<dyn TypedOp>)
    };
    let share = |s: BShare| match s {
        BShare::Lockstep => Share::Cyclic,
        BShare::PerBlock => Share::PerBlock,
    };
    Ok(if let Some(op) = node.op_as::<OptBinChain>() {
        chain(op.steps.iter().map(|s| Some((linalg(s.linalg_op), share(s.share)))).collect())
    } else if let Some(op) = node.op_as::<OptBinByScalar>() {
        chain(Some(vec![(linalg(op.linalg_op), Share::PerBlock)]))
    } else if let Some(op) = node.op_as::<OptBinUnicast>() {
        chain(mini(&*op.binop).map(|o| vec![(o, Share::Cyclic)]))
    } else if let Some(TypedBinOp(op, None)) = node.op_as::<TypedBinOp>() {
        broadcast(&**op, inputs, &node.outputs[0].fact.shape).map(|op| Box::new(op) as Box<dyn TypedOp>)
    } else {
        None
    })
}

fn linalg(op: BinOp) -> Arith {
    match op {
        BinOp::Add => Arith::Add,
        BinOp::Sub => Arith::Sub,
        BinOp::SubF => Arith::SubFlipped,
        BinOp::Mul => Arith::Mul,
        BinOp::Max => Arith::Max,
        BinOp::Min => Arith::Min,
    }
}

fn mini(op: &dyn BinMiniOp) -> Option<Arith> {
    Some(if op.is::<math::Add>() {
        Arith::Add
    } else if op.is::<math::Sub>() {
        Arith::Sub
    } else if op.is::<math::Mul>() {
        Arith::Mul
    } else if op.is::<math::Max>() {
        Arith::Max
    } else if op.is::<math::Min>() {
        Arith::Min
    } else {
        return None;
    })
}

/// A binary op that broadcasts one operand over the other, whose shape is the output's: the
/// operand's dimensions (left-padded with 1s) must be a leading part of the output's then
/// 1s (one value per block), or 1s then a trailing part (a repeated row).
fn broadcast(op: &dyn BinMiniOp, inputs: &[&TypedFact], output: &ShapeFact) -> Option<BinChainF32> {
    let op = mini(op)?;
    let accumulator = (0..2).find(|&i| inputs[i].shape == *output)?;
    let op = match (op, accumulator) {
        (Arith::Sub, 1) => Arith::SubFlipped,
        (op, _) => op,
    };
    let out: Vec<&TDim> = output.iter().collect();
    let other = &inputs[1 - accumulator].shape;
    if other.rank() > out.len() {
        return None;
    }
    let one = TDim::from(1);
    let padded: Vec<&TDim> = std::iter::repeat_n(&one, out.len() - other.rank()).chain(other.iter()).collect();
    let lead = padded.iter().zip(&out).take_while(|(b, a)| b == a).count();
    let trail = padded.iter().rev().zip(out.iter().rev()).take_while(|(b, a)| b == a).count();
    let share = if lead == out.len() {
        Share::Cyclic
    } else if padded[lead..].iter().all(|d| **d == one) {
        Share::PerBlock
    } else if padded[..out.len() - trail].iter().all(|d| **d == one) {
        Share::Cyclic
    } else {
        return None;
    };
    Some(BinChainF32 { steps: vec![(op, share)], accumulator })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Share {
    /// The operand repeats along the accumulator (`Operand::Cyclic`).
    Cyclic,
    /// One operand value per block of the accumulator (`Operand::PerBlock`).
    PerBlock,
}

/// `a = a op b` for each step in turn, `a` being input `accumulator` and each step's `b` the
/// next of the other inputs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BinChainF32 {
    steps: Vec<(Arith, Share)>,
    accumulator: usize,
}

impl Op for BinChainF32 {
    fn name(&self) -> StaticName {
        let ops: Vec<String> = self.steps.iter().map(|(op, _)| format!("{op:?}")).collect();
        format!("BinChainF32({})", ops.join("+")).into()
    }
    op_as_typed_op!();
}

impl EvalOp for BinChainF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, mut inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut a = super::natural(inputs.remove(self.accumulator))?.into_tensor();
        let operands = inputs.into_iter().map(super::natural).collect::<TractResult<Vec<_>>>()?;
        let mut steps = Vec::with_capacity(self.steps.len());
        for ((op, share), b) in self.steps.iter().zip(&operands) {
            let b = b.try_as_plain_ram()?.as_slice::<f32>()?;
            steps.push(Step {
                op: *op,
                b: if *share == Share::PerBlock { Operand::PerBlock(b) } else { Operand::Cyclic(b) },
            });
        }
        binary::chain(a.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?, &steps).map_err(TractError::msg)?;
        Ok(tvec!(a.into_tvalue()))
    }
}

impl TypedOp for BinChainF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[self.accumulator].without_value()))
    }
    as_op!();
}
