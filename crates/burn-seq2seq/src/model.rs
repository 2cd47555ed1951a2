//! The model that joins the encoder, the bridge and the decoder, and its training forwards.

use burn::module::Module;
use burn::nn::{DropoutConfig, EmbeddingConfig, LinearConfig};
use burn::tensor::{backend::Backend, Bool, Int, Tensor, TensorData};

use super::attention::Attention;
use super::batch::Seq2SeqBatch;
use super::bridge::Bridge;
use super::config::{BridgeKind, Seq2SeqCell, Seq2SeqConfig, StackShape};
use super::decoder::{Decoder, DecoderState};
use super::encoder::{Encoder, Memory};
use crate::sampling::SplitMix64;
use burn_rnn::Cell;
use burn_rnn::CellKind;
use burn_rnn::RecurrentInput;
use burn_rnn::RnnBackend;

/// An RNN encoder-decoder with attention (see [`Seq2SeqConfig`]), generic over the cell kind
/// `C` ([`burn_rnn::LstmCell`], [`burn_rnn::GruCell`] or [`burn_rnn::RnnCell`]) and the backend.
#[derive(Module, Debug)]
pub struct Seq2Seq<B: Backend, C> {
    /// The encoder.
    pub encoder: Encoder<B, C>,
    /// The bridge from the encoder's final state to the decoder's initial state.
    pub bridge: Bridge<B>,
    /// The decoder.
    pub decoder: Decoder<B, C>,
    /// Padding id.
    pub pad_id: usize,
    /// Begin-of-sequence id (target).
    pub bos_id: usize,
    /// End-of-sequence id (target).
    pub eos_id: usize,
}

impl Seq2SeqConfig {
    /// Creates a [`Seq2Seq`] of cell `C` on `device`.
    ///
    /// # Panics
    /// If [`Seq2SeqConfig::validate`] fails, or `C` is not the config's [`CellKind`].
    pub fn init<B: Backend, C: Seq2SeqCell<B>>(&self, device: &B::Device) -> Seq2Seq<B, C> {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        assert!(
            C::builds(self.cell),
            "seq2seq config: the config names cell {}, the model type is {}",
            self.cell,
            C::NAME
        );
        let dirs = if self.bidirectional { 2 } else { 1 };
        let d_memory = self.d_memory();
        let dropout = DropoutConfig::new(self.dropout).init();
        let encoder = Encoder {
            embedding: EmbeddingConfig::new(self.src_vocab_size, self.d_embed).init(device),
            rnn: C::stack(
                self.cell,
                StackShape {
                    d_input: self.d_embed,
                    d_hidden: self.encoder_hidden,
                    num_layers: self.encoder_layers,
                    bidirectional: self.bidirectional,
                    dropout: self.dropout,
                },
                device,
            ),
            dropout: dropout.clone(),
        };
        let linear = |i, o, bias| LinearConfig::new(i, o).with_bias(bias).init::<B>(device);
        let bridge = Bridge {
            hidden: (self.bridge == BridgeKind::Linear)
                .then(|| linear(d_memory, self.decoder_hidden, true)),
            cell: (self.bridge == BridgeKind::Linear && self.cell == CellKind::Lstm)
                .then(|| linear(d_memory, self.decoder_hidden, true)),
            kind: self.bridge,
            encoder_layers: self.encoder_layers,
            directions: dirs,
            decoder_layers: self.decoder_layers,
        };
        let d_dec_input = self.d_embed
            + if self.input_feeding {
                self.decoder_hidden
            } else {
                0
            };
        let decoder = Decoder {
            embedding: EmbeddingConfig::new(self.tgt_vocab_size, self.d_embed).init(device),
            rnn: C::stack(
                self.cell,
                StackShape {
                    d_input: d_dec_input,
                    d_hidden: self.decoder_hidden,
                    num_layers: self.decoder_layers,
                    bidirectional: false,
                    dropout: self.dropout,
                },
                device,
            ),
            attention: Attention::new(
                self.attention,
                self.decoder_hidden,
                d_memory,
                self.attention_hidden.unwrap_or(self.decoder_hidden),
                device,
            ),
            combine: linear(d_memory + self.decoder_hidden, self.decoder_hidden, false),
            output: linear(self.decoder_hidden, self.tgt_vocab_size, true),
            dropout,
            input_feeding: self.input_feeding,
            d_hidden: self.decoder_hidden,
        };
        Seq2Seq {
            encoder,
            bridge,
            decoder,
            pad_id: self.pad_id,
            bos_id: self.bos_id,
            eos_id: self.eos_id,
        }
    }
}

