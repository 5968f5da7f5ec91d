//! Weight penalties to add to a loss: L1 (`Σ|w|`) and L2 (`Σw²`), differentiable.
//!
//! How they relate to the optimisers' `weight_decay`:
//!
//! - **Coupled** weight decay (SGD, Adam, RMSprop, Adagrad) adds `λ·w` to each gradient,
//!   which is exactly the gradient of `(λ/2)·Σw²`. So `SGD` with `weight_decay(λ)` takes the
//!   same steps as plain `SGD` on `loss + (λ/2)·l2_penalty(params)`. With adaptive
//!   optimisers (Adam) the term is then divided by the per-weight denominator, so weights
//!   with large gradients are decayed less.
//! - **Decoupled** weight decay (AdamW) shrinks the weights directly, `w ← w·(1 − lr·λ)`,
//!   outside the gradient: no loss penalty reproduces it.
//! - L1 has no optimiser counterpart; its (sub)gradient `sign(w)` (0 at 0) pushes weights to
//!   exactly zero, which gives sparse models.
//!
//! ```
//! use strata_nn::regularize::l2_penalty;
//! use strata_nn::{Forward, Linear, ModuleExt};
//! use strata_core::Tensor;
//! let model = Linear::new(3, 1)?;
//! let (x, y) = (Tensor::randn(&[8, 3]), Tensor::randn(&[8, 1]));
//! let mse = model.forward(&x)?.sub(&y)?.square()?.mean_all()?;
//! let loss = mse.add(&l2_penalty(&model.parameters())?.mul_scalar(0.5 * 1e-4)?)?;
//! let grads = loss.backward()?;
//! assert!(model.weight().grad(&grads).is_some());
//! # Ok::<(), strata_nn::Error>(())
//! ```

use crate::{Param, Result};
use strata_core::Tensor;

/// Sums `term(p)` over the parameters, in the first parameter's dtype (a scalar 0 in f32
/// when there is none).
fn penalty(
    params: &[Param],
    term: impl Fn(&Tensor) -> strata_core::Result<Tensor>,
) -> Result<Tensor> {
    let Some(first) = params.first() else {
        return Ok(Tensor::scalar(0.0f32));
    };
    let dtype = first.dtype();
    let mut total: Option<Tensor> = None;
    for p in params {
        let t = term(p)?.sum_all()?.to_dtype(dtype);
        total = Some(match total {
            None => t,
            Some(acc) => acc.add(&t)?,
        });
    }
    Ok(total.unwrap_or_else(|| Tensor::scalar(0.0f32)))
}

/// `Σ|w|` over all elements of `params`: a differentiable scalar (gradient `sign(w)`).
///
/// ```
/// use strata_nn::{regularize::l1_penalty, Param};
/// use strata_core::Tensor;
/// let w = Param::new(Tensor::from_vec(vec![-2.0f64, 0.0, 3.0], &[3])?);
/// let pen = l1_penalty(&[w.clone()])?;
/// assert_eq!(pen.item()?, 5.0);
/// let g = pen.backward()?;
/// assert_eq!(w.grad(&g).unwrap().to_vec::<f64>()?, vec![-1.0, 0.0, 1.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn l1_penalty(params: &[Param]) -> Result<Tensor> {
    penalty(params, |p| p.abs())
}

/// `Σw²` over all elements of `params`: a differentiable scalar (gradient `2w`). Adding
/// `(λ/2)·l2_penalty` to the loss equals coupled `weight_decay(λ)`.
///
/// ```
/// use strata_nn::{regularize::l2_penalty, Param};
/// use strata_core::Tensor;
/// let w = Param::new(Tensor::from_vec(vec![-2.0f64, 3.0], &[2])?);
/// let pen = l2_penalty(&[w.clone()])?;
/// assert_eq!(pen.item()?, 13.0);
/// let g = pen.backward()?;
/// assert_eq!(w.grad(&g).unwrap().to_vec::<f64>()?, vec![-4.0, 6.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn l2_penalty(params: &[Param]) -> Result<Tensor> {
    penalty(params, |p| p.square())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Optimizer, SGD};
    use strata_core::DType;

    #[test]
    fn penalties_over_several_params_and_dtypes() {
        let a = Param::new(Tensor::from_vec(vec![1.0f32, -2.0], &[2]).unwrap());
        let b = Param::new(Tensor::from_vec(vec![-3.0f64, 0.5, 0.25, 4.0], &[2, 2]).unwrap());
        let params = [a.clone(), b.clone()];
        let l1 = l1_penalty(&params).unwrap();
        assert_eq!(l1.dtype(), DType::F32);
        assert_eq!(l1.item().unwrap(), 1.0 + 2.0 + 3.0 + 0.5 + 0.25 + 4.0);
        let l2 = l2_penalty(&params).unwrap();
        assert_eq!(l2.item().unwrap(), 1.0 + 4.0 + 9.0 + 0.25 + 0.0625 + 16.0);
        let g = l2.backward().unwrap();
        assert_eq!(
            b.grad(&g).unwrap().to_vec::<f64>().unwrap(),
            vec![-6.0, 1.0, 0.5, 8.0]
        );
        assert_eq!(l1_penalty(&[]).unwrap().item().unwrap(), 0.0);
    }

    #[test]
    fn half_l2_penalty_equals_sgd_weight_decay() {
        let w0 = vec![0.7f64, -1.2, 2.0];
        let target = Tensor::from_vec(vec![0.1f64, 0.2, -0.3], &[3]).unwrap();
        let lambda = 0.3;
        let run = |penalise: bool| {
            let w = Param::new(Tensor::from_vec(w0.clone(), &[3]).unwrap());
            let mut opt = SGD::new(vec![w.clone()], 0.1)
                .unwrap()
                .momentum(0.5)
                .unwrap();
            if !penalise {
                opt = opt.weight_decay(lambda).unwrap();
            }
            for _ in 0..5 {
                let mut loss = w.sub(&target).unwrap().square().unwrap().sum_all().unwrap();
                if penalise {
                    let pen = l2_penalty(&[w.clone()]).unwrap();
                    loss = loss.add(&pen.mul_scalar(lambda / 2.0).unwrap()).unwrap();
                }
                opt.step(&loss.backward().unwrap()).unwrap();
            }
            w.to_vec::<f64>().unwrap()
        };
        let (a, b) = (run(true), run(false));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-14, "{a:?} vs {b:?}");
        }
    }
}
