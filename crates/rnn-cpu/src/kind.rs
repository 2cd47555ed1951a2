//! What a whole-sequence call computes besides its buffers: the cell kind ([`CellKind`]) and
//! the direction and lengths ([`Spec`]).

use std::sync::Arc;

use crate::Dims;

/// The recurrent cells, with PyTorch's equations and gate order: the one list of them that
/// the kernels, burn-rnn's layers and configs, and the examples' `--cell` flags all share.
///
/// These are cuDNN's and PyTorch's RNN modes (`RNN_TANH`, `RNN_RELU`, `LSTM`, `GRU`): the
/// vanilla RNN's nonlinearity is part of its kind, since it changes the math the kernel runs.
/// Parses from and prints as `rnn` (the tanh RNN), `rnn_relu`, `lstm`, `gru` (any case;
/// `rnn_tanh`, `RnnTanh` also parse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CellKind {
    /// `h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`
    RnnTanh,
    /// `h' = relu(x W_ih^T + b_ih + h W_hh^T + b_hh)`
    RnnRelu,
    /// LSTM, gates `i, f, g, o`: `c' = f c + i g`, `h' = o tanh(c')`.
    Lstm,
    /// GRU, gates `r, z, n`: `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`,
    /// `h' = (1 - z) n + z h`.
    Gru,
}

/// The nonlinearity of a vanilla RNN, PyTorch's `nonlinearity` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Nonlinearity {
    /// `tanh` (PyTorch's default).
    #[default]
    Tanh,
    /// `relu`.
    Relu,
}

impl CellKind {
    /// Every kind, in the order `rnn, rnn_relu, lstm, gru`.
    pub const ALL: [CellKind; 4] = [
        CellKind::RnnTanh,
        CellKind::RnnRelu,
        CellKind::Lstm,
        CellKind::Gru,
    ];

    /// The vanilla RNN with `nonlinearity`.
    pub fn rnn(nonlinearity: Nonlinearity) -> Self {
        match nonlinearity {
            Nonlinearity::Tanh => CellKind::RnnTanh,
            Nonlinearity::Relu => CellKind::RnnRelu,
        }
    }

    /// The vanilla RNN's nonlinearity, `None` for LSTM and GRU.
    pub fn nonlinearity(self) -> Option<Nonlinearity> {
        match self {
            CellKind::RnnTanh => Some(Nonlinearity::Tanh),
            CellKind::RnnRelu => Some(Nonlinearity::Relu),
            CellKind::Lstm | CellKind::Gru => None,
        }
    }

    /// The number of gate blocks `G`: 1 (RNN), 4 (LSTM), 3 (GRU).
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Whether the state has a cell part `c` (LSTM).
    pub fn has_cell(self) -> bool {
        self == CellKind::Lstm
    }

    /// The activations a step saves for its backward, in units of `H` (`A`): RNN 1 (`h'`),
    /// LSTM 5 (`i, f, g, o, tanh(c')`), GRU 4 (`r, z, n, W_hn h + b_hn`).
    pub fn saved_width(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 5,
            CellKind::Gru => 4,
        }
    }

    /// The lower-case name: `"rnn"`, `"rnn_relu"`, `"lstm"` or `"gru"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CellKind::RnnTanh => "rnn",
            CellKind::RnnRelu => "rnn_relu",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// The cell's name in PyTorch's words: `"RNNCell"`, `"LSTMCell"`, `"GRUCell"`.
    pub fn cell_name(self) -> &'static str {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => "RNNCell",
            CellKind::Lstm => "LSTMCell",
            CellKind::Gru => "GRUCell",
        }
    }

    /// The layer's name in PyTorch's words: `"RNN"`, `"LSTM"`, `"GRU"`.
    pub fn layer_name(self) -> &'static str {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => "RNN",
            CellKind::Lstm => "LSTM",
            CellKind::Gru => "GRU",
        }
    }
}

impl core::fmt::Display for CellKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`CellKind`], from its `FromStr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCellKind(pub String);

impl core::fmt::Display for UnknownCellKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "unknown cell kind `{}`: expected rnn, rnn_relu, lstm or gru",
            self.0
        )
    }
}

impl std::error::Error for UnknownCellKind {}

impl core::str::FromStr for CellKind {
    type Err = UnknownCellKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "rnn" | "rnntanh" => Ok(CellKind::RnnTanh),
            "rnnrelu" => Ok(CellKind::RnnRelu),
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            _ => Err(UnknownCellKind(s.to_string())),
        }
    }
}

/// Written as its [name](CellKind::as_str); read by `FromStr`, so `"Lstm"` and `"lstm"` both
/// load.
#[cfg(feature = "serde")]
impl serde::Serialize for CellKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for CellKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// What one whole-sequence call computes besides its sizes: the cell, the lengths and the
/// direction. burn-rnn's backend ops take the same spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The cell math.
    pub kind: CellKind,
    /// `[N]` lengths in `0..=L`, or `None` when every sequence is `L` long. Past its length a
    /// sequence's state is frozen and its outputs are zero.
    pub lengths: Option<Arc<[usize]>>,
    /// Run from `t = L - 1` down to `0` (the reverse direction of a bidirectional layer).
    pub reverse: bool,
}

impl Spec {
    /// Whether sequence `n` is still running at time `t`.
    #[inline]
    pub fn active(&self, t: usize, n: usize) -> bool {
        self.lengths.as_deref().is_none_or(|l| t < l[n])
    }

    /// The time index of processing step `s` in a sequence of `seq` steps.
    #[inline]
    pub fn time(&self, s: usize, seq: usize) -> usize {
        match self.reverse {
            true => seq - 1 - s,
            false => s,
        }
    }

    /// Panics unless the lengths fit `dims`.
    pub(crate) fn check(&self, dims: Dims) {
        if let Some(lengths) = self.lengths.as_deref() {
            assert_eq!(lengths.len(), dims.batch, "one length per sequence");
            assert!(
                lengths.iter().all(|&l| l <= dims.seq),
                "a length exceeds the {} steps",
                dims.seq
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_from_its_name_and_old_spellings() {
        for kind in CellKind::ALL {
            assert_eq!(kind.as_str().parse::<CellKind>(), Ok(kind));
            assert_eq!(
                kind.to_string().to_uppercase().parse::<CellKind>(),
                Ok(kind)
            );
        }
        assert_eq!("RnnTanh".parse(), Ok(CellKind::RnnTanh));
        assert_eq!("Rnn".parse(), Ok(CellKind::RnnTanh));
        assert_eq!("rnn-relu".parse(), Ok(CellKind::RnnRelu));
        let err = "transformer".parse::<CellKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown cell kind `transformer`: expected rnn, rnn_relu, lstm or gru"
        );
        for nl in [Nonlinearity::Tanh, Nonlinearity::Relu] {
            assert_eq!(CellKind::rnn(nl).nonlinearity(), Some(nl));
        }
    }
}
