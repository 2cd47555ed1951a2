//! Small training helpers: carrying a recurrent state across truncated-BPTT batches.

use burn::tensor::backend::Backend;

use crate::{LstmState, RnnState};

/// A recurrent state that can be cut from the autodiff graph.
pub trait DetachState {
    /// The same values with no autodiff history: gradients stop here.
    fn detach_state(self) -> Self;
}

impl<B: Backend, const D: usize> DetachState for RnnState<B, D> {
    fn detach_state(self) -> Self {
        self.detach()
    }
}

impl<B: Backend, const D: usize> DetachState for LstmState<B, D> {
    fn detach_state(self) -> Self {
        self.detach()
    }
}

impl<B: Backend, const D: usize> DetachState for crate::AnyState<B, D> {
    fn detach_state(self) -> Self {
        self.detach()
    }
}

/// Truncated backpropagation through time: the state handed from one batch of contiguous
/// sequence chunks to the next.
///
/// Each batch starts from the previous batch's final state (so the model sees the stream as
/// one long sequence) but gradients stop at the batch boundary (the state is detached). At an
/// epoch boundary, or whenever the streams restart, [`TbpttCarry::reset`] starts again from
/// the zero state.
///
/// ```
/// use burn::tensor::{Distribution, Tensor};
/// use burn_rnn::{backend::DefaultAutodiffBackend as B, train::TbpttCarry, LstmConfig};
///
/// let device = Default::default();
/// let lstm = LstmConfig::new(4, 8).init::<B>(&device);
/// let mut carry = TbpttCarry::new();
/// for _chunk in 0..3 {
///     let x = Tensor::<B, 3>::random([2, 5, 4], Distribution::Default, &device);
///     let out = lstm.forward(x, carry.take()); // None on the first chunk: zeros
///     carry.keep(out.state);                  // detached for the next chunk
///     // ... loss on out.output, backward, optimizer step ...
/// }
/// carry.reset(); // new epoch
/// # use burn::tensor::backend::Backend;
/// # B::sync(&device).unwrap(); // see the note on exiting in `backend`
/// ```
#[derive(Debug, Clone)]
pub struct TbpttCarry<S> {
    state: Option<S>,
}

impl<S> Default for TbpttCarry<S> {
    fn default() -> Self {
        Self { state: None }
    }
}

impl<S: DetachState> TbpttCarry<S> {
    /// Starts with no state (the layers then start from zeros).
    pub fn new() -> Self {
        Self::default()
    }

    /// The state to start the next batch from, leaving none behind; `None` after
    /// [`TbpttCarry::new`] or [`TbpttCarry::reset`].
    pub fn take(&mut self) -> Option<S> {
        self.state.take()
    }

    /// The carried state, if any, without taking it.
    pub fn get(&self) -> Option<&S> {
        self.state.as_ref()
    }

    /// Keeps a batch's final state for the next batch, detached from the graph.
    pub fn keep(&mut self, state: S) {
        self.state = Some(state.detach_state());
    }

    /// Drops the carried state: the next batch starts from zeros (epoch boundary).
    pub fn reset(&mut self) {
        self.state = None;
    }
}

#[cfg(all(test, feature = "ndarray"))]
mod tests {
    use super::*;
    use crate::GruConfig;
    use burn::tensor::{Distribution, Tensor};
    use burn_autodiff::Autodiff;
    use burn_ndarray::NdArray;

    type AD = Autodiff<NdArray<f32>>;

    #[test]
    fn carried_state_keeps_values_but_stops_gradients() {
        let device = Default::default();
        let gru = GruConfig::new(3, 4).init::<AD>(&device);
        let mut carry = TbpttCarry::new();
        assert!(carry.take().is_none());

        let x1 = Tensor::<AD, 3>::random([2, 5, 3], Distribution::Default, &device).require_grad();
        let out1 = gru.forward(x1.clone(), carry.take());
        let final1 = out1.state.hidden.clone().into_data();
        carry.keep(out1.state);
        assert_eq!(carry.get().unwrap().hidden.clone().into_data(), final1);

        let x2 = Tensor::<AD, 3>::random([2, 5, 3], Distribution::Default, &device).require_grad();
        let out2 = gru.forward(x2.clone(), carry.take());
        let grads = out2.output.sum().backward();
        assert!(
            x2.grad(&grads).is_some(),
            "the current chunk gets gradients"
        );
        assert!(
            x1.grad(&grads).is_none(),
            "no gradient crosses the chunk boundary"
        );

        // The carried state changes the result, as a continued stream should.
        let from_zero = gru.forward(x2.clone(), None).output.into_data();
        let carried = gru
            .forward(x2, Some(RnnState::new(Tensor::from_data(final1, &device))))
            .output
            .into_data();
        assert_ne!(from_zero, carried);

        carry.keep(out2.state);
        carry.reset();
        assert!(
            carry.take().is_none(),
            "reset starts the next epoch from zeros"
        );
    }
}
