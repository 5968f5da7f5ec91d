//! CIFAR-10 and CIFAR-100 in their binary versions.
//!
//! A batch file is a sequence of fixed-size records: for CIFAR-10 one label byte (0–9) and
//! 3,072 pixel bytes (the red, green and blue 32×32 planes); for CIFAR-100 a coarse label
//! byte (0–19), a fine label byte (0–99) and the same 3,072 pixel bytes.

use super::U8_TO_UNIT;
use crate::io::{gunzip_if_gzip, read_maybe_gzip};
use crate::{check_index, DataError, Dataset, Example, Result, Split};
use std::path::Path;
use std::sync::Arc;
use strata_core::Tensor;

/// Which CIFAR dataset (and, for CIFAR-100, which labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CifarKind {
    /// CIFAR-10: 10 classes.
    Cifar10,
    /// CIFAR-100 with its 100 fine labels.
    Cifar100Fine,
    /// CIFAR-100 with its 20 coarse (superclass) labels.
    Cifar100Coarse,
}

impl CifarKind {
    /// Label bytes before the pixels of each record.
    fn label_bytes(self) -> usize {
        match self {
            CifarKind::Cifar10 => 1,
            _ => 2,
        }
    }

    /// Which label byte of a record is the label, and how many classes it has.
    fn label(self) -> (usize, u8) {
        match self {
            CifarKind::Cifar10 => (0, 10),
            CifarKind::Cifar100Coarse => (0, 20),
            CifarKind::Cifar100Fine => (1, 100),
        }
    }

    /// The number of classes.
    pub fn num_classes(self) -> usize {
        self.label().1 as usize
    }
}

/// Pixel bytes of one 3×32×32 image.
const IMAGE_BYTES: usize = 3 * 32 * 32;

/// CIFAR images `[3, 32, 32]` f32 in `[0, 1]` with i64 labels.
///
/// ```no_run
/// use strata_data::{Cifar, CifarKind, Dataset, Split};
/// let train = Cifar::load("data/cifar-10-batches-bin", CifarKind::Cifar10, Split::Train)?;
/// assert_eq!(train.len(), 50_000);
/// assert_eq!(train.get(0)?.input.shape(), &[3, 32, 32]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Cifar {
    kind: CifarKind,
    pixels: Arc<Vec<u8>>,
    labels: Arc<Vec<u8>>,
}

