//! `EventWriter`: appends scalars, histograms and images to a TensorBoard event file.

use super::proto::{Event, HistogramProto, Image, Summary, SummaryValue, Value, What};
use super::tfrecord::frame_record;
use crate::records::HistogramRecord;
use crate::{Result, TrainError};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one `events.out.tfevents.<unix secs>.<host>` file that `tensorboard --logdir`
/// reads. Writes are buffered: call [`flush`](EventWriter::flush) to make them visible
/// (dropping the writer flushes too, ignoring errors).
///
/// ```
/// use strata_train::tensorboard::{read_events, EventWriter};
/// let dir = std::env::temp_dir().join(format!("strata-tb-doc-{}", std::process::id()));
/// let mut tb = EventWriter::create(&dir)?;
/// tb.add_scalar("train/loss", 0.5, 10)?;
/// tb.flush()?;
/// let events = read_events(tb.path())?;
/// assert_eq!(events.len(), 2); // the file version, then the scalar
/// assert_eq!(events[1].step, 10);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), strata_train::TrainError>(())
/// ```
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
    buf: Vec<u8>,
}

impl EventWriter {
    /// Creates `dir` if needed and a new event file in it, starting with the file-version
    /// event. An existing file of the same name (two writers in one second) is never
    /// overwritten: a numeric suffix is added instead.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::file(dir, e))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let base = format!("events.out.tfevents.{secs}.{}", hostname());
        let (path, file) = create_new_file(dir, &base)?;
        let mut writer = EventWriter {
            path,
            out: BufWriter::new(file),
            buf: Vec::new(),
        };
        writer.write_event(0, What::FileVersion("brain.Event:2".into()))?;
        writer.flush()?;
        Ok(writer)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A scalar at `step` (TensorBoard stores it as f32).
    pub fn add_scalar(&mut self, tag: &str, value: f64, step: u64) -> Result<()> {
        self.write_value(tag, Value::SimpleValue(value as f32), step)
    }

    /// A histogram at `step`, from a record of `histograms.jsonl`.
    pub fn add_histogram(&mut self, tag: &str, hist: &HistogramRecord, step: u64) -> Result<()> {
        if hist.bucket_limits.len() != hist.counts.len() {
            return Err(TrainError::config(
                format!("histogram {tag}"),
                format!(
                    "{} bucket limits but {} counts",
                    hist.bucket_limits.len(),
                    hist.counts.len()
                ),
            ));
        }
        let histo = HistogramProto {
            min: hist.min,
            max: hist.max,
            num: hist.num,
            sum: hist.sum,
            sum_squares: hist.sum_squares,
            bucket_limit: hist.bucket_limits.clone(),
            bucket: hist.counts.clone(),
        };
        self.write_value(tag, Value::Histo(histo), step)
    }

    /// A PNG image at `step`; `channels` is 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
    pub fn add_image_png(
        &mut self,
        tag: &str,
        png: &[u8],
        width: u32,
        height: u32,
        channels: u32,
        step: u64,
    ) -> Result<()> {
        let what = format!("image {tag}");
        if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Err(TrainError::config(what, "the bytes are not a PNG file"));
        }
        if !(1..=4).contains(&channels) {
            return Err(TrainError::config(
                what,
                format!("{channels} channels, not 1 to 4"),
            ));
        }
        let dim = |d: u32| i32::try_from(d).map_err(|_| TrainError::config(&what, "too large"));
        let image = Image {
            height: dim(height)?,
            width: dim(width)?,
            colorspace: channels as i32,
            encoded_image_string: png.to_vec(),
        };
        self.write_value(tag, Value::Image(image), step)
    }

    /// Writes everything buffered to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| TrainError::file(&self.path, e))
    }

    fn write_value(&mut self, tag: &str, value: Value, step: u64) -> Result<()> {
        let summary = Summary {
            value: vec![SummaryValue {
                tag: tag.to_string(),
                value: Some(value),
            }],
        };
        let step = i64::try_from(step)
            .map_err(|_| TrainError::file(&self.path, format!("step {step} exceeds i64")))?;
        self.write_event(step, What::Summary(summary))
    }

    fn write_event(&mut self, step: i64, what: What) -> Result<()> {
        let wall_time = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let event = Event {
            wall_time,
            step,
            what: Some(what),
        };
        self.buf.clear();
        frame_record(&event.encode_to_vec(), &mut self.buf);
        self.out
            .write_all(&self.buf)
            .map_err(|e| TrainError::file(&self.path, e))
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

/// Opens `dir/base`, or `dir/base.1`, `dir/base.2`, ... if taken.
fn create_new_file(dir: &Path, base: &str) -> Result<(PathBuf, File)> {
    for n in 0..1000 {
        let name = if n == 0 {
            base.to_string()
        } else {
            format!("{base}.{n}")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(TrainError::file(path, e)),
        }
    }
    Err(TrainError::file(
        dir.join(base),
        "1000 event files of this name exist",
    ))
}

/// This machine's name, reduced to characters safe in a file name.
fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}
