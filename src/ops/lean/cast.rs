//! Casts between bool, i32, i64 and f32 (a mask made numbers, indices made floats), on
//! edgeinfer-kernels' loops. tract's goes through its generic conversion, about 1 ns an
//! element in wasm. Floats become integers as tract makes them: truncated, saturated at the
//! bounds.

use edgeinfer_kernels::broadcast::cast;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::cast::Cast;

use super::KERNEL_TYPES;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    let Some(op) = node.op_as::<Cast>() else { return Ok(None) };
    let from = inputs[0].datum_type;
    Ok((from != op.to && KERNEL_TYPES.contains(&from) && KERNEL_TYPES.contains(&op.to))
        .then(|| Box::new(CastPlain(op.to)) as Box<dyn TypedOp>))
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct CastPlain(DatumType);

impl Op for CastPlain {
    fn name(&self) -> StaticName {
        format!("Cast<{:?}>", self.0).into()
    }
    op_as_typed_op!();
}

impl EvalOp for CastPlain {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let xs = super::values(&x)?;
        Ok(tvec!(super::filled(self.0, x.shape(), |out| cast(xs, out))?.into_tvalue()))
    }
}

impl TypedOp for CastPlain {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(self.0.fact(inputs[0].shape.clone())))
    }
    as_op!();
}
