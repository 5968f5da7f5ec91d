//! The fused layer-normalisation op behind `LayerNorm`: forward kernel and backward rule side
//! by side, one graph node per call.
//!
//! The input is viewed as `R` rows of `D` contiguous values (D = the product of the
//! normalised trailing dims). Each row is normalised with its own mean and biased variance
//! (two passes over the row while it is in cache, accumulated in f64), then scaled and
//! shifted elementwise by `weight` and `bias` (shape of the trailing dims).
//!
//! Backward, per row with `x̂ = (x − mean)·invstd` and `g = dy·w`:
//! `dx = invstd·(g − Σg/D − x̂·Σ(g·x̂)/D)`; across rows `dw = Σ dy·x̂`, `db = Σ dy`.
//! Rows run in parallel above a size threshold, in runs of consecutive rows; the `dw`/`db`
//! column sums are accumulated per run and added in run order at the end.

use super::lanes::{grad_sums, shifted_sums, wide};
use strata_core::kernels::parallel::for_each_item;
use strata_core::{num_threads, BackwardOp, DType, FloatElement, Tensor};

/// Elements below which the kernels stay on the calling thread.
const PAR_MIN_ELEMS: usize = 1 << 15;

/// Normalises `input` over its trailing dims `normalized_shape` and applies the optional
/// elementwise `weight` and `bias` (shape `normalized_shape`, dtype of the input). Records
/// one backward node.
pub(crate) fn layer_norm(
    input: &Tensor,
    normalized_shape: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> strata_core::Result<Tensor> {
    const OP: &str = "layer_norm";
    let nd = normalized_shape.len();
    if input.ndim() < nd || input.shape()[input.ndim() - nd..] != *normalized_shape {
        return Err(strata_core::Error::Shape {
            op: OP,
            got: input.shape().into(),
            expected: format!("expected trailing dims {normalized_shape:?}"),
        });
    }
    for t in [weight, bias].into_iter().flatten() {
        if t.shape() != normalized_shape {
            return Err(strata_core::Error::Shape {
                op: OP,
                got: t.shape().into(),
                expected: format!("expected weight/bias of shape {normalized_shape:?}"),
            });
        }
        if t.dtype() != input.dtype() {
            return Err(strata_core::Error::DTypeMismatch {
                op: OP,
                lhs: input.dtype(),
                rhs: t.dtype(),
            });
        }
    }
    let d: usize = normalized_shape.iter().product();
    let x = input.detach().contiguous();
    let w = weight.map(|t| t.detach().contiguous());
    let b = bias.map(|t| t.detach().contiguous());
    let (out, stats) = match x.dtype() {
        DType::F32 => forward::<f32>(&x, d, w.as_ref(), b.as_ref(), eps)?,
        DType::F64 => forward::<f64>(&x, d, w.as_ref(), b.as_ref(), eps)?,
        other => return Err(float_error(other)),
    };
    let mut inputs = vec![input];
    inputs.extend(weight);
    inputs.extend(bias);
    Ok(out.record_with(&inputs, || LayerNormBackward {
        d,
        stats,
        has_weight: weight.is_some(),
        has_bias: bias.is_some(),
    }))
}

/// How many consecutive rows one parallel task takes (about four tasks per thread, none
/// smaller than an eighth of the threshold), or `None` to stay on this thread.
fn rows_per_task(rows: usize, d: usize) -> Option<usize> {
    let threads = num_threads();
    if threads == 1 || rows * d < PAR_MIN_ELEMS {
        None
    } else {
        Some(
            (PAR_MIN_ELEMS / 8 / d.max(1))
                .max(rows.div_ceil(4 * threads))
                .max(1),
        )
    }
}

/// The output and each row's `(mean, invstd)`.
fn forward<T: FloatElement>(
    x: &Tensor,
    d: usize,
    w: Option<&Tensor>,
    b: Option<&Tensor>,
    eps: f64,
) -> strata_core::Result<(Tensor, Vec<(f64, f64)>)> {
    let xs = x.read::<T>()?;
    let ws = w.map(|t| t.read::<T>()).transpose()?;
    let bs = b.map(|t| t.read::<T>()).transpose()?;
    // Without affine parameters: scale 1, shift 0 (one loop for all cases).
    let (ones, zeros) = (
        affine_default(ws.is_none(), d, 1.0),
        affine_default(bs.is_none(), d, 0.0),
    );
    let ws: &[T] = ws.as_deref().unwrap_or(&ones);
    let bs: &[T] = bs.as_deref().unwrap_or(&zeros);
    let rows = xs.len().checked_div(d).unwrap_or(0);
    let mut out = vec![T::zero(); xs.len()];
    let mut stats = vec![(0.0, 0.0); rows];
    let row = |r: usize, y: &mut [T], stat: &mut (f64, f64)| {
        let x = &xs[r * d..(r + 1) * d];
        let k = wide(x[0]);
        let (s1, s2) = shifted_sums(x, k);
        let shift = s1 / d as f64;
        let var = (s2 / d as f64 - shift * shift).max(0.0);
        let (mean, invstd) = (k + shift, 1.0 / (var + eps).sqrt());
        *stat = (mean, invstd);
        let (m, inv) = (T::from_f64(mean), T::from_f64(invstd));
        for (((y, &x), &w), &b) in y.iter_mut().zip(x).zip(ws).zip(bs) {
            *y = (x - m) * inv * w + b;
        }
    };
    // Rows `first..` of the output and their statistics.
    let run = |first: usize, ys: &mut [T], ss: &mut [(f64, f64)]| {
        for (j, (y, s)) in ys.chunks_mut(d).zip(ss).enumerate() {
            row(first + j, y, s);
        }
    };
    if rows > 0 {
        match rows_per_task(rows, d) {
            None => run(0, &mut out, &mut stats),
            Some(per) => {
                let parts: Vec<_> = out
                    .chunks_mut(per * d)
                    .zip(stats.chunks_mut(per))
                    .enumerate()
                    .collect();
                for_each_item(parts, |(t, (ys, ss))| run(t * per, ys, ss));
            }
        }
    }
    Ok((Tensor::from_vec(out, x.shape())?, stats))
}

struct LayerNormBackward {
    d: usize,
    /// Each row's `(mean, invstd)`.
    stats: Vec<(f64, f64)>,
    has_weight: bool,
    has_bias: bool,
}

impl BackwardOp for LayerNormBackward {
    fn name(&self) -> &'static str {
        "layer_norm"
    }

    fn backward(
        &self,
        grad: &Tensor,
        inputs: &[Tensor],
    ) -> strata_core::Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let weight = self.has_weight.then(|| &inputs[1]);
        let bias = self.has_bias.then(|| &inputs[1 + self.has_weight as usize]);
        let g = grad.contiguous();
        let xc = x.detach().contiguous();
        let wc = weight.map(|t| t.detach().contiguous());
        let (dx, dw, db) = match x.dtype() {
            DType::F32 => self.grads::<f32>(&xc, &g, wc.as_ref())?,
            DType::F64 => self.grads::<f64>(&xc, &g, wc.as_ref())?,
            other => return Err(float_error(other)),
        };
        let mut out = vec![x.requires_grad().then_some(dx)];
        if let Some(t) = weight {
            out.push(Some(Tensor::from_vec(dw, t.shape())?.to_dtype(t.dtype())));
        }
        if let Some(t) = bias {
            out.push(Some(Tensor::from_vec(db, t.shape())?.to_dtype(t.dtype())));
        }
        Ok(out)
    }
}

