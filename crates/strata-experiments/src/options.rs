//! What a run of an experiment may change: where it writes, its seed, its size.

use std::path::PathBuf;

/// The settings shared by every experiment.
///
/// ```
/// use strata_experiments::Options;
/// let opts = Options::new("runs/experiments/initialisation").seed(3).quick(true);
/// assert_eq!((opts.seed, opts.quick), (3, true));
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// The directory `results.json`, `summary.md`, `plots/` and `report.html` go to.
    pub out: PathBuf,
    /// Seeds initialisation, data order and synthetic data: the same seed, the same numbers.
    pub seed: u64,
    /// A reduced run (fewer configurations, examples and steps) for tests.
    pub quick: bool,
    /// Where the MNIST files are (`data/mnist` from the repository root).
    pub mnist_dir: PathBuf,
}

impl Options {
    /// Seed 0, full size, MNIST from `data/mnist`.
    pub fn new(out: impl Into<PathBuf>) -> Options {
        Options {
            out: out.into(),
            seed: 0,
            quick: false,
            mnist_dir: PathBuf::from("data/mnist"),
        }
    }

    pub fn seed(mut self, seed: u64) -> Options {
        self.seed = seed;
        self
    }

    pub fn quick(mut self, quick: bool) -> Options {
        self.quick = quick;
        self
    }

    pub fn mnist_dir(mut self, dir: impl Into<PathBuf>) -> Options {
        self.mnist_dir = dir.into();
        self
    }

    /// Picks the quick or the full value of a setting.
    pub fn pick<T>(&self, quick: T, full: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}
