//! The benchmark's configs: a cell kind and batch / seq / input / hidden sizes, with the label
//! the tables print, the key PyTorch's script is asked for, and the flop count.

use burn_rnn::CellKind;

/// One benchmark shape: batch / seq / input / hidden.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// The recurrent cell.
    pub kind: CellKind,
    /// Batch size `N`.
    pub batch: usize,
    /// Sequence length `L`.
    pub seq: usize,
    /// Input size `H_in`.
    pub input: usize,
    /// Hidden size `H`.
    pub hidden: usize,
    /// Where the shape comes from (`"DeepBench"`), printed after the sizes; empty for none.
    pub note: &'static str,
}

impl Shape {
    /// A shape without a note.
    const fn new(kind: CellKind, batch: usize, seq: usize, input: usize, hidden: usize) -> Self {
        Self {
            kind,
            batch,
            seq,
            input,
            hidden,
            note: "",
        }
    }

    /// The same shape with `note` printed after the sizes.
    const fn note(mut self, note: &'static str) -> Self {
        self.note = note;
        self
    }

    /// The table's label: `lstm 16/25/512/512 (DeepBench)`.
    pub fn label(&self) -> String {
        let base = format!(
            "{} {}/{}/{}/{}",
            self.kind, self.batch, self.seq, self.input, self.hidden
        );
        match self.note {
            "" => base,
            note => format!("{base} ({note})"),
        }
    }

    /// The config as `benches/pytorch_bench.py` names it: `lstm:16:25:512:512`.
    pub fn torch_key(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.kind, self.batch, self.seq, self.input, self.hidden
        )
    }

    /// Forward flops: `2 * N * (H_in + H) * G*H` per step (the two matmuls).
    pub fn forward_flops(&self) -> f64 {
        2.0 * (self.batch * (self.input + self.hidden) * self.kind.gates() * self.hidden * self.seq)
            as f64
    }
}

/// The main table's configs, each timed forward and as a training step.
pub const CONFIGS: [Shape; 6] = [
    Shape::new(CellKind::Lstm, 32, 64, 128, 256),
    Shape::new(CellKind::Lstm, 16, 25, 512, 512).note("DeepBench"),
    Shape::new(CellKind::Lstm, 64, 100, 123, 320).note("Braun 2018"),
    Shape::new(CellKind::Gru, 64, 50, 500, 500),
    Shape::new(CellKind::RnnTanh, 32, 64, 128, 256),
    Shape::new(CellKind::RnnTanh, 1, 96, 64, 64).note("per-step overhead"),
];

/// The scaling rows: one LSTM at growing sequence lengths, training step only.
pub const SCALING: [Shape; 3] = [
    Shape::new(CellKind::Lstm, 32, 64, 128, 256).note("scaling"),
    Shape::new(CellKind::Lstm, 32, 256, 128, 256).note("scaling"),
    Shape::new(CellKind::Lstm, 32, 1024, 128, 256).note("scaling"),
];
