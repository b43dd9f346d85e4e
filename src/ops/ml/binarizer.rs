//! Binarizer: 1 where `x > threshold`, else 0, in the input's type. onnxruntime refuses NaN
//! inputs rather than guess which side of the threshold they fall; so does this.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, bad_value, is_numeric, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let threshold: f32 = node.get_attr_opt("threshold")?.unwrap_or(0.0);
    typed(Binarizer { label: label(node), threshold }, 1)
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Binarizer {
    label: String,
    threshold: f32,
}

impl Binarizer {
    fn binarize<T: Datum + Copy>(&self, x: &Tensor, one: T, zero: T, to_f64: fn(T) -> f64) -> TractResult<Tensor> {
        let threshold = self.threshold as f64;
        let y = plain::<T>(x)?
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let v = to_f64(v);
                if v.is_nan() {
                    Err(bad_value(&self.label, format!("element {i} is NaN, which cannot be binarized")))
                } else {
                    Ok(if v > threshold { one } else { zero })
                }
            })
            .collect::<TractResult<Vec<T>>>()?;
        Tensor::from_shape(x.shape(), &y)
    }
}

/// Equality only merges identical nodes; a NaN attribute just keeps them apart.
impl Eq for Binarizer {}

impl Op for Binarizer {
    fn name(&self) -> StaticName {
        "Binarizer".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Binarizer {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let y = match x.datum_type() {
            // The comparison happens in f32 for float input, as onnxruntime's does.
            DatumType::F32 => self.binarize::<f32>(&x, 1.0, 0.0, |v| v as f64)?,
            DatumType::F64 => self.binarize::<f64>(&x, 1.0, 0.0, |v| v)?,
            DatumType::I64 => self.binarize::<i64>(&x, 1, 0, |v| v as f64)?,
            DatumType::I32 => self.binarize::<i32>(&x, 1, 0, |v| v as f64)?,
            other => bail!("{}: unsupported input type {other:?}", self.label),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for Binarizer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !is_numeric(x.datum_type) {
            bail!("{}: expected float, double, int64 or int32 input, got {:?}", self.label, x.datum_type);
        }
        Ok(tvec!(x.datum_type.fact(x.shape.iter())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictly_greater_is_one_and_nan_is_refused() {
        let op = Binarizer { label: "b".into(), threshold: 0.5 };
        let y = op.binarize::<f32>(&tensor1(&[0.5f32, 0.6, -1.0]), 1.0, 0.0, |v| v as f64).unwrap();
        assert_eq!(y, tensor1(&[0f32, 1.0, 0.0]));
        let e = op.binarize::<f32>(&tensor1(&[1.0f32, f32::NAN]), 1.0, 0.0, |v| v as f64).unwrap_err();
        let err = crate::error::from_tract(&e, crate::Error::Runtime);
        assert_eq!(err.code(), "E_INPUT_VALUE");
        assert!(err.to_string().contains("element 1 is NaN"), "{err}");
    }
}
