//! `char-rnn train`: truncated BPTT with Adam, validation, checkpoints and the loss curve.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{AutodiffModule, Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::record::Recorder;
use burn::tensor::{backend::Backend, ElementConversion, Int, Tensor, TensorData};
use burn_rnn::backend::{DefaultAutodiffBackend as AD, DefaultBackend as B};
use burn_rnn::train::TbpttCarry;
use burn_rnn::Regularization;
use rnn_example_common::{progress_bar, say, write_json};
use rnn_plot::{Chart, Series};

use crate::checkpoint::{
    check_carry, load_model, read_config, read_json, regularizer_rates, CarryData, Hyper, Progress,
    Rec, RunDir, MAX_LAYERS, MAX_WIDTH,
};
use crate::data::{load_corpus, Splits, Streams, Vocab};
use crate::error::{input, Error};
use crate::model::{carry_from_tensors, Carry, Cell, CellKind, CharModel, CharModelConfig};

/// Arguments of `char-rnn train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// UTF-8 text to learn; the embedded Liber Primus (Cicero, ~49 KB) when absent.
    #[arg(long)]
    pub corpus: Option<PathBuf>,
    /// Output folder: checkpoint/, metrics.json, loss.png.
    #[arg(long, default_value = "runs/char-rnn")]
    pub out: PathBuf,
    /// Continue the run saved in --out (model and training settings come from it).
    #[arg(long)]
    pub resume: bool,
    /// Start a new run even if --out holds a checkpoint (replaced at the first new checkpoint).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Recurrent cell [default: lstm].
    #[arg(long, value_parser = crate::model::cell_parser())]
    pub cell: Option<Cell>,
    /// Recurrent layers [default: 2].
    #[arg(long)]
    pub layers: Option<usize>,
    /// Hidden size [default: 128].
    #[arg(long)]
    pub hidden: Option<usize>,
    /// LSTM projection size P, below --hidden (PyTorch's proj_size) [default: none].
    #[arg(long)]
    pub proj_size: Option<usize>,
    /// LSTM with diagonal peepholes (Gers and Schmidhuber, 2000).
    #[arg(long)]
    pub peephole: bool,
    /// Embedding size [default: 128].
    #[arg(long)]
    pub embedding: Option<usize>,
    /// Dropout between layers and before the read-out [default: 0].
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Zoneout on h: each unit keeps its previous value with this probability at each step
    /// (Krueger et al., 2016) [default: 0].
    #[arg(long)]
    pub zoneout_hidden: Option<f64>,
    /// Zoneout on an LSTM's c (lstm, lnlstm) [default: 0].
    #[arg(long)]
    pub zoneout_cell: Option<f64>,
    /// DropConnect on the recurrent weights W_hh, one mask per batch (AWD-LSTM's weight drop;
    /// not mingru, minlstm) [default: 0].
    #[arg(long)]
    pub weight_drop: Option<f64>,
    /// Variational dropout on the embeddings fed to the recurrent layers, one mask per
    /// sequence [default: 0].
    #[arg(long)]
    pub input_dropout: Option<f64>,
    /// Variational dropout on every recurrent layer's output, one mask per sequence
    /// [default: 0].
    #[arg(long)]
    pub output_dropout: Option<f64>,
    /// Characters per chunk (truncated-BPTT length).
    #[arg(long, default_value_t = 50)]
    pub seq_len: usize,
    /// Parallel streams per batch.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Learning-rate factor applied after each pass over the text.
    #[arg(long, default_value_t = 0.97)]
    pub lr_decay: f64,
    /// Gradient-norm clipping threshold.
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Total optimizer steps of the run (a resumed run goes on up to this).
    #[arg(long, default_value_t = 400)]
    pub steps: usize,
    /// Validate every this many steps.
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    /// Write a checkpoint every this many steps (and at the end).
    #[arg(long, default_value_t = 200)]
    pub checkpoint_every: usize,
    /// Seed of the initialization and dropout.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Characters of sample text printed at the end (0: none).
    #[arg(long, default_value_t = 300)]
    pub sample: usize,
    /// No progress bar (logs and tests).
    #[arg(long)]
    pub quiet: bool,
}

