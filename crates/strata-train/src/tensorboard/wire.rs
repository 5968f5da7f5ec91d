//! Protocol buffers' wire format, the part `proto.rs` needs: varints, 64- and 32-bit
//! little-endian numbers and length-delimited bytes, each behind a key of
//! `field number << 3 | wire type`.

/// Why protobuf bytes could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("byte {offset}: {what}")]
pub struct DecodeError {
    /// Where in the message the problem starts.
    pub offset: usize,
    /// What is wrong there.
    pub what: String,
}

const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// Builds one message; the `_always` writers are for `oneof` members and repeated
/// messages, which proto3 writes even at their default value.
#[derive(Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u64) {
        self.varint(u64::from(field) << 3 | wire);
    }

    /// An `int64` or `int32` (a negative one takes ten bytes, as protobuf says).
    pub(crate) fn int64(&mut self, field: u32, v: i64) {
        if v != 0 {
            self.key(field, VARINT);
            self.varint(v as u64);
        }
    }

    pub(crate) fn double(&mut self, field: u32, v: f64) {
        if v != 0.0 {
            self.key(field, FIXED64);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
    }

    pub(crate) fn float_always(&mut self, field: u32, v: f32) {
        self.key(field, FIXED32);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A string or bytes field, left out when empty.
    pub(crate) fn bytes(&mut self, field: u32, v: &[u8]) {
        if !v.is_empty() {
            self.bytes_always(field, v);
        }
    }

    pub(crate) fn bytes_always(&mut self, field: u32, v: &[u8]) {
        self.key(field, LEN);
        self.varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// An embedded message, given as its own bytes.
    pub(crate) fn message_always(&mut self, field: u32, encoded: &[u8]) {
        self.bytes_always(field, encoded);
    }

    /// A repeated `double`, packed into one length-delimited field.
    pub(crate) fn packed_doubles(&mut self, field: u32, v: &[f64]) {
        if !v.is_empty() {
            self.key(field, LEN);
            self.varint(8 * v.len() as u64);
            for x in v {
                self.buf.extend_from_slice(&x.to_le_bytes());
            }
        }
    }
}

/// One field's value as it appears on the wire, with its offset for errors.
pub(crate) struct FieldValue<'a> {
    offset: usize,
    raw: Raw<'a>,
}

enum Raw<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Len(&'a [u8]),
    Fixed32([u8; 4]),
}

impl<'a> FieldValue<'a> {
    fn wrong(&self, wanted: &str) -> DecodeError {
        DecodeError {
            offset: self.offset,
            what: format!("expected {wanted}, found another wire type"),
        }
    }

    pub(crate) fn varint(&self) -> Result<u64, DecodeError> {
        match self.raw {
            Raw::Varint(v) => Ok(v),
            _ => Err(self.wrong("a varint")),
        }
    }

    pub(crate) fn double(&self) -> Result<f64, DecodeError> {
        match self.raw {
            Raw::Fixed64(b) => Ok(f64::from_le_bytes(b)),
            _ => Err(self.wrong("a double")),
        }
    }

    pub(crate) fn float(&self) -> Result<f32, DecodeError> {
        match self.raw {
            Raw::Fixed32(b) => Ok(f32::from_le_bytes(b)),
            _ => Err(self.wrong("a float")),
        }
    }

    pub(crate) fn bytes(&self) -> Result<&'a [u8], DecodeError> {
        match self.raw {
            Raw::Len(b) => Ok(b),
            _ => Err(self.wrong("length-delimited bytes")),
        }
    }

    pub(crate) fn string(&self) -> Result<String, DecodeError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| DecodeError {
            offset: self.offset,
            what: "a string that is not UTF-8".to_string(),
        })
    }

    /// Appends a repeated `double`'s values: packed, or one value per field.
    pub(crate) fn doubles(&self, out: &mut Vec<f64>) -> Result<(), DecodeError> {
        match self.raw {
            Raw::Fixed64(b) => out.push(f64::from_le_bytes(b)),
            Raw::Len(b) if b.len() % 8 == 0 => out.extend(
                b.chunks_exact(8)
                    .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])),
            ),
            Raw::Len(b) => {
                return Err(DecodeError {
                    offset: self.offset,
                    what: format!("{} bytes of packed doubles, not a multiple of 8", b.len()),
                })
            }
            _ => return Err(self.wrong("doubles")),
        }
        Ok(())
    }
}

