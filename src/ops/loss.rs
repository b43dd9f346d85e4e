//! NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (ONNX), which tract lacks: exported
//! training graphs and evaluation models end in them. One operator computes both, the
//! second on the log-softmax of its scores over the class axis, which it also returns as
//! `log_prob` when asked.
//!
//! Scores of any float type are read as f64 and the answer cast back, so one loop serves
//! f16, f32 and f64 (no copy per type in the wasm) and f16 sums lose nothing on the way.
//! A target that is neither a class nor `ignore_index` is refused with `E_INPUT_VALUE`
//! rather than read out of bounds.

use tract_onnx::model::{ParsingContext, optional_inputs, optional_outputs};
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::ml::{Built, bad_shape, bad_value, label, plain, typed};

pub(super) fn negative_log_likelihood(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    build(node, false)
}

pub(super) fn softmax_cross_entropy(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    build(node, true)
}

fn build(node: &NodeProto, softmax: bool) -> Built {
    let label = label(node);
    let reduction = match node.get_attr_opt::<String>("reduction")?.as_deref().unwrap_or("mean") {
        "none" => Reduction::None,
        "sum" => Reduction::Sum,
        "mean" => Reduction::Mean,
        other => bail!("{label}: reduction is '{other}', expected none, sum or mean"),
    };
    let ignore_index: Option<i64> = node.get_attr_opt("ignore_index")?;
    let inputs: Vec<Option<usize>> = optional_inputs(node).take(node.input.len()).collect();
    if inputs.len() > 3 || inputs.first() != Some(&Some(0)) || inputs.get(1) != Some(&Some(1)) {
        bail!("{label}: expected the inputs scores, target and an optional weight");
    }
    let outputs: Vec<Option<usize>> = optional_outputs(node).take(node.output.len()).collect();
    let log_prob = outputs.get(1).is_some_and(Option::is_some);
    if outputs.first() != Some(&Some(0)) || outputs.len() > 1 + softmax as usize {
        bail!("{label}: expected the output loss{}", if softmax { " and an optional log_prob" } else { "" });
    }
    let weighted = inputs.get(2).is_some_and(Option::is_some);
    typed(Loss { label, softmax, reduction, ignore_index, weighted, log_prob }, 1 + log_prob as usize)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Reduction {
    None,
    Sum,
    /// The weighted sum over the sum of the weights taken, ignored targets' weights being 0
    /// (NaN when every target is ignored, as in the onnx reference).
    Mean,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Loss {
    label: String,
    /// SoftmaxCrossEntropyLoss: the scores are logits, not log-probabilities.
    softmax: bool,
    reduction: Reduction,
    ignore_index: Option<i64>,
    weighted: bool,
    log_prob: bool,
}

/// Whether two dimensions are known and differ: a symbolic one is checked again at run time.
fn differ(a: &TDim, b: &TDim) -> bool {
    matches!((a.to_i64(), b.to_i64()), (Ok(a), Ok(b)) if a != b)
}

/// Scores [N, C, d1..dk], target [N, d1..dk], weight [C].
fn check_shapes(x: &[TDim], target: &[TDim], weight: Option<&[TDim]>) -> Result<(), String> {
    if x.len() < 2 {
        return Err(format!("the scores have rank {}, expected [N, C] or [N, C, d1, ...]", x.len()));
    }
    let expected: TVec<TDim> = x[..1].iter().chain(&x[2..]).cloned().collect();
    if target.len() != expected.len() || target.iter().zip(&expected).any(|(a, b)| differ(a, b)) {
        return Err(format!("the target has shape {target:?}, expected {expected:?} for scores of shape {x:?}"));
    }
    if let Some(w) = weight
        && (w.len() != 1 || differ(&w[0], &x[1]))
    {
        return Err(format!("the weight has shape {w:?}, expected [{}] (one per class)", x[1]));
    }
    Ok(())
}

/// Log-softmax over axis 1 of `[n, c, d]`, with the maximum taken out first as the onnx
/// reference does, so large logits do not overflow.
fn log_softmax(x: &[f64], n: usize, c: usize, d: usize) -> Vec<f64> {
    let mut y = x.to_vec();
    for i in 0..n {
        for j in 0..d {
            let at = |k: usize| (i * c + k) * d + j;
            let max = (0..c).map(|k| x[at(k)]).fold(f64::NEG_INFINITY, f64::max);
            let log_sum = (0..c).map(|k| (x[at(k)] - max).exp()).sum::<f64>().ln();
            for k in 0..c {
                y[at(k)] = x[at(k)] - max - log_sum;
            }
        }
    }
    y
}

impl Loss {
    fn compute(&self, x: &Tensor, target: &Tensor, weight: Option<&Tensor>) -> TractResult<TVec<Tensor>> {
        let dims = |t: &Tensor| t.shape().iter().map(|&d| d.to_dim()).collect::<TVec<TDim>>();
        let weight_dims = weight.map(dims);
        check_shapes(&dims(x), &dims(target), weight_dims.as_deref()).map_err(|e| bad_shape(&self.label, e))?;
        let (n, c) = (x.shape()[0], x.shape()[1]);
        let d: usize = x.shape()[2..].iter().product();
        let scores = x.cast_to::<f64>()?;
        let scores = plain::<f64>(&scores)?;
        let targets = target.cast_to::<i64>()?;
        let targets = plain::<i64>(&targets)?;
        let weights = weight.map(|w| w.cast_to::<f64>()).transpose()?;
        let weights = weights.as_deref().map(plain::<f64>).transpose()?;
        let log_prob = self.softmax.then(|| log_softmax(scores, n, c, d));
        let log_p = log_prob.as_deref().unwrap_or(scores);
        let mut losses = vec![0f64; n * d];
        let (mut total, mut taken) = (0f64, 0f64);
        for i in 0..n {
            for j in 0..d {
                let at = i * d + j;
                let t = targets[at];
                if Some(t) == self.ignore_index {
                    continue;
                }
                if !(0..c as i64).contains(&t) {
                    let ignore = self.ignore_index.map(|i| format!(" nor ignore_index {i}")).unwrap_or_default();
                    return Err(bad_value(
                        &self.label,
                        format!("target {t} (element {at}) is not a class in 0..{c}{ignore}"),
                    ));
                }
                let w = weights.map_or(1.0, |w| w[t as usize]);
                losses[at] = -w * log_p[(i * c + t as usize) * d + j];
                total += losses[at];
                taken += w;
            }
        }
        let dt = x.datum_type();
        let loss = match self.reduction {
            Reduction::None => Tensor::from_shape(target.shape(), &losses)?,
            Reduction::Sum => tensor0(total),
            Reduction::Mean => tensor0(total / taken),
        };
        let mut outputs = tvec!(loss.cast_to_dt(dt)?.into_owned());
        if let (true, Some(log_prob)) = (self.log_prob, log_prob) {
            outputs.push(Tensor::from_shape(x.shape(), &log_prob)?.cast_to_dt(dt)?.into_owned());
        }
        Ok(outputs)
    }
}

impl Op for Loss {
    fn name(&self) -> StaticName {
        if self.softmax { "SoftmaxCrossEntropyLoss" } else { "NegativeLogLikelihoodLoss" }.into()
    }

    op_as_typed_op!();
}

impl EvalOp for Loss {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let weight = if self.weighted { inputs.get(2).map(|w| &**w) } else { None };
        let outputs = self.compute(&inputs[0], &inputs[1], weight)?;
        Ok(outputs.into_iter().map(|t| t.into_tvalue()).collect())
    }
}

impl TypedOp for Loss {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let (x, target) = (inputs[0], inputs[1]);
        let dt = x.datum_type;
        if !dt.is_float() {
            bail!("{}: expected float16, float or double scores, got {dt:?}", self.label);
        }
        if !matches!(target.datum_type, DatumType::I32 | DatumType::I64) {
            bail!("{}: expected an int32 or int64 target, got {:?}", self.label, target.datum_type);
        }
        let weight = self.weighted.then(|| inputs.get(2)).flatten();
        if let Some(w) = weight.filter(|w| w.datum_type != dt) {
            bail!("{}: the weight is {:?}, the scores {dt:?}", self.label, w.datum_type);
        }
        let weight_dims = weight.map(|w| w.shape.to_tvec());
        check_shapes(&x.shape.to_tvec(), &target.shape.to_tvec(), weight_dims.as_deref())
            .map_err(|e| format_err!("{}: {e}", self.label))?;
        let loss = match self.reduction {
            Reduction::None => dt.fact(target.shape.clone()),
            _ => dt.scalar_fact(),
        };
        let mut facts = tvec!(loss);
        if self.log_prob {
            facts.push(dt.fact(x.shape.clone()));
        }
        Ok(facts)
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{Attr, attr, run_node};

    fn close(actual: &Tensor, expected: &[f64], tol: f64) {
        let actual = actual.cast_to::<f64>().unwrap();
        let actual = plain::<f64>(&actual).unwrap();
        assert_eq!(actual.len(), expected.len(), "{actual:?}, expected {expected:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert!((a - e).abs() <= tol * (1.0 + e.abs()), "{actual:?}, expected {expected:?}");
        }
    }

    /// Scores [2, 3, 2] and the onnx reference's answers (onnx 1.23's
    /// op_negative_log_likelihood_loss and op_softmax_cross_entropy_loss) for them.
    fn scores() -> Tensor {
        tensor3(&[[[0.1f32, -1.2], [2.0, 0.3], [-0.5, 0.7]], [[1.5, 0.2], [-0.3, -2.0], [0.9, 1.1]]])
    }

    fn case(op: &str, attrs: Vec<(&str, Attr)>, inputs: Vec<(&str, Tensor)>, outputs: &[&str]) -> TVec<Tensor> {
        let attrs = attrs.into_iter().map(|(name, value)| attr(name, value)).collect();
        run_node(op, attrs, &inputs, outputs).unwrap()
    }

    #[test]
    fn nll_reduces_with_weights_and_ignore_index_as_the_reference() {
        let target = tensor2(&[[2i64, 1], [0, 2]]);
        let weight = tensor1(&[0.2f32, 0.3, 0.5]);
        let nll = "NegativeLogLikelihoodLoss";
        let none =
            case(nll, vec![("reduction", Attr::Str("none"))], vec![("x", scores()), ("t", target.clone())], &["l"]);
        close(&none[0], &[0.5, -0.3, -1.5, -1.1], 1e-7);
        let inputs = vec![("x", scores()), ("t", target.clone()), ("w", weight.clone())];
        let mean = case(nll, vec![("ignore_index", Attr::Int(1))], inputs, &["l"]);
        // (0.5 * 0.5 + 0.2 * -1.5 + 0.5 * -1.1) / (0.5 + 0.2 + 0.5); target 1 is ignored.
        close(&mean[0], &[-0.5], 1e-7);
        let sum = case(nll, vec![("reduction", Attr::Str("sum"))], vec![("x", scores()), ("t", target)], &["l"]);
        close(&sum[0], &[-2.4], 1e-6);
    }

    #[test]
    fn softmax_cross_entropy_gives_loss_and_log_prob_as_the_reference() {
        let target = tensor2(&[[2i32, 1], [0, 2]]);
        let weight = tensor1(&[0.2f32, 0.3, 0.5]);
        let sce = "SoftmaxCrossEntropyLoss";
        let inputs = vec![("x", scores()), ("t", target.clone()), ("w", weight)];
        let out = case(sce, vec![("ignore_index", Attr::Int(0))], inputs, &["l", "p"]);
        close(&out[0], &[1.4155009], 1e-6);
        let log_prob = [
            -2.1083577,
            -2.4987755,
            -0.20835775,
            -0.99877524,
            -2.7083576,
            -0.5987754,
            -0.53889436,
            -1.2726794,
            -2.3388944,
            -3.4726794,
            -1.1388944,
            -0.37267944,
        ];
        close(&out[1], &log_prob, 1e-6);
        let out = case(sce, vec![("reduction", Attr::Str("none"))], vec![("x", scores()), ("t", target)], &["l"]);
        close(&out[0], &[2.7083576, 0.99877524, 0.53889436, 0.37267944], 1e-6);
    }

    #[test]
    fn every_float_type_and_nd_shapes() {
        let op = Loss {
            label: "l".into(),
            softmax: true,
            reduction: Reduction::Mean,
            ignore_index: None,
            weighted: false,
            log_prob: true,
        };
        let target = tensor2(&[[2i64, 1], [0, 2]]);
        let expected = 1.1546766;
        for dt in [DatumType::F16, DatumType::F32, DatumType::F64] {
            let x = scores().cast_to_dt(dt).unwrap().into_owned();
            let out = op.compute(&x, &target, None).unwrap();
            assert_eq!((out[0].datum_type(), out[1].datum_type()), (dt, dt));
            close(&out[0], &[expected], if dt == DatumType::F16 { 2e-3 } else { 1e-6 });
        }
        // [N, C, d1, d2]: the same scores with d1 split in two.
        let x = scores().into_shape(&[2, 3, 1, 2]).unwrap();
        let out = op.compute(&x, &target.into_shape(&[2, 1, 2]).unwrap(), None).unwrap();
        close(&out[0], &[expected], 1e-6);
        assert_eq!(out[1].shape(), &[2, 3, 1, 2]);
    }

    #[test]
    fn a_target_out_of_range_or_a_wrong_shape_is_a_coded_error() {
        let op = Loss {
            label: "l".into(),
            softmax: false,
            reduction: Reduction::Sum,
            ignore_index: Some(-1),
            weighted: false,
            log_prob: false,
        };
        let code = |e: TractError| crate::error::from_tract(&e, crate::Error::Runtime);
        assert!(op.compute(&scores(), &tensor2(&[[-1i64, 0], [2, -1]]), None).is_ok());
        for bad in [3i64, -2] {
            let err = code(op.compute(&scores(), &tensor2(&[[0i64, bad], [2, 0]]), None).unwrap_err());
            assert_eq!(err.code(), "E_INPUT_VALUE", "{err}");
            assert!(err.to_string().contains(&format!("target {bad} (element 1) is not a class in 0..3")), "{err}");
        }
        let err = code(op.compute(&scores(), &tensor1(&[0i64, 1]), None).unwrap_err());
        assert_eq!(err.code(), "E_INPUT_SHAPE", "{err}");
        let err = code(op.compute(&scores(), &tensor2(&[[0i64, 1], [1, 1]]), Some(&tensor1(&[1f32]))).unwrap_err());
        assert_eq!(err.code(), "E_INPUT_SHAPE", "{err}");
    }

    #[test]
    fn bad_attributes_and_types_are_refused_at_load() {
        let inputs = vec![("x", scores()), ("t", tensor2(&[[0i64, 1], [1, 1]]))];
        let err = run_node("NegativeLogLikelihoodLoss", vec![attr("reduction", Attr::Str("avg"))], &inputs, &["l"]);
        assert!(format!("{:?}", err.unwrap_err()).contains("reduction is 'avg'"));
        let err = run_node("NegativeLogLikelihoodLoss", vec![], &inputs, &["l", "p"]);
        assert!(format!("{:?}", err.unwrap_err()).contains("expected the output loss"));
        let inputs = vec![("x", scores()), ("t", tensor2(&[[0f32, 1.0], [1.0, 1.0]]))];
        let err = run_node("SoftmaxCrossEntropyLoss", vec![], &inputs, &["l"]);
        assert!(format!("{:?}", err.unwrap_err()).contains("expected an int32 or int64 target"));
    }
}
