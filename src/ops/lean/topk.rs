//! TopK of f32 along any axis, on edgeinfer-kernels' selection. tract's sorts every row in
//! full through ndarray's indexing, in its size-optimised code, and its order with NaN is
//! whatever its comparator leaves; here NaN ranks above every number.

use edgeinfer_kernels::topk::top_k;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::array::Topk;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    let Some(op) = node.op_as::<Topk>() else { return Ok(None) };
    Ok((inputs[0].datum_type == f32::datum_type()).then(|| Box::new(TopkF32(op.clone())) as Box<dyn TypedOp>))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct TopkF32(Topk);

impl Op for TopkF32 {
    fn name(&self) -> StaticName {
        "TopkF32".into()
    }
    fn mints_runtime_symbols(&self) -> bool {
        true
    }
    op_as_typed_op!();
}

impl EvalOp for TopkF32 {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, k) = args_2!(inputs);
        let x = super::natural(x)?;
        let k = k.cast_to_scalar::<i64>()?;
        let shape = x.shape();
        let axis = self.0.axis;
        let n = shape[axis];
        ensure!(k >= 0 && k as usize <= n, "TopK: k is {k}, but axis {axis} has {n} values");
        let k = k as usize;
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let mut out_shape: TVec<usize> = shape.into();
        out_shape[axis] = k;
        let mut values = super::zeros(DatumType::F32, &out_shape)?;
        let mut indices = super::zeros(DatumType::I64, &out_shape)?;
        let xs = x.try_as_plain_ram()?.as_slice::<f32>()?;
        let mut vs = values.try_as_plain_ram_mut()?;
        let vs = vs.as_slice_mut::<f32>()?;
        let mut is = indices.try_as_plain_ram_mut()?;
        let is = is.as_slice_mut::<i64>()?;
        let (mut row, mut v, mut i) = (vec![0f32; n], vec![0f32; k], vec![0i64; k]);
        for o in 0..outer {
            for j in 0..inner {
                for (r, x) in row.iter_mut().enumerate() {
                    *x = xs[(o * n + r) * inner + j];
                }
                top_k(&row, k, self.0.largest, &mut v, &mut i).map_err(TractError::msg)?;
                for r in 0..k {
                    vs[(o * k + r) * inner + j] = v[r];
                    is[(o * k + r) * inner + j] = i[r];
                }
            }
        }
        Ok(tvec!(values.into_tvalue(), indices.into_tvalue()))
    }
}

impl TypedOp for TopkF32 {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.0.output_facts(inputs)
    }
    as_op!();
}
