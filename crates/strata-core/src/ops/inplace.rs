//! In-place updates of a tensor's storage: copying values in, filling, and `self += alpha * x`.
//!
//! These are for optimisers, checkpoint loading and running statistics. They record no graph
//! and bypass autodiff: modifying a tensor that a live graph saved for its backward pass
//! changes what that backward pass computes, so update parameters after `backward()`.

use super::slice_of;
use crate::kernels::map::assign;
use crate::storage::with_slice;
use crate::{DType, Error, Result, Tensor};

impl Tensor {
    /// Copies `src` (same shape and dtype, any layout) into this tensor's elements in place.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let w = Tensor::zeros(&[2, 2]);
    /// w.copy_from(&Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?.t()?)?;
    /// assert_eq!(w.to_vec::<f32>()?, vec![1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn copy_from(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() {
            return Err(Error::mismatch(
                "copy_from",
                self.shape(),
                src.shape(),
                " (in-place copies need equal shapes)",
            ));
        }
        if src.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch {
                op: "copy_from",
                lhs: self.dtype(),
                rhs: src.dtype(),
            });
        }
        // Read the source first: it may share this tensor's storage.
        let values = src.contiguous();
        let values = if values.shares_storage_with(self) {
            values.copy()
        } else {
            values
        };
        let sd = values.storage_read();
        let mut dd = self.storage().write();
        let (l, vl) = (self.layout(), values.layout());
        with_slice!(&mut *dd, dst => {
            let s = slice_of(&sd, "copy_from")?;
            assign(dst, (l.strides(), l.offset()), s, (vl.strides(), vl.offset()), self.shape());
        });
        Ok(())
    }

    /// Sets every element to `value` in place.
    pub fn fill_(&self, value: f64) -> Result<()> {
        self.copy_from(&Tensor::full(&[], value, self.dtype()).expand(self.shape())?)
    }

    /// `self += alpha * other` in place (floating-point dtypes; equal shapes; `self`
    /// contiguous).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let w = Tensor::ones(&[3]);
    /// w.add_scaled_(&Tensor::ones(&[3]), -0.5)?;
    /// assert_eq!(w.to_vec::<f32>()?, vec![0.5, 0.5, 0.5]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn add_scaled_(&self, other: &Tensor, alpha: f64) -> Result<()> {
        if other.shape() != self.shape() {
            return Err(Error::mismatch(
                "add_scaled_",
                self.shape(),
                other.shape(),
                " (in-place updates need equal shapes)",
            ));
        }
        let other = other.contiguous();
        match self.dtype() {
            DType::F32 => {
                let src = other.read::<f32>()?.to_vec();
                let a = alpha as f32;
                for (d, s) in self.write::<f32>()?.iter_mut().zip(&src) {
                    *d += a * s;
                }
            }
            DType::F64 => {
                let src = other.read::<f64>()?.to_vec();
                for (d, s) in self.write::<f64>()?.iter_mut().zip(&src) {
                    *d += alpha * s;
                }
            }
            other => {
                return Err(Error::dtype(
                    "add_scaled_",
                    "a floating-point dtype (f32 or f64)",
                    other,
                ))
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn copy_into_a_strided_view_and_from_itself() {
        let base = Tensor::zeros(&[2, 3]);
        let col = base.narrow(1, 1, 1).unwrap();
        col.copy_from(&Tensor::from_vec(vec![5.0f32, 6.0], &[2, 1]).unwrap())
            .unwrap();
        assert_eq!(
            base.to_vec::<f32>().unwrap(),
            vec![0.0, 5.0, 0.0, 0.0, 6.0, 0.0]
        );
        // Overlapping source: the transpose of itself.
        let m = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        m.copy_from(&m.t().unwrap()).unwrap();
        assert_eq!(m.to_vec::<f32>().unwrap(), vec![1.0, 3.0, 2.0, 4.0]);
        assert!(m.copy_from(&Tensor::zeros(&[3])).is_err());
        assert!(m
            .copy_from(&Tensor::zeros_dtype(&[2, 2], crate::DType::F64))
            .is_err());
    }

    #[test]
    fn fill_and_axpy() {
        let t = Tensor::zeros(&[4]);
        t.fill_(2.5).unwrap();
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![2.5; 4]);
        t.add_scaled_(&Tensor::ones(&[4]), 2.0).unwrap();
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![4.5; 4]);
        // The source itself is fine as the update.
        t.add_scaled_(&t, 1.0).unwrap();
        assert_eq!(t.to_vec::<f32>().unwrap(), vec![9.0; 4]);
    }
}
