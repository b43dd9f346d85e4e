//! Data drift: the last `window` rows of each feature, binned as its reference was, compared
//! with the reference when asked. Per feature: PSI and Jensen-Shannon distance (how far the
//! distributions are), and a test of whether the gap is more than sampling noise:
//! Kolmogorov-Smirnov for numeric features, chi-squared (homogeneity) for categorical ones.
//!
//! A feature drifts when both hold: its p-value is below α divided by the number of tests
//! (Bonferroni, so a model with 30 features does not alarm 30 times as often), and its PSI is
//! above max(0.1, the PSI that sampling noise alone exceeds 1% of the time at this window
//! size), so small windows, whose PSI is noisy, need a larger shift. Windows with fewer than
//! `min_rows` rows give no verdict at all. The prediction's distribution is watched the same
//! way, against the reference's `prediction` entry, else against the first window of
//! predictions.
//!
//! Memory: one byte per row and feature for the window, plus the reference's bins.

use std::collections::HashMap;

use serde::Serialize;

use super::elements::Element;
use super::features::{FeatureLayout, format_number};
use super::reference::{Column, FeatureReference};
use super::statistics::{chi2_quantile_upper, chi2_sf, jensen_shannon, ks_sf, ks_statistic, psi, smoothed};
use crate::error::{Error, Result};
use crate::feeds::Feed;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftOptions {
    /// Rows in each live window.
    pub window: usize,
    /// Rows a window needs before any verdict.
    pub min_rows: usize,
    /// Family-wise false-alarm rate per check.
    pub alpha: f64,
}

impl Default for DriftOptions {
    fn default() -> Self {
        DriftOptions { window: 1000, min_rows: 100, alpha: 0.01 }
    }
}

/// The smallest PSI ever called drift, the common "moderate shift" threshold.
const PSI_FLOOR: f64 = 0.1;

#[derive(Debug, Clone)]
enum Bins {
    /// Bin i holds values in (edges[i−1], edges[i]].
    Numeric(Vec<f64>),
    Categorical(HashMap<String, u8>),
}

/// A reference distribution over bins: value bins, then (categorical) `other`, then
/// `missing`, which is always the last bin.
#[derive(Debug, Clone)]
struct Binning {
    bins: Bins,
    reference: Vec<f64>,
}

impl Binning {
    fn new(reference: &FeatureReference) -> Binning {
        match reference {
            FeatureReference::Numeric(n) => {
                let mut counts: Vec<f64> = n.counts.iter().map(|&c| c as f64).collect();
                counts.push(n.missing as f64);
                Binning { bins: Bins::Numeric(n.edges.clone()), reference: counts }
            }
            FeatureReference::Categorical(c) => {
                let index = c.categories.iter().enumerate().map(|(i, (k, _))| (k.clone(), i as u8)).collect();
                let mut counts: Vec<f64> = c.categories.iter().map(|(_, n)| *n as f64).collect();
                counts.extend([c.other as f64, c.missing as f64]);
                Binning { bins: Bins::Categorical(index), reference: counts }
            }
        }
    }

    fn missing(&self) -> u8 {
        (self.reference.len() - 1) as u8
    }

    fn bin(&self, e: Element) -> u8 {
        match (&self.bins, e) {
            (Bins::Numeric(edges), Element::Number(x)) if x.is_finite() => below(edges, x),
            (Bins::Numeric(edges), Element::Text(s)) => match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() => below(edges, x),
                _ => self.missing(),
            },
            (Bins::Categorical(index), Element::Text(s)) => index.get(s).copied().unwrap_or(self.missing() - 1),
            (Bins::Categorical(index), Element::Number(x)) if !x.is_nan() => {
                index.get(format_number(x).as_str()).copied().unwrap_or(self.missing() - 1)
            }
            _ => self.missing(),
        }
    }

    fn numeric(&self) -> bool {
        matches!(self.bins, Bins::Numeric(_))
    }
}

/// How many of the (at most 250) edges lie below `x`: its bin. A branch-free count over the
/// few edges costs less than a binary search's unpredictable branches.
fn below(edges: &[f64], x: f64) -> u8 {
    edges.iter().map(|&e| u8::from(e < x)).fold(0u8, u8::wrapping_add)
}

/// The last `capacity` bins seen, with their counts.
#[derive(Debug, Clone)]
struct LiveWindow {
    ring: Vec<u8>,
    next: usize,
    capacity: usize,
    counts: Vec<u64>,
}

