//! [`Conv2d`]: `burn::nn::conv::Conv2d` on the crate's convolution op.

use burn::config::Config;
use burn::module::{Initializer, Module, Param};
use burn::nn::PaddingConfig2d;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::Tensor;

use super::padding_pairs;
use crate::kernels::{unwrap, wrap, RnnBackend};
use crate::ConfigError;

/// Configuration of a [`Conv2d`]: the fields, defaults and builders of
/// `burn::nn::conv::Conv2dConfig`.
#[derive(Config, Debug)]
pub struct Conv2dConfig {
    /// `[C_in, C_out]`
    pub channels: [usize; 2],
    /// `[kH, kW]`
    pub kernel_size: [usize; 2],
    /// The stride of the convolution.
    #[config(default = "[1, 1]")]
    pub stride: [usize; 2],
    /// Spacing between kernel elements.
    #[config(default = "[1, 1]")]
    pub dilation: [usize; 2],
    /// Groups: `C_in` and `C_out` are both multiples of it; each group of `C_out / groups`
    /// output channels sees its own `C_in / groups` input channels.
    #[config(default = "1")]
    pub groups: usize,
    /// The zero padding. `Same` keeps `H` and `W` at stride 1, padding one more at the end
    /// than at the start for an even kernel (as Burn computes it: from the kernel size, not
    /// the dilated extent).
    #[config(default = "PaddingConfig2d::Valid")]
    pub padding: PaddingConfig2d,
    /// Whether the output gets a bias.
    #[config(default = true)]
    pub bias: bool,
    /// The initializer of the weight and bias (Burn's default: Kaiming uniform with gain
    /// `1/sqrt(3)`, PyTorch's default for `nn.Conv2d`).
    // 1 / sqrt(3), as Burn computes it.
    #[config(default = "Initializer::KaimingUniform{gain:0.5773502691896258,fan_out_only:false}")]
    pub initializer: Initializer,
}

/// A 2-D convolution, PyTorch's `nn.Conv2d` and `burn::nn::conv::Conv2d`:
/// `y[n, co] = b[co] + sum_ci w[co, ci] ⋆ x[n, g(co) * C_in/groups + ci]`.
///
/// Parameters: `weight [C_out, C_in / groups, kH, kW]`, `bias [C_out]` (optional), in
/// PyTorch's layout; the record's fields are named as Burn's module names them.
#[derive(Module, Debug)]
pub struct Conv2d<B: Backend> {
    weight: Param<Tensor<B, 4>>,
    bias: Option<Param<Tensor<B, 1>>>,
    stride: [usize; 2],
    kernel_size: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
    padding: PaddingConfig2d,
}

impl Conv2dConfig {
    /// Creates a [`Conv2d`] on `device`.
    ///
    /// # Errors
    /// A channel count, kernel size, stride, dilation or group count of 0, or channels the
    /// groups do not divide ([`ConfigError`]).
    pub fn try_init<B: Backend>(&self, device: &B::Device) -> Result<Conv2d<B>, ConfigError> {
        self.check()?;
        let [c_in, c_out] = self.channels;
        let shape = [
            c_out,
            c_in / self.groups,
            self.kernel_size[0],
            self.kernel_size[1],
        ];
        let taps = self.kernel_size[0] * self.kernel_size[1];
        let (fan_in, fan_out) = (c_in / self.groups * taps, c_out / self.groups * taps);
        let init = &self.initializer;
        Ok(Conv2d {
            weight: init.init_with(shape, Some(fan_in), Some(fan_out), device),
            bias: self
                .bias
                .then(|| init.init_with([c_out], Some(fan_in), Some(fan_out), device)),
            stride: self.stride,
            kernel_size: self.kernel_size,
            dilation: self.dilation,
            groups: self.groups,
            padding: self.padding.clone(),
        })
    }

    /// Creates a [`Conv2d`] on `device`.
    ///
    /// # Panics
    /// On the settings [`Conv2dConfig::try_init`] refuses, with the same message.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Conv2d<B> {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    fn check(&self) -> Result<(), ConfigError> {
        let module = "Conv2d";
        let sizes = [
            ("channels_in", self.channels[0]),
            ("channels_out", self.channels[1]),
            ("kernel_size", self.kernel_size[0].min(self.kernel_size[1])),
            ("stride", self.stride[0].min(self.stride[1])),
            ("dilation", self.dilation[0].min(self.dilation[1])),
            ("groups", self.groups),
        ];
        if let Some((setting, _)) = sizes.into_iter().find(|&(_, v)| v == 0) {
            return Err(ConfigError::Zero { module, setting });
        }
        let [c_in, c_out] = self.channels;
        if !c_in.is_multiple_of(self.groups) || !c_out.is_multiple_of(self.groups) {
            return Err(ConfigError::Groups {
                module,
                groups: self.groups,
                channels: self.channels,
            });
        }
        Ok(())
    }
}

impl<B: Backend> Conv2d<B> {
    /// The weight, `[C_out, C_in / groups, kH, kW]`.
    pub fn weight(&self) -> &Param<Tensor<B, 4>> {
        &self.weight
    }

