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
//! Both passes run in parallel above a size threshold: over row ranges when there are
//! enough rows, else over channels (reductions) or `(n, c)` blocks (elementwise).

use rayon::prelude::*;
use strata_core::{num_threads, BackwardOp, DType, Element, FloatElement, Tensor};

/// An element as f64 (`Element::to_f64`, named apart from `num_traits`' fallible one).
#[inline(always)]
fn wide<T: Element>(v: T) -> f64 {
    v.to_f64()
}

/// Elements below which the kernels stay on the calling thread.
const PAR_MIN_ELEMS: usize = 1 << 15;

/// Which statistics normalise the input.
pub(crate) enum Statistics<'a> {
    /// The batch's own mean and (biased) variance; gradients flow through them.
    Batch,
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
    let batch = matches!(stats, Statistics::Batch);
    if batch && blocks.per_channel() == 0 {
        return Err(shape_error(
            input.shape(),
            "batch statistics need at least one value per channel",
        ));
    }
    let running = match stats {
        Statistics::Batch => None,
        Statistics::Running { mean, var } => {
            for t in [mean, var] {
                if t.shape() != [blocks.c] {
                    return Err(shape_error(
                        t.shape(),
                        &format!("expected running statistics of shape [{}]", blocks.c),
                    ));
                }
            }
            Some((mean.to_vec_f64(), var.to_vec_f64()))
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

/// Returns the output plus the mean and biased variance that normalised it.
fn forward<T: FloatElement>(
    x: &Tensor,
    blocks: Blocks,
    running: Option<(Vec<f64>, Vec<f64>)>,
    w: Option<&[f64]>,
    b: Option<&[f64]>,
    eps: f64,
) -> strata_core::Result<(Tensor, Vec<f64>, Vec<f64>)> {
    let xs = x.read::<T>()?;
    let (mean, var) = match running {
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
    blocks.for_each_block_mut(&mut out, |c, off, y| {
        let (m, scale, shift) = coef[c];
        let n = y.len();
        for (y, &x) in y.iter_mut().zip(&xs[off..off + n]) {
            *y = (x - m) * scale + shift;
        }
    });
    drop(xs);
    Ok((Tensor::from_vec(out, x.shape())?, mean, var))
}

/// Per-channel mean and biased variance in one pass of shifted sums.
fn batch_statistics<T: FloatElement>(x: &[T], blocks: Blocks) -> (Vec<f64>, Vec<f64>) {
    let s = blocks.s;
    // The channel's first value: close enough to the mean that Σd² − (Σd)²/M keeps its digits.
    let shift: Vec<f64> = (0..blocks.c).map(|c| wide(x[c * s])).collect();
    let sums = blocks.reduce(|c, off| {
        let k = shift[c];
        let (mut s1, mut s2) = (0.0, 0.0);
        for &v in &x[off..off + s] {
            let d = wide(v) - k;
            s1 += d;
            s2 += d * d;
        }
        (s1, s2)
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
            blocks.reduce(|c, off| {
                let m = mean[c];
                let (mut sg, mut sgx) = (0.0, 0.0);
                for (&g, &x) in gs[off..off + blocks.s].iter().zip(&xs[off..]) {
                    let g = wide(g);
                    sg += g;
                    sgx += g * (wide(x) - m);
                }
                (sg, sgx)
            })
        } else {
            Vec::new()
        };
        let dx = if want.dx {
            let m = blocks.per_channel() as f64;
            // dx = a·dy − e·(x − mean) − f per channel.
            let coef: Vec<(T, T, T, T)> = (0..blocks.c)
                .map(|c| {
                    let a = w.map_or(1.0, |w| w[c]) * invstd[c];
                    let (e, f) = if self.batch {
                        let (sg, sgx) = sums[c];
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
            blocks.for_each_block_mut(&mut out, |c, off, dx| {
                let (a, e, f, mu) = coef[c];
                let n = dx.len();
                for ((dx, &g), &x) in dx.iter_mut().zip(&gs[off..off + n]).zip(&xs[off..]) {
                    *dx = a * g - e * (x - mu) - f;
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

/// The geometry of a contiguous `[N, C, S]` buffer and the parallel loops over its
/// `(n, c)` blocks of `S` contiguous values.
#[derive(Clone, Copy, Debug)]
struct Blocks {
    n: usize,
    c: usize,
    s: usize,
}

impl Blocks {
    fn of(shape: &[usize]) -> Blocks {
        Blocks {
            n: shape[0],
            c: shape[1],
            s: shape[2..].iter().product(),
        }
    }

    fn numel(&self) -> usize {
        self.n * self.c * self.s
    }

    /// Values per channel (M).
    fn per_channel(&self) -> usize {
        self.n * self.s
    }

    /// How many parallel tasks the buffer is worth (1 = stay on this thread).
    fn tasks(&self) -> usize {
        let threads = num_threads();
        if threads == 1 {
            return 1;
        }
        (self.numel() / PAR_MIN_ELEMS).clamp(1, 2 * threads)
    }

    /// Sums `f(c, offset)` (a pair of partial sums over the block of channel `c` starting at
    /// `offset`) over all blocks of each channel.
    fn reduce(&self, f: impl Fn(usize, usize) -> (f64, f64) + Sync) -> Vec<(f64, f64)> {
        let Blocks { n, c: ch, s } = *self;
        let rows = |rows: std::ops::Range<usize>| {
            let mut acc = vec![(0.0, 0.0); ch];
            for i in rows {
                for (c, a) in acc.iter_mut().enumerate() {
                    let (p, q) = f(c, (i * ch + c) * s);
                    a.0 += p;
                    a.1 += q;
                }
            }
            acc
        };
        let tasks = self.tasks();
        if tasks == 1 || self.numel() == 0 {
            return rows(0..n);
        }
        if n >= tasks {
            let per = n.div_ceil(tasks);
            (0..tasks)
                .into_par_iter()
                .map(|t| rows(t * per..((t + 1) * per).min(n)))
                .reduce(
                    || vec![(0.0, 0.0); ch],
                    |mut a, b| {
                        for (x, y) in a.iter_mut().zip(b) {
                            x.0 += y.0;
                            x.1 += y.1;
                        }
                        a
                    },
                )
        } else {
            // Few rows: one task per channel (range).
            (0..ch)
                .into_par_iter()
                .with_min_len(ch.div_ceil(tasks))
                .map(|c| {
                    (0..n).fold((0.0, 0.0), |acc, i| {
                        let (p, q) = f(c, (i * ch + c) * s);
                        (acc.0 + p, acc.1 + q)
                    })
                })
                .collect()
        }
    }

    /// Calls `f(c, offset, block)` for every block of `out` (laid out like the input).
    fn for_each_block_mut<T: Send>(
        &self,
        out: &mut [T],
        f: impl Fn(usize, usize, &mut [T]) + Sync,
    ) {
        let Blocks { n, c: ch, s } = *self;
        let row_len = ch * s;
        if self.numel() == 0 {
            return;
        }
        let rows = |first: usize, chunk: &mut [T]| {
            for (k, row) in chunk.chunks_mut(row_len).enumerate() {
                let i = first + k;
                for (c, block) in row.chunks_mut(s).enumerate() {
                    f(c, (i * ch + c) * s, block);
                }
            }
        };
        let tasks = self.tasks();
        if tasks == 1 {
            rows(0, out);
        } else if n >= tasks {
            let per = n.div_ceil(tasks);
            out.par_chunks_mut(per * row_len)
                .enumerate()
                .for_each(|(t, chunk)| rows(t * per, chunk));
        } else {
            let min_blocks = (PAR_MIN_ELEMS / 4 / s).max(1);
            out.par_chunks_mut(s)
                .enumerate()
                .with_min_len(min_blocks)
                .for_each(|(b, block)| f(b % ch, b * s, block));
        }
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