impl LiveWindow {
    fn new(capacity: usize, bins: usize) -> Self {
        LiveWindow { ring: Vec::new(), next: 0, capacity: capacity.max(1), counts: vec![0; bins] }
    }

    fn push(&mut self, bin: u8) {
        if self.ring.len() < self.capacity {
            self.ring.push(bin);
        } else if let Some(old) = self.ring.get_mut(self.next) {
            if let Some(c) = self.counts.get_mut(*old as usize) {
                *c -= 1;
            }
            *old = bin;
        }
        self.next += 1;
        if self.next == self.capacity {
            self.next = 0;
        }
        if let Some(c) = self.counts.get_mut(bin as usize) {
            *c += 1;
        }
    }

    fn rows(&self) -> usize {
        self.ring.len()
    }
}

#[derive(Debug, Clone)]
struct Tracked {
    name: String,
    binning: Binning,
    live: LiveWindow,
}

impl Tracked {
    fn new(reference: &FeatureReference, window: usize) -> Tracked {
        let binning = Binning::new(reference);
        let live = LiveWindow::new(window, binning.reference.len());
        Tracked { name: reference.name().to_owned(), binning, live }
    }
}

#[derive(Debug, Clone)]
enum PredictionDrift {
    Off,
    /// Collecting the first window of predictions to compare later ones with.
    Baseline {
        name: String,
        column: Column,
        capacity: usize,
    },
    Tracked(Tracked),
}

#[derive(Debug, Clone)]
pub struct DriftMonitor {
    options: DriftOptions,
    /// Reference features, and the layout feature each reads.
    features: Vec<(Tracked, usize)>,
    unmonitored: Vec<String>,
    prediction: PredictionDrift,
    /// Bins of the prediction being made, committed once it succeeds: rows × features.
    staged: Vec<u8>,
    staged_rows: usize,
}

/// What prediction drift compares: a numeric output or the predicted class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredictionKind {
    Numeric,
    Categorical,
}

impl DriftMonitor {
    /// `reference_features` from the reference, matched to the layout; `prediction` names
    /// the watched output and its kind, with its reference entry if there is one.
    pub fn new(
        options: DriftOptions,
        layout: &FeatureLayout,
        reference: Option<&super::reference::Reference>,
        prediction: Option<(&str, PredictionKind)>,
    ) -> Result<DriftMonitor> {
        let mut features = Vec::new();
        let mut matched = vec![false; layout.features.len()];
        if let Some(reference) = reference {
            let names: Vec<&str> = reference.features.iter().map(FeatureReference::name).collect();
            for (r, resolved) in reference.features.iter().zip(layout.resolve(&names)) {
                let Some(i) = resolved else {
                    let known: Vec<&str> = layout.features.iter().map(|f| f.name.as_str()).collect();
                    return Err(Error::InvalidOption(format!(
                        "reference names feature '{}', but the model's features are {}",
                        r.name(),
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    )));
                };
                matched[i] = true;
                let mut tracked = Tracked::new(r, options.window);
                tracked.name = layout.features[i].name.clone();
                features.push((tracked, i));
            }
        }
        let unmonitored =
            layout.features.iter().zip(&matched).filter(|(_, m)| !**m).map(|(f, _)| f.name.clone()).collect();
        let prediction = match (prediction, reference.and_then(|r| r.prediction.as_ref())) {
            (None, _) => PredictionDrift::Off,
            (Some((name, kind)), Some(r)) => {
                let numeric = matches!(r, FeatureReference::Numeric(_));
                if numeric != (kind == PredictionKind::Numeric) {
                    return Err(Error::InvalidOption(format!(
                        "reference.prediction is {}, but output '{name}' is watched as {}",
                        if numeric { "numeric" } else { "categorical" },
                        if numeric { "a class" } else { "a number" }
                    )));
                }
                let mut tracked = Tracked::new(r, options.window);
                tracked.name = name.to_owned();
                PredictionDrift::Tracked(tracked)
            }
            (Some((name, kind)), None) => PredictionDrift::Baseline {
                name: name.to_owned(),
                column: match kind {
                    PredictionKind::Numeric => Column::Numeric(Vec::new()),
                    PredictionKind::Categorical => Column::Categorical(Vec::new()),
                },
                capacity: options.window.max(options.min_rows).max(1),
            },
        };
        Ok(DriftMonitor { options, features, unmonitored, prediction, staged: Vec::new(), staged_rows: 0 })
    }

