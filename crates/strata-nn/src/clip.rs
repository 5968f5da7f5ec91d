//! Gradient clipping, with PyTorch's semantics: by total norm (`clip_grad_norm_`) and by
//! value (`clip_grad_value_`).
//!
//! Clipping replaces the gradients held in [`Gradients`] (between `backward()` and the
//! optimiser's `step`); the tensors a backward pass returned are never modified in place,
//! since several parameters may share one gradient tensor.

use crate::{Error, Param, Result};
use std::collections::HashSet;
use strata_core::{DType, Gradients, Tensor};

/// The gradients of `params` found in `grads`, each parameter once.
fn grads_of<'g>(grads: &'g Gradients, params: &[Param]) -> Vec<(&'g Tensor, Param)> {
    let mut seen = HashSet::new();
    params
        .iter()
        .filter(|p| seen.insert(p.id()))
        .filter_map(|p| p.grad(grads).map(|g| (g, p.clone())))
        .collect()
}

/// Calls `f` on the elements of `t` as f64, without copying contiguous tensors.
fn for_each_value(t: &Tensor, mut f: impl FnMut(f64)) -> Result<()> {
    let t = t.contiguous();
    match t.dtype() {
        DType::F32 => t.read::<f32>()?.iter().for_each(|&v| f(v as f64)),
        DType::F64 => t.read::<f64>()?.iter().for_each(|&v| f(v)),
        other => {
            return Err(strata_core::Error::DType {
                op: "clip_grad",
                expected: "f32 or f64 gradients".into(),
                got: other,
            }
            .into())
        }
    }
    Ok(())
}

/// The total `norm_type`-norm of the gradients of `params`, as if all of them were
/// concatenated into one vector (`f64::INFINITY`: the largest absolute value). Parameters
/// without a gradient are skipped.
///
/// ```
/// use strata_nn::{clip::grad_norm, Param};
/// use strata_core::{Gradients, Tensor};
/// let (a, b) = (Param::new(Tensor::zeros(&[2])), Param::new(Tensor::zeros(&[1])));
/// let mut grads = Gradients::new();
/// grads.insert(&a, Tensor::from_vec(vec![3.0f32, 0.0], &[2])?);
/// grads.insert(&b, Tensor::from_vec(vec![-4.0f32], &[1])?);
/// assert_eq!(grad_norm(&grads, &[a.clone(), b.clone()], 2.0)?, 5.0);
/// assert_eq!(grad_norm(&grads, &[a, b], f64::INFINITY)?, 4.0);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn grad_norm(grads: &Gradients, params: &[Param], norm_type: f64) -> Result<f64> {
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(Error::config(
            "clip_grad_norm",
            format!("norm_type must be > 0 (or infinity), got {norm_type}"),
        ));
    }
    let grads = grads_of(grads, params);
    if norm_type == f64::INFINITY {
        let mut max = 0.0f64;
        for (g, _) in &grads {
            // A NaN gradient gives a NaN norm.
            for_each_value(g, |v| {
                if v.abs() > max || v.is_nan() {
                    max = v.abs()
                }
            })?;
        }
        return Ok(max);
    }
    let mut sum = 0.0f64;
    for (g, _) in &grads {
        if norm_type == 2.0 {
            for_each_value(g, |v| sum += v * v)?;
        } else if norm_type == 1.0 {
            for_each_value(g, |v| sum += v.abs())?;
        } else {
            for_each_value(g, |v| sum += v.abs().powf(norm_type))?;
        }
    }
    Ok(sum.powf(1.0 / norm_type))
}

