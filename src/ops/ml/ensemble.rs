//! A forest at the precision its model gives (f32, or f64 when thresholds and weights come
//! as double tensors), run on an input tensor of any numeric type as onnxruntime runs it: a
//! double input goes through the trees in f64 whatever their attributes (an f32 forest is
//! widened once, on the first such input), integers are cast to the forest's type, and an
//! input of the forest's type is read in place.

use std::sync::{Arc, OnceLock};

use tract_onnx::tract_hir::internal::*;

use super::forest::{Aggregate, Forest, Real, Scores};
use super::{bad_shape, plain, rows_and_features};

#[derive(Debug, Clone)]
pub(super) enum Ensemble {
    F32(Arc<Forest<f32>>, Arc<OnceLock<Forest<f64>>>),
    F64(Arc<Forest<f64>>),
}

/// What an operator makes of the scores: its output tensors.
pub(super) trait Finish {
    fn finish<S: Real>(&self, scores: Scores<S>, rows: usize) -> TractResult<TVec<TValue>>;
}

impl Ensemble {
    pub fn f32(forest: Forest<f32>) -> Ensemble {
        Ensemble::F32(Arc::new(forest), Arc::new(OnceLock::new()))
    }

    /// The same trees (not merely equal ones: comparing forests would cost their size).
    pub fn same(&self, other: &Ensemble) -> bool {
        match (self, other) {
            (Ensemble::F32(a, _), Ensemble::F32(b, _)) => Arc::ptr_eq(a, b),
            (Ensemble::F64(a), Ensemble::F64(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    fn max_feature(&self) -> Option<usize> {
        match self {
            Ensemble::F32(f, _) => f.max_feature(),
            Ensemble::F64(f) => f.max_feature(),
        }
    }

    pub fn datum_type(&self) -> DatumType {
        match self {
            Ensemble::F32(..) => DatumType::F32,
            Ensemble::F64(_) => DatumType::F64,
        }
    }

    /// The batch dimension of a [N, C] or [C] input fact, refusing an element type not in
    /// `types` or a known C too small for the features the trees test.
    pub fn rows_of(&self, op: &str, x: &TypedFact, types: &[DatumType]) -> TractResult<TDim> {
        if !types.contains(&x.datum_type) {
            bail!("{op}: expected {} input, got {:?}", names(types), x.datum_type);
        }
        let dims: Vec<TDim> = x.shape.iter().cloned().collect();
        let (n, c) = rows_and_features(op, &dims)?;
        if let (Ok(c), Some(max)) = (c.to_i64(), self.max_feature())
            && c <= max as i64
        {
            bail!("{op}: the trees test feature {max}, but the input has {c} features");
        }
        Ok(n)
    }

    /// Evaluates the trees on every row of `x` and hands the scores to `finish`.
    pub fn run(&self, op: &str, x: &Tensor, aggregate: Aggregate, finish: &impl Finish) -> TractResult<TVec<TValue>> {
        let (rows, stride) = rows_and_features(op, x.shape())?;
        if let Some(max) = self.max_feature()
            && stride <= max
        {
            return Err(bad_shape(
                op,
                format!("expected at least {} features per row (the trees test feature {max}), got {stride}", max + 1),
            ));
        }
        match self {
            Ensemble::F32(f, wide) if x.datum_type() == DatumType::F64 => {
                run_forest(wide.get_or_init(|| f.widened()), x, rows, stride, aggregate, finish)
            }
            Ensemble::F32(f, _) => run_forest(f, x, rows, stride, aggregate, finish),
            Ensemble::F64(f) => run_forest(f, x, rows, stride, aggregate, finish),
        }
    }
}

fn run_forest<S: Real>(
    forest: &Forest<S>,
    x: &Tensor,
    rows: usize,
    stride: usize,
    aggregate: Aggregate,
    finish: &impl Finish,
) -> TractResult<TVec<TValue>> {
    let scores = match x.datum_type() {
        DatumType::F64 => forest.aggregate(plain::<f64>(x)?, stride, rows, aggregate),
        DatumType::F32 if !S::WIDE => forest.aggregate(plain::<f32>(x)?, stride, rows, aggregate),
        // An f32 forest meets f64 input only through `widened` (see `Ensemble::run`).
        DatumType::F32 => forest.aggregate(&converted::<f32, S>(x, |v| v as f64)?, stride, rows, aggregate),
        DatumType::I64 => forest.aggregate(&converted::<i64, S>(x, |v| v as f64)?, stride, rows, aggregate),
        DatumType::I32 => forest.aggregate(&converted::<i32, S>(x, |v| v as f64)?, stride, rows, aggregate),
        other => bail!("expected float, double, int64 or int32 data, got {other:?}"),
    };
    finish.finish(scores, rows)
}

/// `x` as the forest's type, through f64 (exact for integers up to 2^53).
fn converted<T: Datum + Copy, S: Real>(x: &Tensor, to_f64: fn(T) -> f64) -> TractResult<Vec<S>> {
    Ok(plain::<T>(x)?.iter().map(|&v| S::from_f64(to_f64(v))).collect())
}

fn names(types: &[DatumType]) -> String {
    let names: Vec<&str> = types
        .iter()
        .map(|t| match t {
            DatumType::F32 => "float",
            DatumType::F64 => "double",
            DatumType::I64 => "int64",
            DatumType::I32 => "int32",
            _ => "numeric",
        })
        .collect();
    names.join(", ")
}
