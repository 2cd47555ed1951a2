//! CubeCL's `CubeBackend` over any runtime (wgpu, CUDA, ROCm, CPU): the plain-ops default
//! bodies for now.
//!
//! The fused CubeCL kernels (one launch per step for the gate math, forward and backward) are
//! the GPU issue's work; until then this impl runs [`reference`](super::reference), which is
//! correct on every device and as fast as the op-based unroll.

use burn::tensor::backend::Backend;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

use super::RnnBackend;

impl<R, F, I, BT> RnnBackend for CubeBackend<R, F, I, BT>
where
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
    Self: Backend,
{
}
