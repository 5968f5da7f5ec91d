//! Named tensors to and from safetensors bytes: the one place that knows the file format.
//!
//! Supported dtypes are the ones Strata tensors have: `F32`, `F64`, `I64` and `BOOL`, stored
//! little-endian as the format requires. Any other dtype in a file (`F16`, `BF16`, `U8`, ...)
//! is an error naming the tensor, never a silent conversion.

use crate::{Error, Result};
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use strata_core::{DType, Tensor};

/// The "path" named in errors about bytes that did not come from a file.
pub(crate) fn memory_path() -> PathBuf {
    PathBuf::from("<in-memory bytes>")
}

/// An [`Error::Checkpoint`] about `path`.
pub(crate) fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::Checkpoint {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// One tensor's little-endian bytes, ready for `safetensors::serialize`.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn encode_tensor(t: &Tensor) -> Result<Encoded> {
    // `to_vec` copies in row-major order, so views and transposes are written correctly.
    let (dtype, bytes) = match t.dtype() {
        DType::F32 => (
            Dtype::F32,
            t.to_vec::<f32>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DType::F64 => (
            Dtype::F64,
            t.to_vec::<f64>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DType::I64 => (
            Dtype::I64,
            t.to_vec::<i64>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DType::Bool => (
            Dtype::BOOL,
            t.to_vec::<bool>()?.iter().map(|&b| u8::from(b)).collect(),
        ),
    };
    Ok(Encoded {
        dtype,
        shape: t.shape().to_vec(),
        bytes,
    })
}

/// Serialises `entries` (name → tensor) and string `metadata` into safetensors bytes.
/// `path` only names the destination in errors (duplicate names).
pub(crate) fn encode(
    entries: &[(String, Tensor)],
    metadata: HashMap<String, String>,
    path: &Path,
) -> Result<Vec<u8>> {
    let mut seen = BTreeSet::new();
    let mut encoded = Vec::with_capacity(entries.len());
    for (name, t) in entries {
        if !seen.insert(name.as_str()) {
            return Err(corrupt(
                path,
                format!("two tensors are named {name:?}; names must be unique"),
            ));
        }
        encoded.push((name.as_str(), encode_tensor(t)?));
    }
    let metadata = (!metadata.is_empty()).then_some(metadata);
    safetensors::serialize(encoded.iter().map(|(n, e)| (*n, e)), metadata)
        .map_err(|e| corrupt(path, format!("cannot serialise: {e}")))
}

/// Named tensors (sorted by name) and the string metadata of a safetensors file.
pub(crate) struct Decoded {
    pub(crate) tensors: Vec<(String, Tensor)>,
    pub(crate) metadata: HashMap<String, String>,
}

/// Parses safetensors `bytes`; every problem is an [`Error::Checkpoint`] naming `path`.
/// The safetensors crate checks the header (its length, JSON, offsets covering the data
/// exactly, shapes matching byte counts) before any tensor is read.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Decoded> {
    let invalid = |e: safetensors::SafeTensorError| {
        corrupt(
            path,
            format!("not a valid safetensors file ({} bytes): {e}", bytes.len()),
        )
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(invalid)?;
    let metadata = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).map_err(invalid)?;
    let mut tensors = Vec::with_capacity(st.len());
    for (name, view) in st.tensors() {
        let t = decode_tensor(&name, view.dtype(), view.shape(), view.data(), path)?;
        tensors.push((name, t));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Decoded { tensors, metadata })
}

fn decode_tensor(
    name: &str,
    dtype: Dtype,
    shape: &[usize],
    data: &[u8],
    path: &Path,
) -> Result<Tensor> {
    let t = match dtype {
        Dtype::F32 => Tensor::from_vec(
            data.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect::<Vec<f32>>(),
            shape,
        ),
        Dtype::F64 => Tensor::from_vec(
            data.chunks_exact(8)
                .map(|b| f64::from_le_bytes(eight(b)))
                .collect::<Vec<f64>>(),
            shape,
        ),
        Dtype::I64 => Tensor::from_vec(
            data.chunks_exact(8)
                .map(|b| i64::from_le_bytes(eight(b)))
                .collect::<Vec<i64>>(),
            shape,
        ),
        Dtype::BOOL => {
            if let Some(bad) = data.iter().find(|&&b| b > 1) {
                return Err(corrupt(
                    path,
                    format!(
                        "tensor {name:?} is BOOL but holds the byte {bad} (only 0 and 1 are valid)"
                    ),
                ));
            }
            Tensor::from_vec(data.iter().map(|&b| b == 1).collect::<Vec<bool>>(), shape)
        }
        other => {
            return Err(corrupt(
                path,
                format!("tensor {name:?} has dtype {other:?}; Strata reads F32, F64, I64 and BOOL"),
            ))
        }
    };
    t.map_err(|e| corrupt(path, format!("tensor {name:?}: {e}")))
}

/// The first eight bytes of a chunk from `chunks_exact(8)`.
fn eight(b: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&b[..8]);
    out
}
