//! Training smoke test: a tiny model learns a toy sequence task through BPTT on autodiff.

mod common;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::{backend::Backend, Distribution, Tensor};
use burn_rnn::*;
use common::AD;

/// An LSTM with a linear read-out: `[N, L, 1] -> [N, L, 1]`.
#[derive(Module, Debug)]
struct Delay<B: Backend> {
    lstm: Lstm<B>,
    head: Linear<B>,
}

impl<B: RnnBackend> Delay<B> {
    fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        self.head.forward(self.lstm.forward(x, None).output)
    }
}

/// Random ±1 sequences `[N, L, 1]` and the targets: each input delayed by 2 steps.
fn batch<B: Backend>(n: usize, len: usize, device: &B::Device) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let x = Tensor::<B, 3>::random([n, len, 1], Distribution::Bernoulli(0.5), device)
        .mul_scalar(2.0)
        .sub_scalar(1.0);
    let y = Tensor::cat(
        vec![
            Tensor::zeros([n, 2, 1], device),
            x.clone().slice([0..n, 0..len - 2, 0..1]),
        ],
        1,
    );
    (x, y)
}

/// The model must remember its inputs for two steps: a linear read-out of the input alone
/// cannot do better than predicting 0 (MSE 1 on the delayed part).
#[test]
fn lstm_learns_to_delay_its_input_by_two_steps() {
    let device = Default::default();
    AD::seed(&device, 7);
    let mut model = Delay {
        lstm: LstmConfig::new(1, 16).init::<AD>(&device),
        head: LinearConfig::new(16, 1).init(&device),
    };
    let mut optim = AdamConfig::new().init();
    let mse = |model: &Delay<AD>, (x, y): (Tensor<AD, 3>, Tensor<AD, 3>)| {
        (model.forward(x) - y).powi_scalar(2).mean()
    };
    let eval_batch = batch::<AD>(64, 12, &device);
    let initial = mse(&model, eval_batch.clone()).into_scalar();
    for _ in 0..300 {
        let loss = mse(&model, batch::<AD>(16, 12, &device));
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.02, model, grads);
    }
    let last = mse(&model, eval_batch).into_scalar();
    eprintln!("delay task: MSE {initial:.4} -> {last:.4}");
    assert!(
        last < initial / 20.0,
        "the MSE should fall at least 20-fold, from {initial} to below {}, got {last}",
        initial / 20.0
    );
}
