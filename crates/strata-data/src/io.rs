//! Reading files: whole-file reads with errors that name the file, and transparent gzip.

use crate::{DataError, Result};
use flate2::read::MultiGzDecoder;
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

/// The bytes of the file at `path`, decompressed if they are gzip (detected by the gzip
/// magic bytes `1f 8b`, not by the file name).
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    Ok(gunzip_if_gzip(&bytes, path)?.into_owned())
}

/// True when `bytes` start like a gzip stream.
pub(crate) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// `bytes` decompressed if they are a gzip stream, else borrowed unchanged. `path` is only
/// used in error messages.
pub(crate) fn gunzip_if_gzip<'a>(bytes: &'a [u8], path: &Path) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    // The gzip trailer holds the uncompressed size mod 2^32: a good capacity hint when it is
    // plausible (deflate expands at most ~1032:1), so the output vector grows only once.
    let hint = bytes
        .len()
        .checked_sub(4)
        .and_then(|at| bytes.get(at..))
        .and_then(|tail| <[u8; 4]>::try_from(tail).ok())
        .map(|t| u32::from_le_bytes(t) as usize)
        .filter(|&n| n <= bytes.len().saturating_mul(1032))
        .unwrap_or(0);
    let mut out = Vec::with_capacity(hint);
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| {
            let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the gzip stream ends early (truncated file?)".to_string()
            } else {
                format!("corrupt gzip stream: {e}")
            };
            DataError::format(path, what)
        })?;
    Ok(Cow::Owned(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn gzip_round_trips_and_damage_is_reported_with_the_path() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let gz = gzip(&data);
        let p = Path::new("x.gz");
        assert_eq!(&*gunzip_if_gzip(&gz, p).unwrap(), &data[..]);
        assert_eq!(&*gunzip_if_gzip(&data, p).unwrap(), &data[..]);
        let err = gunzip_if_gzip(&gz[..gz.len() / 2], p)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("x.gz: ") && err.contains("truncated"),
            "{err}"
        );
        let mut bad = gz.clone();
        bad[15] ^= 0xff;
        bad[20] ^= 0xff;
        let err = gunzip_if_gzip(&bad, p).unwrap_err().to_string();
        assert!(err.starts_with("x.gz: "), "{err}");
        let err = read_maybe_gzip(Path::new("/no/such/file"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/no/such/file: cannot read"), "{err}");
    }
}
