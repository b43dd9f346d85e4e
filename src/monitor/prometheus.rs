//! One model's monitoring in the Prometheus text format (0.0.4): counters end in `_total`,
//! durations are in seconds, every sample carries the caller's labels (model, version).
//! Rates are left to Prometheus (`rate()` of a counter): every counter only ever grows, and a
//! precomputed rate could not be summed across isolates or re-windowed.
//! Each family starts with its `# HELP` line, so a server exposing several models can merge
//! families by name.

use std::fmt::Write;

use super::drift::{DriftReport, Status};
use super::guard::GuardStats;
use super::latency::PROMETHEUS_LE_S;
use super::performance::{BATCH_LE, Performance};
use super::quality::QualityReport;

/// `\`, `"` and newlines escaped, as label values need.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

struct Families {
    out: String,
    /// The caller's labels, rendered once.
    labels: String,
}

impl Families {
    fn new(base: &[(String, String)]) -> Self {
        let labels = base.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect::<Vec<_>>().join(",");
        Families { out: String::new(), labels }
    }

    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, extra: &[(&str, &str)], value: f64) {
        let mut labels = self.labels.clone();
        for (k, v) in extra {
            if !labels.is_empty() {
                labels.push(',');
            }
            let _ = write!(labels, "{k}=\"{}\"", escape(v));
        }
        let value = if value.is_nan() {
            "NaN".to_string()
        } else if value.is_infinite() {
            if value > 0.0 { "+Inf".into() } else { "-Inf".into() }
        } else {
            format!("{value}")
        };
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{labels}}} {value}");
        }
    }
}

pub struct Sections<'a> {
    pub performance: &'a Performance,
    pub quality: Option<&'a QualityReport>,
    pub drift: &'a DriftReport,
    pub feedback_rows: u64,
    pub logs_written: u64,
    pub logs_dropped: u64,
    pub guard: Option<GuardStats>,
}

