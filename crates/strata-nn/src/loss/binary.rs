//! Binary cross-entropy: on probabilities (`binary_cross_entropy`, logs clamped at -100 as
//! in PyTorch) and on logits (`binary_cross_entropy_with_logits`, stable for any logit,
//! with `pos_weight` for the positive class). Targets are probabilities of the same shape
//! as the input and receive gradients; `weight` and `pos_weight` broadcast against the
//! input and are constants.

use super::common::{expect_float, value_error, with_float_type};
use super::pointwise::{check_pair, pointwise, PointwiseLoss, Weights};
use super::Reduction;
use crate::Result;
use strata_core::{FloatElement, Tensor};

/// `max(ln v, -100)`: PyTorch clamps the logs so that a probability of exactly 0 or 1
/// gives a finite loss.
#[inline(always)]
fn clamped_ln<T: FloatElement>(v: T) -> T {
    v.ln().max(T::from_f64(-100.0))
}

/// `ln σ(x) = min(x, 0) - ln(1 + e^-|x|)`, without overflow.
#[inline(always)]
fn log_sigmoid<T: FloatElement>(x: T) -> T {
    x.min(T::zero()) - (-x.abs()).exp().ln_1p()
}

/// `σ(x)`, without overflow.
#[inline(always)]
fn sigmoid<T: FloatElement>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

#[derive(Clone, Copy)]
struct Bce;
impl PointwiseLoss for Bce {
    const NAME: &'static str = "binary_cross_entropy";
    #[inline(always)]
    fn value<T: FloatElement>(self, x: T, t: T, _: T) -> T {
        (t - T::one()) * clamped_ln(T::one() - x) - t * clamped_ln(x)
    }
    #[inline(always)]
    fn grads<T: FloatElement>(self, x: T, t: T, _: T) -> (T, T) {
        // PyTorch's rules: the input's denominator is kept away from 0 by 1e-12; the
        // target's derivative is -logit(x).
        let denom = ((T::one() - x) * x).max(T::from_f64(1e-12));
        ((x - t) / denom, (-x).ln_1p() - x.ln())
    }
}

#[derive(Clone, Copy)]
struct BceWithLogits;
impl PointwiseLoss for BceWithLogits {
    const NAME: &'static str = "binary_cross_entropy_with_logits";
    #[inline(always)]
    fn value<T: FloatElement>(self, x: T, t: T, p: T) -> T {
        // (1 - t) x - (1 + (p - 1) t) ln σ(x); with p = 1 this is -[t ln σ(x) + (1-t) ln σ(-x)].
        let log_weight = T::one() + (p - T::one()) * t;
        (T::one() - t) * x - log_weight * log_sigmoid(x)
    }
    #[inline(always)]
    fn grads<T: FloatElement>(self, x: T, t: T, p: T) -> (T, T) {
        let log_weight = T::one() + (p - T::one()) * t;
        let dx = log_weight * sigmoid(x) - p * t;
        let dt = log_sigmoid(-x) - p * log_sigmoid(x);
        (dx, dt)
    }
}

/// Errors unless every element of `t` lies in [0, 1], naming the first that does not.
fn expect_unit_interval(op: &'static str, arg: &'static str, t: &Tensor) -> Result<()> {
    expect_float(op, arg, t)?;
    let bad = with_float_type!(t.dtype(), T => {
        let c = t.detach().contiguous();
        let v = c.read::<T>()?;
        v.iter()
            .position(|e| !(0.0..=1.0).contains(e))
            .map(|i| (i, strata_core::Element::to_f64(v[i])))
    });
    match bad {
        None => Ok(()),
        Some((i, v)) => Err(value_error(
            op,
            arg,
            format!(
                "every element must lie in [0, 1], but element {i} of the {arg} (shape {:?}) is {v}",
                t.shape()
            ),
        )),
    }
}

/// Binary cross-entropy of probabilities `input` against targets in [0, 1], mean over
/// elements: `-[t ln x + (1 - t) ln(1 - x)]` with each log clamped at -100. Inputs outside
/// [0, 1] are an error. For raw scores use [`binary_cross_entropy_with_logits`], which is
/// stabler.
///
/// ```
/// use strata_nn::binary_cross_entropy;
/// use strata_core::Tensor;
/// let p = Tensor::from_vec(vec![0.9f64, 0.2], &[2])?;
/// let t = Tensor::from_vec(vec![1.0f64, 0.0], &[2])?;
/// let loss = binary_cross_entropy(&p, &t)?.item()?;
/// assert!((loss - (-(0.9f64.ln()) - 0.8f64.ln()) / 2.0).abs() < 1e-12);
/// let err = binary_cross_entropy(&t.mul_scalar(2.0)?, &t).unwrap_err();
/// assert!(err.to_string().contains("element 0 of the input (shape [2]) is 2"));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn binary_cross_entropy(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    BCELoss::new().forward(input, target)
}

