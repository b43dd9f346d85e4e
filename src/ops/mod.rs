//! The operator registry (tract-onnx's operators plus the ones this crate adds), and the
//! optimisation that swaps this crate's leaner stand-ins into runnable models.

use tract_onnx::model::{OnnxOpRegister, ParsingContext};
use tract_onnx::pb::NodeProto;
use tract_onnx::prelude::{TractResult, TypedModel};
use tract_onnx::tract_hir::internal::TractErrorContext;

/// `Op` and `EvalOp` for an operator whose one output is `self.apply(input)` of its one input.
macro_rules! one_input_eval {
    ($op:ty, $name:literal) => {
        impl Op for $op {
            fn name(&self) -> StaticName {
                $name.into()
            }

            op_as_typed_op!();
        }

        impl EvalOp for $op {
            op_out_of_plan!();

            fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
                Ok(tvec!(self.apply(&inputs[0])?.into_tvalue()))
            }
        }
    };
}
pub(crate) use one_input_eval;

pub(crate) use declutter::declutter;

mod activations;
mod affine_grid;
mod attention;
mod axis_checked;
mod bitcast;
mod bitshift;
pub(crate) mod bool_reduce;
mod center_crop_pad;
mod col2im;
mod cumprod;
mod declutter;
pub(crate) mod fold_limit;
pub(crate) mod index_checks;
pub(crate) mod lean;
mod loss;
mod lp_pool;
mod matmul;
pub(crate) mod ml;
mod pad;
mod recurrent;
mod regex_full_match;
mod slice;
mod space_to_depth;
mod string_concat;
mod string_normalizer;
mod string_split;
#[cfg(test)]
mod testing;
mod tfidf_vectorizer;

/// The ONNX framework every model is parsed with.
pub fn framework() -> tract_onnx::Onnx {
    let mut onnx = tract_onnx::onnx();
    ml::register(&mut onnx.op_register);
    recurrent::register(&mut onnx.op_register);
    // tract answered these wrongly (SwiGLU it lacks), or hung on an axis below the rank
    // (OneHot and the normalisations).
    let reg = &mut onnx.op_register;
    reg.insert("LayerNormalization", axis_checked::normalization);
    reg.insert("RMSNormalization", axis_checked::normalization);
    reg.insert("SimplifiedLayerNormalization", axis_checked::normalization);
    reg.insert("BitShift", bitshift::build);
    reg.insert("Celu", activations::celu);
    reg.insert("OneHot", axis_checked::one_hot);
    reg.insert("SpaceToDepth", space_to_depth::build);
    reg.insert("Swish", activations::swish);
    reg.insert("SwiGLU", activations::swiglu);
    // tract refuses cases of these (the product of two vectors, Pad's wrap mode), or types
    // ones it cannot run (a Slice whose bounds it learns only at run time).
    reg.insert("MatMul", matmul::build);
    reg.insert("Pad", pad::build);
    reg.insert("Slice", slice::build);
    // tract lacks these.
    reg.insert("AffineGrid", affine_grid::build);
    reg.insert("Attention", attention::build);
    reg.insert("BitCast", bitcast::build);
    reg.insert("CenterCropPad", center_crop_pad::build);
    reg.insert("Col2Im", col2im::build);
    reg.insert("CumProd", cumprod::build);
    reg.insert("LpPool", lp_pool::build);
    reg.insert("NegativeLogLikelihoodLoss", loss::negative_log_likelihood);
    reg.insert("RegexFullMatch", regex_full_match::build);
    reg.insert("SoftmaxCrossEntropyLoss", loss::softmax_cross_entropy);
    reg.insert("StringConcat", string_concat::build);
    reg.insert("StringNormalizer", string_normalizer::build);
    reg.insert("StringSplit", string_split::build);
    reg.insert("TfIdfVectorizer", tfidf_vectorizer::build);
    onnx
}

/// Builds `node` as tract alone would, for an operator of which this crate takes only some
/// cases. tract's register (a map of its builders) is made anew for each such node.
fn tract_build(ctx: &ParsingContext, node: &NodeProto) -> ml::Built {
    let mut tract = OnnxOpRegister::default();
    tract_onnx::ops::register_all_ops(&mut tract);
    let build = tract.0.get(&node.op_type).with_context(|| format!("tract has no {}", node.op_type))?;
    build(ctx, node)
}

/// A decluttered model optimised for running: layers fused into this crate's operators,
/// tract's optimiser, then this crate's leaner stand-ins for the operators tract runs
/// slowest when built for size.
pub(crate) fn optimized(mut model: TypedModel) -> TractResult<TypedModel> {
    lean::fuse(&mut model)?;
    declutter(&mut model)?;
    model.optimize()?;
    lean::swap_in(&mut model)?;
    Ok(model)
}
