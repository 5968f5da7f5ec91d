//! Checkpoints in the [safetensors](https://github.com/huggingface/safetensors) format.
//!
//! - Model weights: [`save_safetensors`] / [`load_safetensors`] (and the in-memory
//!   [`to_safetensors_bytes`] / [`load_safetensors_bytes`]) write and read a model's state
//!   dict under PyTorch's names, so files move between Strata and PyTorch
//!   (`safetensors.torch.save_file(model.state_dict(), path)`). [`read_safetensors`],
//!   [`write_safetensors`], [`rename_prefix`] and [`load_weights`] handle partial loading
//!   for transfer learning.
//! - Resuming training: [`TrainingCheckpoint`] keeps the model, the optimiser, the
//!   scheduler, the random generator, epoch, step and user metadata in one file.
//!
//! Every write is atomic (temporary file, fsync, rename, fsync of the directory). Every
//! read is checked: a missing, truncated or corrupt file is an
//! [`Error::Checkpoint`](crate::Error::Checkpoint) naming the file, never a panic.
//!
//! ```
//! use strata_nn::checkpoint::{load_safetensors, save_safetensors};
//! use strata_nn::{Forward, Linear, ReLU, Sequential};
//! use strata_core::Tensor;
//!
//! let build = || -> strata_nn::Result<Sequential> {
//!     Ok(Sequential::new().push(Linear::new(4, 8)?).push(ReLU::new()).push(Linear::new(8, 2)?))
//! };
//! let path = std::env::temp_dir().join("strata-doc-checkpoint-module.safetensors");
//! let trained = build()?;
//! save_safetensors(&trained, &path)?;
//! let fresh = build()?;
//! load_safetensors(&fresh, &path, true)?;
//! let x = Tensor::randn(&[3, 4]);
//! assert_eq!(trained.forward(&x)?.to_vec::<f32>()?, fresh.forward(&x)?.to_vec::<f32>()?);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), strata_nn::Error>(())
//! ```

mod atomic;
mod format;
mod prefix;
mod training;
mod weights;

pub use prefix::{rename_prefix, select_prefix};
pub use training::TrainingCheckpoint;
pub use weights::{
    load_safetensors, load_safetensors_bytes, load_safetensors_prefix, load_weights,
    read_safetensors, read_safetensors_bytes, save_safetensors, to_safetensors_bytes,
    write_safetensors,
};
