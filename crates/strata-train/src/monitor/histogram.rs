//! Equal-width histograms of tensors in TensorBoard's terms: bucket `i` counts the values in
//! `(bucket_limits[i-1], bucket_limits[i]]`, the first bucket starting at the minimum and
//! the last limit being the maximum, so every value falls in a bucket.

use crate::records::{HistogramKind, HistogramRecord};
use strata_core::{DType, Tensor};

/// What a histogram is of and when, for [`histogram`].
#[derive(Clone, Copy, Debug)]
pub struct HistogramOf<'a> {
    pub name: &'a str,
    pub kind: HistogramKind,
    pub step: u64,
    pub epoch: u64,
}

/// The histogram of the finite values of `t` in `bins` equal-width buckets between their
/// minimum and maximum (one bucket when they are equal). NaN and infinities are left out
/// (the NaN guard and the warnings report them); `None` when no value is finite.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::monitor::histogram::{histogram, HistogramOf};
/// use strata_train::records::HistogramKind;
/// let t = Tensor::from_vec(vec![0.0f32, 1.0, 1.5, 4.0], &[4])?;
/// let of = HistogramOf { name: "x", kind: HistogramKind::Weight, step: 1, epoch: 1 };
/// let h = histogram(&t, 4, of).unwrap();
/// assert_eq!(h.bucket_limits, vec![1.0, 2.0, 3.0, 4.0]);
/// assert_eq!(h.counts, vec![2.0, 1.0, 0.0, 1.0]); // 0 and 1 are in (-inf, 1]
/// # Ok::<(), strata_core::Error>(())
/// ```
pub fn histogram(t: &Tensor, bins: usize, of: HistogramOf<'_>) -> Option<HistogramRecord> {
    // Contiguous f32 tensors are read in place; anything else is converted once.
    if t.dtype() == DType::F32
        && let Ok(values) = t.read::<f32>()
    {
        return from_values(|| values.iter().map(|&v| v as f64), bins, of);
    }
    let values = t.to_vec_f64();
    from_values(|| values.iter().copied(), bins, of)
}

/// Two passes over `values()`: the moments of the finite values, then the buckets.
fn from_values<I: Iterator<Item = f64>>(
    values: impl Fn() -> I,
    bins: usize,
    of: HistogramOf<'_>,
) -> Option<HistogramRecord> {
    let (mut num, mut sum, mut sum_squares) = (0usize, 0.0, 0.0);
    let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values().filter(|v| v.is_finite()) {
        num += 1;
        sum += v;
        sum_squares += v * v;
        min = min.min(v);
        max = max.max(v);
    }
    if num == 0 {
        return None;
    }
    let bucket_limits = limits(min, max, bins);
    let mut counts = vec![0.0; bucket_limits.len()];
    for v in values().filter(|v| v.is_finite()) {
        counts[bucket_of(v, min, &bucket_limits)] += 1.0;
    }
    Some(HistogramRecord {
        step: of.step,
        epoch: of.epoch,
        name: of.name.to_string(),
        kind: of.kind,
        min,
        max,
        num: num as f64,
        sum,
        sum_squares,
        bucket_limits,
        counts,
    })
}

/// The upper limits of `bins` equal-width buckets over `[min, max]`, the last exactly `max`.
fn limits(min: f64, max: f64, bins: usize) -> Vec<f64> {
    let width = (max - min) / bins.max(1) as f64;
    // A constant tensor (or a range too narrow or too wide to split) gets a single bucket.
    if !width.is_finite() || width <= 0.0 {
        return vec![max];
    }
    let mut out: Vec<f64> = (1..bins).map(|i| min + width * i as f64).collect();
    out.push(max);
    out
}

/// The bucket holding `v`, by the stored limits (so rounding in the width cannot put a
/// value on the wrong side of a limit).
fn bucket_of(v: f64, min: f64, limits: &[f64]) -> usize {
    let last = limits.len() - 1;
    if last == 0 {
        return 0;
    }
    let width = (limits[last] - min) / limits.len() as f64;
    let mut i = (((v - min) / width).ceil() as isize - 1).clamp(0, last as isize) as usize;
    while i < last && v > limits[i] {
        i += 1;
    }
    while i > 0 && v <= limits[i - 1] {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of() -> HistogramOf<'static> {
        HistogramOf {
            name: "w",
            kind: HistogramKind::Gradient,
            step: 7,
            epoch: 2,
        }
    }

    #[test]
    fn counts_sum_to_num_and_limits_span_min_to_max() {
        let values: Vec<f32> = (0..1000)
            .map(|i| ((i * 37) % 101) as f32 * 0.3 - 7.0)
            .collect();
        let t = Tensor::from_vec(values.clone(), &[10, 100]).unwrap();
        let h = histogram(&t, 30, of()).unwrap();
        assert_eq!((h.step, h.epoch, h.name.as_str()), (7, 2, "w"));
        assert_eq!(h.num, 1000.0);
        assert_eq!(h.counts.len(), 30);
        assert_eq!(h.counts.iter().sum::<f64>(), 1000.0);
        assert_eq!(h.min, -7.0);
        assert!((h.max - (100.0 * 0.3 - 7.0)).abs() < 1e-5);
        assert_eq!(*h.bucket_limits.last().unwrap(), h.max);
        // Every bucket holds exactly the values in (previous limit, limit].
        for (i, &count) in h.counts.iter().enumerate() {
            let lo = if i == 0 {
                f64::NEG_INFINITY
            } else {
                h.bucket_limits[i - 1]
            };
            let hi = h.bucket_limits[i];
            let n = values
                .iter()
                .filter(|&&v| (v as f64) > lo && (v as f64) <= hi)
                .count();
            assert_eq!(count, n as f64, "bucket {i}");
        }
        let sum: f64 = values.iter().map(|&v| v as f64).sum();
        assert!((h.sum - sum).abs() < 1e-6);
        // A transposed (strided) view takes the converting path and agrees.
        let ht = histogram(&t.transpose(0, 1).unwrap(), 30, of()).unwrap();
        assert_eq!(ht.counts, h.counts);
    }

    #[test]
    fn constant_and_non_finite_values() {
        let t = Tensor::from_vec(vec![2.0f64, 2.0, f64::NAN, 2.0, f64::INFINITY], &[5]).unwrap();
        let h = histogram(&t, 30, of()).unwrap();
        assert_eq!((h.min, h.max, h.num), (2.0, 2.0, 3.0));
        assert_eq!((h.bucket_limits, h.counts), (vec![2.0], vec![3.0]));
        assert_eq!((h.sum, h.sum_squares), (6.0, 12.0));
        let nan = Tensor::from_vec(vec![f32::NAN; 3], &[3]).unwrap();
        assert!(histogram(&nan, 30, of()).is_none());
    }
}
