//! Model weights (parameters and buffers under their PyTorch state-dict names) in
//! `.safetensors` files, readable by `safetensors.torch.load_file` and
//! `model.load_state_dict` in PyTorch, and the other way round.
//!
//! Files carry the metadata `format` = `pt`, which Hugging Face loaders expect of PyTorch
//! weights.
//!
//! Dtype rule when loading: floating-point values convert to the dtype of the parameter
//! or buffer they load into (f64 → f32 rounds to nearest, f32 → f64 is exact); integer
//! and boolean tensors (BatchNorm's `num_batches_tracked` is i64) must have exactly the
//! model's dtype. Anything else is an error listing every offending name, and nothing is
//! loaded.

use super::atomic::write_atomic;
use super::format::{corrupt, decode, encode, memory_path};
use super::prefix::select_prefix;
use crate::{Error, LoadReport, ModuleExt, Result};
use std::collections::HashMap;
use std::path::Path;
use strata_core::Tensor;

/// Saves the model's state dict (parameters, then buffers) to a `.safetensors` file,
/// atomically: an existing file at `path` is replaced only once the new one is complete.
///
/// ```
/// use strata_nn::checkpoint::{load_safetensors, save_safetensors};
/// use strata_nn::{Linear, ModuleExt};
/// let path = std::env::temp_dir().join("strata-doc-save-weights.safetensors");
/// let a = Linear::new(3, 2)?;
/// save_safetensors(&a, &path)?;
/// let b = Linear::new(3, 2)?;
/// let report = load_safetensors(&b, &path, true)?;
/// assert_eq!(report.loaded, ["weight", "bias"]);
/// assert_eq!(a.weight().to_vec::<f32>()?, b.weight().to_vec::<f32>()?);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn save_safetensors<M: ModuleExt + ?Sized>(model: &M, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(
        path,
        &encode(&model.state_dict(), pytorch_metadata(), path)?,
    )
}

/// The bytes [`save_safetensors`] would write.
///
/// ```
/// use strata_nn::checkpoint::{load_safetensors_bytes, to_safetensors_bytes};
/// use strata_nn::Linear;
/// let bytes = to_safetensors_bytes(&Linear::new(3, 2)?)?;
/// load_safetensors_bytes(&Linear::new(3, 2)?, &bytes, true)?;
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn to_safetensors_bytes<M: ModuleExt + ?Sized>(model: &M) -> Result<Vec<u8>> {
    encode(&model.state_dict(), pytorch_metadata(), &memory_path())
}

/// The metadata PyTorch's `safetensors.torch.save_file` users put in weights files.
fn pytorch_metadata() -> HashMap<String, String> {
    HashMap::from([("format".to_string(), "pt".to_string())])
}

/// Loads a `.safetensors` file (e.g. saved by PyTorch's `safetensors.torch.save_file(
/// model.state_dict(), path)`) into the model.
///
/// Strict loading changes nothing unless every name matches and every shape agrees; the
/// [`Error::CheckpointMismatch`] lists all missing, unexpected and mis-shaped names at once.
/// Non-strict loading loads what matches and returns what it skipped in the
/// [`LoadReport`]. A file that cannot be read or parsed, or holds a tensor whose dtype
/// cannot load into the model (see the module docs), is an [`Error::Checkpoint`] naming
/// the file.
///
/// ```
/// use strata_nn::checkpoint::{load_safetensors, save_safetensors};
/// use strata_nn::{Error, Linear, Sequential};
/// let path = std::env::temp_dir().join("strata-doc-load-weights.safetensors");
/// save_safetensors(&Linear::new(3, 2)?, &path)?;
/// // Non-strict: the Sequential's names are `0.weight`, `0.bias`; nothing matches.
/// let model = Sequential::new().push(Linear::new(3, 2)?);
/// let report = load_safetensors(&model, &path, false)?;
/// assert!(report.loaded.is_empty());
/// assert_eq!(report.problems.unexpected, ["bias", "weight"]);
/// let err = load_safetensors(&model, &path, true).unwrap_err();
/// assert!(matches!(err, Error::CheckpointMismatch { .. }));
/// assert!(err.to_string().contains("missing keys: 0.weight, 0.bias"), "{err}");
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn load_safetensors<M: ModuleExt + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
    strict: bool,
) -> Result<LoadReport> {
    let path = path.as_ref();
    let entries = read_safetensors(path)?;
    load_weights(model, &entries, strict).map_err(|e| about_file(e, path))
}