impl LayerNormBackward {
    /// `dx` and the column sums `dw`, `db` (in f64).
    fn grads<T: FloatElement>(
        &self,
        x: &Tensor,
        grad: &Tensor,
        w: Option<&Tensor>,
    ) -> strata_core::Result<(Tensor, Vec<f64>, Vec<f64>)> {
        let d = self.d;
        let xs = x.read::<T>()?;
        let gs = grad.read::<T>()?;
        let ws = w.map(|t| t.read::<T>()).transpose()?;
        let ones = affine_default(ws.is_none(), d, 1.0);
        let ws: &[T] = ws.as_deref().unwrap_or(&ones);
        let rows = self.stats.len();
        let mut dx = vec![T::zero(); xs.len()];
        // One row: writes dx and adds dy·x̂ and dy into `acc` = [dw | db | scratch for dy·w].
        let row = |mut acc: Vec<f64>, (r, dxr): (usize, &mut [T])| {
            let (mean, inv) = self.stats[r];
            let x = &xs[r * d..(r + 1) * d];
            let dy = &gs[r * d..(r + 1) * d];
            let (dw, rest) = acc.split_at_mut(d);
            let (db, gw) = rest.split_at_mut(d);
            for (((((dw, db), gw), &g), &x), &w) in dw
                .iter_mut()
                .zip(db.iter_mut())
                .zip(gw.iter_mut())
                .zip(dy)
                .zip(x)
                .zip(ws)
            {
                let g = wide(g);
                *dw += g * (wide(x) - mean) * inv;
                *db += g;
                *gw = g * wide(w);
            }
            let (sg, sgx) = grad_sums(gw, x, mean);
            let (mg, mgx) = (sg / d as f64, sgx * inv / d as f64);
            for ((dx, &g), &x) in dxr.iter_mut().zip(gw.iter()).zip(x) {
                let xhat = (wide(x) - mean) * inv;
                *dx = T::from_f64(inv * (g - mg - xhat * mgx));
            }
            acc
        };
        let zero = || vec![0.0; 3 * d];
        // Rows `first..` of dx, folded into a fresh accumulator.
        let run = |first: usize, dxs: &mut [T]| {
            dxs.chunks_mut(d)
                .enumerate()
                .map(|(j, dxr)| (first + j, dxr))
                .fold(zero(), &row)
        };
        let acc = if rows == 0 {
            zero()
        } else {
            match rows_per_task(rows, d) {
                None => run(0, &mut dx),
                Some(per) => {
                    let mut partials = vec![Vec::new(); rows.div_ceil(per)];
                    let parts: Vec<_> = dx
                        .chunks_mut(per * d)
                        .zip(&mut partials)
                        .enumerate()
                        .collect();
                    for_each_item(parts, |(t, (dxs, slot))| *slot = run(t * per, dxs));
                    // Added in run order: the result does not depend on timing.
                    let mut partials = partials.into_iter();
                    let mut acc = partials.next().unwrap_or_else(zero);
                    for p in partials {
                        acc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
                    }
                    acc
                }
            }
        };
        let (dw, db) = (&acc[..d], &acc[d..2 * d]);
        Ok((Tensor::from_vec(dx, x.shape())?, dw.to_vec(), db.to_vec()))
    }
}

