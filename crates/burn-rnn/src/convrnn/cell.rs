//! The two convolutional cells: [`ConvLstmCell`] and [`ConvGruCell`].

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::tanh;
use burn::tensor::backend::Backend;
use burn::tensor::ops::ConvOptions;
use burn::tensor::Tensor;

use super::ConvState;
use crate::conv::{conv2d, Conv2d, Conv2dConfig};
use crate::kernels::conv_lstm_gates;
use crate::math::sigmoid;
use crate::RnnBackend;

/// One step of a convolutional recurrent cell: the part of a cell that
/// [`ConvRecurrent`](super::ConvRecurrent) runs over a sequence.
pub trait ConvCell<B: Backend>: Module<B> + core::fmt::Debug {
    /// The cell's name in messages (`"ConvLSTMCell"`).
    const NAME: &'static str;
    /// The name of a layer of this cell in messages (`"ConvLSTM"`).
    const LAYER_NAME: &'static str;
    /// Whether the state has a cell part `c` (an LSTM) besides `h`.
    const HAS_CELL: bool;

    /// Input channels `C_in`.
    fn channels_in(&self) -> usize;

    /// Hidden channels `C_h`.
    fn channels_hidden(&self) -> usize;

    /// The feature-map size `[H, W]` the cell requires (a ConvLSTM with peepholes), or
    /// `None` for any size.
    fn map_size(&self) -> Option<[usize; 2]> {
        None
    }

    /// One step.
    ///
    /// # Shapes
    /// - `x`: `[N, C_in, H, W]`; `state`: `[N, C_h, H, W]` parts; returns the new state
    fn step(&self, x: Tensor<B, 4>, state: ConvState<B, 4>) -> ConvState<B, 4>;

    /// Every step of one sequence, last to first when `reverse`, from `state` (zeros when
    /// `None`); `masks[t]` (1 while a sequence runs, 0 past its length) freezes a finished
    /// sequence's state and zeroes its output. The default runs [`ConvCell::step`] per step;
    /// the built-in cells override it to run the input's part of their convolutions over
    /// every step at once.
    ///
    /// # Shapes
    /// - `inputs`: `L` maps `[N, C_in, H, W]`; `state`: `[N, C_h, H, W]` parts;
    ///   `masks`: `L` tensors `[N, 1, 1, 1]`
    /// - returns the hidden maps `[N, C_h, H, W]` of every step (in time order) and the final
    ///   state
    fn run(
        &self,
        inputs: &[Tensor<B, 4>],
        state: Option<ConvState<B, 4>>,
        masks: Option<&[Tensor<B, 4>]>,
        reverse: bool,
    ) -> (Vec<Tensor<B, 4>>, ConvState<B, 4>) {
        let state = state.unwrap_or_else(|| zero_state(self, &inputs[0]));
        unroll(inputs.len(), state, masks, reverse, |t, state, _| {
            self.step(inputs[t].clone(), state)
        })
    }
}

/// The zero state of `cell` for inputs like `x: [N, C_in, H, W]`.
fn zero_state<B: Backend, C: ConvCell<B>>(cell: &C, x: &Tensor<B, 4>) -> ConvState<B, 4> {
    let [n, _, h, w] = x.dims();
    let zeros = || Tensor::zeros([n, cell.channels_hidden(), h, w], &x.device());
    ConvState {
        hidden: zeros(),
        cell: C::HAS_CELL.then(zeros),
    }
}

/// Runs `step(t, state, first)` over `l` steps (last to first when `reverse`; `first` on the
/// first one run), applying the length masks: the hidden maps of every step (zero past a
/// sequence's length) and the final state.
pub(crate) fn unroll<B: Backend>(
    l: usize,
    mut state: ConvState<B, 4>,
    masks: Option<&[Tensor<B, 4>]>,
    reverse: bool,
    mut step: impl FnMut(usize, ConvState<B, 4>, bool) -> ConvState<B, 4>,
) -> (Vec<Tensor<B, 4>>, ConvState<B, 4>) {
    let mut outputs: Vec<Option<Tensor<B, 4>>> = vec![None; l];
    let steps: Box<dyn Iterator<Item = usize>> = match reverse {
        true => Box::new((0..l).rev()),
        false => Box::new(0..l),
    };
    for (k, t) in steps.enumerate() {
        let new = step(t, state.clone(), k == 0);
        state = match masks {
            None => new,
            Some(masks) => {
                let m = &masks[t];
                // old + (new - old) * m: exact where m is 0 or 1, differentiable in both.
                let select =
                    |new: Tensor<B, 4>, old: Tensor<B, 4>| old.clone() + (new - old) * m.clone();
                ConvState {
                    hidden: select(new.hidden, state.hidden),
                    cell: new.cell.zip(state.cell).map(|(n, o)| select(n, o)),
                }
            }
        };
        outputs[t] = Some(match masks {
            None => state.hidden.clone(),
            Some(masks) => state.hidden.clone() * masks[t].clone(),
        });
    }
    let outputs = outputs
        .into_iter()
        .map(|o| o.expect("every step ran"))
        .collect();
    (outputs, state)
}

