//! Quick start: build a 2-layer LSTM, run it, and train it with Adam to echo its input two
//! steps late (a task that needs memory). Prints the loss as it falls.
//!
//! ```text
//! cargo run --release -p quickstart                  # CPU (ndarray)
//! cargo run --release -p quickstart --features wgpu  # GPU (wgpu)
//! ```

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{backend::Backend, Distribution, Tensor};
use burn_rnn::backend::DefaultAutodiffBackend as B;
use burn_rnn::{Lstm, LstmConfig};

/// An LSTM with a linear read-out: `[N, L, 1] -> [N, L, 1]`.
#[derive(Module, Debug)]
struct Model<B: Backend> {
    lstm: Lstm<B>,
    head: Linear<B>,
}

impl<B: burn_rnn::RnnBackend> Model<B> {
    /// # Shapes
    /// - `x`: `[N, L, 1]`; returns `[N, L, 1]`
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.head.forward(self.lstm.forward(x, None).output)
    }
}

/// Random ±1 sequences `[N, L, 1]` and their targets, the inputs delayed by 2 steps.
fn batch<B: Backend>(n: usize, len: usize, device: &B::Device) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let x = Tensor::<B, 3>::random([n, len, 1], Distribution::Bernoulli(0.5), device) * 2.0 - 1.0;
    let delayed = x.clone().slice([0..n, 0..len - 2, 0..1]);
    let y = Tensor::cat(vec![Tensor::zeros([n, 2, 1], device), delayed], 1);
    (x, y)
}

fn main() {
    let device = Default::default();
    B::seed(&device, 0);
    let mut model = Model {
        lstm: LstmConfig::new(1, 32).with_num_layers(2).init::<B>(&device),
        head: LinearConfig::new(32, 1).init(&device),
    };
    let mut optim = AdamConfig::new().init();
    println!("2-layer LSTM, hidden 32: learning to echo its input 2 steps late");
    for step in 1..=300 {
        let (x, y) = batch::<B>(32, 20, &device);
        let loss = (model.forward(x) - y).powi_scalar(2).mean();
        if step == 1 || step % 25 == 0 {
            println!("step {step:>3}  MSE {:.5}", loss.clone().into_scalar());
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
    }
    let (x, y) = batch::<B>(1, 12, &device);
    let prediction = model.forward(x.clone());
    let show = |t: Tensor<B, 3>| -> Vec<f32> { t.into_data().to_vec().unwrap() };
    let fmt = |v: Vec<f32>| {
        v.iter()
            .map(|v| format!("{v:5.2}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("input     {}", fmt(show(x)));
    println!("target    {}", fmt(show(y)));
    println!("predicted {}", fmt(show(prediction)));
}