    /// The bias, `[C_out]`, if the module has one.
    pub fn bias(&self) -> Option<&Param<Tensor<B, 1>>> {
        self.bias.as_ref()
    }

    /// `[C_in, C_out]`, read from the weight.
    pub fn channels(&self) -> [usize; 2] {
        let shape = self.weight.lazy_shape();
        [shape[1] * self.groups, shape[0]]
    }

    /// The weight and the bias, to replace their values (an import).
    pub(crate) fn params_mut(
        &mut self,
    ) -> (&mut Param<Tensor<B, 4>>, Option<&mut Param<Tensor<B, 1>>>) {
        (&mut self.weight, self.bias.as_mut())
    }

    /// `[kH, kW]`
    pub fn kernel_size(&self) -> [usize; 2] {
        self.kernel_size
    }

    /// `[stride_h, stride_w]`
    pub fn stride(&self) -> [usize; 2] {
        self.stride
    }

    /// `[dilation_h, dilation_w]`
    pub fn dilation(&self) -> [usize; 2] {
        self.dilation
    }

    /// The number of groups.
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// The padding setting.
    pub fn padding(&self) -> &PaddingConfig2d {
        &self.padding
    }
}

impl<B: RnnBackend> Conv2d<B> {
    /// Applies the convolution.
    ///
    /// # Shapes
    /// - `input`: `[N, C_in, H, W]`
    /// - returns `[N, C_out, H_out, W_out]`,
    ///   `H_out = (H + pad_top + pad_bottom - dilation_h * (kH - 1) - 1) / stride_h + 1`
    ///   (and the same for `W_out`)
    ///
    /// # Panics
    /// If the input does not have `C_in` channels, or the padded input is smaller than the
    /// dilated kernel; the message gives the expected and the actual shape.
    pub fn forward(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let [_, _, height, width] = input.dims();
        let ((top, bottom), (left, right)) = padding_pairs(
            &self.padding,
            [height, width],
            self.kernel_size,
            self.stride,
        );
        let (input, padding) = match top == bottom && left == right {
            true => (input, [top, left]),
            false => (
                input.pad((left, right, top, bottom), PadMode::Constant(0.0)),
                [0, 0],
            ),
        };
        let options = ConvOptions::new(self.stride, padding, self.dilation, self.groups);
        conv2d(
            input,
            self.weight.val(),
            self.bias.as_ref().map(|b| b.val()),
            options,
        )
    }
}

/// A 2-D convolution with symmetric zero padding through [`RnnBackend::conv2d_forward`]
/// (PyTorch's `F.conv2d`).
///
/// # Shapes
/// - `x`: `[N, C_in, H, W]`, `weight`: `[C_out, C_in / groups, kH, kW]`, `bias`: `[C_out]`
/// - returns `[N, C_out, H_out, W_out]`
///
/// # Panics
/// If the shapes do not fit together or the padded input is smaller than the dilated kernel,
/// naming the expected and the actual shape.
pub fn conv2d<B: RnnBackend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<2>,
) -> Tensor<B, 4> {
    let (dims, w) = (x.dims(), weight.dims());
    let c_in = w[1] * options.groups;
    assert!(
        dims[1] == c_in,
        "Conv2d: expected input of shape [batch, {c_in}, height, width], got {dims:?} \
         (channels: expected {c_in}, got {})",
        dims[1]
    );
    for i in 0..2 {
        let span = options.dilation[i] * (w[2 + i] - 1) + 1;
        assert!(
            dims[2 + i] + 2 * options.padding[i] >= span,
            "Conv2d: expected an input of at least {span} {} after padding (the dilated kernel), \
             got shape {dims:?} with padding {:?}",
            ["rows", "columns"][i],
            options.padding
        );
    }
    let bias = bias.unwrap_or_else(|| Tensor::zeros([w[0]], &weight.device()));
    wrap(B::conv2d_forward(
        unwrap(x),
        unwrap(weight),
        unwrap(bias),
        options,
    ))
}

impl<B: Backend> From<burn::nn::conv::Conv2d<B>> for Conv2d<B> {
    fn from(conv: burn::nn::conv::Conv2d<B>) -> Self {
        Self {
            weight: conv.weight,
            bias: conv.bias,
            stride: conv.stride,
            kernel_size: conv.kernel_size,
            dilation: conv.dilation,
            groups: conv.groups,
            padding: conv.padding,
        }
    }
}

impl<B: Backend> From<Conv2d<B>> for burn::nn::conv::Conv2d<B> {
    fn from(conv: Conv2d<B>) -> Self {
        Self {
            weight: conv.weight,
            bias: conv.bias,
            stride: conv.stride,
            kernel_size: conv.kernel_size,
            dilation: conv.dilation,
            groups: conv.groups,
            padding: conv.padding,
        }
    }
}

impl From<burn::nn::conv::Conv2dConfig> for Conv2dConfig {
    fn from(c: burn::nn::conv::Conv2dConfig) -> Self {
        Self {
            channels: c.channels,
            kernel_size: c.kernel_size,
            stride: c.stride,
            dilation: c.dilation,
            groups: c.groups,
            padding: c.padding,
            bias: c.bias,
            initializer: c.initializer,
        }
    }
}
