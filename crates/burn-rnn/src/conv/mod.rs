//! The layers of convolutional recurrent networks on the crate's kernels: [`Conv2d`],
//! [`BatchNorm2d`] and [`MaxPool2d`], each with the config, record and parameter layout of its
//! `burn::nn` twin, running the ops of [`RnnBackend`](crate::RnnBackend)
//! ([`conv2d_forward`](crate::RnnBackend::conv2d_forward),
//! [`batch_norm2d_forward`](crate::RnnBackend::batch_norm2d_forward),
//! [`max_pool2d_forward`](crate::RnnBackend::max_pool2d_forward)): the `rnn-cpu` kernels on
//! `NdArray<f32>`, one autodiff node each on `Autodiff`, Burn's own ops (or plain tensor ops)
//! on every other backend.
//!
//! | module | Burn's twin | PyTorch's |
//! | --- | --- | --- |
//! | [`Conv2d`] | `burn::nn::conv::Conv2d` | `nn.Conv2d` (zero padding) |
//! | [`BatchNorm2d`] | `burn::nn::BatchNorm` on `[N, C, H, W]` | `nn.BatchNorm2d` |
//! | [`MaxPool2d`] | `burn::nn::pool::MaxPool2d` | `nn.MaxPool2d` |
//!
//! Swapping Burn's module for this one is the `use` line:
//! ```
//! // use burn::nn::conv::{Conv2d, Conv2dConfig};
//! use burn_rnn::conv::{Conv2d, Conv2dConfig};
//! use burn::nn::PaddingConfig2d;
//! use burn::tensor::{Distribution, Tensor};
//! use burn_rnn::backend::DefaultAutodiffBackend as B;
//!
//! let device = Default::default();
//! let conv: Conv2d<B> = Conv2dConfig::new([3, 16], [3, 3])
//!     .with_padding(PaddingConfig2d::Same)
//!     .init(&device);
//! let x = Tensor::<B, 4>::random([2, 3, 32, 80], Distribution::Default, &device); // [N, C_in, H, W]
//! let y = conv.forward(x);
//! assert_eq!(y.dims(), [2, 16, 32, 80]); // [N, C_out, H_out, W_out]
//! let grads = y.sum().backward();
//! assert_eq!(conv.weight().grad(&grads).unwrap().dims(), [16, 3, 3, 3]);
//! # use burn::tensor::backend::Backend;
//! # B::sync(&device).unwrap();
//! ```
//! A record saved from one module loads into the other, and `From` converts between them.

mod conv2d;
mod norm;
mod pool;

pub use conv2d::{conv2d, Conv2d, Conv2dConfig};
pub use norm::{BatchNorm2d, BatchNorm2dConfig};
pub use pool::{MaxPool2d, MaxPool2dConfig};

/// `((top, bottom), (left, right))` padding of `padding` for an input of `[height, width]`, as
/// Burn computes it (`Same` from the kernel size, one more at the end for an even kernel).
fn padding_pairs(
    padding: &burn::nn::PaddingConfig2d,
    [height, width]: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
) -> ((usize, usize), (usize, usize)) {
    use burn::nn::PaddingConfig2d;
    let same = |k: usize, s: usize, size: usize| {
        let out = size.div_ceil(s);
        let total = ((out.max(1) - 1) * s + k).saturating_sub(size);
        (total / 2, total - total / 2)
    };
    match *padding {
        PaddingConfig2d::Valid => ((0, 0), (0, 0)),
        PaddingConfig2d::Same => (
            same(kernel[0], stride[0], height),
            same(kernel[1], stride[1], width),
        ),
        PaddingConfig2d::Explicit(top, left, bottom, right) => ((top, bottom), (left, right)),
    }
}
