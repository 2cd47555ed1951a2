//! The two convolutional cells: [`ConvLstmCell`] and [`ConvGruCell`].

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::tanh;
use burn::tensor::backend::Backend;
use burn::tensor::Tensor;

use super::ConvState;
use crate::conv::{Conv2d, Conv2dConfig};
use crate::math::sigmoid;
use crate::RnnBackend;

/// One step of a convolutional recurrent cell: the part of a cell that
/// [`ConvRecurrent`](super::ConvRecurrent) runs over a sequence.
pub trait ConvCell<B: Backend>: Module<B> + core::fmt::Debug {
    /// The cell's name in messages (`"ConvLSTMCell"`).
    const NAME: &'static str;
    /// The name of a layer of this cell in messages (`"ConvLSTM"`).
    const LAYER_NAME: &'static str;
    /// Whether the state has a cell part `c` (an LSTM) besides `h`.
    const HAS_CELL: bool;

    /// Input channels `C_in`.
    fn channels_in(&self) -> usize;

    /// Hidden channels `C_h`.
    fn channels_hidden(&self) -> usize;

    /// One step.
    ///
    /// # Shapes
    /// - `x`: `[N, C_in, H, W]`; `state`: `[N, C_h, H, W]` parts; returns the new state
    fn step(&self, x: Tensor<B, 4>, state: ConvState<B, 4>) -> ConvState<B, 4>;
}

/// A convolution over `cat[x, h]` of `channels` `[C_in + C_h, G * C_h]`, "same" padding.
fn gate_conv<B: RnnBackend>(
    channels: [usize; 2],
    kernel: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(
            kernel / 2,
            kernel / 2,
            kernel / 2,
            kernel / 2,
        ))
        .with_bias(bias)
        .init(device)
}

/// ConvLSTM (Shi et al. 2015, "Convolutional LSTM Network"), in the form of the widely used
/// PyTorch port (`ConvLSTMCell` of ndrplz/ConvLSTM_pytorch): one convolution over the input and
/// the hidden state, split into the gates `i, f, o, g`:
///
/// ```text
/// [i, f, o, g] = conv(cat[x_t, h_{t-1}])          // [N, 4*C_h, H, W], split on channels
/// c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
/// h_t = sigmoid(o) * tanh(c_t)
/// ```
///
/// Parameters (PyTorch names relative to the cell): `conv.weight: [4*C_h, C_in + C_h, k, k]`,
/// `conv.bias: [4*C_h]` (optional); the input's channels come first in the weight's second
/// dimension. Padding is `k / 2` on every side (`k` odd), so `H` and `W` are kept.
#[derive(Module, Debug)]
pub struct ConvLstmCell<B: Backend> {
    conv: Conv2d<B>,
}

impl<B: RnnBackend> ConvLstmCell<B> {
    /// A cell of `C_in` input and `C_h` hidden channels and a `kernel x kernel` convolution
    /// (odd; checked by the layer configs), initialized as `nn.Conv2d`.
    pub(crate) fn new(
        [c_in, c_h]: [usize; 2],
        kernel: usize,
        bias: bool,
        device: &B::Device,
    ) -> Self {
        Self {
            conv: gate_conv([c_in + c_h, 4 * c_h], kernel, bias, device),
        }
    }

    /// The gate convolution: weight `[4*C_h, C_in + C_h, k, k]`, gates `i, f, o, g`.
    pub fn conv(&self) -> &Conv2d<B> {
        &self.conv
    }

    pub(crate) fn conv_mut(&mut self) -> &mut Conv2d<B> {
        &mut self.conv
    }
}

impl<B: RnnBackend> ConvCell<B> for ConvLstmCell<B> {
    const NAME: &'static str = "ConvLSTMCell";
    const LAYER_NAME: &'static str = "ConvLSTM";
    const HAS_CELL: bool = true;

    fn channels_in(&self) -> usize {
        self.conv.channels()[0] - self.channels_hidden()
    }

    fn channels_hidden(&self) -> usize {
        self.conv.channels()[1] / 4
    }

