//! `moving-glyphs train`: Adam on the MSE of the predicted frames, the held-out MSE beside the
//! copy-the-last-frame baseline, the final model, `metrics.json`, `loss.png` and `strip.png`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::FullPrecisionSettings;
use burn::tensor::{backend::Backend, ElementConversion, Tensor};
use burn_rnn::backend::{DefaultAutodiffBackend as AD, DefaultBackend as B};
use rnn_example_common::record::CheckedRecorder;
use rnn_example_common::{input, progress_bar, say, write_json, Error, RunDir};
use rnn_plot::{Chart, Series};
use serde::Serialize;

use crate::data::{batch, INPUT_FRAMES, OUTPUT_FRAMES, SIDE};
use crate::model::{Forecaster, ForecasterConfig};

/// Held-out sequences.
pub const HELD_OUT: usize = 64;
/// Seeds of the held-out sequences start here; training seeds stay below it.
const HELD_OUT_SEED: u64 = 1 << 40;

/// Arguments of `moving-glyphs train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Output folder: checkpoint/, metrics.json, loss.png, strip.png.
    #[arg(long, default_value = "runs/moving-glyphs")]
    pub out: PathBuf,
    /// Replace a model already in --out.
    #[arg(long)]
    pub force: bool,
    /// Optimizer steps.
    #[arg(long, default_value_t = 600)]
    pub steps: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 5e-4)]
    pub lr: f64,
    /// Evaluate on the held-out sequences every this many steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    /// Seed of the initialization and of the training sequences.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// The defaults, as on the command line, for an output folder.
    pub fn defaults(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            ..rnn_example_common::default_args()
        }
    }

    fn check(&self) -> Result<(), Error> {
        for (flag, v) in [
            ("steps", self.steps),
            ("batch", self.batch),
            ("eval-every", self.eval_every),
        ] {
            if v == 0 {
                return Err(input(format!("--{flag} must be at least 1, got 0")));
            }
        }
        if self.batch > 1024 {
            return Err(input(format!(
                "--batch must be at most 1024, got {}",
                self.batch
            )));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(input(format!("--lr must be positive, got {}", self.lr)));
        }
        Ok(())
    }
}

/// One held-out evaluation: mean squared error per pixel of the predicted frames.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Eval {
    /// Steps done.
    pub step: usize,
    /// The model's MSE.
    pub mse: f64,
}

/// `metrics.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    /// The final model's held-out MSE per pixel.
    pub mse: f64,
    /// The held-out MSE of repeating the last input frame.
    pub baseline_mse: f64,
    /// The held-out MSE of predicting blank frames (the mean square of the truth).
    pub blank_mse: f64,
    /// Held-out sequences.
    pub held_out: usize,
    /// Steps done.
    pub steps: usize,
    /// Seconds of training, evaluations excluded.
    pub seconds: f64,
    /// `(step, training loss)` of every step.
    pub train_loss: Vec<(usize, f64)>,
    /// Every evaluation.
    pub evals: Vec<Eval>,
}

/// The seeds of training step `step`.
fn train_seeds(seed: u64, step: usize, batch: usize) -> Vec<u64> {
    let base = (seed.wrapping_mul(0x9E37_79B9) ^ (step as u64 * batch as u64)) % HELD_OUT_SEED;
    (0..batch as u64)
        .map(|i| (base + i) % HELD_OUT_SEED)
        .collect()
}

fn held_out_seeds() -> Vec<u64> {
    (0..HELD_OUT as u64).map(|i| HELD_OUT_SEED + i).collect()
}

/// Held-out MSE of the model, of the copy-the-last-frame baseline and of blank frames.
fn evaluate(model: &Forecaster<B>) -> (f64, f64, f64) {
    let device = Default::default();
    let (mut model_se, mut base_se, mut blank_se) = (0.0, 0.0, 0.0);
    for seeds in held_out_seeds().chunks(16) {
        let (x, y) = batch::<B>(seeds, &device);
        let last = x.clone().narrow(1, INPUT_FRAMES - 1, 1);
        let copy = last.repeat_dim(1, OUTPUT_FRAMES);
        let sq =
            |a: Tensor<B, 5>| -> f64 { (a - y.clone()).powi_scalar(2).sum().into_scalar().elem() };
        model_se += sq(model.forward(x));
        base_se += sq(copy);
        blank_se += sq(y.zeros_like());
    }
    let pixels = (HELD_OUT * OUTPUT_FRAMES * SIDE * SIDE) as f64;
    (model_se / pixels, base_se / pixels, blank_se / pixels)
}

