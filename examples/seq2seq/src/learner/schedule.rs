//! The learning-rate schedule and the checkpointing rule, as burn-train components.

use std::collections::VecDeque;

use burn::lr_scheduler::LrScheduler;
use burn::tensor::backend::Backend;
use burn_train::checkpoint::{CheckpointingAction, CheckpointingStrategy};
use burn_train::metric::store::EventStoreClient;

use crate::train::learning_rate;

/// Linear warmup, then cosine decay to 5% of the peak ([`learning_rate`]), one step per
/// optimizer step.
#[derive(Clone, Debug)]
pub struct WarmupCosine {
    /// Peak learning rate.
    pub peak: f64,
    /// Warmup steps.
    pub warmup: usize,
    /// Steps of the run.
    pub steps: usize,
    /// Steps taken.
    pub step: usize,
}

impl LrScheduler for WarmupCosine {
    type Record<B: Backend> = usize;

    fn step(&mut self) -> f64 {
        self.step += 1;
        learning_rate(self.peak, self.warmup, self.steps, self.step)
    }

    fn to_record<B: Backend>(&self) -> usize {
        self.step
    }

    fn load_record<B: Backend>(mut self, step: usize) -> Self {
        self.step = step;
        self
    }
}

/// Save every `every` epochs and after the last one; keep the last `keep` saved.
#[derive(Clone, Debug)]
pub struct EveryEpochs {
    /// Epochs between saves.
    pub every: usize,
    /// The last epoch of the run.
    pub last: usize,
    /// Checkpoints kept.
    pub keep: usize,
    saved: VecDeque<usize>,
}

impl EveryEpochs {
    /// The rule for a run of `last` epochs.
    pub fn new(every: usize, last: usize, keep: usize) -> Self {
        Self {
            every: every.max(1),
            last,
            keep: keep.max(1),
            saved: VecDeque::new(),
        }
    }
}

impl EveryEpochs {
    /// The rule for a run resumed after `saved` epochs were saved (oldest first): they are
    /// deleted in turn as new ones are saved.
    pub fn resumed(mut self, saved: impl IntoIterator<Item = usize>) -> Self {
        self.saved.extend(saved);
        self
    }
}

impl CheckpointingStrategy for EveryEpochs {
    fn checkpointing(&mut self, epoch: usize, _: &EventStoreClient) -> Vec<CheckpointingAction> {
        if !epoch.is_multiple_of(self.every) && epoch != self.last {
            return Vec::new();
        }
        let mut actions = vec![CheckpointingAction::Save];
        self.saved.push_back(epoch);
        while self.saved.len() > self.keep {
            let old = self.saved.pop_front().expect("longer than keep");
            actions.push(CheckpointingAction::Delete(old));
        }
        actions
    }
}