/// Loads only the tensors of a `.safetensors` file whose names start with `prefix` into
/// the model's entries of the same names: partial loading for transfer learning, e.g. the
/// `features.` of a pretrained CNN into a model with a new `classifier.`.
///
/// The rest of the model is left as it is and never counts as missing. `strict` applies to
/// the part under `prefix`: every model entry under it must be in the file with its shape,
/// and every file entry under it must exist in the model; otherwise nothing is loaded and
/// the [`Error::CheckpointMismatch`] lists the problems. Non-strict loading loads what
/// matches and reports the rest (missing names under `prefix` only).
///
/// ```
/// use strata_nn::checkpoint::{load_safetensors_prefix, save_safetensors};
/// use strata_nn::{Linear, ModuleExt, Sequential};
/// let path = std::env::temp_dir().join("strata-doc-load-prefix.safetensors");
/// let pretrained = Sequential::new().push(Linear::new(4, 3)?).push(Linear::new(3, 10)?);
/// save_safetensors(&pretrained, &path)?;
/// // Same first layer, a new head of another size.
/// let model = Sequential::new().push(Linear::new(4, 3)?).push(Linear::new(3, 2)?);
/// let report = load_safetensors_prefix(&model, &path, "0.", true)?;
/// assert_eq!(report.loaded, ["0.weight", "0.bias"]);
/// assert!(report.problems.is_empty());
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn load_safetensors_prefix<M: ModuleExt + ?Sized>(
    model: &M,
    path: impl AsRef<Path>,
    prefix: &str,
    strict: bool,
) -> Result<LoadReport> {
    let path = path.as_ref();
    let entries = select_prefix(&read_safetensors(path)?, prefix);
    load_weights_under(model, &entries, prefix, strict).map_err(|e| about_file(e, path))
}

/// [`load_weights`] of entries under `prefix`, where model entries outside it are not
/// missing. A strict load that fails changes nothing, so it serves as the dry run that
/// finds the problems; only those under `prefix` count.
fn load_weights_under<M: ModuleExt + ?Sized>(
    model: &M,
    entries: &[(String, Tensor)],
    prefix: &str,
    strict: bool,
) -> Result<LoadReport> {
    match load_weights(model, entries, true) {
        Err(Error::StateDict(mut problems)) => {
            problems.missing.retain(|n| n.starts_with(prefix));
            if strict && !problems.is_empty() {
                return Err(Error::StateDict(problems));
            }
            let mut report = load_weights(model, entries, false)?;
            report.problems.missing.retain(|n| n.starts_with(prefix));
            Ok(report)
        }
        other => other,
    }
}

/// Like [`load_safetensors`], from bytes in memory (errors name `<in-memory bytes>`).
///
/// ```
/// use strata_nn::checkpoint::{load_safetensors_bytes, to_safetensors_bytes};
/// use strata_nn::Linear;
/// let bytes = to_safetensors_bytes(&Linear::new(3, 2)?)?;
/// let err = load_safetensors_bytes(&Linear::new(3, 2)?, &bytes[..20], true).unwrap_err();
/// assert!(err.to_string().contains("not a valid safetensors file"), "{err}");
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn load_safetensors_bytes<M: ModuleExt + ?Sized>(
    model: &M,
    bytes: &[u8],
    strict: bool,
) -> Result<LoadReport> {
    let entries = read_safetensors_bytes(bytes)?;
    load_weights(model, &entries, strict).map_err(|e| about_file(e, &memory_path()))
}

