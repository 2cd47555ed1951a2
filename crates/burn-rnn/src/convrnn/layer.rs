//! [`ConvRecurrent`]: a convolutional cell over a sequence, stacked, either direction, with
//! lengths; its configs [`ConvLstmConfig`] and [`ConvGruConfig`].

use burn::config::Config;
use burn::module::Module;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::cell::{ConvCell, ConvGruCell, ConvLstmCell};
use super::{ConvInputError, ConvOutput, ConvState};
use crate::{ConfigError, RnnBackend};

/// A stack of convolutional recurrent layers (see [the module docs](super) for the shapes).
/// Built by [`ConvLstmConfig`] or [`ConvGruConfig`]; [`ConvLstm`] and [`ConvGru`] name the two.
#[derive(Module, Debug)]
pub struct ConvRecurrent<B: Backend, C> {
    /// `num_layers * D` cells, index `layer * D + direction`.
    cells: Vec<C>,
    bidirectional: bool,
    batch_first: bool,
    _backend: core::marker::PhantomData<B>,
}

/// A ConvLSTM layer stack ([`ConvLstmCell`]).
pub type ConvLstm<B> = ConvRecurrent<B, ConvLstmCell<B>>;
/// A ConvGRU layer stack ([`ConvGruCell`]).
pub type ConvGru<B> = ConvRecurrent<B, ConvGruCell<B>>;

