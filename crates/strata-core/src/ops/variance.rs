//! Variance and standard deviation over dims, with Bessel's `correction` as in PyTorch.

use super::reduce::{map_with_kept, reduced_shape, reduction_dims};
use super::{float_dispatch, slice_of};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::reduce::{columns, map_rows, rows, sum_slice};
use crate::layout::Dim;
use crate::{Element, Error, FloatElement, Result, Tensor};

/// Σ (v - mean)² over a slice, accumulated in f64 in independent lanes.
fn sum_sq_dev<T: FloatElement>(s: &[T], mean: f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let chunks = s.chunks_exact(4);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..4 {
            let d = Element::to_f64(c[i]) - mean;
            acc[i] += d * d;
        }
    }
    let mut total = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for &v in tail {
        let d = Element::to_f64(v) - mean;
        total += d * d;
    }
    total
}

/// Column variances of contiguous `[outer, n, inner]` data (see `columns`), two passes per
/// block with f64 accumulators.
fn var_columns<T: FloatElement>(
    data: &[T],
    (outer, n, inner): (usize, usize, usize),
    correction: usize,
) -> Vec<T> {
    let dof = n.saturating_sub(correction) as f64;
    let mut out = Vec::with_capacity(outer * inner);
    let (mut mean, mut ss) = (vec![0.0f64; inner], vec![0.0f64; inner]);
    for block in data.chunks_exact(n * inner) {
        mean.fill(0.0);
        ss.fill(0.0);
        for row in block.chunks_exact(inner) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += Element::to_f64(v);
            }
        }
        for m in mean.iter_mut() {
            *m /= n as f64;
        }
        for row in block.chunks_exact(inner) {
            for ((s, &m), &v) in ss.iter_mut().zip(&mean).zip(row) {
                let d = Element::to_f64(v) - m;
                *s += d * d;
            }
        }
        out.extend(ss.iter().map(|&s| <T as Element>::from_f64(s / dof)));
    }
    out
}

/// Variance over the sorted `dims` (two passes per row: the mean, then the squared
/// deviations), keeping them as size 1. Divides by `max(0, n - correction)`.
fn var_kernel(x: &Tensor, dims: &[usize], correction: usize) -> Result<Tensor> {
    let keep_shape = reduced_shape(x.shape(), dims, true);
    Ok(float_dispatch!(x.dtype(), "var", T => {
        let data = x.storage_read();
        let src = slice_of::<T>(&data, "var")?;
        if let Some((r, dims)) = columns(x.layout(), dims) {
            let v = var_columns(&src[r], dims, correction);
            return Ok(Tensor::from_data(T::into_storage(v), &keep_shape));
        }
        let outer: usize = keep_shape.iter().product();
        let (buf, inner) = rows(src, x.layout(), dims);
        let v = map_rows(&buf, outer, inner, |row: &[T]| {
            let n = row.len();
            let mean = Element::to_f64(sum_slice(row)) / n as f64;
            let dof = n.saturating_sub(correction) as f64;
            <T as Element>::from_f64(sum_sq_dev(row, mean) / dof)
        });
        Tensor::from_data(T::into_storage(v), &keep_shape)
    }))
}

/// d var / dx = 2 (x - mean) / (n - correction).
struct VarBackward {
    dims: Vec<usize>,
    keep_shape: Vec<usize>,
    divisor: f64,
}

impl BackwardOp for VarBackward {
    fn name(&self) -> &'static str {
        "var"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let g = grad.reshape(&self.keep_shape)?;
        let mean = x.mean(&self.dims, true)?;
        let scale = 2.0 / self.divisor;
        let gx = float_dispatch!(x.dtype(), "var", T => {
            let c = <T as Element>::from_f64(scale);
            map_with_kept::<T>(x, &mean, &g, "var", move |x, m, g| (x - m) * g * c)?
        });
        Ok(vec![Some(gx)])
    }
}

impl Tensor {
    fn var_impl(&self, dims: &[usize], correction: usize, keepdim: bool) -> Result<Tensor> {
        let count: usize = dims.iter().map(|&d| self.shape()[d]).product();
        if count == 0 {
            return Err(Error::shape(
                "var",
                self.shape(),
                "cannot take the variance over an empty dimension",
            ));
        }
        let kept = var_kernel(self, dims, correction)?;
        let keep_shape = kept.shape().to_vec();
        let out = kept.reshape(&reduced_shape(self.shape(), dims, keepdim))?;
        if !needs_grad(&[self]) {
            return Ok(out);
        }
        Ok(out.record(
            &[self],
            VarBackward {
                dims: dims.to_vec(),
                keep_shape,
                divisor: count.saturating_sub(correction) as f64,
            },
        ))
    }

