//! Pad's `wrap` mode (opset 19), which tract lacks: each padded axis continues the input
//! periodically, as numpy's `pad(mode="wrap")` does, the standard's reference. Every other
//! mode is tract's.
//!
//! As in numpy, a pad may be longer than its axis (the input then repeats more than once);
//! a negative pad, or a pad on an empty axis, has no meaning in this mode and is refused.
//! The pads (and axes) must be constants when the graph is typed: a graph input feeding
//! them is a value input, so it is one.

use tract_onnx::model::{ParsingContext, optional_inputs};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, bad_shape, label};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    if node.get_attr_opt::<&str>("mode")? != Some("wrap") {
        return super::tract_build(ctx, node);
    }
    let mut optional = optional_inputs(node).skip(2);
    let (constant_input, axes_input) = (optional.next().flatten(), optional.next().flatten());
    Ok((expand(Translate { label: label(node), constant_input, axes_input }), vec![]))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Translate {
    label: String,
    /// Ignored by this mode, but an input all the same.
    constant_input: Option<usize>,
    axes_input: Option<usize>,
}

impl Translate {
    /// The (before, after) pad of every axis, from constant pads and axes.
    fn pads(&self, rank: usize, pads: &Tensor, axes: Option<&Tensor>) -> TractResult<Vec<(usize, usize)>> {
        let label = &self.label;
        let pads = pads.cast_to::<i64>()?;
        let pads = pads.try_as_plain_ram()?.as_slice::<i64>()?.to_vec();
        let axes: Vec<i64> = match axes {
            Some(axes) => axes.cast_to::<i64>()?.try_as_plain_ram()?.as_slice::<i64>()?.to_vec(),
            None => (0..rank as i64).collect(),
        };
        if pads.len() != 2 * axes.len() {
            bail!("{label}: {} pads for {} axes, expected two per axis", pads.len(), axes.len());
        }
        let mut fixed = vec![(0, 0); rank];
        for (ix, &axis) in axes.iter().enumerate() {
            if !(-(rank as i64)..rank as i64).contains(&axis) {
                bail!("{label}: axis {axis} is out of range for rank {rank}");
            }
            let (before, after) = (pads[ix], pads[ix + axes.len()]);
            if before < 0 || after < 0 {
                bail!("{label}: pads {before} and {after} on axis {axis}; wrap mode cannot remove elements");
            }
            fixed[axis.rem_euclid(rank as i64) as usize] = (before as usize, after as usize);
        }
        Ok(fixed)
    }
}

impl Expansion for Translate {
    fn name(&self) -> StaticName {
        "Pad".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 2 + self.constant_input.is_some() as usize + self.axes_input.is_some() as usize)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, &outputs[0].datum_type)?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        s.equals(&inputs[1].rank, 1)?;
        match self.axes_input {
            None => s.given_2(&inputs[0].shape, &inputs[1].value, move |s, shape, pads| {
                output_shape(s, outputs, &shape, &self.pads(shape.len(), &pads, None)?)
            }),
            Some(axes) => {
                s.given_3(&inputs[0].shape, &inputs[1].value, &inputs[axes].value, move |s, shape, pads, axes| {
                    output_shape(s, outputs, &shape, &self.pads(shape.len(), &pads, Some(&axes))?)
                })
            }
        }
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let label = &self.label;
        let konst = |ix: usize| -> TractResult<Arc<Tensor>> {
            model
                .outlet_fact(inputs[ix])?
                .konst
                .clone()
                .with_context(|| format!("{label}: pads and axes must be constants"))
        };
        let pads = konst(1)?;
        let axes = self.axes_input.map(konst).transpose()?;
        let rank = model.outlet_fact(inputs[0])?.rank();
        let pads = self.pads(rank, &pads, axes.as_deref())?;
        model.wire_node(prefix, WrapPad { label: self.label.clone(), pads }, &inputs[..1])
    }
}

fn output_shape<'r>(
    s: &mut Solver<'r>,
    outputs: &'r [TensorProxy],
    shape: &[TDim],
    pads: &[(usize, usize)],
) -> InferenceResult {
    for (axis, (d, &(before, after))) in shape.iter().zip(pads).enumerate() {
        s.equals(&outputs[0].shape[axis], d.clone() + before + after)?;
    }
    Ok(())
}

