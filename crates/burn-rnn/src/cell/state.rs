//! Recurrent states: `[N, H]` for a cell, `[num_layers*D, N, H]` for a layer.

use burn::tensor::{backend::Backend, Tensor};

/// The state of a vanilla RNN or a GRU: just the hidden state.
///
/// `D = 2` for a cell (`hidden: [N, H]`), `D = 3` for a layer
/// (`hidden: [num_layers*D, N, H]`, PyTorch's `h_n`).
#[derive(Debug, Clone)]
pub struct RnnState<B: Backend, const D: usize> {
    /// The hidden state `h`.
    pub hidden: Tensor<B, D>,
}

/// The GRU's state is a hidden state alone, as the vanilla RNN's.
pub type GruState<B, const D: usize> = RnnState<B, D>;

/// The state of an LSTM: hidden state `h` and cell state `c`.
///
/// `D = 2` for a cell (`h: [N, P]`, `c: [N, H]`), `D = 3` for a layer
/// (`[num_layers*D, N, P]` and `[num_layers*D, N, H]`, PyTorch's `(h_n, c_n)`). `P = H`
/// unless the LSTM has a projection (`proj_size`).
///
/// Build it with named fields, `LstmState { hidden, cell }`, or
/// [`LstmState::from_hidden_and_cell`]. There is deliberately no `new(a, b)`: `burn::nn`'s
/// `LstmState::new(cell, hidden)` takes the cell state first, and a constructor of the same
/// name in the other order would swap `h` and `c` without any error.
#[derive(Debug, Clone)]
pub struct LstmState<B: Backend, const D: usize> {
    /// The hidden state `h`.
    pub hidden: Tensor<B, D>,
    /// The cell state `c`.
    pub cell: Tensor<B, D>,
}

impl<B: Backend, const D: usize> RnnState<B, D> {
    /// Wraps a hidden state.
    pub fn new(hidden: Tensor<B, D>) -> Self {
        Self { hidden }
    }

    /// The hidden state: `[N, H]` (cell) or `[num_layers*D, N, H]` (layer).
    pub fn hidden(&self) -> &Tensor<B, D> {
        &self.hidden
    }

    /// The state detached from the autodiff graph (for truncated BPTT).
    pub fn detach(self) -> Self {
        Self::new(self.hidden.detach())
    }
}

impl<B: Backend, const D: usize> LstmState<B, D> {
    /// The state from its hidden part `h` and its cell part `c` (in that order), of the same
    /// shape: `[N, H]` (cell) or `[num_layers*D, N, H]` (layer).
    ///
    /// `burn::nn::LstmState::new(cell, hidden)` takes them the other way round; see
    /// [`LstmState::from_burn`].
    pub fn from_hidden_and_cell(hidden: Tensor<B, D>, cell: Tensor<B, D>) -> Self {
        Self { hidden, cell }
    }

    /// The same state from `burn::nn`'s LSTM state (`burn::nn::LstmState { cell, hidden }`).
    pub fn from_burn(state: burn::nn::LstmState<B, D>) -> Self {
        Self {
            hidden: state.hidden,
            cell: state.cell,
        }
    }

    /// The same state as `burn::nn`'s LSTM state.
    pub fn into_burn(self) -> burn::nn::LstmState<B, D> {
        burn::nn::LstmState::new(self.cell, self.hidden)
    }

    /// The hidden state `h`: `[N, H]` (cell) or `[num_layers*D, N, H]` (layer).
    pub fn hidden(&self) -> &Tensor<B, D> {
        &self.hidden
    }

    /// The cell state `c`: `[N, H]` (cell) or `[num_layers*D, N, H]` (layer); the shape of
    /// [`LstmState::hidden`] unless the LSTM has a projection.
    pub fn cell(&self) -> &Tensor<B, D> {
        &self.cell
    }

