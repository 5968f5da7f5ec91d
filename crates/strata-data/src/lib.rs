//! # strata-data
//!
//! Datasets, data loading, file formats and data augmentation for the Strata deep learning
//! framework (depends on `strata-core` only).
//!
//! - [`Dataset`]: a length and one [`Example`] (input and target tensors) per index, with
//!   ready-made [`TensorDataset`], [`Subset`], [`Concat`], [`Mapped`], [`Transformed`] and
//!   seeded splits ([`random_split`], [`train_val_split`]).
//! - [`DataLoader`]: batches ([`Batch`]), seeded shuffling per epoch, `drop_last`, and
//!   background workers that prefetch batches in a fixed order, so results are bit-identical
//!   for any number of workers.
//! - Formats, each a parser over bytes with errors that name the file and the line, record
//!   or offset: [`IdxArray`] and [`Mnist`] (IDX, raw or gzip), [`Cifar`] (CIFAR-10/100
//!   binary), [`CsvDataset`] (numeric tables), [`ImageFolder`] (PNG/JPEG class folders),
//!   [`CharText`] (character-level language modelling), [`TimeSeries`] (forecasting
//!   windows).
//! - [`transforms`]: seeded augmentation of `[C, H, W]` images: crops, flips, rotations,
//!   affine maps, colour jitter, noise, erasing, normalisation.
//!
//! ```
//! # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
//! use strata_data::transforms::{Compose, Normalize, RandomCrop, RandomRotation};
//! use strata_data::{train_val_split, DataLoader, Dataset, Mnist, Split};
//!
//! // MNIST ships with the repository (gzip IDX files in data/mnist).
//! let train = Mnist::load("data/mnist", Split::Test)?; // the smaller split, for the doctest
//! let (train, val) = train_val_split(train, 0.1, 42)?;
//!
//! let augment = Compose::new()
//!     .then(RandomCrop::new(28, 2))
//!     .then(RandomRotation::new(10.0)?)
//!     .then(Normalize::new(&[0.1307], &[0.3081])?);
//! let loader = DataLoader::new(train.transform(augment))
//!     .batch_size(128)
//!     .shuffle(7)
//!     .workers(2);
//!
//! for epoch in 0..1 {
//!     for batch in loader.epoch(epoch) {
//!         let batch = batch?;
//!         assert_eq!(batch.inputs.shape()[1..], [1, 28, 28]);
//!         assert_eq!(batch.targets.dtype(), strata_core::DType::I64);
//!         // model.forward(&batch.inputs)?, loss, backward, step...
//!     }
//! }
//! assert_eq!(val.len(), 1000);
//! # Ok::<(), strata_data::DataError>(())
//! ```

mod collate;
mod dataset;
mod datasets;
mod error;
mod formats;
mod io;
mod loader;
mod seeding;
mod shard;
pub mod transforms;

pub use collate::{collate, stack};
pub use dataset::{check_index, Dataset, Example};
pub use datasets::{
    random_split, train_val_split, Concat, Mapped, Subset, TensorDataset, Transformed,
};
pub use error::{DataError, Result};
pub use formats::{
    decode_image, CharText, CharVocab, CharWindows, Cifar, CifarKind, Column, CsvDataset,
    CsvOptions, FeatureStats, Header, IdxArray, IdxData, ImageFolder, Missing, Mnist, Picture,
    SeriesStats, SeriesWindows, Split, Target, TextStreams, TimeSeries,
};
pub use loader::{Batch, DataLoader, Epoch};
pub use seeding::{epoch_order, sample_generator};
pub use shard::{batch_ranges, Shard};
pub use transforms::Transform;