impl TrainArgs {
    /// The defaults, as on the command line, for a corpus and an output folder.
    pub fn defaults(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            ..rnn_example_common::default_args()
        }
    }

    /// Range-checks every numeric flag, before anything is read or written: the first one
    /// out of range is a one-line input error naming it.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |flag: &str, range: &str, got: String| {
            Err(input(format!("--{flag} must be {range}, got {got}")))
        };
        for (flag, value) in [
            ("seq-len", self.seq_len),
            ("batch", self.batch),
            ("steps", self.steps),
            ("eval-every", self.eval_every),
            ("checkpoint-every", self.checkpoint_every),
        ] {
            if value == 0 {
                return bad(flag, "at least 1", value.to_string());
            }
        }
        for (flag, value, max) in [
            ("layers", self.layers, MAX_LAYERS),
            ("hidden", self.hidden, MAX_WIDTH),
            ("embedding", self.embedding, MAX_WIDTH),
        ] {
            if let Some(v) = value.filter(|v| !(1..=max).contains(v)) {
                return bad(flag, &format!("in 1..={max}"), v.to_string());
            }
        }
        if self.seq_len > 1 << 20 || self.batch > 1 << 20 {
            return bad(
                "seq-len and --batch",
                "at most 1048576",
                format!("{} and {}", self.seq_len, self.batch),
            );
        }
        if let Some(d) = self.dropout.filter(|d| !(0.0..1.0).contains(d)) {
            return bad("dropout", "in [0, 1)", d.to_string());
        }
        let reg = self.regularization();
        for (flag, rate) in regularizer_rates(&reg) {
            if !(0.0..1.0).contains(&rate) {
                return bad(flag, "in [0, 1)", rate.to_string());
            }
        }
        if let Some(cell) = self.cell {
            if reg.weight_drop > 0.0 && !cell.has_recurrent_weight() {
                return Err(input(format!(
                    "--weight-drop must be left out with --cell {cell} (it has no recurrent \
                     weight)"
                )));
            }
            if reg.zoneout_cell > 0.0 && !cell.has_cell_state() {
                return Err(input(format!(
                    "--zoneout-cell must be left out with --cell {cell} (it has no cell state)"
                )));
            }
        }
        if let Some(cell) = self.cell.filter(|c| self.peephole && !c.is_lstm()) {
            return Err(input(format!(
                "--peephole must be left out with --cell {cell} (it is an LSTM's)"
            )));
        }
        if let Some(p) = self.proj_size {
            let hidden = self.hidden.unwrap_or(128);
            if !(1..hidden).contains(&p) {
                return bad(
                    "proj-size",
                    &format!("in 1..{hidden} (below --hidden; leave it out for none)"),
                    p.to_string(),
                );
            }
            if let Some(cell) = self.cell.filter(|c| !c.is_lstm()) {
                return Err(input(format!(
                    "--proj-size must be left out with --cell {cell} (it projects an LSTM)"
                )));
            }
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr", "positive", self.lr.to_string());
        }
        if !(self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return bad("lr-decay", "in (0, 1]", self.lr_decay.to_string());
        }
        if !(self.clip > 0.0 && self.clip.is_finite()) {
            return bad("clip", "positive", self.clip.to_string());
        }
        Ok(())
    }

    fn model_config(&self, vocab: usize) -> CharModelConfig {
        CharModelConfig::new(
            vocab,
            self.cell.unwrap_or(Cell::Kernel(CellKind::Lstm)),
            self.layers.unwrap_or(2),
            self.hidden.unwrap_or(128),
            self.embedding.unwrap_or(128),
            self.dropout.unwrap_or(0.0),
        )
        .with_proj_size(self.proj_size.unwrap_or(0))
        .with_peephole(self.peephole)
        .with_regularization(self.regularization())
    }

    /// The regularizers the flags set (0 where a flag is absent).
    fn regularization(&self) -> Regularization {
        Regularization::new()
            .with_zoneout_hidden(self.zoneout_hidden.unwrap_or(0.0))
            .with_zoneout_cell(self.zoneout_cell.unwrap_or(0.0))
            .with_weight_drop(self.weight_drop.unwrap_or(0.0))
            .with_input_dropout(self.input_dropout.unwrap_or(0.0))
            .with_output_dropout(self.output_dropout.unwrap_or(0.0))
    }

    /// Checks the model options given on the command line against a checkpoint's config.
    fn check_against(&self, saved: &CharModelConfig, dir: &Path) -> Result<(), Error> {
        let differs = |name: &str, given: String, saved: String| {
            input(format!(
                "{} holds another model: it was trained with --{name} {saved}, this run asks \
                 for --{name} {given}; nothing was changed",
                dir.display()
            ))
        };
        if let Some(c) = self.cell.filter(|c| *c != saved.cell) {
            return Err(differs("cell", c.to_string(), saved.cell.to_string()));
        }
        for (name, given, was) in [
            ("layers", self.layers, saved.layers),
            ("hidden", self.hidden, saved.hidden),
            ("embedding", self.embedding, saved.embedding),
        ] {
            if let Some(g) = given.filter(|g| *g != was) {
                return Err(differs(name, g.to_string(), was.to_string()));
            }
        }
        if let Some(d) = self.dropout.filter(|d| *d != saved.dropout) {
            return Err(differs("dropout", d.to_string(), saved.dropout.to_string()));
        }
        let given = [
            self.zoneout_hidden,
            self.zoneout_cell,
            self.weight_drop,
            self.input_dropout,
            self.output_dropout,
        ];
        for (given, (flag, was)) in given
            .into_iter()
            .zip(regularizer_rates(&saved.regularization))
        {
            if let Some(g) = given.filter(|g| *g != was) {
                return Err(differs(flag, g.to_string(), was.to_string()));
            }
        }
        if self.peephole && !saved.peephole {
            return Err(input(format!(
                "{} holds another model: it was trained without --peephole, this run asks for \
                 it; nothing was changed",
                dir.display()
            )));
        }
        if let Some(p) = self.proj_size.filter(|p| *p != saved.proj_size) {
            return Err(differs(
                "proj-size",
                p.to_string(),
                saved.proj_size.to_string(),
            ));
        }
        Ok(())
    }
}

