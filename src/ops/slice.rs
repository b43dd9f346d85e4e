//! Slice (opset 10 on), as tract runs it, but refused at typing unless `starts` and `ends`
//! are constants by then (`axes` and `steps` tract already requires to be).
//!
//! With `starts` or `ends` known only at run time, tract types the slice with a length
//! symbol it creates in a scope of its own that is gone by the time the plan runs, so
//! every prediction failed ("Symbol <Sym0> points to an invalid (dead ?) SymbolScope"); its
//! run-time slice would also skip the standard's clamping of negative and out-of-range
//! bounds. Refused at typing, a graph whose inputs feed them takes the value-input path
//! (`values.rs`), which loads the graph with their values as constants, as it already did
//! when `axes` was an input too. Opset 1 to 9 give the bounds as attributes: tract's.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::array::StridedSlice;

use super::ml::{Built, label};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    if ctx.onnx_operator_set_version < 10 {
        return super::tract_build(ctx, node);
    }
    let mut optional = tract_onnx::model::optional_inputs(node).skip(3);
    let op = StridedSlice {
        begin_mask: 0,
        end_mask: 0,
        shrink_axis_mask: 0,
        optional_axes_input: optional.next().flatten(),
        optional_steps_input: optional.next().flatten(),
    };
    Ok((expand(Slice { label: label(node), op }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slice {
    label: String,
    op: StridedSlice,
}

impl Expansion for Slice {
    fn name(&self) -> StaticName {
        "Slice".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        InferenceRulesOp::rules(&self.op, s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        for (ix, name) in [(1, "starts"), (2, "ends")] {
            if model.outlet_fact(inputs[ix])?.konst.is_none() {
                bail!("{}: {name} must be known when the graph is loaded", self.label);
            }
        }
        model.wire_node(prefix, self.op.clone(), inputs)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{run_node, run_node_with};
    use tract_onnx::prelude::*;

    #[test]
    fn bounds_known_at_load_slice_as_tract_does() {
        let x = tensor2(&[[1f32, 2., 3.], [4., 5., 6.]]);
        let bounds = [("starts", tensor1(&[1i64, -2])), ("ends", tensor1(&[9i64, 3]))];
        let y = run_node_with("Slice", vec![], &[("x", x)], &bounds, &["y"]).unwrap();
        assert_eq!(y[0], tensor2(&[[5f32, 6.]]));
    }

    #[test]
    fn bounds_known_only_at_run_time_are_refused_at_load() {
        let inputs = [("x", tensor1(&[1f32, 2., 3.])), ("starts", tensor1(&[1i64])), ("ends", tensor1(&[2i64]))];
        let e = format!("{:?}", run_node("Slice", vec![], &inputs, &["y"]).unwrap_err());
        assert!(e.contains("Slice node 'node': starts must be known when the graph is loaded"), "{e}");
    }
}
