//! What a model says about its inputs and outputs: names, element types and shapes whose
//! dimensions are either fixed or symbolic (a batch size, a sequence length).

use std::fmt;

use tract_onnx::prelude::{TDim, TypedFact};

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
}

impl TensorInfo {
    pub(crate) fn from_fact(name: String, fact: &TypedFact) -> Result<TensorInfo> {
        let dtype = DType::from_datum(fact.datum_type).ok_or_else(|| Error::UnsupportedOp {
            op: format!("element type {:?} of '{name}'", fact.datum_type),
            node: None,
        })?;
        let shape = fact.shape.iter().map(Dim::from).collect();
        Ok(TensorInfo { name, dtype, shape })
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