pub fn render(s: &Sections, labels: &[(String, String)]) -> String {
    let mut f = Families::new(labels);
    let p = s.performance;
    f.family("edgeinfer_predictions_total", "counter", "Successful predict calls.");
    f.sample("edgeinfer_predictions_total", &[], p.predictions as f64);
    f.family("edgeinfer_predict_rows_total", "counter", "Rows predicted (a call predicts a batch of rows).");
    f.sample("edgeinfer_predict_rows_total", &[], p.rows as f64);
    f.family("edgeinfer_predict_errors_total", "counter", "Failed predict calls, by error code.");
    for (code, n) in &p.errors {
        f.sample("edgeinfer_predict_errors_total", &[("code", code)], *n as f64);
    }
    f.family("edgeinfer_predict_duration_seconds", "histogram", "Time a predict call took in the model.");
    let le: Vec<String> = PROMETHEUS_LE_S.iter().map(|v| format!("{v}")).chain(["+Inf".to_string()]).collect();
    for (le, n) in le.iter().zip(p.latency.prometheus_buckets()) {
        f.sample("edgeinfer_predict_duration_seconds_bucket", &[("le", le)], n as f64);
    }
    f.sample("edgeinfer_predict_duration_seconds_sum", &[], p.latency.sum_us() / 1e6);
    f.sample("edgeinfer_predict_duration_seconds_count", &[], p.latency.count() as f64);
    f.family("edgeinfer_predict_batch_size", "histogram", "Rows per successful predict call.");
    let le: Vec<String> = BATCH_LE.iter().map(u64::to_string).chain(["+Inf".to_string()]).collect();
    for (le, n) in le.iter().zip(p.batch.cumulative()) {
        f.sample("edgeinfer_predict_batch_size_bucket", &[("le", le)], n as f64);
    }
    f.sample("edgeinfer_predict_batch_size_sum", &[], p.batch.sum() as f64);
    f.sample("edgeinfer_predict_batch_size_count", &[], p.predictions as f64);

    f.family("edgeinfer_feedback_rows_total", "counter", "Rows labelled by feedback and joined to their prediction.");
    f.sample("edgeinfer_feedback_rows_total", &[], s.feedback_rows as f64);
    if let Some(q) = s.quality {
        let gauges: [(&str, &str, Option<f64>); 6] = [
            ("edgeinfer_quality_accuracy", "Accuracy over the feedback window.", q.accuracy),
            ("edgeinfer_quality_f1_macro", "Macro-averaged F1 over the feedback window.", q.macro_avg.map(|m| m.f1)),
            ("edgeinfer_quality_roc_auc", "ROC AUC over the feedback window.", q.roc_auc),
            ("edgeinfer_quality_mae", "Mean absolute error over the feedback window.", q.mae),
            ("edgeinfer_quality_rmse", "Root mean squared error over the feedback window.", q.rmse),
            ("edgeinfer_quality_window_rows", "Labelled rows in the feedback window.", Some(q.rows as f64)),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                f.family(name, "gauge", help);
                f.sample(name, &[], v);
            }
        }
    }

    let d = s.drift;
    f.family(
        "edgeinfer_drift_detected",
        "gauge",
        "1 if the model's inputs or predictions drift from the reference, else 0.",
    );
    f.sample("edgeinfer_drift_detected", &[], if d.status == Status::Drift { 1.0 } else { 0.0 });
    let watched: Vec<_> =
        d.features.iter().map(|x| ("feature", x)).chain(d.prediction.iter().map(|x| ("prediction", x))).collect();
    let with_stats: Vec<_> = watched.iter().filter(|(_, x)| x.psi.is_some()).collect();
    if !with_stats.is_empty() {
        f.family(
            "edgeinfer_drift_psi",
            "gauge",
            "Population stability index of the live window against the reference.",
        );
        for (kind, x) in &with_stats {
            f.sample("edgeinfer_drift_psi", &[("feature", &x.name), ("kind", kind)], x.psi.unwrap_or(0.0));
        }
        f.family("edgeinfer_drift_p_value", "gauge", "p-value of the drift test (Kolmogorov-Smirnov or chi-squared).");
        for (kind, x) in &with_stats {
            f.sample("edgeinfer_drift_p_value", &[("feature", &x.name), ("kind", kind)], x.p_value.unwrap_or(1.0));
        }
        f.family("edgeinfer_drift_feature_detected", "gauge", "1 if this feature or prediction drifts, else 0.");
        for (kind, x) in &with_stats {
            f.sample(
                "edgeinfer_drift_feature_detected",
                &[("feature", &x.name), ("kind", kind)],
                if x.status == Status::Drift { 1.0 } else { 0.0 },
            );
        }
    }
    f.family("edgeinfer_prediction_logs_total", "counter", "Prediction log lines written.");
    f.sample("edgeinfer_prediction_logs_total", &[], s.logs_written as f64);
    f.family(
        "edgeinfer_prediction_logs_dropped_total",
        "counter",
        "Prediction log lines dropped before a sink took them.",
    );
    f.sample("edgeinfer_prediction_logs_dropped_total", &[], s.logs_dropped as f64);
    if let Some(g) = &s.guard {
        f.family(
            "edgeinfer_guard_violations_total",
            "counter",
            "Feature values outside what the model was trained on, by feature and kind.",
        );
        for v in &g.features {
            for (kind, n) in v.by_kind() {
                f.sample("edgeinfer_guard_violations_total", &[("feature", &v.feature), ("kind", kind)], n as f64);
            }
        }
        let counters = [
            (
                "edgeinfer_guard_flagged_calls_total",
                "Predict calls with a feature outside the reference.",
                g.flagged_calls,
            ),
            ("edgeinfer_guard_refused_calls_total", "Predict calls the input guard refused.", g.refused_calls),
            (
                "edgeinfer_guard_clipped_values_total",
                "Feature values the input guard clipped into range.",
                g.clipped_values,
            ),
        ];
        for (name, help, n) in counters {
            f.family(name, "counter", help);
            f.sample(name, &[], n as f64);
        }
    }
    f.out
}
