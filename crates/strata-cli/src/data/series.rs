//! One column of a CSV file as a series, forecast one step ahead.

use super::{sharded, Data};
use crate::config::Config;
use crate::error::CliError;
use std::path::Path;
use strata_data::{Column, DataLoader, Dataset, Missing, SeriesWindows, Shard, TimeSeries};

/// A series forecast one step ahead: windows of `model.input[0]` values, chronological
/// splits (train, validation, test at the end), standardised with the training part's
/// statistics.
pub fn load(config: &Config, path: &Path, shard: Option<Shard>) -> Result<Data, CliError> {
    let window = match config.model.input.as_slice() {
        [w, 1] => *w,
        other => {
            return Err(CliError::usage(format!(
                "model.input: a series is read as windows [steps, 1], got {other:?}"
            )))
        }
    };
    let column = match &config.data.column {
        Some(name) => Column::name(name),
        None => Column::Index(-1),
    };
    let raw = TimeSeries::load_csv(path, &column, Missing::Interpolate)?;
    let n = raw.len();
    let test_n = ((n as f64) * config.data.test_fraction.unwrap_or(0.2)).round() as usize;
    let rest = n - test_n;
    let val_n = match config.data.validation.unwrap_or(0.2) {
        v if v >= 1.0 => v as usize,
        v => ((rest as f64) * v).round() as usize,
    };
    let train_end = rest.saturating_sub(val_n);
    if train_end <= window + 1 || val_n == 0 || test_n == 0 {
        return Err(CliError::usage(format!(
            "data: {n} values leave too little for windows of {window} in the training, \
             validation and test parts ({train_end}, {val_n}, {test_n})"
        )));
    }
    let stats = TimeSeries::from_values(raw.values()[..train_end].to_vec())?.stats();
    let z = raw.standardize(stats);
    // Each later part starts `window` values early so its first target is its first value.
    let part = |from: usize, to: usize| -> Result<SeriesWindows, CliError> {
        Ok(TimeSeries::from_values(z.values()[from..to].to_vec())?.windows(window, 1, 1)?)
    };
    let (train, val, test) = (
        part(0, train_end)?,
        part(train_end - window, rest)?,
        part(rest - window, n)?,
    );
    let last_value_mse = {
        let v = &z.values()[rest - window..n];
        let errs: Vec<f64> = (window..v.len())
            .map(|t| (v[t] - v[t - 1]) as f64)
            .collect();
        errs.iter().map(|e| e * e).sum::<f64>() / errs.len() as f64
    };
    let batch = config.training.batch_size;
    let relative = config.data.relative;
    let loader = |ds: SeriesWindows, shuffle: bool| {
        // Relative windows: subtracting the last value from inputs and target leaves the
        // squared error of a forecast unchanged, and the baseline is a forecast of 0.
        let ds: Box<dyn Dataset> = if relative {
            Box::new(ds.map(move |mut ex| {
                let last = ex.input.narrow(0, window - 1, 1)?;
                ex.target = ex.target.sub(&last.reshape(&[1])?)?;
                ex.input = ex.input.sub(&last)?;
                Ok(ex)
            }))
        } else {
            Box::new(ds)
        };
        let l = DataLoader::new(ds)
            .batch_size(batch)
            .workers(config.data.workers);
        if shuffle {
            l.shuffle(config.training.seed)
        } else {
            l
        }
    };
    Ok(Data {
        train: Box::new(sharded(loader(train, true), shard)),
        val: Some(Box::new(loader(val, false))),
        test: Some(Box::new(loader(test, false))),
        num_classes: 0,
        class_names: None,
        image_shape: None,
        baseline_mse: Some(last_value_mse),
        vocab: None,
    })
}
