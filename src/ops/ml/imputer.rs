//! Imputer: replaces a marker value (NaN for scikit-learn's SimpleImputer) with a per-feature
//! or single imputed value. Float inputs use `imputed_value_floats` and
//! `replaced_value_float`, integer inputs the int64 pair. A NaN marker matches NaN inputs,
//! which `==` alone never would.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, bad_shape, label, plain, rows_and_features, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let floats: Vec<f32> = node.get_attr_opt_vec("imputed_value_floats")?.unwrap_or_default();
    let ints: Vec<i64> = node.get_attr_opt_vec("imputed_value_int64s")?.unwrap_or_default();
    let values = match (floats.is_empty(), ints.is_empty()) {
        (false, true) => {
            Imputed::Float { values: floats, replaced: node.get_attr_opt("replaced_value_float")?.unwrap_or(0.0) }
        }
        (true, false) => {
            Imputed::Int { values: ints, replaced: node.get_attr_opt("replaced_value_int64")?.unwrap_or(0) }
        }
        (false, false) => {
            return node.bail_attr(
                "imputed_value_floats",
                "only one of imputed_value_floats and imputed_value_int64s may be set",
            );
        }
        (true, true) => {
            return node
                .bail_attr("imputed_value_floats", "one of imputed_value_floats and imputed_value_int64s is required");
        }
    };
    typed(Imputer { label: label(node), values }, 1)
}

#[derive(Debug, Clone, PartialEq)]
enum Imputed {
    Float { values: Vec<f32>, replaced: f32 },
    Int { values: Vec<i64>, replaced: i64 },
}

/// Invariant: the imputed values are non-empty.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Imputer {
    label: String,
    values: Imputed,
}

impl Imputer {
    fn count(&self) -> usize {
        match &self.values {
            Imputed::Float { values, .. } => values.len(),
            Imputed::Int { values, .. } => values.len(),
        }
    }

    fn check(&self, dt: DatumType, features: Option<i64>) -> TractResult<()> {
        match (&self.values, dt) {
            (Imputed::Float { .. }, DatumType::F32 | DatumType::F64) => {}
            (Imputed::Int { .. }, DatumType::I64 | DatumType::I32) => {}
            (Imputed::Float { .. }, other) => {
                bail!("{}: imputed_value_floats needs float or double input, got {other:?}", self.label)
            }
            (Imputed::Int { .. }, other) => {
                bail!("{}: imputed_value_int64s needs int64 or int32 input, got {other:?}", self.label)
            }
        }
        match features {
            Some(c) if self.count() != 1 && c != self.count() as i64 => bail!(
                "{}: {} imputed values, but the input has {c} features (expected 1 or {c})",
                self.label,
                self.count()
            ),
            _ => Ok(()),
        }
    }

    fn impute<T: Datum + Copy + PartialEq>(
        x: &Tensor,
        values: &[T],
        replaced: T,
        is_nan: fn(T) -> bool,
    ) -> TractResult<Tensor> {
        let width = x.shape().last().copied().unwrap_or(1).max(1);
        let nan_marker = is_nan(replaced);
        let y: Vec<T> = plain::<T>(x)?
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v == replaced || (nan_marker && is_nan(v)) {
                    values.get(if values.len() == 1 { 0 } else { i % width }).copied().unwrap_or(v)
                } else {
                    v
                }
            })
            .collect();
        Tensor::from_shape(x.shape(), &y)
    }
}

/// Equality only merges identical nodes; a NaN attribute just keeps them apart.
impl Eq for Imputer {}

impl Op for Imputer {
    fn name(&self) -> StaticName {
        "Imputer".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Imputer {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let (_, c) = rows_and_features(&self.label, x.shape())?;
        self.check(x.datum_type(), Some(c as i64)).map_err(|e| bad_shape(&self.label, e.to_string()))?;
        let y = match (&self.values, x.datum_type()) {
            (Imputed::Float { values, replaced }, DatumType::F32) => Self::impute(&x, values, *replaced, f32::is_nan)?,
            (Imputed::Float { values, replaced }, DatumType::F64) => {
                let values: Vec<f64> = values.iter().map(|&v| v as f64).collect();
                Self::impute(&x, &values, *replaced as f64, f64::is_nan)?
            }
            (Imputed::Int { values, replaced }, DatumType::I64) => Self::impute(&x, values, *replaced, |_| false)?,
            (Imputed::Int { values, replaced }, _) => {
                // Values outside int32 cannot occur in an int32 input, nor be written to one.
                let values: Vec<i32> =
                    values.iter().map(|&v| v.clamp(i32::MIN as i64, i32::MAX as i64) as i32).collect();
                let replaced = i32::try_from(*replaced).unwrap_or(i32::MIN);
                Self::impute(&x, &values, replaced, |_| false)?
            }
            _ => bail!("{}: unsupported input type {:?}", self.label, x.datum_type()),
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for Imputer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        let dims: Vec<TDim> = x.shape.iter().cloned().collect();
        let (_, c) = rows_and_features(&self.label, &dims)?;
        self.check(x.datum_type, c.to_i64().ok())?;
        Ok(tvec!(x.datum_type.fact(x.shape.iter())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nan_marker_matches_nan_and_values_go_per_feature() {
        let x = tensor2(&[[f32::NAN, 1.0], [2.0, f32::NAN]]);
        let y = Imputer::impute(&x, &[10.0f32, 20.0], f32::NAN, f32::is_nan).unwrap();
        assert_eq!(y, tensor2(&[[10.0f32, 1.0], [2.0, 20.0]]));
        let y = Imputer::impute(&tensor1(&[0i64, 3, 0]), &[7i64], 0, |_| false).unwrap();
        assert_eq!(y, tensor1(&[7i64, 3, 7]));
    }
}
