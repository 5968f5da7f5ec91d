//! The fused batch-normalisation op behind `BatchNorm1d`/`BatchNorm2d`: forward kernel and
//! backward rule side by side, one graph node per call.
//!
//! The input is viewed as `[N, C, S]` (S = the product of the dims after the channel dim, 1
//! for `[N, C]`). Statistics are per channel over the `M = N·S` values of that channel.
//!
//! Forward (batch statistics): one pass accumulates shifted sums per channel (in f64, shifted
//! by the channel's first value so the variance does not cancel), one pass writes
//! `y = (x − mean)·w/√(var + eps) + b`. With running statistics only the second pass runs.
//!
//! Backward, with `x̂ = (x − mean)·invstd`:
//! - `db = Σ dy`, `dw = Σ dy·x̂` (one reduction pass),
//! - batch statistics: `dx = w·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M)` (the mean and variance
//!   depend on x); running statistics: `dx = w·invstd·dy` (they are constants).
//!
//! Synchronised statistics (`batch_norm_sync.rs`) normalise like batch ones, with mean and
//! variance over every rank's batch; the backward pass then takes `Σdy` and `Σdy·x̂` over
//! every rank too, and `M` is the global count.
//!
//! Both passes run in parallel above a size threshold: over row ranges when there are
//! enough rows, else over channels (reductions) or `(n, c)` blocks (elementwise)
//! (`batch_norm_blocks.rs`).

use super::batch_norm_blocks::Blocks;
use super::batch_norm_sync::{SyncedBackward, SyncedStatistics};
use super::lanes::{grad_sums, shifted_sums, wide};
use strata_core::{BackwardOp, DType, FloatElement, Tensor};

/// Which statistics normalise the input.
pub(crate) enum Statistics<'a> {
    /// The batch's own mean and (biased) variance; gradients flow through them.
    Batch,
    /// Mean and variance over every rank's batch; gradients flow through them.
    Synced(SyncedStatistics),
    /// Fixed running estimates (evaluation); constants for autodiff.
    Running { mean: &'a Tensor, var: &'a Tensor },
}

/// The op's result: the normalised output, and with [`Statistics::Batch`] the batch mean and
/// biased variance per channel (for the running-statistics update).
pub(crate) struct BatchNormOutput {
    pub output: Tensor,
    pub batch_mean: Vec<f64>,
    pub batch_var: Vec<f64>,
}

