//! Configurations of the three layer stacks.

use burn::config::Config;
use burn::module::Initializer;
use burn::nn::DropoutConfig;
use burn::tensor::backend::Backend;

use super::{
    Gru, LayerNormGru, LayerNormLstm, Lstm, MinGru, MinLstm, Recurrent, Regularization, Rnn,
};
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
    /// Train-time regularizers: zoneout, DropConnect on `W_hh`, variational dropout (all off
    /// by default); see [`Regularization`].
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
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
    /// Train-time regularizers: zoneout, DropConnect on `W_hh`, variational dropout (all off
    /// by default); see [`Regularization`].
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
    /// If set, every cell's forget-gate bias starts at this value (see
    /// [`LstmCellConfig::forget_bias`]).
    pub forget_bias: Option<f64>,
    /// Projection size `P`, PyTorch's `proj_size` (see [`LstmCellConfig::proj_size`]): every
    /// cell's `h` is projected to `P` features by `weight_hr [P, H]`, so the output is
    /// `[N, L, D*P]`, the final `hidden` `[num_layers*D, N, P]` (the final `cell` stays
    /// `[num_layers*D, N, H]`) and layers above the first take `D*P` inputs. 0 (the
    /// default) is no projection; otherwise `0 < P < H`.
    #[config(default = 0)]
    pub proj_size: usize,
    /// Diagonal peephole connections in every cell (see [`LstmCellConfig::peephole`]); the
    /// layer then runs step by step (plain ops).
    #[config(default = false)]
    pub peephole: bool,
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
    /// Train-time regularizers: zoneout, DropConnect on `W_hh`, variational dropout (all off
    /// by default); see [`Regularization`].
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
}

/// Configuration of a [`MinGru`](super::MinGru) layer stack; see
/// [`MinGruCell`](crate::MinGruCell) for the equations.
#[derive(Config, Debug)]
pub struct MinGruConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether the input projections have biases.
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
    /// Initializer of every parameter; `None` is `nn.Linear`'s U(-1/sqrt(H_in), 1/sqrt(H_in)).
    pub initializer: Option<Initializer>,
    /// Train-time regularizers: zoneout, DropConnect on `W_hh`, variational dropout (all off
    /// by default); see [`Regularization`].
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
}

/// Configuration of a [`MinLstm`](super::MinLstm) layer stack; see
/// [`MinLstmCell`](crate::MinLstmCell) for the equations.
#[derive(Config, Debug)]
pub struct MinLstmConfig {
    /// Input features `H_in`.
    pub d_input: usize,
    /// Hidden size `H`.
    pub d_hidden: usize,
    /// Number of stacked layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Whether the input projections have biases.
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
    /// Initializer of every parameter; `None` is `nn.Linear`'s U(-1/sqrt(H_in), 1/sqrt(H_in)).
    pub initializer: Option<Initializer>,
    /// Train-time regularizers: zoneout, DropConnect on `W_hh`, variational dropout (all off
    /// by default); see [`Regularization`].
    #[config(default = "Regularization::new()")]
    pub regularization: Regularization,
}

/// The configuration of a LayerNorm layer stack.
macro_rules! ln_layer_config {
    ($config:ident, $layer:ident, $cell:ident) => {
        #[doc = concat!("Configuration of a [`", stringify!($layer), "`](super::", stringify!($layer), ") layer stack; see")]
        #[doc = concat!("[`", stringify!($cell), "`](crate::", stringify!($cell), ") for the equations.")]
        #[derive(Config, Debug)]
        pub struct $config {
            /// Input features `H_in`.
            pub d_input: usize,
            /// Hidden size `H`.
            pub d_hidden: usize,
            /// Number of stacked layers.
            #[config(default = 1)]
            pub num_layers: usize,
            /// `true`: input and output are `[N, L, *]`; `false`: `[L, N, *]`.
            #[config(default = true)]
            pub batch_first: bool,
            /// Dropout probability on the outputs of every layer but the last (training only).
            #[config(default = 0.0)]
            pub dropout: f64,
            /// Whether each layer also runs backwards over the sequence.
            #[config(default = false)]
            pub bidirectional: bool,
            /// Initializer of the weights; `None` is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
            pub initializer: Option<Initializer>,
            /// Train-time regularizers: zoneout, DropConnect on `W_hh`, variational dropout (all off
            /// by default); see [`Regularization`].
            #[config(default = "Regularization::new()")]
            pub regularization: Regularization,
        }
    };
}

ln_layer_config!(LayerNormLstmConfig, LayerNormLstm, LayerNormLstmCell);
ln_layer_config!(LayerNormGruConfig, LayerNormGru, LayerNormGruCell);

/// The settings every layer stack shares, and the loop that builds its cells.
pub(super) struct Stack {
    pub(super) name: &'static str,
    pub(super) d_input: usize,
    pub(super) d_hidden: usize,
    pub(super) num_layers: usize,
    pub(super) bidirectional: bool,
    pub(super) batch_first: bool,
    pub(super) dropout: f64,
    /// The LSTM's projection size `P`, 0 for none (and for the other cells).
    pub(super) proj_size: usize,
    /// The train-time regularizers.
    pub(super) regularization: Regularization,
}

