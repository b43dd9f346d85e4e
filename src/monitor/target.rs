//! What a model predicts for each row, in the terms quality metrics and prediction drift
//! need: a class (with per-class scores when the model gives them) or a value. Found from
//! the model's outputs (scikit-learn's `label` + `probabilities`, a `[batch, K]` score
//! matrix, a `[batch]` regression output) unless the options name the outputs.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::schema::{Dim, TensorInfo};
use crate::tensor::{HostTensor, MapKeys, Values};

use super::classes::{ClassLabel, ClassTable};
use super::elements::{Element, element, integer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Classification,
    Regression,
}

impl Task {
    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetOptions {
    /// `None`: decided from the outputs.
    pub task: Option<Task>,
    pub label_output: Option<String>,
    pub score_output: Option<String>,
    /// For a classifier with one score column: the score at and above which it predicts 1.
    pub threshold: Option<f64>,
}

/// One row's prediction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Predicted {
    Class(u32),
    Value(f64),
    /// A class the table had no room for, or a row the outputs did not cover.
    Unknown,
}

/// What prediction drift watches: the predicted class, or a number (a regression value, or
/// a binary classifier's single score).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watched {
    Class,
    Number,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub task: Task,
    label: Option<usize>,
    scores: Option<usize>,
    value: Option<usize>,
    /// Score columns (K); 1 for a single positive-class score.
    pub width: usize,
    /// The class of each score column; `None` for a map output until its keys are seen.
    columns: Option<Vec<u32>>,
    threshold: f64,
    /// The output prediction drift watches, and how.
    pub watched_output: String,
    pub watched: Watched,
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::Float32 | DType::Float64 | DType::Float16)
}

fn is_label_type(d: DType) -> bool {
    d == DType::String || d.is_integer()
}

/// `[batch]` or `[batch, 1]`: one value per row.
fn one_per_row(info: &TensorInfo) -> bool {
    matches!(info.shape.as_slice(), [_] | [_, Dim::Fixed(1)])
}

/// `[batch, K]`: the number of score columns.
fn score_columns(info: &TensorInfo) -> Option<usize> {
    if info.dtype == DType::Map {
        return Some(0);
    }
    match info.shape.as_slice() {
        [_, Dim::Fixed(k)] if is_float(info.dtype) => Some(*k),
        _ => None,
    }
}

