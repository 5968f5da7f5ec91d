//! Reading a run directory: every file the report uses, each optional except
//! `metrics.jsonl`. A file that exists but cannot be parsed is an error naming it (and
//! the line, for JSON-lines files), never skipped silently.

use crate::records::{EpochRecord, HistogramRecord, MonitorRecord, Record, StepRecord, Warning};
use crate::{Result, TrainError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::Path;

/// `confusion.json`: counts by true class (rows) and predicted class (columns).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Confusion {
    #[serde(default)]
    pub split: String,
    pub labels: Vec<String>,
    pub matrix: Vec<Vec<u64>>,
}

/// One caption of `images/misclassified.json`, in grid order.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Caption {
    pub index: u64,
    pub label: String,
    pub predicted: String,
    pub confidence: f64,
}

/// The PNGs of `images/` (raw bytes) and the captions of the misclassified grid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Images {
    pub misclassified: Option<Vec<u8>>,
    pub captions: Vec<Caption>,
    pub filters: Option<Vec<u8>>,
    pub feature_maps: Option<Vec<u8>>,
}

/// Everything the report shows, read from a run directory.
#[derive(Clone, Debug, Default)]
pub struct RunData {
    /// `meta.json` (empty when absent).
    pub meta: Map<String, Value>,
    /// `config.json` (empty when absent).
    pub config: Map<String, Value>,
    pub summary: Option<String>,
    pub epochs: Vec<EpochRecord>,
    pub steps: Vec<StepRecord>,
    pub monitors: Vec<MonitorRecord>,
    pub histograms: Vec<HistogramRecord>,
    /// `warnings.json` (`None` when absent).
    pub warnings: Option<Vec<Warning>>,
    pub confusion: Option<Confusion>,
    pub images: Images,
}

impl RunData {
    /// Reads the run directory `dir`.
    pub fn read(dir: &Path) -> Result<RunData> {
        let metrics = dir.join("metrics.jsonl");
        if !metrics.is_file() {
            return Err(TrainError::file(
                &metrics,
                "no metrics.jsonl: not a run directory, or the run wrote no records yet",
            ));
        }
        let mut data = RunData {
            meta: read_object(&dir.join("meta.json"))?,
            config: read_object(&dir.join("config.json"))?,
            summary: read_text(&dir.join("summary.txt"))?,
            histograms: read_lines(&dir.join("histograms.jsonl"))?,
            warnings: read_json(&dir.join("warnings.json"))?,
            confusion: read_json(&dir.join("confusion.json"))?,
            images: read_images(&dir.join("images"))?,
            ..RunData::default()
        };
        if let Some(c) = &data.confusion {
            check_confusion(c, &dir.join("confusion.json"))?;
        }
        for record in read_lines::<Record>(&metrics)? {
            match record {
                Record::Epoch(e) => data.epochs.push(e),
                Record::Step(s) => data.steps.push(s),
                Record::Monitor(m) => data.monitors.push(m),
            }
        }
        Ok(data)
    }

    /// A string field of `meta.json`.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.meta.get(key).and_then(Value::as_str)
    }
}

/// Each non-blank line of `path` as a `T`; an absent file is empty.
fn read_lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>> {
    let Some(text) = read_text(path)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line)
            .map_err(|e| TrainError::file(path, format!("line {}: {e}", i + 1)))?;
        out.push(value);
    }
    Ok(out)
}

/// `path` parsed as a `T`, or `None` when absent.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let Some(text) = read_text(path)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| TrainError::file(path, e))
}

fn read_object(path: &Path) -> Result<Map<String, Value>> {
    match read_json::<Value>(path)? {
        None => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(TrainError::file(path, "expected a JSON object")),
    }
}

/// The text of `path`, or `None` when it does not exist.
fn read_text(path: &Path) -> Result<Option<String>> {
    read_bytes(path)?
        .map(|b| String::from_utf8(b).map_err(|e| TrainError::file(path, e)))
        .transpose()
}

fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrainError::file(path, e)),
    }
}

fn read_images(dir: &Path) -> Result<Images> {
    Ok(Images {
        misclassified: read_bytes(&dir.join("misclassified.png"))?,
        captions: read_json(&dir.join("misclassified.json"))?.unwrap_or_default(),
        filters: read_bytes(&dir.join("filters.png"))?,
        feature_maps: read_bytes(&dir.join("feature_maps.png"))?,
    })
}

/// A square matrix with one row per label.
fn check_confusion(c: &Confusion, path: &Path) -> Result<()> {
    let n = c.labels.len();
    if c.matrix.len() != n || c.matrix.iter().any(|row| row.len() != n) {
        return Err(TrainError::file(
            path,
            format!("the matrix must be {n} × {n}, one row and column per label"),
        ));
    }
    Ok(())
}
