//! Training through burn-train's `Learner`: what `train` runs.
//!
//! - [`DateModel`] wraps the seq2seq model with its [`TrainStep`](burn_train::TrainStep)
//!   (teacher-forced or scheduled forward, `sequence_cross_entropy` with label smoothing) and
//!   [`InferenceStep`](burn_train::InferenceStep) (the same loss, plus greedy decoding).
//! - Metrics: loss and token accuracy (burn-train's `LossMetric` and `AccuracyMetric` with
//!   the pad id) on both splits, the learning rate while training, and greedy exact match
//!   ([`ExactMatchMetric`]) on validation. An epoch is `--eval-every` steps; validation runs
//!   after each.
//! - Burn's file checkpointer saves model, optimizer and schedule in `<out>/learner/checkpoint/`
//!   ([`EveryEpochs`] picks when); the model checkpoint that `eval` and `translate` read is
//!   written at the end.
//! - The renderer is burn-train's terminal dashboard when standard output is a terminal, else
//!   (and with `--no-tui` or `--quiet`) [`LineRenderer`].
//! - `--devices N` (N > 1) runs burn-train's `ExecutionStrategy::MultiDevice` with
//!   `MultiDeviceOptim::OptimMainDevice`: one worker thread per device runs the forward and
//!   backward of its slice of the data ([`FreshBatches`]), the gradients are summed on the
//!   first device and one optimizer step runs there. The training backend is unchanged
//!   (`Autodiff<NdArray>` by default), so the layers run burn-rnn's fused kernels through its
//!   `RnnBackend` impls on every device.

mod loader;
mod metrics;
mod render;
mod schedule;
mod step;

pub use loader::{FreshBatches, Layout};
pub use metrics::{ExactMatchInput, ExactMatchMetric, Mean, Record, Recorder};
pub use render::LineRenderer;
pub use schedule::{EveryEpochs, WarmupCosine};
pub use step::{DateBatch, DateBatcher, DateModel, DateOutput};

use std::io::IsTerminal;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use burn::data::dataloader::{DataLoader, DataLoaderBuilder};
use burn::data::dataset::InMemDataset;
use burn::optim::{adaptor::OptimizerAdaptor, Adam};
use burn::record::FullPrecisionSettings;
use burn::tensor::Device;
use burn_rnn::AnyCell;
use burn_seq2seq::Seq2Seq;
use rnn_example_common::record::{self, CheckedRecorder};

use crate::checkpoint;
use burn_train::logger::FileMetricLogger;
use burn_train::metric::{AccuracyMetric, LearningRateMetric, LossMetric};
use burn_train::renderer::tui::TuiMetricsRendererWrapper;
use burn_train::{
    ExecutionStrategy, Interrupter, Learner, LearningComponentsMarker, MultiDeviceOptim,
    SupervisedTraining, TrainingStrategy,
};

use crate::data::Splits;
use crate::error::Error;
use crate::train::{
    checkpoint_dir, checkpoint_meta, create_run_dir, describe, exact_match, init_model,
    learner_dir, model_config, new_progress, optimizer_config, vocabularies, write_outputs,
    Progress, Summary, TrainArgs,
};
use crate::{AD, B};

/// Validation batch size (greedy decoding of 500 sources at once).
const VALID_BATCH: usize = 500;

/// The devices of `--devices n`, the first one the main device (validation, optimizer).
///
/// ndarray has a single device, `NdArrayDevice::Cpu`: burn-train's multi-device strategy
/// takes it `n` times and runs one worker thread for each. wgpu takes discrete GPUs `0..n`
/// and cuda GPUs `0..n`.
pub fn devices(n: usize) -> Vec<Device<B>> {
    (0..n).map(|i| device(i, n)).collect()
}

#[cfg(feature = "cuda")]
fn device(i: usize, _: usize) -> Device<B> {
    use burn::tensor::backend::{Device as _, DeviceId};
    Device::<B>::from_id(DeviceId::new(0, i as u16))
}

#[cfg(all(feature = "wgpu", not(feature = "cuda")))]
fn device(i: usize, n: usize) -> Device<B> {
    use burn::tensor::backend::{Device as _, DeviceId};
    match n {
        1 => Default::default(),
        _ => Device::<B>::from_id(DeviceId::new(0, i as u16)),
    }
}

