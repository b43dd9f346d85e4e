//! Activations tract computes wrongly, and SwiGLU, which it lacks. tract's Celu leaves out
//! the factor alpha in `alpha * (exp(x / alpha) - 1)`, and its Swish ignores `alpha`
//! altogether (computing `x * sigmoid(x)`); both answered silently wrong for any alpha but 1.
//! Each is wired from tract's own element-wise operators, so every float type works and
//! tract's optimiser still sees them.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::math::{add, div, exp, max, min, mul, sub};
use tract_onnx::tract_core::ops::nn::sigmoid;
use tract_onnx::tract_core::ops::nn::silu::silu;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::activations::broadcast_scalar;

use super::ml::Built;

pub(super) fn celu(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    Ok((expand(Activation::Celu(node.get_attr_opt("alpha")?.unwrap_or(1.0))), vec![]))
}

pub(super) fn swish(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    Ok((expand(Activation::Swish(node.get_attr_opt("alpha")?.unwrap_or(1.0))), vec![]))
}

pub(super) fn swiglu(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    Ok((expand(Activation::SwiGlu(node.get_attr_opt("alpha")?.unwrap_or(1.0))), vec![]))
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    Celu(f32),
    Swish(f32),
    /// `Swish(a) * b`, a and b of one shape.
    SwiGlu(f32),
}

/// `x * sigmoid(alpha * x)`, tract's fused Silu where alpha is 1.
fn wire_swish(prefix: &str, model: &mut TypedModel, x: OutletId, alpha: f32) -> TractResult<OutletId> {
    if alpha == 1.0 {
        return Ok(model.wire_node(prefix, silu(), &[x])?[0]);
    }
    let alpha = model.add_const(format!("{prefix}.alpha"), broadcast_scalar(alpha, model, &[x])?)?;
    let scaled = model.wire_node(format!("{prefix}.scaled"), mul(), &[x, alpha])?;
    let gate = model.wire_node(format!("{prefix}.sigmoid"), sigmoid(), &scaled)?;
    Ok(model.wire_node(prefix, mul(), &[x, gate[0]])?[0])
}