/// Normalises `input` (`[N, C, *]`) per channel and applies the optional affine `weight` and
/// `bias` (`[C]`, same dtype as the input). Records one backward node.
pub(crate) fn batch_norm(
    input: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    stats: Statistics<'_>,
    eps: f64,
) -> strata_core::Result<BatchNormOutput> {
    const OP: &str = "batch_norm";
    if input.ndim() < 2 {
        return Err(shape_error(
            input.shape(),
            "expected [N, C, *] with at least 2 dims",
        ));
    }
    let blocks = Blocks::of(input.shape());
    for t in [weight, bias].into_iter().flatten() {
        if t.shape() != [blocks.c] {
            return Err(shape_error(
                t.shape(),
                &format!("expected weight/bias of shape [{}]", blocks.c),
            ));
        }
        if t.dtype() != input.dtype() {
            return Err(strata_core::Error::DTypeMismatch {
                op: OP,
                lhs: input.dtype(),
                rhs: t.dtype(),
            });
        }
    }
    let batch = !matches!(stats, Statistics::Running { .. });
    if matches!(stats, Statistics::Batch) && blocks.per_channel() == 0 {
        return Err(shape_error(
            input.shape(),
            "batch statistics need at least one value per channel",
        ));
    }
    let (running, sync) = match stats {
        Statistics::Batch => (None, None),
        Statistics::Running { mean, var } => {
            for t in [mean, var] {
                if t.shape() != [blocks.c] {
                    return Err(shape_error(
                        t.shape(),
                        &format!("expected running statistics of shape [{}]", blocks.c),
                    ));
                }
            }
            (Some((mean.to_vec_f64(), var.to_vec_f64())), None)
        }
        Statistics::Synced(s) if s.mean.len() != blocks.c => {
            return Err(shape_error(
                input.shape(),
                &format!("synchronised statistics for {} channels", s.mean.len()),
            ))
        }
        Statistics::Synced(s) => {
            let (mean, var, backward) = s.split(blocks.n);
            (Some((mean, var)), Some(backward))
        }
    };
    let w = weight.map(|t| t.to_vec_f64());
    let b = bias.map(|t| t.to_vec_f64());
    let x = input.detach().contiguous();
    let (output, mean, var) = match x.dtype() {
        DType::F32 => forward::<f32>(&x, blocks, running, w.as_deref(), b.as_deref(), eps)?,
        DType::F64 => forward::<f64>(&x, blocks, running, w.as_deref(), b.as_deref(), eps)?,
        other => return Err(float_error(other)),
    };
    let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
    let mut inputs = vec![input];
    inputs.extend(weight);
    inputs.extend(bias);
    let output = output.record_with(&inputs, || BatchNormBackward {
        blocks,
        mean: mean.clone(),
        invstd,
        batch,
        has_weight: weight.is_some(),
        has_bias: bias.is_some(),
        sync,
    });
    let (batch_mean, batch_var) = if batch {
        (mean, var)
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(BatchNormOutput {
        output,
        batch_mean,
        batch_var,
    })
}

/// Returns the output plus the mean and biased variance that normalised it (`given` ones, or
/// the batch's).
fn forward<T: FloatElement>(
    x: &Tensor,
    blocks: Blocks,
    given: Option<(Vec<f64>, Vec<f64>)>,
    w: Option<&[f64]>,
    b: Option<&[f64]>,
    eps: f64,
) -> strata_core::Result<(Tensor, Vec<f64>, Vec<f64>)> {
    let xs = x.read::<T>()?;
    let (mean, var) = match given {
        Some(mv) => mv,
        None => batch_statistics(&xs, blocks),
    };
    // y = (x - mean) * scale + shift, per channel.
    let coef: Vec<(T, T, T)> = (0..blocks.c)
        .map(|c| {
            let scale = w.map_or(1.0, |w| w[c]) / (var[c] + eps).sqrt();
            let shift = b.map_or(0.0, |b| b[c]);
            (T::from_f64(mean[c]), T::from_f64(scale), T::from_f64(shift))
        })
        .collect();
    let mut out = vec![T::zero(); blocks.numel()];
    let s = blocks.s;
    blocks.for_each_run_mut(&mut out, |y, off, channels| {
        let xr = &xs[off..off + y.len()];
        let coef = &coef[channels];
        if s == 1 {
            for ((y, &x), &(m, scale, shift)) in y.iter_mut().zip(xr).zip(coef) {
                *y = (x - m) * scale + shift;
            }
        } else {
            for ((yb, xb), &(m, scale, shift)) in y.chunks_mut(s).zip(xr.chunks(s)).zip(coef) {
                for (y, &x) in yb.iter_mut().zip(xb) {
                    *y = (x - m) * scale + shift;
                }
            }
        }
    });
    drop(xs);
    Ok((Tensor::from_vec(out, x.shape())?, mean, var))
}

/// Per-channel mean and biased variance of `input` (`[N, C, *]`), zeros for an empty batch:
/// this rank's share of synchronised statistics.
pub(crate) fn local_statistics(input: &Tensor) -> strata_core::Result<(Vec<f64>, Vec<f64>)> {
    let blocks = Blocks::of(input.shape());
    if blocks.per_channel() == 0 {
        return Ok((vec![0.0; blocks.c], vec![0.0; blocks.c]));
    }
    let x = input.detach().contiguous();
    Ok(match x.dtype() {
        DType::F32 => batch_statistics(&x.read::<f32>()?, blocks),
        DType::F64 => batch_statistics(&x.read::<f64>()?, blocks),
        other => return Err(float_error(other)),
    })
}

/// Per-channel mean and biased variance in one pass of shifted sums.
fn batch_statistics<T: FloatElement>(x: &[T], blocks: Blocks) -> (Vec<f64>, Vec<f64>) {
    let s = blocks.s;
    // The channel's first value: close enough to the mean that Σd² − (Σd)²/M keeps its digits.
    let shift: Vec<f64> = (0..blocks.c).map(|c| wide(x[c * s])).collect();
    let sums = blocks.reduce(|acc, off, channels| {
        if s == 1 {
            let row = &x[off..off + channels.len()];
            for ((a, &v), &k) in acc[channels.clone()]
                .iter_mut()
                .zip(row)
                .zip(&shift[channels])
            {
                let d = wide(v) - k;
                a.0 += d;
                a.1 += d * d;
            }
        } else {
            for (i, c) in channels.enumerate() {
                let (p, q) = shifted_sums(&x[off + i * s..off + (i + 1) * s], shift[c]);
                acc[c].0 += p;
                acc[c].1 += q;
            }
        }
    });
    let m = blocks.per_channel() as f64;
    sums.iter()
        .zip(&shift)
        .map(|(&(s1, s2), &k)| {
            let d = s1 / m;
            (k + d, (s2 / m - d * d).max(0.0))
        })
        .unzip()
}

struct BatchNormBackward {
    blocks: Blocks,
    mean: Vec<f64>,
    invstd: Vec<f64>,
    /// Batch statistics (gradient through mean and variance) or running ones (constants).
    batch: bool,
    has_weight: bool,
    has_bias: bool,
    /// With synchronised statistics: how to take the sums over every rank.
    sync: Option<SyncedBackward>,
}

impl BackwardOp for BatchNormBackward {
    fn name(&self) -> &'static str {
        "batch_norm"
    }

    fn backward(
        &self,
        grad: &Tensor,
        inputs: &[Tensor],
    ) -> strata_core::Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let weight = self.has_weight.then(|| &inputs[1]);
        let bias = self.has_bias.then(|| &inputs[1 + self.has_weight as usize]);
        let w = weight.map(|t| t.to_vec_f64());
        let want = Wanted {
            dx: x.requires_grad(),
            dw: weight.is_some_and(|t| t.requires_grad()),
            db: bias.is_some_and(|t| t.requires_grad()),
        };
        let g = grad.contiguous();
        let xc = x.detach().contiguous();
        let (dx, dw, db) = match x.dtype() {
            DType::F32 => self.grads::<f32>(&xc, &g, w.as_deref(), want)?,
            DType::F64 => self.grads::<f64>(&xc, &g, w.as_deref(), want)?,
            other => return Err(float_error(other)),
        };
        let mut out = vec![dx];
        if let Some(t) = weight {
            out.push(per_channel_tensor(dw, t)?);
        }
        if let Some(t) = bias {
            out.push(per_channel_tensor(db, t)?);
        }
        Ok(out)
    }
}