macro_rules! conv_config {
    (
        $(#[$doc:meta])* $config:ident, $layer:ident, $cell:ident, $name:literal,
        { $($extra:tt)* }, $peephole:expr
    ) => {
        $(#[$doc])*
        #[derive(Config, Debug)]
        pub struct $config {
            /// Input channels `C_in`.
            pub channels_in: usize,
            /// Hidden channels `C_h` of every layer.
            pub channels_hidden: usize,
            /// The convolutions' kernel size `k` (`k x k`, odd: "same" padding of `k / 2`).
            pub kernel_size: usize,
            /// Stacked layers.
            #[config(default = 1)]
            pub num_layers: usize,
            /// Whether the convolutions have biases.
            #[config(default = true)]
            pub bias: bool,
            /// A second direction per layer, run from the last step to the first.
            #[config(default = false)]
            pub bidirectional: bool,
            /// Inputs and outputs `[N, L, ...]` (else `[L, N, ...]`).
            #[config(default = true)]
            pub batch_first: bool,
            $($extra)*
        }

        impl $config {
            /// Builds the layers, or says which setting cannot build them: a zero size or
            /// layer count, an even kernel size.
            pub fn try_init<B: RnnBackend>(
                &self,
                device: &B::Device,
            ) -> Result<$layer<B>, ConfigError> {
                check($name, self.channels_in, self.channels_hidden, self.kernel_size, self.num_layers)?;
                let peephole: Option<[usize; 2]> = $peephole(self);
                if peephole.is_some_and(|[h, w]| h == 0 || w == 0) {
                    return Err(ConfigError::Zero { module: $name, setting: "peephole" });
                }
                let dirs = if self.bidirectional { 2 } else { 1 };
                let cells = (0..self.num_layers * dirs)
                    .map(|i| {
                        let c_in = match i / dirs {
                            0 => self.channels_in,
                            _ => dirs * self.channels_hidden,
                        };
                        $cell::new(
                            [c_in, self.channels_hidden],
                            self.kernel_size,
                            self.bias,
                            peephole,
                            device,
                        )
                    })
                    .collect();
                Ok(ConvRecurrent {
                    cells,
                    bidirectional: self.bidirectional,
                    batch_first: self.batch_first,
                    _backend: core::marker::PhantomData,
                })
            }

            /// As [`Self::try_init`], panicking with the error's message.
            pub fn init<B: RnnBackend>(&self, device: &B::Device) -> $layer<B> {
                self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    };
}

conv_config!(
    /// Configuration of a [`ConvLstm`].
    ConvLstmConfig, ConvLstm, ConvLstmCell, "ConvLSTM",
    {
        /// Hadamard peepholes on the cell state (Shi et al. 2015) for feature maps of size
        /// `[H, W]`: weights `W_ci, W_cf, W_co` of shape `[1, C_h, H, W]` per cell, zeros at
        /// initialization, added as `W_ci * c_{t-1}` to `i`, `W_cf * c_{t-1}` to `f` and
        /// `W_co * c_t` to `o` (see [`ConvLstmCell`]). The layer then takes maps of this size
        /// only. `None` (the default): no peepholes.
        #[config(default = "None")]
        pub peephole: Option<[usize; 2]>,
    },
    |c: &ConvLstmConfig| c.peephole
);
conv_config!(
    /// Configuration of a [`ConvGru`].
    ConvGruConfig, ConvGru, ConvGruCell, "ConvGRU",
    {},
    |_: &ConvGruConfig| None
);

fn check(
    module: &'static str,
    channels_in: usize,
    channels_hidden: usize,
    kernel_size: usize,
    num_layers: usize,
) -> Result<(), ConfigError> {
    let sizes = [
        ("channels_in", channels_in),
        ("channels_hidden", channels_hidden),
        ("kernel_size", kernel_size),
        ("num_layers", num_layers),
    ];
    if let Some((setting, _)) = sizes.into_iter().find(|&(_, v)| v == 0) {
        return Err(ConfigError::Zero { module, setting });
    }
    if kernel_size.is_multiple_of(2) {
        return Err(ConfigError::EvenKernel {
            module,
            kernel_size,
        });
    }
    Ok(())
}

impl<B: Backend, C: ConvCell<B>> ConvRecurrent<B, C> {
    /// Stacked layers.
    pub fn num_layers(&self) -> usize {
        self.cells.len() / self.num_directions()
    }

    /// Whether each layer runs both directions.
    pub fn bidirectional(&self) -> bool {
        self.bidirectional
    }

    /// `D`: 2 if bidirectional, else 1.
    pub fn num_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Whether inputs and outputs are `[N, L, ...]`.
    pub fn batch_first(&self) -> bool {
        self.batch_first
    }

    /// Input channels `C_in`.
    pub fn channels_in(&self) -> usize {
        self.cells[0].channels_in()
    }

    /// Hidden channels `C_h`.
    pub fn channels_hidden(&self) -> usize {
        self.cells[0].channels_hidden()
    }

    /// Every cell, index `layer * D + direction`.
    pub fn cells(&self) -> &[C] {
        &self.cells
    }

    pub(crate) fn cells_mut(&mut self) -> &mut [C] {
        &mut self.cells
    }

    /// Runs the layers over whole sequences from `state` (zeros when `None`).
    ///
    /// # Shapes
    /// - `input`: `[N, L, C_in, H, W]` (`[L, N, C_in, H, W]` when not batch-first)
    /// - `state`: `[num_layers*D, N, C_h, H, W]` parts (`cell` for a ConvLSTM only)
    /// - returns the output `[N, L, D*C_h, H, W]` (or time-major) and the final state
    ///
    /// # Panics
    /// With [`ConvRecurrent::try_forward`]'s error message, naming the expected and the actual
    /// shape.
    pub fn forward(&self, input: Tensor<B, 5>, state: Option<ConvState<B, 5>>) -> ConvOutput<B> {
        self.try_forward(input, state, None)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// As [`ConvRecurrent::forward`] with per-sequence lengths (`N` values in `1..=L`): the
    /// outputs past a sequence's length are zero and its state is frozen there; the reverse
    /// direction starts at each sequence's own last step (PyTorch's packed-sequence
    /// semantics). Returns an error instead of panicking on an input, state or lengths the
    /// layer cannot run.
    pub fn try_forward(
        &self,
        input: Tensor<B, 5>,
        state: Option<ConvState<B, 5>>,
        lengths: Option<&[usize]>,
    ) -> Result<ConvOutput<B>, ConvInputError> {
        let x = match self.batch_first {
            true => input,
            false => input.swap_dims(0, 1),
        };
        let [n, l, c, h, w] = x.dims();
        let module = C::LAYER_NAME;
        let shape_error = |what, expected: Vec<usize>, actual: Vec<usize>| ConvInputError::Shape {
            module,
            what,
            expected,
            actual,
        };
        let mut expected_input = [n, l, self.channels_in(), h, w];
        if !self.batch_first {
            expected_input.swap(0, 1);
        }
        let map = self.cells[0].map_size();
        if c != self.channels_in() || map.is_some_and(|m| m != [h, w]) {
            let [mh, mw] = map.unwrap_or([h, w]);
            expected_input[3] = mh;
            expected_input[4] = mw;
            let mut actual = [n, l, c, h, w];
            if !self.batch_first {
                actual.swap(0, 1);
            }
            return Err(shape_error(
                "input",
                expected_input.to_vec(),
                actual.to_vec(),
            ));
        }
        let states = self.initial_states(state, [n, h, w])?;
        let masks = self.masks(lengths, [n, l], &x.device())?;
        let mut inputs: Vec<Tensor<B, 4>> = x
            .chunk(l, 1)
            .into_iter()
            .map(|t| t.squeeze_dim(1))
            .collect();
        let dirs = self.num_directions();
        let mut finals = Vec::with_capacity(self.cells.len());
        let mut states = states.into_iter();
        for layer in 0..self.num_layers() {
            let mut outputs: Vec<Vec<Tensor<B, 4>>> = Vec::with_capacity(dirs);
            for dir in 0..dirs {
                let cell = &self.cells[layer * dirs + dir];
                let s0 = states.next().expect("one initial state per cell");
                let (out, last) = cell.run(&inputs, s0, masks.as_deref(), dir == 1);
                outputs.push(out);
                finals.push(last);
            }
            inputs = (0..l)
                .map(|t| Tensor::cat(outputs.iter().map(|o| o[t].clone()).collect(), 1))
                .collect();
        }
        let output = Tensor::stack(inputs, 1);
        let output = match self.batch_first {
            true => output,
            false => output.swap_dims(0, 1),
        };
        let cell = C::HAS_CELL.then(|| {
            Tensor::stack(
                finals
                    .iter()
                    .map(|s| s.cell.clone().expect("a cell part"))
                    .collect(),
                0,
            )
        });
        let hidden = Tensor::stack(finals.into_iter().map(|s| s.hidden).collect(), 0);
        Ok(ConvOutput {
            output,
            state: ConvState { hidden, cell },
        })
    }

    /// Each cell's initial state, from `state` (checked), or `None` (zeros).
    fn initial_states(
        &self,
        state: Option<ConvState<B, 5>>,
        [n, h, w]: [usize; 3],
    ) -> Result<Vec<Option<ConvState<B, 4>>>, ConvInputError> {
        let module = C::LAYER_NAME;
        let expected = [self.cells.len(), n, self.channels_hidden(), h, w];
        let Some(state) = state else {
            return Ok(vec![None; self.cells.len()]);
        };
        if state.cell.is_some() != C::HAS_CELL {
            return Err(ConvInputError::Part {
                module,
                what: "cell",
                expected: C::HAS_CELL,
            });
        }
        let parts = [
            ("hidden", Some(&state.hidden)),
            ("cell", state.cell.as_ref()),
        ];
        for (what, part) in parts {
            if let Some(part) = part.filter(|p| p.dims() != expected) {
                return Err(ConvInputError::Shape {
                    module,
                    what,
                    expected: expected.to_vec(),
                    actual: part.dims().to_vec(),
                });
            }
        }
        let split = |t: Tensor<B, 5>| -> Vec<Tensor<B, 4>> {
            t.chunk(expected[0], 0)
                .into_iter()
                .map(|p| p.squeeze_dim(0))
                .collect()
        };
        let hidden = split(state.hidden);
        let mut cells = state.cell.map(split).map(Vec::into_iter);
        Ok(hidden
            .into_iter()
            .map(|hidden| {
                Some(ConvState {
                    hidden,
                    cell: cells.as_mut().and_then(Iterator::next),
                })
            })
            .collect())
    }

    /// One `[N, 1, 1, 1]` mask per step (1 while a sequence runs, 0 past its length), or
    /// `None` when every sequence is full length.
    fn masks(
        &self,
        lengths: Option<&[usize]>,
        [n, l]: [usize; 2],
        device: &B::Device,
    ) -> Result<Option<Vec<Tensor<B, 4>>>, ConvInputError> {
        let module = C::LAYER_NAME;
        let Some(lengths) = lengths else {
            return Ok(None);
        };
        if lengths.len() != n {
            return Err(ConvInputError::Shape {
                module,
                what: "lengths",
                expected: vec![n],
                actual: vec![lengths.len()],
            });
        }
        if let Some((sequence, &length)) = lengths
            .iter()
            .enumerate()
            .find(|(_, &len)| !(1..=l).contains(&len))
        {
            return Err(ConvInputError::Length {
                module,
                sequence,
                length,
                max: l,
            });
        }
        if lengths.iter().all(|&len| len == l) {
            return Ok(None);
        }
        let masks = (0..l)
            .map(|t| {
                let m: Vec<f32> = lengths.iter().map(|&len| (t < len) as u8 as f32).collect();
                let m = TensorData::new(m, [n, 1, 1, 1]).convert::<B::FloatElem>();
                Tensor::from_data(m, device)
            })
            .collect();
        Ok(Some(masks))
    }
}