    /// The state detached from the autodiff graph (for truncated BPTT).
    pub fn detach(self) -> Self {
        Self::from_hidden_and_cell(self.hidden.detach(), self.cell.detach())
    }
}

impl<B: Backend> RnnState<B, 2> {
    /// The zero state `[batch, hidden]` (PyTorch's default `h_0`).
    pub fn zeros(batch: usize, hidden: usize, device: &B::Device) -> Self {
        Self::new(Tensor::zeros([batch, hidden], device))
    }
}

impl<B: Backend> RnnState<B, 3> {
    /// The zero layer state `[num_layers*D, batch, hidden]`.
    pub fn zeros_stacked(
        layers_x_dirs: usize,
        batch: usize,
        hidden: usize,
        device: &B::Device,
    ) -> Self {
        Self::new(Tensor::zeros([layers_x_dirs, batch, hidden], device))
    }
}

impl<B: Backend> LstmState<B, 2> {
    /// The zero state, `h` and `c` both `[batch, hidden]`.
    pub fn zeros(batch: usize, hidden: usize, device: &B::Device) -> Self {
        let z = Tensor::zeros([batch, hidden], device);
        Self::from_hidden_and_cell(z.clone(), z)
    }
}

impl<B: Backend> LstmState<B, 3> {
    /// The zero layer state, `h` and `c` both `[num_layers*D, batch, hidden]`.
    pub fn zeros_stacked(layers_x_dirs: usize, batch: usize, hidden: usize, d: &B::Device) -> Self {
        let z = RnnState::zeros_stacked(layers_x_dirs, batch, hidden, d).hidden;
        Self::from_hidden_and_cell(z.clone(), z)
    }
}

/// What a layer does with a cell's state: start it at zero, read `h`, freeze it past a
/// sequence's end, and stack or split the per-layer states in PyTorch's `[layers*D, N, H]` form.
pub trait CellState<B: Backend>: Clone + Sized {
    /// The whole layer's state: the same parts stacked to `[num_layers*D, N, H]`.
    type Layer: Clone;

    /// The zero state `[batch, hidden]`.
    fn zeros(batch: usize, hidden: usize, device: &B::Device) -> Self;

    /// The zero state of a cell whose output width differs from its hidden width
    /// ([`Cell::d_output`](crate::Cell::d_output), an LSTM with a projection): parts that
    /// carry the output `[batch, output]`, the others `[batch, hidden]`.
    ///
    /// The default is [`CellState::zeros`]`(batch, hidden)`, right wherever
    /// `output == hidden`; a state of a cell with a narrower output overrides it.
    fn zeros_sized(batch: usize, output: usize, hidden: usize, device: &B::Device) -> Self {
        let _ = output;
        Self::zeros(batch, hidden, device)
    }

    /// Checks every part against `[batch, output]` (the parts that carry the output) or
    /// `[batch, hidden]` (the others); the error names the part and both shapes.
    ///
    /// The default is [`CellState::check_dims`]`([batch, hidden])`; override it with
    /// [`CellState::zeros_sized`].
    fn check_sized(
        &self,
        batch: usize,
        output: usize,
        hidden: usize,
    ) -> Result<(), StateShapeError> {
        let _ = output;
        self.check_dims([batch, hidden])
    }

    /// The hidden state `h: [N, H]`, which is also the cell's output.
    fn output(&self) -> Tensor<B, 2>;

    /// The hidden part `h: [N, H]` and the cell part `c: [N, H]` (LSTM only).
    fn into_parts(self) -> (Tensor<B, 2>, Option<Tensor<B, 2>>);

    /// The state from its parts, as [`CellState::into_parts`] returns them.
    ///
    /// # Panics
    /// If `cell` is `None` for a state that has one.
    fn from_parts(hidden: Tensor<B, 2>, cell: Option<Tensor<B, 2>>) -> Self;

