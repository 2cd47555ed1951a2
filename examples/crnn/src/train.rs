//! `crnn train`: Adam on the CTC loss, held-out evaluations, checkpoints, `metrics.json`,
//! `loss.png` and `predictions.png`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{AutodiffModule, Module};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::Recorder;
use burn::tensor::{backend::Backend, ElementConversion};
use burn_rnn::backend::{DefaultAutodiffBackend as AD, DefaultBackend as B};
use rnn_example_common::{input, progress_bar, say, write_json, Error, RunDir};

use crate::checkpoint::{load_model, read_config, read_json, Eval, Hyper, Metrics, Progress, Rec};
use crate::data::{batch, Dataset, Sample, Source};
use crate::model::{Crnn, CrnnConfig};
use crate::predict::{recognize, Decoder};

/// Arguments of `crnn train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Output folder: checkpoint/, metrics.json, loss.png, predictions.png.
    #[arg(long, default_value = "runs/crnn")]
    pub out: PathBuf,
    /// Continue the run saved in --out (model and training settings come from it).
    #[arg(long)]
    pub resume: bool,
    /// Start a new run even if --out holds a checkpoint (replaced at the first new checkpoint).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Train on a folder of PNG lines and its labels.tsv (`file<TAB>text`) instead of lines
    /// rendered from the embedded fonts; one line in ten is held out.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Total optimizer steps of the run (a resumed run goes on up to this).
    #[arg(long, default_value_t = 6000)]
    pub steps: usize,
    /// Lines per batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Peak Adam learning rate (linear warm-up, then cosine decay to a tenth of it at --steps).
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Steps of learning-rate warm-up.
    #[arg(long, default_value_t = 200)]
    pub warmup: usize,
    /// Gradient-norm clipping threshold (each parameter's gradient on its own, as Burn's
    /// optimizers clip).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Steps over which the rendered lines' augmentation grows from none to full (0: full
    /// from the first step).
    #[arg(long, default_value_t = 0)]
    pub ramp: usize,
    /// Channels of the four convolution blocks, comma-separated [default: 16,32,64,64].
    #[arg(long, value_delimiter = ',')]
    pub widths: Option<Vec<usize>>,
    /// Hidden size of each LSTM direction [default: 128].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// Bidirectional LSTM layers [default: 2].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Without the linear shortcut from the convolution features to the class scores.
    #[arg(long)]
    pub no_shortcut: bool,
    /// Evaluate on the held-out lines every this many steps (and at the end).
    #[arg(long, default_value_t = 500)]
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: usize,
    /// Seed of the initialization and of the rendered training lines.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// No progress bar (logs and tests).
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

    /// Range-checks every numeric flag before anything is read or written: the first one out
    /// of range is a one-line input error naming it.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |flag: &str, range: &str, got: String| {
            Err(input(format!("--{flag} must be {range}, got {got}")))
        };
        for (flag, value) in [
            ("steps", self.steps),
            ("batch", self.batch),
            ("eval-every", self.eval_every),
            ("checkpoint-every", self.checkpoint_every),
        ] {
            if value == 0 {
                return bad(flag, "at least 1", value.to_string());
            }
        }
        if self.batch > 4096 {
            return bad("batch", "at most 4096", self.batch.to_string());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", "positive", self.lr.to_string());
        }
        if !(self.clip > 0.0 && self.clip.is_finite()) {
            return bad("clip", "positive", self.clip.to_string());
        }
        // The config's messages start with the setting's name, which is the flag's.
        self.model_config()
            .check()
            .map_err(|e| input(format!("--{e}")))
    }

    fn model_config(&self) -> CrnnConfig {
        let d = CrnnConfig::new();
        CrnnConfig {
            widths: self.widths.clone().unwrap_or(d.widths),
            hidden: self.hidden.unwrap_or(d.hidden),
            layers: self.layers.unwrap_or(d.layers),
            shortcut: !self.no_shortcut,
        }
    }

    fn hyper(&self) -> Hyper {
        Hyper {
            batch: self.batch,
            lr: self.lr,
            warmup: self.warmup,
            clip: self.clip,
            ramp: self.ramp,
            seed: self.seed,
            data: self.data.clone(),
        }
    }

    /// Checks the model options given on the command line against a checkpoint's config.
    fn check_against(&self, saved: &CrnnConfig, dir: &Path) -> Result<(), Error> {
        let given = self.model_config();
        let differs = |name: &str, given: String, saved: String| {
            Err(input(format!(
                "{} holds another model: it was trained with --{name} {saved}, this run asks \
                 for --{name} {given}; nothing was changed",
                dir.display()
            )))
        };
        let list = |w: &[usize]| {
            w.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        if self.widths.is_some() && given.widths != saved.widths {
            return differs("widths", list(&given.widths), list(&saved.widths));
        }
        if self.no_shortcut && saved.shortcut {
            return Err(input(format!(
                "{} holds a model with the shortcut, this run asks for --no-shortcut; nothing \
                 was changed",
                dir.display()
            )));
        }
        for (name, flag, g, s) in [
            ("hidden", self.hidden, given.hidden, saved.hidden),
            ("layers", self.layers, given.layers, saved.layers),
        ] {
            if flag.is_some() && g != s {
                return differs(name, g.to_string(), s.to_string());
            }
        }
        Ok(())
    }
}

