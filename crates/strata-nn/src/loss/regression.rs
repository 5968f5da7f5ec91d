//! Regression losses on the difference `d = input - target`: mean squared error, mean
//! absolute error, Huber and smooth L1. Inputs and targets must have the same shape; both
//! receive gradients.
//!
//! Huber with `delta` and smooth L1 with `beta` are the same curve up to a factor:
//! `smooth_l1(d; beta) = huber(d; delta = beta) / beta`. Both are quadratic near zero and
//! linear beyond the threshold, but Huber's linear part has slope `delta` while smooth L1's
//! has slope 1.

use super::pointwise::{pointwise, PointwiseLoss, Weights};
use super::Reduction;
use crate::{Error, Result};
use strata_core::{FloatElement, Tensor};

#[inline(always)]
fn sign<T: FloatElement>(d: T) -> T {
    if d > T::zero() {
        T::one()
    } else if d < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

#[derive(Clone, Copy)]
struct Mse;
impl PointwiseLoss for Mse {
    const NAME: &'static str = "mse_loss";
    #[inline(always)]
    fn value<T: FloatElement>(self, x: T, t: T, _: T) -> T {
        (x - t) * (x - t)
    }
    #[inline(always)]
    fn grads<T: FloatElement>(self, x: T, t: T, _: T) -> (T, T) {
        let d = (x - t) + (x - t);
        (d, -d)
    }
}

#[derive(Clone, Copy)]
struct L1;
impl PointwiseLoss for L1 {
    const NAME: &'static str = "l1_loss";
    #[inline(always)]
    fn value<T: FloatElement>(self, x: T, t: T, _: T) -> T {
        (x - t).abs()
    }
    #[inline(always)]
    fn grads<T: FloatElement>(self, x: T, t: T, _: T) -> (T, T) {
        // sign(0) = 0, as in PyTorch.
        let s = sign(x - t);
        (s, -s)
    }
}

#[derive(Clone, Copy)]
struct Huber(f64);
impl PointwiseLoss for Huber {
    const NAME: &'static str = "huber_loss";
    #[inline(always)]
    fn value<T: FloatElement>(self, x: T, t: T, _: T) -> T {
        let (d, delta) = (x - t, T::from_f64(self.0));
        let half = T::from_f64(0.5);
        if d.abs() <= delta {
            half * d * d
        } else {
            delta * (d.abs() - half * delta)
        }
    }
    #[inline(always)]
    fn grads<T: FloatElement>(self, x: T, t: T, _: T) -> (T, T) {
        let (d, delta) = (x - t, T::from_f64(self.0));
        let g = if d.abs() <= delta { d } else { delta * sign(d) };
        (g, -g)
    }
}

#[derive(Clone, Copy)]
struct SmoothL1(f64);
impl PointwiseLoss for SmoothL1 {
    const NAME: &'static str = "smooth_l1_loss";
    #[inline(always)]
    fn value<T: FloatElement>(self, x: T, t: T, _: T) -> T {
        let (d, beta) = (x - t, T::from_f64(self.0));
        let half = T::from_f64(0.5);
        // beta = 0 is exactly L1 (PyTorch switches to l1_loss rather than divide by 0).
        if d.abs() < beta {
            half * d * d / beta
        } else {
            d.abs() - half * beta
        }
    }
    #[inline(always)]
    fn grads<T: FloatElement>(self, x: T, t: T, _: T) -> (T, T) {
        let (d, beta) = (x - t, T::from_f64(self.0));
        let g = if d.abs() < beta { d / beta } else { sign(d) };
        (g, -g)
    }
}

/// Mean squared error, `mean((input - target)²)`. See [`MSELoss`] for other reductions.
///
/// ```
/// use strata_nn::mse_loss;
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![1.0f32, 2.0, 4.0], &[3])?.requires_grad_();
/// let target = Tensor::from_vec(vec![1.0f32, 0.0, 0.0], &[3])?;
/// let loss = mse_loss(&pred, &target)?;
/// assert!((loss.item()? - (0.0 + 4.0 + 16.0) / 3.0).abs() < 1e-6);
/// let g = loss.backward()?;                   // 2 (pred - target) / 3
/// let g = g.get(&pred).unwrap().to_vec::<f32>()?;
/// assert!((g[1] - 4.0 / 3.0).abs() < 1e-6 && (g[2] - 8.0 / 3.0).abs() < 1e-6);
/// let err = mse_loss(&pred, &Tensor::zeros(&[4])).unwrap_err();
/// assert!(err.to_string().contains("mse_loss: shapes [3] and [4] differ"));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn mse_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    MSELoss::new().forward(input, target)
}

/// Mean absolute error, `mean(|input - target|)` (gradient `sign`, 0 where equal).
///
/// ```
/// use strata_nn::l1_loss;
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![1.0f64, -2.0], &[2])?;
/// assert_eq!(l1_loss(&pred, &Tensor::zeros_like(&pred))?.item()?, 1.5);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn l1_loss(input: &Tensor, target: &Tensor) -> Result<Tensor> {
    L1Loss::new().forward(input, target)
}