/// [`ModuleExt::load_state_dict`] with the dtype rule of this module checked first: use it
/// on entries read with [`read_safetensors`] and renamed with
/// [`rename_prefix`](super::rename_prefix). Errors are [`Error::StateDict`] (names and
/// shapes) or [`Error::LoadState`] (dtypes); nothing is loaded on error.
///
/// ```
/// use strata_nn::checkpoint::load_weights;
/// use strata_nn::{Linear, ModuleExt};
/// use strata_core::DType;
/// let a = Linear::new(3, 2)?;
/// let b = Linear::new(3, 2)?;
/// // f64 values load into the f32 model, rounded.
/// let f64_entries: Vec<_> =
///     a.state_dict().into_iter().map(|(n, t)| (n, t.to_dtype(DType::F64))).collect();
/// load_weights(&b, &f64_entries, true)?;
/// assert_eq!(a.weight().to_vec::<f32>()?, b.weight().to_vec::<f32>()?);
/// // Integers do not silently become weights.
/// let ints: Vec<_> =
///     a.state_dict().into_iter().map(|(n, t)| (n, t.to_dtype(DType::I64))).collect();
/// assert!(load_weights(&b, &ints, true).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn load_weights<M: ModuleExt + ?Sized>(
    model: &M,
    entries: &[(String, Tensor)],
    strict: bool,
) -> Result<LoadReport> {
    let own = model.state_dict();
    let mut problems = Vec::new();
    for (name, target) in &own {
        let Some((_, src)) = entries.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let (want, have) = (target.dtype(), src.dtype());
        let convertible = want == have || (want.is_float() && have.is_float());
        if !convertible {
            problems.push(format!(
                "{name}: the model has {want}, the checkpoint {have}"
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::LoadState {
            what: "model weights".to_string(),
            reason: format!(
                "dtypes do not fit (floats convert to each other, other dtypes must match): {}",
                problems.join("; ")
            ),
        });
    }
    model.load_state_dict(entries, strict)
}

/// Writes named tensors (any state dict) to a `.safetensors` file atomically.
///
/// ```
/// use strata_nn::checkpoint::{read_safetensors, write_safetensors};
/// use strata_core::Tensor;
/// let path = std::env::temp_dir().join("strata-doc-write.safetensors");
/// let counts = Tensor::from_vec(vec![3i64, 4], &[2])?;
/// write_safetensors(&[("counts".to_string(), counts)], &path)?;
/// let back = read_safetensors(&path)?;
/// assert_eq!(back[0].0, "counts");
/// assert_eq!(back[0].1.to_vec::<i64>()?, vec![3, 4]);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn write_safetensors(entries: &[(String, Tensor)], path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    write_atomic(path, &encode(entries, HashMap::new(), path)?)
}

/// Reads every tensor of a `.safetensors` file, sorted by name. F32, F64, I64 and BOOL
/// tensors are read as they are; other dtypes, unreadable and corrupt files are an
/// [`Error::Checkpoint`] naming the file.
///
/// ```
/// use strata_nn::checkpoint::read_safetensors;
/// use strata_nn::Error;
/// let path = std::env::temp_dir().join("strata-doc-no-such-file.safetensors");
/// let err = read_safetensors(&path).unwrap_err();
/// assert!(matches!(err, Error::Checkpoint { .. }));
/// assert!(err.to_string().contains("strata-doc-no-such-file"), "{err}");
/// ```
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>> {
    let path = path.as_ref();
    let bytes = read_file(path)?;
    Ok(decode(&bytes, path)?.tensors)
}

/// Like [`read_safetensors`], from bytes in memory.
///
/// ```
/// use strata_nn::checkpoint::{read_safetensors_bytes, to_safetensors_bytes};
/// use strata_nn::Linear;
/// let entries = read_safetensors_bytes(&to_safetensors_bytes(&Linear::new(3, 2)?)?)?;
/// assert_eq!(entries[1].1.shape(), &[2, 3]); // "bias" sorts before "weight"
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn read_safetensors_bytes(bytes: &[u8]) -> Result<Vec<(String, Tensor)>> {
    Ok(decode(bytes, &memory_path())?.tensors)
}

/// Reads a whole file; a failure is an [`Error::Checkpoint`] naming it.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| corrupt(path, format!("cannot read the file: {e}")))
}

/// Names the file in a loading error.
fn about_file(e: Error, path: &Path) -> Error {
    match e {
        Error::StateDict(problems) => Error::CheckpointMismatch {
            path: path.to_path_buf(),
            problems,
        },
        Error::LoadState { reason, .. } => corrupt(path, reason),
        other => other,
    }
}
