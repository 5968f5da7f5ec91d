//! strata-bench's integration tests, one module per file, linked into one test program.

mod output;
mod workloads;