    /// Bins the features of a prediction about to run (at most the last `window` rows: older
    /// ones would leave the window in the same step).
    pub fn stage(&mut self, layout: &FeatureLayout, feeds: &[(String, Feed)]) {
        self.staged.clear();
        self.staged_rows = 0;
        if self.features.is_empty() {
            return;
        }
        let views: Option<Vec<_>> = layout.views(self.features.iter().map(|(_, i)| *i), feeds).collect();
        let Some(views) = views else { return };
        let rows = views.first().map_or(0, |v| v.rows);
        if views.iter().any(|v| v.rows != rows) {
            return;
        }
        let first = rows.saturating_sub(self.options.window);
        for row in first..rows {
            for ((tracked, _), view) in self.features.iter().zip(&views) {
                self.staged.push(tracked.binning.bin(view.get(row)));
            }
        }
        self.staged_rows = rows - first;
    }

    /// Adds the staged rows to the windows: the prediction succeeded.
    pub fn commit(&mut self) {
        let width = self.features.len();
        if width == 0 {
            return;
        }
        for row in self.staged.chunks(width) {
            for ((tracked, _), &bin) in self.features.iter_mut().zip(row) {
                tracked.live.push(bin);
            }
        }
        self.staged.clear();
        self.staged_rows = 0;
    }

    /// Adds one row's prediction (a class's text, or a number).
    pub fn observe_prediction(&mut self, value: Element) {
        match &mut self.prediction {
            PredictionDrift::Off => {}
            PredictionDrift::Tracked(t) => {
                let bin = t.binning.bin(value);
                t.live.push(bin);
            }
            PredictionDrift::Baseline { name, column, capacity } => {
                match (column as &mut Column, value) {
                    (Column::Numeric(v), Element::Number(x)) => v.push(x),
                    (Column::Numeric(v), _) => v.push(f64::NAN),
                    (Column::Categorical(v), Element::Text(s)) => v.push(Some(s.to_owned())),
                    (Column::Categorical(v), Element::Number(x)) => v.push(Some(format_number(x))),
                    (Column::Categorical(v), Element::Missing) => v.push(None),
                }
                if column.len() >= *capacity {
                    let reference = FeatureReference::from_column(name, column);
                    self.prediction = PredictionDrift::Tracked(Tracked::new(&reference, self.options.window));
                }
            }
        }
    }

    pub fn watches_predictions(&self) -> bool {
        !matches!(self.prediction, PredictionDrift::Off)
    }

    /// The sizes of every buffer, to check they stay within their bounds.
    pub fn footprint(&self) -> Vec<usize> {
        let mut sizes: Vec<usize> = self.features.iter().map(|(t, _)| t.live.ring.len()).collect();
        sizes.push(self.staged.len());
        match &self.prediction {
            PredictionDrift::Off => {}
            PredictionDrift::Baseline { column, .. } => sizes.push(column.len()),
            PredictionDrift::Tracked(t) => sizes.push(t.live.ring.len()),
        }
        sizes
    }

    pub fn report(&self) -> DriftReport {
        let tests = self.features.len() + usize::from(matches!(self.prediction, PredictionDrift::Tracked(_)));
        let alpha = self.options.alpha / tests.max(1) as f64;
        let features: Vec<FeatureDrift> = self.features.iter().map(|(t, _)| self.compare(t, alpha)).collect();
        let prediction = match &self.prediction {
            PredictionDrift::Off => None,
            PredictionDrift::Tracked(t) => Some(self.compare(t, alpha)),
            PredictionDrift::Baseline { name, column, capacity } => Some(FeatureDrift {
                name: name.clone(),
                kind: if matches!(column, Column::Numeric(_)) { "numeric" } else { "categorical" },
                rows: 0,
                baseline_rows: Some(column.len()),
                baseline_needed: Some(*capacity),
                status: Status::CollectingBaseline,
                ..FeatureDrift::default()
            }),
        };
        let rows = self.features.first().map_or_else(
            || match &self.prediction {
                PredictionDrift::Tracked(t) => t.live.rows(),
                _ => 0,
            },
            |(t, _)| t.live.rows(),
        );
        let verdicts: Vec<Status> = features.iter().chain(&prediction).map(|f| f.status).collect();
        let status = if verdicts.contains(&Status::Drift) {
            Status::Drift
        } else if verdicts.contains(&Status::Ok) {
            Status::Ok
        } else if verdicts.is_empty() {
            Status::NoReference
        } else if verdicts.iter().all(|s| *s == Status::CollectingBaseline) {
            Status::CollectingBaseline
        } else {
            Status::InsufficientData
        };
        DriftReport {
            status,
            window: self.options.window,
            rows,
            min_rows: self.options.min_rows,
            alpha: self.options.alpha,
            alpha_per_test: alpha,
            features,
            prediction,
            unmonitored: self.unmonitored.clone(),
        }
    }