    /// Checks that every part is `expected = [N, H]`; the error names the part and both shapes.
    fn check_dims(&self, expected: [usize; 2]) -> Result<(), StateShapeError>;

    /// `self` where `mask` is 1 and `previous` where it is 0.
    ///
    /// # Shapes
    /// - `mask`: `[N, 1]`, 1.0 for sequences still running, 0.0 for finished ones
    fn select(self, previous: Self, mask: &Tensor<B, 2>) -> Self;

    /// Stacks `num_layers*D` states `[N, H]` into `[num_layers*D, N, H]`.
    fn stack(states: Vec<Self>) -> Self::Layer;

    /// Splits a layer state `[num_layers*D, N, H]` into its `[N, H]` parts.
    fn unstack(layer: Self::Layer) -> Vec<Self>;

    /// The shape `[num_layers*D, N, P]` of a layer state's output part (`h`); the other parts
    /// are checked to have the same `num_layers*D` and `N`.
    fn layer_dims(layer: &Self::Layer) -> Result<[usize; 3], StateShapeError>;
}

/// `new` where `mask` is 1 and `old` where it is 0 (`mask: [N, 1]`).
pub(crate) fn select<B: Backend>(
    new: Tensor<B, 2>,
    old: Tensor<B, 2>,
    mask: &Tensor<B, 2>,
) -> Tensor<B, 2> {
    // old + (new - old) * mask: exact where mask is 0 or 1, and differentiable in both.
    old.clone() + (new - old) * mask.clone()
}

/// A recurrent state whose shape is not what the cell or layer expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateShapeError {
    /// One part of the state (`"hidden"` or `"cell"`) has the wrong shape.
    Part {
        /// `"hidden"` or `"cell"`.
        part: &'static str,
        /// The shape the cell expects, `[N, H]`.
        expected: Vec<usize>,
        /// The shape it got.
        actual: Vec<usize>,
    },
    /// An LSTM layer state whose hidden and cell parts differ in `num_layers*D` or `N`.
    Mismatch {
        /// The hidden part's shape.
        hidden: Vec<usize>,
        /// The cell part's shape.
        cell: Vec<usize>,
    },
}

impl core::fmt::Display for StateShapeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StateShapeError::Part {
                part,
                expected,
                actual,
            } => write!(
                f,
                "expected {part} state of shape {expected:?}, got {actual:?}"
            ),
            StateShapeError::Mismatch { hidden, cell } => write!(
                f,
                "LSTM state: hidden and cell must have the same [num_layers*D, batch] \
                 dimensions, got hidden {hidden:?} and cell {cell:?}"
            ),
        }
    }
}

impl std::error::Error for StateShapeError {}

fn check_part<B: Backend>(
    part: &'static str,
    t: &Tensor<B, 2>,
    expected: [usize; 2],
) -> Result<(), StateShapeError> {
    let actual = t.dims();
    if actual == expected {
        Ok(())
    } else {
        Err(StateShapeError::Part {
            part,
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        })
    }
}

/// `[K, N, H]` split into its `K` states `[N, H]`.
pub(crate) fn unstack3<B: Backend>(t: Tensor<B, 3>) -> Vec<Tensor<B, 2>> {
    let n = t.dims()[0];
    t.chunk(n, 0)
        .into_iter()
        .map(|p| p.squeeze_dim(0))
        .collect()
}

impl<B: Backend> CellState<B> for RnnState<B, 2> {
    type Layer = RnnState<B, 3>;

