//! Train-time regularizers of a recurrent layer stack: zoneout, DropConnect on `W_hh` and
//! variational dropout.

use burn::config::Config;
use burn::tensor::{backend::Backend, Distribution, Tensor};

use crate::cell::{Cell, CellState};
use crate::ConfigError;

/// The regularizers of a recurrent layer stack, all off (0) by default; each rate is in
/// `[0, 1)`. Set it on a layer config (`LstmConfig::with_regularization` and the others) or
/// on a built layer ([`Recurrent::with_regularization`](super::Recurrent::with_regularization)).
///
/// They act while training, that is on an autodiff backend (as `burn::nn::Dropout` does);
/// every mask is drawn from the backend's random generator, so `B::seed` makes a run
/// reproducible. On a plain backend (inference, validation) the dropout kinds are the identity
/// and zoneout uses its expectation.
///
/// | setting | what it does (Shapes: `N` batch, `L` steps) | paper |
/// | --- | --- | --- |
/// | `zoneout_hidden` `z_h` | `h_t = d ⊙ h_(t-1) + (1 - d) ⊙ h̃_t`, a fresh `d ~ Bernoulli(z_h)` `[N, H]` every step; inference: `h_t = z_h h_(t-1) + (1 - z_h) h̃_t` | Krueger et al., 2016 |
/// | `zoneout_cell` `z_c` | the same on an LSTM's `c` (its own masks); `h̃_t = o ⊙ tanh(c̃_t)` uses the new `c̃_t` before zoneout | Krueger et al., 2016 |
/// | `weight_drop` `p` | DropConnect on every cell's `W_hh`: `W_hh ⊙ M / (1 - p)`, `M ~ Bernoulli(1 - p)` of `W_hh`'s shape, drawn once per forward call and shared by every step and every sequence of the batch (AWD-LSTM's weight drop) | Wan et al., 2013; Merity et al., 2017 |
/// | `input_dropout` `p` | variational dropout on the stack's input: `x_t ⊙ m / (1 - p)`, one mask `m [N, H_in]` per sequence, the same at every step | Gal and Ghahramani, 2016 |
/// | `output_dropout` `p` | variational dropout on every layer's output `[N, D*H]` (the next layer's input, and the stack's output): one mask per sequence and layer, the same at every step | Gal and Ghahramani, 2016 |
///
/// `h̃_t` and `c̃_t` are the cell's step from the zoned-out state `(h_(t-1), c_(t-1))`. Zoneout
/// changes the recurrence, so a layer with zoneout runs the cell step by step (plain ops),
/// except minGRU and minLSTM, whose zoned-out step is still `h' = a h + b` and keeps its
/// parallel scan. DropConnect and variational dropout keep the fused kernels.
///
/// `weight_drop` needs a cell with a recurrent weight (not minGRU or minLSTM) and
/// `zoneout_cell` one with a cell state (the LSTMs); `try_init` refuses the others
/// ([`ConfigError::Regularizer`]), and a rate outside `[0, 1)` ([`ConfigError::Rate`]).
#[derive(Config, Debug, PartialEq)]
pub struct Regularization {
    /// Zoneout probability of each unit of `h` at each step.
    #[config(default = 0.0)]
    pub zoneout_hidden: f64,
    /// Zoneout probability of each unit of an LSTM's `c` at each step.
    #[config(default = 0.0)]
    pub zoneout_cell: f64,
    /// DropConnect probability of each entry of `W_hh`, one mask per forward call.
    #[config(default = 0.0)]
    pub weight_drop: f64,
    /// Variational dropout probability on the input features, one mask per sequence.
    #[config(default = 0.0)]
    pub input_dropout: f64,
    /// Variational dropout probability on every layer's output features, one mask per
    /// sequence.
    #[config(default = 0.0)]
    pub output_dropout: f64,
}

impl Default for Regularization {
    fn default() -> Self {
        Self::new()
    }
}

impl Regularization {
    /// Whether every rate is 0: the layer runs exactly as without regularization.
    pub fn is_off(&self) -> bool {
        self.rates().iter().all(|&(_, rate)| rate == 0.0)
    }

