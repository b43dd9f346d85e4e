//! Normalizer: each row divided by its MAX, L1 or L2 norm, as float. onnxruntime's MAX is the
//! largest value, not the largest magnitude, and a row whose norm is zero is copied
//! unchanged; tract's own Normalizer differs on both (absolute max, epsilon clamp).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, as_f32, is_numeric, label, rows_and_features, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let norm: Option<String> = node.get_attr_opt("norm")?;
    let norm = match norm.as_deref().unwrap_or("MAX") {
        "MAX" => Norm::Max,
        "L1" => Norm::L1,
        "L2" => Norm::L2,
        other => return node.bail_attr("norm", &format!("unknown norm '{other}', expected MAX, L1 or L2")),
    };
    typed(Normalizer { label: label(node), norm }, 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Norm {
    Max,
    L1,
    L2,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Normalizer {
    label: String,
    norm: Norm,
}

impl Normalizer {
    fn normalize_row(&self, row: &mut [f32]) {
        match self.norm {
            Norm::Max => {
                let max = row.iter().copied().fold(f32::MIN, f32::max);
                if max != 0.0 {
                    row.iter_mut().for_each(|v| *v /= max);
                }
            }
            Norm::L1 => {
                let sum: f32 = row.iter().map(|v| v.abs()).sum();
                if sum != 0.0 {
                    row.iter_mut().for_each(|v| *v /= sum);
                }
            }
            Norm::L2 => {
                let sum: f32 = row.iter().map(|v| v * v).sum();
                if sum != 0.0 {
                    row.iter_mut()
                        .for_each(|v| *v = (*v * *v / sum).sqrt().copysign(if *v < 0.0 { -1.0 } else { 1.0 }));
                }
            }
        }
    }
}

impl Op for Normalizer {
    fn name(&self) -> StaticName {
        "Normalizer".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Normalizer {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let (_, width) = rows_and_features(&self.label, x.shape())?;
        let mut y = as_f32(&x)?;
        if width > 0 {
            y.chunks_mut(width).for_each(|row| self.normalize_row(row));
        }
        Ok(tvec!(Tensor::from_shape(x.shape(), &y)?.into_tvalue()))
    }
}

impl TypedOp for Normalizer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !is_numeric(x.datum_type) {
            bail!("{}: expected float, double, int64 or int32 input, got {:?}", self.label, x.datum_type);
        }
        let dims: Vec<TDim> = x.shape.iter().cloned().collect();
        rows_and_features(&self.label, &dims)?;
        Ok(tvec!(f32::fact(x.shape.iter())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(norm: Norm, row: &[f32]) -> Vec<f32> {
        let mut row = row.to_vec();
        Normalizer { label: "n".into(), norm }.normalize_row(&mut row);
        row
    }

    #[test]
    fn norms_follow_onnxruntime() {
        assert_eq!(run(Norm::Max, &[-4.0, 2.0]), vec![-2.0, 1.0]);
        assert_eq!(run(Norm::L1, &[-1.0, 3.0]), vec![-0.25, 0.75]);
        assert_eq!(run(Norm::L2, &[-3.0, 4.0]), vec![-0.6, 0.8]);
        assert_eq!(run(Norm::L2, &[0.0, 0.0]), vec![0.0, 0.0]);
    }
}