#[cfg(not(any(feature = "wgpu", feature = "cuda")))]
fn device(_: usize, _: usize) -> Device<B> {
    Default::default()
}

/// Checks that `--devices n` names devices that exist (GPU backends: GPUs of device type 0,
/// wgpu's discrete GPUs or CUDA's devices); on ndarray every count is fine.
///
/// # Errors
/// Fewer GPUs than asked for.
pub fn check_devices(n: usize) -> Result<(), Error> {
    #[cfg(any(feature = "wgpu", feature = "cuda"))]
    if n > 1 {
        use burn::tensor::backend::Backend;
        let found = B::device_count(0);
        if found < n {
            return Err(crate::error::input(format!(
                "--devices {n} needs {n} GPUs, found {found}"
            )));
        }
    }
    #[cfg(not(any(feature = "wgpu", feature = "cuda")))]
    let _ = n;
    Ok(())
}

/// Trains the model of `args` through burn-train's `Learner` (or resumes the run in
/// `args.out`), then saves the checkpoint, `metrics.json` and the plots.
///
/// # Errors
/// Fewer GPUs than `--devices`, a failed write, or a diverging loss.
pub fn train(args: &TrainArgs) -> Result<Summary, Error> {
    check_devices(args.devices)?;
    let devices = devices(args.devices);
    let splits = Arc::new(Splits::new(args.seed, args.valid, args.test));
    let seq2seq: Seq2Seq<AD, AnyCell<AD>> = init_model(args, &devices[0]);
    if !args.quiet {
        println!("{}", describe(&seq2seq, &model_config(args), &splits));
    }
    let model = DateModel {
        seq2seq,
        label_smoothing: args.label_smoothing,
        teacher_forcing: args.teacher_forcing,
        grad_scale: 1.0 / args.devices as f64,
    };
    create_run_dir(&args.out)?;
    let dir = learner_dir(&args.out);
    let resume = prepare_learner_dir(args, &dir)?;
    if let Some(r) = &resume {
        check_resume_files(&dir, r.epoch, &model, &devices[0])?;
    }
    let start = Instant::now();
    let (training, record, offset) = configure(args, &dir, &splits, resume, start, devices);
    let interrupter = training.interrupter();
    let learner = Learner::new(
        model,
        optimizer_config().init(),
        WarmupCosine {
            peak: args.lr,
            warmup: args.warmup,
            steps: args.steps,
            step: 0,
        },
    );
    // `--max-minutes`: the Learner stops (keeping the model) when the interrupter fires.
    let (result, timed_out) =
        with_time_limit(&interrupter, args.max_minutes, || training.launch(learner));
    // Closes the dashboard (leaving the terminal's alternate screen) before anything is printed.
    drop(result.renderer);
    let model = result.model.seq2seq;
    let record = record.lock().expect("record lock").clone();
    let run = FinishedRun {
        record: &record,
        splits: &splits,
        start,
        offset,
        stopped_because: match timed_out {
            true => format!("--max-minutes {} reached", args.max_minutes),
            false => interrupter
                .get_message()
                .map(|m| m.trim_end_matches('.').to_string())
                .unwrap_or_else(|| "interrupted".into()),
        },
    };
    let (progress, accuracy, step_losses) = run.summarize(args, &model)?;
    checkpoint::save(
        &checkpoint_dir(&args.out),
        &model,
        &checkpoint_meta(args, &progress),
    )?;
    write_outputs(&args.out, &progress)?;
    Ok(Summary {
        progress,
        final_accuracy: accuracy,
        step_losses,
    })
}

/// The training batches, on the autodiff backend.
type TrainLoader = Arc<dyn DataLoader<AD, DateBatch<AD>>>;

/// The validation batches, on the inner backend.
type ValidLoader = Arc<dyn DataLoader<B, DateBatch<B>>>;

/// The model the Learner trains.
type Model = DateModel<AD, AnyCell<AD>>;