/// A gate convolution over `cat[x, h]` split into its input part (weight columns
/// `0..C_in`, with the bias) and its hidden part (columns `C_in..`): the same sums without
/// building `cat[x, h]` each step, and no hidden part for a zero state.
///
/// The input part runs step by step rather than once over all `L*N` maps: slicing one big
/// result into steps costs a zero-filled tensor of the whole result per step in the backward
/// (Burn's slice gradient), which measured slower than the convolutions it batched.
struct SplitConv<B: Backend> {
    /// `[G*C_h, C_in, k, k]`
    x: Tensor<B, 4>,
    /// `[G*C_h, C_h, k, k]`
    h: Tensor<B, 4>,
    /// `[G*C_h]`
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<2>,
}

impl<B: RnnBackend> SplitConv<B> {
    fn new(conv: &Conv2d<B>, c_in: usize) -> Self {
        let weight = conv.weight().val();
        let [_, c, k, _] = weight.dims();
        Self {
            x: weight.clone().narrow(1, 0, c_in),
            h: weight.narrow(1, c_in, c - c_in),
            bias: conv.bias().map(|b| b.val()),
            options: ConvOptions::new([1, 1], [k / 2, k / 2], [1, 1], 1),
        }
    }

    /// The input part with the bias: `[N, C_in, H, W]` to `[N, G*C_h, H, W]`.
    fn input(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        conv2d(x, self.x.clone(), self.bias.clone(), self.options.clone())
    }

    /// The input part plus the hidden part of `h` (none when `h` is known to be zero).
    fn both(&self, x: Tensor<B, 4>, h: Option<Tensor<B, 4>>) -> Tensor<B, 4> {
        let gates = self.input(x);
        match h {
            Some(h) => gates + conv2d(h, self.h.clone(), None, self.options.clone()),
            None => gates,
        }
    }
}

/// A convolution over `cat[x, h]` of `channels` `[C_in + C_h, G * C_h]`, "same" padding.
fn gate_conv<B: RnnBackend>(
    channels: [usize; 2],
    kernel: usize,
    bias: bool,
    device: &B::Device,
) -> Conv2d<B> {
    Conv2dConfig::new(channels, [kernel, kernel])
        .with_padding(PaddingConfig2d::Explicit(
            kernel / 2,
            kernel / 2,
            kernel / 2,
            kernel / 2,
        ))
        .with_bias(bias)
        .init(device)
}

/// ConvLSTM (Shi et al. 2015, "Convolutional LSTM Network"), in the form of the widely used
/// PyTorch port (`ConvLSTMCell` of ndrplz/ConvLSTM_pytorch): one convolution over the input and
/// the hidden state, split into the gates `i, f, o, g`:
///
/// ```text
/// [i, f, o, g] = conv(cat[x_t, h_{t-1}])          // [N, 4*C_h, H, W], split on channels
/// c_t = sigmoid(f) * c_{t-1} + sigmoid(i) * tanh(g)
/// h_t = sigmoid(o) * tanh(c_t)
/// ```
///
/// Parameters (PyTorch names relative to the cell): `conv.weight: [4*C_h, C_in + C_h, k, k]`,
/// `conv.bias: [4*C_h]` (optional); the input's channels come first in the weight's second
/// dimension. Padding is `k / 2` on every side (`k` odd), so `H` and `W` are kept.
///
/// With peepholes ([`ConvLstmConfig::peephole`](super::ConvLstmConfig::peephole), Shi et al.'s
/// Hadamard form, as in the peephole ports such as automan000/Convolutional_LSTM_PyTorch):
///
/// ```text
/// i = sigmoid(i_conv + W_ci * c_{t-1}),  f = sigmoid(f_conv + W_cf * c_{t-1})
/// c_t = f * c_{t-1} + i * tanh(g)
/// h_t = sigmoid(o_conv + W_co * c_t) * tanh(c_t)
/// ```
///
/// with `W_ci, W_cf, W_co: [1, C_h, H, W]` (PyTorch names `Wci`, `Wcf`, `Wco`), so the cell
/// runs on maps of that size only. The fused gate op has no peephole terms: a cell with
/// peepholes runs its gate math as plain tensor ops (differentiated by Burn's autodiff).
#[derive(Module, Debug)]
pub struct ConvLstmCell<B: Backend> {
    conv: Conv2d<B>,
    /// `[W_ci, W_cf, W_co]`, each `[1, C_h, H, W]`.
    peephole: Option<[Param<Tensor<B, 4>>; 3]>,
}

