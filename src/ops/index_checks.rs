//! Index inputs checked before tract uses them. tract's Gather, GatherElements, GatherND and
//! ScatterElements index their data with the index tensor as given, and panic (or read out
//! of bounds) on a value out of range; its OneHot panics where the specification asks for a
//! row of off values. A model passing a caller's ids to one of them (a recommender's liked
//! items, an embedding lookup) would turn a bad id into an internal error.
//!
//! [`guard`] wraps each such node of a typed model whose indices are not constant in
//! [`Checked`], which refuses an out-of-range index with `E_RUNTIME`, naming the node, the
//! index and the range, and runs OneHot as the specification defines it. Constant indices
//! are left alone: they are the model's, checked when tract folds them at load.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{Gather, GatherElements, GatherNd, OneHot, ScatterElements};

use crate::error::Error;

/// Wraps the index-taking nodes of `model` whose index input is computed at run time.
pub(crate) fn guard(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        let node = model.node(id);
        let Some(rule) = rule_for(node.op.as_ref()) else { continue };
        let Some(indices) = node.inputs.get(rule.indices_input()) else { continue };
        if model.outlet_fact(*indices)?.konst.is_some() {
            continue;
        }
        let label = format!("{} node '{}'", node.op.name(), node.name);
        let inner = node.op.clone();
        model.node_mut(id).op = Box::new(Checked { label, rule, inner });
    }
    Ok(())
}

fn rule_for(op: &dyn TypedOp) -> Option<Rule> {
    if let Some(g) = op.downcast_ref::<Gather>() {
        Some(Rule::Axis { axis: g.axis })
    } else if let Some(g) = op.downcast_ref::<GatherElements>() {
        Some(Rule::Axis { axis: g.axis })
    } else if let Some(s) = op.downcast_ref::<ScatterElements>() {
        Some(Rule::Axis { axis: s.axis })
    } else if let Some(g) = op.downcast_ref::<GatherNd>() {
        Some(Rule::Nd { batch_dims: g.batch_dims })
    } else {
        op.downcast_ref::<OneHot>().map(|o| Rule::OneHot { axis: o.axis, depth: o.dim, off: o.off.clone() })
    }
}

/// What an index must satisfy, per operator.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// Input 1 indexes axis `axis` of input 0 (Gather, GatherElements, ScatterElements).
    Axis { axis: usize },
    /// The last axis of input 1 indexes the axes of input 0 after `batch_dims` (GatherND).
    Nd { batch_dims: usize },
    /// Input 0 holds positions in [-depth, depth); others give a row of `off`.
    OneHot { axis: usize, depth: usize, off: Arc<Tensor> },
}

