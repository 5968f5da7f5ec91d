//! TensorBoard event files, written from Rust with no TensorFlow and no `protoc`.
//!
//! [`EventWriter`] appends scalars, histograms and PNG images to an
//! `events.out.tfevents.*` file: TFRecord framing ([`tfrecord`]) around TensorBoard's
//! protobuf messages, declared and encoded by hand ([`proto`]). [`read_events`] reads such a file back, checking every CRC.
//! `scripts/check_tensorboard.py` checks a run directory with TensorBoard's own reader.

pub mod proto;
pub mod tfrecord;
mod wire;
mod writer;

#[cfg(test)]
mod tests;

pub use tfrecord::{masked_crc32c, read_records};
pub use wire::DecodeError;
pub use writer::EventWriter;

use crate::{Result, TrainError};
use std::path::Path;

/// Every event of an event file, in order (the first is the file version).
pub fn read_events(path: &Path) -> Result<Vec<proto::Event>> {
    read_records(path)?
        .iter()
        .enumerate()
        .map(|(i, data)| {
            proto::Event::decode(data)
                .map_err(|e| TrainError::file(path, format!("record {i} is no Event: {e}")))
        })
        .collect()
}
