//! FeatureVectorizer: concatenates its inputs' rows into one float row, each input cut or
//! zero-padded to its `inputdimensions` entry.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::{Built, as_f32, bad_shape, is_numeric, label, typed};

pub(super) fn build(_ctx: &ParsingContext, node: &NodeProto) -> Built {
    let dims: Vec<i64> = node.get_attr_opt_vec("inputdimensions")?.unwrap_or_default();
    let inputs = node.input.iter().filter(|i| !i.is_empty()).count();
    if dims.len() != inputs {
        return node.bail_attr(
            "inputdimensions",
            &format!("has {} entries for {inputs} inputs: expected one per input", dims.len()),
        );
    }
    if let Some(d) = dims.iter().find(|&&d| d < 0) {
        return node.bail_attr("inputdimensions", &format!("expected non-negative sizes, got {d}"));
    }
    typed(FeatureVectorizer { label: label(node), widths: dims.into_iter().map(|d| d as usize).collect() }, 1)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FeatureVectorizer {
    label: String,
    widths: Vec<usize>,
}

/// (rows, values per row) of one input: [C] is one row, [N, ...] N rows.
fn rows<D: Clone + From<usize> + std::ops::Mul<Output = D>>(shape: &[D]) -> (D, D) {
    match shape {
        [] => (D::from(1), D::from(1)),
        [c] => (D::from(1), c.clone()),
        [n, rest @ ..] => (n.clone(), rest.iter().cloned().fold(D::from(1), |a, b| a * b)),
    }
}

impl Op for FeatureVectorizer {
    fn name(&self) -> StaticName {
        "FeatureVectorizer".into()
    }

    op_as_typed_op!();
}

impl EvalOp for FeatureVectorizer {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let total: usize = self.widths.iter().sum();
        let n = inputs.first().map(|x| rows(x.shape()).0).unwrap_or(0);
        let mut y = vec![0f32; n.saturating_mul(total)];
        let mut offset = 0;
        for (k, (x, &width)) in inputs.iter().zip(&self.widths).enumerate() {
            let (rows_k, size) = rows(x.shape());
            if rows_k != n {
                return Err(bad_shape(&self.label, format!("input {k} has {rows_k} rows, but input 0 has {n}")));
            }
            let values = as_f32(x)?;
            let copied = size.min(width);
            for r in 0..n {
                let (src, dst) = (r * size, r * total + offset);
                if let (Some(from), Some(to)) = (values.get(src..src + copied), y.get_mut(dst..dst + copied)) {
                    to.copy_from_slice(from);
                }
            }
            offset += width;
        }
        Ok(tvec!(Tensor::from_shape(&[n, total], &y)?.into_tvalue()))
    }
}

impl TypedOp for FeatureVectorizer {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        if let Some(x) = inputs.iter().find(|x| !is_numeric(x.datum_type)) {
            bail!("{}: expected float, double, int64 or int32 inputs, got {:?}", self.label, x.datum_type);
        }
        let dims: Vec<TDim> = inputs.first().map(|x| x.shape.iter().cloned().collect()).unwrap_or_default();
        let (n, _) = rows(&dims);
        Ok(tvec!(f32::fact([n, self.widths.iter().sum::<usize>().into()])))
    }

    as_op!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_pads_and_refuses_rows_that_differ() {
        let op = FeatureVectorizer { label: "FeatureVectorizer node 'f'".into(), widths: vec![1, 3] };
        let ctx = EvalContext::out_of_plan();
        let a = tensor2(&[[1f32, 2.0], [3.0, 4.0]]).into_tvalue();
        let b = tensor2(&[[5i64], [6]]).into_tvalue();
        let y = op.eval(&ctx, tvec!(a.clone(), b)).unwrap();
        assert_eq!(*y[0], tensor2(&[[1f32, 5.0, 0.0, 0.0], [3.0, 6.0, 0.0, 0.0]]));
        let e = op.eval(&ctx, tvec!(a, tensor2(&[[5i64]]).into_tvalue())).unwrap_err();
        assert_eq!(crate::error::from_tract(&e, crate::Error::Runtime).code(), "E_INPUT_SHAPE");
    }
}
