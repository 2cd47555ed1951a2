//! The training run: its settings ([`TrainArgs`]) and what the loop ([`crate::learner`],
//! burn-train's `Learner`) builds on: the model config, the learning-rate schedule, the
//! validation exact match, the run folder's files.
//!
//! Optimizer step `k` (from 0) trains on examples `k·G .. (k+1)·G` of the seeded training stream
//! ([`Splits::train_example`]), `G` being the global batch (`--batch` times `--devices`).

use std::path::{Path, PathBuf};

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::AdamConfig;
use burn::tensor::backend::Backend;
use burn_rnn::RnnBackend;
use burn_seq2seq::{
    AttentionKind, CellKind, GreedyOptions, Seq2Seq, Seq2SeqCell, Seq2SeqConfig, Vocab,
};
use clap::{Args, ValueEnum};
use rnn_example_common::write_json;
use rnn_plot::{Chart, Series};
use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointMeta;
use crate::data::{Splits, SOURCE_ALPHABET, TARGET_ALPHABET};
use crate::error::{input, Error};

/// The attention score, on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum AttentionArg {
    /// Luong's general: `h · W m`.
    General,
    /// Luong's dot: `h · m`.
    Dot,
    /// Bahdanau's additive: `v · tanh(W h + U m)`.
    Additive,
}

/// `seq2seq train` settings.
#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct TrainArgs {
    /// The run folder: checkpoint, metrics.json, val_accuracy.png, loss.png.
    #[arg(long, default_value = "runs/seq2seq")]
    pub out: PathBuf,
    /// Optimizer steps.
    #[arg(long, default_value_t = 3000)]
    pub steps: usize,
    /// Stop (and save) once training has run this long, in minutes.
    #[arg(long, default_value_t = 10.0)]
    pub max_minutes: f64,
    /// Pairs per batch, on each device (the global batch is `--batch` times `--devices`).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Devices to train on, data-parallel (burn-train's multi-device strategy): ndarray runs
    /// one worker thread per device on the CPU; wgpu and cuda take GPUs 0..N.
    #[arg(long, default_value_t = 1)]
    pub devices: usize,
    /// Peak learning rate (Adam), reached after the warmup, then cosine decay to 5% of it.
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Warmup steps.
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    /// The cell of the encoder and decoder.
    #[arg(long, value_parser = rnn_example_common::cell_kind_parser(), default_value = "lstm")]
    pub cell: CellKind,
    /// Embedding width.
    #[arg(long, default_value_t = 32)]
    pub embed: usize,
    /// Encoder hidden size (per direction; the encoder is bidirectional).
    #[arg(long, default_value_t = 64)]
    pub encoder_hidden: usize,
    /// Decoder hidden size.
    #[arg(long, default_value_t = 128)]
    pub decoder_hidden: usize,
    /// The attention score.
    #[arg(long, value_enum, default_value_t = AttentionArg::General)]
    pub attention: AttentionArg,
    /// Input feeding (the decoder then runs step by step).
    #[arg(long)]
    pub input_feeding: bool,
    /// Probability of feeding the gold previous token (below 1: scheduled sampling).
    #[arg(long, default_value_t = 1.0)]
    pub teacher_forcing: f64,
    /// Label smoothing of the cross-entropy.
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Dropout on embeddings and attentional vectors.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// Validate (greedy exact match) every this many steps: the Learner's epoch.
    #[arg(long, default_value_t = 250)]
    pub eval_every: usize,
    /// Save the training state (Burn's file checkpointer: model, optimizer, schedule) every
    /// this many steps, a multiple of --eval-every, and at the end; the last two are kept.
    #[arg(long, default_value_t = 1000)]
    pub checkpoint_every: usize,
    /// Validation examples.
    #[arg(long, default_value_t = 1000)]
    pub valid: usize,
    /// Test examples (`eval`).
    #[arg(long, default_value_t = 2000)]
    pub test: usize,
    /// Seed of the data splits, the batches and the initial weights.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Replace an existing checkpoint in `--out`.
    #[arg(long)]
    pub force: bool,
    /// Continue the run in `--out` from its last saved training state (model, optimizer,
    /// schedule, data position and metrics). The training settings are the run's own: a flag
    /// given with another value than the run's is an error.
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Stop after this many steps (a multiple of --checkpoint-every), saving as at the end; the
    /// schedule still spans --steps, and --resume continues the run.
    #[arg(long)]
    pub stop_at: Option<usize>,
    /// Print one line per validation instead of the Learner's terminal dashboard (the default
    /// when standard output is not a terminal).
    #[arg(long)]
    pub no_tui: bool,
    /// No dashboard and no progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// What the run stores with its checkpoint (`extra`) and in `metrics.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Progress {
    /// Steps done.
    pub step: usize,
    /// Seconds of training (validation included).
    pub seconds: f64,
    /// `(step, mean training loss since the previous point)`, nats per token.
    pub train_loss: Vec<(usize, f64)>,
    /// `(step, validation exact match in %, seconds)`.
    pub val_accuracy: Vec<(usize, f64, f64)>,
    /// The data seed (the splits are regenerated from it by `eval`).
    pub seed: u64,
    /// Validation examples.
    pub valid: usize,
    /// Test examples.
    pub test: usize,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The run's progress at the end.
    pub progress: Progress,
    /// The last validation exact match, in %.
    pub final_accuracy: f64,
    /// The training loss of every optimizer step, nats per token (over the global batch).
    pub step_losses: Vec<f64>,
}