impl Target {
    /// The target of a model with `outputs`, or `None` when nothing in them is one prediction
    /// per row and the options do not say otherwise.
    pub fn detect(
        outputs: &[TensorInfo],
        metadata: &[(String, String)],
        options: &TargetOptions,
        classes: &mut ClassTable,
    ) -> Result<Option<Target>> {
        let named = |name: &Option<String>, what: &str| -> Result<Option<usize>> {
            let Some(name) = name else { return Ok(None) };
            outputs.iter().position(|o| &o.name == name).map(Some).ok_or_else(|| {
                let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                Error::InvalidOption(format!(
                    "monitoring.{what} names '{name}', but the model's outputs are {}",
                    names.join(", ")
                ))
            })
        };
        let label_named = named(&options.label_output, "labelOutput")?;
        let score_named = named(&options.score_output, "scoreOutput")?;
        let threshold = options.threshold.unwrap_or(0.5);
        let find = |f: &dyn Fn(&TensorInfo) -> bool| outputs.iter().position(f);

        if options.task == Some(Task::Regression) {
            let value = score_named.or_else(|| find(&|o| is_float(o.dtype) && one_per_row(o))).ok_or_else(|| {
                Error::InvalidOption(
                    "monitoring.task is 'regression', but no output is one number per row ([batch] or [batch, 1])"
                        .into(),
                )
            })?;
            if !one_per_row(&outputs[value]) || !is_float(outputs[value].dtype) {
                return Err(Error::InvalidOption(format!(
                    "monitoring.scoreOutput '{}' must be one number per row for a regression",
                    outputs[value].name
                )));
            }
            return Ok(Some(Target::regression(value, &outputs[value])));
        }
        let label = label_named.or_else(|| find(&|o| is_label_type(o.dtype) && one_per_row(o)));
        let scores = score_named.or_else(|| find(&|o| score_columns(o).is_some_and(|k| k != 1)));
        if let Some(i) = label_named
            && !(is_label_type(outputs[i].dtype) && one_per_row(&outputs[i]))
        {
            return Err(Error::InvalidOption(format!(
                "monitoring.labelOutput '{}' must be one integer or string per row",
                outputs[i].name
            )));
        }
        if let Some(i) = score_named
            && score_columns(&outputs[i]).is_none()
        {
            return Err(Error::InvalidOption(format!(
                "monitoring.scoreOutput '{}' must be a [batch, classes] float tensor or a map",
                outputs[i].name
            )));
        }
        let single_score = find(&|o| is_float(o.dtype) && one_per_row(o));
        declare_classes(metadata, label.map(|l| &outputs[l]), classes);
        match (label, scores, single_score) {
            (Some(l), scores, _) => {
                let (width, columns) = match scores {
                    Some(s) => Target::columns_of(&outputs[s], Some(&outputs[l]), metadata, classes),
                    None => (0, Some(Vec::new())),
                };
                let (watched_output, watched) = (outputs[l].name.clone(), Watched::Class);
                Ok(Some(Target { task: Task::Classification, label: Some(l), scores, value: None, width, columns, threshold, watched_output, watched }))
            }
            (None, Some(s), _) => {
                let (width, columns) = Target::columns_of(&outputs[s], None, metadata, classes);
                let (watched_output, watched) = (outputs[s].name.clone(), Watched::Class);
                Ok(Some(Target { task: Task::Classification, label: None, scores: Some(s), value: None, width, columns, threshold, watched_output, watched }))
            }
            (None, None, Some(v)) if options.task == Some(Task::Classification) => {
                // One score per row: the probability of class 1.
                let zero = classes.int(0);
                let one = classes.int(1);
                let columns = zero.and(one).map(|one| vec![one]);
                let (watched_output, watched) = (outputs[v].name.clone(), Watched::Number);
                Ok(Some(Target { task: Task::Classification, label: None, scores: Some(v), value: None, width: 1, columns, threshold, watched_output, watched }))
            }
            (None, None, Some(v)) => Ok(Some(Target::regression(v, &outputs[v]))),
            (None, None, None) if options.task.is_some() => Err(Error::InvalidOption(
                "monitoring.task is 'classification', but no output is a label per row or a [batch, classes] score matrix".into(),
            )),
            (None, None, None) => Ok(None),
        }
    }

    fn regression(value: usize, info: &TensorInfo) -> Target {
        Target {
            task: Task::Regression,
            label: None,
            scores: None,
            value: Some(value),
            width: 0,
            columns: Some(Vec::new()),
            threshold: 0.5,
            watched_output: info.name.clone(),
            watched: Watched::Number,
        }
    }

    /// The score columns' count and classes. Columns of a tensor are the classes 0..K−1
    /// (scikit-learn's order for integer labels) unless the labels are strings, when the
    /// `class_labels` metadata names them; a map's keys are read at the first prediction.
    fn columns_of(
        scores: &TensorInfo,
        label: Option<&TensorInfo>,
        metadata: &[(String, String)],
        classes: &mut ClassTable,
    ) -> (usize, Option<Vec<u32>>) {
        let Some(k) = score_columns(scores).filter(|&k| k > 0) else { return (0, None) };
        let string_labels = label.is_some_and(|l| l.dtype == DType::String);
        let columns = if string_labels {
            let names: Vec<&str> = metadata
                .iter()
                .find(|(key, _)| key == "class_labels")
                .map(|(_, v)| v.split(',').map(str::trim).collect())
                .unwrap_or_default();
            if names.len() == k { names.iter().map(|n| classes.text(n)).collect() } else { None }
        } else {
            (0..k as i64).map(|i| classes.int(i)).collect()
        };
        (if columns.is_some() { k } else { 0 }, columns)
    }

    /// The class of each score column, once known.
    pub fn columns(&self) -> Option<&[u32]> {
        self.columns.as_deref()
    }

