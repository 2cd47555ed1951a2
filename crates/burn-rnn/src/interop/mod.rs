//! `burn::nn` interop: convert Burn's own recurrent layers to this crate's and back.
//!
//! Burn 0.21's [`burn::nn::Rnn`], [`burn::nn::Lstm`] and [`burn::nn::Gru`] (and their
//! bidirectional twins [`burn::nn::BiRnn`], [`burn::nn::BiLstm`], [`burn::nn::BiGru`]) keep one
//! [`GateController`](burn::nn::GateController) per gate: two [`Linear`](burn::nn::Linear)s,
//! `input_transform` (weight `[H_in, H]`) and `hidden_transform` (weight `[H, H]`), each with an
//! optional bias `[H]`. This crate keeps
//! PyTorch's fused layout: `weight_ih [G*H, H_in]`, `weight_hh [G*H, H]`, `bias_ih [G*H]`,
//! `bias_hh [G*H]`. Gate `k` (in PyTorch's order) of a converted cell is
//!
//! ```text
//! weight_ih[k*H..(k+1)*H, :] = gate_k.input_transform.weight^T     [H_in, H] -> [H, H_in]
//! weight_hh[k*H..(k+1)*H, :] = gate_k.hidden_transform.weight^T    [H, H]    -> [H, H]
//! bias_ih[k*H..(k+1)*H]      = gate_k.input_transform.bias         [H]
//! bias_hh[k*H..(k+1)*H]      = gate_k.hidden_transform.bias        [H]
//! ```
//!
//! with the gates taken as:
//!
//! | layer | burn-rnn gate order | `burn::nn` fields |
//! | --- | --- | --- |
//! | RNN | (one block) | `gate` |
//! | LSTM | `i, f, g, o` | `input_gate`, `forget_gate`, `cell_gate`, `output_gate` |
//! | GRU | `r, z, n` | `reset_gate`, `update_gate`, `new_gate` |
//!
//! No value is changed on the way (a transpose and a concatenation), so a round trip gives
//! back the same numbers, and both layers compute the same function: `burn::nn`'s default
//! LSTM and its GRU with `reset_after = true` (the default) are PyTorch's equations,
//! `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))` included.
//!
//! # The conversions
//! | `burn::nn` | burn-rnn | from | to |
//! | --- | --- | --- | --- |
//! | `Rnn`, `Lstm`, `Gru` | one layer, `D = 1` | [`Lstm::from_burn`] | [`Lstm::to_burn`] |
//! | `BiRnn`, `BiLstm`, `BiGru` | one layer, `D = 2` | [`Lstm::from_burn_bidirectional`] | [`Lstm::to_burn_bidirectional`] |
//! | `[Lstm]`, one layer feeding the next | `num_layers = len`, `D = 1` | [`Lstm::from_burn_stack`] | [`Lstm::to_burn_stack`] |
//! | `[BiLstm]`, one layer feeding the next | `num_layers = len`, `D = 2` | [`Lstm::from_burn_bidirectional_stack`] | [`Lstm::to_burn_bidirectional_stack`] |
//!
//! (the same methods exist on [`Rnn`] and [`Gru`]), and `TryFrom<&burn::nn::Lstm<B>>`,
//! `TryFrom<&burn::nn::BiLstm<B>>`, etc. for the first two rows. A `burn::nn` layer is always a
//! single layer, so a burn-rnn stack of `num_layers > 1` goes to a `Vec` of them, applied one
//! after the other (layer `k + 1` takes layer `k`'s output, `[N, L, D*H]`).
//!
//! Layouts and states agree: `batch_first` is carried over; a bidirectional output is
//! `[forward features, reverse features]` on the last axis and its final states are stacked
//! `[forward, reverse]` on axis 0 in both crates, which is this crate's
//! `index = layer * D + direction` for one layer. A one-layer unidirectional state `[1, N, H]`
//! here is `[N, H]` in `burn::nn`; [`crate::LstmState::from_burn`] and
//! [`crate::LstmState::into_burn`] convert LSTM states (`burn::nn::LstmState::new` takes the cell
//! state first).
//!
//! # What does not map
//! A conversion returns an [`InteropError`] naming the setting, what it was and why, rather
//! than a layer that computes something else:
//!
//! - `clip: Some(_)` (any `burn::nn` layer): this crate does not clip states.
//! - `reverse: true` (`burn::nn::Rnn`, `burn::nn::Lstm`): a layer that runs only backwards
//!   has no counterpart here (a bidirectional layer runs both ways).
//! - Activations other than Burn's defaults: LSTM `gate_activation` must be `Sigmoid`,
//!   `cell_activation` and `hidden_activation` `Tanh`; GRU `gate_activation` `Sigmoid` and
//!   `hidden_activation` `Tanh`; RNN `hidden_activation` `Tanh` or `Relu` (PyTorch's
//!   `nonlinearity`, [`Nonlinearity`](crate::math::Nonlinearity)).
//! - GRU `reset_after: false`: Burn then computes `n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)`,
//!   the reset gate applied *before* the hidden product, which PyTorch's form cannot express.
//! - Inside a `BiRnn`/`BiLstm`, the `forward` layer must have `batch_first: true` and
//!   `reverse: false`, as `BiRnnConfig`/`BiLstmConfig` build it (Burn calls its `forward` on the
//!   batch-first input). The `reverse` layer's own flags are ignored, by Burn and here.
//! - Going to `burn::nn`: more than one layer (use the `_stack` methods), the wrong number of
//!   directions (use the `_bidirectional` methods), and a [`Gru`] with `batch_first: false` to
//!   a `burn::nn::Gru`, which always takes `[N, L, H_in]` (set `gru.batch_first = true` and
//!   transpose the input yourself; `BiGru` has the flag and takes either).
//!
//! These convert, with a note:
//! - LSTM `input_forget: true` (`f = 1 - i`): since `1 - σ(a) = σ(-a)`, the forget gate's
//!   block is the input gate's negated (weights and biases). `to_burn` always gives
//!   `input_forget: false`, with that negated block as an explicit `forget_gate`.
//! - Biases: a gate whose `Linear` has no bias contributes zeros; if no gate's `input_transform`
//!   (or `hidden_transform`) has one, `bias_ih` (or `bias_hh`) is `None`. Back to `burn::nn`,
//!   `None` gives bias-free `Linear`s and `Some` biased ones, so a layer built by a
//!   `burn::nn` config (all biased or none) comes back exactly.
//! - A `burn::nn::Gru` converts with `batch_first: true`. Its `forward` returns the output
//!   alone; its final state is the output's last step, `output[:, L-1, :]`.
//! - Dropout: `from_burn_*` gives dropout 0 (`burn::nn` layers have none); `to_burn_stack` and
//!   `to_burn_bidirectional_stack` drop this crate's inter-layer dropout, which only acts
//!   while training (put a `burn::nn::Dropout` between the layers to keep it). So do the
//!   train-time [`Regularization`](crate::Regularization)s DropConnect and variational dropout;
//!   zoneout, which changes inference too, is refused.
//! - The new layers' parameters are new (fresh [`burn::module::ParamId`]s, requiring
//!   gradients), detached from the source's autodiff graph; the burn-rnn layer runs on the
//!   default [`crate::ExecutionPath::Fused`].
//!
//! # Records
//! There is no record-level conversion: a Burn 0.21 record holds the tensors but not the
//! settings (`clip`, `reverse`, `reset_after`, `input_forget`, `batch_first` and the
//! activations record as empty), so a `burn::nn::LstmRecord` alone cannot say which function it
//! computes. Go through the module: load the record into a `burn::nn` layer built with its
//! config, convert, and take the record of the result:
//!
//! ```
//! use burn::module::Module;
//! use burn_rnn::{backend::DefaultBackend as B, Lstm};
//!
//! let device = Default::default();
//! # let record = burn::nn::LstmConfig::new(8, 16, true).init::<B>(&device).into_record();
//! // `record`: a burn::nn::LstmRecord, e.g. from a recorder
//! let theirs = burn::nn::LstmConfig::new(8, 16, true).init::<B>(&device).load_record(record);
//! let ours = Lstm::from_burn(&theirs)?;
//! let our_record = ours.into_record(); // burn-rnn's record, for this crate's recorders
//! # let _ = our_record;
//! # use burn::tensor::backend::Backend;
//! # B::sync(&device).unwrap(); // see the note on exiting in `backend`
//! # Ok::<(), burn_rnn::interop::InteropError>(())
//! ```
//!
//! # Example
//! ```
//! use burn::tensor::{Distribution, Tensor};
//! use burn_rnn::{backend::DefaultBackend as B, Lstm, LstmConfig};
//!
//! let device = Default::default();
//! let theirs = burn::nn::BiLstmConfig::new(8, 16, true).init::<B>(&device);
//! let ours = Lstm::from_burn_bidirectional(&theirs)?;
//! let x = Tensor::<B, 3>::random([4, 10, 8], Distribution::Default, &device); // [N, L, H_in]
//! let (expected, _) = theirs.forward(x.clone(), None);
//! let out = ours.forward(x, None);
//! assert_eq!(out.output.dims(), expected.dims()); // [N, L, 2*H], equal within rounding
//!
//! // and back; a two-layer stack goes to two burn::nn layers
//! let back: burn::nn::BiLstm<B> = ours.to_burn_bidirectional()?;
//! let stack = LstmConfig::new(8, 16).with_num_layers(2).init::<B>(&device);
//! assert!(stack.to_burn().is_err()); // burn::nn::Lstm is one layer
//! let layers: Vec<burn::nn::Lstm<B>> = stack.to_burn_stack()?;
//! assert_eq!(layers.len(), 2);
//! # let _ = back;
//! # use burn::tensor::backend::Backend;
//! # B::sync(&device).unwrap(); // see the note on exiting in `backend`
//! # Ok::<(), burn_rnn::interop::InteropError>(())
//! ```

