//! The one error type of strata-data.
//!
//! Every problem with a file names the file and, where it applies, the line, record or byte
//! offset, and says what is wrong: "data/mnist/train-labels-idx1-ubyte.gz: record 17: label
//! 12 is out of range (MNIST has 10 classes)". Parsers never panic on file contents.

use std::path::PathBuf;

/// Errors returned by datasets, file parsers, transforms and the data loader.
///
/// ```
/// use strata_data::{DataError, Mnist, Split};
/// let err = Mnist::load("no/such/folder", Split::Train).unwrap_err();
/// assert!(matches!(err, DataError::Io { .. }));
/// assert!(err.to_string().contains("no/such/folder"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// A file could not be opened or read.
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file as a whole is malformed: wrong magic number, wrong length, bad gzip stream.
    #[error("{}: {detail}", .path.display())]
    Format { path: PathBuf, detail: String },

    /// One record of a binary file (an image, a label) is malformed (records count from 0).
    #[error("{}: record {record}: {detail}", .path.display())]
    Record {
        path: PathBuf,
        record: usize,
        detail: String,
    },

    /// One line of a text file (CSV) is malformed (lines count from 1).
    #[error("{}: line {line}: {detail}", .path.display())]
    Line {
        path: PathBuf,
        line: u64,
        detail: String,
    },

    /// Two files that belong together disagree (image and label counts).
    #[error("{} and {}: {detail}", .path.display(), .other.display())]
    Mismatch {
        path: PathBuf,
        other: PathBuf,
        detail: String,
    },

    /// An image file could not be decoded.
    #[error("{}: cannot decode image: {detail}", .path.display())]
    Image { path: PathBuf, detail: String },

    /// An example index past the end of a dataset.
    #[error("index {index} is out of range for a dataset of {len} example(s)")]
    Index { index: usize, len: usize },

    /// An argument or option outside what is accepted (a zero batch size, a window longer
    /// than the series, a character missing from a vocabulary).
    #[error("{what}: {reason}")]
    Invalid { what: &'static str, reason: String },

    /// Examples of one batch cannot be stacked (different shapes or dtypes).
    #[error("collate: example {position} of the batch {detail}")]
    Collate { position: usize, detail: String },

    /// A loader worker thread panicked (a bug in a dataset or transform).
    #[error("data loader worker {worker} panicked: {detail}")]
    Worker { worker: usize, detail: String },

    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] strata_core::Error),
}

/// Result alias used throughout strata-data.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    pub(crate) fn format(path: impl Into<PathBuf>, detail: impl Into<String>) -> Self {
        DataError::Format {
            path: path.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn record(
        path: impl Into<PathBuf>,
        record: usize,
        detail: impl Into<String>,
    ) -> Self {
        DataError::Record {
            path: path.into(),
            record,
            detail: detail.into(),
        }
    }

    pub(crate) fn line(path: impl Into<PathBuf>, line: u64, detail: impl Into<String>) -> Self {
        DataError::Line {
            path: path.into(),
            line,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        DataError::Invalid {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_file_and_place() {
        let e = DataError::record("a/b.idx", 17, "label 12 is out of range");
        assert_eq!(
            e.to_string(),
            "a/b.idx: record 17: label 12 is out of range"
        );
        let e = DataError::line("t.csv", 3, "expected 5 fields, found 4");
        assert_eq!(e.to_string(), "t.csv: line 3: expected 5 fields, found 4");
        let e = DataError::Mismatch {
            path: "x".into(),
            other: "y".into(),
            detail: "10 images but 9 labels".into(),
        };
        assert_eq!(e.to_string(), "x and y: 10 images but 9 labels");
    }
}