/// `d` copies of `value` when `needed` (the stand-in for an absent weight or bias), else
/// nothing.
fn affine_default<T: FloatElement>(needed: bool, d: usize, value: f64) -> Vec<T> {
    if needed {
        vec![T::from_f64(value); d]
    } else {
        Vec::new()
    }
}

fn float_error(got: DType) -> strata_core::Error {
    strata_core::Error::DType {
        op: "layer_norm",
        expected: "a floating-point dtype (f32 or f64)".to_string(),
        got,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::{gradcheck, Generator, GradcheckOptions};

    #[test]
    fn rows_have_zero_mean_and_unit_variance_on_a_parallel_sized_input() {
        let x = Tensor::randn_with(&mut Generator::new(4), &[300, 257], DType::F64)
            .mul_scalar(5.0)
            .unwrap()
            .add_scalar(7.0)
            .unwrap();
        let y = layer_norm(&x, &[257], None, None, 0.0)
            .unwrap()
            .to_vec_f64();
        for row in y.chunks(257) {
            let m = row.iter().sum::<f64>() / 257.0;
            let v = row.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 257.0;
            assert!(m.abs() < 1e-12 && (v - 1.0).abs() < 1e-12, "{m} {v}");
        }
    }

    #[test]
    fn gradcheck_parallel_sized_weight_and_bias() {
        // Many rows so the column sums take the parallel fold; the parameters are small.
        let x = Tensor::randn_with(&mut Generator::new(5), &[2000, 4, 5], DType::F64);
        gradcheck(
            |t| {
                let y = layer_norm(&x, &[4, 5], Some(&t[0]), Some(&t[1]), 1e-5)?;
                y.mul(&y)?.sum(&[0], false)
            },
            &[Tensor::randn(&[4, 5]), Tensor::randn(&[4, 5])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn shape_errors() {
        let x = Tensor::zeros(&[2, 3, 4]);
        let err = layer_norm(&x, &[3], None, None, 1e-5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer_norm: got shape [2, 3, 4], expected trailing dims [3]"
        );
        let w = Tensor::ones(&[5]);
        let err = layer_norm(&x, &[4], Some(&w), None, 1e-5).unwrap_err();
        assert!(
            err.to_string().contains("weight/bias of shape [4]"),
            "{err}"
        );
    }
}
