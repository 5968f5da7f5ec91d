//! Summary statistics of tensors in one pass, shared by the NaN guard and the monitors.
//! Contiguous f32 tensors (nearly all parameters, gradients and activations) are read in
//! place with eight independent accumulators so the pass vectorises; anything else is
//! converted to f64 first.

use strata_core::{DType, Tensor};

/// Count, sum, sum of squares, minimum and maximum of a tensor's values, accumulated in f64.
/// Any NaN or infinity makes `sum_squares` non-finite.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    pub count: usize,
    pub sum: f64,
    pub sum_squares: f64,
    pub min: f64,
    pub max: f64,
}

impl Moments {
    /// The mean (NaN when empty).
    pub fn mean(&self) -> f64 {
        self.sum / self.count as f64
    }

    /// The population standard deviation (NaN when empty).
    pub fn std(&self) -> f64 {
        let mean = self.mean();
        (self.sum_squares / self.count as f64 - mean * mean)
            .max(0.0)
            .sqrt()
    }

    /// The L2 norm.
    pub fn norm(&self) -> f64 {
        self.sum_squares.sqrt()
    }

    /// True when every value was finite.
    pub fn all_finite(&self) -> bool {
        self.sum_squares.is_finite() && self.sum.is_finite()
    }
}

/// The moments of every value of `t`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::tensor_stats::moments;
/// let m = moments(&Tensor::from_vec(vec![3.0f32, -4.0], &[2])?);
/// assert_eq!((m.count, m.sum, m.norm(), m.min, m.max), (2, -1.0, 5.0, -4.0, 3.0));
/// # Ok::<(), strata_core::Error>(())
/// ```
pub fn moments(t: &Tensor) -> Moments {
    if t.dtype() == DType::F32
        && let Ok(values) = t.read::<f32>()
    {
        return moments_f32(&values);
    }
    let values = t.to_vec_f64();
    let mut m = empty();
    for v in values {
        add(&mut m, v);
    }
    m
}

/// The L2 norm of `t` (non-finite if any value is).
pub fn l2_norm(t: &Tensor) -> f64 {
    if t.dtype() == DType::F32
        && let Ok(values) = t.read::<f32>()
    {
        return sum_squares_f32(&values).sqrt();
    }
    t.to_vec_f64().iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// True when every value of `t` is finite. For contiguous f32 tensors (the guard runs it
/// on every gradient of every step) a branch-free test of the exponent bits, sixteen lanes
/// at a time, which runs at memory speed.
pub fn all_finite(t: &Tensor) -> bool {
    if t.dtype() == DType::F32
        && let Ok(values) = t.read::<f32>()
    {
        return all_finite_f32(&values);
    }
    t.to_vec_f64().iter().all(|v| v.is_finite())
}

/// For each tensor, whether all its values are finite: one parallel pass over all of them
/// (pieces of 64K values shared by the kernels' threads), for the guard that checks every
/// gradient of every step.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::tensor_stats::all_finite_each;
/// let a = Tensor::ones(&[100_000]);
/// let b = Tensor::from_vec(vec![1.0f32, f32::NAN], &[2])?;
/// assert_eq!(all_finite_each(&[&a, &b]), vec![true, false]);
/// # Ok::<(), strata_core::Error>(())
/// ```
pub fn all_finite_each(tensors: &[&Tensor]) -> Vec<bool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    const PIECE: usize = 1 << 16;
    let guards: Vec<_> = tensors
        .iter()
        .map(|t| {
            (t.dtype() == DType::F32)
                .then(|| t.read::<f32>().ok())
                .flatten()
        })
        .collect();
    let bad: Vec<AtomicBool> = tensors.iter().map(|_| AtomicBool::new(false)).collect();
    let mut pieces = Vec::new();
    for (i, (t, guard)) in tensors.iter().zip(&guards).enumerate() {
        match guard {
            Some(values) => pieces.extend(values.chunks(PIECE).map(|c| (i, c))),
            None => bad[i].store(!all_finite(t), Ordering::Relaxed),
        }
    }
    strata_core::kernels::parallel::for_each_item(pieces, |(i, values)| {
        if !all_finite_f32(values) {
            bad[i].store(true, Ordering::Relaxed);
        }
    });
    bad.iter().map(|b| !b.load(Ordering::Relaxed)).collect()
}