/// The learning rate of `step` (0-based): linear warm-up over `warmup` steps, then a cosine from
/// `lr` down to `lr / 10` at `total`.
pub fn learning_rate(h: &Hyper, step: usize, total: usize) -> f64 {
    if step < h.warmup {
        return h.lr * (step + 1) as f64 / h.warmup as f64;
    }
    let span = total.saturating_sub(h.warmup).max(1) as f64;
    let done = ((step - h.warmup) as f64 / span).min(1.0);
    h.lr * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * done).cos()))
}

type Optim = burn::optim::adaptor::OptimizerAdaptor<burn::optim::Adam, Crnn<AD>, AD>;

/// Trains (or resumes) a model as `args` says; returns the final metrics.
///
/// # Errors
/// Bad flags, data or checkpoint (exit 2); a failed write or a diverging loss (exit 1; the
/// last good checkpoint stays).
pub fn train(args: &TrainArgs) -> Result<Metrics, Error> {
    args.check()?;
    let dir = RunDir::new(&args.out);
    let _lock = dir.open(args.resume, args.force)?;
    let session = Session::start(args, dir)?;
    session.run()
}

/// A training run: the model, its optimizer and progress, and the data.
struct Session<'a> {
    args: &'a TrainArgs,
    dir: RunDir,
    device: burn::tensor::Device<AD>,
    config: CrnnConfig,
    progress: Progress,
    model: Crnn<AD>,
    optim: Optim,
    data: Dataset,
    /// The training batches of the coming steps, drawn by another thread.
    batches: Receiver<Vec<Sample>>,
    rec: Rec,
}

/// Draws the batches of steps `from..to` on a thread of its own, one or two ahead of the
/// training step that takes them (drawing a batch is a pure function of its step).
fn prefetch(source: Arc<Source>, from: usize, to: usize, size: usize) -> Receiver<Vec<Sample>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(2);
    std::thread::spawn(move || {
        for step in from..to {
            if tx.send(source.batch(step, size)).is_err() {
                break;
            }
        }
    });
    rx
}

impl<'a> Session<'a> {
    /// A new run, or the saved one with `--resume` (optimizer restored).
    fn start(args: &'a TrainArgs, dir: RunDir) -> Result<Self, Error> {
        let device = Default::default();
        let ckpt = dir.checkpoint();
        let (config, model, progress) = match args.resume {
            true => {
                args.check_against(&read_config(&ckpt)?, &ckpt)?;
                let (config, model) = load_model::<AD>(&ckpt, &device)?;
                let progress: Progress = read_json(&ckpt.join("progress.json"))?;
                (config, Some(model), progress)
            }
            false => {
                let progress = Progress {
                    step: 0,
                    train_loss: Vec::new(),
                    evals: Vec::new(),
                    seconds: 0.0,
                    hyper: args.hyper(),
                };
                (args.model_config(), None, progress)
            }
        };
        let hyper = progress.hyper.clone();
        let data = match &hyper.data {
            Some(folder) => Dataset::folder(folder)?,
            None => Dataset::rendered(hyper.seed, hyper.ramp),
        };
        let batches = prefetch(data.train.clone(), progress.step, args.steps, hyper.batch);
        AD::seed(&device, hyper.seed);
        let model = model.unwrap_or_else(|| config.init(&device));
        let mut session = Session {
            args,
            dir,
            model,
            // PyTorch's Adam epsilon (Burn's default is 1e-5), as compare.py.
            optim: AdamConfig::new()
                .with_epsilon(1e-8)
                .with_grad_clipping(Some(GradientClippingConfig::Norm(hyper.clip)))
                .init(),
            device,
            config,
            progress,
            data,
            batches,
            rec: Rec::new(),
        };
        if args.resume {
            let optim_path = ckpt.join("optim.mpk");
            let tensors = rnn_example_common::record::inspect(&optim_path)
                .map_err(|e| input(rnn_example_common::record::message(&e).to_string()))?;
            rnn_example_common::record::check_optimizer(&session.model, &tensors)
                .map_err(|e| input(format!("{}: {e}", optim_path.display())))?;
            let record = session
                .rec
                .load(ckpt.join("optim"), &session.device)
                .map_err(|e| {
                    input(format!(
                        "{}: cannot load the optimizer: {}",
                        optim_path.display(),
                        rnn_example_common::record::message(&e)
                    ))
                })?;
            session.optim = session.optim.load_record(record);
        }
        Ok(session)
    }

