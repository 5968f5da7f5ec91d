//! # Strata
//!
//! The crate users depend on: it re-exports the layers of the framework and offers a
//! [`prelude`] for `use strata::prelude::*;`.
//!
//! - [`core`] (`strata-core`): tensors, CPU kernels, reverse-mode autodiff, gradcheck.
//! - [`nn`] (`strata-nn`): modules, layers, losses, initialisers, optimisers, schedules.
//! - [`data`] (`strata-data`): datasets, loaders, file formats, augmentation.
//! - [`train`] (`strata-train`): the `Trainer`, metrics, callbacks, training-health
//!   monitors, run directories, TensorBoard files and the HTML report.
//!
//! ```
//! use strata::prelude::*;
//!
//! let model = Sequential::new()
//!     .push(Linear::new(4, 16)?)
//!     .push(ReLU::new())
//!     .push(Linear::new(16, 3)?);
//! let mut opt = Adam::new(model.parameters(), 1e-2)?;
//! let x = Tensor::randn(&[8, 4]);
//! let y = Tensor::from_vec(vec![0i64, 1, 2, 0, 1, 2, 0, 1], &[8])?;
//! let first = cross_entropy(&model.forward(&x)?, &y)?.item()?;
//! for _ in 0..50 {
//!     let loss = cross_entropy(&model.forward(&x)?, &y)?;
//!     let grads = loss.backward()?;
//!     opt.step(&grads)?;
//! }
//! assert!(cross_entropy(&model.forward(&x)?, &y)?.item()? < first);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Lets `#[derive(Module)]` name this crate as `::strata` inside its own tests and examples,
// exactly as it does in a user's crate.
extern crate self as strata;

pub use strata_core as core;
pub use strata_data as data;
/// Data-parallel training over MPI (`strata-distributed`, feature `mpi`).
#[cfg(feature = "mpi")]
pub use strata_distributed as distributed;
pub use strata_nn as nn;
pub use strata_train as train;

/// The names most programs need.
pub mod prelude {
    pub use strata_core::{manual_seed, no_grad, DType, Generator, Gradients, Tensor};
    pub use strata_data::{
        random_split, train_val_split, Batch, CharText, CharVocab, CharWindows, DataLoader,
        Dataset, Example, Mnist, SeriesWindows, Split, TensorDataset, TimeSeries,
    };
    pub use strata_nn::checkpoint::{
        load_safetensors, load_safetensors_prefix, load_weights, read_safetensors, rename_prefix,
        save_safetensors, select_prefix, TrainingCheckpoint,
    };
    pub use strata_nn::loss::{
        binary_cross_entropy_with_logits, cross_entropy, l1_loss, mse_loss, nll_loss, Reduction,
    };
    pub use strata_nn::{
        Adagrad, Adam, AdamW, AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Buffer,
        Conv1d, Conv2d, ConvOptions, Dropout, Embedding, Flatten, Forward, GlobalAvgPool2d,
        LayerNorm, Linear, LstmState, MaxPool2d, Module, ModuleExt, Optimizer, Padding, Param,
        RMSprop, RNNNonlinearity, ReLU, RecurrentConfig, Sequential, Sigmoid, Tanh, GELU, GRU,
        LSTM, RNN, SGD,
    };
    pub use strata_train::callbacks::{EarlyStopping, ModelCheckpoint};
    pub use strata_train::metrics::{
        classification_metrics, language_metrics, regression_metrics, Accuracy,
    };
    pub use strata_train::{
        seed_everything, Metric, MonitorConfig, ProgressMode, RunTarget, StepOutput, Trainer,
    };
}
