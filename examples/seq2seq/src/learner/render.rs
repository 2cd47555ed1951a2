//! The renderer for runs without the terminal dashboard (`--no-tui`, `--quiet`, or standard
//! output not a terminal): one line per validation, or nothing.
//!
//! burn-train's own fallback, `CliMetricsRenderer`, prints a debug dump of every training
//! item; this prints what the example's loop printed before it moved to the Learner.

use std::collections::HashMap;
use std::time::Instant;

use burn_train::metric::{MetricDefinition, MetricId};
use burn_train::renderer::{
    EvaluationName, EvaluationProgress, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining, ProgressType, TrainingProgress,
};

use super::metrics::{weighted, ExactMatchMetric, Mean};

/// Prints `step  seconds  loss  validation loss, token accuracy, exact match` after each
/// validation (nothing when quiet).
pub struct LineRenderer {
    quiet: bool,
    epoch_steps: usize,
    steps: usize,
    start: Instant,
    names: HashMap<MetricId, String>,
    train_loss: Mean,
    valid: HashMap<String, Mean>,
}

impl LineRenderer {
    /// A renderer for a run of `steps` in epochs of `epoch_steps`.
    pub fn new(quiet: bool, epoch_steps: usize, steps: usize, start: Instant) -> Self {
        Self {
            quiet,
            epoch_steps,
            steps,
            start,
            names: HashMap::new(),
            train_loss: Mean::default(),
            valid: HashMap::new(),
        }
    }

    fn numeric(&self, state: &MetricState) -> Option<(String, f64, f64)> {
        match state {
            MetricState::Numeric(entry, value) => {
                let name = self.names.get(&entry.metric_id)?.clone();
                let (v, w) = weighted(value);
                Some((name, v, w))
            }
            MetricState::Generic(_) => None,
        }
    }
}

impl MetricsRendererTraining for LineRenderer {
    fn update_train(&mut self, state: MetricState) {
        if let Some((name, value, weight)) = self.numeric(&state) {
            if name == "Loss" {
                self.train_loss.add(value, weight);
            }
        }
    }

    fn update_valid(&mut self, state: MetricState) {
        if let Some((name, value, weight)) = self.numeric(&state) {
            self.valid.entry(name).or_default().add(value, weight);
        }
    }

    fn render_train(&mut self, _: TrainingProgress, _: Vec<ProgressType>) {}

    fn render_valid(&mut self, item: TrainingProgress, _: Vec<ProgressType>) {
        let Some(progress) = &item.progress else {
            return;
        };
        if progress.items_processed < progress.items_total {
            return;
        }
        let epoch = item.global_progress.items_processed;
        let step = (epoch * self.epoch_steps).min(self.steps);
        let get = |valid: &HashMap<String, Mean>, name: &str| {
            valid.get(name).and_then(Mean::get).unwrap_or(f64::NAN)
        };
        if !self.quiet {
            println!(
                "step {step:>5}  {:>6.1} s  loss {:.4}  validation: loss {:.4}, token accuracy \
                 {:.2}%, exact match {:.2}%",
                self.start.elapsed().as_secs_f64(),
                self.train_loss.get().unwrap_or(f64::NAN),
                get(&self.valid, "Loss"),
                get(&self.valid, "Accuracy"),
                get(&self.valid, ExactMatchMetric::NAME),
            );
        }
        self.train_loss = Mean::default();
        self.valid.clear();
    }
}

impl MetricsRendererEvaluation for LineRenderer {
    fn update_test(&mut self, _: EvaluationName, _: MetricState) {}

    fn render_test(&mut self, _: EvaluationProgress, _: Vec<ProgressType>) {}
}

impl MetricsRenderer for LineRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.names.insert(definition.metric_id, definition.name);
    }
}
