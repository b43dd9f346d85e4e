//! tract's declutter with a cheaper search for axis changes.
//!
//! tract's `ChangeAxes` pass tries, besides the changes operators suggest, to remove every
//! axis of length one from every node's outputs, constants included, and follows each try
//! through the graph until something blocks it. A CNN has two or three such constants per
//! normalisation layer (scales and shifts shaped `[1, C, 1, 1]`): the tries from them were
//! most of the pass, the pass most of a load, and what they changed is undone later (the
//! constants fold back into the layers). Here constants are not tried on their own; a
//! change that reaches one from a node still changes it. `docs/decisions/declutter.md`
//! has the measurements.

use std::collections::HashSet;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::change_axes::{AxisChange, AxisOp};
use tract_onnx::tract_core::ops::dummy::Dummy;
use tract_onnx::tract_core::ops::konst::Const;
use tract_onnx::tract_core::optim::change_axes::change_axes;
use tract_onnx::tract_core::optim::{Optimizer, OptimizerSession, TypedPass};
use tract_onnx::tract_hir::internal::TractErrorContext;

/// Declutters `model` in place, as tract's `declutter` does but for the axis search above,
/// and with convolutions fused as soon as constants are propagated (their biases are
/// computed until then).
pub(crate) fn declutter(model: &mut TypedModel) -> TractResult<()> {
    let mut optimizer = Optimizer::declutter();
    for pass in optimizer.passes.iter_mut() {
        if format!("{pass:?}") == "ChangeAxes" {
            *pass = Box::<ChangeAxes>::default();
        }
    }
    let after_constants =
        optimizer.passes.iter().position(|p| format!("{p:?}").starts_with("PropConst")).map_or(0, |i| i + 1);
    optimizer.add_pass(after_constants, Box::new(FuseConvolutions));
    optimizer.optimize(model)
}

/// `lean::fuse_convolutions` as a pass.
#[derive(Clone, Debug)]
struct FuseConvolutions;

impl TypedPass for FuseConvolutions {
    fn reset(&mut self) -> TractResult<()> {
        Ok(())
    }

    fn next(&mut self, _: &mut OptimizerSession, _: &TypedModel) -> TractResult<Option<TypedModelPatch>> {
        Ok(None)
    }

    fn run_direct(&mut self, model: &mut TypedModel) -> TractResult<bool> {
        super::lean::fuse_convolutions(model)
    }
}

/// tract's `ChangeAxes` (tract-core 0.23, `optim/change_axes.rs`) without the tries from
/// constants. Like tract's, it resumes each sweep at the node of its last change and
/// remembers what it tried until the optimiser resets it.
#[derive(Clone, Debug, Default)]
struct ChangeAxes {
    tried: HashSet<AxisChange>,
    resume_at: usize,
}

impl TypedPass for ChangeAxes {
    fn reset(&mut self) -> TractResult<()> {
        self.tried.clear();
        self.resume_at = 0;
        Ok(())
    }

    fn next(&mut self, _: &mut OptimizerSession, model: &TypedModel) -> TractResult<Option<TypedModelPatch>> {
        let mut explored: HashSet<AxisChange> = HashSet::new();
        let mut interfaces = model.output_outlets()?.to_vec();
        interfaces.extend(model.input_outlets()?.iter());
        for node in &model.nodes[self.resume_at..] {
            if node.op_is::<Dummy>() {
                continue;
            }
            let suggested = node
                .op
                .suggested_axis_changes()?
                .into_iter()
                .map(|(io, op)| AxisChange { outlet: io.as_outlet(node), op });
            let constant = node.op_is::<Const>();
            let unit_axes = node.outputs.iter().enumerate().filter(|_| !constant).flat_map(|(slot, output)| {
                output
                    .fact
                    .shape
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.is_one())
                    .map(move |(axis, _)| AxisChange { outlet: OutletId::new(node.id, slot), op: AxisOp::Rm(axis) })
            });
            for change in suggested.chain(unit_axes) {
                if self.tried.insert(change.clone())
                    && let Some((patch, _)) = change_axes(model, &change, &interfaces, &[], &mut explored)
                        .with_context(|| format!("Making patch for {change:?} from {node}"))?
                {
                    self.resume_at = node.id;
                    return Ok(Some(patch));
                }
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use tract_onnx::tract_core::ops::math;
    use tract_onnx::tract_hir::internal::*;

    use super::super::testing::node_model;

    fn op_names(model: &TypedModel) -> Vec<String> {
        model.nodes().iter().map(|n| n.op.name().to_string()).collect()
    }

    fn run(model: TypedModel, x: &Tensor) -> Tensor {
        model.into_runnable().unwrap().run(tvec!(x.clone().into_tvalue())).unwrap().remove(0).into_tensor()
    }

    #[test]
    fn changes_operators_suggest_are_still_made() {
        // A transposition, an element-wise op, and the transposition back: the search moves
        // one through the op until the two cancel.
        let mut m = TypedModel::default();
        let x = m.add_source("x", f32::fact([2, 3, 4])).unwrap();
        let t = m.wire_node("t", AxisOp::Move(2, 1), &[x]).unwrap()[0];
        let a = m.wire_node("abs", math::abs(), &[t]).unwrap()[0];
        let back = m.wire_node("back", AxisOp::Move(1, 2), &[a]).unwrap()[0];
        m.select_output_outlets(&[back]).unwrap();
        let x = Tensor::from_shape(&[2, 3, 4], &(0..24).map(|i| i as f32 - 12.0).collect::<Vec<_>>()).unwrap();
        let expected = run(m.clone(), &x);
        super::declutter(&mut m).unwrap();
        assert!(!op_names(&m).iter().any(|n| n.contains("Move") || n == "AxisOp"), "{:?}", op_names(&m));
        assert_eq!(run(m, &x), expected);
    }

    #[test]
    fn convolutions_are_fused_before_tract_rewrites_them() {
        // Without a bias, a convolution's bias is computed until constants are propagated;
        // a 1x1 one tract would rewrite as a product wrapped in axis changes.
        for k in [1usize, 3] {
            let w: Vec<f32> = (0..4 * 3 * k * k).map(|i| ((i * 37) % 11) as f32 / 7.0 - 0.7).collect();
            let w = Tensor::from_shape(&[4, 3, k, k], &w).unwrap();
            let x: Vec<f32> = (0..3 * 5 * 5).map(|i| ((i * 13) % 17) as f32 / 9.0 - 1.0).collect();
            let x = Tensor::from_shape(&[1, 3, 5, 5], &x).unwrap();
            let model = node_model("Conv", vec![], &[("x", x.clone())], &[("w", w)], &["y"]).unwrap();
            let typed = model.into_typed().unwrap();
            let expected = run(typed.clone().into_decluttered().unwrap(), &x);
            let mut ours = typed;
            super::declutter(&mut ours).unwrap();
            let names = op_names(&ours);
            assert!(names.iter().any(|n| n.starts_with("ConvF32")), "{k}x{k}: {names:?}");
            assert!(!names.iter().any(|n| n == "Conv" || n == "EinSum"), "{k}x{k}: {names:?}");
            let got = run(ours, &x);
            assert_eq!(got.shape(), expected.shape());
            let f32s = |t: &Tensor| t.try_as_plain_ram().unwrap().as_slice::<f32>().unwrap().to_vec();
            let (got, expected) = (f32s(&got), f32s(&expected));
            assert!(got.iter().zip(expected).all(|(a, b)| (a - b).abs() <= 1e-5 * b.abs().max(1.0)), "{k}x{k}");
        }
    }
}
