//! Unary f32 functions (Sigmoid, Tanh, Exp, ...) that answer NaN for NaN, as onnxruntime's
//! do. Some of tract's kernels clamp their input first with a min and a max that drop NaN,
//! so a sigmoid of NaN came out as 4.5e-7 natively; this runs tract's operator and puts NaN
//! back where the input had it.

use edgeinfer_kernels::nan;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::element_wise::ElementWiseOp;

pub(super) fn stand_in(
    _: &TypedModel,
    node: &TypedNode,
    inputs: &[&TypedFact],
) -> TractResult<Option<Box<dyn TypedOp>>> {
    Ok(match node.op_as::<ElementWiseOp>() {
        Some(op) if super::all_f32(node, inputs) => Some(Box::new(NanSafe(op.clone()))),
        _ => None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NanSafe(ElementWiseOp);

impl Op for NanSafe {
    fn name(&self) -> StaticName {
        format!("NanSafe<{}>", self.0.name()).into()
    }
    op_as_typed_op!();
}

impl EvalOp for NanSafe {
    op_out_of_plan!();

    fn eval(&self, ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = super::natural(args_1!(inputs))?;
        let mut nans = Vec::new();
        nan::positions(x.try_as_plain_ram()?.as_slice::<f32>()?, &mut nans);
        let mut outputs = self.0.eval(ctx, tvec!(x))?;
        if !nans.is_empty() {
            let mut y = super::natural(outputs.remove(0))?.into_tensor();
            let mut plain = y.try_as_plain_ram_mut()?;
            let ys = plain.as_slice_mut::<f32>()?;
            for i in nans {
                ys[i] = f32::NAN;
            }
            outputs.insert(0, y.into_tvalue());
        }
        Ok(outputs)
    }
}

impl TypedOp for NanSafe {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        self.0.output_facts(inputs)
    }
    as_op!();
}
