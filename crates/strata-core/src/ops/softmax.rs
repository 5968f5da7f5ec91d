//! Softmax, log-softmax and logsumexp: numerically stable (the maximum is subtracted before
//! exponentiating) fused kernels, each with its own backward rule.
//!
//! A softmax over dim `d` sees the contiguous input as `[outer, n, inner]`, `n` being the
//! size of `d`: every `outer` block holds `n` rows of `inner` columns and each column is
//! normalised on its own, vectorised across the columns. When `d` is the last dim
//! (`inner == 1`) each block is one contiguous row. Blocks are independent, so large inputs
//! spread them over threads. Non-contiguous inputs are copied to contiguous first.
//! Exponentials use `FloatElement::exp_v` (vectorisable for f32, see `kernels/exp.rs`).

use super::reduce::{map_with_kept, reduced_shape, reduction_dims};
use super::{around, float_dispatch, slice_of};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::lanes::{lane_sum2, max_or_nan};
use crate::kernels::parallel::{for_each_run_mut, num_threads, PAR_MIN_ELEMS};
use crate::kernels::reduce::{map_rows, rows, sum_slice};
use crate::layout::Dim;
use crate::{Element, FloatElement, Result, Tensor};

/// `Σ a·b` (or `Σ a` when `b` is `None`).
#[inline]
fn dot<T: FloatElement>(a: &[T], b: Option<&[T]>) -> T {
    match b {
        Some(b) => lane_sum2(a, b, |x, y| x * y),
        None => sum_slice(a),
    }
}

/// `Σ exp(v - m)` over a slice, through a small stack buffer so that the exponentials
/// vectorise; chunk totals are accumulated in f64.
fn sum_exp<T: FloatElement>(s: &[T], m: T) -> f64 {
    let mut buf = [T::zero(); 256];
    let mut total = 0.0;
    for chunk in s.chunks(256) {
        let b = &mut buf[..chunk.len()];
        for (o, &v) in b.iter_mut().zip(chunk) {
            *o = (v - m).exp_v();
        }
        total += Element::to_f64(sum_slice(b));
    }
    total
}

/// Calls `f(block_index, out_block, scratch)` for each block of `block` elements of `out`,
/// in parallel when `out` is large. `scratch` is a buffer for column sums, one per run of
/// blocks.
fn for_blocks<T: FloatElement>(
    out: &mut [T],
    block: usize,
    f: impl Fn(usize, &mut [T], &mut Vec<T>) + Sync + Send,
) {
    if out.len() >= PAR_MIN_ELEMS && out.len() > block && num_threads() > 1 {
        for_each_run_mut(out, block, |first, run| {
            let mut scratch = Vec::new();
            for (j, o) in run.chunks_mut(block).enumerate() {
                f(first + j, o, &mut scratch);
            }
        });
    } else {
        let mut scratch = Vec::new();
        for (i, o) in out.chunks_mut(block).enumerate() {
            f(i, o, &mut scratch);
        }
    }
}

/// Softmax (or log-softmax when `LOG`) of the `n` rows × `inner` columns block `x`,
/// normalising each column.
fn softmax_block<T: FloatElement, const LOG: bool>(
    x: &[T],
    out: &mut [T],
    inner: usize,
    scratch: &mut Vec<T>,
) {
    if inner == 1 {
        let m = max_or_nan(x);
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (v - m).exp_v();
        }
        let s = sum_slice(out);
        if LOG {
            let ls = s.ln();
            for (o, &v) in out.iter_mut().zip(x) {
                *o = (v - m) - ls;
            }
        } else {
            let inv = s.recip();
            for o in out.iter_mut() {
                *o *= inv;
            }
        }
        return;
    }
    scratch.clear();
    scratch.extend_from_slice(&x[..inner]);
    scratch.resize(2 * inner, T::zero());
    let (mx, sum) = scratch.split_at_mut(inner);
    for row in x.chunks_exact(inner).skip(1) {
        for (m, &v) in mx.iter_mut().zip(row) {
            if v > *m || v.is_nan() {
                *m = v;
            }
        }
    }
    for (orow, row) in out.chunks_exact_mut(inner).zip(x.chunks_exact(inner)) {
        for (((o, &v), &m), s) in orow.iter_mut().zip(row).zip(mx.iter()).zip(sum.iter_mut()) {
            *o = (v - m).exp_v();
            *s += *o;
        }
    }
    if LOG {
        for s in sum.iter_mut() {
            *s = s.ln();
        }
        for (orow, row) in out.chunks_exact_mut(inner).zip(x.chunks_exact(inner)) {
            for (((o, &v), &m), &ls) in orow.iter_mut().zip(row).zip(mx.iter()).zip(sum.iter()) {
                *o = (v - m) - ls;
            }
        }
    } else {
        for s in sum.iter_mut() {
            *s = s.recip();
        }
        for orow in out.chunks_exact_mut(inner) {
            for (o, &inv) in orow.iter_mut().zip(sum.iter()) {
                *o *= inv;
            }
        }
    }
}

