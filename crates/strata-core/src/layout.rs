//! Shape, strides and offset: how a tensor's elements sit in its storage.
//!
//! All view ops (reshape of contiguous data, transpose, permute, narrow, squeeze, unsqueeze,
//! expand) are pure layout changes and never touch the elements.

use crate::{Error, Result};

/// A shape or strides: up to four dims inline, so making a tensor of up to four dims
/// allocates nothing for its layout (two allocations per tensor saved, measured on the
/// per-op overhead workload W6).
pub type Dims = smallvec::SmallVec<[usize; 4]>;

/// Shape, strides (in elements) and offset of a tensor inside its storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Dims,
    strides: Dims,
    offset: usize,
}

/// Row-major strides of a contiguous tensor of this shape.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    contiguous_dims(shape).into_vec()
}

/// [`contiguous_strides`] without a heap allocation for up to four dims.
pub(crate) fn contiguous_dims(shape: &[usize]) -> Dims {
    let mut strides = Dims::from_elem(0, shape.len());
    let mut acc = 1;
    for (i, &s) in shape.iter().enumerate().rev() {
        strides[i] = acc;
        acc *= s.max(1);
    }
    strides
}

/// A dimension index: non-negative counts from the front, negative from the back (`-1` is
/// the last dimension), as in PyTorch.
pub trait Dim: Copy {
    /// Resolves to an index in `0..ndim`, or an error naming `op`.
    fn resolve(self, ndim: usize, op: &'static str) -> Result<usize>;
}

fn resolve_signed(d: i64, ndim: usize, op: &'static str) -> Result<usize> {
    let n = ndim as i64;
    let r = if d < 0 { d + n } else { d };
    if r < 0 || r >= n {
        let valid = if ndim == 0 {
            "none: the tensor is a scalar".to_string()
        } else {
            format!("{} to {}", -n, n - 1)
        };
        return Err(Error::DimOutOfRange {
            op,
            dim: d,
            ndim,
            valid,
        });
    }
    Ok(r as usize)
}

macro_rules! dim_impl {
    ($($t:ty),*) => {$(
        impl Dim for $t {
            fn resolve(self, ndim: usize, op: &'static str) -> Result<usize> {
                resolve_signed(self as i64, ndim, op)
            }
        }
    )*};
}
dim_impl!(i32, i64, isize, usize, u32);

/// Resolves a list of dims, rejecting repeats.
pub(crate) fn resolve_dims<D: Dim>(
    dims: &[D],
    ndim: usize,
    op: &'static str,
) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let r = d.resolve(ndim, op)?;
        if out.contains(&r) {
            return Err(Error::invalid(
                op,
                "dims",
                format!("dimension {r} appears more than once"),
            ));
        }
        out.push(r);
    }
    Ok(out)
}