/// Binary cross-entropy on logits, mean over elements: `-[t ln σ(x) + (1 - t) ln σ(-x)]`,
/// computed stably for any `x` (no overflow at ±1e4).
///
/// ```
/// use strata_nn::binary_cross_entropy_with_logits;
/// use strata_core::Tensor;
/// let x = Tensor::from_vec(vec![1e4f32, -1e4, 0.0], &[3])?.requires_grad_();
/// let t = Tensor::from_vec(vec![1.0f32, 0.0, 1.0], &[3])?;
/// let loss = binary_cross_entropy_with_logits(&x, &t)?;
/// assert!((loss.item()? - 2f64.ln() / 3.0).abs() < 1e-6);
/// let g = loss.backward()?;                    // (σ(x) - t) / 3
/// assert_eq!(g.get(&x).unwrap().to_vec::<f32>()?, vec![0.0, 0.0, -0.5 / 3.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn binary_cross_entropy_with_logits(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    BCEWithLogitsLoss::new().forward(input, target)
}

/// Binary cross-entropy on probabilities with an optional weight (broadcast against the
/// input, multiplying each element's loss) and a choice of [`Reduction`]. The mean divides
/// by the number of elements, whatever the weights.
///
/// ```
/// use strata_nn::{BCELoss, Reduction};
/// use strata_core::Tensor;
/// let p = Tensor::from_vec(vec![0.5f32, 0.5, 0.5, 0.5], &[2, 2])?;
/// let t = Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 0.0], &[2, 2])?;
/// let w = Tensor::from_vec(vec![1.0f32, 3.0], &[2])?;  // per column
/// let each = BCELoss::new().weight(w).reduction(Reduction::None).forward(&p, &t)?;
/// let ln2 = 2f32.ln();
/// for (got, want) in each.to_vec::<f32>()?.into_iter().zip([ln2, 3.0 * ln2, ln2, 3.0 * ln2]) {
///     assert!((got - want).abs() < 1e-6);
/// }
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct BCELoss {
    weight: Option<Tensor>,
    reduction: Reduction,
}

impl BCELoss {
    /// No weight, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Multiplies each element's loss by `weight` (broadcast against the input).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of probabilities `input` against `target` (same shape and dtype, both in
    /// [0, 1]).
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let op = Bce::NAME;
        check_pair(op, input, target)?;
        expect_unit_interval(op, "input", input)?;
        expect_unit_interval(op, "target", target)?;
        let weights = Weights {
            weight: self.weight.clone(),
            pos_weight: None,
        };
        pointwise(Bce, input, target, &weights, self.reduction)
    }
}

/// Binary cross-entropy on logits with an optional `weight` (multiplying each element's
/// loss) and `pos_weight` (multiplying the positive term: `pos_weight[c] > 1` raises
/// recall of class `c`), both broadcast against the input (a `[C]` tensor applies along the
/// last dimension), and a choice of [`Reduction`].
///
/// ```
/// use strata_nn::{BCEWithLogitsLoss, Reduction};
/// use strata_core::Tensor;
/// let x = Tensor::zeros(&[2, 2]);
/// let t = Tensor::from_vec(vec![1.0f32, 1.0, 0.0, 0.0], &[2, 2])?;
/// let pos = Tensor::from_vec(vec![1.0f32, 4.0], &[2])?;
/// let each = BCEWithLogitsLoss::new().pos_weight(pos).reduction(Reduction::None).forward(&x, &t)?;
/// let ln2 = 2f32.ln();
/// for (got, want) in each.to_vec::<f32>()?.into_iter().zip([ln2, 4.0 * ln2, ln2, ln2]) {
///     assert!((got - want).abs() < 1e-6);
/// }
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct BCEWithLogitsLoss {
    weight: Option<Tensor>,
    pos_weight: Option<Tensor>,
    reduction: Reduction,
}

impl BCEWithLogitsLoss {
    /// No weights, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Multiplies each element's loss by `weight` (broadcast against the input).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Multiplies the positive-class term by `pos_weight` (broadcast against the input).
    pub fn pos_weight(mut self, pos_weight: Tensor) -> Self {
        self.pos_weight = Some(pos_weight);
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of logits `input` against probabilities `target` (same shape and dtype).
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let weights = Weights {
            weight: self.weight.clone(),
            pos_weight: self.pos_weight.clone(),
        };
        pointwise(BceWithLogits, input, target, &weights, self.reduction)
    }
}
