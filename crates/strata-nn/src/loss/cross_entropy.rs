//! Cross-entropy from logits, fused: the forward pass computes each row's log-sum-exp
//! (with the row maximum subtracted, so any finite logits are safe) and the loss in the
//! same sweep, and keeps only two numbers per row; the backward pass writes
//! `(softmax - smoothed one-hot) · weight · g / denominator` in one sweep. Rows run in
//! parallel above a size threshold.
//!
//! With class-index targets `y`, class weights `w` (1 without), smoothing `ε` over `C`
//! classes and `lse` the row's log-sum-exp, a row's loss is
//! `(1 - ε) w[y] (lse - x[y]) + (ε / C) Σ_c w[c] (lse - x[c])`, and 0 where `y` is the
//! ignore index. The mean divides the sum by `Σ w[y]` over the rows not ignored, for both
//! terms, as PyTorch does. With probability targets `t` the row loss is
//! `Σ_c w[c] t'[c] (lse - x[c])` with `t' = (1 - ε) t + ε / C`, and the mean divides by the
//! number of rows.

use super::class_target::{
    class_indices, class_rows, class_weights, probability_rows, weighted_count, ClassRows,
    DEFAULT_IGNORE_INDEX,
};
use super::common::{expect_same_dtype, f64_of, par_chunks, shape_error, with_float_type, OutGrad};
use super::Reduction;
use crate::{Error, Result};
use strata_core::kernels::lanes::{lane_max, lane_sum, lane_sum2};
use strata_core::{BackwardOp, FloatElement, Tensor};

const OP: &str = "cross_entropy";

/// Cross-entropy of logits `input` (`[N, C]`, `[C]` or `[N, C, d1, ...]`) against class
/// indices `target` (i64, `[N]`, `[]` or `[N, d1, ...]`), averaged over samples. A float
/// `target` of the input's shape holds class probabilities instead. See
/// [`CrossEntropyLoss`] for class weights, label smoothing, `ignore_index` and reductions.
///
/// ```
/// use strata_nn::cross_entropy;
/// use strata_core::Tensor;
/// let logits = Tensor::from_vec(vec![2.0f64, 0.0, 0.0, 0.0, 0.0, 0.0], &[2, 3])?.requires_grad_();
/// let target = Tensor::from_vec(vec![0i64, 2], &[2])?;
/// let loss = cross_entropy(&logits, &target)?;
/// let (e2, ln3) = (2f64.exp(), 3f64.ln());
/// let expected = ((e2 + 2.0).ln() - 2.0 + ln3) / 2.0;
/// assert!((loss.item()? - expected).abs() < 1e-12);
/// // d loss / d logits = (softmax - one_hot) / N
/// let g = loss.backward()?.get(&logits).unwrap().to_vec::<f64>()?;
/// assert!((g[0] - (e2 / (e2 + 2.0) - 1.0) / 2.0).abs() < 1e-12);
/// assert!((g[5] - (1.0 / 3.0 - 1.0) / 2.0).abs() < 1e-12);
///
/// let err = cross_entropy(&logits, &Tensor::from_vec(vec![0i64, 3], &[2])?).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "cross_entropy: invalid argument `target`: class index 3 (element 1 of the target) is out \
///      of range for 3 classes: expected a value in 0..=2 or the ignore_index -100"
/// );
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    CrossEntropyLoss::new().forward(input, target)
}

