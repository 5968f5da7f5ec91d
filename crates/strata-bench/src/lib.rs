//! # strata-bench
//!
//! The benchmark workloads of Strata as library code, behind `strata bench`: W1–W5 of
//! `../shared/BENCHMARKS.md` (MLP, CNN and LSTM training, matrix products, batch-1
//! latency) with their timing rules (warm-up, 3 repeats, median), plus W1 at batch 16, W6
//! (per-op overhead of a chain of tiny ops, forward and backward), the peak memory of each
//! training workload, and the ceilings each figure should be read against: W1's own matrix
//! products alone, the FMA rate of the machine, the time to stream W5's weights.
//!
//! Figures print as `bench/pytorch_bench.py --json` prints PyTorch's, one JSON object per
//! line, so the two pair up by workload name:
//!
//! ```
//! use strata_bench::{run, Workload};
//! let mut figures = Vec::new();
//! run(Workload::W6, "data/mnist".as_ref(), &mut |m| figures.push(m.to_json("strata")))?;
//! assert!(figures[0].starts_with(r#"{"fw": "strata", "workload": "W6-fwd", "value": "#));
//! # Ok::<(), strata_bench::BenchError>(())
//! ```

pub mod child;
pub mod cnn;
mod error;
pub mod gemm;
pub mod latency;
pub mod lstm;
mod measurement;
pub mod mlp;
pub mod mnist;
pub mod overhead;
pub mod timing;
mod workload;

pub use child::run_in_child;
pub use error::{BenchError, Result};
pub use measurement::{median, Measurement};
pub use workload::{run, Workload};