impl<B: RnnBackend> ConvLstmCell<B> {
    /// A cell of `C_in` input and `C_h` hidden channels and a `kernel x kernel` convolution
    /// (odd; checked by the layer configs), initialized as `nn.Conv2d`.
    pub(crate) fn new(
        [c_in, c_h]: [usize; 2],
        kernel: usize,
        bias: bool,
        peephole: Option<[usize; 2]>,
        device: &B::Device,
    ) -> Self {
        let zeros = |[h, w]: [usize; 2]| Param::from_tensor(Tensor::zeros([1, c_h, h, w], device));
        Self {
            conv: gate_conv([c_in + c_h, 4 * c_h], kernel, bias, device),
            peephole: peephole.map(|size| [zeros(size), zeros(size), zeros(size)]),
        }
    }

    /// The peephole weights `[W_ci, W_cf, W_co]`, each `[1, C_h, H, W]`, if the cell has them.
    pub fn peephole(&self) -> Option<&[Param<Tensor<B, 4>>; 3]> {
        self.peephole.as_ref()
    }

    pub(crate) fn peephole_mut(&mut self) -> Option<&mut [Param<Tensor<B, 4>>; 3]> {
        self.peephole.as_mut()
    }

    /// The gate math after the convolution: the fused op, or with peepholes plain ops.
    ///
    /// # Shapes
    /// - `gates`: `[N, 4*C_h, H, W]`, `c`: `[N, C_h, H, W]`; returns `(h', c')`
    fn gates(&self, gates: Tensor<B, 4>, c: Tensor<B, 4>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let Some([w_ci, w_cf, w_co]) = &self.peephole else {
            return conv_lstm_gates(gates, c);
        };
        let [i, f, o, g]: [Tensor<B, 4>; 4] = gates
            .chunk(4, 1)
            .try_into()
            .expect("4 * C_h channels split in 4");
        let i = sigmoid(i + w_ci.val() * c.clone());
        let f = sigmoid(f + w_cf.val() * c.clone());
        let c = f * c + i * tanh(g);
        let o = sigmoid(o + w_co.val() * c.clone());
        (o * tanh(c.clone()), c)
    }

    /// The gate convolution: weight `[4*C_h, C_in + C_h, k, k]`, gates `i, f, o, g`.
    pub fn conv(&self) -> &Conv2d<B> {
        &self.conv
    }

    pub(crate) fn conv_mut(&mut self) -> &mut Conv2d<B> {
        &mut self.conv
    }
}

impl<B: RnnBackend> ConvCell<B> for ConvLstmCell<B> {
    const NAME: &'static str = "ConvLSTMCell";
    const LAYER_NAME: &'static str = "ConvLSTM";
    const HAS_CELL: bool = true;

    fn channels_in(&self) -> usize {
        self.conv.channels()[0] - self.channels_hidden()
    }

    fn channels_hidden(&self) -> usize {
        self.conv.channels()[1] / 4
    }

    fn map_size(&self) -> Option<[usize; 2]> {
        self.peephole.as_ref().map(|[w, _, _]| {
            let [_, _, h, w] = w.lazy_shape().dims();
            [h, w]
        })
    }

    fn step(&self, x: Tensor<B, 4>, state: ConvState<B, 4>) -> ConvState<B, 4> {
        let ConvState { hidden, cell } = state;
        let c = cell.expect("a ConvLSTM state has a cell part");
        let (hidden, cell) = self.gates(self.conv.forward(Tensor::cat(vec![x, hidden], 1)), c);
        ConvState {
            hidden,
            cell: Some(cell),
        }
    }

    fn run(
        &self,
        inputs: &[Tensor<B, 4>],
        state: Option<ConvState<B, 4>>,
        masks: Option<&[Tensor<B, 4>]>,
        reverse: bool,
    ) -> (Vec<Tensor<B, 4>>, ConvState<B, 4>) {
        let zero = state.is_none();
        let state = state.unwrap_or_else(|| zero_state(self, &inputs[0]));
        let conv = SplitConv::new(&self.conv, self.channels_in());
        unroll(inputs.len(), state, masks, reverse, |t, state, first| {
            let ConvState { hidden, cell } = state;
            // The hidden part of a zero state is zero.
            let gates = conv.both(inputs[t].clone(), (!(zero && first)).then_some(hidden));
            let c = cell.expect("a ConvLSTM state has a cell part");
            let (hidden, cell) = self.gates(gates, c);
            ConvState {
                hidden,
                cell: Some(cell),
            }
        })
    }
}

