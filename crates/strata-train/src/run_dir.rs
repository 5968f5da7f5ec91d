//! The run directory: where a run's metadata, metrics, warnings, checkpoints, TensorBoard
//! events and report live (the layout is described in `ARCHITECTURE.md`).

use crate::records::{EpochRecord, HistogramRecord, Record, Warning};
use crate::{Result, TrainError};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// An open run directory. Lines are appended and flushed as they come, so a run that
/// dies leaves every finished epoch on disk.
pub struct RunDir {
    path: PathBuf,
    metrics: BufWriter<File>,
    histograms: BufWriter<File>,
}

impl RunDir {
    /// Creates `<root>/<name>-<UTC timestamp>` (adding `-2`, `-3`, ... if it exists).
    pub fn create_in(root: &Path, name: &str) -> Result<RunDir> {
        let stamp = utc_stamp(SystemTime::now(), false);
        let mut path = root.join(format!("{name}-{stamp}"));
        let mut n = 2;
        while path.exists() {
            path = root.join(format!("{name}-{stamp}-{n}"));
            n += 1;
        }
        RunDir::create_at(&path)
    }

    /// Uses `path` itself (created if missing; files in it are replaced).
    pub fn create_at(path: &Path) -> Result<RunDir> {
        std::fs::create_dir_all(path).map_err(|e| TrainError::file(path, e))?;
        let open = |name: &str| -> Result<BufWriter<File>> {
            let p = path.join(name);
            let f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&p)
                .map_err(|e| TrainError::file(&p, e))?;
            Ok(BufWriter::new(f))
        };
        Ok(RunDir {
            path: path.to_path_buf(),
            metrics: open("metrics.jsonl")?,
            histograms: open("histograms.jsonl")?,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends a record to `metrics.jsonl`.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        let path = self.path.join("metrics.jsonl");
        write_line(&mut self.metrics, record, &path)
    }

    /// Appends histograms to `histograms.jsonl`.
    pub fn append_histograms(&mut self, records: &[HistogramRecord]) -> Result<()> {
        let path = self.path.join("histograms.jsonl");
        for r in records {
            write_line(&mut self.histograms, r, &path)?;
        }
        Ok(())
    }

    /// Rewrites `metrics.csv` from the epoch records: `epoch, step, lr, seconds,
    /// samples_per_sec`, then every metric key in sorted order (empty where an epoch lacks
    /// it, e.g. validation every other epoch).
    pub fn write_csv(&self, epochs: &[EpochRecord]) -> Result<()> {
        let mut keys: Vec<&String> = epochs.iter().flat_map(|e| e.metrics.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut out = String::from("epoch,step,lr,seconds,samples_per_sec");
        for k in &keys {
            out.push(',');
            out.push_str(k);
        }
        out.push('\n');
        for e in epochs {
            out.push_str(&format!(
                "{},{},{},{:.3},{:.1}",
                e.epoch, e.step, e.lr, e.seconds, e.samples_per_sec
            ));
            for k in &keys {
                out.push(',');
                if let Some(v) = e.metrics.get(*k) {
                    out.push_str(&v.to_string());
                }
            }
            out.push('\n');
        }
        self.write_file("metrics.csv", out.as_bytes())
    }

    /// Writes `warnings.json`.
    pub fn write_warnings(&self, warnings: &[Warning]) -> Result<()> {
        self.write_json("warnings.json", &warnings)
    }

    /// Writes `name` as pretty JSON.
    pub fn write_json(&self, name: &str, value: &impl serde::Serialize) -> Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| TrainError::file(self.path.join(name), e))?;
        self.write_file(name, text.as_bytes())
    }

    /// Writes a file of the run directory (creating its folder), atomically.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| TrainError::file(parent, e))?;
        }
        let tmp = path.with_extension("tmp-write");
        std::fs::write(&tmp, bytes)
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| TrainError::file(&path, e))
    }
}

fn write_line(out: &mut BufWriter<File>, value: &impl serde::Serialize, path: &Path) -> Result<()> {
    let line = serde_json::to_string(value).map_err(|e| TrainError::file(path, e))?;
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|e| TrainError::file(path, e))
}

/// `time` in UTC as `20261202-053000` (for names) or `2026-12-02T05:30:00Z` (RFC 3339).
pub fn utc_stamp(time: SystemTime, rfc3339: bool) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if rfc3339 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    } else {
        format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}")
    }
}

/// Howard Hinnant's days-to-civil: the proleptic Gregorian date of a day count since
/// 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The machine's host name (the kernel's, else `HOSTNAME`, else `"unknown"`).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The CPU's model name from `/proc/cpuinfo` (Linux), else the architecture.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        let t = UNIX_EPOCH + Duration::from_secs(1_796_189_400); // 2026-12-02 05:30:00 UTC
        assert_eq!(utc_stamp(t, true), "2026-12-02T05:30:00Z");
        assert_eq!(utc_stamp(t, false), "20261202-053000");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(utc_stamp(leap, true), "2000-02-29T00:00:00Z");
        assert_eq!(utc_stamp(UNIX_EPOCH, true), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn csv_has_one_column_per_key_and_blanks_for_missing_values() {
        let dir = std::env::temp_dir().join(format!("strata-csv-{}", std::process::id()));
        let run = RunDir::create_at(&dir).unwrap();
        let rec = |epoch: u64, keys: &[(&str, f64)]| EpochRecord {
            epoch,
            step: epoch * 10,
            lr: 0.1,
            seconds: 1.0,
            samples_per_sec: 5.0,
            metrics: keys.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        run.write_csv(&[
            rec(1, &[("train_loss", 0.5)]),
            rec(2, &[("train_loss", 0.25), ("val_loss", 0.75)]),
        ])
        .unwrap();
        let text = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "epoch,step,lr,seconds,samples_per_sec,train_loss,val_loss"
        );
        assert_eq!(lines[1], "1,10,0.1,1.000,5.0,0.5,");
        assert_eq!(lines[2], "2,20,0.1,1.000,5.0,0.25,0.75");
        std::fs::remove_dir_all(&dir).ok();
    }
}
