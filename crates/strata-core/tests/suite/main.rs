//! strata-core's integration tests, one module per file, linked into one test program
//! (one link instead of nine). `thread_count.rs` stays a program of its own: it sets the
//! thread count, which is read once per process.

mod conv_reference;
mod errors;
mod fixture_activations;
mod fixture_conv;
mod fixture_pool;
mod fixture_softmax;
mod parallel_paths;
mod pool_reference;
mod proptest_views_broadcast;
