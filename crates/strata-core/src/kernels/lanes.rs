//! Row reductions over independent lanes. A single running sum is a dependency chain the
//! compiler may not reorder, so it cannot vectorise; sixteen independent accumulators
//! (enough for 512-bit vectors) can. Used by softmax, cross-entropy and normalisation
//! kernels across the crates.

use crate::FloatElement;

const LANES: usize = 16;

/// `Σ f(v)` over `x`.
///
/// ```
/// use strata_core::kernels::lanes::lane_sum;
/// let x: Vec<f32> = (1..=100).map(|v| v as f32).collect();
/// assert_eq!(lane_sum(&x, |v| v), 5050.0);
/// ```
#[inline(always)]
pub fn lane_sum<T: FloatElement>(x: &[T], f: impl Fn(T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    let mut total = T::zero();
    for &v in rest {
        total += f(v);
    }
    acc.iter().fold(total, |s, &a| s + a)
}

/// `Σ f(x[i], y[i])` over two slices of equal length.
#[inline(always)]
pub fn lane_sum2<T: FloatElement>(x: &[T], y: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::zero(); LANES];
    let (cx, cy) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (rx, ry) = (cx.remainder(), cy.remainder());
    for (a_chunk, b_chunk) in cx.zip(cy) {
        for ((a, &v), &u) in acc.iter_mut().zip(a_chunk).zip(b_chunk) {
            *a += f(v, u);
        }
    }
    let mut total = T::zero();
    for (&v, &u) in rx.iter().zip(ry) {
        total += f(v, u);
    }
    acc.iter().fold(total, |s, &a| s + a)
}

/// The largest element, skipping NaNs (-inf for an empty slice).
#[inline(always)]
pub fn lane_max<T: FloatElement>(x: &[T]) -> T {
    let mut acc = [T::neg_infinity(); LANES];
    let chunks = x.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = if v > *a { v } else { *a };
        }
    }
    let mut m = T::neg_infinity();
    for &v in rest.iter().chain(acc.iter()) {
        m = if v > m { v } else { m };
    }
    m
}

/// The largest element, NaN if the slice holds one, -inf if it is empty.
#[inline]
pub fn max_or_nan<T: FloatElement>(x: &[T]) -> T {
    let nan = lane_sum(x, |v| if v.is_nan() { T::one() } else { T::zero() }) > T::zero();
    if nan {
        T::nan()
    } else {
        lane_max(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_match_plain_loops() {
        let x: Vec<f64> = (0..37).map(|i| ((i * 7919) % 101) as f64 - 50.0).collect();
        let y: Vec<f64> = (0..37).map(|i| i as f64 * 0.5).collect();
        assert_eq!(
            lane_sum(&x, |v| v * v),
            x.iter().map(|v| v * v).sum::<f64>()
        );
        assert_eq!(
            lane_sum2(&x, &y, |a, b| a * b),
            x.iter().zip(&y).map(|(a, b)| a * b).sum::<f64>()
        );
        assert_eq!(lane_max(&x), 50.0);
        assert_eq!(lane_max::<f32>(&[]), f32::NEG_INFINITY);
        let mut z = x.clone();
        z[30] = f64::NAN;
        assert!(max_or_nan(&z).is_nan());
        assert_eq!(lane_max(&z), 50.0);
    }
}
