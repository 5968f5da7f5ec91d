//! The `strata` command's integration tests, one module per file, linked into one test
//! program.

mod bench;
mod cli;
mod common;
mod experiment;
mod language_and_images;
