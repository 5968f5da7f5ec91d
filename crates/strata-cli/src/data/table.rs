//! Tables in scikit-learn's CSV layout: features then a class label, standardised with
//! the training rows' statistics.

use super::{Parts, Shared};
use crate::config::Config;
use crate::error::CliError;
use std::path::Path;
use std::sync::Arc;
use strata_core::Tensor;
use strata_data::{CsvDataset, CsvOptions, Dataset, FeatureStats, Header, Subset};

/// The training and test rows of a table (`data.test_fraction` of it, seeded).
pub fn load(config: &Config, path: &Path) -> Result<Parts, CliError> {
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
    let train: Shared = Box::new(Subset::new(table.clone(), train_idx)?);
    let test: Shared = Box::new(Subset::new(table, test_idx)?);
    Ok(Parts {
        train,
        test,
        num_classes,
        class_names,
        image_shape: None,
        train_transform: None,
        eval_transform: None,
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