    /// The rates with their setting names.
    fn rates(&self) -> [(&'static str, f64); 5] {
        [
            ("zoneout_hidden", self.zoneout_hidden),
            ("zoneout_cell", self.zoneout_cell),
            ("weight_drop", self.weight_drop),
            ("input_dropout", self.input_dropout),
            ("output_dropout", self.output_dropout),
        ]
    }

    /// Checks every rate against `[0, 1)` and the settings against what `cell` can take.
    pub(crate) fn check<B: Backend, C: Cell<B>>(
        &self,
        module: &'static str,
        cell: &C,
    ) -> Result<(), ConfigError> {
        if let Some((setting, value)) = self
            .rates()
            .into_iter()
            .find(|(_, rate)| !(0.0..1.0).contains(rate))
        {
            return Err(ConfigError::Rate {
                module,
                setting,
                value,
            });
        }
        if self.weight_drop > 0.0 && !cell.has_recurrent_weight() {
            return Err(ConfigError::Regularizer {
                module,
                setting: "weight_drop",
                needs: "a recurrent weight W_hh",
            });
        }
        if self.zoneout_cell > 0.0 && !cell.has_cell_state() {
            return Err(ConfigError::Regularizer {
                module,
                setting: "zoneout_cell",
                needs: "a cell state c (an LSTM's)",
            });
        }
        Ok(())
    }

    /// The zoneout of one forward call, `None` when both rates are 0.
    pub(crate) fn zoneout(&self, training: bool) -> Option<Zoneout> {
        (self.zoneout_hidden > 0.0 || self.zoneout_cell > 0.0).then_some(Zoneout {
            hidden: self.zoneout_hidden,
            cell: self.zoneout_cell,
            training,
        })
    }
}

/// Zoneout rates and mode of one forward call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Zoneout {
    pub(crate) hidden: f64,
    pub(crate) cell: f64,
    /// Random masks (training) or the expectation (inference).
    pub(crate) training: bool,
}

impl Zoneout {
    /// `previous + d ⊙ (new - previous)` per part: the state after zoneout.
    pub(crate) fn apply<B: Backend, S: CellState<B>>(&self, previous: S, new: S) -> S {
        let (h_prev, c_prev) = previous.into_parts();
        let (h_new, c_new) = new.into_parts();
        let hidden = self.mix(h_prev, h_new, self.hidden);
        let cell = match (c_prev, c_new) {
            (Some(prev), Some(new)) => Some(self.mix(prev, new, self.cell)),
            (_, new) => new,
        };
        S::from_parts(hidden, cell)
    }

    /// `new + d ⊙ (previous - new)`, `d ~ Bernoulli(rate)` (training) or `d = rate`.
    fn mix<B: Backend>(
        &self,
        previous: Tensor<B, 2>,
        new: Tensor<B, 2>,
        rate: f64,
    ) -> Tensor<B, 2> {
        if rate == 0.0 {
            return new;
        }
        let delta = previous - new.clone();
        match self.training {
            true => new.clone() + delta * new.random_like(Distribution::Bernoulli(rate)),
            false => new + delta * rate,
        }
    }

    /// Zoneout on `h` of a step `h' = a ⊙ h + b`: `h' = (a + d ⊙ (1 - a)) ⊙ h + (1 - d) ⊙ b`,
    /// still affine (minGRU, minLSTM). `a`, `b`: `[L, N, H]`.
    pub(crate) fn affine<B: Backend>(
        &self,
        a: Tensor<B, 3>,
        b: Tensor<B, 3>,
    ) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let rate = self.hidden;
        if rate == 0.0 {
            return (a, b);
        }
        match self.training {
            true => {
                let d = a.random_like(Distribution::Bernoulli(rate));
                let a = a.clone() + d.clone() * (a.ones_like() - a);
                (a, b.clone() - b * d)
            }
            false => (a * (1.0 - rate) + rate, b * (1.0 - rate)),
        }
    }
}

/// `x ⊙ m / (1 - p)` with one Bernoulli(1 - p) mask per sequence and feature, shared by every
/// step: `x: [L, N, F]` (time-major), mask `[1, N, F]`.
pub(crate) fn variational_dropout<B: Backend>(x: Tensor<B, 3>, p: f64) -> Tensor<B, 3> {
    let [_, batch, features] = x.dims();
    let keep = 1.0 - p;
    let mask = Tensor::<B, 3>::random(
        [1, batch, features],
        Distribution::Bernoulli(keep),
        &x.device(),
    );
    x * (mask / keep)
}

/// `w ⊙ M / (1 - p)`, `M ~ Bernoulli(1 - p)` of `w`'s shape: DropConnect.
pub(crate) fn drop_connect<B: Backend>(w: Tensor<B, 2>, p: f64) -> Tensor<B, 2> {
    let keep = 1.0 - p;
    let mask = w.random_like(Distribution::Bernoulli(keep));
    w * (mask / keep)
}