/// The vocabularies: characters of every format, and of ISO dates.
pub fn vocabularies() -> (Vocab, Vocab) {
    (
        Vocab::from_chars(SOURCE_ALPHABET),
        Vocab::from_chars(TARGET_ALPHABET),
    )
}

/// The model config the arguments describe.
pub fn model_config(args: &TrainArgs) -> Seq2SeqConfig {
    let (src, tgt) = vocabularies();
    Seq2SeqConfig::new(src.len(), tgt.len())
        .with_cell(args.cell)
        .with_d_embed(args.embed)
        .with_encoder_hidden(args.encoder_hidden)
        .with_decoder_hidden(args.decoder_hidden)
        .with_attention(match args.attention {
            AttentionArg::General => AttentionKind::General,
            AttentionArg::Dot => AttentionKind::Dot,
            AttentionArg::Additive => AttentionKind::Additive,
        })
        .with_input_feeding(args.input_feeding)
        .with_dropout(args.dropout)
}

/// Trains a model as `args` say, writing the run folder.
///
/// # Errors
/// Bad arguments, an existing checkpoint without `--force`, or a failed write.
pub fn train(args: &TrainArgs) -> Result<Summary, Error> {
    check_args(args)?;
    if args.resume && !settings_file(&args.out).exists() {
        return Err(input(format!(
            "--resume: {} holds no resumable run",
            args.out.display()
        )));
    }
    let lock = rnn_io::atomic::RunLock::acquire(&args.out).map_err(|e| match e {
        rnn_io::atomic::LockError::Held { .. } => input(e.to_string()),
        rnn_io::atomic::LockError::Io(e) => Error::from(e),
    })?;
    let recovery = lock.recover(&checkpoint_dir(&args.out))?;
    if let Some(from) = recovery.restored {
        eprintln!(
            "note: recovered the previous checkpoint of an interrupted save (from {})",
            from.display()
        );
    }
    let args = match args.resume {
        true => resumed_args(args)?,
        false => args.clone(),
    };
    let args = &args;
    crate::learner::train(args)
}

