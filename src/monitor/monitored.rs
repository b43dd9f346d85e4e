//! A model with its monitor: every prediction goes through here, timed on the host's clock
//! from before its feeds are converted to after its outputs are ready, and failures of any
//! kind (a malformed feeds object as much as a wrong shape) are counted by their code.

use crate::error::Result;
use crate::feeds::Feed;
use crate::model::Model;
use crate::tensor::HostTensor;

use super::drift::DriftReport;
use super::logs::LogOptions;
use super::reference::{Column, Reference};
use super::{Footprint, Host, Label, Monitor, MonitorOptions, PredictionId, Stats};

pub struct MonitoredModel {
    model: Model,
    /// `None` when monitoring is off.
    monitor: Option<Monitor>,
}

/// A prediction's outputs and, when monitored, its id (for feedback; `render()` spells it).
#[derive(Debug)]
pub struct Prediction {
    pub outputs: Vec<(String, HostTensor)>,
    pub id: Option<PredictionId>,
}

impl std::fmt::Debug for MonitoredModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoredModel").field("model", &self.model).field("monitor", &self.monitor).finish()
    }
}

impl MonitoredModel {
    pub fn new(model: Model, options: MonitorOptions) -> Result<MonitoredModel> {
        let monitor = if options.enabled {
            let inputs: Vec<_> = model.inputs().cloned().collect();
            Some(Monitor::new(&inputs, model.outputs(), model.metadata(), options)?)
        } else {
            None
        };
        Ok(MonitoredModel { model, monitor })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model itself, for work that is not a prediction (profiling): unmonitored.
    pub fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    pub fn monitor(&self) -> Option<&Monitor> {
        self.monitor.as_ref()
    }

    fn monitor_mut(&mut self) -> Result<&mut Monitor> {
        self.monitor.as_mut().ok_or_else(off)
    }

    /// Runs the model on the feeds `convert` makes (the binding's conversion from JS, timed
    /// with the rest).
    pub fn predict(
        &mut self,
        host: &mut dyn Host,
        convert: impl FnOnce() -> Result<Vec<(String, Feed)>>,
    ) -> Result<Prediction> {
        let Some(monitor) = &mut self.monitor else {
            return Ok(Prediction { outputs: self.model.predict(convert()?)?, id: None });
        };
        let started_ms = host.monotonic_ms();
        let mut feeds = match convert() {
            Ok(feeds) => feeds,
            Err(e) => {
                monitor.fail(None, &e, started_ms, host);
                return Err(e);
            }
        };
        let call = monitor.start(&mut feeds, started_ms, host)?;
        match self.model.predict(feeds) {
            Ok(outputs) => {
                let id = monitor.succeed(call, &outputs, host);
                Ok(Prediction { outputs, id })
            }
            Err(e) => {
                monitor.fail(Some(call), &e, started_ms, host);
                Err(e)
            }
        }
    }

    pub fn feedback(&mut self, id: &str, labels: &[Label], host: &mut dyn Host) -> Result<usize> {
        let now = host.unix_ms();
        self.monitor_mut()?.feedback_at(id, labels, now)
    }

    /// Labelled rows queued for export (`exportFeedback`), as JSON lines.
    pub fn take_export(&mut self) -> Result<Vec<String>> {
        Ok(self.monitor_mut()?.take_export())
    }

    pub fn stats(&self, host: &mut dyn Host) -> Result<Stats> {
        Ok(self.monitor.as_ref().ok_or_else(off)?.stats(host.monotonic_ms()))
    }

    pub fn drift(&self) -> Result<DriftReport> {
        Ok(self.monitor.as_ref().ok_or_else(off)?.drift())
    }

    pub fn prometheus(&self, labels: Option<&[(String, String)]>) -> Result<String> {
        self.monitor.as_ref().ok_or_else(off)?.prometheus(labels)
    }

    pub fn take_logs(&mut self) -> Vec<String> {
        self.monitor.as_mut().map(Monitor::take_logs).unwrap_or_default()
    }

    pub fn configure_logs(&mut self, options: LogOptions) -> Result<()> {
        self.monitor_mut()?.configure_logs(options)
    }

    pub fn log_options(&self) -> Option<&LogOptions> {
        self.monitor.as_ref().map(Monitor::log_options)
    }

    pub fn footprint(&self) -> Option<Footprint> {
        self.monitor.as_ref().map(Monitor::footprint)
    }

    /// Reference statistics of a training sample given as this model's feeds: its features
    /// as drift detection will see them, and the model's predictions on it. Does not count
    /// as traffic.
    pub fn build_reference(&mut self, feeds: Vec<(String, Feed)>) -> Result<Reference> {
        let monitor = self.monitor.as_mut().ok_or_else(off)?;
        let layout = monitor.layout().clone();
        let columns: Vec<(String, Column)> = (0..layout.features.len())
            .filter_map(|i| {
                let view = layout.values(i, &feeds)?;
                let column = if (0..view.rows).any(|r| matches!(view.get(r), super::elements::Element::Text(_))) {
                    Column::Categorical(
                        (0..view.rows)
                            .map(|r| match view.get(r) {
                                super::elements::Element::Text(s) => Some(s.to_owned()),
                                super::elements::Element::Number(x) if !x.is_nan() => {
                                    Some(super::features::format_number(x))
                                }
                                _ => None,
                            })
                            .collect(),
                    )
                } else {
                    Column::Numeric(
                        (0..view.rows)
                            .map(|r| match view.get(r) {
                                super::elements::Element::Number(x) => x,
                                _ => f64::NAN,
                            })
                            .collect(),
                    )
                };
                Some((layout.features[i].name.clone(), column))
            })
            .collect();
        let mut reference = Reference::from_columns(&columns)?;
        let outputs = self.model.predict(feeds)?;
        if let Some((name, column)) = monitor.prediction_column(&outputs) {
            reference.prediction = Some(super::reference::FeatureReference::from_column(&name, &column));
        }
        Ok(reference)
    }

    /// Reference statistics of named columns (a CSV's), run through the model.
    pub fn build_reference_from_columns(&mut self, columns: &[(String, Column)]) -> Result<Reference> {
        let monitor = self.monitor.as_ref().ok_or_else(off)?;
        let inputs: Vec<_> = self.model.inputs().cloned().collect();
        let feeds = monitor.layout().feeds(&inputs, columns)?;
        self.build_reference(feeds)
    }
}

fn off() -> crate::error::Error {
    crate::error::Error::InvalidOption("monitoring is off for this model (it was loaded with monitoring: false)".into())
}
