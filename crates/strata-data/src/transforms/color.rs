//! [`ColorJitter`]: random brightness and contrast.

use super::image::{make, uniform_in, with_image};
use super::Transform;
use crate::{DataError, Result};
use strata_core::{Generator, Tensor};

/// Scales brightness by a factor in `[1 - brightness, 1 + brightness]`, then contrast by a
/// factor in `[1 - contrast, 1 + contrast]` (both clamped at 0), clipping to `[0, 1]` after
/// each step, as torchvision does for float images.
///
/// Contrast blends each pixel with the image's mean grey level: `(x - mean) * f + mean`,
/// where the grey of an RGB image weighs R, G, B by 0.299, 0.587, 0.114.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{ColorJitter, Transform};
/// let img = Tensor::full(&[1, 2, 2], 0.5, strata_core::DType::F32);
/// let out = ColorJitter::new(0.5, 0.0)?.apply(&img, &mut Generator::new(0))?;
/// let v = out.to_vec::<f32>()?;
/// assert!(v.iter().all(|&x| x == v[0] && (0.25..=0.75).contains(&x)));
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ColorJitter {
    brightness: f64,
    contrast: f64,
}

impl ColorJitter {
    /// Jitter strengths (each >= 0; 0 turns that part off).
    pub fn new(brightness: f64, contrast: f64) -> Result<Self> {
        for (name, v) in [("brightness", brightness), ("contrast", contrast)] {
            if !v.is_finite() || v < 0.0 {
                return Err(DataError::invalid(
                    "ColorJitter",
                    format!("{name} must be finite and >= 0, got {v}"),
                ));
            }
        }
        Ok(ColorJitter {
            brightness,
            contrast,
        })
    }
}

fn factor(rng: &mut Generator, strength: f64) -> f32 {
    uniform_in(rng, (1.0 - strength).max(0.0), 1.0 + strength) as f32
}

impl Transform for ColorJitter {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "ColorJitter", |d, src| {
            let b = factor(rng, self.brightness);
            let c = factor(rng, self.contrast);
            let mut out: Vec<f32> = src.iter().map(|&x| (x * b).clamp(0.0, 1.0)).collect();
            let plane = d.plane();
            if plane == 0 {
                return make(d, out);
            }
            let mean = if d.c == 3 {
                let grey: f64 = (0..plane)
                    .map(|i| {
                        0.299 * out[i] as f64
                            + 0.587 * out[plane + i] as f64
                            + 0.114 * out[2 * plane + i] as f64
                    })
                    .sum();
                (grey / plane as f64) as f32
            } else {
                (out.iter().map(|&x| x as f64).sum::<f64>() / out.len() as f64) as f32
            };
            for x in &mut out {
                *x = ((*x - mean) * c + mean).clamp(0.0, 1.0);
            }
            make(d, out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brightness_scales_and_contrast_keeps_the_mean() {
        let img = Tensor::from_vec(vec![0.2f32, 0.4, 0.6, 0.8], &[1, 2, 2]).unwrap();
        // Brightness only: a common factor f in [0.5, 1.5], clipped at 1.
        for seed in 0..20 {
            let out = ColorJitter::new(0.5, 0.0)
                .unwrap()
                .apply(&img, &mut Generator::new(seed))
                .unwrap();
            let v = out.to_vec::<f32>().unwrap();
            let f = v[0] / 0.2;
            assert!((0.5..=1.5).contains(&f));
            for (o, i) in v.iter().zip([0.2f32, 0.4, 0.6, 0.8]) {
                assert!((o - (i * f).min(1.0)).abs() < 1e-5, "{v:?}");
            }
        }
        // Contrast only: mean 0.5 is kept, spread scales by a common factor.
        for seed in 0..20 {
            let out = ColorJitter::new(0.0, 0.5)
                .unwrap()
                .apply(&img, &mut Generator::new(seed))
                .unwrap();
            let v = out.to_vec::<f32>().unwrap();
            let mean: f32 = v.iter().sum::<f32>() / 4.0;
            assert!((mean - 0.5).abs() < 1e-5);
            let f = (v[3] - v[0]) / 0.6;
            assert!((0.5..=1.5).contains(&f));
            assert!(((v[1] - 0.5) - f * -0.1).abs() < 1e-5);
        }
        assert!(ColorJitter::new(-0.1, 0.0).is_err());
    }

    #[test]
    fn rgb_contrast_uses_grey_weights() {
        // A pure red image: the grey mean is 0.299, so with contrast factor f the red channel
        // becomes 0.299 + 0.701 f and green becomes 0.299 (1 - f), each clipped to [0, 1].
        let mut v = vec![0.0f32; 3 * 4];
        v[..4].fill(1.0);
        let img = Tensor::from_vec(v, &[3, 2, 2]).unwrap();
        let jitter = ColorJitter::new(0.0, 0.9).unwrap();
        let mut checked = 0;
        for seed in 0..40 {
            let out = jitter
                .apply(&img, &mut Generator::new(seed))
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            if out[0] >= 1.0 {
                continue; // clipped: f cannot be read back
            }
            let f = (out[0] - 0.299) / 0.701;
            assert!(
                (out[4] - (0.299 * (1.0 - f)).clamp(0.0, 1.0)).abs() < 1e-5,
                "{out:?}"
            );
            checked += 1;
        }
        assert!(checked > 10);
    }
}
