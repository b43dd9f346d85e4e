//! ZipMap: pairs each row of class probabilities with the class labels. Its ONNX output is a
//! sequence of maps, which has no tensor form; here its tensor output is the probabilities
//! unchanged, and `Model` turns a graph output made by a ZipMap into a map output with the
//! keys this op holds.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::class_labels::ClassLabels;
use super::{Built, bad_shape, label, typed};
use crate::tensor::MapKeys;

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let keys = match ClassLabels::parse(node, "classlabels_int64s", "classlabels_strings")? {
        ClassLabels::Int64(v) => MapKeys::Int64(v),
        ClassLabels::String(v) => MapKeys::String(v),
    };
    typed(ZipMap { label: label(node), keys }, 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZipMap {
    label: String,
    keys: MapKeys,
}

impl ZipMap {
    /// The map keys, one per column of the probabilities.
    pub(crate) fn keys(&self) -> &MapKeys {
        &self.keys
    }
}

impl Op for ZipMap {
    fn name(&self) -> StaticName {
        "ZipMap".into()
    }

    op_as_typed_op!();
}

impl EvalOp for ZipMap {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = args_1!(inputs);
        let width = x.shape().last().copied().unwrap_or(0);
        if width != self.keys.len() {
            return Err(bad_shape(
                &self.label,
                format!("{width} probabilities per row for {} labels", self.keys.len()),
            ));
        }
        if x.rank() == 1 {
            return Ok(tvec!(x.into_tensor().into_shape(&[1, width])?.into_tvalue()));
        }
        Ok(tvec!(x))
    }
}

impl TypedOp for ZipMap {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = inputs[0];
        if x.datum_type != DatumType::F32 {
            bail!("{}: expected float probabilities, got {:?}", self.label, x.datum_type);
        }
        let dims: Vec<TDim> = x.shape.iter().cloned().collect();
        let (n, c) = super::rows_and_features(&self.label, &dims)?;
        if let Ok(c) = c.to_i64()
            && c != self.keys.len() as i64
        {
            bail!("{}: {c} probabilities per row for {} labels", self.label, self.keys.len());
        }
        Ok(tvec!(f32::fact([n, c])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_probabilities_through_and_checks_their_width() {
        let op = ZipMap { label: "ZipMap node 'z'".into(), keys: MapKeys::Int64(vec![0, 1]) };
        let ctx = EvalContext::out_of_plan();
        let y = op.eval(&ctx, tvec!(tensor1(&[0.25f32, 0.75]).into_tvalue())).unwrap();
        assert_eq!(*y[0], tensor2(&[[0.25f32, 0.75]]));
        let e = op.eval(&ctx, tvec!(tensor2(&[[1f32, 0.0, 0.0]]).into_tvalue())).unwrap_err();
        assert_eq!(crate::error::from_tract(&e, crate::Error::Runtime).code(), "E_INPUT_SHAPE");
    }
}
