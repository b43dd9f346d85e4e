//! Monitoring of a deployed model, the same in browsers, Node and Workers because it lives
//! in the core: performance (counts, errors by code, latency and batch-size histograms,
//! throughput), quality from ground truth joined to logged predictions, data and prediction
//! drift against reference statistics, and sampled, redacted prediction logs.
//!
//! Every structure is bounded when the monitor is made (histograms of fixed size, rings of
//! recent predictions, labelled rows and drift windows, a capped log queue), so memory does
//! not grow with traffic. Time comes from the host (`Host`): the core never reads a clock.

pub mod classes;
pub mod classification;
pub mod csv;
pub mod drift;
pub mod elements;
pub mod export;
pub mod features;
pub mod guard;
pub mod host;
pub mod ids;
pub mod latency;
pub mod logs;
pub mod monitored;
pub mod pending;
pub mod performance;
pub mod prometheus;
pub mod quality;
pub mod random;
pub mod reference;
pub mod statistics;
pub mod target;
pub mod throughput;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::feeds::Feed;
use crate::schema::TensorInfo;
use crate::tensor::HostTensor;

use classes::ClassTable;
use drift::{DriftMonitor, DriftOptions, DriftReport, PredictionKind};
use elements::Element;
use export::{Export, Labelled};
use features::FeatureLayout;
use guard::{Finding, Guard, GuardOptions, GuardStats};
#[cfg(not(target_arch = "wasm32"))]
pub use host::SystemHost;
pub use host::{Host, ManualHost};
pub use ids::PredictionId;
use logs::{Entry, LogOptions, PredictionLog};
pub use monitored::{MonitoredModel, Prediction};
use pending::{Lookup, Pending, Truth};
use performance::{Performance, PerformanceStats};
use quality::{Quality, QualityReport};
use random::Random;
pub use reference::{Column, Reference};
use target::{Predicted, Target, TargetOptions, Watched};

#[derive(Debug, Clone, PartialEq)]
pub struct MonitorOptions {
    /// Off: predictions are not watched at all (and cost nothing extra).
    pub enabled: bool,
    /// The model's name and version in logs and metrics.
    pub name: String,
    pub version: String,
    pub reference: Option<Reference>,
    pub target: TargetOptions,
    /// Names for the columns of the model's `[batch, F]` input.
    pub features: Option<Vec<String>>,
    pub drift: DriftOptions,
    /// Labelled rows the quality metrics are computed over.
    pub quality_window: usize,
    /// Recent prediction rows kept for feedback to join.
    pub feedback_capacity: usize,
    /// Distinct classes remembered (predicted or given as ground truth).
    pub max_classes: usize,
    pub log: LogOptions,
    /// Checks of each call's features against the reference (`None`: none).
    pub guard: Option<GuardOptions>,
    /// Hold each prediction's features so that rows feedback labels can be exported.
    pub export_feedback: bool,
}

impl Default for MonitorOptions {
    fn default() -> Self {
        MonitorOptions {
            enabled: true,
            name: String::new(),
            version: String::new(),
            reference: None,
            target: TargetOptions::default(),
            features: None,
            drift: DriftOptions::default(),
            quality_window: 1000,
            feedback_capacity: 10_000,
            max_classes: 1000,
            log: LogOptions::default(),
            guard: None,
            export_feedback: false,
        }
    }
}

/// Ground truth for one row, as feedback gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Number(f64),
    Text(String),
    /// No label for this row (yet): skipped.
    Missing,
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Number(x) => write!(f, "{x}"),
            Label::Text(s) => write!(f, "'{s}'"),
            Label::Missing => f.write_str("nothing"),
        }
    }
}