#[derive(Clone, Copy)]
struct Wanted {
    dx: bool,
    dw: bool,
    db: bool,
}

impl BatchNormBackward {
    /// `(dx, dw, db)`, each `None` when not wanted.
    #[allow(clippy::type_complexity)]
    fn grads<T: FloatElement>(
        &self,
        x: &Tensor,
        grad: &Tensor,
        w: Option<&[f64]>,
        want: Wanted,
    ) -> strata_core::Result<(Option<Tensor>, Option<Vec<f64>>, Option<Vec<f64>>)> {
        let blocks = self.blocks;
        let (xs, gs) = (x.read::<T>()?, grad.read::<T>()?);
        let (mean, invstd) = (&self.mean, &self.invstd);
        // Σdy and Σdy·(x − mean) per channel, needed by dw, db and the batch-statistics dx.
        let need_sums = want.dw || want.db || (want.dx && self.batch);
        let sums = if need_sums {
            let s = blocks.s;
            blocks.reduce(|acc, off, channels| {
                for (i, c) in channels.enumerate() {
                    let o = off + i * s;
                    let (p, q) = grad_sums(&gs[o..o + s], &xs[o..o + s], mean[c]);
                    acc[c].0 += p;
                    acc[c].1 += q;
                }
            })
        } else {
            Vec::new()
        };
        // Synchronised: dx needs the sums and the count over every rank (one all-reduce,
        // made on every rank because every rank's input wants its gradient alike).
        let global;
        let (sums_dx, m) = match &self.sync {
            Some(sync) if want.dx => {
                global = sync.gradient_sums(&sums)?;
                (&global, sync.count as f64)
            }
            _ => (&sums, blocks.per_channel() as f64),
        };
        let dx = if want.dx {
            // dx = a·dy − e·(x − mean) − f per channel.
            let coef: Vec<(T, T, T, T)> = (0..blocks.c)
                .map(|c| {
                    let a = w.map_or(1.0, |w| w[c]) * invstd[c];
                    let (e, f) = if self.batch {
                        let (sg, sgx) = sums_dx[c];
                        (a * invstd[c] * invstd[c] * sgx / m, a * sg / m)
                    } else {
                        (0.0, 0.0)
                    };
                    (
                        T::from_f64(a),
                        T::from_f64(e),
                        T::from_f64(f),
                        T::from_f64(mean[c]),
                    )
                })
                .collect();
            let mut out = vec![T::zero(); blocks.numel()];
            let s = blocks.s;
            blocks.for_each_run_mut(&mut out, |dx, off, channels| {
                let n = dx.len();
                let (gr, xr) = (&gs[off..off + n], &xs[off..off + n]);
                for (((dx, g), x), &(a, e, f, mu)) in dx
                    .chunks_mut(s)
                    .zip(gr.chunks(s))
                    .zip(xr.chunks(s))
                    .zip(&coef[channels])
                {
                    for ((dx, &g), &x) in dx.iter_mut().zip(g).zip(x) {
                        *dx = a * g - e * (x - mu) - f;
                    }
                }
            });
            Some(Tensor::from_vec(out, x.shape())?)
        } else {
            None
        };
        let dw = want
            .dw
            .then(|| sums.iter().zip(invstd).map(|(s, i)| s.1 * i).collect());
        let db = want.db.then(|| sums.iter().map(|s| s.0).collect());
        Ok((dx, dw, db))
    }
}

