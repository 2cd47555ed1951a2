//! The metric burn-train lacks ([`ExactMatchMetric`]) and the logger that keeps the run's
//! record for `metrics.json` and the PNG curves ([`Recorder`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn_train::logger::MetricLogger;
use burn_train::metric::state::{FormatOptions, NumericMetricState};
use burn_train::metric::store::{EpochSummary, MetricsUpdate, Split};
use burn_train::metric::{
    Metric, MetricAttributes, MetricDefinition, MetricId, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};
use burn_train::Interrupter;

/// Greedy exact matches of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExactMatchInput {
    /// Outputs equal to their target (and ended with EOS).
    pub right: usize,
    /// Examples decoded.
    pub total: usize,
}

/// The share of examples whose greedy decoding is exactly the target, in %.
#[derive(Clone)]
pub struct ExactMatchMetric {
    name: MetricName,
    state: NumericMetricState,
}

impl ExactMatchMetric {
    /// The name it is shown and logged under.
    pub const NAME: &'static str = "Exact Match";

    /// A new metric.
    pub fn new() -> Self {
        Self {
            name: Arc::new(Self::NAME.to_string()),
            state: NumericMetricState::new(),
        }
    }
}

impl Default for ExactMatchMetric {
    fn default() -> Self {
        Self::new()
    }
}

impl Metric for ExactMatchMetric {
    type Input = ExactMatchInput;

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn description(&self) -> Option<String> {
        Some("greedy decoding equal to the target".into())
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("%".into()),
            higher_is_better: true,
        }
        .into()
    }

    fn update(&mut self, item: &ExactMatchInput, _: &MetricMetadata) -> SerializedEntry {
        let share = 100.0 * item.right as f64 / item.total.max(1) as f64;
        let format = FormatOptions::new(self.name()).unit("%").precision(2);
        self.state.update(share, item.total, format)
    }

    fn clear(&mut self) {
        self.state.reset();
    }
}

impl Numeric for ExactMatchMetric {
    fn value(&self) -> NumericEntry {
        self.state.current_value()
    }

    fn running_value(&self) -> NumericEntry {
        self.state.running_value()
    }
}

/// A weighted mean.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Mean {
    sum: f64,
    weight: f64,
}

impl Mean {
    /// Adds `value` with `weight`.
    pub fn add(&mut self, value: f64, weight: f64) {
        self.sum += value * weight;
        self.weight += weight;
    }

    /// The mean, or `None` before the first value.
    pub fn get(&self) -> Option<f64> {
        (self.weight > 0.0).then(|| self.sum / self.weight)
    }
}

/// A numeric entry as `(value, weight)`.
pub fn weighted(entry: &NumericEntry) -> (f64, f64) {
    match entry {
        NumericEntry::Value(v) => (*v, 1.0),
        NumericEntry::Aggregated {
            aggregated_value,
            count,
        } => (*aggregated_value, *count as f64),
    }
}

/// What a run's [`Recorder`] saw.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// The training loss of every item (one per device per step), in order of arrival.
    pub train_losses: Vec<f64>,
    /// Per epoch: the number of training items.
    pub train_items: BTreeMap<usize, usize>,
    /// Per epoch: the mean of each validation metric, by name.
    pub valid: BTreeMap<usize, HashMap<String, Mean>>,
    /// Per epoch: seconds from the start of the run to the end of its validation.
    pub valid_seconds: BTreeMap<usize, f64>,
    /// The first non-finite training loss, with its epoch.
    pub diverged: Option<(usize, f64)>,
}

/// A [`MetricLogger`] that keeps the run's numbers in memory and stops the run (through its
/// [`Interrupter`]) when the training loss is not finite.
pub struct Recorder {
    record: Arc<Mutex<Record>>,
    names: HashMap<MetricId, String>,
    interrupter: Interrupter,
    start: Instant,
    /// Seconds of the run before `start` (a resumed run's earlier sessions).
    offset: f64,
    /// Where the record is saved after each validation (`record-{epoch}.json`).
    dir: Option<std::path::PathBuf>,
    /// The epoch being trained (1-based). Counted here from the validation summaries: in the
    /// first epoch of a resumed run, burn-train 0.21 passes `log` an epoch counted from 1.
    epoch: usize,
}

impl Recorder {
    /// A recorder, and the handle to read what it saw.
    pub fn new(interrupter: Interrupter, start: Instant) -> (Self, Arc<Mutex<Record>>) {
        Self::resumed(interrupter, start, Record::default(), None)
    }

    /// A recorder that goes on from `record` (a resumed run's, its seconds included) and
    /// saves the record into `dir` after each validation, as `record-{epoch}.json`.
    pub fn resumed(
        interrupter: Interrupter,
        start: Instant,
        record: Record,
        dir: Option<std::path::PathBuf>,
    ) -> (Self, Arc<Mutex<Record>>) {
        let offset = record.valid_seconds.values().last().copied().unwrap_or(0.0);
        let epoch = record.valid_seconds.keys().last().map_or(1, |e| e + 1);
        let record = Arc::new(Mutex::new(record));
        let recorder = Self {
            record: Arc::clone(&record),
            names: HashMap::new(),
            interrupter,
            start,
            offset,
            dir,
            epoch,
        };
        (recorder, record)
    }

    /// The record file of `epoch` in a learner folder.
    pub fn file(dir: &std::path::Path, epoch: usize) -> std::path::PathBuf {
        dir.join(format!("record-{epoch}.json"))
    }
}

impl MetricLogger for Recorder {
    fn log(&mut self, update: MetricsUpdate, _: usize, split: &Split) {
        let epoch = self.epoch;
        let mut record = self.record.lock().expect("record lock");
        for numeric in &update.entries_numeric {
            let Some(name) = self.names.get(&numeric.entry.metric_id) else {
                continue;
            };
            let (value, weight) = weighted(&numeric.numeric_entry);
            match split {
                Split::Train if name == "Loss" => {
                    record.train_losses.push(value);
                    *record.train_items.entry(epoch).or_default() += 1;
                    if !value.is_finite() && record.diverged.is_none() {
                        record.diverged = Some((epoch, value));
                        self.interrupter.stop(Some("the training loss diverged"));
                    }
                }
                Split::Valid => record
                    .valid
                    .entry(epoch)
                    .or_default()
                    .entry(name.clone())
                    .or_default()
                    .add(value, weight),
                _ => {}
            }
        }
    }

    fn read_numeric(
        &mut self,
        name: &str,
        _: usize,
        _: &Split,
    ) -> Result<Vec<NumericEntry>, String> {
        Err(format!(
            "the recorder does not serve {name}; the file logger does"
        ))
    }

    fn log_metric_definition(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }

    fn log_epoch_summary(&mut self, summary: EpochSummary) {
        if summary.split == Split::Valid {
            let seconds = self.offset + self.start.elapsed().as_secs_f64();
            let mut record = self.record.lock().expect("record lock");
            record.valid_seconds.insert(summary.epoch_number, seconds);
            self.epoch = summary.epoch_number + 1;
            if let Some(dir) = &self.dir {
                let path = Self::file(dir, summary.epoch_number);
                if let Err(e) = rnn_example_common::write_json(&path, &*record) {
                    // A run that cannot save its record stops, as on a failed checkpoint.
                    self.interrupter.stop(Some(&e.to_string()));
                }
            }
        }
    }
}