/// ConvGRU (Ballas et al. 2016, "Delving Deeper into Convolutional Networks for Learning Video
/// Representations"), in the form of the PyTorch port `ConvGRUCell` of happyjin/ConvGRU-pytorch:
/// the reset and update gates from one convolution over the input and the hidden state, the
/// candidate from a second one over the input and the reset hidden state:
///
/// ```text
/// [r, z] = sigmoid(conv_gates(cat[x_t, h_{t-1}]))  // [N, 2*C_h, H, W], split on channels
/// n = tanh(conv_can(cat[x_t, r * h_{t-1}]))        // [N, C_h, H, W]
/// h_t = (1 - z) * h_{t-1} + z * n
/// ```
///
/// Parameters (PyTorch names relative to the cell): `conv_gates.weight: [2*C_h, C_in + C_h, k,
/// k]`, `conv_gates.bias: [2*C_h]`, `conv_can.weight: [C_h, C_in + C_h, k, k]`,
/// `conv_can.bias: [C_h]` (biases optional); padding `k / 2`.
#[derive(Module, Debug)]
pub struct ConvGruCell<B: Backend> {
    conv_gates: Conv2d<B>,
    conv_can: Conv2d<B>,
}

impl<B: RnnBackend> ConvGruCell<B> {
    /// A cell of `C_in` input and `C_h` hidden channels and `kernel x kernel` convolutions
    /// (`peephole` is always `None`: a ConvGRU has no cell state to look at).
    pub(crate) fn new(
        [c_in, c_h]: [usize; 2],
        kernel: usize,
        bias: bool,
        peephole: Option<[usize; 2]>,
        device: &B::Device,
    ) -> Self {
        debug_assert!(peephole.is_none(), "a ConvGRU has no peepholes");
        Self {
            conv_gates: gate_conv([c_in + c_h, 2 * c_h], kernel, bias, device),
            conv_can: gate_conv([c_in + c_h, c_h], kernel, bias, device),
        }
    }

    /// The gates' convolution: weight `[2*C_h, C_in + C_h, k, k]`, gates `r, z`.
    pub fn conv_gates(&self) -> &Conv2d<B> {
        &self.conv_gates
    }

    /// The candidate's convolution: weight `[C_h, C_in + C_h, k, k]`.
    pub fn conv_can(&self) -> &Conv2d<B> {
        &self.conv_can
    }

    pub(crate) fn named_convs_mut(&mut self) -> [(&'static str, &mut Conv2d<B>); 2] {
        [
            ("conv_gates", &mut self.conv_gates),
            ("conv_can", &mut self.conv_can),
        ]
    }
}

impl<B: RnnBackend> ConvCell<B> for ConvGruCell<B> {
    const NAME: &'static str = "ConvGRUCell";
    const LAYER_NAME: &'static str = "ConvGRU";
    const HAS_CELL: bool = false;

    fn channels_in(&self) -> usize {
        self.conv_can.channels()[0] - self.channels_hidden()
    }

    fn channels_hidden(&self) -> usize {
        self.conv_can.channels()[1]
    }

    fn step(&self, x: Tensor<B, 4>, state: ConvState<B, 4>) -> ConvState<B, 4> {
        let h = state.hidden;
        let gates = sigmoid(
            self.conv_gates
                .forward(Tensor::cat(vec![x.clone(), h.clone()], 1)),
        );
        let [r, z]: [Tensor<B, 4>; 2] = gates
            .chunk(2, 1)
            .try_into()
            .expect("2 * C_h channels split in 2");
        let n = tanh(
            self.conv_can
                .forward(Tensor::cat(vec![x, r * h.clone()], 1)),
        );
        ConvState {
            hidden: h.clone() + z * (n - h),
            cell: None,
        }
    }

    fn run(
        &self,
        inputs: &[Tensor<B, 4>],
        state: Option<ConvState<B, 4>>,
        masks: Option<&[Tensor<B, 4>]>,
        reverse: bool,
    ) -> (Vec<Tensor<B, 4>>, ConvState<B, 4>) {
        let zero = state.is_none();
        let state = state.unwrap_or_else(|| zero_state(self, &inputs[0]));
        let c_in = self.channels_in();
        let (conv_gates, conv_can) = (
            SplitConv::new(&self.conv_gates, c_in),
            SplitConv::new(&self.conv_can, c_in),
        );
        unroll(inputs.len(), state, masks, reverse, |t, state, first| {
            let h = state.hidden;
            // The hidden parts of a zero state are zero.
            let live = !(zero && first);
            let x = &inputs[t];
            let gates = conv_gates.both(x.clone(), live.then(|| h.clone()));
            let [r, z]: [Tensor<B, 4>; 2] = sigmoid(gates)
                .chunk(2, 1)
                .try_into()
                .expect("2 * C_h channels split in 2");
            let n = tanh(conv_can.both(x.clone(), live.then(|| r * h.clone())));
            ConvState {
                hidden: h.clone() + z * (n - h),
                cell: None,
            }
        })
    }
}
