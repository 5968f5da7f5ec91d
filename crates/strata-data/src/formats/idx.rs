//! The IDX file format of MNIST, Fashion-MNIST and friends.
//!
//! An IDX file is a big-endian header, then the elements in row-major order:
//!
//! ```text
//! 0x00 0x00 <type> <ndim>    type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
//! ndim × u32                 the size of each dimension
//! data                       product(dims) × element size bytes, nothing after
//! ```

use crate::io::{gunzip_if_gzip, read_maybe_gzip};
use crate::{DataError, Result};
use std::path::Path;
use strata_core::Tensor;

/// The elements of an IDX file, in the file's element type.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Type code `0x08` (MNIST images and labels).
    U8(Vec<u8>),
    /// Type code `0x09`.
    I8(Vec<i8>),
    /// Type code `0x0B`.
    I16(Vec<i16>),
    /// Type code `0x0C`.
    I32(Vec<i32>),
    /// Type code `0x0D`.
    F32(Vec<f32>),
    /// Type code `0x0E`.
    F64(Vec<f64>),
}

impl IdxData {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name of the element type.
    pub fn type_name(&self) -> &'static str {
        match self {
            IdxData::U8(_) => "u8",
            IdxData::I8(_) => "i8",
            IdxData::I16(_) => "i16",
            IdxData::I32(_) => "i32",
            IdxData::F32(_) => "f32",
            IdxData::F64(_) => "f64",
        }
    }
}

/// An n-dimensional array read from an IDX file (raw or gzip).
///
/// ```
/// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
/// use strata_data::IdxArray;
/// let labels = IdxArray::load("data/mnist/t10k-labels-idx1-ubyte.gz")?;
/// assert_eq!(labels.dims(), &[10_000]);
/// assert_eq!(&labels.as_u8().unwrap()[..5], &[7, 2, 1, 0, 4]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    dims: Vec<usize>,
    data: IdxData,
}

/// Element type code → (name, size in bytes).
fn element_type(code: u8) -> Option<(&'static str, usize)> {
    match code {
        0x08 => Some(("u8", 1)),
        0x09 => Some(("i8", 1)),
        0x0B => Some(("i16", 2)),
        0x0C => Some(("i32", 4)),
        0x0D => Some(("f32", 4)),
        0x0E => Some(("f64", 8)),
        _ => None,
    }
}

