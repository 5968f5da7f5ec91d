//! `strata predict`: the top classes, with probabilities, for images or CSV rows.

use crate::commands::{config_with, model};
use crate::config::{Config, DatasetKind};
use crate::error::CliError;
use std::path::{Path, PathBuf};
use strata_core::Tensor;

/// Top classes with probabilities for images (PNG/JPEG) or the rows of CSV files.
pub fn predict(
    config_path: &Path,
    weights: &Path,
    inputs: &[PathBuf],
    top: usize,
) -> Result<(), CliError> {
    let config = config_with(config_path, &[], None, None)?;
    let model = model(&config, None)?;
    strata_nn::checkpoint::load_safetensors(&model, weights, true)?;
    strata_nn::ModuleExt::eval(&model);
    let names = class_names(&config)?;
    for input in inputs {
        let is_csv = input
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let rows = if is_csv {
            csv_rows(&config, input)?
        } else {
            vec![(input.display().to_string(), image_input(&config, input)?)]
        };
        for (label, x) in rows {
            let logits = strata_core::no_grad(|| strata_nn::Forward::forward(&model, &x))?;
            let probs = logits.softmax(1)?.to_vec_f64();
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
            let best: Vec<String> = order
                .iter()
                .take(top.max(1))
                .map(|&c| {
                    let name = names.get(c).cloned().unwrap_or_else(|| c.to_string());
                    format!("{name} ({:.3})", probs[c])
                })
                .collect();
            println!("{label}: {}", best.join(", "));
        }
    }
    Ok(())
}

/// The names of the config's classes, in the model's order.
fn class_names(config: &Config) -> Result<Vec<String>, CliError> {
    let path = Path::new(&config.data.path);
    Ok(match config.data.dataset {
        DatasetKind::Mnist => (0..10).map(|d| d.to_string()).collect(),
        DatasetKind::Cifar10 => crate::data::CIFAR10.iter().map(|s| s.to_string()).collect(),
        DatasetKind::Csv => crate::data::csv_class_names(path)?,
        DatasetKind::ImageFolder => {
            let root = match path.join("train") {
                train if train.is_dir() => train,
                _ => path.to_path_buf(),
            };
            // Scanning only: no image is decoded, so any size serves.
            strata_data::ImageFolder::load(&root, 1, 1)?
                .classes()
                .to_vec()
        }
        DatasetKind::Timeseries => {
            return Err(CliError::usage(
                "predict: a time-series config forecasts values, not classes; use `strata eval`",
            ))
        }
        DatasetKind::Text => {
            return Err(CliError::usage(
                "predict: a text config models characters; use `strata generate`",
            ))
        }
    })
}

/// An image file as the model's input `[1, ...input]`, pixels in [0, 1] normalised as in
/// training. MNIST and CIFAR-10 images must have their data set's size; images for a
/// class-folder model are resized to its input, as in training.
fn image_input(config: &Config, path: &Path) -> Result<Tensor, CliError> {
    let (c, h, w) = match (config.data.dataset, config.model.input.as_slice()) {
        (DatasetKind::Mnist, _) => (1, 28, 28),
        (DatasetKind::Cifar10, _) => (3, 32, 32),
        (_, &[c, h, w]) => (c, h, w),
        (_, other) => {
            return Err(CliError::usage(format!(
                "predict: images need a model input [channels, height, width], got {other:?}"
            )))
        }
    };
    let x = if config.data.dataset == DatasetKind::ImageFolder {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Runtime(format!("{}: cannot read: {e}", path.display())))?;
        strata_data::decode_image(&bytes, path, h, w, c == 1)?
    } else {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::Runtime(format!("{}: cannot read: {e}", path.display())))?;
        let img = strata_data::Picture::decode(&bytes, path)?;
        let (iw, ih) = (img.width(), img.height());
        if (iw, ih) != (w, h) {
            let kind = if c == 1 { "greyscale" } else { "colour" };
            return Err(CliError::Runtime(format!(
                "{}: the image is {iw}x{ih} pixels; the model takes {w}x{h} {kind} images",
                path.display()
            )));
        }
        let img = if c == 1 {
            img.into_grey()
        } else {
            img.into_rgb()
        };
        // Channel-major, as the data sets give them.
        let values: Vec<f32> = img
            .into_planar()
            .iter()
            .map(|&v| v as f32 / 255.0)
            .collect();
        Tensor::from_vec(values, &[c, h, w])?
    };
    let x = match &config.data.normalize {
        Some(n) => {
            use strata_data::transforms::{Normalize, Transform};
            Normalize::new(&n.mean, &n.std)?.apply(&x, &mut strata_core::Generator::new(0))?
        }
        None => x,
    };
    let mut shape = vec![1];
    shape.extend(&config.model.input);
    Ok(x.reshape(&shape)?)
}

/// Each line of a CSV file of features as one input row, standardised as in training.
fn csv_rows(config: &Config, path: &Path) -> Result<Vec<(String, Tensor)>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Runtime(format!("{}: cannot read: {e}", path.display())))?;
    let stats = crate::data::csv_stats(config, Path::new(&config.data.path))?;
    let width: usize = config.model.input.iter().product();
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut values = line
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<Vec<f32>, _>>()
            .map_err(|e| CliError::Runtime(format!("{}: line {}: {e}", path.display(), i + 1)))?;
        if values.len() != width {
            return Err(CliError::Runtime(format!(
                "{}: line {}: {} value(s), the model takes {width}",
                path.display(),
                i + 1,
                values.len()
            )));
        }
        if let Some(s) = &stats {
            s.apply(&mut values)?;
        }
        rows.push((
            format!("{}:{}", path.display(), i + 1),
            Tensor::from_vec(values, &[1, width])?,
        ));
    }
    Ok(rows)
}