type Optim = burn::optim::adaptor::OptimizerAdaptor<burn::optim::Adam, CharModel<AD>, AD>;

/// What a finished (or stopped) run reports.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The run's progress, as saved.
    pub progress: Progress,
    /// Validation loss at the end, nats per character.
    pub final_val: f64,
}

/// Trains (or resumes) a model as `args` says.
pub fn train(args: &TrainArgs) -> Result<Summary, Error> {
    args.check()?;
    let text = load_corpus(args.corpus.as_deref())?;
    let dir = RunDir::new(&args.out);
    let _lock = dir.open(args.resume, args.force)?;
    let session = Session::start(args, &text, dir)?;
    std::fs::create_dir_all(&args.out)
        .map_err(|e| input(format!("cannot create {}: {e}", args.out.display())))?;
    session.run()
}

/// A new run's progress: step 0 with the settings of `args`.
fn new_progress(args: &TrainArgs) -> Progress {
    Progress {
        step: 0,
        epoch: 0,
        position: 0,
        lr: args.lr,
        train_loss: Vec::new(),
        val_loss: Vec::new(),
        seconds: 0.0,
        hyper: Hyper {
            seq_len: args.seq_len,
            batch: args.batch,
            lr: args.lr,
            lr_decay: args.lr_decay,
            clip: args.clip,
            seed: args.seed,
        },
    }
}