fn all_finite_f32(values: &[f32]) -> bool {
    // An f32 is NaN or infinite exactly when its eight exponent bits are all ones.
    const EXPONENT: u32 = 0x7f80_0000;
    let mut bad = [0u32; 16];
    let chunks = values.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..16 {
            bad[i] |= u32::from(c[i].to_bits() & EXPONENT == EXPONENT);
        }
    }
    bad.iter().all(|&b| b == 0) && tail.iter().all(|v| v.is_finite())
}

fn empty() -> Moments {
    Moments {
        count: 0,
        sum: 0.0,
        sum_squares: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    }
}

fn add(m: &mut Moments, v: f64) {
    m.count += 1;
    m.sum += v;
    m.sum_squares += v * v;
    // A NaN must show in min/max too, so compare in a NaN-propagating way.
    if v < m.min || v.is_nan() {
        m.min = v;
    }
    if v > m.max || v.is_nan() {
        m.max = v;
    }
}

const LANES: usize = 8;

fn sum_squares_f32(values: &[f32]) -> f64 {
    let mut acc = [0.0f64; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            let v = c[i] as f64;
            acc[i] += v * v;
        }
    }
    let mut total: f64 = acc.iter().sum();
    for &v in tail {
        total += (v as f64) * (v as f64);
    }
    total
}

fn moments_f32(values: &[f32]) -> Moments {
    let (mut sum, mut sq) = ([0.0f64; LANES], [0.0f64; LANES]);
    let (mut lo, mut hi) = ([f32::INFINITY; LANES], [f32::NEG_INFINITY; LANES]);
    let chunks = values.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            let v = c[i];
            sum[i] += v as f64;
            sq[i] += (v as f64) * (v as f64);
            lo[i] = lo[i].min(v);
            hi[i] = hi[i].max(v);
        }
    }
    let mut m = Moments {
        count: values.len() - tail.len(),
        sum: sum.iter().sum(),
        sum_squares: sq.iter().sum(),
        min: lo.iter().fold(f64::INFINITY, |a, &b| a.min(b as f64)),
        max: hi.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b as f64)),
    };
    for &v in tail {
        add(&mut m, v as f64);
    }
    // f32::min ignores NaN; the sum of squares still reports it.
    if !m.sum_squares.is_finite() && values.iter().any(|v| v.is_nan()) {
        m.min = f64::NAN;
        m.max = f64::NAN;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_fast_path_matches_the_f64_path() {
        let values: Vec<f32> = (0..37).map(|i| (i as f32 - 18.5) * 0.25).collect();
        let t = Tensor::from_vec(values.clone(), &[37]).unwrap();
        let fast = moments(&t);
        let slow = moments(&t.to_dtype(DType::F64));
        assert_eq!(fast.count, 37);
        assert!((fast.sum - slow.sum).abs() < 1e-9);
        assert!((fast.sum_squares - slow.sum_squares).abs() < 1e-9);
        assert_eq!((fast.min, fast.max), (slow.min, slow.max));
        assert_eq!((fast.min, fast.max), (-4.625, 4.375));
        // A strided view takes the converting path and agrees.
        let m = Tensor::from_vec(values[..36].to_vec(), &[6, 6]).unwrap();
        let mt = m.transpose(0, 1).unwrap();
        assert!((moments(&mt).sum_squares - moments(&m).sum_squares).abs() < 1e-9);
    }

    #[test]
    fn each_tensor_is_judged_on_its_own_across_pieces() {
        let mut big = vec![0.5f32; 200_000];
        big[131_072] = f32::INFINITY; // the third piece
        let big = Tensor::from_vec(big, &[200_000]).unwrap();
        let fine = Tensor::ones(&[70_000]);
        let f64_bad = Tensor::from_vec(vec![1.0f64, f64::NAN], &[2]).unwrap();
        let strided = Tensor::ones(&[4, 4]).transpose(0, 1).unwrap();
        let out = all_finite_each(&[&fine, &big, &f64_bad, &strided]);
        assert_eq!(out, vec![true, false, false, true]);
    }

    #[test]
    fn non_finite_values_are_reported_in_any_position() {
        for pos in [0usize, 5, 8, 15, 16, 31, 32, 36] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut v = vec![1.0f32; 37];
                v[pos] = bad;
                let t = Tensor::from_vec(v, &[37]).unwrap();
                assert!(!all_finite(&t), "{bad} at {pos}");
                assert!(!moments(&t).all_finite());
            }
        }
        assert!(all_finite(
            &Tensor::from_vec(vec![f32::MAX; 9], &[9]).unwrap()
        ));
    }
}