use std::fmt;

use burn::nn as bnn;
use burn::nn::activation::Activation;
use burn::tensor::backend::Backend;

use crate::cell::{GruCell, LstmCell, RnnCell};
use crate::layer::{Gru, Lstm, Recurrent, Rnn};

/// Why a layer could not be converted between `burn::nn` and burn-rnn. Every variant names
/// both layer types and the setting or parameter concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InteropError {
    /// The source layer has a setting the target cannot represent (see the [module
    /// docs](self) for the list).
    Unsupported {
        /// The source layer type, e.g. `"burn::nn::Lstm"` or `"[burn::nn::BiGru]"` (a stack).
        from: &'static str,
        /// The target layer type, e.g. `"burn_rnn::Lstm"`.
        to: &'static str,
        /// The setting, as a path into the source, e.g. `"clip"`, `"layers[1].reverse.clip"`
        /// or `"num_layers"`.
        setting: String,
        /// Its value, e.g. `"Some(3.0)"`.
        found: String,
        /// What the conversion needs, and why.
        expected: String,
    },
    /// The source's parameters do not fit together (a hand-built or mis-loaded layer, or a
    /// stack whose layers do not chain).
    Shape {
        /// The source layer type.
        from: &'static str,
        /// The target layer type.
        to: &'static str,
        /// The parameter, as a path into the source, e.g.
        /// `"layers[1].input_gate.input_transform.weight"`.
        param: String,
        /// The shape it must have.
        expected: Vec<usize>,
        /// The shape it has.
        got: Vec<usize>,
    },
    /// A `from_burn_*stack` call with no layers.
    EmptyStack {
        /// The source layer type.
        from: &'static str,
        /// The target layer type.
        to: &'static str,
    },
}