/// burn-train's supervised training of [`Model`] with Adam and [`WarmupCosine`].
type Training = SupervisedTraining<
    LearningComponentsMarker<AD, WarmupCosine, Model, OptimizerAdaptor<Adam, Model, AD>>,
>;

/// The learner folder of a new run (created empty; `--force` removed the old one) or of a
/// resumed one (its [`ResumePoint`]).
fn prepare_learner_dir(args: &TrainArgs, dir: &Path) -> Result<Option<ResumePoint>, Error> {
    if args.resume {
        return resume_point(dir).map(Some);
    }
    if dir.exists() {
        // `check_args` let it through: --force.
        std::fs::remove_dir_all(dir)
            .map_err(|e| Error::Run(format!("cannot remove {}: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Run(format!("cannot create {}: {e}", dir.display())))?;
    rnn_example_common::write_json(&crate::train::settings_file(&args.out), args)?;
    Ok(None)
}

/// The Learner's training: data loaders (from `resume`'s epoch), metrics, the checkpointer and
/// its rule, the loggers (the returned record is filled as it runs), the renderer and the
/// device strategy.
fn configure(
    args: &TrainArgs,
    dir: &Path,
    splits: &Arc<Splits>,
    resume: Option<ResumePoint>,
    start: Instant,
    devices: Vec<Device<AD>>,
) -> (Training, Arc<std::sync::Mutex<Record>>, f64) {
    let (train_loader, valid_loader, layout) = loaders(args, splits, resume.as_ref());
    let epochs = match args.stop_at {
        Some(stop) => stop / args.eval_every,
        None => layout.epochs(),
    };
    let mut rule = EveryEpochs::new(args.checkpoint_every / args.eval_every, layout.epochs(), 2);
    if let Some(r) = &resume {
        rule = rule.resumed(r.saved.iter().copied());
    }
    let mut training = SupervisedTraining::new(dir, train_loader, valid_loader)
        .metrics((
            LossMetric::new(),
            AccuracyMetric::new().with_pad_token(model_config(args).pad_id),
        ))
        .metric_train_numeric(LearningRateMetric::new())
        .metric_valid_numeric(ExactMatchMetric::new())
        .with_file_checkpointer(CheckedRecorder::<FullPrecisionSettings>::new())
        .with_checkpointing_strategy(rule)
        .num_epochs(epochs);
    if let Some(r) = &resume {
        training = training.checkpoint(r.epoch);
    }
    let interrupter = training.interrupter();
    let previous = resume.map(|r| r.record).unwrap_or_default();
    let offset = previous
        .valid_seconds
        .values()
        .last()
        .copied()
        .unwrap_or(0.0);
    let (recorder, record) = Recorder::resumed(
        interrupter.clone(),
        start,
        previous,
        Some(dir.to_path_buf()),
    );
    let training = training
        .with_metric_logger(recorder)
        .with_metric_logger(FileMetricLogger::new(dir));
    let dashboard = !args.quiet && !args.no_tui && std::io::stdout().is_terminal();
    let training = match dashboard {
        true => training.renderer(TuiMetricsRendererWrapper::new(interrupter, None)),
        false => training.renderer(LineRenderer::new(
            args.quiet,
            args.eval_every,
            args.steps,
            start,
        )),
    };
    let strategy = match args.devices {
        1 => ExecutionStrategy::SingleDevice(devices.into_iter().next().expect("one device")),
        _ => ExecutionStrategy::MultiDevice(devices, MultiDeviceOptim::OptimMainDevice),
    };
    let training = training.with_training_strategy(TrainingStrategy::Default(strategy));
    (training, record, offset)
}

/// The training batches (fresh each epoch, from `resume`'s epoch on), the validation batches,
/// and the epochs' layout.
fn loaders(
    args: &TrainArgs,
    splits: &Arc<Splits>,
    resume: Option<&ResumePoint>,
) -> (TrainLoader, ValidLoader, Layout) {
    let (src_vocab, tgt_vocab) = vocabularies();
    let batcher = Arc::new(DateBatcher {
        config: model_config(args),
        src_vocab,
        tgt_vocab,
    });
    let layout = Layout {
        batch: args.batch,
        devices: args.devices,
        epoch_steps: args.eval_every,
        steps: args.steps,
        seed: args.seed,
    };
    let first_epoch = resume.map_or(0, |r| r.epoch);
    let train: TrainLoader = Arc::new(
        FreshBatches::new(Arc::clone(splits), Arc::clone(&batcher), layout)
            .starting_at(first_epoch),
    );
    let valid = DataLoaderBuilder::new((*batcher).clone())
        .batch_size(VALID_BATCH)
        .build(InMemDataset::new(splits.valid.clone()));
    (train, valid, layout)
}

/// Runs `f`, stopping it through `interrupter` after `minutes`; returns its result and whether
/// the time ran out.
fn with_time_limit<R>(interrupter: &Interrupter, minutes: f64, f: impl FnOnce() -> R) -> (R, bool) {
    let (finished, wait) = mpsc::channel::<()>();
    let limit = Duration::try_from_secs_f64(minutes * 60.0).unwrap_or(Duration::MAX);
    let timer = {
        let interrupter = interrupter.clone();
        std::thread::spawn(move || match wait.recv_timeout(limit) {
            Err(RecvTimeoutError::Timeout) => {
                interrupter.stop(Some("--max-minutes reached"));
                true
            }
            _ => false,
        })
    };
    let result = f();
    drop(finished);
    (result, timer.join().unwrap_or(false))
}

/// What a finished (or stopped) Learner run left: its metrics record.
struct FinishedRun<'a> {
    record: &'a Record,
    splits: &'a Splits,
    start: Instant,
    /// The seconds the run had trained before this session (a resumed run's earlier ones).
    offset: f64,
    /// Why it stopped, if it stopped before `--steps`.
    stopped_because: String,
}

impl FinishedRun<'_> {
    /// The run's progress (losses and validation exact match per epoch, in steps), its final
    /// validation exact match (validating the model once more if the run stopped inside an
    /// epoch), and the loss of every step.
    ///
    /// # Errors
    /// A loss that diverged.
    fn summarize(
        &self,
        args: &TrainArgs,
        model: &Seq2Seq<B, AnyCell<B>>,
    ) -> Result<(Progress, f64, Vec<f64>), Error> {
        let (record, devices) = (self.record, args.devices);
        if let Some((_, value)) = record.diverged {
            let at = record.train_losses.iter().position(|l| !l.is_finite());
            let step = at.unwrap_or(0) / devices + 1;
            return Err(Error::Run(format!(
                "the loss diverged at step {step}: {value}"
            )));
        }
        let step_losses: Vec<f64> = record
            .train_losses
            .chunks(devices)
            .map(|c| c.iter().sum::<f64>() / c.len() as f64)
            .collect();
        let mut progress = new_progress(args);
        let (mut step, mut item) = (0, 0);
        let mut accuracy = None;
        for (&epoch, &items) in &record.train_items {
            let losses = &record.train_losses[item..item + items];
            item += items;
            step += items / devices;
            let mean = losses.iter().sum::<f64>() / items.max(1) as f64;
            progress.train_loss.push((step, mean));
            let exact = record
                .valid
                .get(&epoch)
                .and_then(|v| v.get(ExactMatchMetric::NAME));
            if let (Some(exact), Some(&seconds)) = (exact, record.valid_seconds.get(&epoch)) {
                let share = exact.get().unwrap_or(0.0);
                progress.val_accuracy.push((step, share, seconds));
                accuracy = Some(share);
            }
        }
        progress.step = step;
        let offset = self.offset;
        if progress.val_accuracy.last().is_none_or(|v| v.0 != step) {
            // Stopped inside an epoch (--max-minutes, or `q` in the dashboard): validate the
            // model it stopped with.
            let (src_vocab, tgt_vocab) = vocabularies();
            let share = exact_match(model, &self.splits.valid, &src_vocab, &tgt_vocab);
            let seconds = offset + self.start.elapsed().as_secs_f64();
            progress.val_accuracy.push((step, share, seconds));
            accuracy = Some(share);
        }
        progress.seconds = offset + self.start.elapsed().as_secs_f64();
        if !args.quiet && step < args.steps {
            println!(
                "stopped at step {step}: {}; validation exact match {:.2}%",
                self.stopped_because,
                accuracy.unwrap_or(0.0)
            );
        }
        Ok((progress, accuracy.unwrap_or(0.0), step_losses))
    }
}

/// Checks the Learner's model and optimizer files of `epoch` against `model` before
/// burn-train loads them: every tensor's bytes and parameter id, the model's shapes
/// ([`record::check_shapes`]), and the optimizer's moments against the parameters they belong
/// to ([`record::check_optimizer`]). burn-train would otherwise fail on such files inside its
/// own loading or the first optimizer step.
fn check_resume_files<M: burn::module::Module<AD>>(
    dir: &std::path::Path,
    epoch: usize,
    model: &M,
    device: &Device<AD>,
) -> Result<(), Error> {
    let ckpt = dir.join("checkpoint");
    let bad = |path: &std::path::Path, e: String| {
        crate::error::input(format!("--resume: {}: {e}", path.display()))
    };
    let checked = |path: &std::path::Path| {
        record::inspect(path)
            .map_err(|e| crate::error::input(format!("--resume: {}", record::message(&e))))
    };
    let model_path = ckpt.join(format!("model-{epoch}.mpk"));
    record::check_shapes(model, &checked(&model_path)?).map_err(|e| bad(&model_path, e))?;
    // The optimizer's moments are stored under the saved parameters' ids.
    let saved = model
        .clone()
        .load_file(
            model_path.clone(),
            &CheckedRecorder::<FullPrecisionSettings>::new(),
            device,
        )
        .map_err(|e| bad(&model_path, record::message(&e).to_string()))?;
    let optim_path = ckpt.join(format!("optim-{epoch}.mpk"));
    record::check_optimizer(&saved, &checked(&optim_path)?).map_err(|e| bad(&optim_path, e))
}

/// Where a resumed run starts: the last epoch whose Learner checkpoint (model, optimizer and
/// schedule) and record are all saved.
pub struct ResumePoint {
    /// The epoch (1-based, as burn-train counts) to resume after.
    pub epoch: usize,
    /// The saved checkpoint epochs, oldest first.
    pub saved: Vec<usize>,
    /// The metrics record up to `epoch`.
    pub record: Record,
}

/// Finds the [`ResumePoint`] of a learner folder.
///
/// # Errors
/// No complete checkpoint, or an unreadable record.
pub fn resume_point(dir: &std::path::Path) -> Result<ResumePoint, Error> {
    let ckpt = dir.join("checkpoint");
    let complete = |e: usize| {
        ["model", "optim", "scheduler"]
            .iter()
            .all(|k| ckpt.join(format!("{k}-{e}.mpk")).is_file())
    };
    let mut saved: Vec<usize> = std::fs::read_dir(&ckpt)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    name.strip_prefix("model-")?
                        .strip_suffix(".mpk")?
                        .parse()
                        .ok()
                })
                .filter(|&e| complete(e))
                .collect()
        })
        .unwrap_or_default();
    saved.sort_unstable();
    let epoch = saved
        .iter()
        .rev()
        .copied()
        .find(|&e| Recorder::file(dir, e).is_file())
        .ok_or_else(|| {
            crate::error::input(format!(
                "--resume: {} holds no complete training state to resume from",
                ckpt.display()
            ))
        })?;
    let path = Recorder::file(dir, epoch);
    let text = rnn_io::atomic::read_regular_text(&path)
        .map_err(|e| crate::error::input(format!("cannot read {}: {e}", path.display())))?;
    let mut record: Record = serde_json::from_str(&text).map_err(|e| {
        crate::error::input(format!("{} is not what seq2seq wrote: {e}", path.display()))
    })?;
    // Only what the checkpoint has seen: later epochs were not saved with it.
    record.train_items.retain(|&e, _| e <= epoch);
    let items: usize = record.train_items.values().sum();
    record.train_losses.truncate(items);
    record.valid.retain(|&e, _| e <= epoch);
    record.valid_seconds.retain(|&e, _| e <= epoch);
    saved.retain(|&e| e <= epoch);
    Ok(ResumePoint {
        epoch,
        saved,
        record,
    })
}
