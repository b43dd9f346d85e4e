//! LabelEncoder: maps each key to its value, or to a default. Opset 1 has one list
//! (`classes_strings`) mapping strings to their positions and back; opsets 2 and later pair
//! `keys_*` with `values_*` lists of strings, int64s or floats, and opset 4 also takes them
//! as tensors (`keys_tensor`, `values_tensor`, `default_tensor`), which adds more element
//! types. Float keys compare as numbers (-0 matches 0) and a NaN key matches NaN inputs.

use std::collections::HashMap;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, label, plain, typed};

pub(super) fn build(ctx: &ParsingContext, node: &NodeProto) -> Built {
    let op = label(node);
    let classes: Option<Vec<String>> = node.get_attr_opt_vec("classes_strings")?;
    let tables = match classes {
        Some(classes) => {
            let default_int64: i64 = node.get_attr_opt("default_int64")?.unwrap_or(-1);
            let default_string: String = node.get_attr_opt("default_string")?.unwrap_or_else(|| "_Unused".into());
            let positions: Vec<i64> = (0..classes.len() as i64).collect();
            vec![
                // Later duplicates win, as in onnxruntime's opset-1 kernel.
                Table::new(&tensor1(&classes), tensor1(&positions), tensor0(default_int64), true)?,
                Table::new(&tensor1(&positions), tensor1(&classes), tensor0(default_string), true)?,
            ]
        }
        None => {
            let keys = list_or_tensor(ctx, node, "keys")?;
            let values = list_or_tensor(ctx, node, "values")?;
            if keys.len() != values.len() {
                return node.bail_attr(
                    "values",
                    &format!(
                        "has {} values for {} keys: keys and values must have the same length",
                        values.len(),
                        keys.len()
                    ),
                );
            }
            let default = default_value(ctx, node, values.datum_type())?;
            vec![Table::new(&keys, values, default, false)?]
        }
    };
    typed(LabelEncoder { label: op, tables }, 1)
}

/// `keys_strings`, `keys_int64s`, `keys_floats` or `keys_tensor` (likewise for values):
/// exactly one of them.
fn list_or_tensor(ctx: &ParsingContext, node: &NodeProto, prefix: &str) -> TractResult<Tensor> {
    let mut found: Vec<(String, Tensor)> = Vec::new();
    if let Some(v) = node.get_attr_opt_vec::<String>(&format!("{prefix}_strings"))? {
        found.push((format!("{prefix}_strings"), tensor1(&v)));
    }
    if let Some(v) = node.get_attr_opt_vec::<i64>(&format!("{prefix}_int64s"))? {
        found.push((format!("{prefix}_int64s"), tensor1(&v)));
    }
    if let Some(v) = node.get_attr_opt_vec::<f32>(&format!("{prefix}_floats"))? {
        found.push((format!("{prefix}_floats"), tensor1(&v)));
    }
    let tensor_name = format!("{prefix}_tensor");
    if let Some(t) = node.get_attr_opt::<&tract_onnx::pb::TensorProto>(&tensor_name)? {
        let t = ctx.load_tensor(t)?;
        if !supported(t.datum_type()) {
            return node
                .bail_attr(&tensor_name, &format!("element type {:?} is not a LabelEncoder type", t.datum_type()));
        }
        let len = t.len();
        found.push((tensor_name, t.into_shape(&[len])?));
    }
    match found.len() {
        1 => Ok(found.remove(0).1),
        0 => node.bail_attr(
            &format!("{prefix}_strings"),
            &format!("one of {prefix}_strings, {prefix}_int64s, {prefix}_floats or {prefix}_tensor is required"),
        ),
        _ => {
            let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
            node.bail_attr(names[0], &format!("only one of {} may be set", names.join(", ")))
        }
    }
}

fn supported(dt: DatumType) -> bool {
    matches!(dt, DatumType::String | DatumType::I64 | DatumType::I32 | DatumType::I16 | DatumType::F32 | DatumType::F64)
}

/// `default_tensor`, else the `default_*` attribute of the values' type, else the ONNX
/// default ("_Unused", -1, -0.0).
fn default_value(ctx: &ParsingContext, node: &NodeProto, dt: DatumType) -> TractResult<Tensor> {
    if let Some(t) = node.get_attr_opt::<&tract_onnx::pb::TensorProto>("default_tensor")? {
        let t = ctx.load_tensor(t)?;
        if t.len() != 1 {
            return node.bail_attr("default_tensor", &format!("expected one value, got {}", t.len()));
        }
        if t.datum_type() != dt {
            return node.bail_attr(
                "default_tensor",
                &format!("has type {:?}, but the values have type {dt:?}", t.datum_type()),
            );
        }
        return t.into_shape(&[]);
    }
    Ok(match dt {
        DatumType::String => {
            tensor0(node.get_attr_opt::<String>("default_string")?.unwrap_or_else(|| "_Unused".into()))
        }
        DatumType::I64 => tensor0(node.get_attr_opt::<i64>("default_int64")?.unwrap_or(-1)),
        DatumType::F32 => tensor0(node.get_attr_opt::<f32>("default_float")?.unwrap_or(-0.0)),
        other => Tensor::zero_scalar_dt(other)?,
    })
}