    /// Each row's prediction into `predicted` and, when the model gives per-class scores,
    /// `width` scores per row into `scores` (both cleared first). Returns the rows read.
    pub fn extract(
        &mut self,
        outputs: &[(String, HostTensor)],
        classes: &mut ClassTable,
        predicted: &mut Vec<Predicted>,
        scores: &mut Vec<f32>,
    ) -> usize {
        predicted.clear();
        scores.clear();
        if let Some(s) = self.scores.and_then(|s| outputs.get(s)) {
            self.read_scores(&s.1, classes, scores);
        }
        if let Some((_, t)) = self.label.and_then(|l| outputs.get(l)) {
            for i in 0..t.values.len() {
                let class = match (integer(&t.values, i), element(&t.values, i, false)) {
                    (Some(v), _) => classes.int(v),
                    (None, Element::Text(s)) => classes.text(s),
                    _ => None,
                };
                predicted.push(class.map_or(Predicted::Unknown, Predicted::Class));
            }
        } else if let Some((_, t)) = self.value.and_then(|v| outputs.get(v)) {
            for i in 0..t.values.len() {
                predicted.push(match element(&t.values, i, false) {
                    Element::Number(x) => Predicted::Value(x),
                    _ => Predicted::Unknown,
                });
            }
        } else if let Some(columns) = self.columns.as_deref().filter(|_| self.width > 0) {
            // Classes from the scores: the best column, or the threshold for a single score.
            for row in scores.chunks(self.width) {
                let column = if self.width == 1 {
                    (row[0] as f64 >= self.threshold) as usize
                } else {
                    row.iter()
                        .enumerate()
                        .fold((0, f32::NEG_INFINITY), |best, (j, &p)| if p > best.1 { (j, p) } else { best })
                        .0
                };
                let class = if self.width == 1 { classes.int(column as i64) } else { columns.get(column).copied() };
                predicted.push(class.map_or(Predicted::Unknown, Predicted::Class));
            }
        }
        if self.width > 0 && scores.len() != predicted.len() * self.width {
            // Scores that do not line up with the rows are of no use to anything.
            scores.clear();
        }
        predicted.len()
    }

    fn read_scores(&mut self, t: &HostTensor, classes: &mut ClassTable, scores: &mut Vec<f32>) {
        match &t.values {
            Values::Map { keys, probabilities } => {
                if self.columns.is_none() {
                    let columns: Option<Vec<u32>> = match keys {
                        MapKeys::String(k) => k.iter().map(|s| classes.text(s)).collect(),
                        MapKeys::Int64(k) => k.iter().map(|&v| classes.int(v)).collect(),
                    };
                    self.width = columns.as_ref().map_or(0, Vec::len);
                    self.columns = columns;
                }
                if keys.len() == self.width {
                    scores.extend_from_slice(probabilities);
                }
            }
            values => {
                if self.width == 0 {
                    return;
                }
                for i in 0..values.len() {
                    if let Element::Number(x) = element(values, i, false) {
                        scores.push(x as f32);
                    }
                }
            }
        }
    }
}