/// What [`Seq2Seq::forward`] returns.
#[derive(Debug)]
pub struct Seq2SeqOutput<B: Backend> {
    /// Unnormalized scores `[N, T, V_tgt]` for the targets `tgt_out`.
    pub logits: Tensor<B, 3>,
    /// Attention weights `[N, T, S]`.
    pub attention: Tensor<B, 3>,
}

impl<B: RnnBackend, C: Cell<B>> Seq2Seq<B, C> {
    /// Encodes padded sources.
    ///
    /// # Shapes
    /// - `src`: `[N, S]` ids; `lengths`: `N` values in `1..=S` (padding beyond is ignored)
    /// - returns the memory (`[N, S, D*H_enc]`) and the decoder's initial state
    pub fn encode(
        &self,
        src: Tensor<B, 2, Int>,
        lengths: &[usize],
    ) -> (Memory<B>, DecoderState<B, C>) {
        let [n, s] = src.dims();
        assert_eq!(
            lengths.len(),
            n,
            "seq2seq encode: expected {n} source lengths (one per sequence), got {}",
            lengths.len()
        );
        let device = src.device();
        let embedded = self
            .encoder
            .dropout
            .forward(self.encoder.embedding.forward(src));
        let out = self.encoder.rnn.forward_with(RecurrentInput {
            input: embedded,
            state: None,
            lengths: Some(lengths.to_vec()),
        });
        let mask: Vec<bool> = lengths
            .iter()
            .flat_map(|&len| (0..s).map(move |j| j >= len))
            .collect();
        let mask = Tensor::<B, 2, Bool>::from_data(TensorData::new(mask, [n, s]), &device);
        let memory = Memory {
            keys: self.decoder.attention.keys(out.output.clone()),
            memory: out.output,
            mask,
            lengths: lengths.to_vec(),
        };
        let state = DecoderState {
            rnn: self.bridge.forward::<C>(out.state),
            feed: None,
        };
        (memory, state)
    }

    /// Teacher-forced forward over a batch: every decoder input is the gold previous token.
    ///
    /// # Shapes
    /// Returns logits `[N, T, V_tgt]` and attention `[N, T, S]` (see [`Seq2SeqBatch`]).
    pub fn forward(&self, batch: &Seq2SeqBatch<B>) -> Seq2SeqOutput<B> {
        let (memory, state) = self.encode(batch.src.clone(), &batch.src_lengths);
        let (out, _) = self.decoder.forward(batch.tgt_in.clone(), state, &memory);
        Seq2SeqOutput {
            logits: out.logits,
            attention: out.attention,
        }
    }

    /// Forward with scheduled sampling (Bengio et al. 2015): at each step after the first,
    /// each sequence's input is the gold previous token with probability `teacher_forcing`,
    /// else the model's own previous argmax prediction. `teacher_forcing >= 1` is
    /// [`Seq2Seq::forward`]; the coins come from `rng`, so a run is reproducible.
    ///
    /// # Shapes
    /// As [`Seq2Seq::forward`].
    pub fn forward_scheduled(
        &self,
        batch: &Seq2SeqBatch<B>,
        teacher_forcing: f64,
        rng: &mut SplitMix64,
    ) -> Seq2SeqOutput<B> {
        if teacher_forcing >= 1.0 {
            return self.forward(batch);
        }
        let (memory, mut state) = self.encode(batch.src.clone(), &batch.src_lengths);
        let [n, t] = batch.tgt_in.dims();
        let device = batch.src.device();
        let gold: Vec<i64> = batch.tgt_in.to_data().iter::<i64>().collect();
        let mut logits = Vec::with_capacity(t);
        let mut attention = Vec::with_capacity(t);
        let mut previous: Option<Vec<i64>> = None;
        for step in 0..t {
            let tokens: Vec<i64> = (0..n)
                .map(|i| match &previous {
                    Some(pred) if rng.next_f64() >= teacher_forcing => pred[i],
                    _ => gold[i * t + step],
                })
                .collect();
            let tokens = Tensor::from_data(TensorData::new(tokens, [n]), &device);
            let out = self.decoder.step(tokens, state, &memory);
            previous = Some(
                out.logits
                    .clone()
                    .argmax(1)
                    .into_data()
                    .iter::<i64>()
                    .collect(),
            );
            logits.push(out.logits.unsqueeze_dim(1));
            attention.push(out.attention.unsqueeze_dim(1));
            state = out.state;
        }
        Seq2SeqOutput {
            logits: Tensor::cat(logits, 1),
            attention: Tensor::cat(attention, 1),
        }
    }
}
