//! The argument and result types of the convolutional network ops of
//! [`RnnBackend`](super::RnnBackend): convolution, batch normalization, max pooling and the
//! ConvLSTM step's gate math.

use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;

/// Which gradients [`RnnBackend::conv2d_backward`](super::RnnBackend::conv2d_backward) computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvNeeds {
    /// The input's.
    pub x: bool,
    /// The weight's.
    pub weight: bool,
    /// The bias's.
    pub bias: bool,
}

/// The gradients of [`RnnBackend::conv2d_forward`](super::RnnBackend::conv2d_forward)'s inputs: each `Some` when it was asked for
/// ([`ConvNeeds`]).
#[derive(Debug, Clone)]
pub struct Conv2dGrads<B: Backend> {
    /// `[N, C_in, H, W]`
    pub x: Option<FloatTensor<B>>,
    /// `[C_out, C_in / groups, kH, kW]`
    pub weight: Option<FloatTensor<B>>,
    /// `[C_out]`
    pub bias: Option<FloatTensor<B>>,
}

/// The result of [`RnnBackend::batch_norm2d_forward`](super::RnnBackend::batch_norm2d_forward).
#[derive(Debug, Clone)]
pub struct BatchNormForward<B: Backend> {
    /// `[N, C, H, W]`
    pub y: FloatTensor<B>,
    /// `[C]`: each channel's mean over `N, H, W`.
    pub mean: FloatTensor<B>,
    /// `[C]`: `1 / sqrt(var + eps)`, `var` the biased variance over `N, H, W`.
    pub invstd: FloatTensor<B>,
}

/// The gradients of [`RnnBackend::batch_norm2d_forward`](super::RnnBackend::batch_norm2d_forward)'s inputs.
#[derive(Debug, Clone)]
pub struct BatchNormGrads<B: Backend> {
    /// `[N, C, H, W]`, when it was asked for.
    pub x: Option<FloatTensor<B>>,
    /// `[C]`
    pub gamma: FloatTensor<B>,
    /// `[C]`
    pub beta: FloatTensor<B>,
}

/// The settings of a max pooling (PyTorch's `F.max_pool2d`, without `ceil_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// `[kH, kW]`
    pub kernel: [usize; 2],
    /// `[stride_h, stride_w]`
    pub stride: [usize; 2],
    /// `-inf` padding on both sides, at most half the kernel.
    pub padding: [usize; 2],
    /// `[dilation_h, dilation_w]`
    pub dilation: [usize; 2],
}

/// The result of [`RnnBackend::conv_lstm_gates_forward`](super::RnnBackend::conv_lstm_gates_forward).
#[derive(Debug, Clone)]
pub struct ConvLstmGatesForward<B: Backend> {
    /// `[2, N, C_h, H, W]`: the new hidden state `h'` at index 0, the new cell state `c'` at 1.
    pub packed: FloatTensor<B>,
    /// `[N, 5*C_h, H, W]`, when the forward was asked to save: `sigmoid(i), sigmoid(f),
    /// sigmoid(o), tanh(g), tanh(c')` in channel blocks.
    pub saved: Option<FloatTensor<B>>,
}

/// The gradients of [`RnnBackend::conv_lstm_gates_forward`](super::RnnBackend::conv_lstm_gates_forward)'s inputs.
#[derive(Debug, Clone)]
pub struct ConvLstmGatesGrads<B: Backend> {
    /// `[N, 4*C_h, H, W]`: the gradient of the pre-activations.
    pub gates: FloatTensor<B>,
    /// `[N, C_h, H, W]`
    pub c_prev: FloatTensor<B>,
}