/// Cross-entropy from logits with PyTorch's options: class `weight` (`[C]`),
/// `ignore_index` (default -100; targets equal to it contribute nothing and are left out
/// of the mean), `label_smoothing` in [0, 1] and the [`Reduction`].
///
/// ```
/// use strata_nn::{CrossEntropyLoss, Reduction};
/// use strata_core::Tensor;
/// let logits = Tensor::randn(&[4, 3]).requires_grad_();
/// let target = Tensor::from_vec(vec![0i64, 2, 1, 2], &[4])?;
/// let weight = Tensor::from_vec(vec![1.0f32, 2.0, 0.5], &[3])?;
/// let loss = CrossEntropyLoss::new()
///     .weight(weight)
///     .label_smoothing(0.1)
///     .ignore_index(1)
///     .reduction(Reduction::Sum)
///     .forward(&logits, &target)?;
/// let grads = loss.backward()?;
/// // The ignored sample (target 1) gets no gradient.
/// let g = grads.get(&logits).unwrap().to_vec::<f32>()?;
/// assert_eq!(&g[6..9], &[0.0, 0.0, 0.0]);
///
/// // Per-position losses of a segmentation-style input [N, C, H, W].
/// let maps = Tensor::randn(&[2, 3, 4, 4]);
/// let labels = Tensor::zeros_dtype(&[2, 4, 4], strata_core::DType::I64);
/// let each = CrossEntropyLoss::new().reduction(Reduction::None).forward(&maps, &labels)?;
/// assert_eq!(each.shape(), &[2, 4, 4]);
///
/// let err = CrossEntropyLoss::new().forward(&logits, &Tensor::zeros(&[5])).unwrap_err();
/// assert!(err.to_string().starts_with("cross_entropy: got shape [5], expected a target"));
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CrossEntropyLoss {
    weight: Option<Tensor>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: Reduction,
}

impl Default for CrossEntropyLoss {
    fn default() -> Self {
        CrossEntropyLoss {
            weight: None,
            ignore_index: DEFAULT_IGNORE_INDEX,
            label_smoothing: 0.0,
            reduction: Reduction::Mean,
        }
    }
}

impl CrossEntropyLoss {
    /// No weights, `ignore_index = -100`, no smoothing, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Weights the loss of each sample by the weight of its target class (`[C]`, float).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Targets equal to `index` are skipped (class-index targets only).
    pub fn ignore_index(mut self, index: i64) -> Self {
        self.ignore_index = index;
        self
    }

    /// Mixes the targets with the uniform distribution: `(1 - ε) one_hot + ε / C`
    /// (`ε` in [0, 1], checked by `forward`).
    pub fn label_smoothing(mut self, epsilon: f64) -> Self {
        self.label_smoothing = epsilon;
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of logits `input` against `target`: class indices (i64, the input's shape
    /// without dimension 1) or class probabilities (the input's float dtype and shape).
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let eps = self.label_smoothing;
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::config(
                OP,
                format!("label_smoothing must be in [0, 1], got {eps}"),
            ));
        }
        let rows = class_rows(OP, input)?;
        let weights = class_weights(OP, self.weight.as_ref(), input.shape(), rows.classes)?;
        // A float target holds class probabilities (its shape is checked there), unless it
        // has the per-sample shape: then it is class indices of the wrong dtype, which
        // `class_indices` reports.
        let float = target.dtype().is_float();
        if float && target.shape() != rows.sample_shape.as_slice() {
            return self.forward_probabilities(input, target, rows, weights);
        }
        let targets = class_indices(OP, target, input.shape(), &rows, self.ignore_index)?;
        let denominator = weighted_count(&targets, weights.as_deref());
        with_float_type!(input.dtype(), T => {
            let setup = Setup::<T>::new(rows.classes, eps, weights);
            index_loss(rows, targets, setup, self.reduction, denominator)
        })
    }

    fn forward_probabilities(
        &self,
        input: &Tensor,
        target: &Tensor,
        rows: ClassRows,
        weights: Option<Vec<f64>>,
    ) -> Result<Tensor> {
        if target.shape() != input.shape() {
            return Err(shape_error(
                OP,
                target.shape(),
                format!(
                    "a target of shape {:?} (class indices, i64) or {:?} (class probabilities, \
                     the input's dtype) for the input {:?}",
                    rows.sample_shape,
                    input.shape(),
                    input.shape()
                ),
            ));
        }
        expect_same_dtype(OP, input, target)?;
        if self.ignore_index >= 0 {
            return Err(Error::config(
                OP,
                format!(
                    "ignore_index ({}) is not supported with class-probability targets",
                    self.ignore_index
                ),
            ));
        }
        let target_rows = probability_rows(target)?;
        with_float_type!(input.dtype(), T => {
            let setup = Setup::<T>::new(rows.classes, self.label_smoothing, weights);
            probability_loss(rows, target_rows, setup, self.reduction)
        })
    }
}

