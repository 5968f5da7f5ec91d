//! The fused op behind the elementwise losses (regression and binary): a loss of one
//! (input, target) pair and its two partial derivatives, applied over equal shapes with
//! optional broadcast weights, reduced in the same pass.

use super::common::{
    expect_float, expect_same_dtype, expect_same_shape, f64_of, par_chunks, par_sum, to_core,
    with_float_type, Broadcast, OutGrad,
};
use super::Reduction;
use crate::Result;
use strata_core::{BackwardOp, FloatElement, Tensor};

/// An elementwise loss `l(x, t)`; `p` is the `pos_weight` of the element (1 where the loss
/// has none).
pub(crate) trait PointwiseLoss: Copy + Send + Sync + 'static {
    /// The loss's name in errors and graph introspection.
    const NAME: &'static str;
    fn value<T: FloatElement>(self, x: T, t: T, p: T) -> T;
    /// `(∂l/∂x, ∂l/∂t)`.
    fn grads<T: FloatElement>(self, x: T, t: T, p: T) -> (T, T);
}

/// Broadcast factors of an elementwise loss: `weight` multiplies each element's loss,
/// `pos_weight` is handed to the loss itself. Both are constants (no gradient).
#[derive(Clone, Default)]
pub(crate) struct Weights {
    pub weight: Option<Tensor>,
    pub pos_weight: Option<Tensor>,
}

/// Rough cost of one element in "elements touched", for the parallel threshold.
const COST: usize = 4;

/// Applies `loss` to `input` and `target` (same shape and float dtype) with `reduction`.
pub(crate) fn pointwise<L: PointwiseLoss>(
    loss: L,
    input: &Tensor,
    target: &Tensor,
    weights: &Weights,
    reduction: Reduction,
) -> Result<Tensor> {
    check_pair(L::NAME, input, target)?;
    // Validate the weights now, so a bad one is reported at the call, not in backward.
    with_float_type!(input.dtype(), T => {
        factors::<T>(L::NAME, weights, input.shape())?;
    });
    let (x, t) = (input.contiguous(), target.contiguous());
    let out = with_float_type!(x.dtype(), T => forward::<T, L>(loss, &x, &t, weights, reduction)?);
    Ok(out.record_with(&[&x, &t], || PointwiseBackward {
        loss,
        weights: Weights {
            weight: weights.weight.as_ref().map(|w| w.detach()),
            pos_weight: weights.pos_weight.as_ref().map(|w| w.detach()),
        },
        reduction,
    }))
}

/// Checks that `input` and `target` are floats of one dtype and one shape.
pub(crate) fn check_pair(op: &'static str, input: &Tensor, target: &Tensor) -> Result<()> {
    expect_float(op, "the input", input)?;
    expect_float(op, "the target", target)?;
    expect_same_dtype(op, input, target)?;
    expect_same_shape(op, input, target)
}

type Factors<T> = (Option<Broadcast<T>>, Option<Broadcast<T>>);

fn factors<T: FloatElement>(op: &'static str, w: &Weights, shape: &[usize]) -> Result<Factors<T>> {
    let weight = match &w.weight {
        Some(t) => Some(Broadcast::new(op, "weight", t, shape)?),
        None => None,
    };
    let pos_weight = match &w.pos_weight {
        Some(t) => Some(Broadcast::new(op, "pos_weight", t, shape)?),
        None => None,
    };
    Ok((weight, pos_weight))
}

fn forward<T: FloatElement, L: PointwiseLoss>(
    loss: L,
    x: &Tensor,
    t: &Tensor,
    weights: &Weights,
    reduction: Reduction,
) -> Result<Tensor> {
    let (weight, pos_weight) = factors::<T>(L::NAME, weights, x.shape())?;
    let (xs, ts) = (x.read::<T>()?, t.read::<T>()?);
    let (xs, ts) = (&*xs, &*ts);
    let n = xs.len();
    let element = |i: usize| -> T {
        let p = pos_weight.as_ref().map_or(T::one(), |b| b.at(i));
        let v = loss.value(xs[i], ts[i], p);
        weight.as_ref().map_or(v, |b| v * b.at(i))
    };
    Ok(match reduction {
        Reduction::None => {
            let mut out = vec![T::zero(); n];
            par_chunks(&mut out, 1, COST, |start, chunk| {
                for (k, o) in chunk.iter_mut().enumerate() {
                    *o = element(start + k);
                }
            });
            Tensor::from_vec(out, x.shape())?
        }
        Reduction::Sum | Reduction::Mean => {
            let total = par_sum(n, COST, |range| range.map(|i| f64_of(element(i))).sum());
            let value = if reduction == Reduction::Mean {
                total / n as f64
            } else {
                total
            };
            Tensor::scalar(T::from_f64(value))
        }
    })
}

struct PointwiseBackward<L> {
    loss: L,
    weights: Weights,
    reduction: Reduction,
}

impl<L: PointwiseLoss> BackwardOp for PointwiseBackward<L> {
    fn name(&self) -> &'static str {
        L::NAME
    }

    fn backward(
        &self,
        grad: &Tensor,
        inputs: &[Tensor],
    ) -> strata_core::Result<Vec<Option<Tensor>>> {
        let (x, t) = (&inputs[0], &inputs[1]);
        with_float_type!(x.dtype(), T => self.grads::<T>(grad, x, t).map_err(to_core))
    }
}

impl<L: PointwiseLoss> PointwiseBackward<L> {
    fn grads<T: FloatElement>(
        &self,
        grad: &Tensor,
        x: &Tensor,
        t: &Tensor,
    ) -> Result<Vec<Option<Tensor>>> {
        let loss = self.loss;
        let (weight, pos_weight) = factors::<T>(L::NAME, &self.weights, x.shape())?;
        let g = OutGrad::<T>::new(grad, self.reduction, x.numel() as f64)?;
        let (xs, ts) = (x.read::<T>()?, t.read::<T>()?);
        let (xs, ts) = (&*xs, &*ts);
        // The factor of element i: upstream gradient times weight.
        let factor = |i: usize| -> T {
            let gi = g.at(i);
            weight.as_ref().map_or(gi, |b| gi * b.at(i))
        };
        let partial = |which_target: bool| -> Result<Tensor> {
            let mut out = vec![T::zero(); xs.len()];
            par_chunks(&mut out, 1, COST, |start, chunk| {
                for (k, o) in chunk.iter_mut().enumerate() {
                    let i = start + k;
                    let p = pos_weight.as_ref().map_or(T::one(), |b| b.at(i));
                    let (dx, dt) = loss.grads(xs[i], ts[i], p);
                    *o = factor(i) * if which_target { dt } else { dx };
                }
            });
            Ok(Tensor::from_vec(out, x.shape())?)
        };
        let gx = if x.requires_grad() {
            Some(partial(false)?)
        } else {
            None
        };
        let gt = if t.requires_grad() {
            Some(partial(true)?)
        } else {
            None
        };
        Ok(vec![gx, gt])
    }
}