    /// Trains to `--steps`, evaluating and saving on the way.
    fn run(mut self) -> Result<Metrics, Error> {
        let bar = progress_bar(self.args.steps, self.progress.step, self.args.quiet);
        let mut last = self.progress.evals.last().copied();
        while self.progress.step < self.args.steps {
            let started = Instant::now();
            let loss = self.step().inspect_err(|_| bar.abandon())?;
            self.progress.seconds += started.elapsed().as_secs_f64();
            let step = self.progress.step;
            let cer = last.map_or("-".to_string(), |e| format!("{:.2}%", 100.0 * e.cer));
            bar.set_message(format!("loss {loss:.3}  held-out CER {cer}"));
            bar.inc(1);
            let end = step == self.args.steps;
            if step.is_multiple_of(self.args.eval_every) || end {
                let e = self.evaluate();
                say(
                    &bar,
                    format!(
                        "step {step:>6}  loss {loss:.4}  held-out CER {:.2}%  lines exact {:.1}%  \
                         ({:.0} s of training)",
                        100.0 * e.cer,
                        100.0 * e.accuracy,
                        e.seconds
                    ),
                );
                self.progress.evals.push(e);
                last = Some(e);
            }
            if step.is_multiple_of(self.args.checkpoint_every) || end {
                self.save().inspect_err(|_| bar.abandon())?;
            }
        }
        bar.finish_and_clear();
        Ok(self.metrics())
    }

    /// One optimizer step; returns its loss.
    ///
    /// # Errors
    /// A loss that is not finite (the run stops; the last checkpoint stays).
    fn step(&mut self) -> Result<f64, Error> {
        let h = &self.progress.hyper;
        let samples = self
            .batches
            .recv()
            .map_err(|_| Error::Run("the thread drawing the training lines stopped".into()))?;
        let lr = learning_rate(h, self.progress.step, self.args.steps);
        let batch = batch::<AD>(&samples, &self.device);
        let (loss, _) = self.model.loss(&batch);
        let value: f64 = loss.clone().into_scalar().elem();
        if !value.is_finite() {
            let kept = match self.dir.has_checkpoint() {
                true => "in checkpoint/",
                false => "none yet",
            };
            return Err(Error::Run(format!(
                "the training loss became {value} at step {}; stopped. The last good checkpoint \
                 ({kept}) is kept",
                self.progress.step + 1
            )));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(lr, self.model.clone(), grads);
        self.progress.step += 1;
        self.progress.train_loss.push((self.progress.step, value));
        Ok(value)
    }

    /// Greedy-decoded CER and exact-line accuracy on the held-out lines.
    fn evaluate(&self) -> Eval {
        let model: Crnn<B> = self.model.valid();
        let texts = recognize(&model, &self.data.held_out, Decoder::Greedy);
        let (cer, accuracy) = crate::decode::error_rates(
            texts
                .iter()
                .zip(&self.data.held_out)
                .map(|(p, s)| (p.as_str(), s.text.as_str())),
        );
        Eval {
            step: self.progress.step,
            cer,
            accuracy,
            seconds: self.progress.seconds,
        }
    }

    fn metrics(&self) -> Metrics {
        let last = self.progress.evals.last();
        Metrics {
            cer: last.map_or(f64::NAN, |e| e.cer),
            accuracy: last.map_or(f64::NAN, |e| e.accuracy),
            held_out: self.data.held_out.len(),
            steps: self.progress.step,
            seconds: self.progress.seconds,
            ms_per_step: 1e3 * self.progress.seconds / self.progress.step.max(1) as f64,
            evals: self.progress.evals.clone(),
            hyper: self.progress.hyper.clone(),
        }
    }

    /// Writes the checkpoint (model, optimizer, config, progress) atomically, then
    /// `metrics.json`, `loss.png` and `predictions.png`.
    fn save(&self) -> Result<(), Error> {
        let dir = &self.dir;
        let run = |e: burn::record::RecorderError| {
            Error::Run(format!(
                "cannot write the checkpoint {}: {}",
                dir.checkpoint().display(),
                rnn_example_common::record::message(&e)
            ))
        };
        dir.save(|tmp| {
            self.model
                .clone()
                .save_file(tmp.join("model"), &self.rec)
                .map_err(run)?;
            self.rec
                .record(self.optim.to_record(), tmp.join("optim"))
                .map_err(run)?;
            write_json(&tmp.join("config.json"), &self.config)?;
            write_json(&tmp.join("progress.json"), &self.progress)
        })?;
        write_json(&dir.root.join("metrics.json"), &self.metrics())?;
        crate::plots::loss_png(&self.progress, &dir.root.join("loss.png"))?;
        let model: Crnn<B> = self.model.valid();
        let shown = &self.data.held_out[..self.data.held_out.len().min(16)];
        let texts = recognize(&model, shown, Decoder::Greedy);
        crate::plots::predictions_png(shown, &texts, &dir.root.join("predictions.png"))
    }
}

/// The model of a finished run on the inference backend (used by tests).
pub fn load_trained(out: &Path) -> Result<Crnn<B>, Error> {
    let device = Default::default();
    Ok(load_model::<B>(&RunDir::new(out).checkpoint(), &device)?.1)
}