/// The saved run of `--resume`: its config, vocabulary, model and progress, each checked
/// (the saved settings against the flag rules too).
fn resumed(
    args: &TrainArgs,
    ckpt: &Path,
    device: &burn::tensor::Device<AD>,
) -> Result<(CharModelConfig, Vocab, CharModel<AD>, Progress), Error> {
    let config = read_config(ckpt)?;
    args.check_against(&config, ckpt)?;
    let (config, vocab, model) = load_model::<AD>(ckpt, device)?;
    let progress: Progress = read_json(&ckpt.join("progress.json"))?;
    let h = &progress.hyper;
    let saved = TrainArgs {
        seq_len: h.seq_len,
        batch: h.batch,
        lr: h.lr,
        lr_decay: h.lr_decay,
        clip: h.clip,
        ..args.clone()
    };
    saved
        .check()
        .map_err(|e| input(format!("{}: {e}", ckpt.join("progress.json").display())))?;
    Ok((config, vocab, model, progress))
}

/// A training run: the model and everything its checkpoint holds, and the data streams.
struct Session<'a> {
    args: &'a TrainArgs,
    dir: RunDir,
    device: burn::tensor::Device<AD>,
    config: CharModelConfig,
    vocab: Vocab,
    progress: Progress,
    model: CharModel<AD>,
    optim: Optim,
    carry: TbpttCarry<Carry<AD>>,
    streams: Streams,
    val_streams: Streams,
    rec: Rec,
}

impl<'a> Session<'a> {
    /// A new run, or the saved one with `--resume` (optimizer and carried state restored).
    fn start(args: &'a TrainArgs, text: &str, dir: RunDir) -> Result<Self, Error> {
        let device = Default::default();
        let (config, vocab, loaded, progress) = match args.resume {
            true => {
                let (config, vocab, model, progress) = resumed(args, &dir.checkpoint(), &device)?;
                (config, vocab, Some(model), progress)
            }
            false => {
                let vocab = Vocab::from_text(text);
                let config = args.model_config(vocab.len());
                (config, vocab, None, new_progress(args))
            }
        };
        let hyper = progress.hyper.clone();
        let ids = vocab.encode(text).map_err(|unknown| {
            input(format!(
                "the corpus has characters the checkpoint's vocabulary lacks: {unknown:?}"
            ))
        })?;
        let splits = Splits::new(ids);
        let mut streams = Streams::new(&splits.train, hyper.batch, hyper.seq_len, "training")?;
        streams.position = progress.position;
        let val_batch = (splits.val.len() / (hyper.seq_len + 1)).clamp(1, hyper.batch);
        let val_streams = Streams::new(&splits.val, val_batch, hyper.seq_len, "validation")?;

        AD::seed(&device, hyper.seed);
        let model: CharModel<AD> = config.init(&device);
        let mut session = Session {
            args,
            dir,
            model: loaded.unwrap_or(model),
            // PyTorch's Adam epsilon (Burn's default is 1e-5), so the recipe matches the
            // reference.
            optim: AdamConfig::new()
                .with_epsilon(1e-8)
                .with_grad_clipping(Some(GradientClippingConfig::Norm(hyper.clip)))
                .init(),
            carry: TbpttCarry::new(),
            device,
            config,
            vocab,
            progress,
            streams,
            val_streams,
            rec: Rec::new(),
        };
        if args.resume {
            session = session.restore()?;
        }
        Ok(session)
    }

