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
//! Rows run in parallel above a size threshold; the `dw`/`db` column sums are accumulated
//! per task and added at the end.

use rayon::prelude::*;
use strata_core::{num_threads, BackwardOp, DType, Element, FloatElement, Tensor};

/// An element as f64 (`Element::to_f64`, named apart from `num_traits`' fallible one).
#[inline(always)]
fn wide<T: Element>(v: T) -> f64 {
    v.to_f64()
}

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

/// How many rows one parallel task takes (`usize::MAX`: stay on this thread).
fn rows_per_task(rows: usize, d: usize) -> usize {
    if num_threads() == 1 || rows * d < PAR_MIN_ELEMS {
        usize::MAX
    } else {
        (PAR_MIN_ELEMS / 8 / d.max(1)).max(1)
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
    let (ws, bs) = (ws.as_deref(), bs.as_deref());
    let rows = if d == 0 { 0 } else { xs.len() / d };
    let mut out = vec![T::zero(); xs.len()];
    let mut stats = vec![(0.0, 0.0); rows];
    let row = |r: usize, y: &mut [T], stat: &mut (f64, f64)| {
        let x = &xs[r * d..(r + 1) * d];
        let mean = x.iter().map(|&v| wide(v)).sum::<f64>() / d as f64;
        let var = x.iter().map(|&v| (wide(v) - mean).powi(2)).sum::<f64>() / d as f64;
        let invstd = 1.0 / (var + eps).sqrt();
        *stat = (mean, invstd);
        let (m, inv) = (T::from_f64(mean), T::from_f64(invstd));
        for (j, (y, &v)) in y.iter_mut().zip(x).enumerate() {
            let mut h = (v - m) * inv;
            if let Some(w) = ws {
                h = h * w[j];
            }
            if let Some(b) = bs {
                h = h + b[j];
            }
            *y = h;
        }
    };
    if rows > 0 {
        let per = rows_per_task(rows, d);
        if per == usize::MAX {
            for (r, (y, s)) in out.chunks_mut(d).zip(stats.iter_mut()).enumerate() {
                row(r, y, s);
            }
        } else {
            out.par_chunks_mut(d)
                .zip(stats.par_iter_mut())
                .enumerate()
                .with_min_len(per)
                .for_each(|(r, (y, s))| row(r, y, s));
        }
    }
    drop((xs, ws, bs));
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
        let ws = ws.as_deref();
        let rows = self.stats.len();
        let mut dx = vec![T::zero(); xs.len()];
        // One row: writes dx and adds dy·x̂ and dy into `acc` = [dw | db].
        let row = |mut acc: Vec<f64>, (r, dxr): (usize, &mut [T])| {
            let (mean, inv) = self.stats[r];
            let x = &xs[r * d..(r + 1) * d];
            let dy = &gs[r * d..(r + 1) * d];
            let (mut sg, mut sgx) = (0.0, 0.0);
            for j in 0..d {
                let xhat = (wide(x[j]) - mean) * inv;
                let g = wide(dy[j]);
                acc[j] += g * xhat;
                acc[d + j] += g;
                let gw = ws.map_or(g, |w| g * wide(w[j]));
                sg += gw;
                sgx += gw * xhat;
            }
            let (mg, mgx) = (sg / d as f64, sgx / d as f64);
            for j in 0..d {
                let xhat = (wide(x[j]) - mean) * inv;
                let gw = ws.map_or(wide(dy[j]), |w| wide(dy[j]) * wide(w[j]));
                dxr[j] = T::from_f64(inv * (gw - mg - xhat * mgx));
            }
            acc
        };
        let zero = || vec![0.0; 2 * d];
        let acc = if rows == 0 {
            zero()
        } else {
            let per = rows_per_task(rows, d);
            if per == usize::MAX {
                dx.chunks_mut(d).enumerate().fold(zero(), row)
            } else {
                dx.par_chunks_mut(d)
                    .enumerate()
                    .with_min_len(per)
                    .fold(zero, row)
                    .reduce(zero, |mut a, b| {
                        a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
                        a
                    })
            }
        };
        drop((xs, gs, ws));
        let (dw, db) = acc.split_at(d);
        Ok((Tensor::from_vec(dx, x.shape())?, dw.to_vec(), db.to_vec()))
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