/// Rescales the gradients of `params` so that their total norm (see [`grad_norm`]) is at
/// most `max_norm`, and returns the total norm before clipping (PyTorch's
/// `clip_grad_norm_`). The scale is `max_norm / (total_norm + 1e-6)`, applied only when it
/// is below 1; a non-finite norm makes the gradients non-finite too, as in PyTorch.
///
/// ```
/// use strata_nn::{clip::clip_grad_norm, Param};
/// use strata_core::{Gradients, Tensor};
/// let w = Param::new(Tensor::zeros(&[2]));
/// let mut grads = Gradients::new();
/// grads.insert(&w, Tensor::from_vec(vec![3.0f64, 4.0], &[2])?);
/// let norm = clip_grad_norm(&mut grads, &[w.clone()], 1.0, 2.0)?;
/// assert_eq!(norm, 5.0);
/// let g = w.grad(&grads).unwrap().to_vec::<f64>()?;
/// let scale = 1.0 / (5.0 + 1e-6);
/// assert_eq!(g, vec![3.0 * scale, 4.0 * scale]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn clip_grad_norm(
    grads: &mut Gradients,
    params: &[Param],
    max_norm: f64,
    norm_type: f64,
) -> Result<f64> {
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::config(
            "clip_grad_norm",
            format!("max_norm must be >= 0, got {max_norm}"),
        ));
    }
    let total = grad_norm(grads, params, norm_type)?;
    let coef = max_norm / (total + 1e-6);
    // PyTorch multiplies by min(coef, 1) always; multiplying by 1 changes nothing.
    if coef < 1.0 || coef.is_nan() {
        let scaled: Vec<(Param, Tensor)> = grads_of(grads, params)
            .into_iter()
            .map(|(g, p)| Ok((p, g.mul_scalar(coef)?)))
            .collect::<Result<_>>()?;
        for (p, g) in scaled {
            grads.insert(&p, g);
        }
    }
    Ok(total)
}

