//! The encoder-forecaster (Shi et al. 2015, "Convolutional LSTM Network"): strided
//! convolutions down to 16x16, a ConvLSTM that reads the input frames, a second ConvLSTM that
//! starts from its state and runs on for the frames to predict, and convolutions with pixel
//! shuffles back up to 64x64.

use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{backend::Backend, Tensor};
use burn_rnn::conv::{Conv2d, Conv2dConfig};
use burn_rnn::convrnn::{ConvLstm, ConvLstmConfig};

use crate::data::{OUTPUT_FRAMES, SIDE};

/// The model's sizes.
#[derive(Config, Debug, PartialEq)]
pub struct ForecasterConfig {
    /// Channels of the first strided convolution (64x64 -> 32x32).
    #[config(default = 16)]
    pub c1: usize,
    /// Channels of the second one (-> 16x16), the ConvLSTMs' input.
    #[config(default = 32)]
    pub c2: usize,
    /// Hidden channels of both ConvLSTMs.
    #[config(default = 32)]
    pub hidden: usize,
}

/// Encoder-forecaster ConvLSTM for next-frame prediction.
#[derive(Module, Debug)]
pub struct Forecaster<B: Backend> {
    down1: Conv2d<B>,
    down2: Conv2d<B>,
    encoder: ConvLstm<B>,
    forecaster: ConvLstm<B>,
    up1: Conv2d<B>,
    up2: Conv2d<B>,
}

fn conv<B: Backend>(c: [usize; 2], stride: usize, device: &B::Device) -> Conv2d<B> {
    Conv2dConfig::new(c, [3, 3])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
        .init(device)
}

impl ForecasterConfig {
    /// Creates the model on `device`.
    pub fn init<B: burn_rnn::RnnBackend>(&self, device: &B::Device) -> Forecaster<B> {
        let (c1, c2, h) = (self.c1, self.c2, self.hidden);
        Forecaster {
            down1: conv([1, c1], 2, device),
            down2: conv([c1, c2], 2, device),
            encoder: ConvLstmConfig::new(c2, h, 3).init(device),
            forecaster: ConvLstmConfig::new(c2, h, 3).init(device),
            up1: conv([h, 4 * c1], 1, device),
            up2: conv([c1, 4], 1, device),
        }
    }
}

/// `[M, C * 4, H, W]` -> `[M, C, 2H, 2W]`, as PyTorch's `pixel_shuffle(x, 2)`.
fn pixel_shuffle<B: Backend>(x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [m, c4, h, w] = x.dims();
    let c = c4 / 4;
    x.reshape([m, c, 2, 2, h, w])
        .permute([0, 1, 4, 2, 5, 3])
        .reshape([m, c, 2 * h, 2 * w])
}

impl<B: burn_rnn::RnnBackend> Forecaster<B> {
    /// The predicted frames after `input`.
    ///
    /// # Shapes
    /// - `input`: `[N, L_in, 1, 64, 64]`, values in `[0, 1]`
    /// - returns `[N, OUTPUT_FRAMES, 1, 64, 64]`, values in `(0, 1)`
    pub fn forward(&self, input: Tensor<B, 5>) -> Tensor<B, 5> {
        let [n, l, _, _, _] = input.dims();
        let x = input.reshape([n * l, 1, SIDE, SIDE]);
        let x = relu(self.down2.forward(relu(self.down1.forward(x))));
        let [_, c, h, w] = x.dims();
        let encoded = self.encoder.forward(x.reshape([n, l, c, h, w]), None);
        let zeros = Tensor::zeros([n, OUTPUT_FRAMES, c, h, w], &encoded.output.device());
        let future = self.forecaster.forward(zeros, Some(encoded.state)).output;
        let [_, t, ch, _, _] = future.dims();
        let y = future.reshape([n * t, ch, h, w]);
        let y = relu(pixel_shuffle(self.up1.forward(y)));
        let y = sigmoid(pixel_shuffle(self.up2.forward(y)));
        y.reshape([n, t, 1, SIDE, SIDE])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;
    use burn_rnn::backend::DefaultBackend as B;

    #[test]
    fn pixel_shuffle_puts_channel_c4_i_j_at_row_2h_i_and_column_2w_j() {
        let device = Default::default();
        // One pixel, 4 channels 0..4 -> a 2x2 block [[0, 1], [2, 3]].
        let x = Tensor::<B, 4>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 2.0, 3.0], [1, 4, 1, 1]),
            &device,
        );
        let y = pixel_shuffle(x);
        assert_eq!(y.dims(), [1, 1, 2, 2]);
        assert_eq!(y.into_data().to_vec::<f32>().unwrap(), [0.0, 1.0, 2.0, 3.0]);
    }

    #[test]
    fn the_forecast_has_the_frames_to_predict() {
        let device = Default::default();
        let model = ForecasterConfig::new()
            .with_c1(2)
            .with_c2(2)
            .with_hidden(2)
            .init::<B>(&device);
        let y = model.forward(Tensor::zeros([1, 3, 1, SIDE, SIDE], &device));
        assert_eq!(y.dims(), [1, OUTPUT_FRAMES, 1, SIDE, SIDE]);
    }
}