impl Expansion for Activation {
    fn name(&self) -> StaticName {
        match self {
            Activation::Celu(_) => "Celu",
            Activation::Swish(_) => "Swish",
            Activation::SwiGlu(_) => "SwiGLU",
        }
        .into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, if matches!(self, Activation::SwiGlu(_)) { 2 } else { 1 })?;
        check_output_arity(outputs, 1)?;
        for input in inputs {
            s.equals(&outputs[0].datum_type, &input.datum_type)?;
            s.equals(&outputs[0].shape, &input.shape)?;
        }
        Ok(())
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let x = inputs[0];
        let dt = model.outlet_fact(x)?.datum_type;
        if !dt.is_float() {
            bail!("{prefix}: {} takes float input, got {dt:?}", self.name());
        }
        match *self {
            Activation::Celu(alpha) => {
                // max(0, x) + min(0, alpha * (exp(x / alpha) - 1))
                let mut cst = |name: &str, v: f32| -> TractResult<OutletId> {
                    let t = broadcast_scalar(v, model, inputs)?;
                    model.add_const(format!("{prefix}.{name}"), t)
                };
                let (zero, one, a) = (cst("zero", 0.0)?, cst("one", 1.0)?, cst("alpha", alpha)?);
                let w = model.wire_node(format!("{prefix}.over_alpha"), div(), &[x, a])?;
                let w = model.wire_node(format!("{prefix}.exp"), exp(), &w)?;
                let w = model.wire_node(format!("{prefix}.minus_one"), sub(), &[w[0], one])?;
                let w = model.wire_node(format!("{prefix}.times_alpha"), mul(), &[w[0], a])?;
                let negative = model.wire_node(format!("{prefix}.negative"), min(), &[w[0], zero])?;
                let positive = model.wire_node(format!("{prefix}.positive"), max(), &[x, zero])?;
                model.wire_node(prefix, add(), &[positive[0], negative[0]])
            }
            Activation::Swish(alpha) => Ok(tvec!(wire_swish(prefix, model, x, alpha)?)),
            Activation::SwiGlu(alpha) => {
                let gate = wire_swish(&format!("{prefix}.swish"), model, x, alpha)?;
                model.wire_node(prefix, mul(), &[gate, inputs[1]])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: Activation, inputs: &[Tensor]) -> Tensor {
        let mut model = TypedModel::default();
        let sources: TVec<OutletId> = inputs
            .iter()
            .enumerate()
            .map(|(i, t)| model.add_source(format!("x{i}"), t.datum_type().fact(t.shape())).unwrap())
            .collect();
        let y = op.wire("op", &mut model, &sources).unwrap();
        model.select_output_outlets(&y).unwrap();
        let inputs = inputs.iter().map(|t| t.clone().into_tvalue()).collect();
        let out = model.into_optimized().unwrap().into_runnable().unwrap().run(inputs).unwrap();
        out[0].clone().into_tensor()
    }

    fn close(actual: &Tensor, expected: &[f64], tol: f64) {
        let actual = actual.cast_to::<f64>().unwrap();
        let actual = actual.try_as_plain_ram().unwrap();
        let actual = actual.as_slice::<f64>().unwrap();
        assert_eq!(actual.len(), expected.len());
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= tol * (1.0 + e.abs()), "{actual:?}, expected {expected:?}");
        }
    }

    /// onnx's test_celu_float16: tract's answer was half of it with alpha 2.
    #[test]
    fn celu_scales_the_negative_side_by_alpha() {
        let x = [-3.0f32, -0.5, 0.0, 0.5, 3.0];
        let expected = [-1.5537396797031404, -0.44239843385719024, 0.0, 0.5, 3.0];
        close(&run(Activation::Celu(2.0), &[tensor1(&x)]), &expected, 1e-6);
        let half: Vec<f16> = x.iter().map(|&v| f16::from_f32(v)).collect();
        close(&run(Activation::Celu(2.0), &[tensor1(&half)]), &expected, 1e-3);
        close(&run(Activation::Celu(2.0), &[tensor1(&x.map(f64::from))]), &expected, 1e-12);
    }

    #[test]
    fn the_registry_gives_celu_swish_and_swiglu_to_these_operators() {
        use crate::ops::testing::{Attr, attr, run_node};
        let x = tensor1(&[-3.0f32, 0.5].map(f16::from_f32));
        let y = run_node("Celu", vec![attr("alpha", Attr::Float(2.0))], &[("x", x)], &["y"]).unwrap();
        close(&y[0], &[-1.5537396797031404, 0.5], 1e-3);
        let x = tensor1(&[-2.0f32, 3.0]);
        let y = run_node("Swish", vec![attr("alpha", Attr::Float(0.5))], &[("x", x.clone())], &["y"]).unwrap();
        close(&y[0], &[-2.0 / (1.0 + 1f64.exp()), 3.0 / (1.0 + (-1.5f64).exp())], 1e-6);
        let inputs = [("a", x), ("b", tensor1(&[1.0f32, -1.0]))];
        let y = run_node("SwiGLU", vec![attr("alpha", Attr::Float(0.5))], &inputs, &["y"]).unwrap();
        close(&y[0], &[-2.0 / (1.0 + 1f64.exp()), -3.0 / (1.0 + (-1.5f64).exp())], 1e-6);
    }

    /// onnx's test_swiglu_alpha_expanded (Swish with alpha 0.5, then Mul) and test_swiglu_alpha.
    #[test]
    fn swish_and_swiglu_scale_the_gate_by_alpha() {
        let a = tensor2(&[[1.0f32, -2.0, 3.0, 4.0], [-1.0, 2.0, -3.0, 0.5]]);
        let b = tensor2(&[[0.5f32, 1.0, -1.0, 2.0], [2.0, -1.0, 0.5, 1.0]]);
        let expected = [0.31122968, -0.5378828, -2.4527235, 7.046376, -0.75508136, -1.4621172, -0.2736383, 0.28108826];
        close(&run(Activation::SwiGlu(0.5), &[a.clone(), b.clone()]), &expected, 1e-6);
        let swish: Vec<f64> = [1.0f64, -2.0, 3.0, 4.0].iter().map(|x| x / (1.0 + (-0.5 * x).exp())).collect();
        close(&run(Activation::Swish(0.5), &[tensor1(&[1.0f32, -2.0, 3.0, 4.0])]), &swish, 1e-6);
        let silu: Vec<f64> = [1.0f64, -2.0].iter().map(|x| x / (1.0 + (-x).exp())).collect();
        close(&run(Activation::Swish(1.0), &[tensor1(&[1.0f32, -2.0])]), &silu, 1e-6);
    }
}