/// The input gradient of one block from the output gradient `g` and the output `y`:
/// softmax `y * (g - Σ g y)`, log-softmax `g - exp(y) * Σ g` (sums over each column).
fn softmax_backward_block<T: FloatElement, const LOG: bool>(
    g: &[T],
    y: &[T],
    out: &mut [T],
    inner: usize,
    scratch: &mut Vec<T>,
) {
    if inner == 1 {
        let s = dot(g, (!LOG).then_some(y));
        for ((o, &gv), &yv) in out.iter_mut().zip(g).zip(y) {
            *o = if LOG {
                gv - yv.exp_v() * s
            } else {
                yv * (gv - s)
            };
        }
        return;
    }
    scratch.clear();
    scratch.resize(inner, T::zero());
    let sum = &mut scratch[..];
    for (grow, yrow) in g.chunks_exact(inner).zip(y.chunks_exact(inner)) {
        for ((s, &gv), &yv) in sum.iter_mut().zip(grow).zip(yrow) {
            *s += if LOG { gv } else { gv * yv };
        }
    }
    let rows = out
        .chunks_exact_mut(inner)
        .zip(g.chunks_exact(inner))
        .zip(y.chunks_exact(inner));
    for ((orow, grow), yrow) in rows {
        for (((o, &gv), &yv), &s) in orow.iter_mut().zip(grow).zip(yrow).zip(sum.iter()) {
            *o = if LOG {
                gv - yv.exp_v() * s
            } else {
                yv * (gv - s)
            };
        }
    }
}

fn softmax_impl<const LOG: bool, D: Dim>(x: &Tensor, dim: D, op: &'static str) -> Result<Tensor> {
    let d = dim.resolve(x.ndim(), op)?;
    let src = x.detach().contiguous();
    let (_, n, inner) = around(x.shape(), d);
    let block = n * inner;
    let out = float_dispatch!(x.dtype(), op, T => {
        let data = src.storage_read();
        let off = src.layout().offset();
        let s = &slice_of::<T>(&data, op)?[off..off + src.numel()];
        let mut out = vec![T::zero(); s.len()];
        if !out.is_empty() {
            for_blocks(&mut out, block, |b, o, scratch| {
                softmax_block::<T, LOG>(&s[b * block..(b + 1) * block], o, inner, scratch)
            });
        }
        Tensor::from_data(T::into_storage(out), x.shape())
    });
    if !needs_grad(&[x]) {
        return Ok(out);
    }
    let output = out.detach();
    Ok(out.record(
        &[x],
        SoftmaxBackward::<LOG> {
            dim: d,
            output,
            name: op,
        },
    ))
}

struct SoftmaxBackward<const LOG: bool> {
    dim: usize,
    /// The (contiguous) forward output.
    output: Tensor,
    name: &'static str,
}

impl<const LOG: bool> BackwardOp for SoftmaxBackward<LOG> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, grad: &Tensor, _inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let op = self.name;
        let g = grad.contiguous();
        let (_, n, inner) = around(g.shape(), self.dim);
        let block = n * inner;
        let gx = float_dispatch!(g.dtype(), op, T => {
            let (gd, yd) = (g.storage_read(), self.output.storage_read());
            let go = g.layout().offset();
            let gs = &slice_of::<T>(&gd, op)?[go..go + g.numel()];
            let ys = &slice_of::<T>(&yd, op)?[..g.numel()];
            let mut out = vec![T::zero(); gs.len()];
            if !out.is_empty() {
                for_blocks(&mut out, block, |b, o, scratch| {
                    let r = b * block..(b + 1) * block;
                    softmax_backward_block::<T, LOG>(&gs[r.clone()], &ys[r], o, inner, scratch)
                });
            }
            Tensor::from_data(T::into_storage(out), g.shape())
        });
        Ok(vec![Some(gx)])
    }
}

/// log Σ exp over a row: max + log Σ exp(v - max), accumulated in f64. An empty or all -inf
/// row gives -inf, a row with +inf gives +inf, a row with NaN gives NaN.
fn logsumexp_row<T: FloatElement>(row: &[T]) -> T {
    let m = max_or_nan(row);
    if !m.is_finite() {
        return m;
    }
    m + <T as Element>::from_f64(sum_exp(row, m).ln())
}

/// d/dx logsumexp = exp(x - y).
struct LogsumexpBackward {
    keep_shape: Vec<usize>,
    /// The output with the reduced dims kept as 1.
    output: Tensor,
}

