//! # burn-rnn
//!
//! Recurrent neural networks for [Burn](https://burn.dev): vanilla RNN, LSTM and GRU **cells**
//! (one time step) and **layers** (whole sequences, stacked, bidirectional, variable length),
//! generic over `B: Backend`, with PyTorch's parameter layout so that `state_dict`s load
//! untouched and outputs match.
//!
//! ## Contents
//! - [`RnnCell`], [`LstmCell`], [`GruCell`]: one step, `forward(x_t, state) -> state`.
//! - [`Rnn`], [`Lstm`], [`Gru`]: whole sequences (the same generic [`Recurrent`] layer over the
//!   three cells), returning a [`RecurrentOutput`]; built by [`RnnConfig`], [`LstmConfig`],
//!   [`GruConfig`] (`init`, or `try_init` for a [`ConfigError`] instead of a panic).
//! - [`AnyRecurrent`]: the layer of a cell kind chosen at run time ([`CellKind`],
//!   [`AnyRecurrentConfig`]), with one forward and one state type ([`AnyState`]).
//! - [`Regularization`]: zoneout, DropConnect on `W_hh` and variational dropout, set on any
//!   layer config.
//! - [`Cell`]: what a cell of your own implements (its state and one step) to run in
//!   [`Recurrent`] ([`Recurrent::from_cells`]); the trait's docs build an IndRNN cell.
//! - [`math`]: the per-step math of the three cells, the one home of each formula.
//! - [`conv`]: [`conv::Conv2d`], `burn::nn`'s 2-D convolution (same config and record) on the
//!   crate's convolution kernels, the building block of convolutional recurrent networks.
//! - [`convrnn`]: [`convrnn::ConvLstm`] and [`convrnn::ConvGru`], recurrent layers whose gates
//!   are convolutions over feature maps `[N, L, C, H, W]`, with the PyTorch ports' parameter
//!   names.
//! - [`import`]: load and save PyTorch weights (`.safetensors`, `.pt`/`.pth`) by PyTorch's
//!   parameter names ([`PytorchParams`]).
//! - [`interop`]: convert `burn::nn`'s `Rnn`, `Lstm`, `Gru` and their bidirectional twins to
//!   these layers and back ([`Lstm::from_burn`], [`Lstm::to_burn`], ...), with a typed
//!   [`interop::InteropError`] for the settings that have no counterpart.
//! - [`kernels`]: the whole-sequence backend primitive ([`RnnBackend`]) the layers run on, with
//!   fused CPU kernels for `NdArray` and a plain-ops reference for every other backend.
//! - [`train`]: training helpers, such as [`train::TbpttCarry`] for truncated BPTT.
//! - [`backend`]: the backend type aliases chosen by the Cargo features.
//!
//! The attention encoder-decoder built on these layers is the crate
//! [burn-seq2seq](https://docs.rs/burn-seq2seq).
//!
//! ## Shape legend
//! | letter | meaning |
//! | --- | --- |
//! | `N` | batch size |
//! | `L` | sequence length |
//! | `D` | number of directions: 2 if bidirectional, else 1 |
//! | `H_in` | input features |
//! | `H` | hidden size |
//! | `G` | gates: 1 (RNN), 4 (LSTM), 3 (GRU) |
//!
//! A layer takes `[N, L, H_in]` (or `[L, N, H_in]` with `batch_first = false`) and returns
//! `[N, L, D*H]`, plus final states of shape `[num_layers*D, N, H]` ordered as PyTorch orders
//! them: index `layer * D + direction`.
//!
//! ## Parameters and gate order
//! Every cell stores, as PyTorch does, `weight_ih: [G*H, H_in]`, `weight_hh: [G*H, H]`,
//! `bias_ih: [G*H]`, `bias_hh: [G*H]` (the biases are optional). Gate blocks are stacked in
//! PyTorch's order: LSTM `i, f, g, o`; GRU `r, z, n`, with the GRU's reset gate applied to
//! `W_hn h + b_hn`. Default init is U(-1/sqrt(H), 1/sqrt(H)) for every parameter.
//!
//! ## Fast path
//! A layer runs each layer and direction as two backend operations: the input projection of
//! every time step (one matrix product) and the recurrence over the whole sequence. On
//! `NdArray<f32>` both are hand-written kernels (the `rnn-cpu` crate: packed register tiles for
//! the hidden product on AVX-512, AVX2 or NEON, picked at run time, the gate math fused per tile, threads over hidden units, Haste-style saved
//! activations and a fused backward); on CubeCL backends (wgpu, CUDA, with or without Burn's
//! fusion) each step is the hidden matmul plus ONE fused CubeCL kernel for the gate math and
//! state update, forward and backward; `Autodiff<B>` wraps each in one autodiff node. This is the
//! default ([`ExecutionPath::Fused`]); `layer.with_path(ExecutionPath::Reference)` runs the
//! plain-ops unroll instead. The forward methods therefore ask `B: RnnBackend`, which every
//! backend the crate builds with implements (see [`kernels`]). Threads:
//! [`kernels::set_num_threads`] or `BURN_RNN_NUM_THREADS` (default: all cores); instruction
//! set: [`kernels::set_isa`] or `BURN_RNN_ISA` (default: the best the CPU has).
//!
//! ## Feature flags
//! | feature | default | what it does |
//! | --- | --- | --- |
//! | `ndarray` | yes | [`backend::DefaultBackend`] is `NdArray<f32>` (CPU) |
//! | `wgpu` | no | [`backend::DefaultBackend`] is wgpu's `CubeBackend` (GPU; wins over `ndarray`) |
//! | `cuda` | no | [`backend::DefaultBackend`] is CUDA's `CubeBackend` (NVIDIA; wins over both) |
//! | `fusion` | no | `RnnBackend` for `Fusion<B>`; with `wgpu`, [`backend::DefaultBackend`] is `Fusion<CubeBackend<Wgpu..>>` |
//! | `cubecl` | no | `RnnBackend` for `CubeBackend` over any CubeCL runtime (on with `wgpu` and `cuda`) |
//! | `candle`, `flex` | no | `RnnBackend` (plain-ops default bodies) for those backends |
//!
//! The modules never name a backend: the features only pick the aliases in [`backend`].
//!
//! ## Example
//! ```
//! use burn_rnn::{LstmConfig, backend::DefaultBackend as B};
//! use burn::tensor::{Distribution, Tensor};
//!
//! let device = Default::default();
//! let lstm = LstmConfig::new(8, 16).with_num_layers(2).with_bidirectional(true).init::<B>(&device);
//! let x = Tensor::<B, 3>::random([4, 10, 8], Distribution::Default, &device); // [N, L, H_in]
//! let out = lstm.forward(x, None);
//! assert_eq!(out.output.dims(), [4, 10, 32]); // [N, L, D*H]
//! assert_eq!(out.state.hidden.dims(), [4, 4, 16]); // [num_layers*D, N, H]
//! # use burn::tensor::backend::Backend;
//! # B::sync(&device).unwrap(); // see the note on exiting in `backend`
//! ```
//!
//! Variable lengths and a training step (backpropagation through time on `Autodiff`):
//! ```
//! use burn::optim::{AdamConfig, GradientsParams, Optimizer};
//! use burn::tensor::{Distribution, Tensor};
//! use burn_rnn::{backend::DefaultAutodiffBackend as B, GruConfig, RecurrentInput};
//!
//! let device = Default::default();
//! let mut gru = GruConfig::new(8, 16).with_dropout(0.1).with_num_layers(2).init::<B>(&device);
//! let x = Tensor::<B, 3>::random([4, 10, 8], Distribution::Default, &device);
//! let out = gru.forward_with(RecurrentInput::new(x).with_lengths(vec![10, 7, 3, 1]));
//! let loss = out.output.powi_scalar(2).mean(); // outputs past each length are zero
//! let mut optim = AdamConfig::new().init();
//! let grads = GradientsParams::from_grads(loss.backward(), &gru);
//! gru = optim.step(1e-3, gru, grads);
//! # let _ = gru;
//! # use burn::tensor::backend::Backend;
//! # B::sync(&device).unwrap(); // see the note on exiting in `backend`
//! ```
#![warn(missing_docs)]
// docs.rs (`--cfg docsrs`, see Cargo.toml) labels each feature-gated item with its feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backend;
mod cell;
pub mod conv;
pub mod convrnn;
pub mod import;
pub mod interop;
pub mod kernels;
mod layer;
pub mod math;
pub mod train;

pub use cell::{
    Cell, CellState, FusedCell, GruCell, GruCellConfig, GruState, LayerNormGruCell,
    LayerNormGruCellConfig, LayerNormLstmCell, LayerNormLstmCellConfig, LayerNormParams, LstmCell,
    LstmCellConfig, LstmState, MinGruCell, MinGruCellConfig, MinLstmCell, MinLstmCellConfig,
    RnnCell, RnnCellConfig, RnnState, StateShapeError,
};
pub use import::{ImportError, PytorchParams};
pub use kernels::{ExecutionPath, RnnBackend};
pub use layer::{
    AnyCell, AnyRecurrent, AnyRecurrentConfig, AnyState, ConfigError, Gru, GruConfig, LayerNormGru,
    LayerNormGruConfig, LayerNormLstm, LayerNormLstmConfig, LayerState, Lstm, LstmConfig, MinGru,
    MinGruConfig, MinLstm, MinLstmConfig, Recurrent, RecurrentInput, RecurrentOutput,
    Regularization, Rnn, RnnConfig,
};
pub use math::{CellKind, Nonlinearity, UnknownCellKind};

/// The README's Rust blocks, compiled and run as doctests by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
