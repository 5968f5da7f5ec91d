//! Scalar arithmetic on integer tensors, with PyTorch's type rules: an `i64` tensor and an
//! integral scalar stay `i64` (wrapping on overflow, as PyTorch does) for `add_scalar`,
//! `sub_scalar`, `mul_scalar`, `pow_scalar` (exponent `>= 0`) and `clamp`; a fractional
//! scalar, and `div_scalar` always (true division), promote the tensor to `f32`, PyTorch's
//! default float dtype. A `bool` tensor is refused, and the error names the op called.
//!
//! ```
//! use strata_core::{DType, Tensor};
//! let t = Tensor::from_vec(vec![1i64, 2, 3], &[3])?;
//! assert_eq!(t.sub_scalar(1.0)?.to_vec::<i64>()?, vec![0, 1, 2]);
//! assert_eq!(t.mul_scalar(0.5)?.to_vec::<f32>()?, vec![0.5, 1.0, 1.5]);
//! assert_eq!(t.div_scalar(2.0)?.dtype(), DType::F32);
//! # Ok::<(), strata_core::Error>(())
//! ```

use crate::{DType, Error, Result, Tensor};

/// How a scalar op applies to a tensor of some dtype.
pub(crate) enum ScalarOn {
    /// A float tensor: the float kernel.
    Float,
    /// An `i64` tensor and an integral scalar: an `i64` result.
    Int(i64),
    /// An `i64` tensor promoted to `f32` for a fractional scalar or a true division.
    Promoted(Tensor),
}

/// How `op` with scalar `s` applies to `x`. `int_result`: whether the op can keep an
/// integer result at all (false for division).
pub(crate) fn scalar_on(
    x: &Tensor,
    op: &'static str,
    s: f64,
    int_result: bool,
) -> Result<ScalarOn> {
    match x.dtype() {
        DType::F32 | DType::F64 => Ok(ScalarOn::Float),
        DType::I64 => match integral(s) {
            Some(k) if int_result => Ok(ScalarOn::Int(k)),
            _ => Ok(ScalarOn::Promoted(x.to_dtype(DType::F32))),
        },
        DType::Bool => Err(Error::dtype(
            op,
            "a numeric dtype (f32, f64 or i64)",
            DType::Bool,
        )),
    }
}

/// `s` as an `i64` when it is a whole number in range.
pub(crate) fn integral(s: f64) -> Option<i64> {
    // i64 covers [-2^63, 2^63): 2^63 itself is out of range, and every whole f64 below it
    // in magnitude converts exactly.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0; // exactly representable
    let in_range = (-TWO_63..TWO_63).contains(&s);
    (in_range && s.fract() == 0.0).then_some(s as i64)
}

/// `f` applied to every element of the `i64` tensor `x` (integer tensors never need
/// gradients, so nothing is recorded).
pub(crate) fn map_i64(x: &Tensor, f: impl Fn(i64) -> i64) -> Result<Tensor> {
    let values: Vec<i64> = x.to_vec::<i64>()?.into_iter().map(f).collect();
    Tensor::from_vec(values, x.shape())
}

/// `pow_scalar` on an `i64` tensor with an integral exponent `k`: `i64`, refused for
/// negative exponents as in PyTorch ("integers to negative integer powers").
pub(crate) fn pow_i64(x: &Tensor, k: i64) -> Result<Tensor> {
    let Ok(k) = u32::try_from(k) else {
        return Err(Error::invalid(
            "pow_scalar",
            "p",
            format!("an integer tensor to the negative or huge power {k} (use a float tensor)"),
        ));
    };
    map_i64(x, |v| v.wrapping_pow(k))
}