fn check_args(args: &TrainArgs) -> Result<(), Error> {
    check_sizes(args)?;
    check_rates(args)?;
    check_schedule(args)?;
    model_config(args)
        .validate()
        .map_err(|e| input(e.to_string()))?;
    if args.resume {
        return Ok(());
    }
    for dir in [checkpoint_dir(&args.out), learner_dir(&args.out)] {
        if dir.exists() && !args.force {
            return Err(input(format!(
                "{} already holds a checkpoint; pass --resume to continue it, --force to \
                 replace it",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Every size and count: at least 1, and at most what a model or run can hold.
fn check_sizes(args: &TrainArgs) -> Result<(), Error> {
    let positive = [
        ("--steps", args.steps),
        ("--batch", args.batch),
        ("--devices", args.devices),
        ("--embed", args.embed),
        ("--encoder-hidden", args.encoder_hidden),
        ("--decoder-hidden", args.decoder_hidden),
        ("--eval-every", args.eval_every),
        ("--checkpoint-every", args.checkpoint_every),
        ("--valid", args.valid),
        ("--test", args.test),
    ];
    for (name, value) in positive {
        if value == 0 {
            return Err(input(format!("{name} must be at least 1, got 0")));
        }
    }
    let widths = [
        ("--embed", args.embed),
        ("--encoder-hidden", args.encoder_hidden),
        ("--decoder-hidden", args.decoder_hidden),
    ];
    for (name, value) in widths {
        if value > Seq2SeqConfig::MAX_WIDTH {
            return Err(input(format!(
                "{name} must be at most {}, got {value}",
                Seq2SeqConfig::MAX_WIDTH
            )));
        }
    }
    for (name, value, max) in [
        ("--devices", args.devices, 64),
        ("--batch", args.batch, 1 << 16),
        ("--valid", args.valid, 1 << 20),
        ("--test", args.test, 1 << 20),
    ] {
        if value > max {
            return Err(input(format!("{name} must be at most {max}, got {value}")));
        }
    }
    Ok(())
}

/// The learning rate, probabilities and time limit: in their ranges.
fn check_rates(args: &TrainArgs) -> Result<(), Error> {
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        return Err(input(format!("--lr must be positive, got {}", args.lr)));
    }
    if !(0.0..=1.0).contains(&args.teacher_forcing) {
        return Err(input(format!(
            "--teacher-forcing must be in [0, 1], got {}",
            args.teacher_forcing
        )));
    }
    if !(0.0..1.0).contains(&args.label_smoothing) {
        return Err(input(format!(
            "--label-smoothing must be in [0, 1), got {}",
            args.label_smoothing
        )));
    }
    if args.max_minutes.is_nan() || args.max_minutes <= 0.0 {
        return Err(input(format!(
            "--max-minutes must be positive, got {}",
            args.max_minutes
        )));
    }
    if !(0.0..1.0).contains(&args.dropout) {
        return Err(input(format!(
            "--dropout must be in [0, 1), got {}",
            args.dropout
        )));
    }
    Ok(())
}

/// `--stop-at` and `--checkpoint-every` against the steps and the validations.
fn check_schedule(args: &TrainArgs) -> Result<(), Error> {
    if let Some(stop) = args.stop_at {
        if stop == 0 || stop >= args.steps || !stop.is_multiple_of(args.checkpoint_every) {
            return Err(input(format!(
                "--stop-at must be a multiple of --checkpoint-every below --steps, got {stop} \
                 (--checkpoint-every {}, --steps {})",
                args.checkpoint_every, args.steps
            )));
        }
    }
    if !args.checkpoint_every.is_multiple_of(args.eval_every) {
        return Err(input(format!(
            "--checkpoint-every must be a multiple of --eval-every (Burn's checkpointer saves \
             after a validation), got {} and {}",
            args.checkpoint_every, args.eval_every
        )));
    }
    Ok(())
}

/// The flags `--resume` takes from the run rather than from the command line.
const RUN_SETTINGS: [&str; 19] = [
    "steps",
    "batch",
    "devices",
    "lr",
    "warmup",
    "cell",
    "embed",
    "encoder_hidden",
    "decoder_hidden",
    "attention",
    "input_feeding",
    "teacher_forcing",
    "label_smoothing",
    "dropout",
    "eval_every",
    "checkpoint_every",
    "valid",
    "test",
    "seed",
];

/// The settings file of a run, in its learner folder.
pub fn settings_file(out: &Path) -> PathBuf {
    learner_dir(out).join("run.json")
}

/// The arguments a `--resume` runs with: the run's saved settings, with the command line's
/// `--out`, `--max-minutes`, `--stop-at` and output flags. A setting given on the command
/// line (not at its default) with another value than the run's is an error naming it.
///
/// # Errors
/// No settings file, an unreadable one, or a differing flag.
pub fn resumed_args(args: &TrainArgs) -> Result<TrainArgs, Error> {
    let path = settings_file(&args.out);
    let text = rnn_io::atomic::read_regular_text(&path).map_err(|e| {
        input(format!(
            "--resume: {} holds no resumable run ({}: {e})",
            args.out.display(),
            path.display()
        ))
    })?;
    let saved: TrainArgs = serde_json::from_str(&text)
        .map_err(|e| input(format!("{} is not what seq2seq wrote: {e}", path.display())))?;
    check_args(&TrainArgs {
        resume: true,
        ..saved.clone()
    })
    .map_err(|e| input(format!("{}: {e}", path.display())))?;
    let json = |a: &TrainArgs| serde_json::to_value(a).expect("arguments serialize");
    let (given, stored) = (json(args), json(&saved));
    let default = json(&TrainArgs::defaults(&args.out));
    for key in RUN_SETTINGS {
        if given[key] != default[key] && given[key] != stored[key] {
            return Err(input(format!(
                "--resume continues the run with its own settings: it was trained with --{} \
                 {}, this command asks for {}",
                key.replace('_', "-"),
                stored[key],
                given[key]
            )));
        }
    }
    Ok(TrainArgs {
        out: args.out.clone(),
        max_minutes: args.max_minutes,
        stop_at: args.stop_at,
        no_tui: args.no_tui,
        quiet: args.quiet,
        resume: true,
        force: false,
        ..saved
    })
}

impl TrainArgs {
    /// The defaults, as on the command line, with `out`.
    pub fn defaults(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            ..rnn_example_common::default_args()
        }
    }
}

/// The folder of Burn's `Learner` in a run folder: its file checkpointer's `checkpoint/`
/// (model, optimizer and schedule per saved epoch), its metric logs (`train/`, `valid/`) and
/// `experiment.log`.
pub fn learner_dir(out: &Path) -> PathBuf {
    out.join("learner")
}

/// The checkpoint folder of a run folder.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// The learning rate at `step` (1-based) of a run of `steps`: linear warmup over `warmup`
/// steps to `peak`, then cosine decay to 5% of it.
pub fn learning_rate(peak: f64, warmup: usize, steps: usize, step: usize) -> f64 {
    if step <= warmup {
        return peak * step as f64 / warmup as f64;
    }
    let t = (step - warmup) as f64 / steps.saturating_sub(warmup).max(1) as f64;
    let floor = 0.05 * peak;
    floor + (peak - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
}

/// Source and target ids of `(source, target)` pairs.
pub fn encode_pairs(
    pairs: &[(String, String)],
    src: &Vocab,
    tgt: &Vocab,
) -> (Vec<Vec<usize>>, Vec<Vec<usize>>) {
    pairs
        .iter()
        .map(|(s, t)| (src.encode_chars(s).ids, tgt.encode_chars(t).ids))
        .unzip()
}

/// Greedy exact match (in %) of `model` on `pairs`, in batches of 500.
pub fn exact_match<Bk: RnnBackend, C: Seq2SeqCell<Bk>>(
    model: &Seq2Seq<Bk, C>,
    pairs: &[(String, String)],
    src: &Vocab,
    tgt: &Vocab,
) -> f64 {
    let options = GreedyOptions {
        max_len: 16,
        return_attention: false,
    };
    let mut right = 0;
    for chunk in pairs.chunks(500) {
        let (ids, targets) = encode_pairs(chunk, src, tgt);
        let out = model.greedy(&ids, &options);
        right += out
            .iter()
            .zip(&targets)
            .filter(|(h, t)| h.finished && h.tokens == **t)
            .count();
    }
    100.0 * right as f64 / pairs.len().max(1) as f64
}

/// The seed of the scheduled-sampling coins of the batch whose first example is `first` (of
/// the training stream).
pub fn coin_seed(seed: u64, first: u64) -> u64 {
    crate::data::stream_seed(seed ^ 0xc015_c015, first)
}

/// The model, initialized from `args.seed` on `device`.
pub fn init_model<Bk: Backend, C: Seq2SeqCell<Bk>>(
    args: &TrainArgs,
    device: &Bk::Device,
) -> Seq2Seq<Bk, C> {
    Bk::seed(device, args.seed);
    model_config(args).init(device)
}

/// Adam with the gradient norm clipped at 5.
pub fn optimizer_config() -> AdamConfig {
    AdamConfig::new().with_grad_clipping(Some(GradientClippingConfig::Norm(5.0)))
}

/// The first line a run prints: the model and the data.
pub fn describe<Bk: Backend, C: Seq2SeqCell<Bk>>(
    model: &Seq2Seq<Bk, C>,
    config: &Seq2SeqConfig,
    splits: &Splits,
) -> String {
    format!(
        "{} model, {} parameters; {} training dates, {} validation and {} test examples",
        config.cell,
        model.num_params(),
        splits.train.len(),
        splits.valid.len(),
        splits.test.len()
    )
}

/// The run's record before its first step.
pub fn new_progress(args: &TrainArgs) -> Progress {
    Progress {
        step: 0,
        seconds: 0.0,
        train_loss: Vec::new(),
        val_accuracy: Vec::new(),
        seed: args.seed,
        valid: args.valid,
        test: args.test,
    }
}

/// What the checkpoint of a run stores besides the weights.
pub fn checkpoint_meta(args: &TrainArgs, progress: &Progress) -> CheckpointMeta {
    let (src_vocab, tgt_vocab) = vocabularies();
    CheckpointMeta {
        config: model_config(args),
        src_vocab,
        tgt_vocab,
        extra: serde_json::to_value(progress).expect("progress serializes"),
    }
}

/// Creates the run folder.
///
/// # Errors
/// When it cannot be created.
pub fn create_run_dir(out: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(out)
        .map_err(|e| Error::Run(format!("cannot create {}: {e}", out.display())))
}

/// `metrics.json`, `val_accuracy.png` and `loss.png` in the run folder.
///
/// # Errors
/// A failed write.
pub fn write_outputs(out: &Path, progress: &Progress) -> Result<(), Error> {
    let run = |path: &Path, e: std::io::Error| {
        Error::Run(format!("cannot write {}: {e}", path.display()))
    };
    write_json(&out.join("metrics.json"), progress)?;
    let accuracy: Vec<(f64, f64)> = progress
        .val_accuracy
        .iter()
        .map(|&(s, a, _)| (s as f64, a))
        .collect();
    let png = out.join("val_accuracy.png");
    Chart::new("date normalization", "step", "validation exact match %")
        .with_series(Series::new("greedy", accuracy))
        .with_y_range(0.0, 100.0)
        .save_png(&png)
        .map_err(|e| run(&png, e))?;
    let loss: Vec<(f64, f64)> = progress
        .train_loss
        .iter()
        .map(|&(s, l)| (s as f64, l))
        .collect();
    let png = out.join("loss.png");
    Chart::new("training loss", "step", "nats/token")
        .with_series(Series::new("train", loss))
        .save_png(&png)
        .map_err(|e| run(&png, e))?;
    Ok(())
}
