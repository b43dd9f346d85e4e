//! Index inputs checked before tract uses them. tract's Gather, GatherElements, GatherND,
//! ScatterElements and ScatterND index their data with the index tensor as given, and panic
//! (or read the wrong element) on a value out of range or on shapes that do not fit; its
//! OneHot panics where the specification asks for a row of off values. A model passing a
//! caller's ids to one of them (a recommender's liked items, an embedding lookup) would turn
//! a bad id into an internal error.
//!
//! [`guard`] wraps each such node of a typed model, and of the bodies of its loops and
//! branches, in [`Checked`], which refuses an out-of-range index or mismatched shapes with
//! `E_RUNTIME`, naming the node, the index and the range, and runs OneHot as the
//! specification defines it. A node is left alone only when its indices are constant and
//! checked here against a data shape known at load.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::{Gather, GatherElements, GatherNd, OneHot, ScatterElements, ScatterNd};
use tract_onnx::tract_core::ops::logic::IfThenElse;
use tract_onnx::tract_core::ops::scan::Scan;

use crate::error::Error;

/// Wraps the index-taking nodes of `model` and of its nested bodies.
pub(crate) fn guard(model: &mut TypedModel) -> TractResult<()> {
    for id in 0..model.nodes().len() {
        if let Some(scan) = model.node_mut(id).op_as_mut::<Scan>() {
            guard(&mut scan.body)?;
            continue;
        }
        if let Some(ite) = model.node_mut(id).op_as_mut::<IfThenElse>() {
            guard(&mut ite.then_body)?;
            guard(&mut ite.else_body)?;
            continue;
        }
        let node = model.node(id);
        let Some(rule) = rule_for(node.op.as_ref()) else { continue };
        let label = format!("{} node '{}'", node.op.name(), node.name);
        let checked = Checked { label, rule, inner: node.op.clone() };
        if checked.holds_at_load(model, &node.inputs)? {
            continue;
        }
        model.node_mut(id).op = Box::new(checked);
    }
    Ok(())
}

fn rule_for(op: &dyn TypedOp) -> Option<Rule> {
    if let Some(g) = op.downcast_ref::<Gather>() {
        Some(Rule::Gather { axis: g.axis })
    } else if let Some(g) = op.downcast_ref::<GatherElements>() {
        Some(Rule::Elements { axis: g.axis, scatter: false })
    } else if let Some(s) = op.downcast_ref::<ScatterElements>() {
        Some(Rule::Elements { axis: s.axis, scatter: true })
    } else if let Some(g) = op.downcast_ref::<GatherNd>() {
        Some(Rule::Nd { batch_dims: g.batch_dims, scatter: false })
    } else if op.downcast_ref::<ScatterNd>().is_some() {
        Some(Rule::Nd { batch_dims: 0, scatter: true })
    } else {
        op.downcast_ref::<OneHot>().map(|o| Rule::OneHot { axis: o.axis, depth: o.dim, off: o.off.clone() })
    }
}

