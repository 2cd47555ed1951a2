//! The decoder: embedding, recurrent layers, attention and output projection, run over a
//! whole target (teacher forcing) or one step at a time.

use burn::module::Module;
use burn::nn::{Dropout, Embedding, Linear};
use burn::tensor::{backend::Backend, Int, Tensor};

use super::attention::Attention;
use super::batch::index_tensor;
use super::encoder::Memory;
use burn_rnn::RnnBackend;
use burn_rnn::{Cell, CellState};
use burn_rnn::{LayerState, Recurrent, RecurrentInput};

/// Embedding + recurrent layers + attention + output projection over the target.
#[derive(Module, Debug)]
pub struct Decoder<B: Backend, C> {
    /// Target embedding `[V_tgt, E]`.
    pub embedding: Embedding<B>,
    /// The recurrent layers, batch first, `E (+ H_dec with input feeding) -> H_dec`.
    pub rnn: Recurrent<B, C>,
    /// Attention over the memory.
    pub attention: Attention<B>,
    /// `W_c: [H_mem + H_dec -> H_dec]`, no bias: `h̃ = tanh(W_c [c; h])`.
    pub combine: Linear<B>,
    /// `W_out: [H_dec -> V_tgt]`.
    pub output: Linear<B>,
    /// Dropout on the embeddings and on `h̃`.
    pub dropout: Dropout,
    /// Whether `h̃_{t-1}` joins the next input (input feeding).
    pub input_feeding: bool,
    /// `H_dec`.
    pub d_hidden: usize,
}

/// The decoder's state between steps.
pub struct DecoderState<B: Backend, C: Cell<B>> {
    /// The recurrent layers' state, `[L_dec, N, H_dec]` tensors; `None` is zeros.
    pub rnn: Option<LayerState<B, C>>,
    /// The last attentional vector `h̃ [N, H_dec]` (input feeding only; `None` is zeros).
    pub feed: Option<Tensor<B, 2>>,
}

impl<B: Backend, C: Cell<B>> Clone for DecoderState<B, C> {
    fn clone(&self) -> Self {
        Self {
            rnn: self.rnn.clone(),
            feed: self.feed.clone(),
        }
    }
}

impl<B: Backend, C: Cell<B>> DecoderState<B, C> {
    /// The rows `indices` of every part (beam search reorders its hypotheses with it).
    pub fn select(self, indices: &[usize]) -> Self {
        let device = match (&self.rnn, &self.feed) {
            (Some(rnn), _) => C::State::unstack(rnn.clone()).remove(0).output().device(),
            (None, Some(feed)) => feed.device(),
            (None, None) => return self,
        };
        let idx = index_tensor::<B>(indices, &device);
        let rnn = self.rnn.map(|state| {
            let parts = C::State::unstack(state)
                .into_iter()
                .map(|s| {
                    let (h, c) = s.into_parts();
                    C::State::from_parts(
                        h.select(0, idx.clone()),
                        c.map(|c| c.select(0, idx.clone())),
                    )
                })
                .collect();
            C::State::stack(parts)
        });
        Self {
            rnn,
            feed: self.feed.map(|f| f.select(0, idx)),
        }
    }
}

/// What the decoder returns for `T` steps.
#[derive(Debug)]
pub struct DecoderOutput<B: Backend> {
    /// Unnormalized scores `[N, T, V_tgt]`.
    pub logits: Tensor<B, 3>,
    /// Attention weights `[N, T, S]`.
    pub attention: Tensor<B, 3>,
}

/// What [`Decoder::step`] returns for one step.
pub struct DecoderStepOutput<B: Backend, C: Cell<B>> {
    /// Unnormalized scores `[N, V_tgt]`.
    pub logits: Tensor<B, 2>,
    /// Attention weights `[N, S]` (rows sum to 1, zero at padded source positions).
    pub attention: Tensor<B, 2>,
    /// The state after the step.
    pub state: DecoderState<B, C>,
}

