//! Scaler: `(x - offset) * scale` per feature, as float (scikit-learn's StandardScaler,
//! MinMaxScaler, ...).

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, as_f32, is_numeric, label, rows_and_features, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_default();
    let offset: Vec<f32> = node.get_attr_opt_vec("offset")?.unwrap_or_default();
    if scale.is_empty() {
        return node.bail_attr("scale", "expected a non-empty list of floats");
    }
    if offset.len() != scale.len() {
        return node.bail_attr(
            "offset",
            &format!("has {} values, but scale has {}: they must have the same length", offset.len(), scale.len()),
        );
    }
    typed(Scaler { label: label(node), offset, scale }, 1)
}

/// Invariant: `offset` and `scale` are non-empty and of equal length, 1 or the feature count.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scaler {
    label: String,
    offset: Vec<f32>,
    scale: Vec<f32>,
}

impl Scaler {
    fn check_width(&self, features: Option<i64>) -> TractResult<()> {
        match features {
            Some(c) if self.scale.len() != 1 && c != self.scale.len() as i64 => bail!(
                "{}: scale and offset have {} values, but the input has {c} features (expected 1 or {c})",
                self.label,
                self.scale.len()
            ),
            _ => Ok(()),
        }
    }

    fn scale(&self, x: &[f32], width: usize) -> Vec<f32> {
        let per_feature = self.scale.len() > 1;
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let j = if per_feature && width > 0 { i % width } else { 0 };
                let (o, s) = (self.offset.get(j).copied().unwrap_or(0.0), self.scale.get(j).copied().unwrap_or(1.0));
                (v - o) * s
            })
            .collect()
    }
}

/// Equality only merges identical nodes; a NaN attribute just keeps them apart.
impl Eq for Scaler {}

impl Op for Scaler {
    fn name(&self) -> StaticName {
        "Scaler".into()
    }

    op_as_typed_op!();
}

impl EvalOp for Scaler {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let (_, width) = rows_and_features(&self.label, x.shape())?;
        self.check_width(Some(width as i64)).map_err(|e| super::bad_shape(&self.label, e.to_string()))?;
        let y = self.scale(&as_f32(&x)?, width);
        Ok(tvec!(Tensor::from_shape(x.shape(), &y)?.into_tvalue()))
    }
}

impl TypedOp for Scaler {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if !is_numeric(x.datum_type) {
            bail!("{}: expected float, double, int64 or int32 input, got {:?}", self.label, x.datum_type);
        }
        let dims: Vec<TDim> = x.shape.iter().cloned().collect();
        let (_, c) = rows_and_features(&self.label, &dims)?;
        self.check_width(c.to_i64().ok())?;
        Ok(tvec!(f32::fact(x.shape.iter())))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_per_feature_or_with_one_value() {
        let per = Scaler { label: "s".into(), offset: vec![1.0, 2.0], scale: vec![2.0, 0.5] };
        assert_eq!(per.scale(&[1.0, 4.0, 3.0, 2.0], 2), vec![0.0, 1.0, 4.0, 0.0]);
        let one = Scaler { label: "s".into(), offset: vec![1.0], scale: vec![3.0] };
        assert_eq!(one.scale(&[1.0, 2.0, 3.0], 3), vec![0.0, 3.0, 6.0]);
        assert!(per.check_width(Some(3)).is_err());
        assert!(one.check_width(Some(3)).is_ok());
    }
}
