//! The fused op behind the elementwise losses (regression and binary): a loss of one
//! (input, target) pair and its two partial derivatives, applied over equal shapes with
//! optional broadcast weights, reduced in the same pass.

use super::common::{
    expect_float, expect_same_dtype, expect_same_shape, f64_of, par_map2, par_sum2, to_core,
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

/// Runs `$body` with `$w` and `$p` bound to closures giving the weight and the pos_weight
/// of element `i`: the constant 1 when neither is given, so the common unweighted loop
/// carries no per-element branch or index arithmetic. A weighted loss takes one loop for
/// both factors (a factor that is absent reads as 1): each arm is compiled for every loss,
/// dtype and reduction, and four arms cost strata-nn a fifth of its code.
macro_rules! with_factors {
    ($weight:expr, $pos_weight:expr, |$w:ident, $p:ident| $body:expr) => {
        match ($weight, $pos_weight) {
            (None, None) => {
                let ($w, $p) = (|_: usize| T::one(), |_: usize| T::one());
                $body
            }
            (wb, pb) => {
                let $w = |i: usize| wb.map_or(T::one(), |b| b.at(i));
                let $p = |i: usize| pb.map_or(T::one(), |b| b.at(i));
                $body
            }
        }
    };
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
    Ok(with_factors!(
        weight.as_ref(),
        pos_weight.as_ref(),
        |w, p| {
            let element = |i: usize, x: T, t: T| loss.value(x, t, p(i)) * w(i);
            match reduction {
                Reduction::None => {
                    let mut out = vec![T::zero(); n];
                    par_map2(&mut out, xs, ts, COST, element);
                    Tensor::from_vec(out, x.shape())?
                }
                Reduction::Sum | Reduction::Mean => {
                    let total = par_sum2(xs, ts, COST, |i, x, t| f64_of(element(i, x, t)));
                    let value = if reduction == Reduction::Mean {
                        total / n as f64
                    } else {
                        total
                    };
                    Tensor::scalar(T::from_f64(value))
                }
            }
        }
    ))
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
        // grad[i] = g[i] · w[i] · ∂l/∂(x or t), specialised on the factors present and on
        // whether the upstream gradient is one number or one per element.
        let partial = |of_target: bool| -> Result<Tensor> {
            let mut out = vec![T::zero(); xs.len()];
            with_factors!(weight.as_ref(), pos_weight.as_ref(), |w, p| {
                let d = |i: usize, x: T, t: T| {
                    let (dx, dt) = loss.grads(x, t, p(i));
                    w(i) * if of_target { dt } else { dx }
                };
                match &g {
                    OutGrad::Scalar(g) => {
                        par_map2(&mut out, xs, ts, COST, |i, x, t| *g * d(i, x, t))
                    }
                    OutGrad::PerElement(g) => {
                        par_map2(&mut out, xs, ts, COST, |i, x, t| g[i] * d(i, x, t))
                    }
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