/// The per-call constants of the kernels.
struct Setup<T> {
    classes: usize,
    /// Label smoothing ε.
    eps: T,
    weights: Option<Vec<T>>,
    /// Σ_c w[c] (C without weights).
    total_weight: T,
}

impl<T: FloatElement> Setup<T> {
    fn new(classes: usize, eps: f64, weights: Option<Vec<f64>>) -> Self {
        let total: f64 = weights.as_ref().map_or(classes as f64, |w| w.iter().sum());
        Setup {
            classes,
            eps: T::from_f64(eps),
            weights: weights.map(|w| w.into_iter().map(T::from_f64).collect()),
            total_weight: T::from_f64(total),
        }
    }

    #[inline(always)]
    fn weight(&self, class: usize) -> T {
        self.weights.as_ref().map_or(T::one(), |w| w[class])
    }

    /// `ε / C`, the smoothing mass each class receives.
    #[inline(always)]
    fn spread(&self) -> T {
        self.eps / T::from_f64(self.classes as f64)
    }

    /// A target probability mixed with the uniform distribution: `(1 - ε) t + ε / C`.
    #[inline(always)]
    fn smoothed(&self, t: T) -> T {
        (T::one() - self.eps) * t + self.spread()
    }
}

/// Per-row statistics kept for the backward pass: the row maximum and `ln Σ e^(x - max)`,
/// so that `softmax = e^((x - max) - ln_sum)` is accurate even for huge logits.
#[derive(Clone, Copy, Default)]
struct RowStats<T> {
    max: T,
    ln_sum: T,
}

/// The row's statistics: its maximum and `ln Σ e^(x - max)`.
#[inline(always)]
fn row_stats<T: FloatElement>(x: &[T]) -> RowStats<T> {
    let max = lane_max(x);
    let sum = lane_sum(x, |v| (v - max).exp_v());
    RowStats {
        max,
        ln_sum: sum.ln(),
    }
}

/// Loss and statistics of one row with class-index target `target`.
#[inline]
fn index_row<T: FloatElement>(x: &[T], target: Option<usize>, s: &Setup<T>) -> (T, RowStats<T>) {
    let stats = row_stats(x);
    let Some(y) = target else {
        return (T::zero(), stats);
    };
    let RowStats { max, ln_sum } = stats;
    // lse - x[y], written so that no large numbers cancel.
    let nll = s.weight(y) * ((max - x[y]) + ln_sum);
    if s.eps == T::zero() {
        return (nll, stats);
    }
    // Σ_c w[c] (lse - x[c]) = Σ_c w[c] (max - x[c]) + W ln_sum
    let spread = match &s.weights {
        None => lane_sum(x, |v| max - v),
        Some(w) => lane_sum2(x, w, |v, wc| wc * (max - v)),
    };
    let uniform = spread + s.total_weight * ln_sum;
    ((T::one() - s.eps) * nll + s.spread() * uniform, stats)
}

/// `out[c] = softmax(x)[c] · a` for a row with statistics `stats`.
#[inline(always)]
fn write_scaled_softmax<T: FloatElement>(x: &[T], stats: RowStats<T>, a: T, out: &mut [T]) {
    let RowStats { max, ln_sum } = stats;
    for (o, &v) in out.iter_mut().zip(x) {
        *o = ((v - max) - ln_sum).exp_v() * a;
    }
}

/// Gradient of one row's loss times `scale`, written to `out`.
#[inline]
fn index_row_grad<T: FloatElement>(
    x: &[T],
    target: Option<usize>,
    stats: RowStats<T>,
    scale: T,
    s: &Setup<T>,
    out: &mut [T],
) {
    let Some(y) = target else {
        out.fill(T::zero());
        return;
    };
    let keep = T::one() - s.eps;
    let wy = s.weight(y);
    // softmax · a - b w[c], then the target class loses scale (1 - ε) w[y].
    let a = scale * (keep * wy + s.spread() * s.total_weight);
    write_scaled_softmax(x, stats, a, out);
    if s.eps > T::zero() {
        let b = scale * s.spread();
        match &s.weights {
            None => out.iter_mut().for_each(|o| *o -= b),
            Some(w) => out.iter_mut().zip(w).for_each(|(o, &wc)| *o -= b * wc),
        }
    }
    out[y] -= scale * keep * wy;
}