/// A setting that cannot build a layer or a cell, from `try_init` ([`LstmConfig::try_init`],
/// [`LstmCellConfig::try_init`] and the others). `init` panics with the same message.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    /// A size or count that must be at least 1 is 0.
    Zero {
        /// The layer or cell, in PyTorch's words (`"LSTM"`, `"LSTMCell"`).
        module: &'static str,
        /// The setting: `"d_input"`, `"d_hidden"` or `"num_layers"`.
        setting: &'static str,
    },
    /// Channel counts that the number of groups does not divide (a convolution).
    Groups {
        /// The module (`"Conv2d"`).
        module: &'static str,
        /// The number of groups.
        groups: usize,
        /// `[C_in, C_out]`
        channels: [usize; 2],
    },
    /// A number outside the range the setting allows.
    Range {
        /// The module (`"BatchNorm2d"`).
        module: &'static str,
        /// The setting.
        setting: &'static str,
        /// The value given.
        value: f64,
    },
    /// A setting this crate's module does not implement (a max pooling's `ceil_mode`).
    Unsupported {
        /// The module (`"MaxPool2d"`).
        module: &'static str,
        /// The setting.
        setting: &'static str,
    },
    /// An even kernel size where the module pads by half the kernel to keep `H` and `W` (a
    /// convolutional recurrent layer).
    EvenKernel {
        /// The module (`"ConvLSTM"`).
        module: &'static str,
        /// The kernel size given.
        kernel_size: usize,
    },
    /// An LSTM projection size that is not below the hidden size (PyTorch refuses it too).
    ProjSize {
        /// The layer or cell (`"LSTM"`, `"LSTMCell"`).
        module: &'static str,
        /// The `proj_size` given.
        proj_size: usize,
        /// The hidden size `H`.
        d_hidden: usize,
    },
    /// A regularizer's rate outside `[0, 1)` (or NaN): see [`Regularization`].
    Rate {
        /// The layer (`"LSTM"`).
        module: &'static str,
        /// The setting (`"zoneout_hidden"`, `"weight_drop"`, ...).
        setting: &'static str,
        /// The rate given.
        value: f64,
    },
    /// A regularizer the layer's cell cannot take: `weight_drop` on a cell without a
    /// recurrent weight, `zoneout_cell` on a cell without a cell state.
    Regularizer {
        /// The layer (`"minGRU"`).
        module: &'static str,
        /// The setting.
        setting: &'static str,
        /// What the setting needs that the cell has not.
        needs: &'static str,
    },
    /// A dropout probability outside `[0, 1)` (or NaN).
    Dropout {
        /// The layer or cell, in PyTorch's words (`"LSTM"`, `"LSTMCell"`).
        module: &'static str,
        /// The probability given.
        value: f64,
    },
}

