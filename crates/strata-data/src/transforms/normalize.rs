//! [`Normalize`] (per-channel mean/std) and [`Flatten`].

use super::image::{make, with_image};
use super::Transform;
use crate::{DataError, Result};
use strata_core::{Generator, Tensor};

/// `(x - mean[c]) / std[c]` for each channel `c` (one value serves all channels).
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{Normalize, Transform};
/// let img = Tensor::from_vec(vec![0.0f32, 1.0, 0.5, 0.5], &[2, 1, 2])?;
/// let out = Normalize::new(&[0.0, 0.5], &[1.0, 0.25])?.apply(&img, &mut Generator::new(0))?;
/// assert_eq!(out.to_vec::<f32>()?, vec![0.0, 1.0, 0.0, 0.0]);
/// assert!(Normalize::new(&[0.5], &[0.0]).is_err());
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Normalize {
    mean: Vec<f32>,
    std: Vec<f32>,
}

impl Normalize {
    /// Per-channel means and standard deviations (the same length; each std > 0).
    pub fn new(mean: &[f32], std: &[f32]) -> Result<Self> {
        if mean.len() != std.len() || mean.is_empty() {
            return Err(DataError::invalid(
                "Normalize",
                format!(
                    "need as many means as stds (at least one), got {} and {}",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if let Some(s) = std.iter().find(|&&s| !(s > 0.0 && s.is_finite())) {
            return Err(DataError::invalid(
                "Normalize",
                format!("every std must be finite and > 0, got {s}"),
            ));
        }
        if let Some(m) = mean.iter().find(|m| !m.is_finite()) {
            return Err(DataError::invalid(
                "Normalize",
                format!("mean {m} is not finite"),
            ));
        }
        Ok(Normalize {
            mean: mean.to_vec(),
            std: std.to_vec(),
        })
    }
}

impl Transform for Normalize {
    fn apply(&self, input: &Tensor, _rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "Normalize", |d, src| {
            if self.mean.len() != 1 && self.mean.len() != d.c {
                return Err(DataError::invalid(
                    "Normalize",
                    format!(
                        "{} mean/std values for an image with {} channel(s)",
                        self.mean.len(),
                        d.c
                    ),
                ));
            }
            let mut out = Vec::with_capacity(src.len());
            for c in 0..d.c {
                let k = if self.mean.len() == 1 { 0 } else { c };
                let (m, inv) = (self.mean[k], 1.0 / self.std[k]);
                out.extend(
                    src[c * d.plane()..(c + 1) * d.plane()]
                        .iter()
                        .map(|&x| (x - m) * inv),
                );
            }
            make(d, out)
        })
    }
}

/// Reshapes any input to one dimension (`[1, 28, 28]` → `[784]` for an MLP).
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{Flatten, Transform};
/// let out = Flatten.apply(&Tensor::zeros(&[1, 28, 28]), &mut Generator::new(0))?;
/// assert_eq!(out.shape(), &[784]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten;

impl Transform for Flatten {
    fn apply(&self, input: &Tensor, _rng: &mut Generator) -> Result<Tensor> {
        Ok(input.contiguous().reshape(&[input.numel()])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_each_channel_and_checks_channel_count() {
        let img = Tensor::from_vec(vec![1.0f32, 3.0, 10.0, 20.0], &[2, 1, 2]).unwrap();
        let n = Normalize::new(&[2.0, 10.0], &[1.0, 10.0]).unwrap();
        let out = n.apply(&img, &mut Generator::new(0)).unwrap();
        assert_eq!(out.to_vec::<f32>().unwrap(), vec![-1.0, 1.0, 0.0, 1.0]);
        let three = Normalize::new(&[0.0; 3], &[1.0; 3]).unwrap();
        assert!(three.apply(&img, &mut Generator::new(0)).is_err());
        let one = Normalize::new(&[1.0], &[2.0]).unwrap();
        let out = one.apply(&img, &mut Generator::new(0)).unwrap();
        assert_eq!(out.to_vec::<f32>().unwrap(), vec![0.0, 1.0, 4.5, 9.5]);
        assert!(Normalize::new(&[0.0, 1.0], &[1.0]).is_err());
    }
}
