//! TFRecord framing, the container of TensorBoard event files.
//!
//! Each record is `u64 length | u32 masked_crc(length bytes) | data | u32 masked_crc(data)`,
//! all little-endian. The CRC is CRC-32C (Castagnoli), "masked" by TensorFlow so that a
//! CRC of data that itself holds CRCs does not degenerate.

use crate::{Result, TrainError};
use std::path::Path;

/// The delta TensorFlow adds after rotating a CRC.
const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC-32C of `data`, as stored in TFRecord files.
///
/// ```
/// use strata_train::tensorboard::masked_crc32c;
/// // CRC-32C("123456789") = 0xE3069283; rotated right by 15, plus 0xa282ead8.
/// let crc: u32 = 0xE306_9283;
/// let expected = ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8);
/// assert_eq!(masked_crc32c(b"123456789"), expected);
/// ```
pub fn masked_crc32c(data: &[u8]) -> u32 {
    crc32c(data).rotate_right(15).wrapping_add(MASK_DELTA)
}

/// CRC-32C (Castagnoli: reflected polynomial 0x82F63B78), a byte at a time from a table.
/// Event files are a few hundred kilobytes at most, so this needs no hardware CRC (and the
/// build no crate with a build script for one).
fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    !data.iter().fold(!0u32, |crc, &b| {
        TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8)
    })
}

/// Appends `data` framed as one record to `out`.
pub fn frame_record(data: &[u8], out: &mut Vec<u8>) {
    let len = (data.len() as u64).to_le_bytes();
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&masked_crc32c(data).to_le_bytes());
}

/// Every record's data in a TFRecord file, checking both CRCs of each.
///
/// A truncated record or a CRC mismatch is an error naming the file and the byte offset
/// of the record, so a corrupt file is never read as fewer events.
pub fn read_records(path: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::file(path, e))?;
    parse_records(&bytes).map_err(|reason| TrainError::file(path, reason))
}

/// The records of an in-memory TFRecord file; the error says what is wrong and where.
fn parse_records(bytes: &[u8]) -> std::result::Result<Vec<Vec<u8>>, String> {
    let mut records = Vec::new();
    let mut at = 0usize;
    while at < bytes.len() {
        let header = bytes
            .get(at..at + 12)
            .ok_or_else(|| format!("truncated record header at byte {at}"))?;
        let (len_bytes, len_crc) = header.split_at(8);
        if u32_le(len_crc) != masked_crc32c(len_bytes) {
            return Err(format!("bad length CRC of the record at byte {at}"));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap_or_default());
        let start = at + 12;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| start.checked_add(len))
            .filter(|&end| end.checked_add(4).is_some_and(|e| e <= bytes.len()))
            .ok_or_else(|| format!("truncated record at byte {at} ({len} data bytes declared)"))?;
        let data = &bytes[start..end];
        if u32_le(&bytes[end..end + 4]) != masked_crc32c(data) {
            return Err(format!("bad data CRC of the record at byte {at}"));
        }
        records.push(data.to_vec());
        at = end + 4;
    }
    Ok(records)
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value_and_mask_by_hand() {
        // The standard CRC-32C check value.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        // RFC 3720's test vectors: 32 zero bytes, 32 bytes of 0xFF, bytes 0..32 ascending.
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        assert_eq!(crc32c(&(0..32u8).collect::<Vec<_>>()), 0x46DD_794E);
        assert_eq!(crc32c(b""), 0);
        // Rotate right by 15 by hand: the low 15 bits move to the top (values computed
        // independently in Python).
        let crc: u32 = 0xE306_9283;
        let rotated = (crc >> 15) | ((crc & 0x7fff) << 17);
        assert_eq!(rotated, 0x2507_C60D);
        assert_eq!(
            masked_crc32c(b"123456789"),
            0x2507_C60Du32.wrapping_add(0xa282_ead8)
        );
        assert_eq!(masked_crc32c(b"123456789"), 0xC78A_B0E5);
    }

    #[test]
    fn framing_layout_and_round_trip() {
        let mut file = Vec::new();
        frame_record(b"abc", &mut file);
        frame_record(b"", &mut file);
        assert_eq!(file.len(), (12 + 3 + 4) + (12 + 4));
        assert_eq!(&file[..8], &3u64.to_le_bytes());
        assert_eq!(&file[12..15], b"abc");
        assert_eq!(u32_le(&file[15..19]), masked_crc32c(b"abc"));
        let back = parse_records(&file).unwrap();
        assert_eq!(back, vec![b"abc".to_vec(), Vec::new()]);
    }

    #[test]
    fn flipped_bytes_and_truncation_are_reported_with_offsets() {
        let mut file = Vec::new();
        frame_record(b"first", &mut file);
        let second = file.len();
        frame_record(b"second", &mut file);

        let mut bad = file.clone();
        bad[second + 12] ^= 0x01; // a data byte of the second record
        let err = parse_records(&bad).unwrap_err();
        assert_eq!(err, format!("bad data CRC of the record at byte {second}"));

        let mut bad = file.clone();
        bad[second] ^= 0x80; // its length
        let err = parse_records(&bad).unwrap_err();
        assert_eq!(
            err,
            format!("bad length CRC of the record at byte {second}")
        );

        let err = parse_records(&file[..file.len() - 1]).unwrap_err();
        assert!(
            err.starts_with(&format!("truncated record at byte {second}")),
            "{err}"
        );
        let err = parse_records(&file[..second + 5]).unwrap_err();
        assert_eq!(err, format!("truncated record header at byte {second}"));
    }
}
