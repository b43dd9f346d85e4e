//! The ai.onnx.ml operators this crate adds or replaces (tract lacks most of them, and its
//! Normalizer, CategoryMapper, LinearClassifier, LinearRegressor and TreeEnsembleClassifier
//! disagree with onnxruntime on some inputs or options). Each operator is one file: its ONNX
//! attributes are checked once at load into a typed struct, which is a tract `TypedOp`
//! evaluated natively. onnxruntime's CPU kernels are the reference for every numeric
//! detail, except where it contradicts the specification in a bug it has acknowledged (the
//! tree ensembles' post transforms; see their files).

mod array_feature_extractor;
mod binarizer;
mod category_mapper;
mod class_labels;
mod ensemble;
mod feature_vectorizer;
mod forest;
mod imputer;
mod label_encoder;
mod linear_classifier;
mod linear_regressor;
mod normalizer;
mod one_hot_encoder;
mod post_transform;
mod scaler;
mod svm_classifier;
mod svm_kernel;
mod svm_regressor;
mod tree_attributes;
mod tree_ensemble;
mod tree_ensemble_classifier;
mod tree_ensemble_regressor;
mod zip_map;

pub(crate) use zip_map::ZipMap;

use tract_onnx::model::OnnxOpRegister;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use crate::error::Error;

/// Adds this crate's ai.onnx.ml operators to `reg`, replacing tract's where it has one.
pub fn register(reg: &mut OnnxOpRegister) {
    reg.insert("ArrayFeatureExtractor", array_feature_extractor::build);
    reg.insert("Binarizer", binarizer::build);
    reg.insert("CategoryMapper", category_mapper::build);
    reg.insert("FeatureVectorizer", feature_vectorizer::build);
    reg.insert("Imputer", imputer::build);
    reg.insert("LabelEncoder", label_encoder::build);
    reg.insert("LinearClassifier", linear_classifier::build);
    reg.insert("LinearRegressor", linear_regressor::build);
    reg.insert("Normalizer", normalizer::build);
    reg.insert("OneHotEncoder", one_hot_encoder::build);
    reg.insert("Scaler", scaler::build);
    reg.insert("SVMClassifier", svm_classifier::build);
    reg.insert("SVMRegressor", svm_regressor::build);
    reg.insert("TreeEnsemble", tree_ensemble::build);
    reg.insert("TreeEnsembleClassifier", tree_ensemble_classifier::build);
    reg.insert("TreeEnsembleRegressor", tree_ensemble_regressor::build);
    reg.insert("ZipMap", zip_map::build);
}

pub(crate) type Built = TractResult<(Box<dyn InferenceOp>, Vec<String>)>;

/// A typed op as the inference model wants it: its shape and type rules are the op's own
/// `output_facts`, applied once every input's type and shape are known, so each operator
/// states its typing once.
#[derive(Debug, Clone)]
struct Typed {
    op: Box<dyn TypedOp>,
    outputs: usize,
}

pub(crate) fn typed(op: impl TypedOp, outputs: usize) -> Built {
    Ok((expand(Typed { op: Box::new(op), outputs }), vec![]))
}

impl Expansion for Typed {
    fn name(&self) -> StaticName {
        self.op.name()
    }

    fn nboutputs(&self) -> TractResult<usize> {
        Ok(self.outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        model.wire_node(prefix, self.op.clone(), inputs)
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_output_arity(outputs, self.outputs)?;
        s.given_all(inputs.iter().map(|i| &i.datum_type), move |s, types| {
            s.given_all(inputs.iter().map(|i| &i.shape), move |s, shapes| {
                let facts: Vec<TypedFact> = types.iter().zip(shapes).map(|(dt, shape)| dt.fact(shape)).collect();
                let refs: Vec<&TypedFact> = facts.iter().collect();
                for (proxy, fact) in outputs.iter().zip(self.op.output_facts(&refs)?) {
                    s.equals(&proxy.datum_type, fact.datum_type)?;
                    s.equals(&proxy.shape, fact.shape.to_tvec())?;
                }
                Ok(())
            })
        })
    }
}

/// "OneHotEncoder node 'enc'": how messages name a node, at load and at run time.
pub(crate) fn label(node: &NodeProto) -> String {
    format!("{} node '{}'", node.op_type, node.name)
}

/// A run-time refusal of a value the operator cannot take (an unseen category with
/// zeros=0, an index out of range), reported as `E_INPUT_VALUE`.
pub(crate) fn bad_value(op: &str, message: impl Into<String>) -> TractError {
    Error::InputValue { name: op.to_owned(), message: message.into() }.into()
}

/// A run-time refusal of an input's shape (a feature count that differs from the one the
/// attributes fix), reported as `E_INPUT_SHAPE`.
pub(crate) fn bad_shape(op: &str, message: impl Into<String>) -> TractError {
    Error::InputShape { name: op.to_owned(), message: message.into() }.into()
}

pub(crate) fn plain<T: Datum>(t: &Tensor) -> TractResult<&[T]> {
    t.try_as_plain_ram()?.as_slice::<T>()
}

/// The input as f32, the type every ai.onnx.ml kernel in onnxruntime computes in.
fn as_f32(t: &Tensor) -> TractResult<Vec<f32>> {
    Ok(match t.datum_type() {
        DatumType::F32 => plain::<f32>(t)?.to_vec(),
        DatumType::F64 => plain::<f64>(t)?.iter().map(|&x| x as f32).collect(),
        DatumType::I64 => plain::<i64>(t)?.iter().map(|&x| x as f32).collect(),
        DatumType::I32 => plain::<i32>(t)?.iter().map(|&x| x as f32).collect(),
        other => bail!("expected float, double, int64 or int32 data, got {other:?}"),
    })
}

fn is_numeric(dt: DatumType) -> bool {
    matches!(dt, DatumType::F32 | DatumType::F64 | DatumType::I64 | DatumType::I32)
}

/// (rows, features) of a [N, C] or [C] input, as onnxruntime reads the ai.onnx.ml inputs.
fn rows_and_features<D: Clone + From<usize>>(op: &str, shape: &[D]) -> TractResult<(D, D)> {
    match shape {
        [c] => Ok((D::from(1), c.clone())),
        [n, c] => Ok((n.clone(), c.clone())),
        _ => bail!("{op}: expected an input of rank 1 or 2, got rank {}", shape.len()),
    }
}

/// Checks at load that a [N, C] input has the C the attributes imply, when C is known.
fn check_features(op: &str, fact: &TypedFact, expected: usize) -> TractResult<TDim> {
    let dims: Vec<TDim> = fact.shape.iter().cloned().collect();
    let (n, c) = rows_and_features(op, &dims)?;
    if let Ok(c) = c.to_i64()
        && c != expected as i64
    {
        bail!("{op}: the attributes describe {expected} features, but the input has {c}");
    }
    Ok(n)
}

/// The same check at run time, where a symbolic feature count is finally known.
fn check_features_now(op: &str, shape: &[usize], expected: usize) -> TractResult<usize> {
    let (n, c) = rows_and_features(op, shape)?;
    if c != expected {
        return Err(bad_shape(op, format!("expected {expected} features per row, got {c}")));
    }
    Ok(n)
}
