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
    /// LSTM projection size `P` (PyTorch's `proj_size`), 0 for none.
    pub proj: usize,
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
            proj: 0,
            note: "",
        }
    }

    /// The same LSTM shape with a projection to `proj` features.
    const fn proj(mut self, proj: usize) -> Self {
        self.proj = proj;
        self
    }

    /// The same shape with `note` printed after the sizes.
    const fn note(mut self, note: &'static str) -> Self {
        self.note = note;
        self
    }

    /// The table's label: `lstm 16/25/512/512 (DeepBench)`, `lstm 32/64/128/256 proj 128`.
    pub fn label(&self) -> String {
        let mut base = format!(
            "{} {}/{}/{}/{}",
            self.kind, self.batch, self.seq, self.input, self.hidden
        );
        if self.proj > 0 {
            base += &format!(" proj {}", self.proj);
        }
        match self.note {
            "" => base,
            note => format!("{base} ({note})"),
        }
    }

    /// The config as `benches/pytorch_bench.py` names it: `lstm:16:25:512:512`, with
    /// `:P` after it for a projection.
    pub fn torch_key(&self) -> String {
        let base = format!(
            "{}:{}:{}:{}:{}",
            self.kind, self.batch, self.seq, self.input, self.hidden
        );
        match self.proj {
            0 => base,
            p => format!("{base}:{p}"),
        }
    }

    /// Forward flops: `2 * N * (H_in + P) * G*H` per step (the two matmuls; `P = H` without a
    /// projection), plus `2 * N * H * P` for a projection.
    pub fn forward_flops(&self) -> f64 {
        let (g, h) = (self.kind.gates(), self.hidden);
        let out = if self.proj > 0 { self.proj } else { h };
        let proj = if self.proj > 0 { h * out } else { 0 };
        2.0 * (self.batch * ((self.input + out) * g * h + proj) * self.seq) as f64
    }
}

/// The main table's configs, each timed forward and as a training step.
pub const CONFIGS: [Shape; 7] = [
    Shape::new(CellKind::Lstm, 32, 64, 128, 256),
    Shape::new(CellKind::Lstm, 32, 64, 128, 256).proj(128),
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