impl BackwardOp for LogsumexpBackward {
    fn name(&self) -> &'static str {
        "logsumexp"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let g = grad.reshape(&self.keep_shape)?;
        let gx = float_dispatch!(x.dtype(), "logsumexp", T => {
            map_with_kept::<T>(x, &self.output, &g, "logsumexp", |x, y, g| g * (x - y).exp_v())?
        });
        Ok(vec![Some(gx)])
    }
}

impl Tensor {
    /// `exp(x) / Σ exp(x)` along `dim`, computed stably (the maximum is subtracted first)
    /// in one fused kernel.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 1000.0, 1000.0, 1000.0], &[2, 3])?;
    /// let p = x.softmax(-1)?.to_vec::<f64>()?;
    /// assert!((p[0..3].iter().sum::<f64>() - 1.0).abs() < 1e-12);
    /// assert!(p[2] > p[1] && p[1] > p[0]);
    /// assert_eq!(p[3..], [1.0 / 3.0; 3]); // no overflow at 1000
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn softmax<D: Dim>(&self, dim: D) -> Result<Tensor> {
        softmax_impl::<false, D>(self, dim, "softmax")
    }

    /// `x - log Σ exp(x)` along `dim`, computed stably in one fused kernel (more accurate
    /// than `softmax(dim)?.log()` for very negative log-probabilities).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![0.0f64, 0.0, -800.0], &[3])?;
    /// let lp = x.log_softmax(0)?.to_vec::<f64>()?;
    /// assert!((lp[0] - 0.5f64.ln()).abs() < 1e-12);
    /// assert!((lp[2] - (-800.0 + 0.5f64.ln())).abs() < 1e-9); // exp(-800) underflows; this does not
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn log_softmax<D: Dim>(&self, dim: D) -> Result<Tensor> {
        softmax_impl::<true, D>(self, dim, "log_softmax")
    }

