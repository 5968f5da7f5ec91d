//! `Dropout`: zeroes random elements in training, identity in evaluation.

use crate::{hooks, Error, Forward, Module, Result, Visitor};
use std::sync::atomic::{AtomicBool, Ordering};
use strata_core::{with_global_generator, Tensor};

/// Inverted dropout: in training mode each element is zeroed with probability `p` and the
/// survivors are scaled by `1 / (1 - p)`, so evaluation (the identity) needs no rescaling.
/// The mask comes from the global generator (`strata_core::manual_seed`).
///
/// ```
/// use strata_nn::{Dropout, Forward, ModuleExt};
/// use strata_core::Tensor;
/// let drop = Dropout::new(0.5)?;
/// let x = Tensor::ones(&[1000]);
/// let y = drop.forward(&x)?.to_vec::<f32>()?;
/// assert!(y.iter().all(|&v| v == 0.0 || v == 2.0));
/// drop.eval();
/// assert_eq!(drop.forward(&x)?.to_vec::<f32>()?, vec![1.0; 1000]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: AtomicBool,
}

impl Dropout {
    /// Dropout with drop probability `p` in `[0, 1)`.
    pub fn new(p: f64) -> Result<Dropout> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::config(
                "Dropout",
                format!("p must be in [0, 1), got {p}"),
            ));
        }
        Ok(Dropout {
            p,
            training: AtomicBool::new(true),
        })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }
}

impl Module for Dropout {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> Option<bool> {
        Some(self.training.load(Ordering::Relaxed))
    }

    fn extra_repr(&self) -> String {
        format!("p={}", self.p)
    }
}

impl Forward for Dropout {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        if !self.training.load(Ordering::Relaxed) || self.p == 0.0 {
            // Still reported, so that summaries list the layer in evaluation mode too.
            hooks::emit(self, input);
            return Ok(input.clone());
        }
        let keep = 1.0 - self.p;
        let mask = with_global_generator(|g| {
            Tensor::bernoulli_with(g, input.shape(), keep, input.dtype())
        })?;
        let y = input.mul(&mask.mul_scalar(1.0 / keep)?)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::{gradcheck, manual_seed, GradcheckOptions};

    #[test]
    fn keeps_the_expected_fraction_and_scales() {
        manual_seed(3);
        let d = Dropout::new(0.3).unwrap();
        let y = d
            .forward(&Tensor::ones(&[20_000]))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / y.len() as f64;
        assert!((kept - 0.7).abs() < 0.02, "{kept}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        assert!(Dropout::new(1.0).is_err());
    }

    #[test]
    fn gradient_is_the_same_mask() {
        // With a fixed seed the mask repeats, so finite differences see the same function.
        let d = Dropout::new(0.4).unwrap();
        gradcheck(
            |t| {
                manual_seed(5);
                Ok(d.forward(&t[0]).unwrap())
            },
            &[Tensor::randn(&[30])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }
}
