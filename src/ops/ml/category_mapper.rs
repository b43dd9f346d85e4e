//! CategoryMapper: strings to int64 or int64 to strings through two parallel lists. The
//! direction follows the input's type; both defaults have the ONNX defaults (-1,
//! "_Unused"). tract's own version wants exactly one default given and picks the direction
//! from it, so it refuses valid models.

use std::collections::HashMap;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let strings: Vec<String> = node.get_attr_opt_vec("cats_strings")?.unwrap_or_default();
    let ints: Vec<i64> = node.get_attr_opt_vec("cats_int64s")?.unwrap_or_default();
    if strings.len() != ints.len() {
        return node.bail_attr(
            "cats_int64s",
            &format!(
                "has {} values, but cats_strings has {}: they must have the same length",
                ints.len(),
                strings.len()
            ),
        );
    }
    let default_int64 = node.get_attr_opt("default_int64")?.unwrap_or(-1);
    let default_string = node.get_attr_opt("default_string")?.unwrap_or_else(|| "_Unused".to_string());
    // Later pairs win over earlier ones with the same key, as in onnxruntime.
    let to_int = strings.iter().cloned().zip(ints.iter().copied()).collect();
    let to_string = ints.into_iter().zip(strings).collect();
    typed(CategoryMapper { label: label(node), to_int, to_string, default_int64, default_string }, 1)
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct CategoryMapper {
    label: String,
    to_int: HashMap<String, i64>,
    to_string: HashMap<i64, String>,
    default_int64: i64,
    default_string: String,
}

/// Equality only merges identical nodes; a NaN attribute just keeps them apart.
impl Eq for CategoryMapper {}

impl Op for CategoryMapper {
    fn name(&self) -> StaticName {
        "CategoryMapper".into()
    }

    op_as_typed_op!();
}

impl EvalOp for CategoryMapper {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let y = if x.datum_type() == DatumType::String {
            let y: Vec<i64> = plain::<String>(&x)?
                .iter()
                .map(|s| self.to_int.get(s).copied().unwrap_or(self.default_int64))
                .collect();
            Tensor::from_shape(x.shape(), &y)?
        } else {
            let y: Vec<String> = plain::<i64>(&x)?
                .iter()
                .map(|i| self.to_string.get(i).unwrap_or(&self.default_string).clone())
                .collect();
            tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(x.shape(), y)?.into_tensor()
        };
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for CategoryMapper {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        let out = match x.datum_type {
            DatumType::String => DatumType::I64,
            DatumType::I64 => DatumType::String,
            other => bail!("{}: expected string or int64 input, got {other:?}", self.label),
        };
        Ok(tvec!(out.fact(x.shape.iter())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_with_defaults() {
        let op = CategoryMapper {
            label: "c".into(),
            to_int: [("a".to_string(), 1i64)].into_iter().collect(),
            to_string: [(1i64, "a".to_string())].into_iter().collect(),
            default_int64: -1,
            default_string: "_Unused".into(),
        };
        let ctx = EvalContext::out_of_plan();
        let y = op.eval(&ctx, tvec!(tensor1(&["a".to_string(), "z".to_string()]).into_tvalue())).unwrap();
        assert_eq!(*y[0], tensor1(&[1i64, -1]));
        let y = op.eval(&ctx, tvec!(tensor1(&[2i64, 1]).into_tvalue())).unwrap();
        assert_eq!(*y[0], tensor1(&["_Unused".to_string(), "a".to_string()]));
    }
}