impl fmt::Display for InteropError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported {
                from,
                to,
                setting,
                found,
                expected,
            } => write!(
                f,
                "cannot convert {from} to {to}: `{setting}` is {found}, expected {expected}"
            ),
            Self::Shape {
                from,
                to,
                param,
                expected,
                got,
            } => write!(
                f,
                "cannot convert {from} to {to}: `{param}`: expected shape {expected:?}, got {got:?}"
            ),
            Self::EmptyStack { from, to } => write!(
                f,
                "cannot convert {from} to {to}: expected at least one layer, got none"
            ),
        }
    }
}

impl std::error::Error for InteropError {}

/// Where in a conversion we are: the two type names and the path prefix of the source.
struct Ctx {
    from: &'static str,
    to: &'static str,
    prefix: String,
}

impl Ctx {
    fn new(from: &'static str, to: &'static str) -> Self {
        Self {
            from,
            to,
            prefix: String::new(),
        }
    }

    /// The context of layer `i` of a stack (`layers[i].`), or the same context for a single
    /// layer.
    fn layer(&self, stack: bool, i: usize) -> Self {
        if stack {
            self.at(&format!("layers[{i}]"))
        } else {
            Self {
                from: self.from,
                to: self.to,
                prefix: self.prefix.clone(),
            }
        }
    }

    /// The context of a part of the source, e.g. `forward`.
    fn at(&self, part: &str) -> Self {
        Self {
            from: self.from,
            to: self.to,
            prefix: format!("{}{part}.", self.prefix),
        }
    }