    /// Loads the optimizer state and the carried state of the checkpoint being resumed, each
    /// checked against the model first.
    fn restore(mut self) -> Result<Self, Error> {
        let ckpt = self.dir.checkpoint();
        let optim_path = ckpt.join("optim.mpk");
        let tensors = rnn_example_common::record::inspect(&optim_path)
            .map_err(|e| input(rnn_example_common::record::message(&e).to_string()))?;
        rnn_example_common::record::check_optimizer(&self.model, &tensors)
            .map_err(|e| input(format!("{}: {e}", optim_path.display())))?;
        let record = self
            .rec
            .load(ckpt.join("optim"), &self.device)
            .map_err(|e| {
                input(format!(
                    "{}: cannot load the optimizer: {}",
                    ckpt.display(),
                    rnn_example_common::record::message(&e)
                ))
            })?;
        self.optim = self.optim.load_record(record);
        let carry_path = ckpt.join("carry.json");
        let saved: CarryData = read_json(&carry_path)?;
        let (layers, batch) = (self.config.layers, self.streams.batch());
        let mut shapes = vec![[layers, batch, self.config.d_output()]];
        if self.config.cell.has_cell_state() {
            shapes.push([layers, batch, self.config.hidden]);
        }
        check_carry(&saved, &shapes, &carry_path)?;
        if !saved.is_empty() {
            let tensors = saved
                .into_iter()
                .map(|d| Tensor::from_data(d, &self.device))
                .collect();
            self.carry.keep(carry_from_tensors(tensors));
        }
        Ok(self)
    }

    /// Trains to `--steps`, validating and saving on the way.
    fn run(mut self) -> Result<Summary, Error> {
        let bar = progress_bar(self.args.steps, self.progress.step, self.args.quiet);
        let started = Instant::now();
        let seconds_before = self.progress.seconds;
        let mut last_val = self.progress.val_loss.last().map_or(f64::NAN, |v| v.1);
        while self.progress.step < self.args.steps {
            let (next, value) = self.step().inspect_err(|_| bar.abandon())?;
            self = next;
            let Some(value) = value else {
                continue;
            };
            bar.set_message(format!(
                "epoch {} loss {value:.3} ({:.3} bpc) val {last_val:.3}",
                self.progress.epoch,
                value / std::f64::consts::LN_2
            ));
            bar.inc(1);
            let step = self.progress.step;
            let last = step == self.args.steps;
            if step.is_multiple_of(self.args.eval_every) || last {
                last_val = evaluate(
                    &self.model.valid(),
                    self.val_streams.clone(),
                    self.vocab.len(),
                );
                self.progress.val_loss.push((step, last_val));
                let bpc = last_val / std::f64::consts::LN_2;
                let line = format!(
                    "step {step:>6}  train {value:.4}  validation {last_val:.4} nats/char ({bpc:.3} bpc)"
                );
                say(&bar, line);
            }
            if step.is_multiple_of(self.args.checkpoint_every) || last {
                if !weights_are_finite(&self.model) {
                    bar.abandon();
                    return Err(self.stopped("the weights became non-finite", step));
                }
                self.progress.seconds = seconds_before + started.elapsed().as_secs_f64();
                self.save()?;
            }
        }
        bar.finish_and_clear();
        self.progress.seconds = seconds_before + started.elapsed().as_secs_f64();
        Ok(Summary {
            final_val: last_val,
            progress: self.progress,
        })
    }

