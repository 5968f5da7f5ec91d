//! [`RandomHorizontalFlip`] and [`RandomVerticalFlip`].

use super::image::{check_probability, make, with_image};
use super::Transform;
use crate::Result;
use strata_core::{Generator, Tensor};

/// Mirrors the image left-to-right with probability `p`.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{RandomHorizontalFlip, Transform};
/// let img = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 2, 2])?;
/// let out = RandomHorizontalFlip::new(1.0)?.apply(&img, &mut Generator::new(0))?;
/// assert_eq!(out.to_vec::<f32>()?, vec![2.0, 1.0, 4.0, 3.0]);
/// assert!(RandomHorizontalFlip::new(1.5).is_err());
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RandomHorizontalFlip {
    p: f64,
}

impl RandomHorizontalFlip {
    /// Flips with probability `p` (torchvision's default is 0.5).
    pub fn new(p: f64) -> Result<Self> {
        check_probability("RandomHorizontalFlip", p)?;
        Ok(RandomHorizontalFlip { p })
    }
}

impl Transform for RandomHorizontalFlip {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "RandomHorizontalFlip", |d, src| {
            if rng.uniform() >= self.p {
                return make(d, src.to_vec());
            }
            let mut out = Vec::with_capacity(src.len());
            for row in src.chunks_exact(d.w.max(1)) {
                out.extend(row.iter().rev());
            }
            make(d, out)
        })
    }
}

/// Mirrors the image top-to-bottom with probability `p`.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{RandomVerticalFlip, Transform};
/// let img = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 2, 2])?;
/// let out = RandomVerticalFlip::new(1.0)?.apply(&img, &mut Generator::new(0))?;
/// assert_eq!(out.to_vec::<f32>()?, vec![3.0, 4.0, 1.0, 2.0]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RandomVerticalFlip {
    p: f64,
}

impl RandomVerticalFlip {
    /// Flips with probability `p`.
    pub fn new(p: f64) -> Result<Self> {
        check_probability("RandomVerticalFlip", p)?;
        Ok(RandomVerticalFlip { p })
    }
}

impl Transform for RandomVerticalFlip {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "RandomVerticalFlip", |d, src| {
            if rng.uniform() >= self.p || d.plane() == 0 {
                return make(d, src.to_vec());
            }
            let mut out = Vec::with_capacity(src.len());
            for plane in src.chunks_exact(d.plane()) {
                for row in plane.chunks_exact(d.w).rev() {
                    out.extend_from_slice(row);
                }
            }
            make(d, out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::image::test_images::{bright, dot};
    use super::*;

    #[test]
    fn flips_mirror_positions_on_every_channel() {
        let img = dot(4, 5, 1, 0, 1.0);
        let h = RandomHorizontalFlip::new(1.0).unwrap();
        assert_eq!(
            bright(&h.apply(&img, &mut Generator::new(0)).unwrap(), 0.5),
            vec![(1, 4)]
        );
        let v = RandomVerticalFlip::new(1.0).unwrap();
        assert_eq!(
            bright(&v.apply(&img, &mut Generator::new(0)).unwrap(), 0.5),
            vec![(2, 0)]
        );
        let never = RandomHorizontalFlip::new(0.0).unwrap();
        assert_eq!(
            bright(&never.apply(&img, &mut Generator::new(0)).unwrap(), 0.5),
            vec![(1, 0)]
        );
        // Two channels flip together.
        let rgb = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 1, 2]).unwrap();
        let out = h.apply(&rgb, &mut Generator::new(0)).unwrap();
        assert_eq!(out.to_vec::<f32>().unwrap(), vec![2.0, 1.0, 4.0, 3.0]);
        // About half the draws flip at p = 0.5.
        let half = RandomHorizontalFlip::new(0.5).unwrap();
        let flips = (0..1000)
            .filter(|&s| {
                bright(&half.apply(&img, &mut Generator::new(s)).unwrap(), 0.5) == vec![(1, 4)]
            })
            .count();
        assert!((400..600).contains(&flips), "{flips}");
    }
}
