//! OneHotEncoder: each value becomes a row of zeros with a one at its category's position.
//! String inputs look up `cats_strings`; numeric inputs are truncated to int64 and look up
//! `cats_int64s`. A value of no category gives a zero row when `zeros` is 1 (the default,
//! scikit-learn's handle_unknown="ignore") and an `E_INPUT_VALUE` error when it is 0.

use std::collections::HashMap;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, bad_value, is_numeric, label, plain, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let ints: Vec<i64> = node.get_attr_opt_vec("cats_int64s")?.unwrap_or_default();
    let strings: Vec<String> = node.get_attr_opt_vec("cats_strings")?.unwrap_or_default();
    let zeros: i64 = node.get_attr_opt("zeros")?.unwrap_or(1);
    if zeros != 0 && zeros != 1 {
        return node.bail_attr("zeros", &format!("expected 0 or 1, got {zeros}"));
    }
    // Later duplicates win, as in onnxruntime's map.
    let categories = match (ints.is_empty(), strings.is_empty()) {
        (false, true) => Categories::Int64(ints.iter().enumerate().map(|(i, &c)| (c, i)).collect(), ints.len()),
        (true, false) => {
            Categories::String(strings.iter().enumerate().map(|(i, c)| (c.clone(), i)).collect(), strings.len())
        }
        (false, false) => return node.bail_attr("cats_int64s", "only one of cats_int64s and cats_strings may be set"),
        (true, true) => return node.bail_attr("cats_int64s", "one of cats_int64s and cats_strings is required"),
    };
    typed(OneHotEncoder { label: label(node), categories, zeros: zeros == 1 }, 1)
}

/// Category to position, and the number of positions (the list's length, duplicates included).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Categories {
    Int64(HashMap<i64, usize>, usize),
    String(HashMap<String, usize>, usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OneHotEncoder {
    label: String,
    categories: Categories,
    zeros: bool,
}

impl OneHotEncoder {
    fn width(&self) -> usize {
        match &self.categories {
            Categories::Int64(_, n) | Categories::String(_, n) => *n,
        }
    }

    /// Ones at the positions `lookup` gives; `describe` names a value without a category.
    fn encode(
        &self,
        count: usize,
        lookup: impl Fn(usize) -> Option<usize>,
        describe: impl Fn(usize) -> String,
    ) -> TractResult<Vec<f32>> {
        let width = self.width();
        let mut y = vec![0f32; count.saturating_mul(width)];
        for i in 0..count {
            match lookup(i) {
                Some(position) => {
                    if let Some(slot) = y.get_mut(i * width + position) {
                        *slot = 1.0;
                    }
                }
                None if self.zeros => {}
                None => {
                    return Err(bad_value(
                        &self.label,
                        format!(
                            "element {i} ({}) is not one of the {width} categories, and zeros=0 makes that an error",
                            describe(i)
                        ),
                    ));
                }
            }
        }
        Ok(y)
    }
}

fn as_i64(x: &Tensor) -> TractResult<Vec<i64>> {
    Ok(match x.datum_type() {
        DatumType::I64 => plain::<i64>(x)?.to_vec(),
        DatumType::I32 => plain::<i32>(x)?.iter().map(|&v| v as i64).collect(),
        DatumType::F32 => plain::<f32>(x)?.iter().map(|&v| v as i64).collect(),
        DatumType::F64 => plain::<f64>(x)?.iter().map(|&v| v as i64).collect(),
        other => bail!("unsupported input type {other:?}"),
    })
}

impl Op for OneHotEncoder {
    fn name(&self) -> StaticName {
        "OneHotEncoder".into()
    }

    op_as_typed_op!();
}

impl EvalOp for OneHotEncoder {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let y = match &self.categories {
            Categories::String(map, _) => {
                let s = plain::<String>(&x)?;
                self.encode(
                    s.len(),
                    |i| s.get(i).and_then(|v| map.get(v).copied()),
                    |i| format!("'{}'", s.get(i).map(String::as_str).unwrap_or("")),
                )?
            }
            Categories::Int64(map, _) => {
                let v = as_i64(&x)?;
                self.encode(
                    v.len(),
                    |i| v.get(i).and_then(|c| map.get(c).copied()),
                    |i| v.get(i).copied().unwrap_or(0).to_string(),
                )?
            }
        };
        let mut shape = x.shape().to_vec();
        shape.push(self.width());
        Ok(tvec!(Tensor::from_shape(&shape, &y)?.into_tvalue()))
    }
}

impl TypedOp for OneHotEncoder {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        match (&self.categories, x.datum_type) {
            (Categories::String(..), DatumType::String) => {}
            (Categories::Int64(..), dt) if is_numeric(dt) => {}
            (Categories::String(..), dt) => bail!("{}: cats_strings needs string input, got {dt:?}", self.label),
            (Categories::Int64(..), dt) => bail!("{}: cats_int64s needs numeric input, got {dt:?}", self.label),
        }
        if x.rank() > 2 {
            bail!("{}: expected an input of rank 1 or 2, got rank {}", self.label, x.rank());
        }
        let mut shape: TVec<TDim> = x.shape.iter().cloned().collect();
        shape.push(self.width().into());
        Ok(tvec!(f32::fact(shape)))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoder(zeros: bool) -> OneHotEncoder {
        let map = [("a".to_string(), 0), ("b".to_string(), 1)].into_iter().collect();
        OneHotEncoder { label: "OneHotEncoder node 'e'".into(), categories: Categories::String(map, 2), zeros }
    }

    #[test]
    fn unseen_categories_are_zero_rows_or_errors() {
        let x = tensor1(&["b".to_string(), "z".to_string()]);
        let y = encoder(true).eval(&EvalContext::out_of_plan(), tvec!(x.clone().into_tvalue())).unwrap();
        assert_eq!(*y[0], tensor2(&[[0f32, 1.0], [0.0, 0.0]]));
        let e = encoder(false).eval(&EvalContext::out_of_plan(), tvec!(x.into_tvalue())).unwrap_err();
        let err = crate::error::from_tract(&e, crate::Error::Runtime);
        assert_eq!(err.code(), "E_INPUT_VALUE");
        assert!(err.to_string().contains("element 1 ('z')"), "{err}");
    }
}