/// What an operator's inputs must satisfy.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    /// Input 1 indexes axis `axis` of input 0.
    Gather { axis: usize },
    /// Input 1, of input 0's rank and no larger on the other axes, indexes axis `axis`
    /// (GatherElements); with `scatter`, input 2 has input 1's shape (ScatterElements).
    Elements { axis: usize, scatter: bool },
    /// The last axis of input 1 indexes the axes of input 0 after `batch_dims`, which the two
    /// share (GatherND); with `scatter`, input 2 has the shape of the slices (ScatterND).
    Nd { batch_dims: usize, scatter: bool },
    /// Input 0 holds positions in [-depth, depth); others give a row of `off`.
    OneHot { axis: usize, depth: usize, off: Arc<Tensor> },
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
    /// Whether the node's indices are constants that fit data of a shape known at load:
    /// then it needs no wrapping. Constants that do not fit make the model invalid.
    fn holds_at_load(&self, model: &TypedModel, inputs: &[OutletId]) -> TractResult<bool> {
        if let Rule::OneHot { depth, .. } = self.rule {
            if depth == 0 {
                bail!("{}: depth is 0, expected a positive number of classes", self.label);
            }
            return Ok(false);
        }
        let facts: TVec<&TypedFact> = inputs.iter().map(|o| model.outlet_fact(*o)).collect::<TractResult<_>>()?;
        let (Some(indices), Some(data)) = (facts.get(1).and_then(|f| f.konst.clone()), facts[0].shape.as_concrete())
        else {
            return Ok(false);
        };
        let updates = match facts.get(2) {
            Some(f) => match f.shape.as_concrete() {
                Some(s) => Some(s.to_vec()),
                None => return Ok(false),
            },
            None => None,
        };
        self.check(data, &indices, updates.as_deref()).map_err(|e| format_err!("{e}"))?;
        Ok(true)
    }

    /// The axis and label of a checked Gather that converts nothing, for the lean stand-in
    /// that checks and gathers in one pass.
    pub(crate) fn gather(&self) -> Option<(usize, &str)> {
        let plain = self.inner.downcast_ref::<Gather>().is_some_and(|g| g.output_type.is_none());
        match self.rule {
            Rule::Gather { axis } if plain => Some((axis, &self.label)),
            _ => None,
        }
    }

    fn fail(&self, message: String) -> TractError {
        Error::Runtime(format!("{}: {message}", self.label)).into()
    }

    fn out_of_range(&self, index: i64, len: usize, axis: usize) -> TractError {
        out_of_range(&self.label, index, len, axis)
    }

    fn check(&self, data: &[usize], indices: &Tensor, updates: Option<&[usize]>) -> TractResult<()> {
        let values = indices.cast_to::<i64>()?;
        let values = values.try_as_plain_ram()?.as_slice::<i64>()?;
        let shape = indices.shape();
        match &self.rule {
            Rule::Gather { axis } => {
                let len = *data.get(*axis).unwrap_or(&0);
                if let Some(&i) = values.iter().find(|&&i| !in_range(i, len)) {
                    return Err(self.out_of_range(i, len, *axis));
                }
            }
            Rule::Elements { axis, scatter } => {
                let fits = shape.len() == data.len()
                    && shape.iter().zip(data).enumerate().all(|(d, (i, n))| d == *axis || i <= n);
                if !fits {
                    return Err(self.fail(format!("indices of shape {shape:?} do not fit data of shape {data:?} (the same rank, no larger off axis {axis})")));
                }
                if *scatter && updates != Some(shape) {
                    return Err(self.fail(format!(
                        "updates of shape {:?} must have the indices' shape {shape:?}",
                        updates.unwrap_or(&[])
                    )));
                }
                let len = *data.get(*axis).unwrap_or(&0);
                if let Some(&i) = values.iter().find(|&&i| !in_range(i, len)) {
                    return Err(self.out_of_range(i, len, *axis));
                }
            }
            Rule::Nd { batch_dims, scatter } => {
                let b = *batch_dims;
                let Some(&width) = shape.last() else {
                    return Err(self.fail("indices must have at least one axis".into()));
                };
                if shape.len() <= b || data.len() < b + width || data[..b] != shape[..b] {
                    return Err(self.fail(format!(
                        "indices of shape {shape:?} do not fit data of shape {data:?} ({b} shared leading axes, then at most {} indexed)",
                        data.len().saturating_sub(b)
                    )));
                }
                if *scatter {
                    let expected: Vec<usize> =
                        shape[..shape.len() - 1].iter().chain(&data[b + width..]).copied().collect();
                    if updates != Some(&expected[..]) {
                        return Err(
                            self.fail(format!("updates of shape {:?}, expected {expected:?}", updates.unwrap_or(&[])))
                        );
                    }
                }
                if width > 0 {
                    for tuple in values.chunks(width) {
                        for (k, &i) in tuple.iter().enumerate() {
                            if !in_range(i, data[b + k]) {
                                return Err(self.out_of_range(i, data[b + k], b + k));
                            }
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
    fn one_hot(
        &self,
        ctx: &EvalContext,
        inputs: TVec<TValue>,
        axis: usize,
        depth: usize,
        off: &Tensor,
    ) -> TractResult<TVec<TValue>> {
        let positions = inputs[0].cast_to::<i64>()?.into_owned();
        let shape = positions.shape().to_vec();
        let mut out_shape = shape.clone();
        out_shape.insert(axis.min(shape.len()), depth);
        if out_shape.contains(&0) {
            return Ok(tvec!(off.broadcast_scalar_to_shape(&out_shape)?.into_tvalue()));
        }
        let values = positions.try_as_plain_ram()?.as_slice::<i64>()?;
        let outside: Vec<usize> =
            values.iter().enumerate().filter(|&(_, &i)| !in_range(i, depth)).map(|(k, _)| k).collect();
        if outside.is_empty() {
            return self.inner.eval(ctx, inputs);
        }
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

/// The refusal of index `index` on axis `axis` (of `len`) by the node `label` names.
pub(crate) fn out_of_range(label: &str, index: i64, len: usize, axis: usize) -> TractError {
    let range = format!("expected {} to {}", -(len as i64), len as i64 - 1);
    Error::Runtime(format!("{label}: index {index} is out of range for axis {axis} of size {len} ({range})")).into()
}

pub(crate) fn in_range(i: i64, len: usize) -> bool {
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
        let updates = inputs.get(2).map(|u| u.shape().to_vec());
        self.check(inputs[0].shape(), &inputs[1], updates.as_deref())?;
        if let Rule::Nd { batch_dims, scatter: false } = &self.rule {
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
