//! [`BatchNorm2d`]: `burn::nn::BatchNorm` over `[N, C, H, W]` on the crate's batch-norm op.

use burn::config::Config;
use burn::module::{Module, Param, RunningState};
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use crate::kernels::{unwrap, wrap, RnnBackend};
use crate::ConfigError;

/// Configuration of a [`BatchNorm2d`]: the fields and defaults of `burn::nn::BatchNormConfig`.
#[derive(Config, Debug)]
pub struct BatchNorm2dConfig {
    /// `C`, the channels.
    pub num_features: usize,
    /// Added to the variance before its square root.
    #[config(default = 1e-5)]
    pub epsilon: f64,
    /// The weight of each batch's statistics in the running ones.
    #[config(default = 0.1)]
    pub momentum: f64,
}

/// Batch normalization over the channels of `[N, C, H, W]` (Ioffe and Szegedy, 2015), PyTorch's
/// `nn.BatchNorm2d`:
/// ```text
/// y = (x - mean[c]) / sqrt(var[c] + epsilon) * gamma[c] + beta[c]
/// ```
/// In training (an autodiff backend), `mean` and the biased `var` are the batch's over
/// `N, H, W`, and the running statistics move by `momentum` towards the batch's mean and its
/// unbiased variance (as PyTorch updates them; `burn::nn::BatchNorm` uses the biased one). In
/// inference, the running statistics are used.
///
/// Parameters and state, named as `burn::nn::BatchNorm` names them (so records load in both):
/// `gamma [C]` (ones), `beta [C]` (zeros), `running_mean [C]` (zeros), `running_var [C]` (ones).
#[derive(Module, Debug)]
pub struct BatchNorm2d<B: Backend> {
    gamma: Param<Tensor<B, 1>>,
    beta: Param<Tensor<B, 1>>,
    running_mean: RunningState<Tensor<B, 1>>,
    running_var: RunningState<Tensor<B, 1>>,
    momentum: f64,
    epsilon: f64,
}

impl BatchNorm2dConfig {
    /// Creates a [`BatchNorm2d`] on `device`.
    ///
    /// # Errors
    /// `num_features` of 0, a negative or NaN `epsilon`, a `momentum` outside `[0, 1]`
    /// ([`ConfigError`]).
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<BatchNorm2d<B>, ConfigError> {
        let module = "BatchNorm2d";
        if self.num_features == 0 {
            return Err(ConfigError::Zero {
                module,
                setting: "num_features",
            });
        }
        if self.epsilon.is_nan() || self.epsilon < 0.0 {
            return Err(ConfigError::Range {
                module,
                setting: "epsilon",
                value: self.epsilon,
            });
        }
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(ConfigError::Range {
                module,
                setting: "momentum",
                value: self.momentum,
            });
        }
        let c = self.num_features;
        Ok(BatchNorm2d {
            gamma: Param::from_tensor(Tensor::ones([c], device)),
            beta: Param::from_tensor(Tensor::zeros([c], device)),
            running_mean: RunningState::new(Tensor::zeros([c], device)),
            running_var: RunningState::new(Tensor::ones([c], device)),
            momentum: self.momentum,
            epsilon: self.epsilon,
        })
    }

    /// Creates a [`BatchNorm2d`] on `device`.
    ///
    /// # Panics
    /// On the settings [`BatchNorm2dConfig::try_init`] refuses, with the same message.
    pub fn init<B: Backend>(&self, device: &B::Device) -> BatchNorm2d<B> {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl<B: Backend> BatchNorm2d<B> {
    /// `gamma`, `[C]`.
    pub fn gamma(&self) -> &Param<Tensor<B, 1>> {
        &self.gamma
    }

    /// `beta`, `[C]`.
    pub fn beta(&self) -> &Param<Tensor<B, 1>> {
        &self.beta
    }

    /// The running mean, `[C]`.
    pub fn running_mean(&self) -> Tensor<B, 1> {
        self.running_mean.value_sync()
    }

    /// The running variance, `[C]`.
    pub fn running_var(&self) -> Tensor<B, 1> {
        self.running_var.value_sync()
    }

    /// `C`, read from `gamma`.
    pub fn num_features(&self) -> usize {
        self.gamma.lazy_shape()[0]
    }
}

impl<B: RnnBackend> BatchNorm2d<B> {
    /// Normalizes each channel: with the batch's statistics on an autodiff backend (training,
    /// updating the running ones), else with the running statistics.
    ///
    /// # Shapes
    /// - `input`: `[N, C, H, W]`; returns the same shape
    ///
    /// # Panics
    /// If the input does not have `C` channels, naming both shapes.
    pub fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let dims = input.dims();
        let c = self.num_features();
        assert!(
            dims[1] == c,
            "BatchNorm2d: expected input of shape [batch, {c}, height, width], got {dims:?}"
        );
        if !B::ad_enabled(&input.device()) {
            let scale = self.gamma.val() * (self.running_var() + self.epsilon).sqrt().recip();
            let shift = self.beta.val() - self.running_mean() * scale.clone();
            return wrap(B::batch_norm2d_inference(
                unwrap(input),
                unwrap(scale),
                unwrap(shift),
            ));
        }
        let out = B::batch_norm2d_forward(
            unwrap(input),
            unwrap(self.gamma.val()),
            unwrap(self.beta.val()),
            self.epsilon,
        );
        let (mean, invstd): (Tensor<B, 1>, Tensor<B, 1>) = (wrap(out.mean), wrap(out.invstd));
        let m = (dims[0] * dims[2] * dims[3]) as f64;
        let var = (invstd.powi_scalar(-2) - self.epsilon) * (m / (m - 1.0).max(1.0));
        let keep = 1.0 - self.momentum;
        let running_mean = self.running_mean.value_sync() * keep + mean.detach() * self.momentum;
        let running_var = self.running_var.value_sync() * keep + var.detach() * self.momentum;
        self.running_mean.update(running_mean.detach());
        self.running_var.update(running_var.detach());
        wrap(out.y)
    }
}

impl<B: Backend> From<burn::nn::BatchNorm<B>> for BatchNorm2d<B> {
    fn from(bn: burn::nn::BatchNorm<B>) -> Self {
        Self {
            gamma: bn.gamma,
            beta: bn.beta,
            running_mean: bn.running_mean,
            running_var: bn.running_var,
            momentum: bn.momentum,
            epsilon: bn.epsilon,
        }
    }
}

impl<B: Backend> From<BatchNorm2d<B>> for burn::nn::BatchNorm<B> {
    fn from(bn: BatchNorm2d<B>) -> Self {
        Self {
            gamma: bn.gamma,
            beta: bn.beta,
            running_mean: bn.running_mean,
            running_var: bn.running_var,
            momentum: bn.momentum,
            epsilon: bn.epsilon,
        }
    }
}
