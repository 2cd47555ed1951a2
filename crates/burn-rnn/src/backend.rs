//! Backend type aliases picked by the crate's Cargo features.
//!
//! Programs that just want "the backend my features chose" use [`DefaultBackend`] for inference
//! and [`DefaultAutodiffBackend`] for training. With the `wgpu` feature the aliases name Burn's
//! `Wgpu` backend (a GPU through wgpu, or Mesa's software Vulkan on machines without one);
//! otherwise, with the default `ndarray` feature, the CPU `NdArray<f32>` backend.

/// The inference backend chosen by the features: `Wgpu` with `wgpu`, else `NdArray<f32>`.
#[cfg(feature = "wgpu")]
pub type DefaultBackend = burn_wgpu::Wgpu;

/// The inference backend chosen by the features: `Wgpu` with `wgpu`, else `NdArray<f32>`.
#[cfg(all(feature = "ndarray", not(feature = "wgpu")))]
pub type DefaultBackend = burn_ndarray::NdArray<f32>;

/// [`DefaultBackend`] wrapped in `Autodiff`, for training (backpropagation through time).
#[cfg(any(feature = "ndarray", feature = "wgpu"))]
pub type DefaultAutodiffBackend = burn_autodiff::Autodiff<DefaultBackend>;

/// The device type of [`DefaultBackend`].
#[cfg(any(feature = "ndarray", feature = "wgpu"))]
pub type DefaultDevice = burn::tensor::Device<DefaultBackend>;
