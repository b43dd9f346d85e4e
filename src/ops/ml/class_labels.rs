//! Class labels of the ai.onnx.ml classifiers: int64 or string, never both.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum ClassLabels {
    Int64(Vec<i64>),
    String(Vec<String>),
}

impl ClassLabels {
    /// Exactly one of `ints` and `strings` must be a non-empty list.
    pub fn parse(node: &NodeProto, ints: &str, strings: &str) -> TractResult<ClassLabels> {
        let i: Option<Vec<i64>> = node.get_attr_opt_vec(ints)?;
        let s: Option<Vec<String>> = node.get_attr_opt_vec(strings)?;
        match (i.filter(|v| !v.is_empty()), s.filter(|v| !v.is_empty())) {
            (Some(i), None) => Ok(ClassLabels::Int64(i)),
            (None, Some(s)) => Ok(ClassLabels::String(s)),
            (Some(_), Some(_)) => node.bail_attr(ints, &format!("only one of {ints} and {strings} may be set")),
            (None, None) => node.bail_attr(ints, &format!("one of {ints} and {strings} is required")),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ClassLabels::Int64(v) => v.len(),
            ClassLabels::String(v) => v.len(),
        }
    }

    pub fn datum_type(&self) -> DatumType {
        match self {
            ClassLabels::Int64(_) => DatumType::I64,
            ClassLabels::String(_) => DatumType::String,
        }
    }

    /// The labels at `indices`, a 1-D tensor. Indices come from argmaxes over as many
    /// scores as there are labels, so they are in range; one that is not is an error.
    pub fn pick(&self, indices: &[usize]) -> TractResult<Tensor> {
        fn get<T: Clone>(v: &[T], i: usize) -> TractResult<T> {
            v.get(i).cloned().ok_or_else(|| format_err!("class index {i} out of range"))
        }
        Ok(match self {
            ClassLabels::Int64(v) => tensor1(&indices.iter().map(|&i| get(v, i)).collect::<TractResult<Vec<_>>>()?),
            ClassLabels::String(v) => tensor1(&indices.iter().map(|&i| get(v, i)).collect::<TractResult<Vec<_>>>()?),
        })
    }
}
