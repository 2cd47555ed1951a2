//! A vanilla RNN: `h_t = tanh(W_ih x_t + W_hh h_{t-1})`, `y_t = W_ho h_t`,
//! trained with mean-squared error and plain gradient descent (BPTT through autodiff) to
//! predict the next value of a noisy sum of sines. Prints the MSE as it falls and writes
//! `prediction.png`: truth against one-step-ahead prediction over a held-out stretch.

use std::path::PathBuf;

use burn::module::{AutodiffModule, Module};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::{backend::Backend, ElementConversion, Tensor, TensorData};
use burn_rnn::backend::{DefaultAutodiffBackend as AD, DefaultBackend as B};
use burn_rnn::{Rnn, RnnConfig};
use burn_seq2seq::sampling::SplitMix64;
use clap::Parser;
use rnn_example_common::{input, Error};
use rnn_plot::{Chart, Series};

/// Vanilla RNN regression on a noisy sum of sines.
#[derive(Parser, Debug)]
struct Args {
    /// Hidden size.
    #[arg(long, default_value_t = 32)]
    hidden: usize,
    /// Gradient-descent steps.
    #[arg(long, default_value_t = 1500)]
    steps: usize,
    /// Learning rate of plain gradient descent.
    #[arg(long, default_value_t = 0.1)]
    lr: f64,
    /// Windows per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Time steps per training window.
    #[arg(long, default_value_t = 50)]
    window: usize,
    /// Seed of the data noise, the windows and the initialization.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Where to write prediction.png.
    #[arg(long, default_value = "prediction.png")]
    png: PathBuf,
}

/// `y_t = W_ho h_t` over `h_t = tanh(W_ih x_t + W_hh h_{t-1})`, no biases.
#[derive(Module, Debug)]
struct Model<B: Backend> {
    rnn: Rnn<B>,
    out: Linear<B>,
}

impl<B: burn_rnn::RnnBackend> Model<B> {
    /// # Shapes
    /// - `x`: `[N, L, 1]`; returns `[N, L, 1]`
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.out.forward(self.rnn.forward(x, None).output)
    }
}

/// Approximately normal noise (sum of 12 uniforms) from the library's seeded generator.
fn normal(rng: &mut SplitMix64) -> f64 {
    (0..12).map(|_| rng.next_f64()).sum::<f64>() - 6.0
}

/// The series: `sin(0.1 t) + 0.5 sin(0.23 t + 1) + 0.05 * noise`, scaled to about [-1, 1].
fn series(n: usize, rng: &mut SplitMix64) -> Vec<f32> {
    (0..n)
        .map(|t| {
            let t = t as f64;
            (((0.1 * t).sin() + 0.5 * (0.23 * t + 1.0).sin() + 0.05 * normal(rng)) / 1.5) as f32
        })
        .collect()
}

/// Inputs `[N, L, 1]` and next-value targets from windows starting at `starts`.
fn batch<Bk: Backend>(s: &[f32], starts: &[usize], len: usize) -> (Tensor<Bk, 3>, Tensor<Bk, 3>) {
    let device = Default::default();
    let mut x = Vec::with_capacity(starts.len() * len);
    let mut y = Vec::with_capacity(starts.len() * len);
    for &a in starts {
        x.extend_from_slice(&s[a..a + len]);
        y.extend_from_slice(&s[a + 1..a + len + 1]);
    }
    let shape = [starts.len(), len, 1];
    (
        Tensor::from_data(TensorData::new(x, shape), &device),
        Tensor::from_data(TensorData::new(y, shape), &device),
    )
}

fn mse<Bk: Backend>(a: Tensor<Bk, 3>, b: Tensor<Bk, 3>) -> Tensor<Bk, 1> {
    (a - b).powi_scalar(2).mean()
}

fn main() {
    rnn_example_common::run(|| run_training(&Args::parse()));
}

/// Points of the generated series; the first 80% are for training.
const SERIES_LEN: usize = 3000;

fn check(args: &Args) -> Result<(), Error> {
    for (name, value) in [("--hidden", args.hidden), ("--batch", args.batch)] {
        if value == 0 {
            return Err(input(format!("{name} must be at least 1, got 0")));
        }
    }
    let max_window = SERIES_LEN * 8 / 10 - 1;
    if !(1..=max_window).contains(&args.window) {
        return Err(input(format!(
            "--window must be in 1..={max_window} (the training stretch), got {}",
            args.window
        )));
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        return Err(input(format!("--lr must be positive, got {}", args.lr)));
    }
    Ok(())
}

fn run_training(args: &Args) -> Result<(), Error> {
    check(args)?;
    let device = Default::default();
    AD::seed(&device, args.seed);
    let mut rng = SplitMix64::new(args.seed);
    let data = series(SERIES_LEN, &mut rng);
    let split = data.len() * 8 / 10;
    let (train, held_out) = (&data[..split], &data[split..]);

    let mut model = Model {
        rnn: RnnConfig::new(1, args.hidden)
            .with_bias(false)
            .init::<AD>(&device),
        out: LinearConfig::new(args.hidden, 1)
            .with_bias(false)
            .init(&device),
    };
    let mut optim = SgdConfig::new().init();
    println!(
        "vanilla RNN (hidden {}), plain gradient descent, lr {}: predicting the next value",
        args.hidden, args.lr
    );
    for step in 1..=args.steps {
        let starts: Vec<usize> = (0..args.batch)
            .map(|_| rng.below(train.len() - args.window - 1))
            .collect();
        let (x, y) = batch::<AD>(train, &starts, args.window);
        let loss = mse(model.forward(x), y);
        if step == 1 || step % 100 == 0 {
            let v: f32 = loss.clone().into_scalar().elem();
            println!("step {step:>5}  training MSE {v:.5}");
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(args.lr, model, grads);
    }

    // One-step-ahead prediction over the whole held-out stretch, as one sequence.
    let model = model.valid();
    let len = held_out.len() - 1;
    let (x, y) = batch::<B>(held_out, &[0], len);
    let prediction = model.forward(x.clone());
    let test_mse: f32 = mse(prediction.clone(), y.clone()).into_scalar().elem();
    let naive_mse: f32 = mse(x, y).into_scalar().elem();
    println!(
        "held-out one-step MSE {test_mse:.5} (repeating the last value: {naive_mse:.5}, \
         noise floor about {:.5})",
        (0.05f32 / 1.5).powi(2)
    );
    let p: Vec<f32> = prediction.into_data().to_vec().expect("f32 predictions");
    let shown = 300.min(len);
    let truth = (0..shown)
        .map(|t| (t as f64, held_out[t + 1] as f64))
        .collect();
    let predicted = (0..shown).map(|t| (t as f64, p[t] as f64)).collect();
    Chart::new(
        "held-out series: truth vs one-step prediction",
        "time step",
        "value",
    )
    .with_series(Series::new("truth", truth))
    .with_series(Series::new("prediction", predicted))
    .save_png(&args.png)
    .map_err(|e| Error::Run(format!("cannot write {}: {e}", args.png.display())))?;
    println!("wrote {}", args.png.display());
    Ok(())
}
