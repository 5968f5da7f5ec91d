//! The `[data]` table: which data set, how it is split, normalised and augmented.

use serde::{Deserialize, Serialize};

/// Which data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// MNIST in IDX files (gzip or not) under `path`.
    Mnist,
    /// A CSV table in scikit-learn's layout (a first line `rows,features,class names...`),
    /// features then the class label.
    Csv,
    /// One column of a CSV file as a series, forecast one step ahead from windows of
    /// `model.input[0]` values: chronological splits (validation, then test, at the end).
    Timeseries,
    /// CIFAR-10 in its binary distribution (`data_batch_1.bin` ... `test_batch.bin`).
    Cifar10,
    /// One folder per class of PNG/JPEG images, resized to `model.input`; `train/` and
    /// `test/` subfolders when present, else a seeded split.
    ImageFolder,
    /// A text file, modelled character by character: windows of `model.input[0]`
    /// characters, each predicting the next character at every step.
    Text,
}

impl DatasetKind {
    /// The name as written in a config.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::Csv => "csv",
            DatasetKind::Timeseries => "timeseries",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::ImageFolder => "image_folder",
            DatasetKind::Text => "text",
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub dataset: DatasetKind,
    /// A folder (MNIST) or a file (CSV).
    pub path: String,
    /// Examples held out of the training data for validation: a count (≥ 1) or a fraction
    /// (below 1). Default: none for MNIST and CIFAR-10 (their test split validates), 0.2
    /// for CSV and time series, 0.1 of a text (its end).
    pub validation: Option<f64>,
    /// CSV, time series, image folders without `train/` and `test/`: the fraction kept as
    /// the test set (default 0.2). Text: a test part at the very end (default none).
    pub test_fraction: Option<f64>,
    /// CSV: standardise each feature with the training rows' mean and deviation (default
    /// true).
    #[serde(default = "yes")]
    pub standardize: bool,
    /// Images: subtract `mean` and divide by `std`, per channel.
    pub normalize: Option<Normalization>,
    /// Images: random changes to each training image (never to validation or test ones).
    pub augment: Option<AugmentConfig>,
    /// Time series: the CSV column to read (default: the last).
    pub column: Option<String>,
    /// Text: a training window starts every `stride` characters (default: the window
    /// length, so windows do not overlap).
    pub stride: Option<usize>,
    /// Time series: windows relative to their last value (inputs and target minus it), so
    /// a trending series stays in the range the network saw in training (default true).
    #[serde(default = "yes")]
    pub relative: bool,
    /// MNIST: keep only these classes (labels are kept as they are).
    pub classes: Option<Vec<i64>>,
    /// MNIST: keep only the first N training examples of each class.
    pub per_class: Option<usize>,
    /// Threads building batches (default 1).
    #[serde(default = "one")]
    pub workers: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

/// Random augmentation of training images, applied in this order (all optional):
/// `affine`, `crop`, `flip`, `color`, `noise`, `erasing`; then normalisation.
///
/// ```toml
/// [data.augment]
/// affine = { degrees = 10, translate = 0.1, scale = [0.9, 1.1] }
/// erasing = { p = 0.5, scale = [0.02, 0.15] }
/// ```
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    pub affine: Option<AffineConfig>,
    pub crop: Option<CropConfig>,
    /// Mirror left to right with probability 0.5.
    #[serde(default)]
    pub flip: bool,
    pub color: Option<ColorConfig>,
    /// Gaussian noise of this standard deviation (values clipped to [0, 1]).
    pub noise: Option<f64>,
    pub erasing: Option<ErasingConfig>,
}

/// A random rotation (within ±`degrees`), translation (up to `translate` of the size),
/// scaling (within `scale`) and shear (within ±`shear` degrees).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AffineConfig {
    #[serde(default)]
    pub degrees: f64,
    #[serde(default)]
    pub translate: f64,
    pub scale: Option<[f64; 2]>,
    #[serde(default)]
    pub shear: f64,
}

/// A random crop of the image's own size after padding each side by `padding` pixels.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CropConfig {
    pub padding: usize,
}

/// Random brightness and contrast changes (factors within 1 ± the value).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ColorConfig {
    #[serde(default)]
    pub brightness: f64,
    #[serde(default)]
    pub contrast: f64,
}

/// Random erasing (Zhong et al. 2017): with probability `p`, a rectangle covering a
/// fraction within `scale` of the image is set to `value`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErasingConfig {
    pub p: f64,
    pub scale: Option<[f64; 2]>,
    #[serde(default)]
    pub value: f32,
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
