//! The `burn::nn` side of a conversion: one gate's parameters, PyTorch's fused layout, and the
//! [`BurnLayer`] / [`BurnBiLayer`] impls of Burn's six recurrent layers.

use burn::module::Param;
use burn::nn::activation::{Activation, Relu, Sigmoid, Tanh};
use burn::nn::{self as bnn, GateController, Linear};
use burn::tensor::{backend::Backend, Tensor};

use super::{activation_name, Ctx, InteropError};
use crate::cell::{Cell, GruCell, LstmCell, RnnCell};
use crate::math::Nonlinearity;

/// One gate of a `burn::nn` layer, as a conversion reads it.
pub(super) struct GateRef<'a, B: Backend> {
    /// The field name, e.g. `input_gate`.
    name: &'static str,
    gate: &'a GateController<B>,
    /// Whether to negate the gate's parameters (LSTM `input_forget`: `f = 1 - i = σ(-a_i)`).
    negate: bool,
}

impl<'a, B: Backend> GateRef<'a, B> {
    fn new(name: &'static str, gate: &'a GateController<B>) -> Self {
        Self {
            name,
            gate,
            negate: false,
        }
    }
}

/// A cell's parameters in PyTorch's fused layout.
pub(super) struct Fused<B: Backend> {
    /// `[G*H, H_in]`
    weight_ih: Param<Tensor<B, 2>>,
    /// `[G*H, H]`
    weight_hh: Param<Tensor<B, 2>>,
    /// `[G*H]`
    bias_ih: Option<Param<Tensor<B, 1>>>,
    /// `[G*H]`
    bias_hh: Option<Param<Tensor<B, 1>>>,
}

/// A new parameter with `tensor`'s values, detached from any autodiff graph.
pub(super) fn param<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Param<Tensor<B, D>> {
    Param::from_tensor(tensor.detach())
}

