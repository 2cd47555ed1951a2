//! The encoder, the bridge, the decoder and the model that joins them.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{backend::Backend, Bool, Int, Tensor, TensorData};

use super::attention::Attention;
use super::config::{BridgeKind, CellKind, Seq2SeqCell, Seq2SeqConfig};
use crate::cell::{Cell, CellState};
use crate::kernels::RnnBackend;
use crate::layer::{LayerState, Recurrent, RecurrentInput};

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
    /// The memory side of the attention scores `[N, S, K]` ([`Attention::keys`]).
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

/// From the encoder's final state to the decoder's initial one (see [`BridgeKind`]).
///
/// Decoder layer `i` starts from encoder layer `i + (L_enc - L_dec)` when the encoder has at
/// least as many layers (the top layers pair up), else from encoder layer `min(i, L_enc - 1)`.
#[derive(Module, Debug)]
pub struct Bridge<B: Backend> {
    /// `[D*H_enc -> H_dec]` for `h` (linear bridge).
    pub hidden: Option<Linear<B>>,
    /// `[D*H_enc -> H_dec]` for the LSTM cell state `c` (linear bridge, LSTM only).
    pub cell: Option<Linear<B>>,
    /// The bridge kind.
    #[module(skip)]
    pub kind: BridgeKind,
    /// Encoder layers `L_enc`.
    pub encoder_layers: usize,
    /// Encoder directions `D`.
    pub directions: usize,
    /// Decoder layers `L_dec`.
    pub decoder_layers: usize,
}

