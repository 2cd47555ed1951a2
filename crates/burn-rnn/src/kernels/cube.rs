//! wgpu's `CubeBackend`: the plain-ops default bodies for now.
//!
//! The fused CubeCL kernels (one launch per step for the gate math, forward and backward) are
//! the GPU issue's work; until then this impl runs [`reference`](super::reference), which is
//! correct on every device and as fast as the op-based unroll.

use burn_wgpu::{BoolElement, CubeBackend, FloatElement, IntElement, WgpuRuntime};

use super::RnnBackend;

impl<F: FloatElement, I: IntElement, BT: BoolElement> RnnBackend
    for CubeBackend<WgpuRuntime, F, I, BT>
{
}