/// Clamps every gradient element of `params` into `[-clip_value, clip_value]` (PyTorch's
/// `clip_grad_value_`).
///
/// ```
/// use strata_nn::{clip::clip_grad_value, Param};
/// use strata_core::{Gradients, Tensor};
/// let w = Param::new(Tensor::zeros(&[3]));
/// let mut grads = Gradients::new();
/// grads.insert(&w, Tensor::from_vec(vec![-3.0f32, 0.5, 2.0], &[3])?);
/// clip_grad_value(&mut grads, &[w.clone()], 1.0)?;
/// assert_eq!(w.grad(&grads).unwrap().to_vec::<f32>()?, vec![-1.0, 0.5, 1.0]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn clip_grad_value(grads: &mut Gradients, params: &[Param], clip_value: f64) -> Result<()> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(Error::config(
            "clip_grad_value",
            format!("clip_value must be >= 0, got {clip_value}"),
        ));
    }
    let mut clamped = Vec::new();
    for (g, p) in grads_of(grads, params) {
        let mut outside = false;
        for_each_value(g, |v| outside |= v.abs() > clip_value)?;
        if outside {
            clamped.push((p, g.clamp(-clip_value, clip_value)?));
        }
    }
    for (p, g) in clamped {
        grads.insert(&p, g);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Vec<Param>, Gradients) {
        let a = Param::new(Tensor::zeros(&[2, 2]));
        let b = Param::new(Tensor::zeros(&[3]));
        let frozen_like = Param::new(Tensor::zeros(&[1])); // no gradient
        let mut grads = Gradients::new();
        grads.insert(
            &a,
            Tensor::from_vec(vec![1.0f64, -2.0, 3.0, -4.0], &[2, 2]).unwrap(),
        );
        grads.insert(&b, Tensor::from_vec(vec![0.5f64, 0.0, -6.0], &[3]).unwrap());
        (vec![a, b, frozen_like], grads)
    }

    fn all(grads: &Gradients, params: &[Param]) -> Vec<f64> {
        params
            .iter()
            .filter_map(|p| p.grad(grads))
            .flat_map(|g| g.to_vec_f64())
            .collect()
    }

    #[test]
    fn norms_of_every_type() {
        let (params, grads) = setup();
        let v = all(&grads, &params);
        let l2 = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let l1 = v.iter().map(|x| x.abs()).sum::<f64>();
        let l3 = v.iter().map(|x| x.abs().powi(3)).sum::<f64>().cbrt();
        assert!((grad_norm(&grads, &params, 2.0).unwrap() - l2).abs() < 1e-12);
        assert!((grad_norm(&grads, &params, 1.0).unwrap() - l1).abs() < 1e-12);
        assert!((grad_norm(&grads, &params, 3.0).unwrap() - l3).abs() < 1e-12);
        assert_eq!(grad_norm(&grads, &params, f64::INFINITY).unwrap(), 6.0);
        assert!(grad_norm(&grads, &params, 0.0).is_err());
        assert!(grad_norm(&grads, &params, f64::NAN).is_err());
    }

    #[test]
    fn clipping_scales_to_max_norm_and_returns_the_old_norm() {
        for norm_type in [2.0, 1.0, f64::INFINITY] {
            let (params, mut grads) = setup();
            let before = all(&grads, &params);
            let total = grad_norm(&grads, &params, norm_type).unwrap();
            let got = clip_grad_norm(&mut grads, &params, 1.5, norm_type).unwrap();
            assert_eq!(got, total);
            let after = all(&grads, &params);
            let scale = 1.5 / (total + 1e-6);
            for (x, y) in before.iter().zip(&after) {
                assert!((x * scale - y).abs() < 1e-14, "{norm_type}");
            }
            let new_norm = grad_norm(&grads, &params, norm_type).unwrap();
            assert!((new_norm - 1.5).abs() < 1e-5, "{norm_type}: {new_norm}");
        }
    }

    #[test]
    fn below_the_threshold_nothing_changes() {
        let (params, mut grads) = setup();
        let before: Vec<Tensor> = params
            .iter()
            .filter_map(|p| p.grad(&grads).cloned())
            .collect();
        let total = clip_grad_norm(&mut grads, &params, 100.0, 2.0).unwrap();
        assert!(total < 100.0);
        let after: Vec<Tensor> = params
            .iter()
            .filter_map(|p| p.grad(&grads).cloned())
            .collect();
        // The very same tensors are still there.
        assert!(before.iter().zip(&after).all(|(a, b)| a.id() == b.id()));
        clip_grad_value(&mut grads, &params, 10.0).unwrap();
        let after: Vec<Tensor> = params
            .iter()
            .filter_map(|p| p.grad(&grads).cloned())
            .collect();
        assert!(before.iter().zip(&after).all(|(a, b)| a.id() == b.id()));
    }

    #[test]
    fn a_shared_gradient_tensor_is_scaled_once_per_parameter() {
        // y = a + b: both parameters may receive the same gradient tensor.
        let a = Param::new(Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap());
        let b = Param::new(Tensor::from_vec(vec![3.0f32, 4.0], &[2]).unwrap());
        let mut grads = a
            .add(&b)
            .unwrap()
            .mul_scalar(3.0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let params = [a.clone(), b.clone()];
        let total = clip_grad_norm(&mut grads, &params, 1.0, 2.0).unwrap();
        assert!((total - 6.0).abs() < 1e-6); // four entries of 3
        for p in &params {
            for v in p.grad(&grads).unwrap().to_vec::<f32>().unwrap() {
                assert!((v - 0.5).abs() < 1e-5, "{v}");
            }
        }
    }

    #[test]
    fn value_clipping_and_bad_arguments() {
        let (params, mut grads) = setup();
        clip_grad_value(&mut grads, &params, 2.5).unwrap();
        assert_eq!(
            all(&grads, &params),
            vec![1.0, -2.0, 2.5, -2.5, 0.5, 0.0, -2.5]
        );
        assert!(clip_grad_value(&mut grads, &params, -1.0).is_err());
        assert!(clip_grad_norm(&mut grads, &params, -1.0, 2.0).is_err());
        assert!(clip_grad_norm(&mut grads, &params, 1.0, -2.0).is_err());
    }
}