impl<B: Backend> Bridge<B> {
    /// Maps the encoder's final state `[L_enc*D, N, H_enc]` to the decoder's initial state
    /// `[L_dec, N, H_dec]`; `None` (zeros) for [`BridgeKind::Zeros`].
    pub fn forward<C: Cell<B>>(&self, state: LayerState<B, C>) -> Option<LayerState<B, C>> {
        if self.kind == BridgeKind::Zeros {
            return None;
        }
        let (hidden, cells): (Vec<_>, Vec<_>) = C::State::unstack(state)
            .into_iter()
            .map(CellState::into_parts)
            .unzip();
        let cells: Option<Vec<Tensor<B, 2>>> = cells.into_iter().collect();
        let (enc, dec, d) = (self.encoder_layers, self.decoder_layers, self.directions);
        // Layer `layer`'s directions side by side: `[N, D*H_enc]`.
        let join = |parts: &[Tensor<B, 2>], layer: usize| {
            Tensor::cat(parts[layer * d..(layer + 1) * d].to_vec(), 1)
        };
        let states = (0..dec)
            .map(|i| {
                let layer = if enc >= dec {
                    i + enc - dec
                } else {
                    i.min(enc - 1)
                };
                let h = join(&hidden, layer);
                let c = cells.as_ref().map(|cells| join(cells, layer));
                let (h, c) = match &self.hidden {
                    Some(wh) => (
                        wh.forward(h).tanh(),
                        c.map(|c| self.cell.as_ref().map_or(c.clone(), |wc| wc.forward(c))),
                    ),
                    None => (h, c),
                };
                C::State::from_parts(h, c)
            })
            .collect();
        Some(C::State::stack(states))
    }
}

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
                let (l, a, s) = self.step(column, state, memory);
                logits.push(l.unsqueeze_dim(1));
                attention.push(a.unsqueeze_dim(1));
                state = s;
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
    ) -> (Tensor<B, 2>, Tensor<B, 2>, DecoderState<B, C>) {
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
        (
            out.logits.reshape([n, v]),
            out.attention.reshape([n, s]),
            state,
        )
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
        let (context, attention) = self.attention.forward(
            h.clone(),
            memory.keys.clone(),
            memory.memory.clone(),
            memory.mask.clone(),
        );
        let attentional = self
            .combine
            .forward(Tensor::cat(vec![context, h], 2))
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

/// A padded batch of source and target id sequences, ready for [`Seq2Seq::forward`].
#[derive(Clone, Debug)]
pub struct Seq2SeqBatch<B: Backend> {
    /// Source ids `[N, S]`, padded with `pad_id`.
    pub src: Tensor<B, 2, Int>,
    /// Source lengths, `N` values in `1..=S`.
    pub src_lengths: Vec<usize>,
    /// Decoder inputs `[N, T]`: BOS then the target, padded.
    pub tgt_in: Tensor<B, 2, Int>,
    /// Decoder targets `[N, T]`: the target then EOS, padded with `pad_id`.
    pub tgt_out: Tensor<B, 2, Int>,
}

impl<B: Backend> Seq2SeqBatch<B> {
    /// Pads `src` and `tgt` (pairs, without BOS/EOS) into a batch (`T` = longest target + 1).
    ///
    /// # Panics
    /// If the two lists differ in length, or a source is empty.
    pub fn new(
        src: &[Vec<usize>],
        tgt: &[Vec<usize>],
        config: &Seq2SeqConfig,
        device: &B::Device,
    ) -> Self {
        assert_eq!(
            src.len(),
            tgt.len(),
            "Seq2SeqBatch: expected as many targets as sources, got {} and {}",
            tgt.len(),
            src.len()
        );
        let (src, src_lengths) = pad_sources::<B>(src, config.pad_id, device);
        let t = tgt.iter().map(Vec::len).max().unwrap_or(0) + 1;
        let pad = config.pad_id as i64;
        let mut tgt_in = vec![pad; tgt.len() * t];
        let mut tgt_out = vec![pad; tgt.len() * t];
        for (i, seq) in tgt.iter().enumerate() {
            tgt_in[i * t] = config.bos_id as i64;
            for (j, &id) in seq.iter().enumerate() {
                tgt_in[i * t + j + 1] = id as i64;
                tgt_out[i * t + j] = id as i64;
            }
            tgt_out[i * t + seq.len()] = config.eos_id as i64;
        }
        let ids = |v| Tensor::from_data(TensorData::new(v, [tgt.len(), t]), device);
        Self {
            src,
            src_lengths,
            tgt_in: ids(tgt_in),
            tgt_out: ids(tgt_out),
        }
    }
}

/// Pads source sequences to `[N, S]` ids and their lengths.
///
/// # Panics
/// If there is no sequence or one is empty.
pub fn pad_sources<B: Backend>(
    src: &[Vec<usize>],
    pad_id: usize,
    device: &B::Device,
) -> (Tensor<B, 2, Int>, Vec<usize>) {
    assert!(
        !src.is_empty(),
        "seq2seq: expected at least one source sequence, got none"
    );
    if let Some(i) = src.iter().position(Vec::is_empty) {
        panic!("seq2seq: source sequence {i} is empty; every source needs at least one token");
    }
    let s = src.iter().map(Vec::len).max().unwrap_or(1);
    let mut ids = vec![pad_id as i64; src.len() * s];
    for (i, seq) in src.iter().enumerate() {
        for (j, &id) in seq.iter().enumerate() {
            ids[i * s + j] = id as i64;
        }
    }
    let lengths = src.iter().map(Vec::len).collect();
    (
        Tensor::from_data(TensorData::new(ids, [src.len(), s]), device),
        lengths,
    )
}

/// `[M]` int ids on `device`.
pub(crate) fn index_tensor<B: Backend>(indices: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
    Tensor::from_data(TensorData::new(v, [indices.len()]), device)
}

/// An RNN encoder-decoder with attention (see [`Seq2SeqConfig`]), generic over the cell kind
/// `C` ([`crate::LstmCell`], [`crate::GruCell`] or [`crate::RnnCell`]) and the backend.
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
            C::KIND == self.cell,
            "seq2seq config: the config names cell {}, the model type is {}",
            self.cell,
            C::KIND
        );
        let dirs = if self.bidirectional { 2 } else { 1 };
        let d_memory = self.d_memory();
        let dropout = DropoutConfig::new(self.dropout).init();
        let encoder = Encoder {
            embedding: EmbeddingConfig::new(self.src_vocab_size, self.d_embed).init(device),
            rnn: C::stack(
                self.d_embed,
                self.encoder_hidden,
                self.encoder_layers,
                self.bidirectional,
                self.dropout,
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
                d_dec_input,
                self.decoder_hidden,
                self.decoder_layers,
                false,
                self.dropout,
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
        rng: &mut super::SplitMix64,
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
            let (l, a, s) = self.decoder.step(tokens, state, &memory);
            previous = Some(l.clone().argmax(1).into_data().iter::<i64>().collect());
            logits.push(l.unsqueeze_dim(1));
            attention.push(a.unsqueeze_dim(1));
            state = s;
        }
        Seq2SeqOutput {
            logits: Tensor::cat(logits, 1),
            attention: Tensor::cat(attention, 1),
        }
    }
}