impl core::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConfigError::Zero { module, setting } => {
                write!(f, "{module}: expected {setting} >= 1, got 0")
            }
            ConfigError::Groups {
                module,
                groups,
                channels,
            } => write!(
                f,
                "{module}: expected channels divisible by groups = {groups}, got {} in and {} out",
                channels[0], channels[1]
            ),
            ConfigError::Range {
                module,
                setting,
                value,
            } => write!(f, "{module}: {setting} out of range, got {value}"),
            ConfigError::Unsupported { module, setting } => {
                write!(f, "{module}: `{setting}` is not supported")
            }
            ConfigError::EvenKernel {
                module,
                kernel_size,
            } => write!(
                f,
                "{module}: expected an odd kernel_size (padding kernel_size / 2 keeps H and W), \
                 got {kernel_size}"
            ),
            ConfigError::ProjSize {
                module,
                proj_size,
                d_hidden,
            } => write!(
                f,
                "{module}: expected proj_size < d_hidden = {d_hidden} (or 0 for no projection), \
                 got {proj_size}"
            ),
            ConfigError::Rate {
                module,
                setting,
                value,
            } => write!(f, "{module}: expected {setting} in [0, 1), got {value}"),
            ConfigError::Regularizer {
                module,
                setting,
                needs,
            } => write!(
                f,
                "{module}: {setting} needs {needs}, which this layer's cell has not (set it to 0)"
            ),
            ConfigError::Dropout { module, value } => {
                write!(f, "{module}: expected dropout in [0, 1), got {value}")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl Stack {
    /// Checks the settings every layer shares.
    fn check(&self) -> Result<(), ConfigError> {
        let module = self.name;
        let sizes = [
            ("d_input", self.d_input),
            ("d_hidden", self.d_hidden),
            ("num_layers", self.num_layers),
        ];
        if let Some((setting, _)) = sizes.into_iter().find(|&(_, v)| v == 0) {
            return Err(ConfigError::Zero { module, setting });
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ConfigError::Dropout {
                module,
                value: self.dropout,
            });
        }
        crate::cell::check_proj_size(module, self.proj_size, self.d_hidden)
    }

    /// Builds `num_layers * D` cells with `make(d_input_of_that_layer)`, after [`Stack::check`].
    pub(super) fn build<B: Backend, C: Cell<B>>(
        &self,
        make: impl Fn(usize) -> C,
    ) -> Result<Recurrent<B, C>, ConfigError> {
        self.check()?;
        let dirs = if self.bidirectional { 2 } else { 1 };
        let cells = (0..self.num_layers)
            .flat_map(|layer| {
                let d_output = match self.proj_size {
                    0 => self.d_hidden,
                    p => p,
                };
                let d_in = if layer == 0 {
                    self.d_input
                } else {
                    dirs * d_output
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
        .regularized(self.name, self.regularization.clone())
    }
}

/// `try_init` and `init` of a layer config, from its [`Stack`] and its cell builder.
macro_rules! layer_init {
    ($config:ident, $layer:ident, $name:literal) => {
        impl $config {
            #[doc = concat!("Creates a [`", stringify!($layer), "`] on `device`.")]
            ///
            /// # Errors
            /// A size or `num_layers` of 0, a `dropout` outside `[0, 1)`, (LSTM) a
            /// `proj_size` not below `d_hidden`, or a [`Regularization`] rate outside
            /// `[0, 1)` or that the cell cannot take ([`ConfigError`]).
            pub fn try_init<B: Backend>(
                &self,
                device: &B::Device,
            ) -> Result<$layer<B>, ConfigError> {
                self.stack().build(|d_input| self.cell(d_input, device))
            }

            #[doc = concat!("Creates a [`", stringify!($layer), "`] on `device`.")]
            ///
            /// # Panics
            #[doc = concat!("On the settings [`", stringify!($config), "::try_init`] refuses, with the same message.")]
            pub fn init<B: Backend>(&self, device: &B::Device) -> $layer<B> {
                self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
            }

            fn stack(&self) -> Stack {
                Stack {
                    name: $name,
                    d_input: self.d_input,
                    d_hidden: self.d_hidden,
                    num_layers: self.num_layers,
                    bidirectional: self.bidirectional,
                    batch_first: self.batch_first,
                    dropout: self.dropout,
                    proj_size: self.projection(),
                    regularization: self.regularization.clone(),
                }
            }
        }
    };
}

impl RnnConfig {
    fn projection(&self) -> usize {
        0
    }

    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> crate::RnnCell<B> {
        RnnCellConfig::new(d_input, self.d_hidden)
            .with_bias(self.bias)
            .with_nonlinearity(self.nonlinearity)
            .with_initializer(self.initializer.clone())
            .init(device)
    }
}

impl LstmConfig {
    fn projection(&self) -> usize {
        self.proj_size
    }

    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> crate::LstmCell<B> {
        LstmCellConfig::new(d_input, self.d_hidden)
            .with_bias(self.bias)
            .with_initializer(self.initializer.clone())
            .with_forget_bias(self.forget_bias)
            .with_proj_size(self.proj_size)
            .with_peephole(self.peephole)
            .init(device)
    }
}

impl GruConfig {
    fn projection(&self) -> usize {
        0
    }

    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> crate::GruCell<B> {
        GruCellConfig::new(d_input, self.d_hidden)
            .with_bias(self.bias)
            .with_initializer(self.initializer.clone())
            .init(device)
    }
}

impl MinGruConfig {
    fn projection(&self) -> usize {
        0
    }

    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> crate::MinGruCell<B> {
        crate::MinGruCellConfig::new(d_input, self.d_hidden)
            .with_bias(self.bias)
            .with_initializer(self.initializer.clone())
            .init(device)
    }
}

impl MinLstmConfig {
    fn projection(&self) -> usize {
        0
    }

    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> crate::MinLstmCell<B> {
        crate::MinLstmCellConfig::new(d_input, self.d_hidden)
            .with_bias(self.bias)
            .with_initializer(self.initializer.clone())
            .init(device)
    }
}

impl LayerNormLstmConfig {
    fn projection(&self) -> usize {
        0
    }

    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> crate::LayerNormLstmCell<B> {
        crate::LayerNormLstmCellConfig::new(d_input, self.d_hidden)
            .with_initializer(self.initializer.clone())
            .init(device)
    }
}

impl LayerNormGruConfig {
    fn projection(&self) -> usize {
        0
    }

    fn cell<B: Backend>(&self, d_input: usize, device: &B::Device) -> crate::LayerNormGruCell<B> {
        crate::LayerNormGruCellConfig::new(d_input, self.d_hidden)
            .with_initializer(self.initializer.clone())
            .init(device)
    }
}

layer_init!(LayerNormLstmConfig, LayerNormLstm, "LayerNormLSTM");
layer_init!(LayerNormGruConfig, LayerNormGru, "LayerNormGRU");
layer_init!(MinGruConfig, MinGru, "minGRU");
layer_init!(MinLstmConfig, MinLstm, "minLSTM");
layer_init!(RnnConfig, Rnn, "RNN");
layer_init!(LstmConfig, Lstm, "LSTM");
layer_init!(GruConfig, Gru, "GRU");