/// The fields of one message in order, as `(field number, value)`; stops after an error.
pub(crate) struct Fields<'a> {
    bytes: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Fields<'a> {
        Fields {
            bytes,
            at: 0,
            failed: false,
        }
    }

    fn error(&mut self, offset: usize, what: String) -> DecodeError {
        self.failed = true;
        DecodeError { offset, what }
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.at;
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(self.error(start, "the message ends inside a varint".into()));
            };
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.error(start, "a varint longer than ten bytes".into()))
    }

    fn take(&mut self, n: usize, start: usize) -> Result<&'a [u8], DecodeError> {
        match self.bytes.get(self.at..self.at.saturating_add(n)) {
            Some(b) if self.at.checked_add(n).is_some() => {
                self.at += n;
                Ok(b)
            }
            _ => Err(self.error(start, format!("a field of {n} bytes runs past the end"))),
        }
    }

    fn next_field(&mut self) -> Result<(u32, FieldValue<'a>), DecodeError> {
        let offset = self.at;
        let key = self.varint()?;
        let field = u32::try_from(key >> 3)
            .ok()
            .filter(|&f| f > 0)
            .ok_or_else(|| self.error(offset, format!("field number {} is invalid", key >> 3)))?;
        let raw = match key & 7 {
            VARINT => Raw::Varint(self.varint()?),
            FIXED64 => Raw::Fixed64(self.take(8, offset)?.try_into().unwrap_or([0; 8])),
            LEN => {
                let len = self.varint()?;
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                Raw::Len(self.take(len, offset)?)
            }
            FIXED32 => Raw::Fixed32(self.take(4, offset)?.try_into().unwrap_or([0; 4])),
            wire => return Err(self.error(offset, format!("wire type {wire} is not supported"))),
        };
        Ok((field, FieldValue { offset, raw }))
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<(u32, FieldValue<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.bytes.len() {
            return None;
        }
        Some(self.next_field())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_negative_int64_as_protobuf_writes_them() {
        let mut w = Writer::default();
        w.int64(1, 300);
        w.int64(2, -1);
        w.int64(3, 0);
        let bytes = w.into_bytes();
        // 300 = 0b1_0010_1100 → AC 02; -1 → ten bytes, the last 01; zero is left out.
        let mut expected = vec![0x08, 0xAC, 0x02, 0x10];
        expected.extend([0xFF; 9]);
        expected.push(0x01);
        assert_eq!(bytes, expected);
        let fields: Vec<(u32, u64)> = Fields::new(&bytes)
            .map(|f| f.map(|(n, v)| (n, v.varint().unwrap())).unwrap())
            .collect();
        assert_eq!(fields, [(1, 300), (2, u64::MAX)]);
    }

    #[test]
    fn damaged_bytes_are_errors_with_their_offset() {
        let first_error = |bytes: &[u8]| {
            Fields::new(bytes)
                .find_map(|f| f.err())
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            first_error(&[0x08]),
            "byte 1: the message ends inside a varint"
        );
        assert_eq!(
            first_error(&[0x08, 1, 0x12, 5, b'a']),
            "byte 2: a field of 5 bytes runs past the end"
        );
        assert_eq!(first_error(&[0x0b]), "byte 0: wire type 3 is not supported");
        assert_eq!(first_error(&[0x00]), "byte 0: field number 0 is invalid");
        assert_eq!(
            first_error(&[0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            "byte 1: a varint longer than ten bytes"
        );
        // A huge length cannot overflow the offset.
        assert!(
            first_error(&[0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
                .contains("runs past the end")
        );
        // The iterator stops after an error.
        assert_eq!(Fields::new(&[0x0b, 0x08, 1]).count(), 1);
    }
}
