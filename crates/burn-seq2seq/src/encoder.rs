//! The encoder and the memory the decoder attends to.

use burn::module::Module;
use burn::nn::{Dropout, Embedding};
use burn::tensor::{backend::Backend, Bool, Tensor};

use super::batch::index_tensor;
use burn_rnn::Recurrent;

/// Embedding + recurrent layers over the source.
#[derive(Module, Debug)]
pub struct Encoder<B: Backend, C> {
    /// Source embedding `[V_src, E]`.
    pub embedding: Embedding<B>,
    /// The recurrent layers, batch first, `E -> D*H_enc`.
    pub rnn: Recurrent<B, C>,
    /// Dropout on the embeddings.
    pub dropout: Dropout,
}

/// What the decoder attends to: the encoder's outputs, their precomputed keys and the padding.
#[derive(Clone, Debug)]
pub struct Memory<B: Backend> {
    /// The encoder's outputs `[N, S, H_mem]`, zero past each source's length.
    pub memory: Tensor<B, 3>,
    /// The memory side of the attention scores `[N, S, K]`
    /// ([`Attention::keys`](super::Attention::keys)).
    pub keys: Tensor<B, 3>,
    /// `[N, S]`, true at padded positions.
    pub mask: Tensor<B, 2, Bool>,
    /// The source lengths, `N` values.
    pub lengths: Vec<usize>,
}

impl<B: Backend> Memory<B> {
    /// The rows `indices` (`[M]` values in `0..N`) of every part: beam search repeats each
    /// source `K` times with it.
    pub fn select(&self, indices: &[usize]) -> Self {
        let device = self.memory.device();
        let idx = index_tensor::<B>(indices, &device);
        Self {
            memory: self.memory.clone().select(0, idx.clone()),
            keys: self.keys.clone().select(0, idx.clone()),
            mask: self.mask.clone().select(0, idx),
            lengths: indices.iter().map(|&i| self.lengths[i]).collect(),
        }
    }
}
