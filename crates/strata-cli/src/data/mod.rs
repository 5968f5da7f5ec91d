//! The data of a config: training, validation and test loaders.

mod images;
mod series;
mod table;
mod text;

pub use images::CIFAR10;
pub use table::{csv_class_names, csv_stats};
pub use text::vocab;

use crate::config::{Config, DatasetKind};
use crate::error::CliError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_data::transforms::Compose;
use strata_data::{CharVocab, DataLoader, Dataset, Shard, Subset};
use strata_train::Batches;

/// A config's data, ready for the trainer.
pub struct Data {
    pub train: Box<dyn Batches>,
    pub val: Option<Box<dyn Batches>>,
    /// None for a text without a test part: its validation part is the held-out figure.
    pub test: Option<Box<dyn Batches>>,
    pub num_classes: usize,
    pub class_names: Option<Vec<String>>,
    /// One input as an image, for the report's pictures.
    pub image_shape: Option<Vec<usize>>,
    /// Time series: the test MSE of repeating each window's last value (standardised
    /// units), the baseline a forecaster has to beat.
    pub baseline_mse: Option<f64>,
    /// Text: the characters the model reads and writes.
    pub vocab: Option<CharVocab>,
}

type Shared = Box<dyn Dataset>;

/// The training and test examples of a classification data set, before batching.
struct Parts {
    train: Shared,
    test: Shared,
    num_classes: usize,
    class_names: Option<Vec<String>>,
    image_shape: Option<Vec<usize>>,
    /// Applied to training inputs only (augmentation, then what `eval_transform` does).
    train_transform: Option<Arc<Compose>>,
    /// Applied to validation and test inputs (normalisation, flattening).
    eval_transform: Option<Arc<Compose>>,
}

/// The path of the data: `--data` when given, else the config's.
fn data_path(config: &Config, path: Option<&Path>) -> PathBuf {
    path.map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&config.data.path))
}

/// Loads the data of `config`, from `path` when given (`--data`), keeping the first
/// `train_limit` training examples when given; with a `shard` (data-parallel training)
/// the training loader gives this rank's share of each batch.
pub fn load(
    config: &Config,
    path: Option<&Path>,
    train_limit: Option<usize>,
    shard: Option<Shard>,
) -> Result<Data, CliError> {
    let path = data_path(config, path);
    let parts = match config.data.dataset {
        DatasetKind::Timeseries => return series::load(config, &path, shard),
        DatasetKind::Text => return text::load(config, &path, train_limit, shard),
        DatasetKind::Csv => table::load(config, &path)?,
        DatasetKind::Mnist | DatasetKind::Cifar10 | DatasetKind::ImageFolder => {
            images::load(config, &path)?
        }
    };
    let train: Arc<dyn Dataset> = match train_limit {
        Some(n) if n < parts.train.len() => Arc::new(Subset::range(Arc::new(parts.train), 0..n)?),
        _ => Arc::from(parts.train),
    };
    let validation = config
        .data
        .validation
        .or((config.data.dataset == DatasetKind::Csv).then_some(0.2));
    let seed = config.training.seed;
    // Split before transforming, so validation images are never augmented.
    let (train, val): (Shared, Option<Shared>) = match validation {
        None => (Box::new(train), None),
        Some(v) => {
            let n = train.len() as f64;
            let fraction = if v >= 1.0 { v / n } else { v };
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(CliError::usage(format!(
                    "data.validation: {v} example(s) cannot be held out of {n} training example(s)"
                )));
            }
            let (t, v) = strata_data::train_val_split(train, fraction, seed.wrapping_add(1))?;
            (Box::new(t), Some(Box::new(v)))
        }
    };
    let batch = config.training.batch_size;
    let workers = config.data.workers;
    let transformed = |ds: Shared, t: &Option<Arc<Compose>>| -> Shared {
        match t {
            Some(t) => Box::new(ds.transform(t.clone())),
            None => ds,
        }
    };
    let eval_loader = |ds: Shared| -> Box<dyn Batches> {
        Box::new(
            DataLoader::new(transformed(ds, &parts.eval_transform))
                .batch_size(batch.max(256))
                .workers(workers),
        )
    };
    Ok(Data {
        train: Box::new(sharded(
            DataLoader::new(transformed(train, &parts.train_transform))
                .batch_size(batch)
                .shuffle(seed)
                .workers(workers),
            shard,
        )),
        val: val.map(eval_loader),
        test: Some(eval_loader(parts.test)),
        num_classes: parts.num_classes,
        class_names: parts.class_names,
        image_shape: parts.image_shape,
        baseline_mse: None,
        vocab: None,
    })
}

/// The loader, giving only this rank's share of each batch when training is data-parallel.
fn sharded<D: Dataset + 'static>(loader: DataLoader<D>, shard: Option<Shard>) -> DataLoader<D> {
    match shard {
        Some(Shard { rank, world }) => loader.shard(rank, world),
        None => loader,
    }
}

/// The number of classes of a config's data (the vocabulary's size for text), found
/// without loading the examples: what a linear layer's `out` and an embedding's `vocab`
/// default to.
pub fn num_classes(config: &Config, path: Option<&Path>) -> Result<Option<usize>, CliError> {
    let path = data_path(config, path);
    Ok(match config.data.dataset {
        DatasetKind::Mnist | DatasetKind::Cifar10 => Some(10),
        DatasetKind::Csv => Some(csv_class_names(&path)?.len()).filter(|&n| n > 0),
        DatasetKind::ImageFolder => {
            let root = match path.join("train") {
                train if train.is_dir() => train,
                _ => path,
            };
            // Scanning only: no image is decoded, so any size serves.
            Some(strata_data::ImageFolder::load(&root, 1, 1)?.classes().len())
        }
        DatasetKind::Text => Some(vocab(config, Some(&path))?.len()),
        DatasetKind::Timeseries => None,
    })
}

/// The examples to keep: those of `classes`, at most `per_class` of each, in order; `None`
/// to keep all.
fn chosen(labels: &[u8], classes: Option<&[i64]>, per_class: Option<usize>) -> Option<Vec<usize>> {
    if classes.is_none() && per_class.is_none() {
        return None;
    }
    let mut seen = [0usize; 256];
    let keep = labels
        .iter()
        .enumerate()
        .filter(|&(_, &l)| classes.is_none_or(|c| c.contains(&(l as i64))))
        .filter(|&(_, &l)| {
            seen[l as usize] += 1;
            per_class.is_none_or(|n| seen[l as usize] <= n)
        })
        .map(|(i, _)| i)
        .collect();
    Some(keep)
}