impl<B: RnnBackend, C: Cell<B>> Decoder<B, C> {
    /// Runs the decoder over `T` given input tokens (teacher forcing).
    ///
    /// Without input feeding the recurrent layers run over all `T` steps as one call; with it
    /// the decoder steps one token at a time.
    ///
    /// # Shapes
    /// - `tokens`: `[N, T]` target ids, starting with BOS
    /// - returns logits `[N, T, V_tgt]`, attention `[N, T, S]`, and the state after step `T`
    pub fn forward(
        &self,
        tokens: Tensor<B, 2, Int>,
        state: DecoderState<B, C>,
        memory: &Memory<B>,
    ) -> (DecoderOutput<B>, DecoderState<B, C>) {
        if self.input_feeding {
            let [n, t] = tokens.dims();
            let mut logits = Vec::with_capacity(t);
            let mut attention = Vec::with_capacity(t);
            let mut state = state;
            for step in 0..t {
                let column = tokens.clone().slice([0..n, step..step + 1]).reshape([n]);
                let out = self.step(column, state, memory);
                logits.push(out.logits.unsqueeze_dim(1));
                attention.push(out.attention.unsqueeze_dim(1));
                state = out.state;
            }
            let out = DecoderOutput {
                logits: Tensor::cat(logits, 1),
                attention: Tensor::cat(attention, 1),
            };
            return (out, state);
        }
        let embedded = self.dropout.forward(self.embedding.forward(tokens));
        self.run(embedded, state, memory)
    }

    /// One decoder step for a batch of tokens.
    ///
    /// # Shapes
    /// - `tokens`: `[N]` ids
    /// - returns logits `[N, V_tgt]`, attention `[N, S]` and the next state
    pub fn step(
        &self,
        tokens: Tensor<B, 1, Int>,
        state: DecoderState<B, C>,
        memory: &Memory<B>,
    ) -> DecoderStepOutput<B, C> {
        let n = tokens.dims()[0];
        let mut embedded = self
            .dropout
            .forward(self.embedding.forward(tokens.reshape([n, 1])));
        if self.input_feeding {
            let feed = state
                .feed
                .clone()
                .unwrap_or_else(|| Tensor::zeros([n, self.d_hidden], &embedded.device()));
            embedded = Tensor::cat(vec![embedded, feed.reshape([n, 1, self.d_hidden])], 2);
        }
        let (out, state) = self.run(embedded, state, memory);
        let v = out.logits.dims()[2];
        let s = out.attention.dims()[2];
        DecoderStepOutput {
            logits: out.logits.reshape([n, v]),
            attention: out.attention.reshape([n, s]),
            state,
        }
    }

    /// Recurrent layers, attention and projection over embedded inputs `[N, T, E']`.
    fn run(
        &self,
        embedded: Tensor<B, 3>,
        state: DecoderState<B, C>,
        memory: &Memory<B>,
    ) -> (DecoderOutput<B>, DecoderState<B, C>) {
        let out = self.rnn.forward_with(RecurrentInput {
            input: embedded,
            state: state.rnn,
            lengths: None,
        });
        let h = out.output;
        let attended = self.attention.forward(
            h.clone(),
            memory.keys.clone(),
            memory.memory.clone(),
            memory.mask.clone(),
        );
        let attention = attended.weights;
        let attentional = self
            .combine
            .forward(Tensor::cat(vec![attended.context, h], 2))
            .tanh();
        let [n, t, d] = attentional.dims();
        let feed = self.input_feeding.then(|| {
            attentional
                .clone()
                .slice([0..n, t - 1..t, 0..d])
                .reshape([n, d])
        });
        let logits = self.output.forward(self.dropout.forward(attentional));
        (
            DecoderOutput { logits, attention },
            DecoderState {
                rnn: Some(out.state),
                feed,
            },
        )
    }
}