impl Rule {
    fn indices_input(&self) -> usize {
        match self {
            Rule::OneHot { .. } => 0,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Checked {
    label: String,
    rule: Rule,
    inner: Box<dyn TypedOp>,
}

/// The label names the node, so equal labels and rules are the same wrapped op.
impl PartialEq for Checked {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.rule == other.rule && self.inner.name() == other.inner.name()
    }
}

impl Eq for Checked {}

impl Checked {
    fn check(&self, inputs: &[TValue]) -> TractResult<()> {
        let out_of_range = |index: i64, len: usize, what: &str| -> TractError {
            Error::Runtime(format!(
                "{}: index {index} is out of range for {what} of size {len} (expected {} to {})",
                self.label,
                -(len as i64),
                len as i64 - 1
            ))
            .into()
        };
        let data_shape = inputs[0].shape();
        let indices = inputs[1].cast_to::<i64>()?;
        let indices = indices.to_plain_array_view::<i64>()?;
        match &self.rule {
            Rule::Axis { axis } => {
                let len = *data_shape.get(*axis).unwrap_or(&0);
                if let Some(&i) = indices.iter().find(|&&i| !in_range(i, len)) {
                    return Err(out_of_range(i, len, &format!("axis {axis}")));
                }
            }
            Rule::Nd { batch_dims } => {
                let width = indices.shape().last().copied().unwrap_or(0);
                if width == 0 {
                    return Ok(());
                }
                for tuple in indices.as_slice().unwrap_or(&[]).chunks(width) {
                    for (k, &i) in tuple.iter().enumerate() {
                        let len = *data_shape.get(batch_dims + k).unwrap_or(&0);
                        if !in_range(i, len) {
                            return Err(out_of_range(i, len, &format!("axis {}", batch_dims + k)));
                        }
                    }
                }
            }
            Rule::OneHot { .. } => {}
        }
        Ok(())
    }

    /// OneHot by the specification: positions out of [-depth, depth) give a row of off
    /// values. Runs tract's OneHot on the positions with those replaced by 0, then puts
    /// off back where they landed.
    fn one_hot(&self, ctx: &EvalContext, inputs: TVec<TValue>, axis: usize, depth: usize, off: &Tensor) -> TractResult<TVec<TValue>> {
        let positions = inputs[0].cast_to::<i64>()?.into_owned();
        let values = positions.to_plain_array_view::<i64>()?;
        let outside: Vec<usize> = values.iter().enumerate().filter(|&(_, &i)| !in_range(i, depth)).map(|(k, _)| k).collect();
        if outside.is_empty() {
            return self.inner.eval(ctx, inputs);
        }
        let shape = positions.shape().to_vec();
        let mut safe = positions.clone();
        for &k in &outside {
            safe.try_as_plain_ram_mut()?.as_slice_mut::<i64>()?[k] = 0;
        }
        let safe = safe.cast_to_dt(inputs[0].datum_type())?.into_owned();
        let out = self.inner.eval(ctx, tvec!(safe.into_tvalue()))?.remove(0).into_tensor();
        let out_shape = out.shape().to_vec();
        let mut flat = out.into_shape(&[out_shape.iter().product()])?;
        let off = off.clone().into_shape(&[1])?;
        for &k in &outside {
            // Position k at depth 0 (where the 0 put its on value): k's coordinates, 0 at `axis`.
            let mut coords = unravel(k, &shape);
            coords.insert(axis, 0);
            let offset = ravel(&coords, &out_shape);
            flat.assign_slice(offset..offset + 1, &off, 0..1, 0)?;
        }
        Ok(tvec!(flat.into_shape(&out_shape)?.into_tvalue()))
    }
}

/// GatherND's indices with negative ones counted from the end, which tract's GatherND does
/// not do (the check has put them all in range).
fn wrapped_nd(mut inputs: TVec<TValue>, batch_dims: usize) -> TractResult<TVec<TValue>> {
    let data_shape: Vec<usize> = inputs[0].shape().to_vec();
    let mut indices = inputs[1].cast_to::<i64>()?.into_owned();
    let width = indices.shape().last().copied().unwrap_or(0);
    if width == 0 || !indices.try_as_plain_ram()?.as_slice::<i64>()?.iter().any(|&i| i < 0) {
        return Ok(inputs);
    }
    for tuple in indices.try_as_plain_ram_mut()?.as_slice_mut::<i64>()?.chunks_mut(width) {
        for (k, i) in tuple.iter_mut().enumerate() {
            if *i < 0 {
                *i += data_shape.get(batch_dims + k).copied().unwrap_or(0) as i64;
            }
        }
    }
    inputs[1] = indices.cast_to_dt(inputs[1].datum_type())?.into_owned().into_tvalue();
    Ok(inputs)
}

fn in_range(i: i64, len: usize) -> bool {
    let len = len as i64;
    -len <= i && i < len
}

fn unravel(mut k: usize, shape: &[usize]) -> Vec<usize> {
    let mut coords = vec![0; shape.len()];
    for (c, &d) in coords.iter_mut().zip(shape).rev() {
        *c = k % d.max(1);
        k /= d.max(1);
    }
    coords
}

fn ravel(coords: &[usize], shape: &[usize]) -> usize {
    coords.iter().zip(shape).fold(0, |acc, (&c, &d)| acc * d + c)
}

impl Op for Checked {
    fn name(&self) -> StaticName {
        self.inner.name()
    }

    op_as_typed_op!();
}

impl EvalOp for Checked {
    op_out_of_plan!();

    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        if let Rule::OneHot { axis, depth, off } = &self.rule {
            return self.one_hot(ctx, inputs, *axis, *depth, off);
        }
        self.check(&inputs)?;
        if let Rule::Nd { batch_dims } = &self.rule {
            return self.inner.eval(ctx, wrapped_nd(inputs, *batch_dims)?);
        }
        self.inner.eval(ctx, inputs)
    }
}

impl TypedOp for Checked {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.inner.output_facts(inputs)
    }

    as_op!();
}
