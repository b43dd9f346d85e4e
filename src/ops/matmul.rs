//! MatMul, as tract runs it, plus the product of two vectors. ONNX's MatMul follows numpy's
//! matmul, where two 1-D operands give their dot product, a scalar; tract's typing rules
//! agree, but its translation refuses the case (it wants one operand of rank 2 or more).
//! That case is wired as `[1, k] x [k] -> [1]` with the unit axis then removed, so it goes
//! through the same product tract runs for every other MatMul.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::matmul::MatMulInference;

use super::ml::Built;

pub(super) fn build(_ctx: &ParsingContext, _node: &NodeProto) -> Built {
    Ok((expand(MatMul(MatMulInference::default())), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct MatMul(MatMulInference);

impl Expansion for MatMul {
    fn name(&self) -> StaticName {
        "MatMul".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.0.rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let ranks = (model.outlet_fact(inputs[0])?.rank(), model.outlet_fact(inputs[1])?.rank());
        if ranks != (1, 1) {
            return self.0.wire(prefix, model, inputs);
        }
        let row = model.wire_node(format!("{prefix}.row"), AxisOp::Add(0), &inputs[..1])?[0];
        let product = self.0.wire(&format!("{prefix}.product"), model, &[row, inputs[1]])?;
        model.wire_node(prefix, AxisOp::Rm(0), &product)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::run_node;
    use tract_onnx::prelude::*;

    fn matmul(a: Tensor, b: Tensor) -> Tensor {
        run_node("MatMul", vec![], &[("a", a), ("b", b)], &["c"]).unwrap().remove(0)
    }

    #[test]
    fn two_vectors_give_their_dot_product_as_numpy() {
        assert_eq!(matmul(tensor1(&[1f32, 2., 3.]), tensor1(&[4f32, 5., 6.])), tensor0(32f32));
        assert_eq!(matmul(tensor1(&[2i32, 3]), tensor1(&[4i32, 5])), tensor0(23i32));
        // The other ranks as before.
        assert_eq!(matmul(tensor1(&[1f32, 2.]), tensor2(&[[1f32, 2.], [3., 4.]])), tensor1(&[7f32, 10.]));
        assert_eq!(matmul(tensor2(&[[1f32, 2.], [3., 4.]]), tensor1(&[1f32, 2.])), tensor1(&[5f32, 11.]));
    }

    #[test]
    fn vectors_of_different_lengths_are_refused() {
        let e = run_node("MatMul", vec![], &[("a", tensor1(&[1f32, 2.])), ("b", tensor1(&[1f32, 2., 3.]))], &["c"]);
        assert!(e.is_err());
    }
}
