//! # strata-experiments
//!
//! The lesson's claims about how networks learn, each as a small reproducible study:
//! it trains and measures, plots, writes what it found and checks the claim against the
//! threshold the literature suggests. `strata experiment NAME` runs one.
//!
//! Every run writes into its directory:
//! - `results.json`: the settings, every measured series and the checks
//!   (`{"name", "measured", "op", "threshold", "holds"}`);
//! - `summary.md`: what was measured, the numbers, what they mean and each check;
//! - `plots/*.png` and `report.html` (the summary and the charts in one offline page).
//!
//! ```no_run
//! use strata_experiments::{run, Options};
//! let outcome = run("vanishing-gradients", &Options::new("runs/experiments/vanishing-gradients"))?;
//! for check in &outcome.checks {
//!     println!("{}: {}", check.name, if check.holds { "holds" } else { "fails" });
//! }
//! # Ok::<(), strata_experiments::ExperimentError>(())
//! ```
//!
//! A failing check is a finding, not an error: `run` succeeds and the summary says so.

pub mod data;
mod error;
pub mod experiments;
pub mod heatmap;
pub mod mlp;
mod options;
mod outcome;
pub mod plot;
pub mod train;
pub mod write;

pub use error::{ExperimentError, Result};
pub use experiments::{Experiment, ALL};
pub use options::Options;
pub use outcome::{Check, Figure, Measured, Op, Outcome, Plot};

use std::time::Instant;

/// The names of all experiments, in the lesson's order.
///
/// ```
/// assert_eq!(strata_experiments::list().len(), 11);
/// ```
pub fn list() -> Vec<&'static str> {
    ALL.iter().map(|e| e.name).collect()
}

/// Runs the experiment `name` with `options` (seeding the global generator first) and
/// writes its files into `options.out`.
pub fn run(name: &str, options: &Options) -> Result<Outcome> {
    let experiment = ALL
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| ExperimentError::UnknownExperiment(name.to_string()))?;
    strata_core::manual_seed(options.seed);
    let start = Instant::now();
    let mut outcome = (experiment.run)(options)?;
    outcome.seconds = start.elapsed().as_secs_f64();
    write::write_all(&outcome, &options.out)?;
    Ok(outcome)
}
