//! Model quality from ground truth: feedback joined to predictions lands in a sliding window
//! of the last `window` labelled rows, and the metrics are computed from that window when
//! asked for (classifiers: accuracy, precision, recall, F1, confusion matrix, ROC AUC;
//! regressors: MAE and RMSE). Memory: the window, fixed at creation.

use serde::Serialize;

use super::classes::ClassTable;
use super::classification::{self, Averages};
use super::pending::Truth;
use super::target::{Predicted, Task};

#[derive(Debug, Clone, Copy)]
struct Labelled {
    truth: Truth,
    predicted: Predicted,
}

#[derive(Debug, Clone)]
pub struct Quality {
    task: Task,
    capacity: usize,
    width: usize,
    rows: Vec<Labelled>,
    scores: Vec<f32>,
    /// Rows ever labelled; the newest is at (labelled − 1) % capacity.
    labelled: u64,
}

impl Quality {
    pub fn new(task: Task, capacity: usize, width: usize) -> Self {
        Quality { task, capacity: capacity.max(1), width, rows: Vec::new(), scores: Vec::new(), labelled: 0 }
    }

    pub fn push(&mut self, truth: Truth, predicted: Predicted, scores: &[f32]) {
        let row = Labelled { truth, predicted };
        let slot = (self.labelled % self.capacity as u64) as usize;
        let row_scores = scores.iter().copied().chain(std::iter::repeat(f32::NAN)).take(self.width);
        if slot == self.rows.len() {
            self.rows.push(row);
            self.scores.extend(row_scores);
        } else {
            self.rows[slot] = row;
            let at = slot * self.width;
            for (s, v) in self.scores[at..at + self.width].iter_mut().zip(row_scores) {
                *s = v;
            }
        }
        self.labelled += 1;
    }

    pub fn footprint(&self) -> (usize, usize) {
        (self.rows.len(), self.scores.len())
    }

    /// The metrics of the window; `columns` are the classes of the score columns.
    pub fn report(&self, classes: &ClassTable, columns: Option<&[u32]>) -> QualityReport {
        let mut report = QualityReport {
            task: self.task.name(),
            window: self.capacity,
            rows: self.rows.len(),
            labelled_total: self.labelled,
            ..QualityReport::default()
        };
        match self.task {
            Task::Regression => {
                let errors: Vec<f64> = self
                    .rows
                    .iter()
                    .filter_map(|r| match (r.truth, r.predicted) {
                        (Truth::Value(t), Predicted::Value(p)) => Some(p - t),
                        _ => None,
                    })
                    .collect();
                if !errors.is_empty() {
                    let n = errors.len() as f64;
                    report.mae = Some(errors.iter().map(|e| e.abs()).sum::<f64>() / n);
                    report.rmse = Some((errors.iter().map(|e| e * e).sum::<f64>() / n).sqrt());
                    report.mean_error = Some(errors.iter().sum::<f64>() / n);
                }
            }
            Task::Classification => {
                let pairs: Vec<(u32, u32)> = self
                    .rows
                    .iter()
                    .filter_map(|r| match (r.truth, r.predicted) {
                        (Truth::Class(t), Predicted::Class(p)) => Some((t, p)),
                        _ => None,
                    })
                    .collect();
                if pairs.is_empty() {
                    return report;
                }
                let present = classes.sorted(pairs.iter().flat_map(|&(t, p)| [t, p]).collect());
                let m = classification::metrics(&pairs, &present);
                report.classes =
                    m.classes.iter().map(|&c| classes.get(c).map(|l| l.text.clone()).unwrap_or_default()).collect();
                report.roc_auc = columns.and_then(|c| self.roc_auc(c));
                report.accuracy = Some(m.accuracy);
                report.macro_avg = Some(m.macro_avg);
                report.weighted_avg = Some(m.weighted_avg);
                report.precision = m.precision;
                report.recall = m.recall;
                report.f1 = m.f1;
                report.support = m.support;
                report.confusion = m.confusion;
            }
        }
        report
    }

    /// Binary: the AUC of the positive column's score (the second column, or the single
    /// score). Multiclass: the mean of one-vs-rest AUCs over the columns whose class has both
    /// positives and negatives in the window (scikit-learn's `multi_class="ovr"`, macro).
    fn roc_auc(&self, columns: &[u32]) -> Option<f64> {
        if self.width == 0 || columns.len() != self.width {
            return None;
        }
        let truths: Vec<Option<u32>> = self
            .rows
            .iter()
            .map(|r| match r.truth {
                Truth::Class(c) => Some(c),
                Truth::Value(_) => None,
            })
            .collect();
        let column = |j: usize| -> Vec<f32> { (0..self.rows.len()).map(|i| self.scores[i * self.width + j]).collect() };
        let auc_of = |j: usize| {
            let positive: Vec<bool> = truths.iter().map(|t| *t == Some(columns[j])).collect();
            classification::roc_auc(&column(j), &positive)
        };
        match self.width {
            1 => auc_of(0),
            2 => auc_of(1),
            k => {
                let aucs: Vec<f64> = (0..k).filter_map(auc_of).collect();
                (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
            }
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QualityReport {
    pub task: &'static str,
    /// The window's capacity, and the labelled rows in it now.
    pub window: usize,
    pub rows: usize,
    pub labelled_total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub precision: Vec<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub recall: Vec<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub f1: Vec<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub support: Vec<u64>,
    #[serde(rename = "macro", skip_serializing_if = "Option::is_none")]
    pub macro_avg: Option<Averages>,
    #[serde(rename = "weighted", skip_serializing_if = "Option::is_none")]
    pub weighted_avg: Option<Averages>,
    /// True classes as rows, predicted as columns, in the order of `classes`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub confusion: Vec<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Mean of prediction − truth: a regressor's bias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_error: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_slides_and_stays_bounded() {
        let mut q = Quality::new(Task::Regression, 100, 0);
        for i in 0..1000 {
            q.push(Truth::Value(i as f64), Predicted::Value(i as f64 + if i < 900 { 10.0 } else { 1.0 }), &[]);
        }
        let r = q.report(&ClassTable::new(1), None);
        assert_eq!((r.rows, r.labelled_total), (100, 1000));
        assert_eq!(r.mae, Some(1.0), "only the last 100 rows count");
        assert_eq!(q.footprint(), (100, 0));
    }
}