/// A call being watched: what was captured before the model ran.
#[derive(Debug)]
pub struct Call {
    started_ms: f64,
    rows: usize,
    /// Set when this call is logged: its inputs as logged (if inputs are).
    log: Option<Option<serde_json::Map<String, serde_json::Value>>>,
    /// What the guard found in its features.
    guard: Vec<Finding>,
    /// Its rows' features, when labelled rows are exported.
    export: Option<Vec<serde_json::Map<String, serde_json::Value>>>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedbackStats {
    /// Rows labelled and joined to their prediction.
    pub rows: u64,
    /// Feedback calls refused: unknown, foreign or expired ids.
    pub unknown: u64,
    /// Prediction rows held for feedback now, and at most.
    pub pending: usize,
    pub capacity: usize,
    /// Whether labelled rows are exported (`exportFeedback`); those exported, and those
    /// dropped before they were taken.
    pub export: bool,
    pub exported: u64,
    pub export_dropped: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStats {
    pub enabled: bool,
    pub written: u64,
    pub dropped: u64,
    pub sampled_out: u64,
    pub queued: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    pub model: String,
    pub version: String,
    #[serde(flatten)]
    pub performance: PerformanceStats,
    pub quality: Option<QualityReport>,
    pub feedback: FeedbackStats,
    pub logs: LogStats,
    pub guard: Option<GuardStats>,
}

/// The sizes of every bounded structure, for tests that check the bounds hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Footprint {
    pub latency_buckets: usize,
    pub classes: usize,
    pub pending: (usize, usize, usize),
    pub quality: (usize, usize),
    pub drift: Vec<usize>,
    pub log: (usize, usize),
    pub errors: usize,
    pub export: (usize, usize),
}

pub struct Monitor {
    name: String,
    version: String,
    layout: FeatureLayout,
    performance: Performance,
    random: Option<Random>,
    instance: u32,
    next_sequence: u64,
    classes: ClassTable,
    target: Option<Target>,
    pending: Option<Pending>,
    quality: Option<Quality>,
    drift: DriftMonitor,
    guard: Option<Guard>,
    log: PredictionLog,
    export: Option<Export>,
    feedback: FeedbackStats,
    feedback_capacity: usize,
    predicted: Vec<Predicted>,
    scores: Vec<f32>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("name", &self.name).field("version", &self.version).finish()
    }
}

