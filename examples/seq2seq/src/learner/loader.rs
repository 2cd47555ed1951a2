//! The training data loader: fresh examples every epoch, laid out so that any number of
//! devices trains on the same examples per optimizer step.
//!
//! burn-train iterates a data loader once per epoch, and its multi-device strategy cuts the
//! loader into one contiguous slice per device (`split_dataloader`, `slice(start, end)`), each
//! yielding batches of `--batch`. An epoch here is `E = eval_every` steps of `D` devices: its
//! positions `0..E·D·b` are `D` shards of `E·b`, and position `(shard d, step k, row j)` holds
//! training example `(epoch·E + k)·D·b + d·b + j` of the seeded stream. So optimizer step `k`
//! trains on examples `k·G .. (k+1)·G` (`G = D·b`) whatever `D` is: one device with batch `G`
//! sees exactly what `D` devices with batch `b` see.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::tensor::backend::Backend;

use super::step::{DateBatch, DateBatcher};
use crate::data::Splits;
use crate::train::coin_seed;

/// The shape of the run: what a position of an epoch means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Pairs per batch, on each device.
    pub batch: usize,
    /// Devices.
    pub devices: usize,
    /// Steps per epoch.
    pub epoch_steps: usize,
    /// Steps of the whole run.
    pub steps: usize,
    /// The data seed.
    pub seed: u64,
}

impl Layout {
    /// Positions per epoch (every device).
    pub fn epoch_items(&self) -> usize {
        self.epoch_steps * self.devices * self.batch
    }

    /// Steps in epoch `epoch` (from 0); the last one may be short.
    pub fn steps_in(&self, epoch: usize) -> usize {
        self.steps
            .saturating_sub(epoch * self.epoch_steps)
            .min(self.epoch_steps)
    }

    /// The number of epochs.
    pub fn epochs(&self) -> usize {
        self.steps.div_ceil(self.epoch_steps)
    }

    /// `(step within the epoch, stream index)` of `position` in epoch `epoch`.
    pub fn example(&self, epoch: usize, position: usize) -> (usize, u64) {
        let shard_items = self.epoch_steps * self.batch;
        let (shard, within) = (position / shard_items, position % shard_items);
        let (step, row) = (within / self.batch, within % self.batch);
        let global_step = epoch * self.epoch_steps + step;
        let index = (global_step * self.devices + shard) * self.batch + row;
        (step, index as u64)
    }
}

/// The training loader (see the module docs): each `iter()` is the next epoch.
pub struct FreshBatches<B: Backend> {
    splits: Arc<Splits>,
    batcher: Arc<DateBatcher>,
    layout: Layout,
    positions: Range<usize>,
    epoch: AtomicUsize,
    device: B::Device,
}

impl<B: Backend> FreshBatches<B> {
    /// The loader of every position of each epoch, on the default device.
    pub fn new(splits: Arc<Splits>, batcher: Arc<DateBatcher>, layout: Layout) -> Self {
        Self {
            splits,
            batcher,
            positions: 0..layout.epoch_items(),
            layout,
            epoch: AtomicUsize::new(0),
            device: Default::default(),
        }
    }

    /// The same loader, whose first epoch is `epoch` (0-based): for a resumed run, which
    /// continues the stream where it stopped.
    pub fn starting_at(self, epoch: usize) -> Self {
        self.epoch.store(epoch, Ordering::SeqCst);
        self
    }

    fn with(&self, positions: Range<usize>, device: B::Device) -> Self {
        Self {
            splits: Arc::clone(&self.splits),
            batcher: Arc::clone(&self.batcher),
            layout: self.layout,
            positions,
            epoch: AtomicUsize::new(self.epoch.load(Ordering::SeqCst)),
            device,
        }
    }

    /// The positions of this loader that epoch `epoch` uses, in order.
    fn live(&self, epoch: usize) -> Vec<(usize, u64)> {
        let steps = self.layout.steps_in(epoch);
        self.positions
            .clone()
            .map(|p| self.layout.example(epoch, p))
            .filter(|&(step, _)| step < steps)
            .collect()
    }
}

impl<B: Backend> DataLoader<B, DateBatch<B>> for FreshBatches<B> {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<DateBatch<B>> + 'a> {
        let epoch = self.epoch.fetch_add(1, Ordering::SeqCst);
        let live = self.live(epoch);
        Box::new(FreshIter {
            loader: self,
            total: live.len(),
            live,
            done: 0,
        })
    }

    fn num_items(&self) -> usize {
        self.positions.len()
    }

    fn to_device(&self, device: &B::Device) -> Arc<dyn DataLoader<B, DateBatch<B>>> {
        Arc::new(self.with(self.positions.clone(), device.clone()))
    }

    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<B, DateBatch<B>>> {
        let base = self.positions.start;
        let positions = base + start..base + end.min(self.positions.len());
        Arc::new(self.with(positions, self.device.clone()))
    }
}

struct FreshIter<'a, B: Backend> {
    loader: &'a FreshBatches<B>,
    live: Vec<(usize, u64)>,
    done: usize,
    total: usize,
}

impl<B: Backend> Iterator for FreshIter<'_, B> {
    type Item = DateBatch<B>;

    fn next(&mut self) -> Option<DateBatch<B>> {
        if self.done >= self.total {
            return None;
        }
        let end = (self.done + self.loader.layout.batch).min(self.total);
        let chunk = &self.live[self.done..end];
        self.done = end;
        let seed = self.loader.layout.seed;
        let pairs: Vec<(String, String)> = chunk
            .iter()
            .map(|&(_, index)| self.loader.splits.train_example(seed, index))
            .collect();
        let coins = coin_seed(seed, chunk[0].1);
        Some(
            self.loader
                .batcher
                .batch_pairs(&pairs, coins, &self.loader.device),
        )
    }
}

impl<B: Backend> DataLoaderIterator<DateBatch<B>> for FreshIter<'_, B> {
    fn progress(&self) -> Progress {
        Progress::new(self.done, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_count_trains_on_the_same_examples_per_step() {
        let one = Layout {
            batch: 8,
            devices: 1,
            epoch_steps: 3,
            steps: 7,
            seed: 1,
        };
        let two = Layout {
            batch: 4,
            devices: 2,
            ..one
        };
        assert_eq!(one.epochs(), 3);
        assert_eq!(
            [one.steps_in(0), one.steps_in(2), one.steps_in(3)],
            [3, 1, 0]
        );
        for epoch in 0..3 {
            let mut a: Vec<(usize, u64)> = (0..one.epoch_items())
                .map(|p| one.example(epoch, p))
                .collect();
            let mut b: Vec<(usize, u64)> = (0..two.epoch_items())
                .map(|p| two.example(epoch, p))
                .collect();
            a.sort();
            b.sort();
            assert_eq!(a, b, "epoch {epoch}");
            let first = (epoch * 3 * 8) as u64;
            assert_eq!(a[0], (0, first));
            assert!(a.iter().all(|&(step, i)| i / 8 == first / 8 + step as u64));
        }
    }
}