/// The reduced (or per-sample) loss tensor from per-row losses.
fn reduce<T: FloatElement>(
    losses: Vec<T>,
    reduction: Reduction,
    sample_shape: &[usize],
    denominator: f64,
) -> Result<Tensor> {
    Ok(match reduction {
        Reduction::None => Tensor::from_vec(losses, sample_shape)?,
        Reduction::Sum => Tensor::scalar(T::from_f64(losses.iter().map(|&l| f64_of(l)).sum())),
        Reduction::Mean => {
            let sum: f64 = losses.iter().map(|&l| f64_of(l)).sum();
            Tensor::scalar(T::from_f64(sum / denominator))
        }
    })
}

fn index_loss<T: FloatElement>(
    rows: ClassRows,
    targets: Vec<Option<usize>>,
    setup: Setup<T>,
    reduction: Reduction,
    denominator: f64,
) -> Result<Tensor> {
    let c = setup.classes;
    let mut per_row = vec![(T::zero(), RowStats::default()); targets.len()];
    {
        let x = rows.rows.read::<T>()?;
        par_chunks(&mut per_row, 1, c, |start, chunk| {
            for (k, o) in chunk.iter_mut().enumerate() {
                let r = start + k;
                *o = index_row(&x[r * c..(r + 1) * c], targets[r], &setup);
            }
        });
    }
    let losses = per_row.iter().map(|p| p.0).collect();
    let out = reduce(losses, reduction, &rows.sample_shape, denominator)?;
    Ok(out.record_with(&[&rows.rows], || IndexBackward {
        targets,
        setup,
        stats: per_row.into_iter().map(|p| p.1).collect(),
        reduction,
        denominator,
    }))
}

struct IndexBackward<T> {
    targets: Vec<Option<usize>>,
    setup: Setup<T>,
    stats: Vec<RowStats<T>>,
    reduction: Reduction,
    denominator: f64,
}

impl<T: FloatElement> BackwardOp for IndexBackward<T> {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(
        &self,
        grad: &Tensor,
        inputs: &[Tensor],
    ) -> strata_core::Result<Vec<Option<Tensor>>> {
        let rows = &inputs[0];
        let c = self.setup.classes;
        let mut out = vec![T::zero(); rows.numel()];
        if c > 0 {
            let g = OutGrad::<T>::new(grad, self.reduction, self.denominator)?;
            let x = rows.read::<T>()?;
            par_chunks(&mut out, c, c, |start, chunk| {
                for (k, o) in chunk.chunks_mut(c).enumerate() {
                    let r = start + k;
                    let xr = &x[r * c..(r + 1) * c];
                    index_row_grad(xr, self.targets[r], self.stats[r], g.at(r), &self.setup, o);
                }
            });
        }
        Ok(vec![Some(Tensor::from_vec(out, rows.shape())?)])
    }
}

// ------------------------------------------------------------------ probability targets

/// Loss and statistics of one row against probabilities `t`.
#[inline]
fn probability_row<T: FloatElement>(x: &[T], t: &[T], s: &Setup<T>) -> (T, RowStats<T>) {
    let stats = row_stats(x);
    let max = stats.max;
    // Σ_c q[c] (lse - x[c]) = Σ_c q[c] (max - x[c]) + (Σ_c q[c]) ln_sum, where
    // q = w · smoothed target.
    let (spread_sum, mass) = match &s.weights {
        None => {
            let (keep, spread) = (T::one() - s.eps, s.spread());
            (
                lane_sum2(x, t, |v, tc| (keep * tc + spread) * (max - v)),
                lane_sum(t, |tc| keep * tc + spread),
            )
        }
        Some(_) => {
            let q = |c: usize| s.weight(c) * s.smoothed(t[c]);
            let spread_sum = x.iter().enumerate().map(|(c, &v)| q(c) * (max - v)).sum();
            (spread_sum, (0..x.len()).map(q).sum())
        }
    };
    (spread_sum + mass * stats.ln_sum, stats)
}

