//! Prediction logs: one JSON line per sampled prediction (id, time, model and version,
//! latency, outputs, and the inputs only when asked for), queued for the host to hand to its
//! sink (console, a callback, a Workers Queue). Redacted names (inputs, features, outputs)
//! are left out when a line is built, so no sink can ever receive them. The queue is bounded
//! in lines and bytes, and each tensor in a line in values; the oldest lines go first.

use std::collections::VecDeque;

use serde::Serialize;
use serde_json::{Map, Value};

use super::elements::{Element, element};
use super::features::{Feature, FeatureLayout};
use super::guard::Finding;
use super::random::Random;
use crate::dtype::DType;
use crate::feeds::Feed;
use crate::tensor::{HostTensor, MapKeys, Values};

#[derive(Debug, Clone, PartialEq)]
pub struct LogOptions {
    pub enabled: bool,
    /// The share of predictions logged, in [0, 1].
    pub sample_rate: f64,
    pub include_inputs: bool,
    /// Input, feature and output names never logged.
    pub redact: Vec<String>,
    /// Lines and bytes held until the host takes them.
    pub max_lines: usize,
    pub max_bytes: usize,
    /// Values logged per tensor or feature; longer ones are cut and marked `truncated`.
    pub max_values: usize,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            enabled: false,
            sample_rate: 1.0,
            include_inputs: false,
            redact: Vec::new(),
            max_lines: 1000,
            max_bytes: 1 << 20,
            max_values: 1000,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PredictionLog {
    options: LogOptions,
    queue: VecDeque<String>,
    bytes: usize,
    pub written: u64,
    pub dropped: u64,
    pub sampled_out: u64,
}

/// The identity and timing of one logged call.
pub struct Entry<'a> {
    pub id: Option<&'a str>,
    pub unix_ms: f64,
    pub model: &'a str,
    pub version: &'a str,
    pub latency_ms: f64,
    pub rows: usize,
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    time: String,
    model: &'a str,
    version: &'a str,
    latency_ms: f64,
    rows: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inputs: Option<Map<String, Value>>,
    /// What the input guard found: features and kinds, never values.
    #[serde(skip_serializing_if = "<[Finding]>::is_empty")]
    guard: &'a [Finding],
}

impl PredictionLog {
    pub fn new(options: LogOptions) -> Self {
        PredictionLog { options, ..PredictionLog::default() }
    }

    pub fn options(&self) -> &LogOptions {
        &self.options
    }

    /// New options; lines already queued stay (they were built under the old ones).
    pub fn configure(&mut self, options: LogOptions) {
        self.options = options;
        self.trim();
    }

    /// Whether this call is logged: decided before it runs, so that inputs are captured only
    /// for calls that will be.
    /// Whether to log this call; without a generator (no entropy yet) only a rate of 1 logs.
    pub fn sample(&mut self, random: Option<&mut Random>) -> bool {
        if !self.options.enabled {
            return false;
        }
        let keep = self.options.sample_rate >= 1.0 || random.is_some_and(|r| r.next_f64() < self.options.sample_rate);
        if !keep {
            self.sampled_out += 1;
        }
        keep
    }

    fn redacted(&self, name: &str) -> bool {
        self.options.redact.iter().any(|r| r == name)
    }

    /// Whether `feature` is never written: its input, name or position is redacted.
    pub(crate) fn hides(&self, feature: &Feature) -> bool {
        self.redacted(&feature.input) || self.redacted(&feature.name) || self.redacted(&feature.positional_name())
    }

    /// The inputs as logged, if inputs are logged: features by name (a value per row), and
    /// inputs that carry no features as `{ shape, data }`.
    pub fn inputs(&self, layout: &FeatureLayout, feeds: &[(String, Feed)]) -> Option<Map<String, Value>> {
        if !self.options.include_inputs {
            return None;
        }
        let mut out = Map::new();
        for (name, feed) in feeds {
            if self.redacted(name) {
                continue;
            }
            let features: Vec<usize> =
                (0..layout.features.len()).filter(|&i| &layout.features[i].input == name).collect();
            if features.is_empty() {
                out.insert(name.clone(), self.tensor(&feed.tensor));
                continue;
            }
            for i in features {
                let feature = &layout.features[i];
                if self.hides(feature) {
                    continue;
                }
                let Some(view) = layout.values(i, feeds) else { continue };
                let rows = view.rows.min(self.options.max_values);
                let values: Vec<Value> = (0..rows).map(|r| json_feature(view.get(r), feature.dtype())).collect();
                out.insert(feature.name.clone(), Value::Array(values));
            }
        }
        Some(out)
    }

    fn outputs(&self, outputs: &[(String, HostTensor)]) -> Map<String, Value> {
        outputs
            .iter()
            .filter(|(name, _)| !self.redacted(name))
            .map(|(name, t)| (name.clone(), self.tensor(t)))
            .collect()
    }