    fn step(&self, x: Tensor<B, 4>, state: ConvState<B, 4>) -> ConvState<B, 4> {
        let ConvState { hidden, cell } = state;
        let c = cell.expect("a ConvLSTM state has a cell part");
        let gates = self.conv.forward(Tensor::cat(vec![x, hidden], 1));
        let [i, f, o, g]: [Tensor<B, 4>; 4] = gates
            .chunk(4, 1)
            .try_into()
            .expect("4 * C_h channels split in 4");
        let c = sigmoid(f) * c + sigmoid(i) * tanh(g);
        ConvState {
            hidden: sigmoid(o) * tanh(c.clone()),
            cell: Some(c),
        }
    }
}

/// ConvGRU (Ballas et al. 2016, "Delving Deeper into Convolutional Networks for Learning Video
/// Representations"), in the form of the PyTorch port `ConvGRUCell` of happyjin/ConvGRU-pytorch:
/// the reset and update gates from one convolution over the input and the hidden state, the
/// candidate from a second one over the input and the reset hidden state:
///
/// ```text
/// [r, z] = sigmoid(conv_gates(cat[x_t, h_{t-1}]))  // [N, 2*C_h, H, W], split on channels
/// n = tanh(conv_can(cat[x_t, r * h_{t-1}]))        // [N, C_h, H, W]
/// h_t = (1 - z) * h_{t-1} + z * n
/// ```
///
/// Parameters (PyTorch names relative to the cell): `conv_gates.weight: [2*C_h, C_in + C_h, k,
/// k]`, `conv_gates.bias: [2*C_h]`, `conv_can.weight: [C_h, C_in + C_h, k, k]`,
/// `conv_can.bias: [C_h]` (biases optional); padding `k / 2`.
#[derive(Module, Debug)]
pub struct ConvGruCell<B: Backend> {
    conv_gates: Conv2d<B>,
    conv_can: Conv2d<B>,
}

impl<B: RnnBackend> ConvGruCell<B> {
    /// A cell of `C_in` input and `C_h` hidden channels and `kernel x kernel` convolutions.
    pub(crate) fn new(
        [c_in, c_h]: [usize; 2],
        kernel: usize,
        bias: bool,
        device: &B::Device,
    ) -> Self {
        Self {
            conv_gates: gate_conv([c_in + c_h, 2 * c_h], kernel, bias, device),
            conv_can: gate_conv([c_in + c_h, c_h], kernel, bias, device),
        }
    }

    /// The gates' convolution: weight `[2*C_h, C_in + C_h, k, k]`, gates `r, z`.
    pub fn conv_gates(&self) -> &Conv2d<B> {
        &self.conv_gates
    }

    /// The candidate's convolution: weight `[C_h, C_in + C_h, k, k]`.
    pub fn conv_can(&self) -> &Conv2d<B> {
        &self.conv_can
    }

    pub(crate) fn named_convs_mut(&mut self) -> [(&'static str, &mut Conv2d<B>); 2] {
        [
            ("conv_gates", &mut self.conv_gates),
            ("conv_can", &mut self.conv_can),
        ]
    }
}

impl<B: RnnBackend> ConvCell<B> for ConvGruCell<B> {
    const NAME: &'static str = "ConvGRUCell";
    const LAYER_NAME: &'static str = "ConvGRU";
    const HAS_CELL: bool = false;

    fn channels_in(&self) -> usize {
        self.conv_can.channels()[0] - self.channels_hidden()
    }

    fn channels_hidden(&self) -> usize {
        self.conv_can.channels()[1]
    }

    fn step(&self, x: Tensor<B, 4>, state: ConvState<B, 4>) -> ConvState<B, 4> {
        let h = state.hidden;
        let gates = sigmoid(
            self.conv_gates
                .forward(Tensor::cat(vec![x.clone(), h.clone()], 1)),
        );
        let [r, z]: [Tensor<B, 4>; 2] = gates
            .chunk(2, 1)
            .try_into()
            .expect("2 * C_h channels split in 2");
        let n = tanh(
            self.conv_can
                .forward(Tensor::cat(vec![x, r * h.clone()], 1)),
        );
        ConvState {
            hidden: h.clone() + z * (n - h),
            cell: None,
        }
    }
}
