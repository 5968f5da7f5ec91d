//! A text file modelled character by character: windows of `model.input[0]` characters,
//! the target at every step being the next character. The text is split in reading order
//! (training, then validation, then an optional test part at the end), so no held-out
//! window overlaps a training one.

use super::{data_path, sharded, Data};
use crate::config::Config;
use crate::error::CliError;
use std::path::Path;
use std::sync::Arc;
use strata_data::{CharText, CharVocab, CharWindows, DataLoader, Dataset, Shard, Subset};

/// The window length a text config reads: `model.input = [steps]`.
fn steps(config: &Config) -> Result<usize, CliError> {
    match config.model.input.as_slice() {
        [t] => Ok(*t),
        other => Err(CliError::usage(format!(
            "model.input: a text is read as windows of character ids [steps], got {other:?}"
        ))),
    }
}

/// The characters of the config's text, in the order the model numbers them.
pub fn vocab(config: &Config, path: Option<&Path>) -> Result<CharVocab, CliError> {
    Ok(CharText::load(data_path(config, path))?.vocab().clone())
}

/// A part of the text given as a count of characters (≥ 1) or a fraction of it.
fn part(value: f64, n: usize) -> usize {
    if value >= 1.0 {
        (value as usize).min(n)
    } else {
        ((n as f64) * value).round() as usize
    }
}

pub fn load(
    config: &Config,
    path: &Path,
    train_limit: Option<usize>,
    shard: Option<Shard>,
) -> Result<Data, CliError> {
    let steps = steps(config)?;
    let text = CharText::load(path)?;
    let ids = Arc::new(text.ids().to_vec());
    let n = ids.len();
    let test_n = config.data.test_fraction.map_or(0, |t| part(t, n));
    let val_n = part(config.data.validation.unwrap_or(0.1), n);
    let train_end = n.saturating_sub(test_n + val_n);
    let stride = config.data.stride.unwrap_or(steps);
    if stride == 0 {
        return Err(CliError::usage("data.stride: must be at least 1"));
    }
    let windows = |from: usize, to: usize, what: &str| -> Result<CharWindows, CliError> {
        CharWindows::new(ids.clone(), from..to, steps, stride).map_err(|e| {
            CliError::usage(format!(
                "data: the {what} part of {} (characters {from}..{to}) cannot hold a window of {steps}: {e}",
                path.display()
            ))
        })
    };
    let train = windows(0, train_end, "training")?;
    let val = windows(train_end, train_end + val_n, "validation")?;
    let test = (test_n > 0)
        .then(|| windows(n - test_n, n, "test"))
        .transpose()?;
    let train: Box<dyn Dataset> = match train_limit {
        Some(k) if k < train.len() => Box::new(Subset::range(Arc::new(train), 0..k)?),
        _ => Box::new(train),
    };
    let batch = config.training.batch_size;
    let eval = |w: CharWindows| -> Box<dyn strata_train::Batches> {
        Box::new(DataLoader::new(w).batch_size(batch))
    };
    Ok(Data {
        train: Box::new(sharded(
            DataLoader::new(train)
                .batch_size(batch)
                .shuffle(config.training.seed)
                .workers(config.data.workers),
            shard,
        )),
        val: Some(eval(val)),
        test: test.map(eval),
        num_classes: text.vocab().len(),
        class_names: None,
        image_shape: None,
        baseline_mse: None,
        vocab: Some(text.vocab().clone()),
    })
}
