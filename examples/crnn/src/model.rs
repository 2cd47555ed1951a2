//! The CRNN (Shi, Bai and Yao 2015): a VGG-style convolution stack, its feature map read column
//! by column by a bidirectional LSTM, a linear read-out to the alphabet and CTC's blank.
//!
//! One addition to the paper's network, on by default: a linear shortcut from each column's
//! convolution features to its class scores, added to the LSTM's read-out. Without it, the
//! LSTM holds training on a plateau (the loss near ln 63 per character, no character read)
//! for over a thousand steps, in PyTorch as here; with it the convolutions learn the
//! characters at once and the LSTM the context. Measured in the example's README.

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CTCLossConfig;
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};
use burn_rnn::conv::{
    BatchNorm2d, BatchNorm2dConfig, Conv2d, Conv2dConfig, MaxPool2d, MaxPool2dConfig,
};
use burn_rnn::{Lstm, LstmConfig, RecurrentInput};

use crate::data::{Batch, CLASSES};
use crate::render::HEIGHT;

/// The model's shape; saved beside its weights.
#[derive(Config, Debug, PartialEq)]
pub struct CrnnConfig {
    /// Output channels of the convolution blocks (3x3, batch norm, ReLU, max-pool). The
    /// first two blocks pool 2x2, the others 2x1 (height only), until the height is 2.
    #[config(default = "vec![16, 32, 64, 64]")]
    pub widths: Vec<usize>,
    /// Hidden size of each LSTM direction.
    #[config(default = 128)]
    pub hidden: usize,
    /// Bidirectional LSTM layers.
    #[config(default = 2)]
    pub layers: usize,
    /// Whether the columns' features also reach the class scores through a linear shortcut
    /// (see the module docs).
    #[config(default = true)]
    pub shortcut: bool,
}

/// The horizontal downsampling of the convolution stack: a line `W` pixels wide is read as
/// `W / 4` columns.
pub const COLUMN_PIXELS: usize = 4;

/// The most convolution blocks (the height halves in each: 32 -> 2 takes 4).
pub const BLOCKS: usize = 4;

/// Convolution, batch norm, max-pool, ReLU (the same as ReLU before the pool).
#[derive(Module, Debug)]
pub struct ConvBlock<B: Backend> {
    conv: Conv2d<B>,
    norm: BatchNorm2d<B>,
    pool: MaxPool2d,
}

/// The recognizer: convolutions -> columns -> bidirectional LSTM -> linear (+ the shortcut's
/// linear of the columns) -> log-softmax.
#[derive(Module, Debug)]
pub struct Crnn<B: Backend> {
    blocks: Vec<ConvBlock<B>>,
    rnn: Lstm<B>,
    head: Linear<B>,
    shortcut: Option<Linear<B>>,
}

impl CrnnConfig {
    /// Checks the sizes: [`BLOCKS`] blocks of 1 to 1024 channels, a hidden size of 1 to 4096,
    /// 1 to 8 layers.
    ///
    /// # Errors
    /// The first setting out of range, named.
    pub fn check(&self) -> Result<(), String> {
        if self.widths.len() != BLOCKS || self.widths.iter().any(|w| !(1..=1024).contains(w)) {
            return Err(format!(
                "widths must be {BLOCKS} channel counts in 1..=1024, got {:?}",
                self.widths
            ));
        }
        if !(1..=4096).contains(&self.hidden) {
            return Err(format!("hidden must be in 1..=4096, got {}", self.hidden));
        }
        if !(1..=8).contains(&self.layers) {
            return Err(format!("layers must be in 1..=8, got {}", self.layers));
        }
        Ok(())
    }

    /// Creates the model on `device`.
    ///
    /// # Panics
    /// If [`CrnnConfig::check`] fails.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Crnn<B> {
        self.check().unwrap_or_else(|e| panic!("CrnnConfig: {e}"));
        let mut c_in = 1;
        let blocks = self
            .widths
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                let pool = if i < 2 { [2, 2] } else { [2, 1] };
                let block = ConvBlock {
                    conv: Conv2dConfig::new([c_in, c], [3, 3])
                        .with_padding(PaddingConfig2d::Same)
                        .init(device),
                    norm: BatchNorm2dConfig::new(c).init(device),
                    pool: MaxPool2dConfig::new(pool).with_strides(pool).init(),
                };
                c_in = c;
                block
            })
            .collect();
        let features = c_in * (HEIGHT >> BLOCKS);
        Crnn {
            blocks,
            rnn: LstmConfig::new(features, self.hidden)
                .with_num_layers(self.layers)
                .with_bidirectional(true)
                .with_batch_first(false)
                .init(device),
            head: LinearConfig::new(2 * self.hidden, CLASSES).init(device),
            shortcut: self
                .shortcut
                .then(|| LinearConfig::new(features, CLASSES).init(device)),
        }
    }
}