    fn unsupported(
        &self,
        setting: &str,
        found: impl fmt::Display,
        expected: impl Into<String>,
    ) -> InteropError {
        InteropError::Unsupported {
            from: self.from,
            to: self.to,
            setting: format!("{}{setting}", self.prefix),
            found: found.to_string(),
            expected: expected.into(),
        }
    }

    fn check_shape(
        &self,
        param: &str,
        expected: &[usize],
        got: &[usize],
    ) -> Result<(), InteropError> {
        if expected == got {
            return Ok(());
        }
        Err(InteropError::Shape {
            from: self.from,
            to: self.to,
            param: format!("{}{param}", self.prefix),
            expected: expected.to_vec(),
            got: got.to_vec(),
        })
    }

    fn no_clip(&self, clip: Option<f64>, what: &str) -> Result<(), InteropError> {
        match clip {
            None => Ok(()),
            Some(c) => Err(self.unsupported(
                "clip",
                format!("Some({c:?})"),
                format!("None: burn-rnn's layers do not clip the {what}"),
            )),
        }
    }

    fn activation<B: Backend>(
        &self,
        setting: &str,
        act: &Activation<B>,
        want_sigmoid: bool,
        why: &str,
    ) -> Result<(), InteropError> {
        let ok = if want_sigmoid {
            matches!(act, Activation::Sigmoid(_))
        } else {
            matches!(act, Activation::Tanh(_))
        };
        if ok {
            return Ok(());
        }
        let want = if want_sigmoid { "Sigmoid" } else { "Tanh" };
        Err(self.unsupported(
            setting,
            activation_name(act),
            format!("{want}: burn-rnn's {why}"),
        ))
    }
}

/// The variant name of a `burn::nn` activation (`"Gelu"`, `"PRelu"`, ...).
fn activation_name<B: Backend>(act: &Activation<B>) -> String {
    let debug = format!("{act:?}");
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_string()
}

mod convert;
mod layers;

use convert::{from_bi, from_uni, single, to_bi, to_uni};

