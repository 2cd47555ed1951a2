//! Global attention over the encoder's memory: dot, general and additive scores, with the
//! source padding masked out.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{backend::Backend, Bool, Tensor};

use super::config::AttentionKind;

/// The score added to padded memory positions before the softmax: their weight is exactly 0.
const MASKED: f32 = -1.0e9;

/// Attention of decoder states over the encoder memory.
///
/// ```text
/// score(h_t, m_s) = h_t · m_s                       (dot)
///                 = h_t · (W_a m_s)                 (general)
///                 = v · tanh(W_q h_t + W_m m_s)     (additive)
/// a_t = softmax_s(score(h_t, m_s)), padded s excluded
/// c_t = Σ_s a_ts m_s
/// ```
/// The memory-side half of each score (`W_a m`, `W_m m`) is computed once per source batch by
/// [`Attention::keys`], not once per decoder step.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// `W_a: [H_mem -> H_dec]` (general) or `W_m: [H_mem -> A]` (additive), no bias.
    pub key: Option<Linear<B>>,
    /// `W_q: [H_dec -> A]` with bias (additive only).
    pub query: Option<Linear<B>>,
    /// `v: [A -> 1]`, no bias (additive only).
    pub score: Option<Linear<B>>,
    /// The score function.
    #[module(skip)]
    pub kind: AttentionKind,
}

/// What [`Attention::forward`] returns.
#[derive(Clone, Debug)]
pub struct AttentionOutput<B: Backend> {
    /// The context vectors `c_t = Σ_s a_ts m_s`, `[N, T, H_mem]`.
    pub context: Tensor<B, 3>,
    /// The weights `a_t`, `[N, T, S]`: each row sums to 1 and is zero at padded positions.
    pub weights: Tensor<B, 3>,
}

impl<B: Backend> Attention<B> {
    /// An attention of `kind` from `d_query = H_dec` features over `d_memory = H_mem` ones;
    /// `d_attention` is the additive score's hidden width `A`.
    ///
    /// # Panics
    /// For dot attention with `d_query != d_memory`.
    pub fn new(
        kind: AttentionKind,
        d_query: usize,
        d_memory: usize,
        d_attention: usize,
        device: &B::Device,
    ) -> Self {
        let linear = |i, o, bias| LinearConfig::new(i, o).with_bias(bias).init::<B>(device);
        let (key, query, score) = match kind {
            AttentionKind::Dot => {
                assert_eq!(
                    d_query, d_memory,
                    "dot attention: expected query width == memory width, got {d_query} and \
                     {d_memory}"
                );
                (None, None, None)
            }
            AttentionKind::General => (Some(linear(d_memory, d_query, false)), None, None),
            AttentionKind::Additive => (
                Some(linear(d_memory, d_attention, false)),
                Some(linear(d_query, d_attention, true)),
                Some(linear(d_attention, 1, false)),
            ),
        };
        Self {
            key,
            query,
            score,
            kind,
        }
    }

    /// The memory-side part of the scores, computed once per source batch.
    ///
    /// # Shapes
    /// - `memory`: `[N, S, H_mem]`
    /// - returns `[N, S, K]`: `K = H_mem` (dot), `H_dec` (general) or `A` (additive)
    pub fn keys(&self, memory: Tensor<B, 3>) -> Tensor<B, 3> {
        match &self.key {
            Some(key) => key.forward(memory),
            None => memory,
        }
    }

    /// Attends from `T` decoder states at once.
    ///
    /// # Shapes
    /// - `query`: `[N, T, H_dec]`
    /// - `keys`: `[N, S, K]` from [`Attention::keys`]
    /// - `memory`: `[N, S, H_mem]`
    /// - `mask`: `[N, S]`, true at padded source positions
    /// - returns the context `[N, T, H_mem]` and the weights `[N, T, S]` (see
    ///   [`AttentionOutput`])
    pub fn forward(
        &self,
        query: Tensor<B, 3>,
        keys: Tensor<B, 3>,
        memory: Tensor<B, 3>,
        mask: Tensor<B, 2, Bool>,
    ) -> AttentionOutput<B> {
        let [n, t, _] = query.dims();
        let s = keys.dims()[1];
        let scores = match (&self.query, &self.score) {
            (Some(w_q), Some(v)) => {
                let a = keys.dims()[2];
                let q = w_q.forward(query).reshape([n, t, 1, a]);
                let k = keys.reshape([n, 1, s, a]);
                v.forward((q + k).tanh()).reshape([n, t, s])
            }
            _ => query.matmul(keys.swap_dims(1, 2)),
        };
        let mask = mask.reshape([n, 1, s]).expand([n, t, s]);
        let weights = softmax(scores.mask_fill(mask, MASKED), 2);
        AttentionOutput {
            context: weights.clone().matmul(memory),
            weights,
        }
    }
}