/// `clamp` on an `i64` tensor with whole or infinite bounds; `None` when a bound is
/// fractional (then the tensor is promoted).
pub(crate) fn clamp_bounds(min: f64, max: f64) -> Option<(i64, i64)> {
    let bound = |b: f64, inf: i64| {
        if b.is_infinite() {
            Some(inf)
        } else {
            integral(b)
        }
    };
    Some((
        bound(min, if min < 0.0 { i64::MIN } else { i64::MAX })?,
        bound(max, if max < 0.0 { i64::MIN } else { i64::MAX })?,
    ))
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    fn ints() -> Tensor {
        Tensor::from_vec(vec![-3i64, 0, 7, i64::MAX], &[2, 2]).unwrap()
    }

    #[test]
    fn integral_scalars_keep_i64() {
        let t = ints();
        assert_eq!(
            t.add_scalar(2.0).unwrap().to_vec::<i64>().unwrap(),
            vec![-1, 2, 9, i64::MIN + 1]
        );
        assert_eq!(
            t.sub_scalar(2.0).unwrap().to_vec::<i64>().unwrap(),
            vec![-5, -2, 5, i64::MAX - 2]
        );
        assert_eq!(
            t.mul_scalar(-2.0).unwrap().to_vec::<i64>().unwrap(),
            vec![6, 0, -14, 2]
        );
        let small = Tensor::from_vec(vec![-2i64, 3], &[2]).unwrap();
        assert_eq!(
            small.pow_scalar(3.0).unwrap().to_vec::<i64>().unwrap(),
            vec![-8, 27]
        );
        assert_eq!(
            t.clamp(-1.0, 5.0).unwrap().to_vec::<i64>().unwrap(),
            vec![-1, 0, 5, 5]
        );
        assert_eq!(
            t.clamp(0.0, f64::INFINITY)
                .unwrap()
                .to_vec::<i64>()
                .unwrap(),
            vec![0, 0, 7, i64::MAX]
        );
        // Views are read through their layout.
        let col = t.t().unwrap().add_scalar(1.0).unwrap();
        assert_eq!(col.shape(), &[2, 2]);
        assert_eq!(col.to_vec::<i64>().unwrap(), vec![-2, 8, 1, i64::MIN]);
    }

    #[test]
    fn fractional_scalars_and_division_promote_to_f32() {
        let t = Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap();
        let half = t.mul_scalar(0.5).unwrap();
        assert_eq!(half.dtype(), DType::F32);
        assert_eq!(half.to_vec::<f32>().unwrap(), vec![0.5, 1.0, 1.5]);
        assert_eq!(
            t.add_scalar(0.25).unwrap().to_vec::<f32>().unwrap(),
            vec![1.25, 2.25, 3.25]
        );
        let q = t.div_scalar(2.0).unwrap();
        assert_eq!(q.to_vec::<f32>().unwrap(), vec![0.5, 1.0, 1.5]);
        assert_eq!(t.pow_scalar(0.5).unwrap().dtype(), DType::F32);
        assert_eq!(
            t.clamp(1.5, 2.5).unwrap().to_vec::<f32>().unwrap(),
            vec![1.5, 2.0, 2.5]
        );
    }

    #[test]
    fn errors_name_the_op_called() {
        let b = Tensor::from_vec(vec![true, false], &[2]).unwrap();
        for (op, r) in [
            ("add_scalar", b.add_scalar(1.0)),
            ("sub_scalar", b.sub_scalar(1.0)),
            ("mul_scalar", b.mul_scalar(2.0)),
            ("div_scalar", b.div_scalar(2.0)),
            ("pow_scalar", b.pow_scalar(2.0)),
            ("clamp", b.clamp(0.0, 1.0)),
        ] {
            let e = r.unwrap_err().to_string();
            assert!(e.starts_with(&format!("{op}:")), "{op}: {e}");
            assert!(e.contains("bool"), "{op}: {e}");
        }
        let e = Tensor::from_vec(vec![2i64], &[1])
            .unwrap()
            .pow_scalar(-1.0)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("pow_scalar:") && e.contains("negative"),
            "{e}"
        );
    }
}