    fn tensor(&self, t: &HostTensor) -> Value {
        let mut o = Map::new();
        o.insert("shape".into(), Value::from(t.shape.clone()));
        let max = self.options.max_values;
        let data: Vec<Value> = match &t.values {
            Values::Map { keys, probabilities } => {
                let names: Vec<String> = match keys {
                    MapKeys::String(v) => v.clone(),
                    MapKeys::Int64(v) => v.iter().map(i64::to_string).collect(),
                };
                probabilities
                    .chunks(names.len().max(1))
                    .take(max)
                    .map(|row| Value::Object(names.iter().cloned().zip(row.iter().map(|&p| json_f32(p))).collect()))
                    .collect()
            }
            Values::Float32(v) => v.iter().take(max).map(|&x| json_f32(x)).collect(),
            values => (0..values.len().min(max)).map(|i| json_element(element(values, i, false))).collect(),
        };
        if t.values.len() > max {
            o.insert("truncated".into(), Value::Bool(true));
        }
        o.insert("data".into(), Value::Array(data));
        Value::Object(o)
    }

    pub fn push_success(
        &mut self,
        entry: &Entry,
        outputs: &[(String, HostTensor)],
        inputs: Option<Map<String, Value>>,
        guard: &[Finding],
    ) {
        let outputs = Some(self.outputs(outputs));
        self.push(entry, None, outputs, inputs, guard);
    }

    /// A failed call: its error code only, as messages can quote input values.
    pub fn push_error(&mut self, entry: &Entry, code: &str, inputs: Option<Map<String, Value>>, guard: &[Finding]) {
        self.push(entry, Some(code), None, inputs, guard);
    }

    fn push(
        &mut self,
        e: &Entry,
        error: Option<&str>,
        outputs: Option<Map<String, Value>>,
        inputs: Option<Map<String, Value>>,
        guard: &[Finding],
    ) {
        let line = Line {
            id: e.id,
            time: iso8601(e.unix_ms),
            model: e.model,
            version: e.version,
            latency_ms: e.latency_ms,
            rows: e.rows,
            error,
            outputs,
            inputs,
            guard,
        };
        let Ok(text) = serde_json::to_string(&line) else { return };
        self.bytes += text.len();
        self.queue.push_back(text);
        self.written += 1;
        self.trim();
    }

    fn trim(&mut self) {
        while self.queue.len() > self.options.max_lines
            || (self.bytes > self.options.max_bytes && !self.queue.is_empty())
        {
            if let Some(old) = self.queue.pop_front() {
                self.bytes -= old.len();
                self.dropped += 1;
            }
        }
    }

    /// Every queued line, oldest first, emptying the queue.
    pub fn take(&mut self) -> Vec<String> {
        self.bytes = 0;
        self.queue.drain(..).collect()
    }

    pub fn queued(&self) -> (usize, usize) {
        (self.queue.len(), self.bytes)
    }
}

pub(crate) fn json_element(e: Element) -> Value {
    match e {
        Element::Number(x) => serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number),
        Element::Text(s) => Value::String(s.to_owned()),
        Element::Missing => Value::Null,
    }
}

/// A feature's value: a float32 or float16 one as the shortest decimal that reads back as
/// it, as the caller sent it (6.7, not 6.699999809265137).
pub(crate) fn json_feature(e: Element, dtype: DType) -> Value {
    match e {
        Element::Number(x) if matches!(dtype, DType::Float32 | DType::Float16) => json_f32(x as f32),
        e => json_element(e),
    }
}

/// An f32 as the shortest decimal that reads back as it (0.3, not 0.30000001192092896).
fn json_f32(x: f32) -> Value {
    let shortest: f64 = x.to_string().parse().unwrap_or(f64::NAN);
    serde_json::Number::from_f64(shortest).map_or(Value::Null, Value::Number)
}