/// Stacks the gates' transposed weights and their biases into PyTorch's fused layout,
/// checking every shape against `[H_in, H]`, `[H, H]` and `[H]` (`H = d_hidden`, `H_in` from
/// the first gate).
pub(super) fn fuse<B: Backend>(
    gates: &[GateRef<'_, B>],
    d_hidden: usize,
    ctx: &Ctx,
) -> Result<Fused<B>, InteropError> {
    let first = gates[0].gate.input_transform.weight.val();
    let d_input = first.dims()[0];
    let device = first.device();
    let sign = |negate: bool, t: Tensor<B, 2>| if negate { t.neg() } else { t };
    let mut weights_ih = Vec::with_capacity(gates.len());
    let mut weights_hh = Vec::with_capacity(gates.len());
    let mut biases_ih = Vec::with_capacity(gates.len());
    let mut biases_hh = Vec::with_capacity(gates.len());
    for g in gates {
        let (input, hidden) = (&g.gate.input_transform, &g.gate.hidden_transform);
        let w_ih = input.weight.val();
        ctx.check_shape(
            &format!("{}.input_transform.weight", g.name),
            &[d_input, d_hidden],
            &w_ih.dims(),
        )?;
        let w_hh = hidden.weight.val();
        ctx.check_shape(
            &format!("{}.hidden_transform.weight", g.name),
            &[d_hidden, d_hidden],
            &w_hh.dims(),
        )?;
        weights_ih.push(sign(g.negate, w_ih).transpose());
        weights_hh.push(sign(g.negate, w_hh).transpose());
        for (linear, part, out) in [
            (input, "input_transform", &mut biases_ih),
            (hidden, "hidden_transform", &mut biases_hh),
        ] {
            let bias = match &linear.bias {
                None => None,
                Some(b) => {
                    let b = b.val();
                    ctx.check_shape(&format!("{}.{part}.bias", g.name), &[d_hidden], &b.dims())?;
                    Some(if g.negate { b.neg() } else { b })
                }
            };
            out.push(bias);
        }
    }
    let fuse_bias = |parts: Vec<Option<Tensor<B, 1>>>| {
        if parts.iter().all(Option::is_none) {
            return None;
        }
        let parts = parts
            .into_iter()
            .map(|b| b.unwrap_or_else(|| Tensor::zeros([d_hidden], &device)))
            .collect();
        Some(param(Tensor::cat(parts, 0)))
    };
    Ok(Fused {
        weight_ih: param(Tensor::cat(weights_ih, 0)),
        weight_hh: param(Tensor::cat(weights_hh, 0)),
        bias_ih: fuse_bias(biases_ih),
        bias_hh: fuse_bias(biases_hh),
    })
}

/// Splits a cell's fused parameters into one [`GateController`] per gate block, in the
/// blocks' order: the inverse of [`fuse`] (without negation).
pub(super) fn split<B: Backend, C: Cell<B>>(
    cell: &C,
    bias_ih: &Option<Param<Tensor<B, 1>>>,
    bias_hh: &Option<Param<Tensor<B, 1>>>,
) -> Vec<GateController<B>> {
    let h = cell.d_hidden();
    let fused = cell.fused().expect("a built-in cell runs fused");
    let (w_ih, w_hh) = (fused.weight_ih, fused.weight_hh);
    let linear = |w: &Tensor<B, 2>, b: &Option<Param<Tensor<B, 1>>>, k: usize| Linear {
        weight: param(w.clone().narrow(0, k * h, h).transpose()),
        bias: b.as_ref().map(|b| param(b.val().narrow(0, k * h, h))),
    };
    (0..fused.kind.gates())
        .map(|k| GateController {
            input_transform: linear(&w_ih, bias_ih, k),
            hidden_transform: linear(&w_hh, bias_hh, k),
        })
        .collect()
}

/// A single-direction `burn::nn` layer and the burn-rnn cell it maps to.
pub(super) trait BurnLayer<B: Backend>: Sized {
    /// The burn-rnn cell.
    type Cell: Cell<B>;
    /// `"burn::nn::Lstm"`
    const NAME: &'static str;
    /// `"[burn::nn::Lstm]"`
    const STACK_NAME: &'static str;
    /// `"burn_rnn::Lstm"`
    const OURS: &'static str;
    /// The path of the first gate's input weights, `[H_in, H]`.
    const FIRST_WEIGHT: &'static str;

    /// `(batch_first, reverse)` as the layer's `forward` applies them.
    fn flags(&self) -> (bool, bool);

    /// The cell, or why there is none.
    fn to_cell(&self, ctx: &Ctx) -> Result<Self::Cell, InteropError>;

    /// The layer with `cell`'s parameters.
    fn from_cell(cell: &Self::Cell, batch_first: bool, ctx: &Ctx) -> Result<Self, InteropError>;
}

/// A bidirectional `burn::nn` layer: two single-direction layers and the shared settings.
pub(super) trait BurnBiLayer<B: Backend>: Sized {
    /// The single-direction layer of each direction.
    type Uni: BurnLayer<B>;
    /// `"burn::nn::BiLstm"`
    const NAME: &'static str;
    /// `"[burn::nn::BiLstm]"`
    const STACK_NAME: &'static str;

    /// `(forward, reverse, d_hidden, batch_first)`
    fn parts(&self) -> (&Self::Uni, &Self::Uni, usize, bool);

    /// The layer from its two directions.
    fn from_parts(
        forward: Self::Uni,
        reverse: Self::Uni,
        d_hidden: usize,
        batch_first: bool,
    ) -> Self;
}

impl<B: Backend> BurnLayer<B> for bnn::Rnn<B> {
    type Cell = RnnCell<B>;
    const NAME: &'static str = "burn::nn::Rnn";
    const STACK_NAME: &'static str = "[burn::nn::Rnn]";
    const OURS: &'static str = "burn_rnn::Rnn";
    const FIRST_WEIGHT: &'static str = "gate.input_transform.weight";

    fn flags(&self) -> (bool, bool) {
        (self.batch_first, self.reverse)
    }

    fn to_cell(&self, ctx: &Ctx) -> Result<RnnCell<B>, InteropError> {
        ctx.no_clip(self.clip, "hidden state")?;
        let nonlinearity = match &self.hidden_activation {
            Activation::Tanh(_) => Nonlinearity::Tanh,
            Activation::Relu(_) => Nonlinearity::Relu,
            other => {
                return Err(ctx.unsupported(
                    "hidden_activation",
                    activation_name(other),
                    "Tanh or Relu: burn-rnn's RNN has only PyTorch's two nonlinearities",
                ))
            }
        };
        let p = fuse(&[GateRef::new("gate", &self.gate)], self.d_hidden, ctx)?;
        Ok(RnnCell {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            nonlinearity,
        })
    }

    fn from_cell(cell: &RnnCell<B>, batch_first: bool, _ctx: &Ctx) -> Result<Self, InteropError> {
        let [gate]: [GateController<B>; 1] = split(cell, &cell.bias_ih, &cell.bias_hh)
            .try_into()
            .expect("one gate block");
        let hidden_activation = match cell.nonlinearity {
            Nonlinearity::Tanh => Activation::Tanh(Tanh),
            Nonlinearity::Relu => Activation::Relu(Relu),
        };
        Ok(bnn::Rnn {
            gate,
            d_hidden: cell.d_hidden(),
            batch_first,
            reverse: false,
            clip: None,
            hidden_activation,
        })
    }
}

impl<B: Backend> BurnLayer<B> for bnn::Lstm<B> {
    type Cell = LstmCell<B>;
    const NAME: &'static str = "burn::nn::Lstm";
    const STACK_NAME: &'static str = "[burn::nn::Lstm]";
    const OURS: &'static str = "burn_rnn::Lstm";
    const FIRST_WEIGHT: &'static str = "input_gate.input_transform.weight";

    fn flags(&self) -> (bool, bool) {
        (self.batch_first, self.reverse)
    }

    fn to_cell(&self, ctx: &Ctx) -> Result<LstmCell<B>, InteropError> {
        ctx.no_clip(self.clip, "cell state")?;
        let why = "LSTM is PyTorch's, with σ gates and tanh candidate and output";
        ctx.activation("gate_activation", &self.gate_activation, true, why)?;
        ctx.activation("cell_activation", &self.cell_activation, false, why)?;
        ctx.activation("hidden_activation", &self.hidden_activation, false, why)?;
        let forget = if self.input_forget {
            // f = 1 - σ(a_i) = σ(-a_i): the input gate's parameters, negated.
            GateRef {
                negate: true,
                ..GateRef::new("input_gate", &self.input_gate)
            }
        } else {
            GateRef::new("forget_gate", &self.forget_gate)
        };
        let gates = [
            GateRef::new("input_gate", &self.input_gate),
            forget,
            GateRef::new("cell_gate", &self.cell_gate),
            GateRef::new("output_gate", &self.output_gate),
        ];
        let p = fuse(&gates, self.d_hidden, ctx)?;
        Ok(LstmCell {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
            weight_hr: None,
            weight_ch: None,
        })
    }

    fn from_cell(cell: &LstmCell<B>, batch_first: bool, ctx: &Ctx) -> Result<Self, InteropError> {
        if cell.weight_ch().is_some() {
            return Err(ctx.unsupported(
                "peephole",
                true,
                "false: burn::nn::Lstm has no peepholes",
            ));
        }
        if let Some(p) = cell.proj_size() {
            return Err(ctx.unsupported("proj_size", p, "0: burn::nn::Lstm has no projection"));
        }
        let [input_gate, forget_gate, cell_gate, output_gate]: [GateController<B>; 4] =
            split(cell, &cell.bias_ih, &cell.bias_hh)
                .try_into()
                .expect("four gate blocks");
        Ok(bnn::Lstm {
            input_gate,
            forget_gate,
            output_gate,
            cell_gate,
            d_hidden: cell.d_hidden(),
            batch_first,
            reverse: false,
            clip: None,
            input_forget: false,
            gate_activation: Activation::Sigmoid(Sigmoid),
            cell_activation: Activation::Tanh(Tanh),
            hidden_activation: Activation::Tanh(Tanh),
        })
    }
}

impl<B: Backend> BurnLayer<B> for bnn::Gru<B> {
    type Cell = GruCell<B>;
    const NAME: &'static str = "burn::nn::Gru";
    const STACK_NAME: &'static str = "[burn::nn::Gru]";
    const OURS: &'static str = "burn_rnn::Gru";
    const FIRST_WEIGHT: &'static str = "reset_gate.input_transform.weight";

    fn flags(&self) -> (bool, bool) {
        // burn::nn::Gru::forward always takes [batch, seq, input] and runs forwards.
        (true, false)
    }

    fn to_cell(&self, ctx: &Ctx) -> Result<GruCell<B>, InteropError> {
        if !self.reset_after {
            return Err(ctx.unsupported(
                "reset_after",
                false,
                "true: with reset_after = false Burn computes \
                 n = tanh(W_in x + b_in + W_hn (r * h) + b_hn), the reset gate applied before \
                 the hidden product, which burn-rnn's (PyTorch's) \
                 n = tanh(W_in x + b_in + r * (W_hn h + b_hn)) cannot express",
            ));
        }
        ctx.no_clip(self.clip, "hidden state")?;
        let why = "GRU is PyTorch's, with σ gates and a tanh candidate";
        ctx.activation("gate_activation", &self.gate_activation, true, why)?;
        ctx.activation("hidden_activation", &self.hidden_activation, false, why)?;
        let gates = [
            GateRef::new("reset_gate", &self.reset_gate),
            GateRef::new("update_gate", &self.update_gate),
            GateRef::new("new_gate", &self.new_gate),
        ];
        let p = fuse(&gates, self.d_hidden, ctx)?;
        Ok(GruCell {
            weight_ih: p.weight_ih,
            weight_hh: p.weight_hh,
            bias_ih: p.bias_ih,
            bias_hh: p.bias_hh,
        })
    }

    fn from_cell(cell: &GruCell<B>, batch_first: bool, ctx: &Ctx) -> Result<Self, InteropError> {
        if !batch_first {
            return Err(ctx.unsupported(
                "batch_first",
                false,
                "true: burn::nn::Gru always takes [batch, seq, input]; set `batch_first = true` \
                 on the layer (and transpose its input) to convert it",
            ));
        }
        let [reset_gate, update_gate, new_gate]: [GateController<B>; 3] =
            split(cell, &cell.bias_ih, &cell.bias_hh)
                .try_into()
                .expect("three gate blocks");
        Ok(bnn::Gru {
            update_gate,
            reset_gate,
            new_gate,
            d_hidden: cell.d_hidden(),
            reset_after: true,
            gate_activation: Activation::Sigmoid(Sigmoid),
            hidden_activation: Activation::Tanh(Tanh),
            clip: None,
        })
    }
}

/// The three `BurnBiLayer` impls: the struct layouts are the same.
macro_rules! burn_bi_layer {
    ($bi:ident, $uni:ident) => {
        impl<B: Backend> BurnBiLayer<B> for bnn::$bi<B> {
            type Uni = bnn::$uni<B>;
            const NAME: &'static str = concat!("burn::nn::", stringify!($bi));
            const STACK_NAME: &'static str = concat!("[burn::nn::", stringify!($bi), "]");

            fn parts(&self) -> (&bnn::$uni<B>, &bnn::$uni<B>, usize, bool) {
                (
                    &self.forward,
                    &self.reverse,
                    self.d_hidden,
                    self.batch_first,
                )
            }

            fn from_parts(
                forward: bnn::$uni<B>,
                reverse: bnn::$uni<B>,
                d_hidden: usize,
                batch_first: bool,
            ) -> Self {
                bnn::$bi {
                    forward,
                    reverse,
                    d_hidden,
                    batch_first,
                }
            }
        }
    };
}

burn_bi_layer!(BiRnn, Rnn);
burn_bi_layer!(BiLstm, Lstm);
burn_bi_layer!(BiGru, Gru);