impl<B: burn_rnn::RnnBackend> Crnn<B> {
    /// Log-probabilities of each column's class.
    ///
    /// # Shapes
    /// - `images`: `[N, 1, HEIGHT, W]`, standardized lines
    /// - `widths`: each line's width before padding (`N` values in `1..=W`)
    /// - returns `[T, N, CLASSES]` with `T = W / 4` (CTC's layout), and each line's column
    ///   count
    pub fn forward(&self, images: Tensor<B, 4>, widths: &[usize]) -> (Tensor<B, 3>, Vec<usize>) {
        let mut x = images;
        for b in &self.blocks {
            // ReLU after the pool: max-pooling and ReLU commute (both are monotone), and the
            // pooled map is a half or a quarter of the size.
            x = relu(b.pool.forward(b.norm.forward(b.conv.forward(x))));
        }
        let [n, c, h, t] = x.dims();
        let columns = x.permute([3, 0, 1, 2]).reshape([t, n, c * h]);
        let lengths: Vec<usize> = widths
            .iter()
            .map(|w| (w / COLUMN_PIXELS).clamp(1, t))
            .collect();
        let mut run = RecurrentInput::new(columns.clone());
        if lengths.iter().any(|&l| l != t) {
            run = run.with_lengths(lengths.clone());
        }
        let mut scores = self.head.forward(self.rnn.forward_with(run).output);
        if let Some(shortcut) = &self.shortcut {
            scores = scores + shortcut.forward(columns);
        }
        (log_softmax(scores, 2), lengths)
    }

    /// The mean CTC loss of a batch (each line's loss over its text length, then the batch
    /// mean, as PyTorch's `CTCLoss(reduction="mean")`), and the log-probabilities.
    ///
    /// # Shapes
    /// - returns the loss `[1]` and log-probabilities `[T, N, CLASSES]`
    pub fn loss(&self, batch: &Batch<B>) -> (Tensor<B, 1>, Tensor<B, 3>) {
        let device = batch.images.device();
        let (log_probs, lengths) = self.forward(batch.images.clone(), &batch.widths);
        let ints = |v: &[usize]| {
            let v: Vec<i64> = v.iter().map(|&x| x as i64).collect();
            let n = v.len();
            Tensor::<B, 1, Int>::from_data(TensorData::new(v, [n]), &device)
        };
        let loss = CTCLossConfig::new()
            .with_zero_infinity(true)
            .init()
            .forward(
                log_probs.clone(),
                batch.targets.clone(),
                ints(&lengths),
                ints(&batch.target_lengths),
            );
        let per_char = loss.div(ints(&batch.target_lengths).float());
        (per_char.mean(), log_probs)
    }
}

#[cfg(test)]
mod tests {
    use burn::nn::loss::CTCLossConfig;
    use burn::tensor::activation::log_softmax;
    use burn::tensor::{Int, Tensor, TensorData};
    use burn_rnn::backend::DefaultAutodiffBackend as AD;

    /// Burn's CTC loss and its gradient against PyTorch's `F.ctc_loss` on the same inputs (the
    /// numbers printed by the snippet in the comment).
    #[test]
    fn burn_ctc_matches_pytorch_values_and_gradients() {
        // x[t, n, c] = sin(1.3 t + 0.7 n + 0.31 c); targets [[1,2,2],[3,1,0]], input lengths
        // [6, 5], target lengths [3, 2]; torch.nn.functional.ctc_loss(x.log_softmax(2), ...).
        let (t, n, c) = (6, 2, 5);
        let x: Vec<f32> = (0..t * n * c)
            .map(|i| {
                let (ti, ni, ci) = (i / (n * c), (i / c) % n, i % c);
                (1.3 * ti as f32 + 0.7 * ni as f32 + 0.31 * ci as f32).sin()
            })
            .collect();
        let device = Default::default();
        let x = Tensor::<AD, 3>::from_data(TensorData::new(x, [t, n, c]), &device).require_grad();
        let ints = |v: Vec<i64>, shape: Vec<usize>| {
            Tensor::<AD, 1, Int>::from_data(TensorData::new(v, shape), &device)
        };
        let targets = ints(vec![1, 2, 2, 3, 1, 0], vec![6]).reshape([2, 3]);
        let loss = CTCLossConfig::new().init().forward(
            log_softmax(x.clone(), 2),
            targets,
            ints(vec![6, 5], vec![2]),
            ints(vec![3, 2], vec![2]),
        );
        let values = loss.clone().into_data().to_vec::<f32>().unwrap();
        assert!(
            (values[0] - 6.770_067_7).abs() < 1e-4 && (values[1] - 5.004_194_7).abs() < 1e-4,
            "{values:?}"
        );
        let mean = loss.div(ints(vec![3, 2], vec![2]).float()).mean();
        let grads = mean.backward();
        let g = x.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap();
        let expected_t0 = [
            -0.011_056_632,
            -0.111_716_55,
            0.033_299_32,
            0.041_517_78,
            0.047_956_1,
            -0.039_616_23,
            0.048_083_7,
            0.054_316_42,
            -0.115_174_45,
            0.052_390_56,
        ];
        let expected_t5 = [
            -0.015_969_874,
            0.027_059_568,
            -0.096_011_54,
            0.040_719_88,
            0.044_201_97,
        ];
        for (a, e) in g[..10]
            .iter()
            .zip(expected_t0)
            .chain(g[50..55].iter().zip(expected_t5))
        {
            assert!((a - e).abs() < 1e-5, "{a} vs {e}");
        }
        assert!(
            g[55..].iter().all(|v| v.abs() < 1e-7),
            "past line 2's length"
        );
    }
}