    fn compare(&self, t: &Tracked, alpha: f64) -> FeatureDrift {
        let live: Vec<f64> = t.live.counts.iter().map(|&c| c as f64).collect();
        let reference = &t.binning.reference;
        let n = t.live.rows();
        let missing_bin = reference.len() - 1;
        let numeric = t.binning.numeric();
        let mut out = FeatureDrift {
            name: t.name.clone(),
            kind: if numeric { "numeric" } else { "categorical" },
            rows: n,
            missing: if n > 0 { live[missing_bin] / n as f64 } else { 0.0 },
            test: if numeric { "ks" } else { "chi2" },
            ..FeatureDrift::default()
        };
        if n == 0 {
            out.status = Status::InsufficientData;
            return out;
        }
        let m: f64 = reference.iter().sum();
        let (p, q) = (smoothed(&live, 0.5), smoothed(reference, 0.5));
        out.psi = Some(psi(&p, &q));
        let (pr, qr): (Vec<f64>, Vec<f64>) =
            (live.iter().map(|c| c / n as f64).collect(), reference.iter().map(|c| c / m.max(1.0)).collect());
        out.jensen_shannon = Some(jensen_shannon(&pr, &qr));
        let occupied = live.iter().zip(reference).filter(|(a, b)| **a > 0.0 || **b > 0.0).count().max(2);
        let noise = chi2_quantile_upper(0.01, (occupied - 1) as f64) * (1.0 / n as f64 + 1.0 / m.max(1.0));
        out.psi_threshold = Some(PSI_FLOOR.max(noise));
        let (statistic, p_value) = if numeric {
            // Over values present: missing ones have no place on the number line.
            let (lp, rp) = (&live[..missing_bin], &reference[..missing_bin]);
            let (ln, rn) = (lp.iter().sum::<f64>(), rp.iter().sum::<f64>());
            if ln == 0.0 || rn == 0.0 {
                (0.0, 1.0)
            } else {
                let d = ks_statistic(
                    &lp.iter().map(|c| c / ln).collect::<Vec<_>>(),
                    &rp.iter().map(|c| c / rn).collect::<Vec<_>>(),
                );
                (d, ks_sf(d, ln * rn / (ln + rn)))
            }
        } else {
            homogeneity(&live, reference)
        };
        out.statistic = Some(statistic);
        out.p_value = Some(p_value);
        out.status = if n < self.options.min_rows {
            Status::InsufficientData
        } else if p_value < alpha && out.psi.unwrap_or(0.0) > out.psi_threshold.unwrap_or(f64::INFINITY) {
            Status::Drift
        } else {
            Status::Ok
        };
        out
    }
}