/// A key as the lookup compares it: numbers of every width as i64 or f64 bits, with one NaN
/// and one zero so that NaN finds NaN and -0 finds 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Str(String),
    Int(i64),
    Float(u64),
}

fn float_key(v: f64) -> Key {
    if v.is_nan() {
        Key::Float(f64::NAN.to_bits())
    } else if v == 0.0 {
        Key::Float(0f64.to_bits())
    } else {
        Key::Float(v.to_bits())
    }
}

fn keys_of(t: &Tensor) -> TractResult<Vec<Key>> {
    Ok(match t.datum_type() {
        DatumType::String => plain::<String>(t)?.iter().cloned().map(Key::Str).collect(),
        DatumType::I64 => plain::<i64>(t)?.iter().map(|&v| Key::Int(v)).collect(),
        DatumType::I32 => plain::<i32>(t)?.iter().map(|&v| Key::Int(v as i64)).collect(),
        DatumType::I16 => plain::<i16>(t)?.iter().map(|&v| Key::Int(v as i64)).collect(),
        DatumType::F32 => plain::<f32>(t)?.iter().map(|&v| float_key(v as f64)).collect(),
        DatumType::F64 => plain::<f64>(t)?.iter().map(|&v| float_key(v)).collect(),
        other => bail!("element type {other:?} is not a LabelEncoder type"),
    })
}

/// One direction of the mapping. Invariant: every index in `index` is within `values`, and
/// `default` is a scalar of the values' type.
#[derive(Debug, Clone, PartialEq)]
struct Table {
    key_type: DatumType,
    index: HashMap<Key, usize>,
    values: Tensor,
    default: Tensor,
}

impl Table {
    fn new(keys: &Tensor, values: Tensor, default: Tensor, last_wins: bool) -> TractResult<Table> {
        let mut index = HashMap::new();
        for (i, k) in keys_of(keys)?.into_iter().enumerate() {
            if last_wins {
                index.insert(k, i);
            } else {
                index.entry(k).or_insert(i);
            }
        }
        Ok(Table { key_type: keys.datum_type(), index, values, default })
    }

    fn map(&self, x: &Tensor) -> TractResult<Tensor> {
        fn gather<T: Datum + Clone>(
            table: &Table,
            positions: &[Option<usize>],
            shape: &[usize],
        ) -> TractResult<Tensor> {
            let values = plain::<T>(&table.values)?;
            let default = table.default.try_as_plain_ram()?.to_scalar::<T>()?;
            let out: Vec<T> =
                positions.iter().map(|p| p.and_then(|i| values.get(i)).unwrap_or(default).clone()).collect();
            Ok(tract_onnx::prelude::tract_ndarray::ArrayD::from_shape_vec(shape, out)?.into_tensor())
        }
        let positions: Vec<Option<usize>> = keys_of(x)?.iter().map(|k| self.index.get(k).copied()).collect();
        let shape = x.shape();
        match self.values.datum_type() {
            DatumType::String => gather::<String>(self, &positions, shape),
            DatumType::I64 => gather::<i64>(self, &positions, shape),
            DatumType::I32 => gather::<i32>(self, &positions, shape),
            DatumType::I16 => gather::<i16>(self, &positions, shape),
            DatumType::F32 => gather::<f32>(self, &positions, shape),
            DatumType::F64 => gather::<f64>(self, &positions, shape),
            other => bail!("element type {other:?} is not a LabelEncoder type"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct LabelEncoder {
    label: String,
    /// One table, or two for opset 1 (strings to positions, positions to strings).
    tables: Vec<Table>,
}

/// Equality only merges identical nodes; a NaN key just keeps them apart.
impl Eq for LabelEncoder {}

impl LabelEncoder {
    fn table(&self, dt: DatumType) -> TractResult<&Table> {
        self.tables.iter().find(|t| t.key_type == dt).ok_or_else(|| {
            let expected: Vec<String> = self.tables.iter().map(|t| format!("{:?}", t.key_type)).collect();
            format_err!("{}: the keys are {}, but the input is {dt:?}", self.label, expected.join(" or "))
        })
    }
}

impl Op for LabelEncoder {
    fn name(&self) -> StaticName {
        "LabelEncoder".into()
    }

    op_as_typed_op!();
}

impl EvalOp for LabelEncoder {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        Ok(tvec!(self.table(x.datum_type())?.map(&x)?.into_tvalue()))
    }
}

impl TypedOp for LabelEncoder {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        Ok(tvec!(self.table(x.datum_type)?.values.datum_type().fact(x.shape.iter())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_finds_nan_negative_zero_finds_zero_and_the_first_duplicate_wins() {
        let keys = tensor1(&[f32::NAN, 0.0, 2.0, 2.0]);
        let table = Table::new(&keys, tensor1(&[10i64, 20, 30, 40]), tensor0(-1i64), false).unwrap();
        let y = table.map(&tensor1(&[f32::NAN, -0.0, 2.0, 5.0])).unwrap();
        assert_eq!(y, tensor1(&[10i64, 20, 30, -1]));
    }
}
