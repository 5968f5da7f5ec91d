//! The run report: a self-contained `report.html` (inline SVG charts, PNG data URIs, no
//! external CSS, scripts or fonts) and `plots/<name>.png`, rebuilt from the files of a
//! run directory alone, plus the image grids the trainer writes to `images/`.
//!
//! ```no_run
//! let report = strata_train::report::build(std::path::Path::new("runs/mnist-mlp"))?;
//! println!("open {}", report.display());
//! # Ok::<(), strata_train::TrainError>(())
//! ```

mod charts;
mod confusion;
mod format;
mod glyphs;
mod html;
pub mod images;
mod legend;
pub mod png;
mod read;
pub mod scale;
pub mod svg;
mod svg_read;

pub use images::{feature_map_tiles, filter_tiles, grid_png};

use crate::{Result, TrainError};
use std::path::{Path, PathBuf};

/// Builds the report of the run directory `run_dir`: reads `meta.json`, `config.json`,
/// `summary.txt`, `metrics.jsonl`, `histograms.jsonl`, `warnings.json`,
/// `confusion.json` and `images/*` (all optional but `metrics.jsonl`), writes every
/// chart to `plots/<name>.png` and the page to `report.html` (atomically: a temporary
/// file renamed into place), and returns the page's path.
///
/// Errors name the file (and line) that is missing or malformed: nothing is skipped
/// silently.
pub fn build(run_dir: &Path) -> Result<PathBuf> {
    let run = read::RunData::read(run_dir)?;
    let charts = charts::all(&run);
    let plots = run_dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| TrainError::file(&plots, e))?;
    let rasteriser = png::Rasteriser::new();
    for c in &charts {
        let path = plots.join(format!("{}.png", c.stem));
        let png = rasteriser.png(&c.chart.render(), &path.display().to_string())?;
        write_atomic(&path, &png)?;
    }
    let page = html::page(&run, &charts);
    let path = run_dir.join("report.html");
    write_atomic(&path, page.as_bytes())?;
    Ok(path)
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so that
/// a reader never sees half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(|e| TrainError::file(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::file(path, e))
}

#[cfg(test)]
mod tests;
