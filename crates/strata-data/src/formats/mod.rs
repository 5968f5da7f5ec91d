//! File formats: each parser takes bytes (so that property tests and fuzzers can feed it
//! anything) and a path to name in its errors.

mod cifar;
mod csv_records;
mod idx;
mod image_folder;
mod mnist;
mod picture;
mod resize;
mod streams;
mod table;
mod text;
mod timeseries;

pub use cifar::{Cifar, CifarKind};
pub use csv_records::{Column, Header};
pub use idx::{IdxArray, IdxData};
pub use image_folder::{decode_image, ImageFolder};
pub use mnist::{Mnist, Split};
pub use picture::Picture;
pub use streams::TextStreams;
pub use table::{CsvDataset, CsvOptions, FeatureStats, Target};
pub use text::{CharText, CharVocab, CharWindows};
pub use timeseries::{Missing, SeriesStats, SeriesWindows, TimeSeries};

/// `U8_TO_UNIT[b] == b as f32 / 255.0`: pixel bytes to `[0, 1]` (torchvision's `ToTensor`).
pub(crate) const U8_TO_UNIT: [f32; 256] = {
    let mut table = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = i as f32 / 255.0;
        i += 1;
    }
    table
};