/// A per-channel gradient as a tensor shaped and typed like `like`.
fn per_channel_tensor(
    values: Option<Vec<f64>>,
    like: &Tensor,
) -> strata_core::Result<Option<Tensor>> {
    values
        .map(|v| Ok(Tensor::from_vec(v, like.shape())?.to_dtype(like.dtype())))
        .transpose()
}

fn shape_error(shape: &[usize], expected: &str) -> strata_core::Error {
    strata_core::Error::Shape {
        op: "batch_norm",
        got: shape.into(),
        expected: expected.to_string(),
    }
}

fn float_error(got: DType) -> strata_core::Error {
    strata_core::Error::DType {
        op: "batch_norm",
        expected: "a floating-point dtype (f32 or f64)".to_string(),
        got,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::{gradcheck, GradcheckOptions};

    /// Plain-Rust reference: per-channel statistics by definition (two passes).
    fn reference(x: &[f64], shape: &[usize], w: &[f64], b: &[f64], eps: f64) -> Vec<f64> {
        let bl = Blocks::of(shape);
        let mut y = vec![0.0; x.len()];
        for c in 0..bl.c {
            let idx: Vec<usize> = (0..bl.n)
                .flat_map(|i| (0..bl.s).map(move |k| (i * bl.c + c) * bl.s + k))
                .collect();
            let m = idx.iter().map(|&i| x[i]).sum::<f64>() / idx.len() as f64;
            let v = idx.iter().map(|&i| (x[i] - m).powi(2)).sum::<f64>() / idx.len() as f64;
            for &i in &idx {
                y[i] = (x[i] - m) / (v + eps).sqrt() * w[c] + b[c];
            }
        }
        y
    }

    #[test]
    fn forward_matches_the_definition_on_large_parallel_inputs() {
        // Big enough to take both parallel paths (many rows; few rows with big blocks).
        for shape in [
            vec![4096, 24],
            vec![64, 7, 150],
            vec![1, 3, 200, 200],
            vec![2, 6, 120, 100],
        ] {
            let x = Tensor::randn_with(&mut strata_core::Generator::new(1), &shape, DType::F64)
                .add_scalar(3.0)
                .unwrap();
            let c = shape[1];
            let w = Tensor::randn_with(&mut strata_core::Generator::new(2), &[c], DType::F64);
            let b = Tensor::randn_with(&mut strata_core::Generator::new(3), &[c], DType::F64);
            let out = batch_norm(&x, Some(&w), Some(&b), Statistics::Batch, 1e-5).unwrap();
            let want = reference(
                &x.to_vec_f64(),
                &shape,
                &w.to_vec_f64(),
                &b.to_vec_f64(),
                1e-5,
            );
            for (a, e) in out.output.to_vec_f64().iter().zip(&want) {
                assert!(
                    (a - e).abs() < 1e-10 * (1.0 + e.abs()),
                    "{shape:?}: {a} vs {e}"
                );
            }
        }
    }

    #[test]
    fn gradcheck_large_input_exercises_the_parallel_backward() {
        // Only the weight and bias (few entries) are checked numerically, through the
        // parallel reduction; the input gradient is checked on small shapes elsewhere.
        // Many rows, and a single row with large blocks.
        for shape in [[40, 3, 300], [1, 3, 25_000]] {
            let x = Tensor::randn(&shape).to_dtype(DType::F64);
            let w = Tensor::randn(&[3]);
            let b = Tensor::randn(&[3]);
            gradcheck(
                |t| {
                    let out = batch_norm(&x, Some(&t[0]), Some(&t[1]), Statistics::Batch, 1e-5)?;
                    out.output.mul(&out.output)
                },
                &[w, b],
                GradcheckOptions::default(),
            )
            .unwrap();
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let x = Tensor::zeros(&[4, 3]);
        let w = Tensor::ones(&[2]);
        let err = batch_norm(&x, Some(&w), None, Statistics::Batch, 1e-5)
            .err()
            .unwrap();
        assert!(
            err.to_string()
                .contains("expected weight/bias of shape [3]"),
            "{err}"
        );
        let err = batch_norm(&Tensor::zeros(&[0, 3]), None, None, Statistics::Batch, 1e-5)
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("at least one value per channel"),
            "{err}"
        );
        let xi = Tensor::from_vec(vec![1i64, 2], &[1, 2]).unwrap();
        assert!(batch_norm(&xi, None, None, Statistics::Batch, 1e-5).is_err());
    }
}
