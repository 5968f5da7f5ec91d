//! [`RandomErasing`] (cutout): blank a random rectangle.

use super::image::{check_probability, check_range, make, uniform_in, with_image};
use super::Transform;
use crate::{DataError, Result};
use strata_core::{Generator, Tensor};

/// With probability `p`, sets a random rectangle of every channel to `value` (torchvision's
/// `RandomErasing`; Zhong et al. 2017, "cutout"). The rectangle covers a fraction of the image
/// drawn from `scale` with an aspect ratio (height / width) drawn log-uniformly from `ratio`;
/// if ten draws do not fit inside the image, nothing is erased.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{RandomErasing, Transform};
/// let img = Tensor::ones(&[1, 28, 28]);
/// let out = RandomErasing::new(1.0)?.apply(&img, &mut Generator::new(0))?;
/// let erased = out.to_vec::<f32>()?.iter().filter(|&&v| v == 0.0).count();
/// assert!(erased >= 16 && erased <= 28 * 28 / 3 + 28);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RandomErasing {
    p: f64,
    scale: (f64, f64),
    ratio: (f64, f64),
    value: f32,
}

impl RandomErasing {
    /// Erases with probability `p`, area fraction in `[0.02, 0.33]`, aspect ratio in
    /// `[0.3, 3.3]`, value 0 (torchvision's defaults).
    pub fn new(p: f64) -> Result<Self> {
        check_probability("RandomErasing", p)?;
        Ok(RandomErasing {
            p,
            scale: (0.02, 0.33),
            ratio: (0.3, 3.3),
            value: 0.0,
        })
    }

    /// The range of the erased area as a fraction of the image (within `[0, 1]`).
    pub fn scale(mut self, min: f64, max: f64) -> Result<Self> {
        check_range("RandomErasing", "scale", min, max)?;
        if min < 0.0 || max > 1.0 {
            return Err(DataError::invalid(
                "RandomErasing",
                format!("scale must lie within [0, 1], got ({min}, {max})"),
            ));
        }
        self.scale = (min, max);
        Ok(self)
    }

    /// The range of the rectangle's height / width (both > 0).
    pub fn ratio(mut self, min: f64, max: f64) -> Result<Self> {
        check_range("RandomErasing", "ratio", min, max)?;
        if min <= 0.0 {
            return Err(DataError::invalid(
                "RandomErasing",
                format!("ratio must be > 0, got ({min}, {max})"),
            ));
        }
        self.ratio = (min, max);
        Ok(self)
    }

    /// The value written into the rectangle (default 0).
    pub fn value(mut self, value: f32) -> Self {
        self.value = value;
        self
    }

    /// Top, left, height, width of the rectangle to erase, if one fits.
    fn rectangle(
        &self,
        h: usize,
        w: usize,
        rng: &mut Generator,
    ) -> Option<(usize, usize, usize, usize)> {
        let area = (h * w) as f64;
        let (log_lo, log_hi) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let target = area * uniform_in(rng, self.scale.0, self.scale.1);
            let aspect = uniform_in(rng, log_lo, log_hi).exp();
            let eh = (target * aspect).sqrt().round() as usize;
            let ew = (target / aspect).sqrt().round() as usize;
            if eh == 0 || ew == 0 || eh >= h || ew >= w {
                continue;
            }
            let top = rng.below((h - eh + 1) as u64) as usize;
            let left = rng.below((w - ew + 1) as u64) as usize;
            return Some((top, left, eh, ew));
        }
        None
    }
}

impl Transform for RandomErasing {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "RandomErasing", |d, src| {
            let mut out = src.to_vec();
            if rng.uniform() >= self.p {
                return make(d, out);
            }
            if let Some((top, left, eh, ew)) = self.rectangle(d.h, d.w, rng) {
                for c in 0..d.c {
                    for y in top..top + eh {
                        let row = c * d.plane() + y * d.w;
                        out[row + left..row + left + ew].fill(self.value);
                    }
                }
            }
            make(d, out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erases_one_axis_aligned_rectangle_of_the_right_size_on_all_channels() {
        let img = Tensor::ones(&[2, 20, 30]);
        let t = RandomErasing::new(1.0)
            .unwrap()
            .scale(0.1, 0.2)
            .unwrap()
            .value(-1.0);
        for seed in 0..50 {
            let v = t
                .apply(&img, &mut Generator::new(seed))
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let (ch0, ch1) = v.split_at(600);
            assert_eq!(ch0, ch1);
            let erased: Vec<(usize, usize)> = (0..600)
                .filter(|&i| ch0[i] == -1.0)
                .map(|i| (i / 30, i % 30))
                .collect();
            assert!(ch0.iter().all(|&x| x == 1.0 || x == -1.0));
            if erased.is_empty() {
                continue;
            }
            let (ys, xs): (Vec<usize>, Vec<usize>) = erased.iter().copied().unzip();
            let (y0, y1) = (*ys.iter().min().unwrap(), *ys.iter().max().unwrap());
            let (x0, x1) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap());
            // Filled rectangle: count equals the bounding box.
            assert_eq!(erased.len(), (y1 - y0 + 1) * (x1 - x0 + 1));
            let frac = erased.len() as f64 / 600.0;
            assert!((0.07..=0.25).contains(&frac), "{frac}");
        }
        let never = RandomErasing::new(0.0).unwrap();
        assert_eq!(
            never
                .apply(&img, &mut Generator::new(0))
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            vec![1.0; 1200]
        );
        assert!(RandomErasing::new(0.5).unwrap().scale(0.5, 1.5).is_err());
        assert!(RandomErasing::new(0.5).unwrap().ratio(0.0, 1.0).is_err());
    }
}