impl Monitor {
    /// A monitor for a model with these inputs, outputs and metadata.
    pub fn new(
        inputs: &[TensorInfo],
        outputs: &[TensorInfo],
        metadata: &[(String, String)],
        options: MonitorOptions,
    ) -> Result<Monitor> {
        if options.drift.window == 0 || options.quality_window == 0 || options.feedback_capacity == 0 {
            return Err(Error::InvalidOption("monitoring windows and capacities must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&options.log.sample_rate) {
            return Err(Error::InvalidOption(format!(
                "monitoring.log.sampleRate must be between 0 and 1, got {}",
                options.log.sample_rate
            )));
        }
        if !(options.drift.alpha > 0.0 && options.drift.alpha < 1.0) {
            return Err(Error::InvalidOption(format!(
                "monitoring.alpha must be between 0 and 1, got {}",
                options.drift.alpha
            )));
        }
        let mut layout = FeatureLayout::of(inputs, metadata, options.features.as_deref())?;
        if let Some(reference) = &options.reference {
            layout.name_from_reference(reference);
        }
        let mut classes = ClassTable::new(options.max_classes.max(2));
        let target = Target::detect(outputs, metadata, &options.target, &mut classes)?;
        let watched = target.as_ref().map(|t| {
            let kind = if t.watched == Watched::Class { PredictionKind::Categorical } else { PredictionKind::Numeric };
            (t.watched_output.as_str(), kind)
        });
        let drift = DriftMonitor::new(options.drift, &layout, options.reference.as_ref(), watched)?;
        let guard = match options.guard {
            Some(g) => Guard::new(g, &layout, options.reference.as_ref())?,
            None => None,
        };
        let pending = target.as_ref().map(|t| Pending::new(options.feedback_capacity, t.width));
        let quality = target.as_ref().map(|t| Quality::new(t.task, options.quality_window, t.width));
        if options.export_feedback && target.is_none() {
            return Err(Error::InvalidOption(
                "monitoring.exportFeedback exports rows that feedback labels, and this model's outputs give no class or value per row to label; set monitoring.task (and labelOutput or scoreOutput)".into(),
            ));
        }
        let export = options.export_feedback.then(|| Export::new(options.feedback_capacity));
        Ok(Monitor {
            name: options.name,
            version: options.version,
            layout,
            performance: Performance::default(),
            random: None,
            instance: 0,
            next_sequence: 0,
            classes,
            target,
            pending,
            quality,
            drift,
            guard,
            log: PredictionLog::new(options.log),
            export,
            feedback: FeedbackStats { capacity: options.feedback_capacity, ..FeedbackStats::default() },
            feedback_capacity: options.feedback_capacity,
            predicted: Vec::new(),
            scores: Vec::new(),
        })
    }

    /// Seeds the generator at the first call that can (not at load: Workers refuse randomness
    /// while a module is being evaluated), drawing this instance's id prefix from it, and
    /// decides whether to log the call.
    fn sample_log(&mut self, host: &mut dyn Host) -> bool {
        if self.random.is_none()
            && let Some(seed) = host.seed()
        {
            let mut random = Random::new(seed);
            self.instance = (random.next_u64() >> 32) as u32 | 1;
            self.random = Some(random);
        }
        self.log.sample(self.random.as_mut())
    }

    /// Before the model runs: bins the features for drift (as the caller sent them), decides
    /// whether to log, and guards the feeds, which it may clip. A call the guard refuses is
    /// counted as failed here.
    pub fn start(&mut self, feeds: &mut [(String, Feed)], started_ms: f64, host: &mut dyn Host) -> Result<Call> {
        let sampled = self.sample_log(host);
        self.drift.stage(&self.layout, feeds);
        let log = sampled.then(|| self.log.inputs(&self.layout, feeds));
        let export = self.export.is_some().then(|| Export::rows(&self.layout, feeds, &self.log));
        let rows = self.layout.rows(feeds);
        let (guard, verdict) = match &mut self.guard {
            Some(guard) => guard.check(&self.layout, feeds),
            None => (Vec::new(), Ok(())),
        };
        let call = Call { started_ms, rows, log, guard, export };
        match verdict {
            Ok(()) => Ok(call),
            Err(e) => {
                self.fail(Some(call), &e, started_ms, host);
                Err(e)
            }
        }
    }

    /// The model answered: counts it, keeps it for feedback and drift, logs it. Returns the
    /// prediction's id, if the platform has given entropy to make one.
    pub fn succeed(
        &mut self,
        call: Call,
        outputs: &[(String, HostTensor)],
        host: &mut dyn Host,
    ) -> Option<PredictionId> {
        let now = host.monotonic_ms();
        let latency_ms = now - call.started_ms;
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let id = self.random.as_mut().map(|r| PredictionId { instance: self.instance, token: r.next_u96() });
        self.drift.commit();
        let mut rows = call.rows;
        if let Some(target) = &mut self.target {
            let n = target.extract(outputs, &mut self.classes, &mut self.predicted, &mut self.scores);
            if n > 0 {
                rows = n;
            }
            if let (Some(pending), Some(id)) = (&mut self.pending, id) {
                pending.push(sequence, id.token, &self.predicted, &self.scores);
                if let (Some(export), Some(rows)) = (&mut self.export, call.export) {
                    export.hold(id.token, host.unix_ms(), rows);
                }
            }
            if self.drift.watches_predictions() {
                let width = target.width.max(1);
                for (i, p) in self.predicted.iter().enumerate() {
                    let value = match (target.watched, p) {
                        (Watched::Number, Predicted::Value(v)) => Element::Number(*v),
                        (Watched::Number, _) => {
                            self.scores.get(i * width).map_or(Element::Missing, |&s| Element::Number(s as f64))
                        }
                        (Watched::Class, Predicted::Class(c)) => {
                            self.classes.get(*c).map_or(Element::Missing, |l| Element::Text(&l.text))
                        }
                        (Watched::Class, _) => Element::Missing,
                    };
                    self.drift.observe_prediction(value);
                }
            }
        }
        self.performance.record_success(rows as u64, latency_ms * 1000.0, now);
        if let Some(inputs) = call.log {
            let id = id.map(PredictionId::render);
            let entry = Entry {
                id: id.as_deref(),
                unix_ms: host.unix_ms(),
                model: &self.name,
                version: &self.version,
                latency_ms,
                rows,
            };
            self.log.push_success(&entry, outputs, inputs, &call.guard);
        }
        id
    }

    /// The call failed with `err`: counted by code, logged by code only.
    pub fn fail(&mut self, call: Option<Call>, err: &Error, started_ms: f64, host: &mut dyn Host) {
        self.performance.record_error(err.code());
        let call = match call {
            Some(call) => call,
            None => Call {
                started_ms,
                rows: 0,
                log: self.sample_log(host).then_some(None),
                guard: Vec::new(),
                export: None,
            },
        };
        if let Some(inputs) = call.log {
            let now = host.monotonic_ms();
            let entry = Entry {
                id: None,
                unix_ms: host.unix_ms(),
                model: &self.name,
                version: &self.version,
                latency_ms: now - call.started_ms,
                rows: call.rows,
            };
            self.log.push_error(&entry, err.code(), inputs, &call.guard);
        }
    }

    /// Joins ground truth to prediction `id`: one label per row (`Label::Missing` skips a
    /// row). All labels are checked before any is recorded; giving a row the same label
    /// again changes nothing. Returns the rows newly labelled.
    pub fn feedback(&mut self, id: &str, labels: &[Label]) -> Result<usize> {
        self.feedback_at(id, labels, f64::NAN)
    }

    /// `feedback`, given at `unix_ms` (the time exported rows say they were labelled; NaN for
    /// none).
    pub fn feedback_at(&mut self, id: &str, labels: &[Label], unix_ms: f64) -> Result<usize> {
        let (Some(target), Some(pending), Some(quality)) = (&self.target, &mut self.pending, &mut self.quality) else {
            return Err(Error::FeedbackInvalid(
                "this model's outputs give no class or value per row to compare with; set monitoring.task (and labelOutput or scoreOutput)".into(),
            ));
        };
        let unknown = |why: String| Error::PredictionUnknown(why);
        let parsed = PredictionId::parse(id).ok_or_else(|| unknown(format!("'{id}' is not a prediction id")));
        let parsed = match parsed {
            Ok(p) if p.instance == self.instance && self.instance != 0 => p,
            Ok(_) => {
                self.feedback.unknown += 1;
                return Err(unknown(format!(
                    "prediction '{id}' was made by another instance of the model (another isolate or process, or before it was reloaded)"
                )));
            }
            Err(e) => {
                self.feedback.unknown += 1;
                return Err(e);
            }
        };
        let found = match pending.find(parsed.token) {
            Lookup::Found(f) => f,
            Lookup::Expired => {
                self.feedback.unknown += 1;
                return Err(unknown(format!(
                    "prediction '{id}' is too old: feedback joins the last {} predicted rows (monitoring.feedbackCapacity)",
                    self.feedback_capacity
                )));
            }
            Lookup::Unknown => {
                self.feedback.unknown += 1;
                return Err(unknown(format!(
                    "no prediction '{id}' is held: this model did not make it, or it is too old (feedback joins the last {} predicted rows, monitoring.feedbackCapacity)",
                    self.feedback_capacity
                )));
            }
        };
        if labels.len() != found.rows {
            return Err(Error::FeedbackInvalid(format!(
                "prediction '{id}' has {} row{}, got {} label{}",
                found.rows,
                if found.rows == 1 { "" } else { "s" },
                labels.len(),
                if labels.len() == 1 { "" } else { "s" }
            )));
        }
        let mut truths = Vec::with_capacity(labels.len());
        for (row, label) in labels.iter().enumerate() {
            let truth = match (target.task, label) {
                (_, Label::Missing) => None,
                (target::Task::Regression, Label::Number(x)) if x.is_finite() => Some(Truth::Value(*x)),
                (target::Task::Regression, Label::Text(s)) => match s.trim().parse::<f64>() {
                    Ok(x) if x.is_finite() => Some(Truth::Value(x)),
                    _ => {
                        return Err(Error::FeedbackInvalid(format!(
                            "label {row} is {label}, expected a number for a regression"
                        )));
                    }
                },
                (target::Task::Regression, _) => {
                    return Err(Error::FeedbackInvalid(format!("label {row} is {label}, expected a finite number")));
                }
                (target::Task::Classification, Label::Number(x)) if x.fract() == 0.0 && x.abs() < 9.0e15 => Some(
                    Truth::Class(self.classes.int(*x as i64).ok_or_else(|| unknown_class(&self.classes, row, label))?),
                ),
                (target::Task::Classification, Label::Text(s)) => {
                    Some(Truth::Class(self.classes.text(s).ok_or_else(|| unknown_class(&self.classes, row, label))?))
                }
                (target::Task::Classification, _) => {
                    return Err(Error::FeedbackInvalid(format!(
                        "label {row} is {label}, expected a class (an integer or a string)"
                    )));
                }
            };
            if let (Some(new), (_, _, Some(old))) = (truth, pending.row(found, row))
                && new != old
            {
                let show = |t: Truth| match t {
                    Truth::Class(c) => self.classes.get(c).map_or_else(String::new, |l| format!("'{}'", l.text)),
                    Truth::Value(v) => v.to_string(),
                };
                return Err(Error::FeedbackInvalid(format!(
                    "row {row} of prediction '{id}' already has the label {}; got {}",
                    show(old),
                    show(new)
                )));
            }
            truths.push(truth);
        }
        let mut joined = 0;
        for (row, truth) in truths.into_iter().enumerate() {
            let Some(truth) = truth else { continue };
            let (predicted, scores, old) = pending.row(found, row);
            if old.is_some() {
                continue;
            }
            quality.push(truth, predicted, scores);
            pending.set_truth(found, row, truth);
            joined += 1;
            if let Some(export) = &mut self.export {
                let class = |c: u32| self.classes.get(c).map_or(serde_json::Value::Null, class_value);
                export.label(Labelled {
                    model: &self.name,
                    version: &self.version,
                    id,
                    token: parsed.token,
                    row,
                    prediction: match predicted {
                        Predicted::Class(c) => class(c),
                        Predicted::Value(v) => serde_json::Value::from(v),
                        _ => serde_json::Value::Null,
                    },
                    label: match truth {
                        Truth::Class(c) => class(c),
                        Truth::Value(v) => serde_json::Value::from(v),
                    },
                    unix_ms,
                });
            }
        }
        self.feedback.rows += joined as u64;
        Ok(joined)
    }

    pub fn stats(&self, now_ms: f64) -> Stats {
        let (queued, _) = self.log.queued();
        Stats {
            model: self.name.clone(),
            version: self.version.clone(),
            performance: self.performance.stats(now_ms),
            quality: self.quality_report(),
            feedback: FeedbackStats {
                pending: self.pending.as_ref().map_or(0, Pending::len),
                export: self.export.is_some(),
                exported: self.export.as_ref().map_or(0, |e| e.written),
                export_dropped: self.export.as_ref().map_or(0, |e| e.dropped),
                ..self.feedback.clone()
            },
            logs: LogStats {
                enabled: self.log.options().enabled,
                written: self.log.written,
                dropped: self.log.dropped,
                sampled_out: self.log.sampled_out,
                queued,
            },
            guard: self.guard.as_ref().map(|g| g.stats(&self.layout)),
        }
    }

    fn quality_report(&self) -> Option<QualityReport> {
        let columns = self.target.as_ref().and_then(|t| t.columns());
        self.quality.as_ref().map(|q| q.report(&self.classes, columns))
    }

    pub fn drift(&self) -> DriftReport {
        self.drift.report()
    }

    /// The Prometheus exposition, each sample labelled with `labels` (default: model and
    /// version from the options).
    pub fn prometheus(&self, labels: Option<&[(String, String)]>) -> Result<String> {
        let default = [("model".to_string(), self.name.clone()), ("version".to_string(), self.version.clone())];
        let labels = labels.unwrap_or(&default);
        for (k, _) in labels {
            let valid = k
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
            if k.is_empty()
                || !valid
                || k.starts_with("__")
                || ["le", "code", "feature", "kind", "quantile"].contains(&k.as_str())
            {
                return Err(Error::InvalidOption(format!("'{k}' cannot be a Prometheus label name here")));
            }
        }
        let quality = self.quality_report();
        let drift = self.drift.report();
        let sections = prometheus::Sections {
            performance: &self.performance,
            quality: quality.as_ref().filter(|q| q.rows > 0),
            drift: &drift,
            feedback_rows: self.feedback.rows,
            logs_written: self.log.written,
            logs_dropped: self.log.dropped,
            guard: self.guard.as_ref().map(|g| g.stats(&self.layout)),
        };
        Ok(prometheus::render(&sections, labels))
    }

    pub fn take_logs(&mut self) -> Vec<String> {
        self.log.take()
    }

    /// The labelled rows queued for export (JSON lines), emptying the queue.
    pub fn take_export(&mut self) -> Vec<String> {
        self.export.as_mut().map(Export::take).unwrap_or_default()
    }

    pub fn configure_logs(&mut self, options: LogOptions) -> Result<()> {
        if !(0.0..=1.0).contains(&options.sample_rate) {
            return Err(Error::InvalidOption(format!(
                "log sampleRate must be between 0 and 1, got {}",
                options.sample_rate
            )));
        }
        self.log.configure(options);
        Ok(())
    }

    pub fn log_options(&self) -> &LogOptions {
        self.log.options()
    }

    pub fn layout(&self) -> &FeatureLayout {
        &self.layout
    }

    /// The model's predictions on `outputs` as a column, for a reference's `prediction`.
    pub fn prediction_column(&mut self, outputs: &[(String, HostTensor)]) -> Option<(String, Column)> {
        let target = self.target.as_mut()?;
        target.extract(outputs, &mut self.classes, &mut self.predicted, &mut self.scores);
        let width = target.width.max(1);
        let column = match target.watched {
            Watched::Number => Column::Numeric(
                self.predicted
                    .iter()
                    .enumerate()
                    .map(|(i, p)| match p {
                        Predicted::Value(v) => *v,
                        _ => self.scores.get(i * width).map_or(f64::NAN, |&s| s as f64),
                    })
                    .collect(),
            ),
            Watched::Class => Column::Categorical(
                self.predicted
                    .iter()
                    .map(|p| match p {
                        Predicted::Class(c) => self.classes.get(*c).map(|l| l.text.clone()),
                        _ => None,
                    })
                    .collect(),
            ),
        };
        Some((target.watched_output.clone(), column))
    }

    pub fn footprint(&self) -> Footprint {
        Footprint {
            latency_buckets: self.performance.latency.bucket_count(),
            classes: self.classes.len(),
            pending: self.pending.as_ref().map_or((0, 0, 0), Pending::footprint),
            quality: self.quality.as_ref().map_or((0, 0), Quality::footprint),
            drift: self.drift.footprint(),
            log: self.log.queued(),
            errors: self.performance.errors.len(),
            export: self.export.as_ref().map_or((0, 0), Export::sizes),
        }
    }
}

/// A label the class table cannot hold: not one of the classes the model declares, or one
/// more than monitoring keeps.
fn unknown_class(classes: &ClassTable, row: usize, label: &Label) -> Error {
    if classes.closed() {
        return Error::FeedbackInvalid(format!(
            "label {row} is {label}, not one of the model's classes: {} (or their indices from 0)",
            classes.texts().join(", ")
        ));
    }
    Error::FeedbackInvalid(format!(
        "the model already has {} classes, the most monitoring keeps (monitoring.maxClasses)",
        classes.len()
    ))
}

/// A class as exported: its name where the model names its classes, else its integer (as a
/// scikit-learn label output gives it) or text.
fn class_value(label: &classes::ClassLabel) -> serde_json::Value {
    match label.int {
        Some(i) if label.text == i.to_string() => serde_json::Value::from(i),
        _ => serde_json::Value::String(label.text.clone()),
    }
}