/// The public conversions of one layer kind: inherent methods of burn-rnn's layer and
/// `TryFrom` for the two single-layer `burn::nn` types.
macro_rules! interop_methods {
    (
        ours: $ours:ident,
        cell: $cell:ident,
        uni: $uni:ident,
        bi: $bi:ident,
        gates: $g:literal,
        order: $order:literal,
        errors: $errors:literal $(,)?
    ) => {
        /// Conversions from and to `burn::nn`'s layers; see [`crate::interop`] for the
        /// mapping and what does not map.
        impl<B: Backend> Recurrent<B, $cell<B>> {
            #[doc = concat!(
                "A one-layer, unidirectional [`", stringify!($ours), "`] with the weights of \
                 `layer`, a [`burn::nn::", stringify!($uni), "`], computing the same function; \
                 `batch_first` is the layer's.\n\n",
                "# Shapes\n",
                "- parameters: the gates' `input_transform.weight` `[H_in, H]`, transposed and \
                 stacked ", $order, ", give `weight_ih` `[", $g, "*H, H_in]`; their \
                 `hidden_transform.weight` `[H, H]` give `weight_hh` `[", $g, "*H, H]`; their \
                 biases `[H]` give `bias_ih` and `bias_hh` `[", $g, "*H]`\n",
                "- input and output as `layer`'s: `[N, L, H_in]` -> `[N, L, H]` (or \
                 `[L, N, *]`); the states are `[1, N, H]` where `burn::nn`'s are `[N, H]`\n\n",
                "# Errors\n",
                "[`InteropError::Unsupported`] if `layer` has ", $errors, "; \
                 [`InteropError::Shape`] if its parameters do not fit together."
            )]
            pub fn from_burn(layer: &bnn::$uni<B>) -> Result<Self, InteropError> {
                from_uni(core::slice::from_ref(layer), false)
            }

            #[doc = concat!(
                "A one-layer, bidirectional [`", stringify!($ours), "`] with the weights of \
                 `layer`, a [`burn::nn::", stringify!($bi), "`]: cell 0 from `layer.forward`, \
                 cell 1 from `layer.reverse`; `batch_first` is `layer`'s.\n\n",
                "# Shapes\n",
                "- parameters per direction as in [`", stringify!($ours), "::from_burn`]\n",
                "- input `[N, L, H_in]` (or `[L, N, H_in]`), output `[N, L, 2*H]`, forward \
                 features first, and states `[2, N, H]`, `[forward, reverse]`: the same as \
                 `burn::nn`'s\n\n",
                "# Errors\n",
                "As [`", stringify!($ours), "::from_burn`] for either direction, and \
                 [`InteropError::Unsupported`] if `layer.forward` has `batch_first: false` or \
                 `reverse: true` (Burn would run it on the wrong layout or backwards)."
            )]
            pub fn from_burn_bidirectional(layer: &bnn::$bi<B>) -> Result<Self, InteropError> {
                from_bi(core::slice::from_ref(layer), false)
            }

            #[doc = concat!(
                "A unidirectional [`", stringify!($ours), "`] of `layers.len()` layers, layer \
                 `k` from `layers[k]`: the same function as running the [`burn::nn::",
                stringify!($uni), "`]s one after the other, each on the previous one's \
                 output. Dropout is 0.\n\n",
                "# Shapes\n",
                "- `layers[0]` takes `H_in` features, every other `H` (the one below's \
                 output); all have hidden size `H` and the same `batch_first`\n",
                "- input `[N, L, H_in]` (or `[L, N, H_in]`), output `[N, L, H]`, states \
                 `[len, N, H]`, index `k` for `layers[k]`\n\n",
                "# Errors\n",
                "As [`", stringify!($ours), "::from_burn`] for any layer; \
                 [`InteropError::Shape`] if the layers do not chain; \
                 [`InteropError::Unsupported`] if their `batch_first` differ; \
                 [`InteropError::EmptyStack`] if `layers` is empty."
            )]
            pub fn from_burn_stack(layers: &[bnn::$uni<B>]) -> Result<Self, InteropError> {
                from_uni(layers, true)
            }

            #[doc = concat!(
                "A bidirectional [`", stringify!($ours), "`] of `layers.len()` layers, layer \
                 `k` from `layers[k]`: the same function as running the [`burn::nn::",
                stringify!($bi), "`]s one after the other, each on the previous one's \
                 output. Dropout is 0.\n\n",
                "# Shapes\n",
                "- `layers[0]` takes `H_in` features, every other `2*H`; all have hidden \
                 size `H` and the same `batch_first`\n",
                "- input `[N, L, H_in]` (or `[L, N, H_in]`), output `[N, L, 2*H]`, states \
                 `[2*len, N, H]`, index `2*k + direction` for `layers[k]`\n\n",
                "# Errors\n",
                "As [`", stringify!($ours), "::from_burn_bidirectional`] for any layer, and \
                 as [`", stringify!($ours), "::from_burn_stack`]."
            )]
            pub fn from_burn_bidirectional_stack(
                layers: &[bnn::$bi<B>],
            ) -> Result<Self, InteropError> {
                from_bi(layers, true)
            }

            #[doc = concat!(
                "The [`burn::nn::", stringify!($uni), "`] with this layer's weights, computing \
                 the same function; `batch_first` is this layer's.\n\n",
                "# Shapes\n",
                "- parameters: the inverse of [`", stringify!($ours), "::from_burn`]: gate \
                 `k`'s `input_transform.weight` `[H_in, H]` is rows `k*H..(k+1)*H` of \
                 `weight_ih` `[", $g, "*H, H_in]`, transposed, and the same for `weight_hh` \
                 and the biases; a `None` bias gives bias-free `Linear`s\n",
                "- states are `[N, H]` where this layer's are `[1, N, H]`\n\n",
                "# Errors\n",
                "[`InteropError::Unsupported`] if this layer is bidirectional (see [`",
                stringify!($ours), "::to_burn_bidirectional`]) or has more than one layer \
                 (see [`", stringify!($ours), "::to_burn_stack`])",
                interop_methods!(@to_errors $uni), "."
            )]
            pub fn to_burn(&self) -> Result<bnn::$uni<B>, InteropError> {
                to_uni(self, false).map(single)
            }

            #[doc = concat!(
                "The [`burn::nn::", stringify!($bi), "`] with this bidirectional layer's \
                 weights (`forward` from cell 0, `reverse` from cell 1), computing the same \
                 function; `batch_first` is this layer's.\n\n",
                "# Shapes\n",
                "- parameters per direction as in [`", stringify!($ours), "::to_burn`]\n",
                "- input `[N, L, H_in]` (or `[L, N, H_in]`), output `[N, L, 2*H]`, states \
                 `[2, N, H]`, as this layer's\n\n",
                "# Errors\n",
                "[`InteropError::Unsupported`] if this layer is unidirectional or has more \
                 than one layer (see [`", stringify!($ours), "::to_burn_bidirectional_stack`])."
            )]
            pub fn to_burn_bidirectional(&self) -> Result<bnn::$bi<B>, InteropError> {
                to_bi(self, false).map(single)
            }

            #[doc = concat!(
                "One [`burn::nn::", stringify!($uni), "`] per layer of this unidirectional \
                 stack, to be run one after the other, each on the previous one's output. \
                 The dropout between layers is dropped (it only acts while training).\n\n",
                "# Shapes\n",
                "- element `k` takes `H_in` features (`k = 0`) or `H`, and returns \
                 `[N, L, H]` (or `[L, N, H]`); its states `[N, H]` are index `k` of this \
                 layer's `[num_layers, N, H]`\n\n",
                "# Errors\n",
                "[`InteropError::Unsupported`] if this layer is bidirectional (see [`",
                stringify!($ours), "::to_burn_bidirectional_stack`])",
                interop_methods!(@to_errors $uni), "."
            )]
            pub fn to_burn_stack(&self) -> Result<Vec<bnn::$uni<B>>, InteropError> {
                to_uni(self, true)
            }

            #[doc = concat!(
                "One [`burn::nn::", stringify!($bi), "`] per layer of this bidirectional \
                 stack, to be run one after the other, each on the previous one's output. \
                 The dropout between layers is dropped (it only acts while training).\n\n",
                "# Shapes\n",
                "- element `k` takes `H_in` features (`k = 0`) or `2*H`, and returns \
                 `[N, L, 2*H]` (or `[L, N, 2*H]`); its states `[2, N, H]` are indices \
                 `2*k..2*k+2` of this layer's `[2*num_layers, N, H]`\n\n",
                "# Errors\n",
                "[`InteropError::Unsupported`] if this layer is unidirectional."
            )]
            pub fn to_burn_bidirectional_stack(&self) -> Result<Vec<bnn::$bi<B>>, InteropError> {
                to_bi(self, true)
            }
        }

        #[doc = concat!("As [`", stringify!($ours), "::from_burn`].")]
        impl<B: Backend> TryFrom<&bnn::$uni<B>> for $ours<B> {
            type Error = InteropError;

            fn try_from(layer: &bnn::$uni<B>) -> Result<Self, InteropError> {
                Self::from_burn(layer)
            }
        }

        #[doc = concat!("As [`", stringify!($ours), "::from_burn_bidirectional`].")]
        impl<B: Backend> TryFrom<&bnn::$bi<B>> for $ours<B> {
            type Error = InteropError;

            fn try_from(layer: &bnn::$bi<B>) -> Result<Self, InteropError> {
                Self::from_burn_bidirectional(layer)
            }
        }
    };
    (@to_errors Gru) => {
        ", or has `batch_first: false` (a `burn::nn::Gru` always takes `[N, L, H_in]`)"
    };
    (@to_errors $other:ident) => {
        ""
    };
}

interop_methods! {
    ours: Rnn,
    cell: RnnCell,
    uni: Rnn,
    bi: BiRnn,
    gates: "1",
    order: "(one block, from `gate`)",
    errors: "`clip: Some(_)`, `reverse: true` or a `hidden_activation` other than `Tanh` \
             and `Relu`",
}

interop_methods! {
    ours: Lstm,
    cell: LstmCell,
    uni: Lstm,
    bi: BiLstm,
    gates: "4",
    order: "`i, f, g, o` from `input_gate`, `forget_gate`, `cell_gate`, `output_gate` \
            (with `input_forget: true`, `f` is `input_gate` negated, as `1 - σ(a) = σ(-a)`)",
    errors: "`clip: Some(_)`, `reverse: true`, or activations other than `Sigmoid` gates and \
             `Tanh` cell and hidden activations",
}

interop_methods! {
    ours: Gru,
    cell: GruCell,
    uni: Gru,
    bi: BiGru,
    gates: "3",
    order: "`r, z, n` from `reset_gate`, `update_gate`, `new_gate`",
    errors: "`reset_after: false`, `clip: Some(_)`, or activations other than `Sigmoid` \
             gates and a `Tanh` candidate",
}
