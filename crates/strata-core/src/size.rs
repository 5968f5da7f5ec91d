//! Element counts and buffer allocations that fail with an error instead of aborting the
//! process: an absurd shape (`[1 << 40, 1 << 40]`) either overflows `usize` when its sizes
//! are multiplied, or asks for more memory than the machine has, and Rust's ordinary
//! allocation aborts on the latter. Creation functions, `from_vec` and every fallible
//! constructor check here first.
//!
//! ```
//! use strata_core::{checked_numel, DType, Tensor};
//! assert_eq!(checked_numel(&[2, 3, 4]), Some(24));
//! assert_eq!(checked_numel(&[1 << 40, 1 << 40]), None);
//! let err = Tensor::try_zeros(&[1 << 40, 1 << 40], DType::F32).unwrap_err();
//! assert!(err.to_string().contains("too large"), "{err}");
//! ```

use crate::{Error, Result};

/// The number of elements of `shape`, or `None` when it overflows `usize`.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The element count of `shape` for elements of `elem_bytes` bytes, checked: it must fit
/// `usize` and the buffer must stay within `isize::MAX` bytes (Rust's limit for one
/// allocation).
pub(crate) fn numel_for(op: &'static str, shape: &[usize], elem_bytes: usize) -> Result<usize> {
    let too_large = |reason: &str| Error::TooLarge {
        op,
        shape: shape.into(),
        reason: reason.to_string(),
    };
    let n = checked_numel(shape).ok_or_else(|| too_large("its element count overflows"))?;
    match n.checked_mul(elem_bytes) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(n),
        _ => Err(too_large(
            "its buffer would exceed the largest possible allocation",
        )),
    }
}

/// A vector of the `n` values `f` yields for `shape`, allocated with `try_reserve_exact`
/// so that a failed allocation is an error, not an abort.
pub(crate) fn try_collect<T>(
    op: &'static str,
    shape: &[usize],
    n: usize,
    f: impl FnMut() -> T,
) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|e| Error::TooLarge {
        op,
        shape: shape.into(),
        reason: format!("cannot allocate {n} elements ({e})"),
    })?;
    v.extend(std::iter::repeat_with(f).take(n));
    Ok(v)
}

/// The elements of `shape`, all `value`, as [`try_collect`].
pub(crate) fn try_filled<T: Clone>(op: &'static str, shape: &[usize], value: T) -> Result<Vec<T>> {
    let n = numel_for(op, shape, std::mem::size_of::<T>().max(1))?;
    try_collect(op, shape, n, || value.clone())
}

#[cfg(test)]
mod tests {
    use crate::{DType, Error, Tensor};

    const ABSURD: [usize; 2] = [1 << 40, 1 << 40];

    #[test]
    fn absurd_shapes_are_errors_not_aborts() {
        // The element count overflows usize.
        let e = Tensor::try_zeros(&ABSURD, DType::F32).unwrap_err();
        assert!(matches!(e, Error::TooLarge { op: "zeros", .. }), "{e}");
        assert_eq!(
            e.to_string(),
            "zeros: shape [1099511627776, 1099511627776] is too large: its element count overflows"
        );
        // The count fits, the bytes do not (2^62 f32 values).
        let e = Tensor::try_full(&[1 << 62], 1.0, DType::F32).unwrap_err();
        assert!(e.to_string().contains("largest possible allocation"), "{e}");
        // The bytes are representable but no machine has them: try_reserve_exact fails.
        let e = Tensor::try_zeros(&[1 << 52], DType::F64).unwrap_err();
        assert!(e.to_string().contains("cannot allocate"), "{e}");
        // from_vec cannot be fooled by a product that wraps to the vector's length.
        let e = Tensor::from_vec(vec![0.0f32; 4], &[1 << 62, 4, 4]).unwrap_err();
        assert!(e.to_string().starts_with("from_vec: shape"), "{e}");
        let e = Tensor::randint(0, 3, &ABSURD).unwrap_err();
        assert!(e.to_string().starts_with("randint:"), "{e}");
        let e = Tensor::uniform(&ABSURD, 0.0, 1.0).unwrap_err();
        assert!(e.to_string().starts_with("uniform:"), "{e}");
        // Ordinary shapes are unaffected.
        let t = Tensor::try_full(&[2, 2], 3.0, DType::I64).unwrap();
        assert_eq!(t.to_vec::<i64>().unwrap(), vec![3; 4]);
        assert_eq!(Tensor::try_zeros(&[0, 5], DType::F32).unwrap().numel(), 0);
    }

    #[test]
    fn infallible_creation_panics_with_the_reason_instead_of_aborting() {
        let caught = std::panic::catch_unwind(|| Tensor::zeros(&ABSURD));
        let payload = caught.expect_err("an absurd shape must not allocate");
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("too large") && msg.contains("try_"), "{msg}");
    }
}
