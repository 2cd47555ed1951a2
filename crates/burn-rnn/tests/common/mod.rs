//! Helpers shared by the integration tests: the backend under test and fixture access.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::path::PathBuf;

use burn::tensor::{backend::Backend, Tensor, TensorData};
use burn_rnn::import::read_tensors;

/// The backend under test: ndarray by default, wgpu with `--features wgpu`.
pub type B = burn_rnn::backend::DefaultBackend;
/// Its autodiff twin.
pub type AD = burn_rnn::backend::DefaultAutodiffBackend;

/// Absolute tolerance of the PyTorch parity tests (f32).
pub const TOL: f32 = 1e-5;

/// The device of the backend under test.
pub fn device() -> burn_rnn::backend::DefaultDevice {
    Default::default()
}

/// A fixture file's path.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The tensors of a fixture file, grouped by case (`"<case>/<tensor>"` keys).
pub struct Fixture {
    tensors: HashMap<String, TensorData>,
}

impl Fixture {
    /// Reads a fixture file of `tests/fixtures`.
    pub fn load(name: &str) -> Self {
        let path = fixture_path(name);
        let tensors = read_tensors(&path).unwrap_or_else(|e| panic!("reading fixture: {e}"));
        Self { tensors }
    }

    /// The case names that start with `prefix`, sorted.
    pub fn cases(&self, prefix: &str) -> Vec<String> {
        let mut cases: Vec<String> = self
            .tensors
            .keys()
            .filter(|k| k.starts_with(prefix))
            .map(|k| k.rsplit_once('/').expect("case/tensor").0.to_string())
            .collect();
        cases.sort();
        cases.dedup();
        cases
    }

    /// One tensor of a case, if present.
    pub fn get(&self, case: &str, key: &str) -> Option<TensorData> {
        self.tensors.get(&format!("{case}/{key}")).cloned()
    }

    /// One tensor of a case on the backend under test.
    pub fn tensor<Bk: Backend, const D: usize>(&self, case: &str, key: &str) -> Tensor<Bk, D> {
        let data = self
            .get(case, key)
            .unwrap_or_else(|| panic!("fixture {case} has no {key}"));
        Tensor::from_data(data, &Default::default())
    }

    /// The case's parameters by their PyTorch names (the `p.` prefix removed).
    pub fn params(&self, case: &str) -> HashMap<String, TensorData> {
        let prefix = format!("{case}/p.");
        self.tensors
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
            .collect()
    }
}

/// Asserts `actual` equals `expected` within `tol`, shapes included; returns the worst
/// absolute difference.
pub fn assert_close(what: &str, actual: TensorData, expected: TensorData, tol: f32) -> f32 {
    assert_eq!(
        actual.shape, expected.shape,
        "{what}: shape differs from PyTorch's"
    );
    let a = actual.convert::<f32>().to_vec::<f32>().unwrap();
    let e = expected.convert::<f32>().to_vec::<f32>().unwrap();
    let (mut worst, mut at) = (0.0f32, 0);
    for (i, (x, y)) in a.iter().zip(&e).enumerate() {
        let d = (x - y).abs();
        assert!(d.is_finite(), "{what}: non-finite value at {i}: {x} vs {y}");
        if d > worst {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= tol,
        "{what}: worst absolute error {worst:e} at flat index {at} ({} vs PyTorch {}) exceeds {tol:e}",
        a[at],
        e[at]
    );
    worst
}
