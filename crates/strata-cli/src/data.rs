//! The data of a config: training, validation and test loaders.

use crate::config::{Config, DatasetKind};
use crate::error::CliError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_core::Tensor;
use strata_data::{
    Column, CsvDataset, CsvOptions, DataLoader, Dataset, FeatureStats, Header, Missing, Mnist,
    SeriesWindows, Split, Subset, TimeSeries,
};
use strata_train::{validation_split, Batches};

/// A config's data, ready for the trainer.
pub struct Data {
    pub train: Box<dyn Batches>,
    pub val: Option<Box<dyn Batches>>,
    pub test: Box<dyn Batches>,
    pub num_classes: usize,
    pub class_names: Option<Vec<String>>,
    /// One input as an image, for the report's pictures.
    pub image_shape: Option<Vec<usize>>,
    /// Time series: the test MSE of repeating each window's last value (standardised
    /// units), the baseline a forecaster has to beat.
    pub baseline_mse: Option<f64>,
}

type Shared = Box<dyn Dataset>;

/// Loads the data of `config`, from `path` when given (`--data`), keeping the first
/// `train_limit` training examples when given.
pub fn load(
    config: &Config,
    path: Option<&Path>,
    train_limit: Option<usize>,
) -> Result<Data, CliError> {
    let path = path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(&config.data.path));
    if config.data.dataset == DatasetKind::Timeseries {
        return series(config, &path);
    }
    let (train, test, num_classes, class_names, image_shape) = match config.data.dataset {
        DatasetKind::Csv => csv(config, &path)?,
        _ => mnist(config, &path)?,
    };
    let train: Shared = match train_limit {
        Some(n) if n < train.len() => Box::new(Subset::range(Arc::new(train), 0..n)?),
        _ => train,
    };
    let batch = config.training.batch_size;
    let seed = config.training.seed;
    let loader = DataLoader::new(train)
        .batch_size(batch)
        .shuffle(seed)
        .workers(config.data.workers);
    let validation = config
        .data
        .validation
        .or((config.data.dataset == DatasetKind::Csv).then_some(0.2));
    let (train, val): (Box<dyn Batches>, Option<Box<dyn Batches>>) = match validation {
        None => (Box::new(loader), None),
        Some(v) => {
            let n = loader.dataset().len() as f64;
            let fraction = if v >= 1.0 { v / n } else { v };
            if !(fraction > 0.0 && fraction < 1.0) {
                return Err(CliError::usage(format!(
                    "data.validation: {v} example(s) cannot be held out of {n} training example(s)"
                )));
            }
            let (t, v) = validation_split(&loader, fraction, seed.wrapping_add(1))?;
            (Box::new(t), Some(Box::new(v)))
        }
    };
    let test = Box::new(DataLoader::new(test).batch_size(batch.max(256)));
    Ok(Data {
        train,
        val,
        test,
        num_classes,
        class_names,
        image_shape,
        baseline_mse: None,
    })
}

type Loaded = (
    Shared,
    Shared,
    usize,
    Option<Vec<String>>,
    Option<Vec<usize>>,
);