/// Trains as `args` says; returns the metrics.
///
/// # Errors
/// Bad flags or an occupied --out (exit 2), a failed write or a non-finite loss (exit 1).
pub fn train(args: &TrainArgs) -> Result<Metrics, Error> {
    args.check()?;
    let dir = RunDir::new(&args.out);
    let _lock = dir.open(false, args.force)?;
    let device = Default::default();
    AD::seed(&device, args.seed);
    let config = ForecasterConfig::new();
    let mut model: Forecaster<AD> = config.init(&device);
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let (_, baseline, blank) = evaluate(&model.valid());
    let bar = progress_bar(args.steps, 0, args.quiet);
    let mut metrics = Metrics {
        mse: f64::NAN,
        baseline_mse: baseline,
        blank_mse: blank,
        held_out: HELD_OUT,
        steps: 0,
        seconds: 0.0,
        train_loss: Vec::new(),
        evals: Vec::new(),
    };
    say(
        &bar,
        format!(
            "held-out MSE of copying the last frame: {baseline:.5}; of blank frames: {blank:.5}"
        ),
    );
    for step in 1..=args.steps {
        let started = Instant::now();
        let (x, y) = batch::<AD>(&train_seeds(args.seed, step, args.batch), &device);
        let loss = (model.forward(x) - y).powi_scalar(2).mean();
        let value: f64 = loss.clone().into_scalar().elem();
        if !value.is_finite() {
            bar.abandon();
            return Err(Error::Run(format!(
                "the training loss became {value} at step {step}; stopped"
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(args.lr, model, grads);
        metrics.seconds += started.elapsed().as_secs_f64();
        metrics.steps = step;
        metrics.train_loss.push((step, value));
        bar.set_message(format!("loss {value:.5}  baseline {baseline:.5}"));
        bar.inc(1);
        if step.is_multiple_of(args.eval_every) || step == args.steps {
            let (mse, _, _) = evaluate(&model.valid());
            metrics.mse = mse;
            metrics.evals.push(Eval { step, mse });
            say(
                &bar,
                format!(
                    "step {step:>5}  train {value:.5}  held-out MSE {mse:.5}  (copy the last frame: \
                     {baseline:.5}; {:.0} s of training)",
                    metrics.seconds
                ),
            );
        }
    }
    bar.finish_and_clear();
    save(&dir, &config, &model.valid(), &metrics)?;
    Ok(metrics)
}

/// Writes the checkpoint (atomically), `metrics.json`, `loss.png` and `strip.png`.
fn save(
    dir: &RunDir,
    config: &ForecasterConfig,
    model: &Forecaster<B>,
    m: &Metrics,
) -> Result<(), Error> {
    dir.save(|tmp| {
        model
            .clone()
            .save_file(
                tmp.join("model"),
                &CheckedRecorder::<FullPrecisionSettings>::new(),
            )
            .map_err(|e| {
                Error::Run(format!(
                    "cannot write the model in {}: {e:?}",
                    tmp.display()
                ))
            })?;
        write_json(&tmp.join("config.json"), config)
    })?;
    write_json(&dir.root.join("metrics.json"), m)?;
    let png = |e: std::io::Error, name: &str| {
        Error::Run(format!(
            "cannot write {}: {e}",
            dir.root.join(name).display()
        ))
    };
    let window = (m.train_loss.len() / 100).max(1);
    let train: Vec<(f64, f64)> = m
        .train_loss
        .chunks(window)
        .map(|c| {
            (
                c[c.len() - 1].0 as f64,
                c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64,
            )
        })
        .collect();
    let evals: Vec<(f64, f64)> = m.evals.iter().map(|e| (e.step as f64, e.mse)).collect();
    let last = m.steps.max(1) as f64;
    Chart::new("moving-glyphs", "step", "MSE per pixel")
        .with_series(Series::new(
            format!("train (mean of {window} steps)"),
            train,
        ))
        .with_series(Series::new("held-out", evals))
        .with_series(Series::new(
            "held-out, copy the last frame",
            vec![(0.0, m.baseline_mse), (last, m.baseline_mse)],
        ))
        .save_png(dir.root.join("loss.png"))
        .map_err(|e| png(e, "loss.png"))?;
    strip(model, &dir.root.join("strip.png")).map_err(|e| png(e, "strip.png"))
}

/// Rows of 10 frames of the first held-out sequence: the input, the truth after it, the
/// prediction.
pub fn strip(model: &Forecaster<B>, path: &Path) -> std::io::Result<()> {
    let device = Default::default();
    let (x, y) = batch::<B>(&held_out_seeds()[..1], &device);
    let p = model.forward(x.clone());
    let rows: Vec<Vec<f32>> = [x, y, p]
        .into_iter()
        .map(|t| t.into_data().convert::<f32>().to_vec().expect("f32"))
        .collect();
    let (gap, frames) = (4, INPUT_FRAMES.max(OUTPUT_FRAMES));
    let (w, h) = (gap + frames * (SIDE + gap), gap + rows.len() * (SIDE + gap));
    let mut rgb = vec![200u8; w * h * 3];
    for (r, row) in rows.iter().enumerate() {
        for (f, frame) in row.chunks(SIDE * SIDE).enumerate() {
            for yy in 0..SIDE {
                for xx in 0..SIDE {
                    let v = 255 - (frame[yy * SIDE + xx].clamp(0.0, 1.0) * 255.0) as u8;
                    let at = ((gap + r * (SIDE + gap) + yy) * w + gap + f * (SIDE + gap) + xx) * 3;
                    rgb[at..at + 3].copy_from_slice(&[v, v, v]);
                }
            }
        }
    }
    rnn_plot::write_png(path, w, h, &rgb)
}
