//! strata-data's integration tests, one module per file, linked into one test program.

mod common;
mod damaged_files;
mod image_folder;
mod loader;
mod parsers_never_panic;
mod picture;
mod real_data;
mod transforms_never_panic;
