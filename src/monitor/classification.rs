//! Classifier metrics over labelled rows, defined as scikit-learn defines them (so that the
//! numbers agree with what data scientists compute offline): the confusion matrix with true
//! classes as rows, per-class precision, recall and F1 (0 where undefined), their macro and
//! support-weighted means, and ROC AUC from scores (the Mann-Whitney statistic with ties
//! counted half, which is the area under scikit-learn's ROC curve).

use serde::Serialize;

/// Per-class and averaged metrics. `classes` are indices into the caller's class table, in
/// the order of every per-class vector and of the confusion matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    #[serde(skip)]
    pub classes: Vec<u32>,
    pub accuracy: f64,
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub f1: Vec<f64>,
    pub support: Vec<u64>,
    /// Rows: true class; columns: predicted class.
    pub confusion: Vec<Vec<u64>>,
    pub macro_avg: Averages,
    pub weighted_avg: Averages,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Averages {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Metrics of `(truth, predicted)` pairs over `classes` (every class in the pairs must be
/// in it; pairs naming others are ignored).
pub fn metrics(pairs: &[(u32, u32)], classes: &[u32]) -> ClassMetrics {
    let k = classes.len();
    let index = |c: u32| classes.iter().position(|&x| x == c);
    let mut confusion = vec![vec![0u64; k]; k];
    for &(t, p) in pairs {
        if let (Some(i), Some(j)) = (index(t), index(p)) {
            confusion[i][j] += 1;
        }
    }
    let total: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..k).map(|i| confusion[i][i]).sum();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let mut precision = Vec::with_capacity(k);
    let mut recall = Vec::with_capacity(k);
    let mut f1 = Vec::with_capacity(k);
    let mut support = Vec::with_capacity(k);
    for (i, row) in confusion.iter().enumerate() {
        let tp = row[i];
        let predicted: u64 = confusion.iter().map(|r| r[i]).sum();
        let actual: u64 = row.iter().sum();
        precision.push(ratio(tp, predicted));
        recall.push(ratio(tp, actual));
        f1.push(ratio(2 * tp, predicted + actual));
        support.push(actual);
    }
    let mean = |v: &[f64]| if k == 0 { 0.0 } else { v.iter().sum::<f64>() / k as f64 };
    let weighted = |v: &[f64]| {
        let s: u64 = support.iter().sum();
        if s == 0 { 0.0 } else { v.iter().zip(&support).map(|(m, &n)| m * n as f64).sum::<f64>() / s as f64 }
    };
    ClassMetrics {
        classes: classes.to_vec(),
        accuracy: ratio(correct, total),
        macro_avg: Averages { precision: mean(&precision), recall: mean(&recall), f1: mean(&f1) },
        weighted_avg: Averages { precision: weighted(&precision), recall: weighted(&recall), f1: weighted(&f1) },
        precision,
        recall,
        f1,
        support,
        confusion,
    }
}

/// Area under the ROC curve of `scores` for `positive` labels; `None` unless both positives
/// and negatives are present.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len().min(positive.len())).filter(|&i| !scores[i].is_nan()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut positives) = (0.0, 0u64);
    let mut i = 0;
    while i < order.len() {
        // Tied scores share the mean of their ranks (1-based).
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        for &r in &order[i..=j] {
            if positive[r] {
                rank_sum += mean_rank;
                positives += 1;
            }
        }
        i = j + 1;
    }
    let negatives = order.len() as u64 - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let (p, n) = (positives as f64, negatives as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        // truth, predicted: two classes.
        let pairs = [(0, 0), (0, 1), (1, 1), (1, 1), (1, 0)];
        let m = metrics(&pairs, &[0, 1]);
        assert_eq!(m.confusion, [[1, 1], [1, 2]]);
        assert!((m.accuracy - 0.6).abs() < 1e-12);
        assert!((m.precision[1] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall[1] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.support, [2, 3]);
        // A class never predicted has precision 0, not NaN.
        let m = metrics(&[(0, 1), (1, 1)], &[0, 1]);
        assert_eq!(m.precision[0], 0.0);
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        assert_eq!(roc_auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.7], &[true, true]), None);
    }
}
