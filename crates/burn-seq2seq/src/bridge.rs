//! The bridge from the encoder's final state to the decoder's initial state.

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::{backend::Backend, Tensor};

use super::config::BridgeKind;
use burn_rnn::LayerState;
use burn_rnn::{Cell, CellState};

/// From the encoder's final state to the decoder's initial one (see [`BridgeKind`]).
///
/// Decoder layer `i` starts from encoder layer `i + (L_enc - L_dec)` when the encoder has at
/// least as many layers (the top layers pair up), else from encoder layer `min(i, L_enc - 1)`.
#[derive(Module, Debug)]
pub struct Bridge<B: Backend> {
    /// `[D*H_enc -> H_dec]` for `h` (linear bridge).
    pub hidden: Option<Linear<B>>,
    /// `[D*H_enc -> H_dec]` for the LSTM cell state `c` (linear bridge, LSTM only).
    pub cell: Option<Linear<B>>,
    /// The bridge kind.
    #[module(skip)]
    pub kind: BridgeKind,
    /// Encoder layers `L_enc`.
    pub encoder_layers: usize,
    /// Encoder directions `D`.
    pub directions: usize,
    /// Decoder layers `L_dec`.
    pub decoder_layers: usize,
}

impl<B: Backend> Bridge<B> {
    /// Maps the encoder's final state `[L_enc*D, N, H_enc]` to the decoder's initial state
    /// `[L_dec, N, H_dec]`; `None` (zeros) for [`BridgeKind::Zeros`].
    pub fn forward<C: Cell<B>>(&self, state: LayerState<B, C>) -> Option<LayerState<B, C>> {
        if self.kind == BridgeKind::Zeros {
            return None;
        }
        let (hidden, cells): (Vec<_>, Vec<_>) = C::State::unstack(state)
            .into_iter()
            .map(CellState::into_parts)
            .unzip();
        let cells: Option<Vec<Tensor<B, 2>>> = cells.into_iter().collect();
        let (enc, dec, d) = (self.encoder_layers, self.decoder_layers, self.directions);
        // Layer `layer`'s directions side by side: `[N, D*H_enc]`.
        let join = |parts: &[Tensor<B, 2>], layer: usize| {
            Tensor::cat(parts[layer * d..(layer + 1) * d].to_vec(), 1)
        };
        let states = (0..dec)
            .map(|i| {
                let layer = if enc >= dec {
                    i + enc - dec
                } else {
                    i.min(enc - 1)
                };
                let h = join(&hidden, layer);
                let c = cells.as_ref().map(|cells| join(cells, layer));
                let (h, c) = match &self.hidden {
                    Some(wh) => (
                        wh.forward(h).tanh(),
                        c.map(|c| self.cell.as_ref().map_or(c.clone(), |wc| wc.forward(c))),
                    ),
                    None => (h, c),
                };
                C::State::from_parts(h, c)
            })
            .collect();
        Some(C::State::stack(states))
    }
}
