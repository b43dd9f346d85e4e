//! Labelled rows for retraining. With `monitoring.exportFeedback` on, each prediction's
//! feature values (as sent, before any guard clipped them, and without the names the logs
//! redact) are held beside the rows feedback can join, and each row feedback labels becomes
//! a JSON line: when it was predicted and labelled, the model, version, prediction id and
//! row, the features by name, the prediction and the label. Lines wait in a bounded queue for
//! the host to take; holding the features costs memory only when asked for.

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value};

use super::features::FeatureLayout;
use super::logs::{PredictionLog, iso8601, json_feature};
use crate::feeds::Feed;

/// One prediction's rows: each a map of feature name to value.
type Rows = Vec<Map<String, Value>>;

#[derive(Debug, Default)]
pub struct Export {
    /// The most rows held (the feedback ring's capacity) and the most lines queued.
    capacity: usize,
    /// Held predictions by token, oldest first in `order`.
    held: HashMap<u128, (f64, Rows)>,
    order: VecDeque<u128>,
    held_rows: usize,
    queue: VecDeque<String>,
    pub written: u64,
    pub dropped: u64,
}

/// Where a labelled row came from, for its line.
pub struct Labelled<'a> {
    pub model: &'a str,
    pub version: &'a str,
    pub id: &'a str,
    pub token: u128,
    pub row: usize,
    pub prediction: Value,
    pub label: Value,
    pub unix_ms: f64,
}

impl Export {
    pub fn new(capacity: usize) -> Self {
        Export { capacity: capacity.max(1), ..Export::default() }
    }

    /// The feature values of each row of `feeds`, without the features `log` hides.
    pub fn rows(layout: &FeatureLayout, feeds: &[(String, Feed)], log: &PredictionLog) -> Rows {
        let mut rows = vec![Map::new(); layout.rows(feeds)];
        let shown: Vec<usize> = (0..layout.features.len()).filter(|&i| !log.hides(&layout.features[i])).collect();
        for (&i, view) in shown.iter().zip(layout.views(shown.iter().copied(), feeds)) {
            let (Some(view), feature) = (view, &layout.features[i]) else { continue };
            for (r, row) in rows.iter_mut().enumerate().take(view.rows) {
                row.insert(feature.name.clone(), json_feature(view.get(r), feature.dtype()));
            }
        }
        rows
    }

    /// Holds prediction `token`'s rows, made at `unix_ms`, dropping the oldest past capacity.
    pub fn hold(&mut self, token: u128, unix_ms: f64, rows: Rows) {
        if rows.is_empty() || rows.len() > self.capacity {
            return;
        }
        self.held_rows += rows.len();
        self.held.insert(token, (unix_ms, rows));
        self.order.push_back(token);
        while self.held_rows > self.capacity {
            let Some(old) = self.order.pop_front() else { break };
            if let Some((_, rows)) = self.held.remove(&old) {
                self.held_rows -= rows.len();
            }
        }
    }

    /// Queues the line of a row feedback labelled; a row whose features are no longer held
    /// (or never were) is not exported.
    pub fn label(&mut self, l: Labelled) {
        let Some((predicted_ms, features)) = self.held.get(&l.token).and_then(|(t, rows)| Some((*t, rows.get(l.row)?)))
        else {
            return;
        };
        let mut line = Map::new();
        line.insert("predicted".into(), Value::String(iso8601(predicted_ms)));
        if l.unix_ms.is_finite() {
            line.insert("labelled".into(), Value::String(iso8601(l.unix_ms)));
        }
        line.insert("model".into(), Value::String(l.model.to_owned()));
        line.insert("version".into(), Value::String(l.version.to_owned()));
        line.insert("id".into(), Value::String(l.id.to_owned()));
        line.insert("row".into(), Value::from(l.row));
        line.insert("features".into(), Value::Object(features.clone()));
        line.insert("prediction".into(), l.prediction);
        line.insert("label".into(), l.label);
        if self.queue.len() == self.capacity {
            self.queue.pop_front();
            self.dropped += 1;
        }
        self.queue.push_back(Value::Object(line).to_string());
        self.written += 1;
    }

    /// Every queued line, oldest first, emptying the queue.
    pub fn take(&mut self) -> Vec<String> {
        self.queue.drain(..).collect()
    }

    /// Rows held and lines queued: the bounds tests check.
    pub fn sizes(&self) -> (usize, usize) {
        (self.held_rows, self.queue.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Rows {
        (0..n).map(|i| Map::from_iter([("x".to_string(), Value::from(i))])).collect()
    }

    fn labelled(token: u128, row: usize) -> Labelled<'static> {
        Labelled {
            model: "m",
            version: "2",
            id: "id",
            token,
            row,
            prediction: Value::from("a"),
            label: Value::from("b"),
            unix_ms: 1000.0,
        }
    }

    #[test]
    fn held_rows_and_queued_lines_stay_within_capacity() {
        let mut e = Export::new(4);
        e.hold(1, 0.0, rows(3));
        e.hold(2, 0.0, rows(2));
        // Prediction 1 made room for 2: five rows do not fit in four.
        assert_eq!(e.sizes(), (2, 0));
        e.label(labelled(1, 0));
        assert_eq!(e.sizes(), (2, 0), "a prediction no longer held exports nothing");
        e.label(labelled(2, 1));
        let lines = e.take();
        assert_eq!(lines.len(), 1);
        let line: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(line["features"]["x"], 1);
        assert_eq!(line["row"], 1);
        assert_eq!(line["version"], "2");
        assert_eq!(line["prediction"], "a");
        assert_eq!(line["label"], "b");
        assert_eq!(line["predicted"], "1970-01-01T00:00:00.000Z");
        assert_eq!(line["labelled"], "1970-01-01T00:00:01.000Z");
        // A batch larger than the capacity is not held at all.
        e.hold(3, 0.0, rows(5));
        assert_eq!(e.sizes(), (2, 0));
        for _ in 0..6 {
            e.label(labelled(2, 0));
        }
        assert_eq!(e.sizes(), (2, 4));
        assert_eq!(e.dropped, 2);
        assert_eq!(e.written, 7);
    }
}