/// Chi-squared test that two samples of counts over the same bins come from one
/// distribution, with bins whose expected count is under 5 pooled (the test's usual
/// condition). Returns the statistic and its p-value.
fn homogeneity(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (na, nb) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
    let total = na + nb;
    if na == 0.0 || nb == 0.0 {
        return (0.0, 1.0);
    }
    let expected_min = |x: f64, y: f64| {
        let p = (x + y) / total;
        (na * p).min(nb * p)
    };
    let mut cells: Vec<(f64, f64)> = Vec::new();
    let mut pooled = (0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        if x + y == 0.0 {
            continue;
        }
        if expected_min(x, y) < 5.0 {
            pooled = (pooled.0 + x, pooled.1 + y);
        } else {
            cells.push((x, y));
        }
    }
    if pooled.0 + pooled.1 > 0.0 {
        if expected_min(pooled.0, pooled.1) < 5.0 && !cells.is_empty() {
            // Still too small on its own: fold it into the smallest cell.
            let smallest =
                (0..cells.len()).min_by(|&i, &j| (cells[i].0 + cells[i].1).total_cmp(&(cells[j].0 + cells[j].1)));
            if let Some(i) = smallest {
                cells[i] = (cells[i].0 + pooled.0, cells[i].1 + pooled.1);
            }
        } else {
            cells.push(pooled);
        }
    }
    if cells.len() < 2 {
        return (0.0, 1.0);
    }
    let statistic: f64 = cells
        .iter()
        .map(|&(x, y)| {
            let p = (x + y) / total;
            let (ea, eb) = (na * p, nb * p);
            (x - ea).powi(2) / ea + (y - eb).powi(2) / eb
        })
        .sum();
    (statistic, chi2_sf(statistic, (cells.len() - 1) as f64))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Drift,
    /// Fewer rows than `min_rows`: no verdict.
    #[default]
    InsufficientData,
    /// Prediction drift without a reference: still collecting the first window.
    CollectingBaseline,
    /// Nothing to compare: no reference and no prediction to watch.
    NoReference,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureDrift {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub rows: usize,
    /// Share of the window's rows with the value missing.
    pub missing: f64,
    pub psi: Option<f64>,
    pub psi_threshold: Option<f64>,
    pub jensen_shannon: Option<f64>,
    /// "ks" (numeric) or "chi2" (categorical).
    pub test: &'static str,
    pub statistic: Option<f64>,
    pub p_value: Option<f64>,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_rows: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_needed: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DriftReport {
    pub status: Status,
    pub window: usize,
    /// Rows in the feature windows now.
    pub rows: usize,
    pub min_rows: usize,
    pub alpha: f64,
    pub alpha_per_test: f64,
    pub features: Vec<FeatureDrift>,
    pub prediction: Option<FeatureDrift>,
    /// The model's features the reference does not describe.
    pub unmonitored: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::monitor::reference::Reference;
    use crate::schema::{Dim, TensorInfo};
    use crate::tensor::{HostTensor, Values};

    /// Standard normal variates (Box-Muller over xorshift64*), reproducible from `seed`.
    fn normals(seed: u64) -> impl FnMut() -> f64 {
        let mut x = seed.max(1);
        let mut uniform = move || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        move || (-2.0 * uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * uniform()).cos()
    }

    const FEATURES: usize = 8;

    fn layout() -> FeatureLayout {
        let inputs = [TensorInfo::new("x", DType::Float32, vec![Dim::Symbolic("N".into()), Dim::Fixed(FEATURES)])];
        FeatureLayout::of(&inputs, &[], None).unwrap()
    }

    /// Reference: 5,000 rows of independent N(0, 1) features, plus a categorical column.
    fn reference(seed: u64) -> Reference {
        let mut z = normals(seed);
        let columns: Vec<(String, Column)> =
            (0..FEATURES).map(|j| (format!("x[{j}]"), Column::Numeric((0..5000).map(|_| z()).collect()))).collect();
        Reference::from_columns(&columns).unwrap()
    }

    fn feed(rows: usize, z: &mut impl FnMut() -> f64, shift: f64) -> Vec<(String, Feed)> {
        let data: Vec<f32> =
            (0..rows * FEATURES).map(|i| (z() + if i % FEATURES == 3 { shift } else { 0.0 }) as f32).collect();
        vec![("x".into(), Feed::new(HostTensor::new(vec![rows, FEATURES], Values::Float32(data))))]
    }

    #[test]
    fn a_half_sd_shift_in_one_feature_is_detected_in_1000_rows() {
        let layout = layout();
        let opts = DriftOptions::default();
        let mut d = DriftMonitor::new(opts, &layout, Some(&reference(1)), None).unwrap();
        let mut z = normals(2);
        for _ in 0..10 {
            d.stage(&layout, &feed(100, &mut z, 0.5));
            d.commit();
        }
        let r = d.report();
        assert_eq!(r.rows, 1000);
        assert_eq!(r.status, Status::Drift);
        let shifted = &r.features[3];
        assert_eq!(shifted.status, Status::Drift, "{shifted:?}");
        assert!(shifted.psi.unwrap() > 0.15 && shifted.p_value.unwrap() < 1e-10, "{shifted:?}");
        for (j, f) in r.features.iter().enumerate().filter(|(j, _)| *j != 3) {
            assert_eq!(f.status, Status::Ok, "feature {j}: {f:?}");
        }
    }

    #[test]
    fn twenty_windows_of_200_rows_from_the_reference_raise_at_most_one_alarm() {
        let layout = layout();
        let opts = DriftOptions { window: 200, ..DriftOptions::default() };
        let mut d = DriftMonitor::new(opts, &layout, Some(&reference(3)), None).unwrap();
        let mut z = normals(4);
        let mut alarms = 0;
        let mut smallest_p = 1.0_f64;
        for _ in 0..20 {
            for _ in 0..20 {
                d.stage(&layout, &feed(10, &mut z, 0.0));
                d.commit();
            }
            let r = d.report();
            assert_eq!(r.rows, 200);
            alarms += usize::from(r.status == Status::Drift);
            smallest_p = r.features.iter().filter_map(|f| f.p_value).fold(smallest_p, f64::min);
        }
        assert!(alarms <= 1, "{alarms} alarms");
        // The windows are live: the p-values are not all near 1 (which would mean a test
        // that cannot fire at all).
        assert!(smallest_p < 0.2, "smallest p-value {smallest_p}");
    }

    #[test]
    fn tiny_windows_give_no_verdict_and_a_shift_there_is_not_an_alarm() {
        let layout = layout();
        let mut d = DriftMonitor::new(DriftOptions::default(), &layout, Some(&reference(5)), None).unwrap();
        let mut z = normals(6);
        d.stage(&layout, &feed(50, &mut z, 3.0));
        d.commit();
        let r = d.report();
        assert_eq!(r.status, Status::InsufficientData);
        assert!(r.features.iter().all(|f| f.status == Status::InsufficientData));
        assert!(r.features[3].psi.unwrap() > 1.0, "the statistics are still reported");
    }

    #[test]
    fn a_failed_prediction_leaves_the_windows_alone_and_big_batches_stay_bounded() {
        let layout = layout();
        let opts = DriftOptions { window: 300, ..DriftOptions::default() };
        let mut d = DriftMonitor::new(opts, &layout, Some(&reference(7)), None).unwrap();
        let mut z = normals(8);
        d.stage(&layout, &feed(100, &mut z, 0.0));
        assert_eq!(d.report().rows, 0, "staged, not committed");
        d.stage(&layout, &feed(5000, &mut z, 0.0));
        d.commit();
        assert_eq!(d.report().rows, 300);
        assert!(d.footprint().iter().all(|&n| n <= 300 * FEATURES), "{:?}", d.footprint());
    }

    #[test]
    fn categorical_features_use_chi_squared() {
        let inputs = [TensorInfo::new("country", DType::String, vec![Dim::Symbolic("N".into()), Dim::Fixed(1)])];
        let layout = FeatureLayout::of(&inputs, &[], None).unwrap();
        let pick = |i: usize, weights: [usize; 3]| {
            let r = i % weights.iter().sum::<usize>();
            if r < weights[0] {
                "FR"
            } else if r < weights[0] + weights[1] {
                "DE"
            } else {
                "IT"
            }
        };
        let column = Column::Categorical((0..3000).map(|i| Some(pick(i * 7919, [5, 3, 2]).to_owned())).collect());
        let reference = Reference::from_columns(&[("country".into(), column)]).unwrap();
        let run = |weights: [usize; 3]| {
            let mut d = DriftMonitor::new(DriftOptions::default(), &layout, Some(&reference), None).unwrap();
            let values: Vec<String> = (0..1000).map(|i| pick(i * 104_729 + 1, weights).to_owned()).collect();
            d.stage(&layout, &[("country".into(), Feed::new(HostTensor::new(vec![1000, 1], Values::String(values))))]);
            d.commit();
            d.report().features.remove(0)
        };
        let same = run([5, 3, 2]);
        assert_eq!((same.test, same.status), ("chi2", Status::Ok), "{same:?}");
        let moved = run([2, 3, 5]);
        assert_eq!(moved.status, Status::Drift, "{moved:?}");
        assert!(moved.p_value.unwrap() < 1e-20);
    }

    #[test]
    fn prediction_drift_against_a_baseline_of_first_predictions() {
        let layout = layout();
        let opts = DriftOptions { window: 500, ..DriftOptions::default() };
        let mut d = DriftMonitor::new(opts, &layout, None, Some(("y", PredictionKind::Numeric))).unwrap();
        let mut z = normals(9);
        for _ in 0..500 {
            d.observe_prediction(Element::Number(z()));
        }
        assert_eq!(d.report().status, Status::InsufficientData, "baseline done, nothing live yet");
        for _ in 0..500 {
            d.observe_prediction(Element::Number(z() + 1.0));
        }
        let r = d.report();
        assert_eq!(r.status, Status::Drift, "{:?}", r.prediction);
        let err = DriftMonitor::new(opts, &layout, Some(&reference(1)), None).map(|_| ());
        assert!(err.is_ok());
        let mut bad = reference(1);
        bad.features[0] = FeatureReference::from_column("colour", &Column::Numeric(vec![1.0]));
        let err = DriftMonitor::new(opts, &layout, Some(&bad), None).unwrap_err();
        assert!(err.to_string().contains("'colour'") && err.to_string().contains("x[0]"), "{err}");
    }
}