/// The classes a model declares in its `class_labels` metadata. With string labels the names
/// are the labels; with integer labels and names such as `setosa`, label `i` is the `i`-th
/// name, and feedback may use either. Names that are all integers are left alone: they may be
/// the labels' values (scikit-learn's classes 1, 2, 3) or their positions.
fn declare_classes(metadata: &[(String, String)], label: Option<&TensorInfo>, classes: &mut ClassTable) {
    let Some((_, names)) = metadata.iter().find(|(key, _)| key == "class_labels") else { return };
    let names: Vec<&str> = names.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
    if names.is_empty() {
        return;
    }
    if names.iter().all(|n| n.parse::<i64>().is_ok()) {
        return;
    }
    let string_labels = label.is_some_and(|l| l.dtype == DType::String);
    let declared = names
        .iter()
        .enumerate()
        .map(|(i, n)| ClassLabel { text: n.to_string(), int: (!string_labels).then_some(i as i64) })
        .collect();
    classes.declare(declared);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, dtype: DType, shape: &[Dim]) -> TensorInfo {
        TensorInfo::new(name, dtype, shape.to_vec())
    }
    fn batch() -> Dim {
        Dim::Symbolic("batch".into())
    }

    #[test]
    fn detects_labels_scores_and_values() {
        let mut classes = ClassTable::new(100);
        let sk =
            [info("label", DType::Int64, &[batch()]), info("probabilities", DType::Float32, &[batch(), Dim::Fixed(3)])];
        let mut t = Target::detect(&sk, &[], &TargetOptions::default(), &mut classes).unwrap().unwrap();
        assert_eq!((t.task, t.width, t.watched), (Task::Classification, 3, Watched::Class));
        let outputs = vec![
            ("label".to_string(), HostTensor::new(vec![2], Values::Int64(vec![2, 0]))),
            (
                "probabilities".to_string(),
                HostTensor::new(vec![2, 3], Values::Float32(vec![0.1, 0.2, 0.7, 0.8, 0.1, 0.1])),
            ),
        ];
        let (mut predicted, mut scores) = (Vec::new(), Vec::new());
        assert_eq!(t.extract(&outputs, &mut classes, &mut predicted, &mut scores), 2);
        assert_eq!(predicted, [Predicted::Class(classes.int(2).unwrap()), Predicted::Class(classes.int(0).unwrap())]);
        assert_eq!(scores.len(), 6);

        let reg = [info("variable", DType::Float32, &[batch(), Dim::Fixed(1)])];
        let t = Target::detect(&reg, &[], &TargetOptions::default(), &mut classes).unwrap().unwrap();
        assert_eq!((t.task, t.watched), (Task::Regression, Watched::Number));

        let binary = TargetOptions { task: Some(Task::Classification), threshold: Some(0.3), ..Default::default() };
        let mut t = Target::detect(&reg, &[], &binary, &mut classes).unwrap().unwrap();
        let outputs = vec![("variable".to_string(), HostTensor::new(vec![3, 1], Values::Float32(vec![0.2, 0.3, 0.9])))];
        t.extract(&outputs, &mut classes, &mut predicted, &mut scores);
        let (zero, one) = (classes.int(0).unwrap(), classes.int(1).unwrap());
        assert_eq!(predicted, [Predicted::Class(zero), Predicted::Class(one), Predicted::Class(one)]);
        assert_eq!(scores, [0.2, 0.3, 0.9]);

        let topk = [info("top_items", DType::Int64, &[batch(), Dim::Fixed(10)])];
        assert!(Target::detect(&topk, &[], &TargetOptions::default(), &mut classes).unwrap().is_none());
        let bad = TargetOptions { label_output: Some("nope".into()), ..Default::default() };
        let err = Target::detect(&sk, &[], &bad, &mut classes).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidOption(m) if m.contains("'nope'") && m.contains("probabilities")),
            "{err}"
        );
    }

    #[test]
    fn string_labels_take_their_columns_from_class_labels_and_maps_from_their_keys() {
        let mut classes = ClassTable::new(100);
        let outs = [info("label", DType::String, &[batch()]), info("probabilities", DType::Map, &[batch()])];
        let mut t = Target::detect(&outs, &[], &TargetOptions::default(), &mut classes).unwrap().unwrap();
        assert_eq!(t.columns(), None);
        let outputs = vec![
            ("label".to_string(), HostTensor::new(vec![1], Values::String(vec!["b".into()]))),
            (
                "probabilities".to_string(),
                HostTensor::new(
                    vec![1],
                    Values::Map { keys: MapKeys::String(vec!["a".into(), "b".into()]), probabilities: vec![0.4, 0.6] },
                ),
            ),
        ];
        let (mut predicted, mut scores) = (Vec::new(), Vec::new());
        t.extract(&outputs, &mut classes, &mut predicted, &mut scores);
        assert_eq!(t.columns().unwrap(), [classes.text("a").unwrap(), classes.text("b").unwrap()]);
        assert_eq!(predicted, [Predicted::Class(classes.text("b").unwrap())]);
        assert_eq!(scores, [0.4, 0.6]);

        let tensor = [info("label", DType::String, &[batch()]), info("p", DType::Float32, &[batch(), Dim::Fixed(2)])];
        let meta = [("class_labels".to_string(), "no, yes".to_string())];
        let t = Target::detect(&tensor, &meta, &TargetOptions::default(), &mut classes).unwrap().unwrap();
        assert_eq!(t.columns().unwrap(), [classes.text("no").unwrap(), classes.text("yes").unwrap()]);
    }
}
