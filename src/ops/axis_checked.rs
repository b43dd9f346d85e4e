//! OneHot, LayerNormalization and RMSNormalization (and onnxruntime's
//! SimplifiedLayerNormalization) as tract builds them, refused first when their axis lies
//! outside the input's rank. tract turns such an axis into a huge `usize`, and the shape rules
//! then count up to it: a OneHot whose axis was -1000 on indices of rank 1 kept loading past
//! any timeout (found by fuzzing), as did a normalisation's optional statistics outputs.
//!
//! The check is a shape rule registered before tract's own: the solver applies rules in the
//! order they were made, so once the rank is known this one refuses before tract's runs.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, label};

/// The normalisations: an axis of the input, in [-rank, rank - 1].
pub(super) fn normalization(ctx: &ParsingContext, node: &NodeProto) -> Built {
    build(ctx, node, 0)
}

/// OneHot: an axis of the output, one more than the indices' rank: [-rank - 1, rank].
pub(super) fn one_hot(ctx: &ParsingContext, node: &NodeProto) -> Built {
    build(ctx, node, 1)
}

fn build(ctx: &ParsingContext, node: &NodeProto, added: i64) -> Built {
    let axis = node.get_attr_opt::<i64>("axis")?.unwrap_or(-1);
    let (op, extra) = super::tract_build(ctx, node)?;
    let inner = op
        .as_op()
        .downcast_ref::<Box<dyn Expansion>>()
        .with_context(|| format!("{}: tract no longer builds it as an expansion", label(node)))?;
    Ok((expand(AxisChecked { label: label(node), axis, added, inner: inner.clone() }), extra))
}

#[derive(Debug, Clone)]
struct AxisChecked {
    label: String,
    axis: i64,
    /// Axes the output has beyond the input's.
    added: i64,
    inner: Box<dyn Expansion>,
}

impl AxisChecked {
    fn check(&self, input_rank: i64) -> TractResult<()> {
        let rank = input_rank + self.added;
        if !(-rank..rank).contains(&self.axis) {
            bail!(
                "{}: axis {} is out of range for an input of rank {input_rank} (expected {} to {})",
                self.label,
                self.axis,
                -rank,
                rank - 1
            );
        }
        Ok(())
    }
}

impl Expansion for AxisChecked {
    fn name(&self) -> StaticName {
        Expansion::name(self.inner.as_ref())
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Expansion::info(self.inner.as_ref())
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Expansion::nboutputs(self.inner.as_ref())
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        let Some(x) = inputs.first() else { bail!("{}: no input", self.label) };
        s.given(&x.rank, move |_, rank| self.check(rank))?;
        self.inner.rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        self.check(model.outlet_fact(inputs[0])?.rank() as i64)?;
        self.inner.wire(prefix, model, inputs)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{Attr, attr, run_node, run_node_with};
    use tract_onnx::tract_hir::internal::*;

    /// An axis past the rank: a normalisation with the optional outputs whose rules looped over
    /// it, and a OneHot, whose axis may be one past the indices' last.
    #[test]
    fn axes_past_the_rank_are_refused() {
        let x = || ("x", tensor2(&[[1f32, 2., 3.], [4., 5., 7.]]));
        let scale = || ("scale", tensor1(&[1f32, 1., 1.]));
        for axis in [-1000, -3, 2] {
            let attrs = vec![attr("axis", Attr::Int(axis))];
            let err = run_node("LayerNormalization", attrs, &[x(), scale()], &["y", "mean", "inv"]).unwrap_err();
            assert!(
                format!("{err:?}").contains(&format!("axis {axis} is out of range for an input of rank 2")),
                "{err:?}"
            );
            let attrs = vec![attr("axis", Attr::Int(axis))];
            let err = run_node("RMSNormalization", attrs, &[x(), scale()], &["y"]).unwrap_err();
            assert!(format!("{err:?}").contains(&format!("axis {axis} is out of range")), "{err:?}");
        }
        for axis in [-1000, -3, 2] {
            let consts = [("depth", tensor0(3i64)), ("values", tensor1(&[0f32, 1.]))];
            let attrs = vec![attr("axis", Attr::Int(axis))];
            let err = run_node_with("OneHot", attrs, &[("i", tensor1(&[1i64]))], &consts, &["y"]).unwrap_err();
            assert!(
                format!("{err:?}")
                    .contains(&format!("axis {axis} is out of range for an input of rank 1 (expected -2 to 1)")),
                "{err:?}"
            );
        }
        let y = run_node(
            "LayerNormalization",
            vec![attr("axis", Attr::Int(-2))],
            &[x(), ("scale", tensor2(&[[1f32; 3]; 2]))],
            &["y"],
        )
        .unwrap();
        assert_eq!(y[0].shape(), &[2, 3]);
    }
}