    /// `log Σ exp(x)` over `dims` (an empty list means all), computed stably; `keepdim`
    /// keeps them as size 1. An empty reduction gives -inf, like PyTorch.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1000.0f64, 1000.0, 0.0, 0.0], &[2, 2])?;
    /// let l = x.logsumexp(&[1], false)?.to_vec::<f64>()?;
    /// assert!((l[0] - (1000.0 + 2f64.ln())).abs() < 1e-9);
    /// assert!((l[1] - 2f64.ln()).abs() < 1e-12);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn logsumexp<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Tensor> {
        const OP: &str = "logsumexp";
        let dims = reduction_dims(self, dims, OP)?;
        let keep_shape = reduced_shape(self.shape(), &dims, true);
        let kept = float_dispatch!(self.dtype(), OP, T => {
            let data = self.storage_read();
            let src = slice_of::<T>(&data, OP)?;
            let outer: usize = keep_shape.iter().product();
            let (buf, inner) = rows(src, self.layout(), &dims);
            let v = map_rows(&buf, outer, inner, logsumexp_row::<T>);
            Tensor::from_data(T::into_storage(v), &keep_shape)
        });
        let out = kept.reshape(&reduced_shape(self.shape(), &dims, keepdim))?;
        if !needs_grad(&[self]) {
            return Ok(out);
        }
        Ok(out.record(
            &[self],
            LogsumexpBackward {
                keep_shape,
                output: kept,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, DType, GradcheckOptions, Tensor};

    /// Softmax along `dim` of a 3-D f64 tensor, by the definition.
    fn naive_softmax(x: &Tensor, dim: usize, log: bool) -> Vec<f64> {
        let v = x.to_vec::<f64>().unwrap();
        let s = x.shape().to_vec();
        let strides = crate::contiguous_strides(&s);
        let mut out = vec![0.0; v.len()];
        for (p, o) in out.iter_mut().enumerate() {
            let pos =
                |r: usize| p - ((p / strides[dim]) % s[dim]) * strides[dim] + r * strides[dim];
            let denom: f64 = (0..s[dim]).map(|r| v[pos(r)].exp()).sum();
            *o = if log {
                v[p] - denom.ln()
            } else {
                v[p].exp() / denom
            };
        }
        out
    }

    fn close(a: &[f64], b: &[f64], tol: f64) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "element {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn values_match_the_definition_on_every_dim() {
        let x = Tensor::randn(&[3, 4, 5]).to_dtype(DType::F64);
        for dim in 0..3 {
            let got = x.softmax(dim).unwrap().to_vec::<f64>().unwrap();
            close(&got, &naive_softmax(&x, dim, false), 1e-13);
            let got = x
                .log_softmax(dim as i64 - 3)
                .unwrap()
                .to_vec::<f64>()
                .unwrap();
            close(&got, &naive_softmax(&x, dim, true), 1e-13);
        }
        // A transposed (non-contiguous) input.
        let t = x.transpose(0, 2).unwrap();
        let got = t.softmax(1).unwrap().to_vec::<f64>().unwrap();
        close(&got, &naive_softmax(&t.contiguous(), 1, false), 1e-13);
    }

    #[test]
    fn large_inputs_take_the_parallel_path_correctly() {
        for shape in [[64usize, 1024], [1024, 64]] {
            let x = Tensor::randn(&shape)
                .to_dtype(DType::F64)
                .reshape(&[shape[0], shape[1], 1])
                .unwrap();
            for dim in [0, 1] {
                let got = x.log_softmax(dim).unwrap().to_vec::<f64>().unwrap();
                close(&got, &naive_softmax(&x, dim, true), 1e-12);
            }
        }
        let x = Tensor::randn(&[8, 100, 64]).to_dtype(DType::F64);
        let got = x.softmax(1).unwrap().to_vec::<f64>().unwrap();
        close(&got, &naive_softmax(&x, 1, false), 1e-13);
    }

    #[test]
    fn extreme_values_stay_finite() {
        let x = Tensor::from_vec(vec![1e4f32, -1e4, 0.0, f32::NEG_INFINITY], &[4]).unwrap();
        assert_eq!(
            x.softmax(0).unwrap().to_vec::<f32>().unwrap(),
            vec![1.0, 0.0, 0.0, 0.0]
        );
        let lp = x.log_softmax(0).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(lp[..3], [0.0, -2e4, -1e4]);
        assert_eq!(lp[3], f32::NEG_INFINITY);
        let all_neg_inf = Tensor::full(&[2, 3], f64::NEG_INFINITY, DType::F64);
        let l = all_neg_inf
            .logsumexp(&[1], false)
            .unwrap()
            .to_vec::<f64>()
            .unwrap();
        assert_eq!(l, vec![f64::NEG_INFINITY; 2]);
        let with_nan = Tensor::from_vec(vec![1.0f64, f64::NAN, f64::INFINITY], &[3]).unwrap();
        assert!(with_nan
            .logsumexp(&[0], false)
            .unwrap()
            .item()
            .unwrap()
            .is_nan());
        assert!(with_nan
            .softmax(0)
            .unwrap()
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .all(|v| v.is_nan()));
    }

    #[test]
    fn logsumexp_over_several_dims_and_empty_ones() {
        let x = Tensor::randn(&[3, 4, 5]).to_dtype(DType::F64);
        let v = x.to_vec::<f64>().unwrap();
        let got = x.logsumexp(&[0, 2], true).unwrap();
        assert_eq!(got.shape(), &[1, 4, 1]);
        let got = got.to_vec::<f64>().unwrap();
        for j in 0..4 {
            let s: f64 = (0..3)
                .flat_map(|i| (0..5).map(move |k| i * 20 + j * 5 + k))
                .map(|p| v[p].exp())
                .sum();
            assert!((got[j] - s.ln()).abs() < 1e-13);
        }
        let all = x.logsumexp(&[] as &[usize], false).unwrap();
        assert_eq!(all.shape(), &[] as &[usize]);
        let e = Tensor::zeros(&[2, 0]);
        assert_eq!(
            e.logsumexp(&[1], false).unwrap().to_vec::<f32>().unwrap(),
            vec![f32::NEG_INFINITY; 2]
        );
        assert_eq!(e.softmax(1).unwrap().shape(), &[2, 0]);
        assert_eq!(e.log_softmax(0).unwrap().shape(), &[2, 0]);
    }

    #[test]
    fn gradchecks() {
        let opts = GradcheckOptions::default();
        let x = Tensor::randn(&[3, 4, 5]);
        for dim in [0i64, 1, -1] {
            gradcheck(|t| t[0].softmax(dim), &[x.clone()], opts).unwrap();
            gradcheck(|t| t[0].log_softmax(dim), &[x.clone()], opts).unwrap();
        }
        gradcheck(|t| t[0].transpose(0, 2)?.softmax(-1), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].transpose(1, 2)?.log_softmax(1), &[x.clone()], opts).unwrap();
        gradcheck(
            |t| t[0].expand(&[3, 4])?.softmax(0),
            &[Tensor::randn(&[1, 4])],
            opts,
        )
        .unwrap();
        gradcheck(|t| t[0].logsumexp(&[1], false), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].logsumexp(&[0, 2], true), &[x.clone()], opts).unwrap();
        gradcheck(
            |t| t[0].transpose(0, 1)?.logsumexp(&[-1], false),
            &[x],
            opts,
        )
        .unwrap();
    }

    #[test]
    fn integer_input_is_a_dtype_error() {
        let i = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        assert!(matches!(
            i.softmax(0),
            Err(crate::Error::DType { op: "softmax", .. })
        ));
        assert!(matches!(
            i.logsumexp(&[0], false),
            Err(crate::Error::DType { .. })
        ));
    }
}