fn probability_loss<T: FloatElement>(
    rows: ClassRows,
    target_rows: Tensor,
    setup: Setup<T>,
    reduction: Reduction,
) -> Result<Tensor> {
    let c = setup.classes;
    let n = rows.rows.shape()[0];
    let mut per_row = vec![(T::zero(), RowStats::default()); n];
    {
        let (x, t) = (rows.rows.read::<T>()?, target_rows.read::<T>()?);
        par_chunks(&mut per_row, 1, 2 * c, |start, chunk| {
            for (k, o) in chunk.iter_mut().enumerate() {
                let r = start + k;
                *o = probability_row(&x[r * c..(r + 1) * c], &t[r * c..(r + 1) * c], &setup);
            }
        });
    }
    let losses = per_row.iter().map(|p| p.0).collect();
    let out = reduce(losses, reduction, &rows.sample_shape, n as f64)?;
    Ok(
        out.record_with(&[&rows.rows, &target_rows], || ProbabilityBackward {
            setup,
            stats: per_row.into_iter().map(|p| p.1).collect(),
            reduction,
        }),
    )
}

/// Writes one row's gradient: `(x, t, stats, scale, out)`.
type RowGrad<'a, T> = dyn Fn(&[T], &[T], RowStats<T>, T, &mut [T]) + Sync + 'a;

struct ProbabilityBackward<T> {
    setup: Setup<T>,
    stats: Vec<RowStats<T>>,
    reduction: Reduction,
}

impl<T: FloatElement> BackwardOp for ProbabilityBackward<T> {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(
        &self,
        grad: &Tensor,
        inputs: &[Tensor],
    ) -> strata_core::Result<Vec<Option<Tensor>>> {
        let (rows, target) = (&inputs[0], &inputs[1]);
        let s = &self.setup;
        let c = s.classes;
        if c == 0 {
            let zeros = || Some(Tensor::zeros_like(rows));
            return Ok(vec![zeros(), zeros()]);
        }
        let g = OutGrad::<T>::new(grad, self.reduction, self.stats.len() as f64)?;
        let (x, t) = (rows.read::<T>()?, target.read::<T>()?);
        let keep = T::one() - s.eps;
        let sweep = |f: &RowGrad<T>| -> strata_core::Result<Tensor> {
            let mut out = vec![T::zero(); rows.numel()];
            par_chunks(&mut out, c, 2 * c, |start, chunk| {
                for (k, o) in chunk.chunks_mut(c).enumerate() {
                    let r = start + k;
                    let span = r * c..(r + 1) * c;
                    f(&x[span.clone()], &t[span], self.stats[r], g.at(r), o);
                }
            });
            Tensor::from_vec(out, rows.shape())
        };
        // d/dx[c] = softmax[c] Σ_k q[k] - q[c]
        let grad_input = if rows.requires_grad() {
            Some(sweep(&|x, t, st, scale, out| {
                let q = |c: usize| s.weight(c) * s.smoothed(t[c]);
                let mass: T = (0..x.len()).map(q).sum();
                write_scaled_softmax(x, st, scale * mass, out);
                for (c, o) in out.iter_mut().enumerate() {
                    *o -= scale * q(c);
                }
            })?)
        } else {
            None
        };
        // d/dt[c] = (1 - ε) w[c] (lse - x[c])
        let grad_target = if target.requires_grad() {
            Some(sweep(&|x, _, st, scale, out| {
                for (c, o) in out.iter_mut().enumerate() {
                    *o = scale * keep * s.weight(c) * ((st.max - x[c]) + st.ln_sum);
                }
            })?)
        } else {
            None
        };
        Ok(vec![grad_input, grad_target])
    }
}
