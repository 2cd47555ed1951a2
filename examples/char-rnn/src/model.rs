//! The model: Embedding -> stacked RNN/LSTM/GRU -> Linear.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{backend::Backend, Int, Tensor};
use burn_rnn::train::DetachState;
use burn_rnn::{Gru, GruConfig, Lstm, LstmConfig, LstmState, Rnn, RnnConfig, RnnState};

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
}

/// Embedding -> recurrent layers -> Linear; exactly one of `lstm`, `gru`, `rnn` is set.
#[derive(Module, Debug)]
pub struct CharModel<B: Backend> {
    embedding: Embedding<B>,
    lstm: Option<Lstm<B>>,
    gru: Option<Gru<B>>,
    rnn: Option<Rnn<B>>,
    dropout: Dropout,
    head: Linear<B>,
}

/// The recurrent state carried between chunks: `[layers, N, H]` tensors.
#[derive(Debug, Clone)]
pub enum Carry<B: Backend> {
    /// LSTM `(h, c)`.
    Lstm(LstmState<B, 3>),
    /// RNN or GRU `h`.
    Hidden(RnnState<B, 3>),
}

impl<B: Backend> DetachState for Carry<B> {
    fn detach_state(self) -> Self {
        match self {
            Carry::Lstm(s) => Carry::Lstm(s.detach()),
            Carry::Hidden(s) => Carry::Hidden(s.detach()),
        }
    }
}

impl<B: Backend> Carry<B> {
    /// The state's tensors, `h` then (LSTM) `c`.
    pub fn tensors(&self) -> Vec<Tensor<B, 3>> {
        match self {
            Carry::Lstm(s) => vec![s.hidden.clone(), s.cell.clone()],
            Carry::Hidden(s) => vec![s.hidden.clone()],
        }
    }

    /// Rebuilds a state from [`Carry::tensors`]'s output.
    pub fn from_tensors(cell: CellKind, mut t: Vec<Tensor<B, 3>>) -> Self {
        match cell {
            CellKind::Lstm => {
                let c = t.pop().expect("c");
                Carry::Lstm(LstmState::from_hidden_and_cell(t.pop().expect("h"), c))
            }
            _ => Carry::Hidden(RnnState::new(t.pop().expect("h"))),
        }
    }
}

impl CharModelConfig {
    /// Creates the model on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> CharModel<B> {
        let (e, h, l, p) = (self.embedding, self.hidden, self.layers, self.dropout);
        let (mut lstm, mut gru, mut rnn) = (None, None, None);
        match self.cell {
            CellKind::Lstm => {
                lstm = Some(
                    LstmConfig::new(e, h)
                        .with_num_layers(l)
                        .with_dropout(p)
                        .init(device),
                )
            }
            CellKind::Gru => {
                gru = Some(
                    GruConfig::new(e, h)
                        .with_num_layers(l)
                        .with_dropout(p)
                        .init(device),
                )
            }
            CellKind::Rnn => {
                rnn = Some(
                    RnnConfig::new(e, h)
                        .with_num_layers(l)
                        .with_dropout(p)
                        .init(device),
                )
            }
        }
        CharModel {
            embedding: EmbeddingConfig::new(self.vocab, e).init(device),
            lstm,
            gru,
            rnn,
            dropout: DropoutConfig::new(p).init(),
            head: LinearConfig::new(h, self.vocab).init(device),
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
        let x = self.embedding.forward(ids);
        let (y, state) = match (&self.lstm, &self.gru, &self.rnn, state) {
            (Some(m), _, _, s) => {
                let s = s.map(|s| match s {
                    Carry::Lstm(s) => s,
                    Carry::Hidden(_) => panic!("an LSTM needs an LSTM state"),
                });
                let out = m.forward(x, s);
                (out.output, Carry::Lstm(out.state))
            }
            (_, Some(m), _, s) => {
                let out = m.forward(x, s.map(hidden_only));
                (out.output, Carry::Hidden(out.state))
            }
            (_, _, Some(m), s) => {
                let out = m.forward(x, s.map(hidden_only));
                (out.output, Carry::Hidden(out.state))
            }
            _ => unreachable!("one recurrent stack is always set"),
        };
        (self.head.forward(self.dropout.forward(y)), state)
    }
}

fn hidden_only<B: Backend>(s: Carry<B>) -> RnnState<B, 3> {
    match s {
        Carry::Hidden(s) => s,
        Carry::Lstm(_) => panic!("an RNN or GRU needs a hidden-only state"),
    }
}
