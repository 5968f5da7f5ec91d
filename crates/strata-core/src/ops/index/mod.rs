//! Indexing with tensors of indices: `index_select`, `gather`, `scatter_add` and `one_hot`.
//!
//! Indices are `i64` tensors (anything else is an [`Error::DType`]). Every index is
//! bounds-checked, and a negative index is an error in all four ops (no wrapping from the
//! back): [`Error::IndexOutOfRange`] names the op, the index, the dimension and its size.
//! The backward rules pair up: `index_select` and `gather` scatter-add their gradient back,
//! `scatter_add` gathers it.

mod gather;
mod select;

use super::{around, numeric_dispatch};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::{assign, collect};
use crate::kernels::parallel::{for_each_item, for_each_run_mut, num_threads, PAR_MIN_ELEMS};
use crate::kernels::walk::Walk;
use crate::layout::{contiguous_strides, Dim, Layout};
use crate::storage::{with_slice, StorageData};
use crate::{DType, Element, Error, Result, Tensor};
use std::ops::AddAssign;

fn check_index_dtype(op: &'static str, index: &Tensor) -> Result<()> {
    if index.dtype() != DType::I64 {
        return Err(Error::dtype(op, "i64 indices", index.dtype()));
    }
    Ok(())
}

/// `i` as a position in `0..size`, or the error naming the op, index, dim and size.
#[inline]
fn checked(op: &'static str, i: i64, dim: usize, size: usize) -> Result<usize> {
    if i < 0 || i as u64 >= size as u64 {
        return Err(Error::IndexOutOfRange {
            op,
            index: i,
            dim,
            size,
        });
    }
    Ok(i as usize)
}

/// `gather` and `scatter_add` need an index with the rank of `other` and no larger size in
/// any dimension (except `skip`, the indexed dimension of `self`).
fn check_index_fits(
    op: &'static str,
    index: &Tensor,
    other: &Tensor,
    what: &str,
    skip: Option<usize>,
) -> Result<()> {
    if index.ndim() != other.ndim() {
        return Err(Error::mismatch(
            op,
            index.shape(),
            other.shape(),
            format!(
                ": the index has {} dimension(s) but {what} has {}; they must be equal",
                index.ndim(),
                other.ndim()
            ),
        ));
    }
    for (d, (&i, &s)) in index.shape().iter().zip(other.shape()).enumerate() {
        if i > s && Some(d) != skip {
            return Err(Error::mismatch(
                op,
                index.shape(),
                other.shape(),
                format!(
                    ": the index (first shape) is larger than {what} in dimension {d} ({i} > {s})"
                ),
            ));
        }
    }
    Ok(())
}

impl Tensor {
    /// One-hot encoding of an `i64` tensor of class indices: an `f32` tensor with a new
    /// last dimension of size `num_classes`, 1 at each label and 0 elsewhere. A label outside
    /// `0..num_classes` is an [`Error::IndexOutOfRange`].
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let labels = Tensor::from_vec(vec![1i64, 0], &[2])?;
    /// let oh = labels.one_hot(3)?;
    /// assert_eq!(oh.shape(), &[2, 3]);
    /// assert_eq!(oh.to_vec::<f32>()?, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn one_hot(&self, num_classes: usize) -> Result<Tensor> {
        const OP: &str = "one_hot";
        check_index_dtype(OP, self)?;
        let labels = self.to_vec::<i64>()?;
        let mut out = vec![0.0f32; labels.len() * num_classes];
        for (p, &l) in labels.iter().enumerate() {
            out[p * num_classes + checked(OP, l, self.ndim(), num_classes)?] = 1.0;
        }
        let mut shape = self.shape().to_vec();
        shape.push(num_classes);
        Ok(Tensor::from_data(StorageData::F32(out), &shape))
    }
}

#[cfg(test)]
mod tests;