impl Cifar {
    /// Loads a split from the folder of the binary distribution: `data_batch_1.bin` …
    /// `data_batch_5.bin` and `test_batch.bin` for CIFAR-10, `train.bin` and `test.bin` for
    /// CIFAR-100.
    pub fn load(dir: impl AsRef<Path>, kind: CifarKind, split: Split) -> Result<Cifar> {
        let dir = dir.as_ref();
        let names: Vec<String> = match (kind, split) {
            (CifarKind::Cifar10, Split::Train) => {
                (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
            }
            (CifarKind::Cifar10, Split::Test) => vec!["test_batch.bin".into()],
            (_, Split::Train) => vec!["train.bin".into()],
            (_, Split::Test) => vec!["test.bin".into()],
        };
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for name in names {
            let part = Cifar::load_batch(dir.join(name), kind)?;
            pixels.extend_from_slice(&part.pixels);
            labels.extend_from_slice(&part.labels);
        }
        Ok(Cifar {
            kind,
            pixels: Arc::new(pixels),
            labels: Arc::new(labels),
        })
    }

    /// Loads one batch file (raw or gzip).
    pub fn load_batch(path: impl AsRef<Path>, kind: CifarKind) -> Result<Cifar> {
        let path = path.as_ref();
        Cifar::parse(&read_maybe_gzip(path)?, kind, path)
    }

    /// Parses the bytes of one batch file (raw or gzip). `path` names the source in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_data::{Cifar, CifarKind, Dataset};
    /// let mut record = vec![3u8];
    /// record.extend(std::iter::repeat(255u8).take(3072));
    /// let one = Cifar::parse(&record, CifarKind::Cifar10, Path::new("b.bin"))?;
    /// assert_eq!(one.get(0)?.target.item()?, 3.0);
    /// let err = Cifar::parse(&record[..100], CifarKind::Cifar10, Path::new("b.bin")).unwrap_err();
    /// assert!(err.to_string().starts_with("b.bin: "));
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn parse(bytes: &[u8], kind: CifarKind, path: &Path) -> Result<Cifar> {
        let bytes = gunzip_if_gzip(bytes, path)?;
        let record = kind.label_bytes() + IMAGE_BYTES;
        if bytes.is_empty() {
            return Err(DataError::format(path, "the file is empty"));
        }
        if bytes.len() % record != 0 {
            return Err(DataError::format(
                path,
                format!(
                    "length {} is not a multiple of the {record}-byte record ({} label byte(s) + {IMAGE_BYTES} pixel bytes): record {} is truncated to {} byte(s){}",
                    bytes.len(),
                    kind.label_bytes(),
                    bytes.len() / record,
                    bytes.len() % record,
                    if kind == CifarKind::Cifar10 && bytes.len() % (record + 1) == 0 {
                        " (is this a CIFAR-100 file?)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        let n = bytes.len() / record;
        let (which, classes) = kind.label();
        let mut pixels = Vec::with_capacity(n * IMAGE_BYTES);
        let mut labels = Vec::with_capacity(n);
        for (i, rec) in bytes.chunks_exact(record).enumerate() {
            for (k, &label) in rec[..kind.label_bytes()].iter().enumerate() {
                let limit = match (kind, k) {
                    (CifarKind::Cifar10, _) => 10,
                    (_, 0) => 20,
                    _ => 100,
                };
                if label >= limit {
                    return Err(DataError::record(
                        path,
                        i,
                        format!(
                            "{} {label} is out of range (expected 0 to {}); is this the right CIFAR kind?",
                            if kind == CifarKind::Cifar10 { "label" } else if k == 0 { "coarse label" } else { "fine label" },
                            limit - 1
                        ),
                    ));
                }
            }
            labels.push(rec[which]);
            pixels.extend_from_slice(&rec[kind.label_bytes()..]);
        }
        debug_assert!(labels.iter().all(|&l| l < classes));
        Ok(Cifar {
            kind,
            pixels: Arc::new(pixels),
            labels: Arc::new(labels),
        })
    }

    /// Which CIFAR and which labels.
    pub fn kind(&self) -> CifarKind {
        self.kind
    }

    /// The labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The number of classes.
    pub fn num_classes(&self) -> usize {
        self.kind.num_classes()
    }
}

impl Dataset for Cifar {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Example> {
        check_index(index, self.len())?;
        let raw = &self.pixels[index * IMAGE_BYTES..(index + 1) * IMAGE_BYTES];
        let x: Vec<f32> = raw.iter().map(|&p| U8_TO_UNIT[p as usize]).collect();
        Ok(Example::new(
            Tensor::from_vec(x, &[3, 32, 32])?,
            Tensor::scalar(self.labels[index] as i64),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` CIFAR-100 records; record i has coarse label i % 20, fine label i % 100, and
    /// pixel j equal to (i + j) % 256.
    fn cifar100(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.push((i % 20) as u8);
            out.push((i % 100) as u8);
            out.extend((0..IMAGE_BYTES).map(|j| ((i + j) % 256) as u8));
        }
        out
    }

    #[test]
    fn records_decode_to_planes_and_labels() {
        let bytes = cifar100(3);
        let p = Path::new("train.bin");
        let fine = Cifar::parse(&bytes, CifarKind::Cifar100Fine, p).unwrap();
        let coarse = Cifar::parse(&bytes, CifarKind::Cifar100Coarse, p).unwrap();
        assert_eq!(fine.len(), 3);
        assert_eq!(fine.labels(), &[0, 1, 2]);
        assert_eq!(coarse.labels(), &[0, 1, 2]);
        let ex = fine.get(2).unwrap();
        let v = ex.input.to_vec::<f32>().unwrap();
        // Pixel (c=1, y=0, x=5) is byte 1024 + 5 of record 2: (2 + 1029) % 256 = 7.
        assert_eq!(v[1024 + 5], 7.0 / 255.0);
        assert!(fine.get(3).is_err());
    }

    #[test]
    fn damage_is_named() {
        let p = Path::new("data_batch_1.bin");
        let err = |b: &[u8], k| Cifar::parse(b, k, p).unwrap_err().to_string();
        assert!(err(&[], CifarKind::Cifar10).contains("empty"));
        let e = err(&cifar100(2)[..5000], CifarKind::Cifar100Fine);
        assert!(e.contains("record 1 is truncated to 1926 byte(s)"), "{e}");
        // CIFAR-100 bytes read as CIFAR-10: the length gives it away.
        let e = err(&cifar100(5), CifarKind::Cifar10);
        assert!(e.contains("is this a CIFAR-100 file?"), "{e}");
        let mut bad = cifar100(2);
        bad[3075] = 150; // fine label of record 1
        let e = err(&bad, CifarKind::Cifar100Fine);
        assert_eq!(e, "data_batch_1.bin: record 1: fine label 150 is out of range (expected 0 to 99); is this the right CIFAR kind?");
        let mut ten = vec![10u8];
        ten.extend(vec![0u8; IMAGE_BYTES]);
        assert!(err(&ten, CifarKind::Cifar10).contains("record 0: label 10 is out of range"));
    }
}
