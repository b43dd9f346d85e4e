//! Products of two f32 inputs (attention's queries by keys, its weights by values) on
//! edgeinfer-kernels' `matmul`, in place of the EinSum tract would plan with its 8x8 kernel
//! and its packing nodes: those were a sixth of a MiniLM's time.

use edgeinfer_kernels::matmul::{Strides, matmul};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;

/// The product at node `id`, if it is an EinSum of two f32 inputs with summed axes (adjacent
/// and in order in the right input, as an attention's heads and their width are in its output
/// projection), one axis of each input's own, and batch axes both share with the output.
pub(super) fn stand_in(model: &TypedModel, id: usize) -> TractResult<Option<Box<dyn TypedOp>>> {
    let node = model.node(id);
    let Some(einsum) = node.op_as::<EinSum>() else { return Ok(None) };
    if einsum.q_params.is_some() || einsum.operating_dt != DatumType::F32 || node.inputs.len() != 2 {
        return Ok(None);
    }
    let (a, b) = (model.outlet_fact(node.inputs[0])?, model.outlet_fact(node.inputs[1])?);
    if a.datum_type != DatumType::F32 || b.datum_type != DatumType::F32 || a.konst.is_some() {
        return Ok(None);
    }
    let (mut m, mut n, mut k, mut batch, mut units) = (None, None, Vec::new(), Vec::new(), Vec::new());
    for axis in einsum.axes.iter_all_axes() {
        let one = |positions: &TVec<usize>| match positions[..] {
            [] => Ok(None),
            [p] => Ok(Some(p)),
            _ => Err(()),
        };
        let (Ok(pa), Ok(pb), Ok(po)) = (one(&axis.inputs[0]), one(&axis.inputs[1]), one(&axis.outputs[0])) else {
            return Ok(None);
        };
        match (pa, pb, po) {
            (Some(pa), Some(pb), Some(po)) if a.shape[pa] == b.shape[pb] => batch.push((pa, pb, po)),
            // An axis of 1 one input carries to the output (the batch of a product by weights).
            (Some(pa), None, Some(po)) if a.shape[pa].is_one() => units.push(po),
            (None, Some(pb), Some(po)) if b.shape[pb].is_one() => units.push(po),
            (Some(pa), None, Some(po)) if m.is_none() => m = Some((pa, po)),
            (None, Some(pb), Some(po)) if n.is_none() => n = Some((pb, po)),
            (Some(pa), Some(pb), None) => k.push((pa, pb)),
            _ => return Ok(None),
        }
    }
    k.sort_by_key(|&(_, pb)| pb);
    let adjacent = k.windows(2).all(|w| w[1].1 == w[0].1 + 1);
    let (Some(m), Some(n)) = (m, n) else { return Ok(None) };
    if k.is_empty() || !adjacent {
        return Ok(None);
    }
    // The output's rows are written whole: its last axis must be the right input's own.
    if n.1 + 1 != node.outputs[0].fact.rank() {
        return Ok(None);
    }
    Ok(Some(Box::new(MatMulF32 { einsum: einsum.clone(), m, n, k, batch, units })))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct MatMulF32 {
    /// What it replaces, for the output's shape.
    einsum: EinSum,
    /// The positions of the left input's own axis (in it, in the output), the right input's
    /// own (in it, in the output), the summed ones (in the left, in the right, in the right's
    /// order), and each axis both share with the output (left, right, output).
    m: (usize, usize),
    n: (usize, usize),
    k: Vec<(usize, usize)>,
    batch: Vec<(usize, usize, usize)>,
    /// Output axes of 1 that only one input has.
    units: Vec<usize>,
}

impl Op for MatMulF32 {
    fn name(&self) -> StaticName {
        "MatMulF32".into()
    }
    op_as_typed_op!();
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> TVec<usize> {
    let mut s: TVec<usize> = tvec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

impl EvalOp for MatMulF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (a, b) = args_2!(inputs);
        let (a, b) = (super::natural(a)?, super::natural(b)?);
        let (sa, sb) = (a.shape(), b.shape());
        let (m, n) = (sa[self.m.0], sb[self.n.0]);
        for &(pa, pb) in &self.k {
            ensure!(sa[pa] == sb[pb], "a summed axis is {} long in one input, {} in the other", sa[pa], sb[pb]);
        }
        let k: usize = self.k.iter().map(|&(pa, _)| sa[pa]).product();
        let mut shape: TVec<usize> = tvec![1; self.batch.len() + self.units.len() + 2];
        shape[self.m.1] = m;
        shape[self.n.1] = n;
        for &(pa, pb, po) in &self.batch {
            ensure!(sa[pa] == sb[pb], "batch axes of {} and {} values", sa[pa], sb[pb]);
            shape[po] = sa[pa];
        }
        let (ta, tb) = (strides(sa), strides(sb));
        let to = strides(&shape);
        let mut out = super::zeros(DatumType::F32, &shape)?;
        let mut plain = out.try_as_plain_ram_mut()?;
        let y = plain.as_slice_mut::<f32>()?;
        let (xa, xb) = (a.try_as_plain_ram()?.as_slice::<f32>()?, b.try_as_plain_ram()?.as_slice::<f32>()?);
        let (mut panels, mut rows) = (Vec::new(), Vec::new());
        let count: usize = self.batch.iter().map(|&(pa, ..)| sa[pa]).product();
        for index in 0..count {
            // The batch axes' offsets, the last axis fastest.
            let (mut oa, mut ob, mut oo, mut rest) = (0, 0, 0, index);
            for &(pa, pb, po) in self.batch.iter().rev() {
                let i = rest % sa[pa];
                rest /= sa[pa];
                (oa, ob, oo) = (oa + i * ta[pa], ob + i * tb[pb], oo + i * to[po]);
            }
            // The left input as given when its summed axes lie in the right input's order,
            // else its rows copied in that order.
            let in_order = self.k.windows(2).all(|w| w[1].0 == w[0].0 + 1);
            let left = match self.k[..] {
                [.., (pa, _)] if in_order => (&xa[oa..], Strides { rows: ta[self.m.0], cols: ta[pa] }),
                _ => {
                    rows.clear();
                    for i in 0..m {
                        rows.extend((0..k).map(|mut kk| {
                            let mut at = oa + i * ta[self.m.0];
                            for &(pa, _) in self.k.iter().rev() {
                                at += kk % sa[pa] * ta[pa];
                                kk /= sa[pa];
                            }
                            xa[at]
                        }));
                    }
                    (&rows[..], Strides { rows: k, cols: 1 })
                }
            };
            let last_k = self.k[self.k.len() - 1].1;
            matmul(
                left,
                (&xb[ob..], Strides { rows: tb[last_k], cols: tb[self.n.0] }),
                (m, k, n),
                &mut y[oo..],
                to[self.m.1],
                &mut panels,
                &mut Vec::new(),
            )
            .map_err(TractError::msg)?;
        }
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for MatMulF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.einsum.output_facts(inputs)
    }
    as_op!();
}
