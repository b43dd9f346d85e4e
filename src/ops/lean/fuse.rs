//! Fusions made in the decluttered model, before tract optimises it: a layer (a product by
//! constant weights, a convolution) and what follows it (its bias, its ReLU or
//! ReLU6) become one of this crate's operators, which tract then leaves as it is. tract
//! would otherwise plan each as nodes of their own, each paying for its dispatch and its
//! output, and for its packing of the layer's input.

use std::sync::Arc;

use edgeinfer_kernels::clamp::Clamp;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::binary::{BinMiniOp, TypedBinOp};
use tract_onnx::tract_core::ops::math;
use tract_onnx::tract_core::ops::scan::Scan;

/// A layer this crate computes: the operator, the input it reads, and the last node it
/// takes in (whose output it replaces).
pub(super) struct Fused {
    pub op: Box<dyn TypedOp>,
    pub input: OutletId,
    pub last: usize,
}

/// Says whether node `id` starts a layer this crate fuses.
type Fuser = fn(&TypedModel, usize) -> TractResult<Option<Fused>>;

const FUSERS: [Fuser; 3] = [super::dense::layer, super::conv::layer, super::conv::pointwise_layer];

/// Fuses every layer it can, in the bodies of loops (recurrent layers) too.
pub(crate) fn fuse(model: &mut TypedModel) -> TractResult<()> {
    fuse_with(model, &FUSERS, true).map(|_| ())
}

/// Fuses the convolutions alone, and says whether it fused any: declutter runs it, so that
/// tract never rewrites them into products wrapped in axis changes that `fuse` would only
/// take back (docs/decisions/declutter.md).
pub(crate) fn fuse_convolutions(model: &mut TypedModel) -> TractResult<bool> {
    fuse_with(model, &[super::conv::layer], false)
}

/// Fuses what `fusers` find and, with `stand_ins`, swaps in the matrix products' stand-ins;
/// says whether it changed anything.
fn fuse_with(model: &mut TypedModel, fusers: &[Fuser], stand_ins: bool) -> TractResult<bool> {
    let mut changed = false;
    for id in model.eval_order()? {
        if let Some(scan) = model.node(id).op_as::<Scan>() {
            let mut scan = scan.clone();
            if fuse_with(&mut scan.body, fusers, stand_ins)? {
                model.node_mut(id).op = Box::new(scan);
                changed = true;
            }
            continue;
        }
        let mut found = None;
        for fuser in fusers {
            found = fuser(model, id)?;
            if found.is_some() {
                break;
            }
        }
        if found.is_none()
            && stand_ins
            && let Some(op) = super::matmul::stand_in(model, id)?
        {
            model.node_mut(id).op = op;
            changed = true;
            continue;
        }
        if let Some(Fused { op, input, last }) = found {
            let mut patch = TypedModelPatch::default();
            let x = patch.tap_model(model, input)?;
            let y = patch.wire_node(&model.node(last).name, op, &[x])?[0];
            patch.shunt_outside(model, OutletId::new(last, 0), y)?;
            patch.apply(model)?;
            changed = true;
        }
    }
    Ok(changed)
}

/// The one node reading node `id`'s output, if it is a `Mini` with a constant f32 operand,
/// keeps the output's shape and type, and the output is nothing else's (nor the model's).
pub(super) fn successor_with_constant<Mini: BinMiniOp>(
    model: &TypedModel,
    id: usize,
) -> TractResult<Option<(usize, Arc<Tensor>)>> {
    let node = model.node(id);
    let outlet = OutletId::new(id, 0);
    if node.outputs[0].successors.len() != 1 || model.output_outlets()?.contains(&outlet) {
        return Ok(None);
    }
    let next = model.node(node.outputs[0].successors[0].node);
    let Some(TypedBinOp(mini, None)) = next.op_as::<TypedBinOp>() else { return Ok(None) };
    if !mini.is::<Mini>() || next.inputs.len() != 2 || next.outputs[0].fact != node.outputs[0].fact.without_value() {
        return Ok(None);
    }
    let other = next.inputs.iter().find(|i| **i != outlet).copied();
    let constant = other.map(|o| model.outlet_fact(o)).transpose()?.and_then(|f| f.konst.clone());
    Ok(constant.filter(|c| c.datum_type() == DatumType::F32).map(|c| (next.id, c)))
}

/// The clamp that follows node `id` (a Max by one value, then a Min by one value, or either:
/// ReLU, ReLU6, Clip), and the last node it takes in.
pub(super) fn trailing_clamp(model: &TypedModel, mut last: usize) -> TractResult<(Clamp, usize)> {
    let scalar = |t: &Tensor| -> TractResult<Option<f32>> {
        Ok(if t.len() == 1 { Some(t.try_as_plain_ram()?.as_slice::<f32>()?[0]) } else { None })
    };
    let mut clamp = Clamp::NONE;
    if let Some((next, lo)) = successor_with_constant::<math::Max>(model, last)?
        && let Some(lo) = scalar(&lo)?.filter(|v| !v.is_nan())
    {
        clamp.lo = lo;
        last = next;
    }
    if let Some((next, hi)) = successor_with_constant::<math::Min>(model, last)?
        && let Some(hi) = scalar(&hi)?.filter(|v| !v.is_nan() && *v >= clamp.lo)
    {
        clamp.hi = hi;
        last = next;
    }
    Ok((clamp, last))
}
