//! Convolutional recurrent layers: [`ConvLstm`] and [`ConvGru`], whose gates are 2-D
//! convolutions over feature maps instead of matrix products over vectors (Shi et al. 2015).
//!
//! A layer runs a cell over a sequence of feature maps, stacked and optionally bidirectional,
//! with per-sequence lengths, as the 1-D layers do:
//!
//! | tensor | shape (`batch_first`, the default) | time-major |
//! | --- | --- | --- |
//! | input | `[N, L, C_in, H, W]` | `[L, N, C_in, H, W]` |
//! | output (the last layer's `h` at every step) | `[N, L, D*C_h, H, W]` | `[L, N, D*C_h, H, W]` |
//! | final `hidden` (and `cell`, ConvLSTM) | `[num_layers*D, N, C_h, H, W]` | the same |
//!
//! (`D` = 2 if bidirectional, else 1; final states ordered `layer * D + direction`, as
//! PyTorch orders them.) Each step's convolutions run on [`crate::conv::Conv2d`], so on
//! `NdArray<f32>` they are the crate's CPU convolution kernels.
//!
//! Parameters have the names of the PyTorch ports the cells follow
//! (`cell_list.{k}.conv.weight` for ConvLSTM, `cell_list.{k}.conv_gates.weight` and
//! `cell_list.{k}.conv_can.weight` for ConvGRU; the reverse direction's cells are
//! `cell_list_reverse.{k}`), so their `state_dict`s load with
//! [`PytorchParams::load_pytorch`](crate::PytorchParams::load_pytorch):
//!
//! ```
//! use burn::tensor::{Distribution, Tensor};
//! use burn_rnn::backend::DefaultAutodiffBackend as B;
//! use burn_rnn::convrnn::ConvLstmConfig;
//!
//! let device = Default::default();
//! // 3 input channels, 8 hidden channels, 3x3 convolutions, 2 layers.
//! let layer = ConvLstmConfig::new(3, 8, 3).with_num_layers(2).init::<B>(&device);
//! let x = Tensor::<B, 5>::random([2, 4, 3, 16, 16], Distribution::Default, &device);
//! let out = layer.forward(x, None);
//! assert_eq!(out.output.dims(), [2, 4, 8, 16, 16]); // [N, L, C_h, H, W]
//! assert_eq!(out.state.hidden.dims(), [2, 2, 8, 16, 16]); // [layers, N, C_h, H, W]
//! let grads = out.output.sum().backward();
//! # use burn::tensor::backend::Backend;
//! # B::sync(&device).unwrap();
//! ```

mod cell;
mod layer;
mod params;

pub use cell::{ConvCell, ConvGruCell, ConvLstmCell};
pub use layer::{ConvGru, ConvGruConfig, ConvLstm, ConvLstmConfig, ConvRecurrent};

use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

/// The state of a convolutional recurrent cell (`D = 4`: `[N, C_h, H, W]`) or layer (`D = 5`:
/// `[num_layers*D, N, C_h, H, W]`): the hidden maps and, for a ConvLSTM, the cell maps.
#[derive(Debug, Clone)]
pub struct ConvState<B: Backend, const D: usize> {
    /// `h`
    pub hidden: Tensor<B, D>,
    /// `c` (ConvLSTM), `None` for a ConvGRU.
    pub cell: Option<Tensor<B, D>>,
}

/// What a convolutional recurrent layer returns ([`ConvRecurrent::try_forward`]).
#[derive(Debug, Clone)]
pub struct ConvOutput<B: Backend> {
    /// The last layer's hidden maps at every step: `[N, L, D*C_h, H, W]` (`[L, N, ...]` when
    /// not batch-first); zero past a sequence's length.
    pub output: Tensor<B, 5>,
    /// The final state of every layer and direction, `[num_layers*D, N, C_h, H, W]` parts.
    pub state: ConvState<B, 5>,
}

/// An input, state or lengths that the layer cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConvInputError {
    /// A tensor of the wrong shape.
    Shape {
        /// The layer (`"ConvLSTM"`).
        module: &'static str,
        /// `"input"`, `"hidden"`, `"cell"` or `"lengths"`.
        what: &'static str,
        /// The shape expected (`[N]` for the lengths).
        expected: Vec<usize>,
        /// The shape given.
        actual: Vec<usize>,
    },
    /// A state part the cell does not have (a `cell` given to a ConvGRU) or lacks (no `cell`
    /// given to a ConvLSTM).
    Part {
        /// The layer.
        module: &'static str,
        /// `"cell"`.
        what: &'static str,
        /// Whether the layer expects it.
        expected: bool,
    },
    /// A sequence length outside `1..=L`.
    Length {
        /// The layer.
        module: &'static str,
        /// The sequence's index in the batch.
        sequence: usize,
        /// Its length.
        length: usize,
        /// `L`, the input's sequence length.
        max: usize,
    },
}

impl core::fmt::Display for ConvInputError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ConvInputError::Shape {
                module,
                what,
                expected,
                actual,
            } => write!(
                f,
                "{module}: expected {what} of shape {expected:?}, got {actual:?}"
            ),
            ConvInputError::Part {
                module,
                what,
                expected: true,
            } => write!(f, "{module}: expected a state with a {what} part, got none"),
            ConvInputError::Part { module, what, .. } => {
                write!(
                    f,
                    "{module}: expected a state without a {what} part, got one"
                )
            }
            ConvInputError::Length {
                module,
                sequence,
                length,
                max,
            } => write!(
                f,
                "{module}: expected every length in 1..={max} (the sequence length), got \
                 {length} for sequence {sequence}"
            ),
        }
    }
}

impl std::error::Error for ConvInputError {}