    fn into_parts(self) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        (self.hidden, None)
    }

    fn from_parts(hidden: Tensor<B, 2>, _cell: Option<Tensor<B, 2>>) -> Self {
        RnnState::new(hidden)
    }

    fn zeros(batch: usize, hidden: usize, device: &B::Device) -> Self {
        RnnState::<B, 2>::zeros(batch, hidden, device)
    }

    fn zeros_sized(batch: usize, output: usize, _hidden: usize, device: &B::Device) -> Self {
        RnnState::<B, 2>::zeros(batch, output, device)
    }

    fn check_sized(
        &self,
        batch: usize,
        output: usize,
        _hidden: usize,
    ) -> Result<(), StateShapeError> {
        check_part("hidden", &self.hidden, [batch, output])
    }

    fn output(&self) -> Tensor<B, 2> {
        self.hidden.clone()
    }

    fn check_dims(&self, expected: [usize; 2]) -> Result<(), StateShapeError> {
        check_part("hidden", &self.hidden, expected)
    }

    fn select(self, previous: Self, mask: &Tensor<B, 2>) -> Self {
        Self::new(select(self.hidden, previous.hidden, mask))
    }

    fn stack(states: Vec<Self>) -> Self::Layer {
        RnnState::new(Tensor::stack(
            states.into_iter().map(|s| s.hidden).collect(),
            0,
        ))
    }

    fn unstack(layer: Self::Layer) -> Vec<Self> {
        unstack3(layer.hidden).into_iter().map(Self::new).collect()
    }

    fn layer_dims(layer: &Self::Layer) -> Result<[usize; 3], StateShapeError> {
        Ok(layer.hidden.dims())
    }
}

impl<B: Backend> CellState<B> for LstmState<B, 2> {
    type Layer = LstmState<B, 3>;

    fn into_parts(self) -> (Tensor<B, 2>, Option<Tensor<B, 2>>) {
        (self.hidden, Some(self.cell))
    }

    fn from_parts(hidden: Tensor<B, 2>, cell: Option<Tensor<B, 2>>) -> Self {
        LstmState::from_hidden_and_cell(hidden, cell.expect("an LSTM state has a cell part"))
    }

    fn zeros(batch: usize, hidden: usize, device: &B::Device) -> Self {
        LstmState::<B, 2>::zeros(batch, hidden, device)
    }

    fn zeros_sized(batch: usize, output: usize, hidden: usize, device: &B::Device) -> Self {
        Self::from_hidden_and_cell(
            Tensor::zeros([batch, output], device),
            Tensor::zeros([batch, hidden], device),
        )
    }

    fn check_sized(
        &self,
        batch: usize,
        output: usize,
        hidden: usize,
    ) -> Result<(), StateShapeError> {
        check_part("hidden", &self.hidden, [batch, output])?;
        check_part("cell", &self.cell, [batch, hidden])
    }

    fn output(&self) -> Tensor<B, 2> {
        self.hidden.clone()
    }

    fn check_dims(&self, expected: [usize; 2]) -> Result<(), StateShapeError> {
        check_part("hidden", &self.hidden, expected)?;
        check_part("cell", &self.cell, expected)
    }

    fn select(self, previous: Self, mask: &Tensor<B, 2>) -> Self {
        Self::from_hidden_and_cell(
            select(self.hidden, previous.hidden, mask),
            select(self.cell, previous.cell, mask),
        )
    }

    fn stack(states: Vec<Self>) -> Self::Layer {
        let (h, c): (Vec<_>, Vec<_>) = states.into_iter().map(|s| (s.hidden, s.cell)).unzip();
        LstmState::from_hidden_and_cell(Tensor::stack(h, 0), Tensor::stack(c, 0))
    }

    fn unstack(layer: Self::Layer) -> Vec<Self> {
        unstack3(layer.hidden)
            .into_iter()
            .zip(unstack3(layer.cell))
            .map(|(h, c)| Self::from_hidden_and_cell(h, c))
            .collect()
    }

    fn layer_dims(layer: &Self::Layer) -> Result<[usize; 3], StateShapeError> {
        let (h, c) = (layer.hidden.dims(), layer.cell.dims());
        if h[..2] != c[..2] {
            return Err(StateShapeError::Mismatch {
                hidden: h.to_vec(),
                cell: c.to_vec(),
            });
        }
        Ok(h)
    }
}
