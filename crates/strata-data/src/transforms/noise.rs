//! [`GaussianNoise`]: add independent normal noise to every pixel.

use super::image::{make, with_image};
use super::Transform;
use crate::{DataError, Result};
use strata_core::{Generator, Tensor};

/// Adds noise drawn from `N(mean, std²)` to every element, then clips to `[0, 1]` unless
/// told not to (torchvision v2's `GaussianNoise`).
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{GaussianNoise, Transform};
/// let img = Tensor::full(&[1, 8, 8], 0.5, strata_core::DType::F32);
/// let out = GaussianNoise::new(0.1)?.apply(&img, &mut Generator::new(0))?;
/// assert_ne!(out.to_vec::<f32>()?, img.to_vec::<f32>()?);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct GaussianNoise {
    mean: f64,
    std: f64,
    clip: bool,
}

impl GaussianNoise {
    /// Zero-mean noise with standard deviation `std` (>= 0), clipped to `[0, 1]`.
    pub fn new(std: f64) -> Result<Self> {
        if !std.is_finite() || std < 0.0 {
            return Err(DataError::invalid(
                "GaussianNoise",
                format!("std must be finite and >= 0, got {std}"),
            ));
        }
        Ok(GaussianNoise {
            mean: 0.0,
            std,
            clip: true,
        })
    }

    /// The noise mean (default 0).
    pub fn mean(mut self, mean: f64) -> Self {
        self.mean = mean;
        self
    }

    /// Whether to clip the result to `[0, 1]` (default true).
    pub fn clip(mut self, clip: bool) -> Self {
        self.clip = clip;
        self
    }
}

impl Transform for GaussianNoise {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "GaussianNoise", |d, src| {
            let (mean, std) = (self.mean as f32, self.std as f32);
            let mut out = Vec::with_capacity(src.len());
            for pair in src.chunks(2) {
                let (z0, z1) = normal_pair(rng);
                for (&x, z) in pair.iter().zip([z0, z1]) {
                    let y = x + mean + std * z;
                    out.push(if self.clip { y.clamp(0.0, 1.0) } else { y });
                }
            }
            make(d, out)
        })
    }
}

/// Two independent standard normal f32 values by Marsaglia's polar method: a point drawn
/// uniformly in the unit disc, scaled by `sqrt(-2 ln s / s)`. One logarithm and one square
/// root per pair, no trigonometry: about five times faster than Box-Muller in f64, which
/// matters at one draw per pixel.
fn normal_pair(rng: &mut Generator) -> (f32, f32) {
    const TO_UNIT: f32 = 2.0 / (1u32 << 24) as f32;
    loop {
        let bits = rng.next_u64();
        let u = (bits >> 40) as f32 * TO_UNIT - 1.0;
        let v = ((bits >> 8) & 0xFF_FFFF) as f32 * TO_UNIT - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            let f = (-2.0 * s.ln() / s).sqrt();
            return (u * f, v * f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_has_the_requested_moments() {
        let img = Tensor::full(&[1, 100, 100], 0.5, strata_core::DType::F32);
        let t = GaussianNoise::new(0.05).unwrap().mean(0.01).clip(false);
        let v = t
            .apply(&img, &mut Generator::new(3))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64 - 0.5).sum::<f64>() / n;
        let var = v
            .iter()
            .map(|&x| (x as f64 - 0.5 - mean).powi(2))
            .sum::<f64>()
            / n;
        assert!((mean - 0.01).abs() < 0.002, "{mean}");
        assert!((var.sqrt() - 0.05).abs() < 0.002, "{var}");
        let clipped = GaussianNoise::new(1.0)
            .unwrap()
            .apply(&img, &mut Generator::new(3))
            .unwrap();
        assert!(clipped
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|&x| (0.0..=1.0).contains(&x)));
        assert!(GaussianNoise::new(-1.0).is_err());
    }

    #[test]
    fn polar_method_gives_standard_normal_values() {
        let mut rng = Generator::new(11);
        let zs: Vec<f64> = (0..100_000)
            .flat_map(|_| {
                let (a, b) = normal_pair(&mut rng);
                [a as f64, b as f64]
            })
            .collect();
        let n = zs.len() as f64;
        let mean = zs.iter().sum::<f64>() / n;
        let var = zs.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n;
        let kurt = zs.iter().map(|z| (z - mean).powi(4)).sum::<f64>() / n / var.powi(2);
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.01,
            "{mean} {var}"
        );
        assert!((kurt - 3.0).abs() < 0.05, "{kurt}");
        // Tail mass beyond 2 sigma is 4.55%.
        let tail = zs.iter().filter(|z| z.abs() > 2.0).count() as f64 / n;
        assert!((tail - 0.0455).abs() < 0.003, "{tail}");
    }
}
