//! [`Mnist`]: MNIST and Fashion-MNIST (the same IDX layout and file names).

use super::idx::{IdxArray, IdxData};
use super::U8_TO_UNIT;
use crate::{check_index, DataError, Dataset, Example, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_core::Tensor;

/// Which part of a dataset to load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Split {
    /// The training set.
    Train,
    /// The test set.
    Test,
}

/// MNIST-style digit images: `[1, 28, 28]` f32 in `[0, 1]` (or `[784]` when
/// [flattened](Mnist::flattened)) with i64 class labels 0–9.
///
/// The pixels stay in memory as the file's bytes and become f32 when an example is read, so
/// loading the 60,000 training images is a gunzip and a check.
///
/// ```
/// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
/// use strata_data::{Dataset, Mnist, Split};
/// let test = Mnist::load("data/mnist", Split::Test)?;
/// assert_eq!(test.len(), 10_000);
/// let ex = test.get(0)?;
/// assert_eq!(ex.input.shape(), &[1, 28, 28]);
/// assert_eq!(ex.target.item()?, 7.0);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Mnist {
    pixels: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
    rows: usize,
    cols: usize,
    flatten: bool,
}

/// The number of classes of MNIST and Fashion-MNIST.
const CLASSES: u8 = 10;

/// `dir/<stem>.gz` or `dir/<stem>` (also with the `-idx` written `.idx`), whichever exists.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    let candidates = [
        format!("{stem}.gz"),
        stem.to_string(),
        format!("{dotted}.gz"),
        dotted.clone(),
    ];
    for name in &candidates {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(DataError::io(
        dir.join(&candidates[0]),
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no such file (also looked for {stem} and {dotted}, with and without .gz)"),
        ),
    ))
}

impl Mnist {
    /// Loads a split from a folder holding the four standard files
    /// (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`, `t10k-...`).
    pub fn load(dir: impl AsRef<Path>, split: Split) -> Result<Mnist> {
        let dir = dir.as_ref();
        let prefix = match split {
            Split::Train => "train",
            Split::Test => "t10k",
        };
        let images = find(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        Mnist::from_files(images, labels)
    }

    /// Loads an image file and a label file given by path.
    pub fn from_files(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Mnist> {
        let (images_path, labels_path) = (images.as_ref(), labels.as_ref());
        // Decompressing the images dominates; read the labels meanwhile. The kernels'
        // thread count (`STRATA_NUM_THREADS`) sizes rayon's pool first: were rayon to start
        // it here with its default, a one-thread run would use every core.
        strata_core::size_thread_pool();
        let (images, labels) = rayon::join(
            || IdxArray::load(images_path),
            || IdxArray::load(labels_path),
        );
        Mnist::from_idx(images?, images_path, labels?, labels_path)
    }

    /// Builds the dataset from parsed IDX arrays: images `[N, rows, cols]` u8 and labels `[N]`
    /// u8 in 0–9. The paths name the sources in errors.
    pub fn from_idx(
        images: IdxArray,
        images_path: &Path,
        labels: IdxArray,
        labels_path: &Path,
    ) -> Result<Mnist> {
        let (n, rows, cols) = match (images.dims(), images.data()) {
            (&[n, r, c], IdxData::U8(_)) => (n, r, c),
            (dims, data) => {
                return Err(DataError::format(
                    images_path,
                    format!(
                        "expected u8 images [N, rows, cols], found {} {dims:?}",
                        data.type_name()
                    ),
                ))
            }
        };
        let m = match (labels.dims(), labels.data()) {
            (&[m], IdxData::U8(_)) => m,
            (dims, data) => {
                return Err(DataError::format(
                    labels_path,
                    format!(
                        "expected u8 labels [N], found {} {dims:?}",
                        data.type_name()
                    ),
                ))
            }
        };
        if n != m {
            return Err(DataError::Mismatch {
                path: images_path.to_path_buf(),
                other: labels_path.to_path_buf(),
                detail: format!("{n} image(s) but {m} label(s)"),
            });
        }
        let (IdxData::U8(pixels), IdxData::U8(labels)) = (images.into_data(), labels.into_data())
        else {
            return Err(DataError::invalid(
                "Mnist::from_idx",
                "internal: element types changed",
            ));
        };
        if let Some(bad) = labels.iter().position(|&l| l >= CLASSES) {
            return Err(DataError::record(
                labels_path,
                bad,
                format!(
                    "label {} is out of range (expected 0 to {})",
                    labels[bad],
                    CLASSES - 1
                ),
            ));
        }
        Ok(Mnist {
            pixels: Arc::new(pixels),
            labels: Arc::new(labels),
            rows,
            cols,
            flatten: false,
        })
    }

    /// Examples as `[rows * cols]` vectors instead of `[1, rows, cols]` images (for MLPs).
    ///
    /// ```
    /// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
    /// use strata_data::{Dataset, Mnist, Split};
    /// let flat = Mnist::load("data/mnist", Split::Test)?.flattened();
    /// assert_eq!(flat.get(0)?.input.shape(), &[784]);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn flattened(mut self) -> Mnist {
        self.flatten = true;
        self
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The raw pixels of image `index` (`rows * cols` bytes, row-major).
    pub fn pixels(&self, index: usize) -> Result<&[u8]> {
        check_index(index, self.len())?;
        let size = self.rows * self.cols;
        Ok(&self.pixels[index * size..(index + 1) * size])
    }

    /// Image height and width (28, 28 for MNIST).
    pub fn image_size(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The number of classes (10).
    pub fn num_classes(&self) -> usize {
        CLASSES as usize
    }

    /// All images as one f32 tensor `[N, 1, rows, cols]` in `[0, 1]` and the labels `[N]` i64.
    ///
    /// ```
    /// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
    /// use strata_data::{Mnist, Split};
    /// let (x, y) = Mnist::load("data/mnist", Split::Test)?.to_tensors()?;
    /// assert_eq!((x.shape(), y.shape()), (&[10_000, 1, 28, 28][..], &[10_000][..]));
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn to_tensors(&self) -> Result<(Tensor, Tensor)> {
        let x: Vec<f32> = self
            .pixels
            .iter()
            .map(|&p| U8_TO_UNIT[p as usize])
            .collect();
        let y: Vec<i64> = self.labels.iter().map(|&l| l as i64).collect();
        let n = self.labels.len();
        Ok((
            Tensor::from_vec(x, &[n, 1, self.rows, self.cols])?,
            Tensor::from_vec(y, &[n])?,
        ))
    }
}

impl Dataset for Mnist {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Example> {
        let pixels = self.pixels(index)?;
        let x: Vec<f32> = pixels.iter().map(|&p| U8_TO_UNIT[p as usize]).collect();
        let input = if self.flatten {
            Tensor::from_vec(x, &[self.rows * self.cols])?
        } else {
            Tensor::from_vec(x, &[1, self.rows, self.cols])?
        };
        Ok(Example::new(
            input,
            Tensor::scalar(self.labels[index] as i64),
        ))
    }
}