/// Huber loss with threshold `delta > 0`, mean over elements: `d²/2` where `|d| <= delta`,
/// else `delta (|d| - delta/2)`, for `d = input - target`.
///
/// ```
/// use strata_nn::huber_loss;
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![0.5f64, 3.0], &[2])?;
/// let loss = huber_loss(&pred, &Tensor::zeros(&[2]).to_dtype(strata_core::DType::F64), 1.0)?;
/// assert_eq!(loss.item()?, (0.125 + 2.5) / 2.0);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn huber_loss(input: &Tensor, target: &Tensor, delta: f64) -> Result<Tensor> {
    HuberLoss::new().delta(delta).forward(input, target)
}

/// Smooth L1 loss with threshold `beta >= 0`, mean over elements: `d²/(2 beta)` where
/// `|d| < beta`, else `|d| - beta/2`. `beta = 0` is the L1 loss. Equals
/// `huber_loss(delta = beta) / beta`.
///
/// ```
/// use strata_nn::{huber_loss, smooth_l1_loss};
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![0.2f64, -1.5, 4.0], &[3])?;
/// let target = Tensor::zeros_like(&pred);
/// let s = smooth_l1_loss(&pred, &target, 0.5)?.item()?;
/// let h = huber_loss(&pred, &target, 0.5)?.item()?;
/// assert!((s - h / 0.5).abs() < 1e-12);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn smooth_l1_loss(input: &Tensor, target: &Tensor, beta: f64) -> Result<Tensor> {
    SmoothL1Loss::new().beta(beta).forward(input, target)
}

/// Mean squared error with a choice of [`Reduction`].
///
/// ```
/// use strata_nn::{MSELoss, Reduction};
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![1.0f32, 3.0], &[2])?;
/// let sum = MSELoss::new().reduction(Reduction::Sum).forward(&pred, &Tensor::zeros(&[2]))?;
/// assert_eq!(sum.item()?, 10.0);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct MSELoss {
    reduction: Reduction,
}

impl MSELoss {
    /// Mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target` (same shape and dtype).
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        pointwise(Mse, input, target, &Weights::default(), self.reduction)
    }
}

/// Mean absolute error with a choice of [`Reduction`].
///
/// ```
/// use strata_nn::{L1Loss, Reduction};
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![1.0f32, -3.0], &[2])?;
/// let each = L1Loss::new().reduction(Reduction::None).forward(&pred, &Tensor::zeros(&[2]))?;
/// assert_eq!(each.to_vec::<f32>()?, vec![1.0, 3.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct L1Loss {
    reduction: Reduction,
}

impl L1Loss {
    /// Mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target` (same shape and dtype).
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        pointwise(L1, input, target, &Weights::default(), self.reduction)
    }
}

/// Huber loss (PyTorch's `HuberLoss`): `delta` defaults to 1, reduction to the mean.
///
/// ```
/// use strata_nn::{HuberLoss, Reduction};
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![0.5f32, -4.0], &[2])?;
/// let loss = HuberLoss::new().delta(2.0).reduction(Reduction::None);
/// assert_eq!(loss.forward(&pred, &Tensor::zeros(&[2]))?.to_vec::<f32>()?, vec![0.125, 6.0]);
/// let err = HuberLoss::new().delta(0.0).forward(&pred, &pred).unwrap_err();
/// assert_eq!(err.to_string(), "huber_loss: invalid configuration: delta must be positive, got 0");
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct HuberLoss {
    delta: f64,
    reduction: Reduction,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss {
            delta: 1.0,
            reduction: Reduction::Mean,
        }
    }
}

impl HuberLoss {
    /// `delta = 1`, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the threshold between the quadratic and the linear part (must be positive;
    /// checked by `forward`).
    pub fn delta(mut self, delta: f64) -> Self {
        self.delta = delta;
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target` (same shape and dtype).
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        if !(self.delta > 0.0 && self.delta.is_finite()) {
            return Err(Error::config(
                "huber_loss",
                format!("delta must be positive, got {}", self.delta),
            ));
        }
        pointwise(
            Huber(self.delta),
            input,
            target,
            &Weights::default(),
            self.reduction,
        )
    }
}

/// Smooth L1 loss (PyTorch's `SmoothL1Loss`): `beta` defaults to 1, reduction to the mean.
///
/// ```
/// use strata_nn::{SmoothL1Loss, Reduction};
/// use strata_core::Tensor;
/// let pred = Tensor::from_vec(vec![0.5f32, -4.0], &[2])?;
/// let loss = SmoothL1Loss::new().beta(2.0).reduction(Reduction::None);
/// assert_eq!(loss.forward(&pred, &Tensor::zeros(&[2]))?.to_vec::<f32>()?, vec![0.0625, 3.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SmoothL1Loss {
    beta: f64,
    reduction: Reduction,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss {
            beta: 1.0,
            reduction: Reduction::Mean,
        }
    }
}

impl SmoothL1Loss {
    /// `beta = 1`, mean reduction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the threshold between the quadratic and the linear part (`>= 0`; 0 gives the
    /// L1 loss; checked by `forward`).
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta = beta;
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// The loss of `input` against `target` (same shape and dtype).
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(Error::config(
                "smooth_l1_loss",
                format!("beta must be non-negative, got {}", self.beta),
            ));
        }
        pointwise(
            SmoothL1(self.beta),
            input,
            target,
            &Weights::default(),
            self.reduction,
        )
    }
}