/// The shape two shapes broadcast to under NumPy rules.
pub fn broadcast_shape(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Vec<usize>> {
    broadcast_dims(op, lhs, rhs).map(Dims::into_vec)
}

/// [`broadcast_shape`] without a heap allocation for up to four dims (every binary op).
pub(crate) fn broadcast_dims(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Result<Dims> {
    let n = lhs.len().max(rhs.len());
    let mut out = Dims::from_elem(0, n);
    for i in 0..n {
        let l = if i + lhs.len() >= n {
            lhs[i + lhs.len() - n]
        } else {
            1
        };
        let r = if i + rhs.len() >= n {
            rhs[i + rhs.len() - n]
        } else {
            1
        };
        out[i] = if l == r || r == 1 {
            l
        } else if l == 1 {
            r
        } else {
            return Err(Error::Broadcast {
                op,
                lhs: lhs.into(),
                rhs: rhs.into(),
                dim: i,
                lhs_size: l,
                rhs_size: r,
            });
        };
    }
    Ok(out)
}

impl Layout {
    /// A contiguous row-major layout starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout {
            strides: contiguous_dims(shape),
            shape: Dims::from_slice(shape),
            offset: 0,
        }
    }

    pub(crate) fn new(shape: impl Into<Dims>, strides: impl Into<Dims>, offset: usize) -> Self {
        let (shape, strides) = (shape.into(), strides.into());
        debug_assert_eq!(shape.len(), strides.len());
        Layout {
            shape,
            strides,
            offset,
        }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// True when the elements are laid out row-major without gaps (dims of size 1 may have
    /// any stride; a tensor without elements is contiguous).
    pub fn is_contiguous(&self) -> bool {
        if self.shape.contains(&0) {
            return true;
        }
        let mut expected = 1;
        for (&s, &st) in self.shape.iter().zip(&self.strides).rev() {
            if s != 1 && st != expected {
                return false;
            }
            expected *= s;
        }
        true
    }

    /// The storage range `offset..offset + numel` when contiguous.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        self.is_contiguous()
            .then(|| self.offset..self.offset + self.numel())
    }

    /// One past the largest storage index this layout touches (0 when empty).
    pub fn storage_extent(&self) -> usize {
        if self.shape.contains(&0) {
            return 0;
        }
        self.offset
            + self
                .shape
                .iter()
                .zip(&self.strides)
                .map(|(&s, &st)| (s - 1) * st)
                .sum::<usize>()
            + 1
    }

    /// Strides of this layout broadcast to `target` (0 for broadcast dims).
    pub fn broadcast_strides(&self, op: &'static str, target: &[usize]) -> Result<Dims> {
        let n = target.len();
        if self.ndim() > n {
            return Err(Error::shape(
                op,
                &self.shape,
                format!("cannot broadcast to {target:?}, which has fewer dimensions"),
            ));
        }
        let lead = n - self.ndim();
        let mut strides = Dims::from_elem(0, n);
        for i in 0..self.ndim() {
            let (s, t) = (self.shape[i], target[lead + i]);
            if s == t {
                strides[lead + i] = self.strides[i];
            } else if s == 1 {
                strides[lead + i] = 0;
            } else {
                return Err(Error::shape(
                    op,
                    &self.shape,
                    format!("cannot broadcast to {target:?}: dimension {i} is {s}, not 1 or {t}"),
                ));
            }
        }
        Ok(strides)
    }

    pub(crate) fn broadcast_to(&self, op: &'static str, target: &[usize]) -> Result<Layout> {
        Ok(Layout::new(
            Dims::from_slice(target),
            self.broadcast_strides(op, target)?,
            self.offset,
        ))
    }

    pub(crate) fn permute(&self, perm: &[usize]) -> Layout {
        Layout::new(
            perm.iter().map(|&p| self.shape[p]).collect::<Dims>(),
            perm.iter().map(|&p| self.strides[p]).collect::<Dims>(),
            self.offset,
        )
    }

    pub(crate) fn narrow(&self, dim: usize, start: usize, len: usize) -> Layout {
        let mut shape = self.shape.clone();
        shape[dim] = len;
        // An empty result keeps the offset: past the end of an empty buffer is out of range.
        let offset = if len == 0 || self.shape.contains(&0) {
            self.offset
        } else {
            self.offset + start * self.strides[dim]
        };
        Layout::new(shape, self.strides.clone(), offset)
    }

    /// A view of the same elements with a new shape, when the strides allow it without a
    /// copy (always for contiguous layouts).
    pub(crate) fn reshape_view(&self, shape: &[usize]) -> Option<Layout> {
        if self.is_contiguous() {
            return Some(Layout::new(
                shape.to_vec(),
                contiguous_strides(shape),
                self.offset,
            ));
        }
        None
    }

    pub(crate) fn with_dim_inserted(&self, dim: usize) -> Layout {
        let mut shape = self.shape.clone();
        let mut strides = self.strides.clone();
        let st = if dim < self.ndim() {
            self.strides[dim] * self.shape[dim]
        } else {
            1
        };
        shape.insert(dim, 1);
        strides.insert(dim, st);
        Layout::new(shape, strides, self.offset)
    }

    pub(crate) fn with_dim_removed(&self, dim: usize) -> Layout {
        let mut shape = self.shape.clone();
        let mut strides = self.strides.clone();
        shape.remove(dim);
        strides.remove(dim);
        Layout::new(shape, strides, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(contiguous_strides(&[]), Vec::<usize>::new());
    }

    #[test]
    fn broadcast_follows_numpy_rules() {
        assert_eq!(
            broadcast_shape("t", &[4, 1, 3], &[5, 1]).unwrap(),
            vec![4, 5, 3]
        );
        assert_eq!(broadcast_shape("t", &[], &[2]).unwrap(), vec![2]);
        let err = broadcast_shape("add", &[2, 3], &[4, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: shapes [2, 3] and [4, 3] cannot be broadcast together: dimension 0 is 2 vs 4 (sizes must match or one of them be 1)"
        );
    }

    #[test]
    fn negative_dims_count_from_the_back() {
        assert_eq!((-1).resolve(3, "t").unwrap(), 2);
        assert_eq!(0usize.resolve(3, "t").unwrap(), 0);
        let err = 3.resolve(3, "sum").unwrap_err();
        assert!(matches!(
            err,
            Error::DimOutOfRange {
                dim: 3,
                ndim: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("valid: -3 to 2"));
    }

    #[test]
    fn transposed_layout_is_not_contiguous() {
        let l = Layout::contiguous(&[2, 3]).permute(&[1, 0]);
        assert!(!l.is_contiguous());
        assert_eq!(l.strides(), &[1, 3]);
        assert_eq!(l.storage_extent(), 6);
    }
}
