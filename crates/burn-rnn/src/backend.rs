//! Backend type aliases picked by the crate's Cargo features.
//!
//! Programs that just want "the backend my features chose" use [`DefaultBackend`] for inference
//! and [`DefaultAutodiffBackend`] for training:
//!
//! | features | `DefaultBackend` |
//! | --- | --- |
//! | `cuda` | `CubeBackend<CudaRuntime, f32, i32, u8>` (NVIDIA GPUs) |
//! | `wgpu` + `fusion` | `Fusion<CubeBackend<WgpuRuntime, f32, i32, u32>>` (what `burn::backend::Wgpu` is with Burn's default features) |
//! | `wgpu` | `CubeBackend<WgpuRuntime, f32, i32, u32>` (Vulkan, Metal, DX12, WebGPU; Mesa's software Vulkan on machines without a GPU) |
//! | `ndarray` (default) | `NdArray<f32>` (CPU) |
//!
//! The first row that matches wins. All of them run the fused kernels of [`crate::kernels`].
//!
//! **Exiting with GPU work queued.** GPU backends run asynchronously: a call returns once its
//! work is queued. On Mesa's software Vulkan (lavapipe), a process that exits while queued work
//! is still running crashed with SIGSEGV in 4 of 30 runs of a small training program here,
//! and in 0 of 30 once it called `B::sync(&device)` before returning from `main`. Programs that
//! end without reading a result back should sync first.

/// The inference backend chosen by the features (see the module docs).
///
/// The wgpu backend is built **without** Burn's `autotune` feature and, unless `fusion` is
/// asked for, without its `fusion` feature, for two upstream bugs seen on Mesa's lavapipe with
/// Burn 0.21:
/// - with fusion, a plain-ops recurrent unroll over a batch of one sequence computes wrong
///   values (a step that reuses a tensor made before the loop, such as the transposed hidden
///   weights, differs from the same step on fresh tensors by up to 0.08), while the same code
///   without fusion, or on ndarray, matches PyTorch; the fused path is one custom operation
///   per layer and direction and is tested with fusion on and off;
/// - with autotune, a matmul with inner dimension 12 panics: autotune selects the
///   `vecmat_plane_parallel` kernel, which requires a multiple of the plane size (8).
#[cfg(feature = "cuda")]
pub type DefaultBackend = burn_cuda::Cuda<f32, i32>;

/// The inference backend chosen by the features (see the module docs).
#[cfg(all(feature = "wgpu", feature = "fusion", not(feature = "cuda")))]
pub type DefaultBackend =
    burn_fusion::Fusion<burn_wgpu::CubeBackend<burn_wgpu::WgpuRuntime, f32, i32, u32>>;

/// The inference backend chosen by the features (see the module docs).
#[cfg(all(feature = "wgpu", not(feature = "fusion"), not(feature = "cuda")))]
pub type DefaultBackend = burn_wgpu::CubeBackend<burn_wgpu::WgpuRuntime, f32, i32, u32>;

/// The inference backend chosen by the features (see the module docs).
#[cfg(all(feature = "ndarray", not(feature = "wgpu"), not(feature = "cuda")))]
pub type DefaultBackend = burn_ndarray::NdArray<f32>;

/// [`DefaultBackend`] wrapped in `Autodiff`, for training (backpropagation through time).
#[cfg(any(feature = "ndarray", feature = "wgpu", feature = "cuda"))]
pub type DefaultAutodiffBackend = burn_autodiff::Autodiff<DefaultBackend>;

/// The device type of [`DefaultBackend`].
#[cfg(any(feature = "ndarray", feature = "wgpu", feature = "cuda"))]
pub type DefaultDevice = burn::tensor::Device<DefaultBackend>;
