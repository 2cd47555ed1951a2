//! [`MaxPool2d`]: `burn::nn::pool::MaxPool2d` on the crate's max-pooling op.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::tensor::ops::PadMode;
use burn::tensor::Tensor;

use super::padding_pairs;
use crate::kernels::{unwrap, wrap, PoolOptions, RnnBackend};
use crate::ConfigError;

/// Configuration of a [`MaxPool2d`]: the fields and defaults of
/// `burn::nn::pool::MaxPool2dConfig`.
#[derive(Config, Debug)]
pub struct MaxPool2dConfig {
    /// `[kH, kW]`
    pub kernel_size: [usize; 2],
    /// The strides (default: the kernel size).
    #[config(default = "kernel_size")]
    pub strides: [usize; 2],
    /// The `-inf` padding (`Same` as [`Conv2dConfig`](super::Conv2dConfig)'s).
    #[config(default = "PaddingConfig2d::Valid")]
    pub padding: PaddingConfig2d,
    /// Spacing between kernel elements.
    #[config(default = "[1, 1]")]
    pub dilation: [usize; 2],
    /// Ceiling instead of floor in the output size: not supported (`try_init` refuses it).
    #[config(default = "false")]
    pub ceil_mode: bool,
}

/// 2-D max pooling, PyTorch's `nn.MaxPool2d` and `burn::nn::pool::MaxPool2d`: each output is
/// the largest input of its window (a NaN in the window wins); the gradient goes to that input
/// (the first one in row-major order on ties).
#[derive(Module, Clone, Debug)]
pub struct MaxPool2d {
    stride: [usize; 2],
    kernel_size: [usize; 2],
    padding: PaddingConfig2d,
    dilation: [usize; 2],
    ceil_mode: bool,
}

impl MaxPool2dConfig {
    /// Creates a [`MaxPool2d`].
    ///
    /// # Errors
    /// A zero kernel size, stride or dilation, or `ceil_mode` ([`ConfigError`]).
    pub fn try_init(&self) -> Result<MaxPool2d, ConfigError> {
        let module = "MaxPool2d";
        let sizes = [
            ("kernel_size", self.kernel_size[0].min(self.kernel_size[1])),
            ("strides", self.strides[0].min(self.strides[1])),
            ("dilation", self.dilation[0].min(self.dilation[1])),
        ];
        if let Some((setting, _)) = sizes.into_iter().find(|&(_, v)| v == 0) {
            return Err(ConfigError::Zero { module, setting });
        }
        if self.ceil_mode {
            return Err(ConfigError::Unsupported {
                module,
                setting: "ceil_mode",
            });
        }
        Ok(MaxPool2d {
            stride: self.strides,
            kernel_size: self.kernel_size,
            padding: self.padding.clone(),
            dilation: self.dilation,
            ceil_mode: false,
        })
    }

    /// Creates a [`MaxPool2d`].
    ///
    /// # Panics
    /// On the settings [`MaxPool2dConfig::try_init`] refuses, with the same message.
    pub fn init(&self) -> MaxPool2d {
        self.try_init().unwrap_or_else(|e| panic!("{e}"))
    }
}

impl MaxPool2d {
    /// Pools each channel.
    ///
    /// # Shapes
    /// - `input`: `[N, C, H, W]`; returns `[N, C, H_out, W_out]`,
    ///   `H_out = (H + pad_top + pad_bottom - dilation_h * (kH - 1) - 1) / stride_h + 1`
    ///
    /// # Panics
    /// If the padded input is smaller than the dilated window.
    pub fn forward<B: RnnBackend>(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, _, height, width] = input.dims();
        let ((top, bottom), (left, right)) = padding_pairs(
            &self.padding,
            [height, width],
            self.kernel_size,
            self.stride,
        );
        let symmetric = top == bottom
            && left == right
            && 2 * top <= self.kernel_size[0]
            && 2 * left <= self.kernel_size[1];
        let (input, padding) = match symmetric {
            true => (input, [top, left]),
            false => (
                input.pad(
                    (left, right, top, bottom),
                    PadMode::Constant(f32::NEG_INFINITY),
                ),
                [0, 0],
            ),
        };
        let dims = input.dims();
        for i in 0..2 {
            let span = self.dilation[i] * (self.kernel_size[i] - 1) + 1;
            assert!(
                dims[2 + i] + 2 * padding[i] >= span,
                "MaxPool2d: expected an input of at least {span} {} after padding, got shape {dims:?}",
                ["rows", "columns"][i],
            );
        }
        let options = PoolOptions {
            kernel: self.kernel_size,
            stride: self.stride,
            padding,
            dilation: self.dilation,
        };
        wrap(B::max_pool2d_forward(unwrap(input), options))
    }
}

impl From<burn::nn::pool::MaxPool2d> for MaxPool2d {
    fn from(p: burn::nn::pool::MaxPool2d) -> Self {
        Self {
            stride: p.stride,
            kernel_size: p.kernel_size,
            padding: p.padding,
            dilation: p.dilation,
            ceil_mode: p.ceil_mode,
        }
    }
}

impl From<MaxPool2d> for burn::nn::pool::MaxPool2d {
    fn from(p: MaxPool2d) -> Self {
        Self {
            stride: p.stride,
            kernel_size: p.kernel_size,
            padding: p.padding,
            dilation: p.dilation,
            ceil_mode: p.ceil_mode,
        }
    }
}
