//! The training run: fresh batches from the training dates, Adam with warmup and cosine decay,
//! validation exact match at intervals, and checkpoints written atomically.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use burn_rnn::seq2seq::{
    checkpoint, sequence_cross_entropy, AttentionKind, CellKind, CheckpointMeta, GreedyOptions,
    Seq2Seq, Seq2SeqBatch, Seq2SeqCell, Seq2SeqConfig, SplitMix64, Vocab,
};
use burn_rnn::{GruCell, LstmCell, RnnBackend, RnnCell};
use clap::{Args, ValueEnum};
use rnn_example_common::{progress_bar, say, write_json};
use rnn_plot::{Chart, Series};
use serde::{Deserialize, Serialize};

use crate::data::{Splits, SOURCE_ALPHABET, TARGET_ALPHABET};
use crate::error::{input, Error};
use crate::{AD, B};

/// The attention score, on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AttentionArg {
    /// Luong's general: `h · W m`.
    General,
    /// Luong's dot: `h · m`.
    Dot,
    /// Bahdanau's additive: `v · tanh(W h + U m)`.
    Additive,
}

/// `seq2seq train` settings.
#[derive(Args, Debug, Clone)]
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
    /// Pairs per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
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
    /// Validate (greedy exact match) every this many steps.
    #[arg(long, default_value_t = 250)]
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (and always at the end).
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
    /// No progress bar.
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
    match args.cell {
        CellKind::Lstm => train_with::<LstmCell<AD>>(args),
        CellKind::Gru => train_with::<GruCell<AD>>(args),
        CellKind::Rnn => train_with::<RnnCell<AD>>(args),
    }
}

fn check_args(args: &TrainArgs) -> Result<(), Error> {
    let positive = [
        ("--steps", args.steps),
        ("--batch", args.batch),
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
    model_config(args)
        .validate()
        .map_err(|e| input(e.to_string()))?;
    let ckpt = checkpoint_dir(&args.out);
    if ckpt.exists() && !args.force {
        return Err(input(format!(
            "{} already holds a checkpoint; pass --force to replace it",
            ckpt.display()
        )));
    }
    Ok(())
}

/// The checkpoint folder of a run folder.
pub fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// The learning rate at `step` (1-based): linear warmup, then cosine decay to 5% of the peak.
fn learning_rate(args: &TrainArgs, step: usize) -> f64 {
    if step <= args.warmup {
        return args.lr * step as f64 / args.warmup as f64;
    }
    let t = (step - args.warmup) as f64 / (args.steps - args.warmup).max(1) as f64;
    let floor = 0.05 * args.lr;
    floor + (args.lr - floor) * 0.5 * (1.0 + (std::f64::consts::PI * t.min(1.0)).cos())
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

fn train_with<C>(args: &TrainArgs) -> Result<Summary, Error>
where
    C: Seq2SeqCell<AD> + AutodiffModule<AD>,
    C::InnerModule: Seq2SeqCell<B>,
{
    let device = Default::default();
    let config = model_config(args);
    let (src_vocab, tgt_vocab) = vocabularies();
    let splits = Splits::new(args.seed, args.valid, args.test);
    <AD as Backend>::seed(&device, args.seed);
    let mut model: Seq2Seq<AD, C> = config.init(&device);
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(5.0)))
        .init();
    let mut rng = SplitMix64::new(args.seed ^ 0x5eed);
    let mut progress = Progress {
        step: 0,
        seconds: 0.0,
        train_loss: Vec::new(),
        val_accuracy: Vec::new(),
        seed: args.seed,
        valid: args.valid,
        test: args.test,
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| Error::Run(format!("cannot create {}: {e}", args.out.display())))?;
    let meta = |progress: &Progress| CheckpointMeta {
        config: config.clone(),
        src_vocab: src_vocab.clone(),
        tgt_vocab: tgt_vocab.clone(),
        extra: serde_json::to_value(progress).expect("progress serializes"),
    };

    let bar = progress_bar(args.steps, 0, args.quiet);
    say(
        &bar,
        format!(
            "{} model, {} parameters; {} training dates, {} validation and {} test examples",
            config.cell,
            model.num_params(),
            splits.train.len(),
            splits.valid.len(),
            splits.test.len()
        ),
    );
    let start = Instant::now();
    let (mut loss_sum, mut loss_count) = (0.0, 0usize);
    let mut accuracy = 0.0;
    for step in 1..=args.steps {
        let pairs = splits.train_batch(args.batch, &mut rng);
        let (ids, targets) = encode_pairs(&pairs, &src_vocab, &tgt_vocab);
        let batch = Seq2SeqBatch::<AD>::new(&ids, &targets, &config, &device);
        let out = model.forward_scheduled(&batch, args.teacher_forcing, &mut rng);
        let loss = sequence_cross_entropy(
            out.logits,
            batch.tgt_out.clone(),
            config.pad_id,
            args.label_smoothing,
        );
        let value: f64 = loss.clone().into_scalar().into();
        if !value.is_finite() {
            return Err(Error::Run(format!(
                "the loss diverged at step {step}: {value}"
            )));
        }
        loss_sum += value;
        loss_count += 1;
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(learning_rate(args, step), model, grads);
        progress.step = step;

        let out_of_time = start.elapsed().as_secs_f64() >= args.max_minutes * 60.0;
        let last = step == args.steps || out_of_time;
        if step % args.eval_every == 0 || last {
            accuracy = exact_match(&model.valid(), &splits.valid, &src_vocab, &tgt_vocab);
            let seconds = start.elapsed().as_secs_f64();
            progress
                .train_loss
                .push((step, loss_sum / loss_count.max(1) as f64));
            progress.val_accuracy.push((step, accuracy, seconds));
            (loss_sum, loss_count) = (0.0, 0);
            say(&bar, format!(
                "step {step:>5}  {seconds:>6.1} s  loss {:.4}  validation exact match {accuracy:.2}%",
                progress.train_loss.last().map_or(0.0, |p| p.1)
            ));
        }
        progress.seconds = start.elapsed().as_secs_f64();
        if step % args.checkpoint_every == 0 || last {
            checkpoint::save(&checkpoint_dir(&args.out), &model.valid(), &meta(&progress))?;
        }
        bar.set_message(format!("loss {value:.4}  val {accuracy:.2}%"));
        bar.inc(1);
        if out_of_time {
            say(
                &bar,
                format!(
                    "stopping at step {step}: --max-minutes {} reached",
                    args.max_minutes
                ),
            );
            break;
        }
    }
    bar.finish_and_clear();
    write_outputs(&args.out, &progress)?;
    Ok(Summary {
        progress,
        final_accuracy: accuracy,
    })
}

/// `metrics.json`, `val_accuracy.png` and `loss.png` in the run folder.
fn write_outputs(out: &Path, progress: &Progress) -> Result<(), Error> {
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
        .with_y_range(0.0, 100.0)
        .with_series(Series::new("greedy", accuracy))
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
