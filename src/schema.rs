//! What a model says about its inputs and outputs: names, element types and shapes whose
//! dimensions are either fixed or symbolic (a batch size, a sequence length).

use std::fmt;

use tract_onnx::pb;
use tract_onnx::prelude::{DatumType, InferenceFact, TDim, TVec, TypedFact};
use tract_onnx::tract_hir::infer::Factoid;

use crate::dtype::DType;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    Fixed(usize),
    /// A symbol or an expression of symbols ("batch", "seq+1"), resolved at each prediction.
    Symbolic(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(s) => f.write_str(s),
        }
    }
}

impl From<&TDim> for Dim {
    fn from(d: &TDim) -> Self {
        match d.to_i64() {
            Ok(n) if n >= 0 => Dim::Fixed(n as usize),
            _ => Dim::Symbolic(d.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: DType,
    pub shape: Vec<Dim>,
    /// A value input: its values, not only its shape, decide how the graph is typed (a
    /// Reshape's shape, a Reduce's axes). Each new set of values costs a load.
    pub value: bool,
}

impl TensorInfo {
    /// A tensor that is not a value input.
    pub fn new(name: impl Into<String>, dtype: DType, shape: Vec<Dim>) -> TensorInfo {
        TensorInfo { name: name.into(), dtype, shape, value: false }
    }

    pub(crate) fn from_fact(name: String, fact: &TypedFact) -> Result<TensorInfo> {
        let dtype = DType::from_datum(fact.datum_type).ok_or_else(|| Error::UnsupportedOp {
            op: format!("element type {:?} of '{name}'", fact.datum_type),
            node: None,
        })?;
        let shape = fact.shape.iter().map(Dim::from).collect();
        Ok(TensorInfo::new(name, dtype, shape))
    }

    /// From what the graph declares, for a graph that cannot be typed yet.
    pub(crate) fn declared(name: String, fact: &InferenceFact) -> Result<TensorInfo> {
        let (Some(datum_type), Some(shape)) = (fact.datum_type.concretize(), fact.shape.concretize()) else {
            return Err(Error::ModelInvalid(format!("'{name}' has no declared element type and rank")));
        };
        TensorInfo::from_fact(name, &TypedFact::dt_shape(datum_type, shape))
    }

    /// From a graph output's declared type; an unnamed dimension is named after its axis.
    pub(crate) fn from_proto(output: &pb::ValueInfoProto) -> Result<TensorInfo> {
        use pb::tensor_shape_proto::dimension::Value;
        let name = output.name.clone();
        let Some(pb::type_proto::Value::TensorType(t)) = output.r#type.as_ref().and_then(|t| t.value.as_ref()) else {
            return Err(Error::ModelInvalid(format!("output '{name}' has no declared tensor type")));
        };
        let datum_type = pb::tensor_proto::DataType::try_from(t.elem_type)
            .ok()
            .and_then(|d| DatumType::try_from(d).ok())
            .ok_or_else(|| Error::ModelInvalid(format!("output '{name}' has element type {}", t.elem_type)))?;
        let dims = t.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or_default();
        let shape = dims
            .iter()
            .enumerate()
            .map(|(axis, d)| match &d.value {
                Some(Value::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as usize),
                Some(Value::DimParam(p)) if !p.is_empty() => Dim::Symbolic(p.clone()),
                _ => Dim::Symbolic(format!("{name}_dim{axis}")),
            })
            .collect();
        let info = TensorInfo::from_fact(name, &TypedFact::dt_shape(datum_type, TVec::<TDim>::new()))?;
        Ok(TensorInfo { shape, ..info })
    }

    /// "float32[batch,32]", as error messages and `inspect` show a tensor.
    pub fn signature(&self) -> String {
        let dims: Vec<String> = self.shape.iter().map(Dim::to_string).collect();
        format!("{}[{}]", self.dtype, dims.join(","))
    }
}

/// `'a' (float32[batch,4]), 'b' (int64[batch])`: the list an error shows when a name is wrong.
pub(crate) fn describe_all<'a>(infos: impl Iterator<Item = &'a TensorInfo>) -> String {
    let parts: Vec<String> = infos.map(|i| format!("'{}' ({})", i.name, i.signature())).collect();
    parts.join(", ")
}
