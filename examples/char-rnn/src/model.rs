//! The model: Embedding -> stacked RNN/LSTM/GRU -> Linear.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{backend::Backend, Int, Tensor};
use burn_rnn::{AnyRecurrent, AnyRecurrentConfig, AnyState};

pub use burn_rnn::CellKind;

/// The model's shape; saved beside its weights.
#[derive(Config, Debug, PartialEq)]
pub struct CharModelConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Cell kind.
    pub cell: CellKind,
    /// Recurrent layers.
    pub layers: usize,
    /// Hidden size.
    pub hidden: usize,
    /// Embedding size.
    pub embedding: usize,
    /// Dropout between recurrent layers and before the read-out (training only).
    pub dropout: f64,
    /// LSTM projection size `P` (PyTorch's `proj_size`; 0: none): `h` is `[N, P]` and the
    /// read-out takes `P` features.
    #[config(default = 0)]
    pub proj_size: usize,
}

/// Embedding -> recurrent layers -> Linear.
#[derive(Module, Debug)]
pub struct CharModel<B: Backend> {
    embedding: Embedding<B>,
    rnn: AnyRecurrent<B>,
    dropout: Dropout,
    head: Linear<B>,
}

/// The recurrent state carried between chunks: `h` `[layers, N, P]` (`P = H` without a
/// projection) and, for an LSTM, `c` `[layers, N, H]`.
pub type Carry<B> = AnyState<B, 3>;

/// Rebuilds a carried state from [`AnyState::tensors`]'s output: `h`, then `c` for an LSTM.
pub fn carry_from_tensors<B: Backend>(mut t: Vec<Tensor<B, 3>>) -> Carry<B> {
    let cell = (t.len() == 2).then(|| t.pop().expect("c"));
    AnyState {
        hidden: t.pop().expect("h"),
        cell,
    }
}

impl CharModelConfig {
    /// The width of `h` and of the read-out's input: `proj_size`, or `hidden` without one.
    pub fn d_output(&self) -> usize {
        match self.proj_size {
            0 => self.hidden,
            p => p,
        }
    }

    /// Creates the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CharModel<B> {
        let (e, h, p) = (self.embedding, self.hidden, self.dropout);
        CharModel {
            embedding: EmbeddingConfig::new(self.vocab, e).init(device),
            rnn: AnyRecurrentConfig::new(self.cell, e, h)
                .with_num_layers(self.layers)
                .with_dropout(p)
                .with_proj_size(self.proj_size)
                .init(device),
            dropout: DropoutConfig::new(p).init(),
            head: LinearConfig::new(self.d_output(), self.vocab).init(device),
        }
    }
}

impl<B: burn_rnn::RnnBackend> CharModel<B> {
    /// # Shapes
    /// - `ids`: `[N, L]` character ids
    /// - returns logits `[N, L, vocab]` and the final state
    pub fn forward(
        &self,
        ids: Tensor<B, 2, Int>,
        state: Option<Carry<B>>,
    ) -> (Tensor<B, 3>, Carry<B>) {
        let out = self.rnn.forward(self.embedding.forward(ids), state);
        (
            self.head.forward(self.dropout.forward(out.output)),
            out.state,
        )
    }
}