/// `2026-11-25T12:00:00.123Z` from milliseconds since the Unix epoch (proleptic Gregorian,
/// Howard Hinnant's days-to-civil).
pub fn iso8601(unix_ms: f64) -> String {
    if !unix_ms.is_finite() {
        return String::new();
    }
    let ms = unix_ms.floor() as i64;
    let (days, ms_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType;
    use crate::schema::{Dim, TensorInfo};

    #[test]
    fn dates() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(951_782_400_000.0), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso8601(1_795_608_000_123.0), "2026-11-25T12:00:00.123Z");
        assert_eq!(iso8601(-1.0), "1969-12-31T23:59:59.999Z");
    }

    type Named<T> = Vec<(String, T)>;

    fn fixture() -> (FeatureLayout, Named<Feed>, Named<HostTensor>) {
        let inputs = [
            TensorInfo::new("x", DType::Float32, vec![Dim::Symbolic("N".into()), Dim::Fixed(2)]),
            TensorInfo::new("email", DType::String, vec![Dim::Symbolic("N".into())]),
        ];
        let meta = [("feature_names".to_string(), "age,ssn".to_string())];
        let layout = FeatureLayout::of(&inputs, &meta, None).unwrap();
        let feeds = vec![
            (
                "x".to_string(),
                Feed::new(HostTensor::new(vec![2, 2], Values::Float32(vec![41.0, 123456789.0, 33.0, 987654321.0]))),
            ),
            (
                "email".to_string(),
                Feed::new(HostTensor::new(vec![2], Values::String(vec!["a@b.c".into(), "d@e.f".into()]))),
            ),
        ];
        let outputs = vec![
            ("score".to_string(), HostTensor::new(vec![2, 1], Values::Float32(vec![0.3, 0.7]))),
            ("secret_out".to_string(), HostTensor::new(vec![2], Values::Int64(vec![5555, 6666]))),
        ];
        (layout, feeds, outputs)
    }

    fn entry() -> Entry<'static> {
        Entry { id: Some("0000abcd-1"), unix_ms: 0.0, model: "m", version: "1", latency_ms: 0.25, rows: 2 }
    }

    #[test]
    fn lines_hold_what_was_asked_and_never_what_is_redacted() {
        let (layout, feeds, outputs) = fixture();
        let options = LogOptions {
            enabled: true,
            include_inputs: true,
            redact: vec!["ssn".into(), "email".into(), "secret_out".into()],
            ..LogOptions::default()
        };
        let mut log = PredictionLog::new(options);
        let inputs = log.inputs(&layout, &feeds);
        log.push_success(&entry(), &outputs, inputs, &[]);
        let inputs = log.inputs(&layout, &feeds);
        log.push_error(&entry(), "E_INPUT_SHAPE", inputs, &[]);
        let lines = log.take();
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(first["id"], "0000abcd-1");
        assert_eq!(first["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(first["latency_ms"], 0.25);
        assert_eq!(first["outputs"]["score"]["data"], serde_json::json!([0.3, 0.7]));
        assert_eq!(first["inputs"]["age"], serde_json::json!([41.0, 33.0]));
        assert_eq!(serde_json::from_str::<Value>(&lines[1]).unwrap()["error"], "E_INPUT_SHAPE");
        for line in &lines {
            for secret in ["ssn", "123456789", "987654321", "email", "a@b.c", "secret_out", "5555"] {
                assert!(!line.contains(secret), "{secret} in {line}");
            }
        }
        // Without include_inputs, no inputs at all.
        let mut plain = PredictionLog::new(LogOptions { enabled: true, ..LogOptions::default() });
        let inputs = plain.inputs(&layout, &feeds);
        plain.push_success(&entry(), &outputs, inputs, &[]);
        assert!(!plain.take()[0].contains("inputs"));
        // A column answers to its position too: redacting x[1] hides what the model calls ssn.
        let mut by_position = PredictionLog::new(LogOptions {
            enabled: true,
            include_inputs: true,
            redact: vec!["x[1]".into()],
            ..LogOptions::default()
        });
        let inputs = by_position.inputs(&layout, &feeds);
        by_position.push_success(&entry(), &outputs, inputs, &[]);
        let line = &by_position.take()[0];
        assert!(line.contains("\"age\"") && !line.contains("ssn") && !line.contains("123456789"), "{line}");
    }

    #[test]
    fn sampling_and_bounds() {
        let (layout, feeds, outputs) = fixture();
        let mut random = Random::new([11; 32]);
        let mut log =
            PredictionLog::new(LogOptions { enabled: true, sample_rate: 0.1, max_lines: 50, ..LogOptions::default() });
        for _ in 0..10_000 {
            if log.sample(Some(&mut random)) {
                log.push_success(&entry(), &outputs, None, &[]);
            }
        }
        assert!((900..1100).contains(&log.written), "{} of 10,000 sampled at 10%", log.written);
        assert_eq!(log.queued().0, 50);
        assert_eq!(log.dropped, log.written - 50);
        let mut tight = PredictionLog::new(LogOptions {
            enabled: true,
            include_inputs: true,
            max_bytes: 1000,
            max_values: 1,
            ..LogOptions::default()
        });
        for _ in 0..100 {
            let inputs = tight.inputs(&layout, &feeds);
            tight.push_success(&entry(), &outputs, inputs, &[]);
        }
        let (lines, bytes) = tight.queued();
        assert!(bytes <= 1000 && lines > 0, "{lines} lines, {bytes} bytes");
        let line: Value = serde_json::from_str(&tight.take()[0]).unwrap();
        assert_eq!(line["outputs"]["score"]["truncated"], true);
        assert_eq!(line["inputs"]["age"], serde_json::json!([41.0]));
        let mut off = PredictionLog::new(LogOptions::default());
        assert!(!off.sample(Some(&mut random)));
    }
}