    /// One optimizer step on the next chunk; returns its loss, or `None` at the end of an
    /// epoch (the streams rewound, the state reset, the learning rate decayed).
    ///
    /// # Errors
    /// A loss that is not finite or above 1000 (the run stops; the last checkpoint stays).
    fn step(mut self) -> Result<(Self, Option<f64>), Error> {
        let Some((x, y)) = self.streams.next_chunk() else {
            self.streams.rewind();
            self.carry.reset();
            self.progress.epoch += 1;
            self.progress.lr *= self.progress.hyper.lr_decay;
            return Ok((self, None));
        };
        let (b, l, v) = (
            self.streams.batch(),
            self.progress.hyper.seq_len,
            self.vocab.len(),
        );
        let x = Tensor::<AD, 2, Int>::from_data(TensorData::new(x, [b, l]), &self.device);
        let y = Tensor::<AD, 1, Int>::from_data(TensorData::new(y, [b * l]), &self.device);
        let (logits, state) = self.model.forward(x, self.carry.take());
        self.carry.keep(state);
        let loss = CrossEntropyLossConfig::new()
            .init(&self.device)
            .forward(logits.reshape([b * l, v]), y);
        let value: f64 = loss.clone().into_scalar().elem();
        if !value.is_finite() || value > 1e3 {
            let what = format!("the training loss became {value}");
            return Err(self.stopped(&what, self.progress.step + 1));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self.optim.step(self.progress.lr, self.model, grads);
        self.progress.step += 1;
        self.progress.position = self.streams.position;
        self.progress.train_loss.push((self.progress.step, value));
        Ok((self, Some(value)))
    }

    /// The error of a run stopped at `step` because of `what`.
    fn stopped(&self, what: &str, step: usize) -> Error {
        let kept = match self.dir.has_checkpoint() {
            true => "in checkpoint/",
            false => "none yet",
        };
        Error::Run(format!(
            "{what} at step {step}; stopped. The last good checkpoint ({kept}) is kept"
        ))
    }

    /// Writes the checkpoint (model, optimizer, carried state, config, vocabulary, progress)
    /// atomically, then `metrics.json` and `loss.png`.
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
            let carried: CarryData = self
                .carry
                .get()
                .map(|c| c.tensors().into_iter().map(|t| t.into_data()).collect())
                .unwrap_or_default();
            write_json(&tmp.join("carry.json"), &carried)?;
            write_json(&tmp.join("config.json"), &self.config)?;
            self.vocab.save(&tmp.join("vocab.json"))?;
            write_json(&tmp.join("progress.json"), &self.progress)
        })?;
        write_json(&dir.root.join("metrics.json"), &self.progress)?;
        plot(&self.progress, &dir.root.join("loss.png"))
    }
}

/// Whether every weight is a finite number: a checkpoint is only written if so.
fn weights_are_finite<Bk: Backend>(model: &CharModel<Bk>) -> bool {
    struct Finite(bool);
    impl<Bk: Backend> ModuleVisitor<Bk> for Finite {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Bk, D>>) {
            let t = param.val();
            let bad: bool = t.clone().is_nan().any().into_scalar().elem::<bool>()
                || t.is_inf().any().into_scalar().elem::<bool>();
            self.0 &= !bad;
        }
    }
    let mut v = Finite(true);
    model.visit(&mut v);
    v.0
}

/// Mean cross-entropy over a whole text, nats per character, with the state carried.
fn evaluate(model: &CharModel<B>, mut streams: Streams, vocab: usize) -> f64 {
    let device = Default::default();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut carry = TbpttCarry::<Carry<B>>::new();
    let (mut total, mut n) = (0.0, 0);
    let b = streams.batch();
    while let Some((x, y)) = streams.next_chunk() {
        let l = x.len() / b;
        let x = Tensor::<B, 2, Int>::from_data(TensorData::new(x, [b, l]), &device);
        let y = Tensor::<B, 1, Int>::from_data(TensorData::new(y, [b * l]), &device);
        let (logits, state) = model.forward(x, carry.take());
        carry.keep(state);
        let loss: f64 = loss_fn
            .forward(logits.reshape([b * l, vocab]), y)
            .into_scalar()
            .elem();
        total += loss;
        n += 1;
    }
    total / n as f64
}

/// The loss curves: training (means over about 100 windows) and validation, nats per
/// character.
fn plot(progress: &Progress, path: &Path) -> Result<(), Error> {
    let window = (progress.train_loss.len() / 100).max(1);
    let train: Vec<(f64, f64)> = progress
        .train_loss
        .chunks(window)
        .map(|c| {
            let step = c.last().expect("non-empty chunk").0 as f64;
            (step, c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64)
        })
        .collect();
    let val = progress
        .val_loss
        .iter()
        .map(|&(s, v)| (s as f64, v))
        .collect();
    Chart::new("char-rnn loss", "step", "nats/char")
        .with_series(Series::new(
            format!("train (mean of {window} steps)"),
            train,
        ))
        .with_series(Series::new("validation", val))
        .save_png(path)
        .map_err(|e| Error::Run(format!("cannot write {}: {e}", path.display())))
}
