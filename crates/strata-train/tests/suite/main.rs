//! The trainer's integration tests, one program (each program links the whole dependency
//! tree). Every test holds `common::serial()` for its whole run: they seed and draw from the
//! process-wide generator, so two at once would draw each other's numbers.

mod common;
mod data_parallel;
mod reproducibility;
mod run_directory;
mod sync_batch_norm;
mod trainer_behaviour;