    /// Variance over `dims` (an empty list means all), dividing by `n - correction`:
    /// `correction = 1` is the unbiased estimate (PyTorch's default), `0` the population
    /// variance. `keepdim` keeps the reduced dims as size 1. Where `n <= correction` the
    /// result is NaN or infinity, as in PyTorch; a reduced dim of size 0 is an error.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 2.0, 4.0, 6.0], &[2, 3])?;
    /// assert_eq!(t.var(&[1], 1, false)?.to_vec::<f64>()?, vec![1.0, 4.0]);
    /// assert_eq!(t.var(&[0], 0, true)?.to_vec::<f64>()?, vec![0.25, 1.0, 2.25]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn var<D: Dim>(&self, dims: &[D], correction: usize, keepdim: bool) -> Result<Tensor> {
        let dims = reduction_dims(self, dims, "var")?;
        self.var_impl(&dims, correction, keepdim)
    }

    /// Variance of all elements (see [`Tensor::var`]), as a 0-dimensional tensor.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4])?;
    /// assert_eq!(t.var_all(0)?.item()?, 1.25);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn var_all(&self, correction: usize) -> Result<Tensor> {
        let dims: Vec<usize> = (0..self.ndim()).collect();
        self.var_impl(&dims, correction, false)
    }

    /// Standard deviation over `dims`: the square root of [`Tensor::var`] with the same
    /// arguments (its gradient is infinite or NaN where the deviation is 0, as in PyTorch).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f64, 3.0, 5.0, 7.0], &[2, 2])?;
    /// assert_eq!(t.std(&[0], 1, false)?.to_vec::<f64>()?, vec![8.0f64.sqrt(); 2]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn std<D: Dim>(&self, dims: &[D], correction: usize, keepdim: bool) -> Result<Tensor> {
        self.var(dims, correction, keepdim)?.sqrt()
    }

    /// Standard deviation of all elements, as a 0-dimensional tensor.
    pub fn std_all(&self, correction: usize) -> Result<Tensor> {
        self.var_all(correction)?.sqrt()
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    #[test]
    fn var_and_std_match_a_naive_two_pass_computation() {
        let x = Tensor::randn(&[3, 4, 5]).to_dtype(crate::DType::F64);
        let v = x.to_vec::<f64>().unwrap();
        for (correction, keepdim) in [(0usize, false), (1, true), (2, false)] {
            let got = x.var(&[0, 2], correction, keepdim).unwrap();
            let want_shape: &[usize] = if keepdim { &[1, 4, 1] } else { &[4] };
            assert_eq!(got.shape(), want_shape);
            let got = got.to_vec::<f64>().unwrap();
            for j in 0..4 {
                let vals: Vec<f64> = (0..3)
                    .flat_map(|i| (0..5).map(move |k| (i, k)))
                    .map(|(i, k)| v[i * 20 + j * 5 + k])
                    .collect();
                let m = vals.iter().sum::<f64>() / 15.0;
                let ss: f64 = vals.iter().map(|a| (a - m) * (a - m)).sum();
                let want = ss / (15 - correction) as f64;
                assert!((got[j] - want).abs() < 1e-12 * want.max(1.0), "{j}");
            }
        }
        let s = x.std_all(1).unwrap().item().unwrap();
        let va = x.var_all(1).unwrap().item().unwrap();
        assert!((s * s - va).abs() < 1e-12);
    }

    #[test]
    fn column_path_matches_the_row_path() {
        // Leading dims of contiguous data take the column kernel; the same reduction of a
        // permuted copy takes the row kernel.
        let x = Tensor::randn(&[3, 4, 5]).to_dtype(crate::DType::F64);
        let p = x.permute(&[2, 0, 1]).unwrap(); // [5, 3, 4], not contiguous
        let cols = x.var(&[0, 1], 1, false).unwrap().to_vec::<f64>().unwrap();
        let rows = p.var(&[1, 2], 1, false).unwrap().to_vec::<f64>().unwrap();
        for (a, b) in cols.iter().zip(&rows) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        let mid = x.var(&[1], 0, true).unwrap();
        assert_eq!(mid.shape(), &[3, 1, 5]);
        let want = x.transpose(1, 2).unwrap().var(&[2], 0, true).unwrap();
        let (a, b) = (mid.to_vec::<f64>().unwrap(), want.to_vec::<f64>().unwrap());
        for (a, b) in a.iter().zip(&b) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
    }

    #[test]
    fn var_edge_cases() {
        // One element with the unbiased estimate: 0/0, NaN as in PyTorch.
        let one = Tensor::from_vec(vec![3.0f32], &[1]).unwrap();
        assert!(one.var_all(1).unwrap().item().unwrap().is_nan());
        assert_eq!(one.var_all(0).unwrap().item().unwrap(), 0.0);
        // Constant rows in f32 with a large offset: the two-pass kernel gives exactly 0.
        let c = Tensor::full(&[2, 1000], 1.0e4, crate::DType::F32);
        assert_eq!(
            c.var(&[1], 1, false).unwrap().to_vec::<f32>().unwrap(),
            vec![0.0; 2]
        );
        assert!(Tensor::zeros(&[2, 0]).var(&[1], 1, false).is_err());
        assert_eq!(
            Tensor::zeros(&[0, 3]).var(&[1], 1, false).unwrap().shape(),
            &[0]
        );
        assert!(Tensor::from_vec(vec![1i64, 2], &[2])
            .unwrap()
            .var_all(1)
            .is_err());
    }

    #[test]
    fn var_and_std_gradchecks() {
        let opts = GradcheckOptions::default();
        let x = Tensor::randn(&[3, 4, 5]);
        gradcheck(|t| t[0].var(&[1], 1, false), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].var(&[0, 2], 0, true), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].var_all(1), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].std(&[-1], 1, true), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].std_all(0), &[x.clone()], opts).unwrap();
        gradcheck(
            |t| t[0].permute(&[2, 0, 1])?.var(&[1], 1, false),
            &[x],
            opts,
        )
        .unwrap();
        gradcheck(
            |t| t[0].expand(&[3, 4])?.var(&[1], 1, false),
            &[Tensor::randn(&[1, 4])],
            opts,
        )
        .unwrap();
    }
}
