//! Test helpers shared by the Strata crates (a dev-dependency only).
//!
//! - [`Fixture`] loads a PyTorch reference case from the repository's `fixtures/pytorch/`
//!   (copied from PyTorch runs; see `fixtures/pytorch/CASES.md`).
//! - [`assert_close`] compares tensors elementwise with relative and absolute tolerances and
//!   reports the worst element.
//!
//! Test code may panic; these helpers panic with messages that say which fixture, key and
//! element went wrong.

use safetensors::{Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::PathBuf;
use strata_core::{DType, Tensor};

/// Tolerances the project promises against the float64 references.
pub const F64_RTOL: f64 = 1e-9;
pub const F64_ATOL: f64 = 1e-12;
pub const F32_RTOL: f64 = 1e-4;
pub const F32_ATOL: f64 = 1e-5;

/// The repository's `fixtures/pytorch` folder.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pytorch")
}

/// One PyTorch reference case: named tensors plus a JSON config.
pub struct Fixture {
    pub name: String,
    pub config: serde_json::Value,
    tensors: BTreeMap<String, Tensor>,
}

impl Fixture {
    /// Loads `fixtures/pytorch/<name>.safetensors`. F64 tensors stay f64, I64 stay i64,
    /// U8/BOOL become bool.
    pub fn load(name: &str) -> Fixture {
        let path = fixtures_dir().join(format!("{name}.safetensors"));
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let (_, meta) =
            SafeTensors::read_metadata(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let config = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("config"))
            .map(|c| serde_json::from_str(c).unwrap_or_else(|e| panic!("{name}: config: {e}")))
            .unwrap_or(serde_json::Value::Null);
        let st = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut tensors = BTreeMap::new();
        for (key, view) in st.tensors() {
            let shape = view.shape().to_vec();
            let data = view.data();
            let t = match view.dtype() {
                Dtype::F64 => Tensor::from_vec(
                    data.chunks_exact(8)
                        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
                        .collect::<Vec<f64>>(),
                    &shape,
                ),
                Dtype::F32 => Tensor::from_vec(
                    data.chunks_exact(4)
                        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                        .collect::<Vec<f32>>(),
                    &shape,
                ),
                Dtype::I64 => Tensor::from_vec(
                    data.chunks_exact(8)
                        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
                        .collect::<Vec<i64>>(),
                    &shape,
                ),
                Dtype::U8 | Dtype::BOOL => {
                    Tensor::from_vec(data.iter().map(|&b| b != 0).collect::<Vec<bool>>(), &shape)
                }
                other => panic!("{name}/{key}: unsupported dtype {other:?}"),
            }
            .unwrap_or_else(|e| panic!("{name}/{key}: {e}"));
            tensors.insert(key, t);
        }
        Fixture {
            name: name.to_string(),
            config,
            tensors,
        }
    }

    /// The tensor stored under `key` (panics with the available keys if missing). Each
    /// call returns a fresh leaf (a detached view), so marking it `requires_grad_()` does not
    /// affect later calls.
    pub fn get(&self, key: &str) -> Tensor {
        match self.tensors.get(key) {
            Some(t) => t.detach(),
            None => panic!(
                "fixture {} has no tensor {key:?}; keys: {:?}",
                self.name,
                self.keys()
            ),
        }
    }

    /// The tensor under `key` converted to f32.
    pub fn get_f32(&self, key: &str) -> Tensor {
        self.get(key).to_dtype(DType::F32)
    }

    /// All keys, sorted.
    pub fn keys(&self) -> Vec<&str> {
        self.tensors.keys().map(|k| k.as_str()).collect()
    }

    /// Keys starting with `prefix` (e.g. `"param."`), with the prefix removed.
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, Tensor)> {
        self.tensors
            .iter()
            .filter_map(|(k, t)| {
                k.strip_prefix(prefix)
                    .map(|rest| (rest.to_string(), t.clone()))
            })
            .collect()
    }

    /// A config value as f64 (panics if missing).
    pub fn cfg_f64(&self, key: &str) -> f64 {
        self.config[key].as_f64().unwrap_or_else(|| {
            panic!(
                "fixture {}: config has no number {key:?}: {}",
                self.name, self.config
            )
        })
    }

    /// A config value as usize (panics if missing).
    pub fn cfg_usize(&self, key: &str) -> usize {
        self.cfg_f64(key) as usize
    }

    /// A config value as bool (panics if missing).
    pub fn cfg_bool(&self, key: &str) -> bool {
        self.config[key].as_bool().unwrap_or_else(|| {
            panic!(
                "fixture {}: config has no bool {key:?}: {}",
                self.name, self.config
            )
        })
    }
}

/// Asserts `|actual - expected| <= atol + rtol * |expected|` elementwise, with equal shapes.
/// Works across dtypes (values are compared as f64).
pub fn assert_close(actual: &Tensor, expected: &Tensor, rtol: f64, atol: f64, what: &str) {
    assert_eq!(actual.shape(), expected.shape(), "{what}: shape differs");
    let (a, e) = (actual.to_vec_f64(), expected.to_vec_f64());
    let mut worst: Option<(usize, f64, f64, f64)> = None;
    for (i, (&x, &y)) in a.iter().zip(&e).enumerate() {
        let excess = (x - y).abs() - (atol + rtol * y.abs());
        if (excess > 0.0 || x.is_nan() != y.is_nan()) && worst.is_none_or(|w| excess > w.3) {
            worst = Some((i, x, y, excess));
        }
    }
    if let Some((i, x, y, _)) = worst {
        panic!(
            "{what}: element {i} (of {}) is {x:.12e}, expected {y:.12e} (rtol {rtol:e}, atol {atol:e})",
            a.len()
        );
    }
}

/// [`assert_close`] with the f64 tolerances (1e-9 relative).
pub fn assert_close_f64(actual: &Tensor, expected: &Tensor, what: &str) {
    assert_close(actual, expected, F64_RTOL, F64_ATOL, what);
}

/// [`assert_close`] with the f32 tolerances (1e-4 relative).
pub fn assert_close_f32(actual: &Tensor, expected: &Tensor, what: &str) {
    assert_close(actual, expected, F32_RTOL, F32_ATOL, what);
}