/// Checks the header and the length of an (uncompressed) IDX file: its dimensions, element
/// type code and header length.
fn parse_header(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, u8, usize)> {
    let Some(magic) = bytes.get(..4) else {
        return Err(DataError::format(
            path,
            format!(
                "truncated: {} byte(s), too short for the 4-byte IDX magic number",
                bytes.len()
            ),
        ));
    };
    let (type_code, ndim) = (magic[2], magic[3] as usize);
    let element = element_type(type_code);
    let Some((type_name, size)) = element.filter(|_| magic[0] == 0 && magic[1] == 0 && ndim > 0)
    else {
        return Err(DataError::format(
            path,
            format!(
                "not an IDX file: magic number 0x{:02X}{:02X}{:02X}{:02X} (expected 00 00, a type code 08/09/0B/0C/0D/0E and at least one dimension, e.g. 0x00000803 for MNIST images)",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ));
    };
    let header_len = 4 + 4 * ndim;
    let Some(header) = bytes.get(4..header_len) else {
        return Err(DataError::format(
            path,
            format!(
                "truncated header: {ndim} dimension(s) need {header_len} header bytes, the file has {}",
                bytes.len()
            ),
        ));
    };
    let dims: Vec<usize> = header
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    // The non-zero dimensions must multiply without overflow too: a tensor of shape
    // [2^32 - 1, 2^32 - 1, 0] is empty, yet its strides would overflow.
    let too_large = || DataError::format(path, format!("dimensions {dims:?} are too large"));
    dims.iter()
        .filter(|&&d| d > 0)
        .try_fold(size, |acc, &d| acc.checked_mul(d))
        .ok_or_else(too_large)?;
    let expected = dims
        .iter()
        .try_fold(size, |acc, &d| acc.checked_mul(d))
        .ok_or_else(too_large)?;
    let body = bytes.len() - header_len;
    if body < expected {
        return Err(DataError::format(
            path,
            format!(
                "truncated: dimensions {dims:?} of {type_name} need {expected} data bytes after the {header_len}-byte header, but only {body} follow"
            ),
        ));
    }
    if body > expected {
        return Err(DataError::format(
            path,
            format!(
                "{} unexpected byte(s) after the data (dimensions {dims:?} of {type_name} take {expected} bytes after the {header_len}-byte header)",
                body - expected
            ),
        ));
    }
    Ok((dims, type_code, header_len))
}

/// The elements of a checked body (big-endian).
fn decode_body(type_code: u8, body: &[u8]) -> IdxData {
    match type_code {
        0x08 => IdxData::U8(body.to_vec()),
        0x09 => IdxData::I8(body.iter().map(|&b| b as i8).collect()),
        0x0B => IdxData::I16(
            body.chunks_exact(2)
                .map(|c| i16::from_be_bytes([c[0], c[1]]))
                .collect(),
        ),
        0x0C => IdxData::I32(
            body.chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        0x0D => IdxData::F32(
            body.chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        _ => IdxData::F64(
            body.chunks_exact(8)
                .map(|c| f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
    }
}

impl IdxArray {
    /// Reads and parses the IDX file at `path` (gzip is detected and decompressed).
    pub fn load(path: impl AsRef<Path>) -> Result<IdxArray> {
        let path = path.as_ref();
        let mut bytes = read_maybe_gzip(path)?;
        let (dims, type_code, header_len) = parse_header(&bytes, path)?;
        if type_code == 0x08 {
            // Reuse the buffer: MNIST's training images are 47 MB.
            bytes.drain(..header_len);
            return Ok(IdxArray {
                dims,
                data: IdxData::U8(bytes),
            });
        }
        Ok(IdxArray {
            dims,
            data: decode_body(type_code, &bytes[header_len..]),
        })
    }

    /// Parses the bytes of an IDX file (raw or gzip). `path` names the source in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_data::IdxArray;
    /// let bytes = [0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6];
    /// let a = IdxArray::parse(&bytes, Path::new("tiny.idx"))?;
    /// assert_eq!(a.dims(), &[2, 3]);
    /// let err = IdxArray::parse(&bytes[..17], Path::new("tiny.idx")).unwrap_err();
    /// assert!(err.to_string().starts_with("tiny.idx: truncated"));
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn parse(bytes: &[u8], path: &Path) -> Result<IdxArray> {
        let bytes = gunzip_if_gzip(bytes, path)?;
        let (dims, type_code, header_len) = parse_header(&bytes, path)?;
        Ok(IdxArray {
            dims,
            data: decode_body(type_code, &bytes[header_len..]),
        })
    }

    /// Builds an array from dimensions and elements (their counts must agree).
    ///
    /// ```
    /// use strata_data::{IdxArray, IdxData};
    /// let a = IdxArray::new(vec![2, 2], IdxData::I16(vec![1, -2, 3, -4]))?;
    /// let back = strata_data::IdxArray::parse(&a.to_bytes(), std::path::Path::new("mem"))?;
    /// assert_eq!(back, a);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn new(dims: Vec<usize>, data: IdxData) -> Result<IdxArray> {
        let numel = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if dims.is_empty()
            || dims.len() > 255
            || numel != Some(data.len())
            || dims.iter().any(|&d| d > u32::MAX as usize)
        {
            return Err(DataError::invalid(
                "IdxArray::new",
                format!("dimensions {dims:?} do not fit {} element(s) (1 to 255 dimensions of at most 2^32 - 1)", data.len()),
            ));
        }
        Ok(IdxArray { dims, data })
    }

    /// The size of each dimension.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The elements.
    pub fn data(&self) -> &IdxData {
        &self.data
    }

    /// The elements, taking ownership.
    pub fn into_data(self) -> IdxData {
        self.data
    }

    /// The elements if they are `u8` (MNIST images and labels).
    pub fn as_u8(&self) -> Option<&[u8]> {
        match &self.data {
            IdxData::U8(v) => Some(v),
            _ => None,
        }
    }

    /// The array as an f32 tensor of the same shape (values unchanged, not rescaled).
    ///
    /// ```
    /// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
    /// use strata_data::IdxArray;
    /// let t = IdxArray::load("data/mnist/t10k-labels-idx1-ubyte.gz")?.to_tensor_f32()?;
    /// assert_eq!(t.shape(), &[10_000]);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn to_tensor_f32(&self) -> Result<Tensor> {
        let v: Vec<f32> = match &self.data {
            IdxData::U8(v) => v.iter().map(|&x| x as f32).collect(),
            IdxData::I8(v) => v.iter().map(|&x| x as f32).collect(),
            IdxData::I16(v) => v.iter().map(|&x| x as f32).collect(),
            IdxData::I32(v) => v.iter().map(|&x| x as f32).collect(),
            IdxData::F32(v) => v.clone(),
            IdxData::F64(v) => v.iter().map(|&x| x as f32).collect(),
        };
        Ok(Tensor::from_vec(v, &self.dims)?)
    }

    /// The array as an i64 tensor (integer types only; for labels).
    pub fn to_tensor_i64(&self) -> Result<Tensor> {
        let v: Vec<i64> = match &self.data {
            IdxData::U8(v) => v.iter().map(|&x| x as i64).collect(),
            IdxData::I8(v) => v.iter().map(|&x| x as i64).collect(),
            IdxData::I16(v) => v.iter().map(|&x| x as i64).collect(),
            IdxData::I32(v) => v.iter().map(|&x| x as i64).collect(),
            other => {
                return Err(DataError::invalid(
                    "IdxArray::to_tensor_i64",
                    format!("the elements are {}, not integers", other.type_name()),
                ))
            }
        };
        Ok(Tensor::from_vec(v, &self.dims)?)
    }

    /// The IDX encoding of this array (uncompressed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let code = match &self.data {
            IdxData::U8(_) => 0x08,
            IdxData::I8(_) => 0x09,
            IdxData::I16(_) => 0x0B,
            IdxData::I32(_) => 0x0C,
            IdxData::F32(_) => 0x0D,
            IdxData::F64(_) => 0x0E,
        };
        let mut out = vec![0, 0, code, self.dims.len() as u8];
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        match &self.data {
            IdxData::U8(v) => out.extend_from_slice(v),
            IdxData::I8(v) => out.extend(v.iter().map(|&x| x as u8)),
            IdxData::I16(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            IdxData::I32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            IdxData::F32(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
            IdxData::F64(v) => v
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.idx")
    }

    #[test]
    fn every_element_type_round_trips() {
        let cases = vec![
            IdxData::U8(vec![0, 255, 7, 1, 2, 3]),
            IdxData::I8(vec![-128, 127, 0, 1, -1, 5]),
            IdxData::I16(vec![-30000, 30000, 0, 1, -1, 258]),
            IdxData::I32(vec![i32::MIN, i32::MAX, 0, 1, -1, 65536]),
            IdxData::F32(vec![1.5, -2.25, 0.0, 1e30, -1e-30, 3.0]),
            IdxData::F64(vec![1.5, -2.25, 0.0, 1e300, -1e-300, 3.0]),
        ];
        for data in cases {
            let a = IdxArray::new(vec![3, 2], data).unwrap();
            assert_eq!(IdxArray::parse(&a.to_bytes(), p()).unwrap(), a);
        }
        // Big-endian: 0x0102 is 258.
        let bytes = [0, 0, 0x0B, 1, 0, 0, 0, 1, 0x01, 0x02];
        assert_eq!(
            IdxArray::parse(&bytes, p()).unwrap().data(),
            &IdxData::I16(vec![258])
        );
        assert!(IdxArray::new(vec![4], IdxData::U8(vec![1])).is_err());
    }

    #[test]
    fn damage_is_named() {
        let good = IdxArray::new(vec![2, 3], IdxData::I32(vec![1, 2, 3, 4, 5, 6]))
            .unwrap()
            .to_bytes();
        let err = |b: &[u8]| IdxArray::parse(b, p()).unwrap_err().to_string();
        assert!(err(&good[..2]).contains("too short for the 4-byte IDX magic"));
        assert!(err(&[1, 0, 8, 1, 0, 0, 0, 0]).contains("magic number 0x01000801"));
        assert!(err(&[0, 0, 7, 1, 0, 0, 0, 0]).contains("not an IDX file"));
        assert!(err(&[0, 0, 8, 0]).contains("not an IDX file"));
        assert!(err(&good[..10]).contains("truncated header: 2 dimension(s) need 12"));
        let e = err(&good[..good.len() - 1]);
        assert!(
            e.contains("need 24 data bytes after the 12-byte header, but only 23 follow"),
            "{e}"
        );
        let mut long = good.clone();
        long.push(0);
        assert!(err(&long).contains("1 unexpected byte(s) after the data"));
        // Empty arrays whose other dimensions overflow (found by cargo fuzz).
        let mut empty = vec![0, 0, 8, 4];
        empty.extend([255; 12]);
        empty.extend([0; 4]);
        let e = err(&empty);
        assert!(e.contains("are too large"), "{e}");
        // Huge dimensions are rejected before anything is allocated.
        let huge = [
            0, 0, 0x0E, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        assert!(err(&huge).contains("t.idx: "));
    }
}