/// The input padded periodically: output index `j` of an axis reads input index
/// `(j - before) mod len`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct WrapPad {
    label: String,
    /// (before, after) for every axis.
    pads: Vec<(usize, usize)>,
}

impl WrapPad {
    fn apply(&self, x: &Tensor) -> TractResult<Tensor> {
        let mut y = x.clone();
        for (axis, &(before, after)) in self.pads.iter().enumerate() {
            if before == 0 && after == 0 {
                continue;
            }
            let len = y.shape()[axis];
            if len == 0 {
                return Err(bad_shape(&self.label, format!("axis {axis} is empty, so there is nothing to wrap")));
            }
            // The input's runs along the axis, from where the output begins.
            let mut pieces = Vec::new();
            let (mut at, mut left) = ((len - before % len) % len, len + before + after);
            while left > 0 {
                let take = (len - at).min(left);
                pieces.push(y.slice(axis, at, at + take)?);
                (at, left) = (0, left - take);
            }
            y = Tensor::stack_tensors(axis, &pieces)?;
        }
        Ok(y)
    }
}

super::one_input_eval!(WrapPad, "WrapPad");

impl TypedOp for WrapPad {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut fact = inputs[0].without_value();
        for (axis, &(before, after)) in self.pads.iter().enumerate() {
            fact.shape.set(axis, fact.shape[axis].clone() + before + after);
        }
        Ok(tvec!(fact))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node_with};

    fn pad(x: Tensor, pads: &[i64], axes: Option<&[i64]>) -> TractResult<Tensor> {
        let mut consts = vec![("pads", tensor1(pads)), ("value", x.nth(0)?)];
        consts.extend(axes.map(|a| ("axes", tensor1(a))));
        let mode = vec![attr("mode", Attr::Str("wrap"))];
        Ok(run_node_with("Pad", mode, &[("x", x)], &consts, &["y"])?.remove(0))
    }

    #[test]
    fn pads_continue_the_input_periodically_as_numpy() {
        let x = tensor2(&[[1i32, 2, 3], [4, 5, 6]]);
        // np.pad(x, ((1, 0), (2, 1)), mode="wrap")
        let y = tensor2(&[[5i32, 6, 4, 5, 6, 4], [2, 3, 1, 2, 3, 1], [5, 6, 4, 5, 6, 4]]);
        assert_eq!(pad(x.clone(), &[1, 2, 0, 1], None).unwrap(), y);
        // Pads longer than the axis repeat it: np.pad([1, 2, 3], (4, 5), mode="wrap").
        let long = tensor1(&[3f32, 1., 2., 3., 1., 2., 3., 1., 2., 3., 1., 2.]);
        assert_eq!(pad(tensor1(&[1f32, 2., 3.]), &[4, 5], None).unwrap(), long);
        // Named (and negative) axes; strings too.
        let y = tensor2(&[[3i32, 1, 2, 3, 1], [6, 4, 5, 6, 4]]);
        assert_eq!(pad(x, &[1, 1], Some(&[-1])).unwrap(), y);
        let op = WrapPad { label: "p".into(), pads: vec![(0, 3)] };
        let y = op.apply(&tensor1(&["a", "b"].map(String::from))).unwrap();
        assert_eq!(y, tensor1(&["a", "b", "a", "b", "a"].map(String::from)));
    }

    #[test]
    fn bad_pads_are_refused() {
        let x = tensor2(&[[1i32, 2, 3], [4, 5, 6]]);
        let err = |pads: &[i64], axes: Option<&[i64]>| format!("{:?}", pad(x.clone(), pads, axes).unwrap_err());
        let e = err(&[0, -1, 0, 0], None);
        assert!(e.contains("wrap mode cannot remove elements"), "{e}");
        assert!(err(&[0, 1], Some(&[2])).contains("axis 2 is out of range for rank 2"));
        let op = WrapPad { label: "p".into(), pads: vec![(0, 0), (1, 0)] };
        let e = op.apply(&Tensor::zero::<f32>(&[2, 0]).unwrap()).unwrap_err();
        assert!(format!("{e:?}").contains("axis 1 is empty"), "{e:?}");
        assert_eq!(op.apply(&Tensor::zero::<f32>(&[0, 2]).unwrap()).unwrap().shape(), &[0, 3]);
    }
}
