//! Gather along one axis (an embedding lookup, a pick of columns) of bool, i32, i64 or f32
//! data, its indices checked as `index_checks` checks them, with the same refusal. tract's
//! checked Gather copied the indices to i64 to check them, again to resolve them, and walked
//! the output through ndarray: about a microsecond a node however few the values, three of
//! them in the demo recommender's fifty.

use edgeinfer_kernels::broadcast::{Values, ValuesMut};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::Gather;

use super::KERNEL_TYPES;
use crate::ops::index_checks::{Checked, in_range, out_of_range};

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    let (axis, label) = if let Some(checked) = node.op_as::<Checked>() {
        match checked.gather() {
            Some((axis, label)) => (axis, label.to_string()),
            None => return Ok(None),
        }
    } else if let Some(g) = node.op_as::<Gather>().filter(|g| g.output_type.is_none()) {
        (g.axis, format!("Gather node '{}'", node.name))
    } else {
        return Ok(None);
    };
    let indices = inputs[1].datum_type;
    let takes = KERNEL_TYPES.contains(&inputs[0].datum_type) && matches!(indices, DatumType::I64 | DatumType::I32);
    Ok(takes.then(|| Box::new(GatherPlain { axis, label }) as Box<dyn TypedOp>))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GatherPlain {
    axis: usize,
    /// Names the node in a refusal, as `index_checks` names it.
    label: String,
}

impl Op for GatherPlain {
    fn name(&self) -> StaticName {
        format!("Gather<{}>", self.axis).into()
    }
    op_as_typed_op!();
}

impl EvalOp for GatherPlain {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (data, indices) = args_2!(inputs);
        let (data, indices) = (super::natural(data)?, super::natural(indices)?);
        let shape = data.shape();
        ensure!(
            self.axis < shape.len(),
            "{}: data of rank {}, gathered on axis {}",
            self.label,
            shape.len(),
            self.axis
        );
        let len = shape[self.axis];
        let resolve = |i: i64| -> TractResult<usize> {
            if !in_range(i, len) {
                return Err(out_of_range(&self.label, i, len, self.axis));
            }
            Ok(if i < 0 { i + len as i64 } else { i } as usize)
        };
        let plain = indices.try_as_plain_ram()?;
        let at: TVec<usize> = match indices.datum_type() {
            DatumType::I32 => {
                plain.as_slice::<i32>()?.iter().map(|&i| resolve(i as i64)).collect::<TractResult<_>>()?
            }
            _ => plain.as_slice::<i64>()?.iter().map(|&i| resolve(i)).collect::<TractResult<_>>()?,
        };
        let out_shape: TVec<usize> =
            shape[..self.axis].iter().chain(indices.shape()).chain(&shape[self.axis + 1..]).copied().collect();
        let outer: usize = shape[..self.axis].iter().product();
        let block: usize = shape[self.axis + 1..].iter().product();
        let values = super::values(&data)?;
        let out = super::filled(data.datum_type(), &out_shape, |out| {
            match (values, out) {
                (Values::F32(d), ValuesMut::F32(o)) => blocks(d, o, outer, len, block, &at),
                (Values::I64(d), ValuesMut::I64(o)) => blocks(d, o, outer, len, block, &at),
                (Values::I32(d), ValuesMut::I32(o)) => blocks(d, o, outer, len, block, &at),
                (Values::Bool(d), ValuesMut::Bool(o)) => blocks(d, o, outer, len, block, &at),
                _ => return Err("gather: the output's type is not the data's".into()),
            }
            Ok(())
        })?;
        Ok(tvec!(out.into_tvalue()))
    }
}

/// For each of `outer` runs of `len` blocks of `data`, the blocks `at` names, in order.
fn blocks<T: Copy>(data: &[T], out: &mut [T], outer: usize, len: usize, block: usize, at: &[usize]) {
    let mut chunks = out.chunks_exact_mut(block.max(1));
    for o in 0..outer {
        let run = &data[o * len * block..][..len * block];
        for (&i, out) in at.iter().zip(&mut chunks) {
            out.copy_from_slice(&run[i * block..][..block]);
        }
    }
}

impl TypedOp for GatherPlain {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Gather::new(self.axis).output_facts(inputs)
    }
    as_op!();
}
