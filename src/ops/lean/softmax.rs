//! Softmax over the trailing axes of an f32 tensor, its rows split across the threads the
//! host gave the engine (`edgeinfer_kernels::parts`); tract's runs on one unless it has a
//! rayon pool, which the threads build does not. Each row goes through the tract-linalg
//! kernels tract's Softmax chooses, so the bits are tract's on any number of threads.

use edgeinfer_kernels::parts;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::nn::{Softmax, SoftmaxKind};
use tract_onnx::tract_core::tract_linalg::routines::{Func, softmax_rows_f32};

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    let Some(op) = node.op_as::<Softmax>() else { return Ok(None) };
    let rank = inputs[0].rank();
    let mut axes = op.axes.clone();
    axes.sort_unstable();
    let trailing = !axes.is_empty() && axes.iter().enumerate().all(|(i, &a)| a + axes.len() == rank + i);
    Ok((op.kind == SoftmaxKind::Softmax && op.quant_output_dt.is_none() && trailing && super::all_f32(node, inputs))
        .then(|| Box::new(SoftmaxRowsF32 { row_axes: axes.len() }) as _))
}

/// Softmax over the last `row_axes` axes, which make each row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SoftmaxRowsF32 {
    row_axes: usize,
}

impl Op for SoftmaxRowsF32 {
    fn name(&self) -> StaticName {
        "SoftmaxRowsF32".into()
    }
    op_as_typed_op!();
}

impl EvalOp for SoftmaxRowsF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let mut x = args_1!(inputs).into_tensor();
        let row: usize = x.shape()[x.rank() - self.row_axes..].iter().product();
        softmax_rows(x.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?, row)?;
        Ok(tvec!(x.into_tvalue()))
    }
}

impl TypedOp for SoftmaxRowsF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32::fact(inputs[0].shape.iter())))
    }
    as_op!();
}

/// What each part runs on its piece of whole rows.
type PieceFn = Box<dyn Fn(&mut [f32]) -> TractResult<()> + Sync>;

/// Softmax of each `row` values of `xs`, in place: as tract's Softmax computes it (the
/// whole-rows kernel where this machine has one and rows are whole vectors, else its row
/// maximum, exp-and-sum and scale kernels), in parts of whole rows.
fn softmax_rows(xs: &mut [f32], row: usize) -> TractResult<()> {
    if row == 0 {
        return Ok(());
    }
    let rows = xs.len() / row;
    let run: PieceFn = match softmax_rows_f32().filter(|_| row.is_multiple_of(4)) {
        Some(whole_rows) => Box::new(move |piece| {
            whole_rows(piece, row);
            Ok(())
        }),
        None => {
            let max = Func::ReduceMax.reduce_f32()?;
            let exp_sum = Func::Softmax2.map_reduce_f32()?;
            let scale = Func::MulByScalar.ew_f32_param()?;
            Box::new(move |piece| {
                piece.chunks_mut(row).try_for_each(|values| {
                    let top = max.run(values)?;
                    let sum = exp_sum.run_with_params(values, top)?;
                    scale.run_with_params(values, sum.recip())
                })
            })
        }
    };
    // About ten operations a value: a maximum, an exponential, a sum and a scale.
    let per = parts::per_part(xs.len() * 10, rows) * row;
    let mut pieces: Vec<(&mut [f32], TractResult<()>)> = xs.chunks_mut(per).map(|p| (p, Ok(()))).collect();
    parts::for_each_mut(&mut pieces, |_, (piece, done)| *done = run(piece));
    pieces.into_iter().try_for_each(|(_, done)| done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tract's Softmax over the last axis of `x`.
    fn tracts(x: &Tensor) -> Vec<f32> {
        let mut m = TypedModel::default();
        let source = m.add_source("x", f32::fact(x.shape())).unwrap();
        let op = Softmax { axes: tvec!(x.rank() - 1), ..Softmax::default() };
        let y = m.wire_node("softmax", op, &[source]).unwrap();
        m.select_output_outlets(&y).unwrap();
        let out = m.into_runnable().unwrap().run(tvec!(x.clone().into_tvalue())).unwrap().remove(0);
        out.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec()
    }

    #[test]
    fn rows_whole_vectors_or_not_give_tracts_bits() {
        for (rows, row) in [(1, 7), (3, 8), (40, 128), (33, 129), (0, 4)] {
            let xs: Vec<f32> = (0..rows * row).map(|i| ((i * 7919) % 1000) as f32 / 37.0 - 13.0).collect();
            let x = Tensor::from_shape(&[rows, row], &xs).unwrap();
            // On a tensor's buffer, aligned as tract's: the whole-rows kernel's last bits
            // depend on where a row starts.
            let mut ours = x.clone();
            softmax_rows(ours.try_as_plain_ram_mut().unwrap().as_slice_mut::<f32>().unwrap(), row).unwrap();
            let ours = ours.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
            let theirs = tracts(&x);
            assert_eq!(
                ours.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                theirs.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                "{rows} rows of {row}"
            );
        }
    }
}
