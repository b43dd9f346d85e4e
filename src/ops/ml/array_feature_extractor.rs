//! ArrayFeatureExtractor: picks the given positions of the last axis (numbers or strings).
//! A 1-D input gives a [1, k] output, as in onnxruntime.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, bad_value, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    typed(ArrayFeatureExtractor { label: label(node) }, 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ArrayFeatureExtractor {
    label: String,
}

impl ArrayFeatureExtractor {
    fn extract<T: Datum + Clone>(&self, x: &Tensor, picks: &[usize], shape: &[usize]) -> TractResult<Tensor> {
        let values = plain::<T>(x)?;
        let width = x.shape().last().copied().unwrap_or(0);
        let mut out = Vec::with_capacity(values.len() / width.max(1) * picks.len());
        if width > 0 {
            for row in values.chunks(width) {
                for &p in picks {
                    out.push(row.get(p).cloned().ok_or_else(|| format_err!("index {p} out of range"))?);
                }
            }
        }
        Ok(tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, out)?.into_tensor())
    }
}

impl Op for ArrayFeatureExtractor {
    fn name(&self) -> StaticName {
        "ArrayFeatureExtractor".into()
    }

    op_as_typed_op!();
}

impl EvalOp for ArrayFeatureExtractor {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (x, indices) = args_2!(inputs);
        let width = x.shape().last().copied().unwrap_or(0);
        let indices = indices.cast_to::<i64>()?;
        let picks = plain::<i64>(&indices)?
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                usize::try_from(p).ok().filter(|&p| p < width).ok_or_else(|| {
                    bad_value(&self.label, format!("index {i} is {p}, outside the last axis of size {width}"))
                })
            })
            .collect::<TractResult<Vec<usize>>>()?;
        if picks.is_empty() {
            return Err(bad_value(&self.label, "no indices given"));
        }
        let mut shape = x.shape().to_vec();
        match shape.len() {
            1 => shape = vec![1, picks.len()],
            n => shape[n - 1] = picks.len(),
        }
        let y = match x.datum_type() {
            DatumType::F32 => self.extract::<f32>(&x, &picks, &shape)?,
            DatumType::F64 => self.extract::<f64>(&x, &picks, &shape)?,
            DatumType::I64 => self.extract::<i64>(&x, &picks, &shape)?,
            DatumType::I32 => self.extract::<i32>(&x, &picks, &shape)?,
            DatumType::String => self.extract::<String>(&x, &picks, &shape)?,
            other => bail!("{}: unsupported input type {other:?}", self.label),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for ArrayFeatureExtractor {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let (x, indices) = (inputs[0], inputs[1]);
        if !matches!(
            x.datum_type,
            DatumType::F32 | DatumType::F64 | DatumType::I64 | DatumType::I32 | DatumType::String
        ) {
            bail!("{}: expected float, double, int64, int32 or string data, got {:?}", self.label, x.datum_type);
        }
        if !matches!(indices.datum_type, DatumType::I64 | DatumType::I32) {
            bail!("{}: expected int64 indices, got {:?}", self.label, indices.datum_type);
        }
        let k: TDim = indices.shape.iter().fold(TDim::from(1), |a, b| a * b.clone());
        let mut shape: TVec<TDim> = x.shape.iter().cloned().collect();
        match shape.len() {
            0 => bail!("{}: the data must have at least one axis", self.label),
            1 => shape = tvec![1.into(), k],
            n => shape[n - 1] = k,
        }
        Ok(tvec!(x.datum_type.fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_last_axis_positions_and_refuses_out_of_range() {
        let op = ArrayFeatureExtractor { label: "ArrayFeatureExtractor node 'a'".into() };
        let ctx = EvalContext::out_of_plan();
        let x = tensor2(&[["a".to_string(), "b".to_string()], ["c".to_string(), "d".to_string()]]).into_tvalue();
        let y = op.eval(&ctx, tvec!(x.clone(), tensor1(&[1i64, 1]).into_tvalue())).unwrap();
        assert_eq!(*y[0], tensor2(&[["b".to_string(), "b".to_string()], ["d".to_string(), "d".to_string()]]));
        for bad in [2i64, -1] {
            let e = op.eval(&ctx, tvec!(x.clone(), tensor1(&[bad]).into_tvalue())).unwrap_err();
            assert_eq!(crate::error::from_tract(&e, crate::Error::Runtime).code(), "E_INPUT_VALUE");
        }
        let y = op.eval(&ctx, tvec!(tensor1(&[1f32, 2.0, 3.0]).into_tvalue(), tensor1(&[2i64]).into_tvalue())).unwrap();
        assert_eq!(*y[0], tensor2(&[[3f32]]));
    }
}
