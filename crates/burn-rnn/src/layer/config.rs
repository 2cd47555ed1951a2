//! Configurations of the three layer stacks.

use burn::config::Config;
use burn::module::Initializer;
use burn::nn::DropoutConfig;
use burn::tensor::backend::Backend;

use super::{Gru, Lstm, Recurrent, Rnn};
use crate::cell::{Cell, GruCellConfig, LstmCellConfig, RnnCellConfig};
use crate::math::Nonlinearity;

/// Configuration of an [`Rnn`] (PyTorch's `nn.RNN`): `h' = act(W_ih x + b_ih + W_hh h + b_hh)`.
#[derive(Config, Debug)]
pub struct RnnConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// The nonlinearity: tanh (default) or relu.
    #[config(default = "Nonlinearity::Tanh")]
    pub nonlinearity: Nonlinearity,
    /// Whether the cells have biases.
    #[config(default = true)]
    pub bias: bool,
    /// `true`: input and output are `[N, L, *]`; `false`: `[L, N, *]`.
    #[config(default = true)]
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether each layer also runs backwards over the sequence.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Initializer of every parameter; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    pub initializer: Option<Initializer>,
}

/// Configuration of an [`Lstm`] (PyTorch's `nn.LSTM`); see [`LstmCell`](crate::LstmCell)
/// for the equations.
#[derive(Config, Debug)]
pub struct LstmConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether the cells have biases.
    #[config(default = true)]
    pub bias: bool,
    /// `true`: input and output are `[N, L, *]`; `false`: `[L, N, *]`.
    #[config(default = true)]
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether each layer also runs backwards over the sequence.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Initializer of every parameter; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    pub initializer: Option<Initializer>,
    /// If set, every cell's forget-gate bias starts at this value (see
    /// [`LstmCellConfig::forget_bias`]).
    pub forget_bias: Option<f64>,
}

/// Configuration of a [`Gru`] (PyTorch's `nn.GRU`); see [`GruCell`](crate::GruCell) for the
/// equations.
#[derive(Config, Debug)]
pub struct GruConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether the cells have biases.
    #[config(default = true)]
    pub bias: bool,
    /// `true`: input and output are `[N, L, *]`; `false`: `[L, N, *]`.
    #[config(default = true)]
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last (training only).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Whether each layer also runs backwards over the sequence.
    #[config(default = false)]
    pub bidirectional: bool,
    /// Initializer of every parameter; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
    pub initializer: Option<Initializer>,
}

/// The settings every layer stack shares, and the loop that builds its cells.
struct Stack {
    name: &'static str,
    d_input: usize,
    d_hidden: usize,
    num_layers: usize,
    bidirectional: bool,
    batch_first: bool,
    dropout: f64,
}

impl Stack {
    /// Builds `num_layers * D` cells with `make(d_input_of_that_layer)`.
    fn build<B: Backend, C: Cell<B>>(&self, make: impl Fn(usize) -> C) -> Recurrent<B, C> {
        let name = self.name;
        assert!(
            self.num_layers >= 1,
            "{name}: expected num_layers >= 1, got {}",
            self.num_layers
        );
        assert!(
            self.d_input >= 1 && self.d_hidden >= 1,
            "{name}: expected d_input >= 1 and d_hidden >= 1, got {} and {}",
            self.d_input,
            self.d_hidden
        );
        assert!(
            (0.0..1.0).contains(&self.dropout),
            "{name}: expected dropout in [0, 1), got {}",
            self.dropout
        );
        let dirs = if self.bidirectional { 2 } else { 1 };
        let cells = (0..self.num_layers)
            .flat_map(|layer| {
                let d_in = if layer == 0 {
                    self.d_input
                } else {
                    dirs * self.d_hidden
                };
                (0..dirs).map(move |_| d_in)
            })
            .map(make)
            .collect();
        Recurrent::from_cells(
            cells,
            DropoutConfig::new(self.dropout).init(),
            self.num_layers,
            self.bidirectional,
            self.batch_first,
        )
    }
}

impl RnnConfig {
    /// Creates an [`Rnn`] on `device`.
    ///
    /// # Panics
    /// If `num_layers` is 0, a size is 0 or `dropout` is outside `[0, 1)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Rnn<B> {
        Stack {
            name: "RNN",
            d_input: self.d_input,
            d_hidden: self.d_hidden,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
            batch_first: self.batch_first,
            dropout: self.dropout,
        }
        .build(|d_input| {
            RnnCellConfig::new(d_input, self.d_hidden)
                .with_bias(self.bias)
                .with_nonlinearity(self.nonlinearity)
                .with_initializer(self.initializer.clone())
                .init(device)
        })
    }
}

impl LstmConfig {
    /// Creates an [`Lstm`] on `device`.
    ///
    /// # Panics
    /// If `num_layers` is 0, a size is 0 or `dropout` is outside `[0, 1)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Lstm<B> {
        Stack {
            name: "LSTM",
            d_input: self.d_input,
            d_hidden: self.d_hidden,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
            batch_first: self.batch_first,
            dropout: self.dropout,
        }
        .build(|d_input| {
            LstmCellConfig::new(d_input, self.d_hidden)
                .with_bias(self.bias)
                .with_initializer(self.initializer.clone())
                .with_forget_bias(self.forget_bias)
                .init(device)
        })
    }
}

impl GruConfig {
    /// Creates a [`Gru`] on `device`.
    ///
    /// # Panics
    /// If `num_layers` is 0, a size is 0 or `dropout` is outside `[0, 1)`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Gru<B> {
        Stack {
            name: "GRU",
            d_input: self.d_input,
            d_hidden: self.d_hidden,
            num_layers: self.num_layers,
            bidirectional: self.bidirectional,
            batch_first: self.batch_first,
            dropout: self.dropout,
        }
        .build(|d_input| {
            GruCellConfig::new(d_input, self.d_hidden)
                .with_bias(self.bias)
                .with_initializer(self.initializer.clone())
                .init(device)
        })
    }
}