fn mnist(config: &Config, path: &Path) -> Result<Loaded, CliError> {
    let flat = match config.model.input.as_slice() {
        [784] => true,
        [1, 28, 28] => false,
        other => {
            return Err(CliError::usage(format!(
                "model.input: MNIST gives [1, 28, 28] images or [784] flattened, got {other:?}"
            )))
        }
    };
    let norm = match &config.data.normalize {
        None => None,
        Some(n) if n.mean.len() == 1 && n.std.len() == 1 && n.std[0] > 0.0 => Some((n.mean[0], n.std[0])),
        Some(n) => {
            return Err(CliError::usage(format!(
                "data.normalize: MNIST has one channel: give one mean and one std > 0, got mean {:?} std {:?}",
                n.mean, n.std
            )))
        }
    };
    let classes = config.data.classes.clone();
    let split = |s: Split| -> Result<Shared, CliError> {
        let ds = Mnist::load(path, s)?;
        let per_class = if s == Split::Train {
            config.data.per_class
        } else {
            None
        };
        let keep = chosen(ds.labels(), classes.as_deref(), per_class);
        let ds = if flat { ds.flattened() } else { ds };
        let ds: Shared = match norm {
            None => Box::new(ds),
            Some((m, sd)) => Box::new(ds.map(move |mut ex| {
                ex.input = ex.input.sub_scalar(m as f64)?.div_scalar(sd as f64)?;
                Ok(ex)
            })),
        };
        Ok(match keep {
            None => ds,
            Some(idx) if idx.is_empty() => {
                return Err(CliError::usage(format!(
                    "data.classes: no {s:?} example has one of the classes {:?}",
                    classes.as_deref().unwrap_or_default()
                )))
            }
            Some(idx) => Box::new(Subset::new(Arc::new(ds), idx)?),
        })
    };
    let names = (0..10).map(|d| d.to_string()).collect();
    Ok((
        split(Split::Train)?,
        split(Split::Test)?,
        10,
        Some(names),
        Some(vec![1, 28, 28]),
    ))
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

fn csv(config: &Config, path: &Path) -> Result<Loaded, CliError> {
    let names = csv_class_names(path)?;
    let options = CsvOptions::new().skip_lines(1).header(Header::Absent);
    let table = CsvDataset::load(path, &options)?;
    let features = table.num_features();
    if config.model.input != [features] {
        return Err(CliError::usage(format!(
            "model.input: {} has {features} feature(s), so the input is [{features}], got {:?}",
            path.display(),
            config.model.input
        )));
    }
    let num_classes = table.num_classes();
    let n = table.len();
    let test_n = ((n as f64) * config.data.test_fraction.unwrap_or(0.2)).round() as usize;
    let order = strata_core::Generator::new(config.training.seed).permutation(n);
    let (train_idx, test_idx) = (order[test_n..].to_vec(), order[..test_n].to_vec());
    let table = if config.data.standardize {
        let stats = training_stats(&table, &train_idx)?;
        table.standardize(&stats)?
    } else {
        table
    };
    let table = Arc::new(table);
    let class_names = (names.len() == num_classes).then_some(names);
    Ok((
        Box::new(Subset::new(table.clone(), train_idx)?),
        Box::new(Subset::new(table, test_idx)?),
        num_classes,
        class_names,
        None,
    ))
}

/// A series forecast one step ahead: windows of `model.input[0]` values, chronological
/// splits (train, validation, test at the end), standardised with the training part's
/// statistics.
fn series(config: &Config, path: &Path) -> Result<Data, CliError> {
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
        train: Box::new(loader(train, true)),
        val: Some(Box::new(loader(val, false))),
        test: Box::new(loader(test, false)),
        num_classes: 0,
        class_names: None,
        image_shape: None,
        baseline_mse: Some(last_value_mse),
    })
}

/// The class names of a table in scikit-learn's layout: its first line is
/// `rows,features,class names...` (no header).
pub fn csv_class_names(path: &Path) -> Result<Vec<String>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| {
        CliError::Data(strata_data::DataError::Io {
            path: path.to_path_buf(),
            source,
        })
    })?;
    let first = text.lines().next().unwrap_or_default();
    Ok(first
        .split(',')
        .skip(2)
        .map(|s| s.trim().to_string())
        .collect())
}

/// The statistics `csv` standardises a table with (for `predict` on new rows), or `None`
/// when the config does not standardise.
pub fn csv_stats(config: &Config, path: &Path) -> Result<Option<FeatureStats>, CliError> {
    if !config.data.standardize {
        return Ok(None);
    }
    let table = CsvDataset::load(
        path,
        &CsvOptions::new().skip_lines(1).header(Header::Absent),
    )?;
    let n = table.len();
    let test_n = ((n as f64) * config.data.test_fraction.unwrap_or(0.2)).round() as usize;
    let order = strata_core::Generator::new(config.training.seed).permutation(n);
    Ok(Some(training_stats(&table, &order[test_n..])?))
}

/// Mean and standard deviation of each feature over the training rows only, so nothing
/// of the test rows leaks into training.
fn training_stats(table: &CsvDataset, rows: &[usize]) -> Result<FeatureStats, CliError> {
    let x: Tensor = table.features_tensor()?;
    let width = table.num_features();
    let values = x.to_vec::<f32>()?;
    let (mut mean, mut std) = (vec![0f64; width], vec![0f64; width]);
    for &r in rows {
        for (j, m) in mean.iter_mut().enumerate() {
            *m += values[r * width + j] as f64;
        }
    }
    let n = rows.len().max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    for &r in rows {
        for (j, s) in std.iter_mut().enumerate() {
            *s += (values[r * width + j] as f64 - mean[j]).powi(2);
        }
    }
    Ok(FeatureStats {
        mean: mean.iter().map(|&m| m as f32).collect(),
        // A constant feature keeps its values (divided by 1).
        std: std
            .iter()
            .map(|&s| match (s / n).sqrt() as f32 {
                sd if sd > 0.0 => sd,
                _ => 1.0,
            })
            .collect(),
    })
}
