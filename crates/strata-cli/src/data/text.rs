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

/// Windows in stream order, for stateful layers: `windows` consecutive windows cut
/// into `streams` runs of equal length (the rest left out), position `k·streams + s`
/// holding window `k` of run `s`. Batches of `streams / processes` rows then continue each
/// other row by row, on every process: the loader's shard `r` of each global batch is runs
/// `r·batch ..` (see `strata_data::batch_ranges`).
fn stream_order(windows: usize, streams: usize) -> Vec<usize> {
    let per_stream = windows / streams.max(1);
    (0..per_stream)
        .flat_map(|k| (0..streams).map(move |s| s * per_stream + k))
        .collect()
}

/// The loader, shuffled by `seed` when there is one.
fn shuffled<D: Dataset + 'static>(loader: DataLoader<D>, seed: Option<u64>) -> DataLoader<D> {
    match seed {
        Some(seed) => loader.shuffle(seed),
        None => loader,
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
    let batch = config.training.batch_size;
    let stateful = config.model.stateful();
    let train: Box<dyn Dataset> = if stateful {
        let world = shard.map_or(1, |s| s.world);
        let mut order = stream_order(train.len(), batch * world);
        if order.is_empty() {
            return Err(CliError::usage(format!(
                "data: a stateful layer reads the training part of {} as training.batch_size × \
                 processes = {} contiguous streams, but it holds only {} window(s) of {steps} \
                 characters: lower training.batch_size",
                path.display(),
                batch * world,
                train.len()
            )));
        }
        order.truncate(train_limit.unwrap_or(usize::MAX));
        Box::new(Subset::new(Arc::new(train), order)?)
    } else {
        match train_limit {
            Some(k) if k < train.len() => Box::new(Subset::range(Arc::new(train), 0..k)?),
            _ => Box::new(train),
        }
    };
    // Evaluation reads its part as streams too (as many as the batch has rows, fewer for a
    // short part), so a stateful model is measured the way it reads.
    let eval = |w: CharWindows| -> Result<Box<dyn strata_train::Batches>, CliError> {
        if !stateful {
            return Ok(Box::new(DataLoader::new(w).batch_size(batch)));
        }
        let streams = batch.min(w.len());
        let order = stream_order(w.len(), streams);
        Ok(Box::new(
            DataLoader::new(Subset::new(Arc::new(w), order)?).batch_size(streams),
        ))
    };
    Ok(Data {
        train: Box::new(sharded(
            shuffled(
                DataLoader::new(train)
                    .batch_size(batch)
                    .workers(config.data.workers),
                (!stateful).then_some(config.training.seed),
            ),
            shard,
        )),
        val: Some(eval(val)?),
        test: test.map(eval).transpose()?,
        num_classes: text.vocab().len(),
        class_names: None,
        image_shape: None,
        baseline_mse: None,
        vocab: Some(text.vocab().clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_take_windows_in_turn() {
        // 7 windows, 2 streams of 3 (window 6 left out): 0 1 2 | 3 4 5.
        assert_eq!(stream_order(7, 2), [0, 3, 1, 4, 2, 5]);
        assert!(stream_order(3, 4).is_empty());
    }

    /// The data of a stateful config over 1,000 characters whose ids count 0, 1, 2, ...
    /// (26 letters over and over: a character's id is its letter's place), for `shard`.
    fn abc(dir: &Path, shard: Option<Shard>) -> Result<Data, CliError> {
        let text: String = (0..1000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
        let path = dir.join("abc.txt");
        std::fs::write(&path, text).unwrap();
        let toml = format!(
            r#"
[data]
dataset = "text"
path = "{}"
validation = 0.2
[model]
input = [5]
layers = [{{ type = "embedding", dim = 2 }}, {{ type = "gru", hidden = 3, output = "sequence", stateful = true }}, {{ type = "linear" }}]
[training]
batch_size = 4
"#,
            path.display()
        );
        let config = crate::config::parse(&toml, "t.toml", &[]).unwrap();
        load(&config, &path, None, shard)
    }

    /// Each batch's rows of input ids, checking that each target is the next input.
    fn rows(batches: &dyn strata_train::Batches) -> Vec<Vec<Vec<i64>>> {
        let mut out = Vec::new();
        for batch in batches.batches(0) {
            let batch = batch.unwrap();
            let (b, t) = (batch.inputs.shape()[0], batch.inputs.shape()[1]);
            let ids = batch.inputs.to_vec::<i64>().unwrap();
            let targets = batch.targets.to_vec::<i64>().unwrap();
            for r in 0..b {
                assert_eq!(ids[r * t + 1..(r + 1) * t], targets[r * t..(r + 1) * t - 1]);
            }
            out.push(ids.chunks(t).map(|c| c.to_vec()).collect());
        }
        out
    }

    #[test]
    fn stateful_training_batches_continue_each_other_row_by_row() {
        let dir = std::env::temp_dir().join(format!("strata-streams-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let next = |c: i64| (c + 1) % 26;
        let data = abc(&dir, None).unwrap();
        let single = rows(&*data.train);
        // 800 training characters: 159 windows of 5, 4 streams of 39 windows.
        assert_eq!(single.len(), 39);
        for (k, batch) in single.iter().enumerate() {
            assert_eq!(batch.len(), 4);
            for (s, row) in batch.iter().enumerate() {
                // Stream s starts at character 39·5·s; batch k is its k-th window.
                assert_eq!(
                    row[0],
                    ((39 * 5 * s + 5 * k) % 26) as i64,
                    "batch {k} row {s}"
                );
                if k > 0 {
                    let before = &single[k - 1][s];
                    assert_eq!(row[0], next(before[4]), "batch {k} row {s}");
                }
            }
        }
        // Two processes: 8 streams of 19 windows, rank 1 holds streams 4..8.
        let rank1 = rows(&*abc(&dir, Some(Shard { rank: 1, world: 2 })).unwrap().train);
        assert_eq!(rank1.len(), 19);
        for (k, batch) in rank1.iter().enumerate() {
            for (b, row) in batch.iter().enumerate() {
                assert_eq!(row[0], ((19 * 5 * (4 + b) + 5 * k) % 26) as i64);
            }
        }
        // Validation (the last 200 characters: 39 windows) reads 4 streams of 9 windows.
        let val = rows(&**data.val.as_ref().unwrap());
        assert_eq!(val.len(), 9);
        for (k, batch) in val.iter().enumerate() {
            for (s, row) in batch.iter().enumerate() {
                assert_eq!(row[0], ((800 + 9 * 5 * s + 5 * k) % 26) as i64);
            }
        }
        // A text too short for the streams says so.
        let err = abc(&dir, Some(Shard { rank: 0, world: 40 })).err().unwrap();
        assert!(err.to_string().contains("160 contiguous streams"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
