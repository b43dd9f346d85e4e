//! Dense layers: a product of f32 rows by constant weights, with the constant bias added
//! after it and the ReLU after that, as one operator on edgeinfer-kernels' `dense` loop
//! (fused before tract optimises: see fuse.rs). tract would plan a three-layer network as
//! twelve nodes, packing the rows and reshaping them; at batch 1 the arithmetic is the least
//! of it.

use std::sync::Arc;

use edgeinfer_kernels::clamp::Clamp;
use edgeinfer_kernels::dense::{self, Weights};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::einsum::EinSum;
use tract_onnx::tract_core::ops::math;

use super::fuse::{Fused, successor_with_constant, trailing_clamp};

/// The dense layer starting at node `id`, if it is a product by constant weights, with its
/// bias and clamp (ReLU) if they follow.
pub(super) fn layer(model: &TypedModel, id: usize) -> TractResult<Option<Fused>> {
    let node = model.node(id);
    let Some(einsum) = node.op_as::<EinSum>() else { return Ok(None) };
    if einsum.q_params.is_some() || node.inputs.len() != 2 || node.outputs[0].fact.datum_type != DatumType::F32 {
        return Ok(None);
    }
    let (x, w) = (model.outlet_fact(node.inputs[0])?, model.outlet_fact(node.inputs[1])?);
    let Some(weights) = w.konst.as_ref().filter(|_| x.datum_type == DatumType::F32 && w.datum_type == DatumType::F32)
    else {
        return Ok(None);
    };
    let expr = einsum.axes.to_string();
    let Some(layout) = Layout::of(&expr, x) else { return Ok(None) };
    let (k, n) = match (layout.transposed, weights.shape()) {
        (_, [k]) => (*k, 1),
        (false, [k, n]) => (*k, *n),
        (true, [n, k]) => (*k, *n),
        _ => return Ok(None),
    };
    let packed = Weights::new(weights.try_as_plain_ram()?.as_slice::<f32>()?, k, n, layout.transposed)
        .map_err(TractError::msg)?;
    let mut op = DenseF32 {
        weights: Arc::new(packed),
        bias: None,
        clamp: Clamp::NONE,
        vanish: layout.vanish,
        with_n: layout.with_n,
    };
    let mut last = id;
    if let Some((next, bias)) = successor_with_constant::<math::Add>(model, last)?
        && (bias.len() == n || bias.len() == 1)
    {
        let values = bias.try_as_plain_ram()?.as_slice::<f32>()?;
        op.bias = Some(Arc::new(if values.len() == n { values.to_vec() } else { vec![values[0]; n] }));
        last = next;
    }
    (op.clamp, last) = trailing_clamp(model, last)?;
    Ok(Some(Fused { op: Box::new(op), input: node.inputs[0], last }))
}

/// Where the product's axes go: `x`'s last axis is the one summed (so its rows lie one after
/// another), the weights are `k x n` or `n x k` (or just `k`), and the output is `x`'s other
/// axes then `n`, less any of `x`'s axes of size 1 that the output drops.
struct Layout {
    transposed: bool,
    /// `x`'s axes the output leaves out.
    vanish: TVec<usize>,
    /// Whether the output has an axis for the weights' columns (one column: perhaps not).
    with_n: bool,
}

impl Layout {
    fn of(expr: &str, x: &TypedFact) -> Option<Layout> {
        let (inputs, output) = expr.split_once("->")?;
        let (xs, ws) = inputs.split_once(',')?;
        let (xs, ws, out): (Vec<char>, Vec<char>, Vec<char>) =
            (xs.chars().collect(), ws.chars().collect(), output.chars().collect());
        let &k = xs.last()?;
        if out.contains(&k) || !ws.contains(&k) || xs.len() != x.rank() {
            return None;
        }
        let mut vanish = TVec::new();
        let mut kept = Vec::new();
        for (i, c) in xs[..xs.len() - 1].iter().enumerate() {
            if out.contains(c) {
                kept.push(*c);
            } else if x.shape[i] == 1.to_dim() {
                vanish.push(i);
            } else {
                return None;
            }
        }
        let n = ws.iter().copied().find(|&c| c != k);
        let transposed = ws.len() == 2 && ws[0] != k;
        let with_n = match (n, out.split_last()) {
            // `mk,kn->mn` (or `nk`).
            (Some(n), Some((&last, rest))) if n == last && !xs.contains(&n) && rest == kept => true,
            // `mk,k->mn`: a weight vector, and an output axis of size 1 from nowhere.
            (None, Some((&last, rest))) if !xs.contains(&last) && rest == kept => true,
            // `mk,k->m`: a weight vector, and no axis for it.
            (None, _) if out == kept => false,
            _ => return None,
        };
        Some(Layout { transposed, vanish, with_n })
    }
}

/// `x · W + bias`, then the clamp; `x`'s axes in `vanish` (of size 1) are dropped, and the
/// columns' axis is left out unless `with_n`.
#[derive(Debug, Clone, PartialEq)]
struct DenseF32 {
    weights: Arc<Weights>,
    bias: Option<Arc<Vec<f32>>>,
    clamp: Clamp,
    vanish: TVec<usize>,
    with_n: bool,
}

impl Eq for DenseF32 {}

impl DenseF32 {
    fn output_shape<D: DimLike>(&self, x: &[D]) -> TVec<D> {
        let mut shape: TVec<D> = x[..x.len() - 1]
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.vanish.contains(i))
            .map(|(_, d)| d.clone())
            .collect();
        if self.with_n {
            shape.push(D::from(self.weights.n()));
        }
        shape
    }
}

impl Op for DenseF32 {
    fn name(&self) -> StaticName {
        format!(
            "DenseF32<{}x{}{}{}>",
            self.weights.k(),
            self.weights.n(),
            if self.bias.is_some() { "+bias" } else { "" },
            if self.clamp.is_none() { "" } else { "+clamp" }
        )
        .into()
    }
    op_as_typed_op!();
}

impl EvalOp for DenseF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let k = self.weights.k();
        ensure!(x.shape().last() == Some(&k), "DenseF32: input of shape {:?}, expected a last axis of {k}", x.shape());
        let rows = x.len() / k.max(1);
        let xs = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let bias = self.bias.as_deref().map(Vec::as_slice);
        let y = super::filled_as::<f32>(&self.output_shape(x.shape()), |out| {
            dense::matmul(xs, rows, &self.weights, bias, self.clamp, out)
        })?;
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for DenseF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let shape: TVec<TDim> = inputs[0].shape.iter().cloned().collect();
        Ok(tvec!(f32::fact(self.output_shape(&shape))))
    }
    as_op!();
}
