//! Backend type aliases picked by the crate's Cargo features.
//!
//! Programs that just want "the backend my features chose" use [`DefaultBackend`] for inference
//! and [`DefaultAutodiffBackend`] for training. With the `wgpu` feature the aliases name Burn's
//! `Wgpu` backend (a GPU through wgpu, or Mesa's software Vulkan on machines without one);
//! otherwise, with the default `ndarray` feature, the CPU `NdArray<f32>` backend.

/// The inference backend chosen by the features: wgpu's `CubeBackend` with `wgpu`, else
/// `NdArray<f32>`.
///
/// This is Burn's `Wgpu` built **without** its `fusion` and `autotune` features, for two
/// upstream bugs seen on Mesa's lavapipe with Burn 0.21:
/// - with fusion, a recurrent unroll over a batch of one sequence computes wrong values (a
///   step that reuses a tensor made before the loop, such as the transposed hidden weights,
///   differs from the same step on fresh tensors by up to 0.08), while the same code without
///   fusion, or on ndarray, matches PyTorch;
/// - with autotune, a matmul with inner dimension 12 panics: autotune selects the
///   `vecmat_plane_parallel` kernel, which requires a multiple of the plane size (8).
#[cfg(feature = "wgpu")]
pub type DefaultBackend = burn_wgpu::CubeBackend<burn_wgpu::WgpuRuntime, f32, i32, u32>;

/// The inference backend chosen by the features: `Wgpu` with `wgpu`, else `NdArray<f32>`.
#[cfg(all(feature = "ndarray", not(feature = "wgpu")))]
pub type DefaultBackend = burn_ndarray::NdArray<f32>;

/// [`DefaultBackend`] wrapped in `Autodiff`, for training (backpropagation through time).
#[cfg(any(feature = "ndarray", feature = "wgpu"))]
pub type DefaultAutodiffBackend = burn_autodiff::Autodiff<DefaultBackend>;

/// The device type of [`DefaultBackend`].
#[cfg(any(feature = "ndarray", feature = "wgpu"))]
pub type DefaultDevice = burn::tensor::Device<DefaultBackend>;
