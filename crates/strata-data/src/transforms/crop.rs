//! [`RandomCrop`]: pad the image, then cut a window at a random position.

use super::image::{make, with_image, Dims};
use super::Transform;
use crate::{DataError, Result};
use strata_core::{Generator, Tensor};

/// Pads the image by `padding` pixels of `fill` on every side, then crops a
/// `height × width` window at a uniformly random position (torchvision's `RandomCrop`).
///
/// With `RandomCrop::new(28, 2)` a 28×28 digit moves by up to 2 pixels in each direction.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{RandomCrop, Transform};
/// let img = Tensor::ones(&[3, 32, 32]);
/// let out = RandomCrop::new(32, 4).apply(&img, &mut Generator::new(0))?;
/// assert_eq!(out.shape(), &[3, 32, 32]);
/// let small = RandomCrop::rect(8, 16, 0).apply(&img, &mut Generator::new(0))?;
/// assert_eq!(small.shape(), &[3, 8, 16]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RandomCrop {
    height: usize,
    width: usize,
    padding: usize,
    fill: f32,
}

impl RandomCrop {
    /// A square `size × size` crop after padding by `padding` (filled with 0).
    pub fn new(size: usize, padding: usize) -> Self {
        RandomCrop::rect(size, size, padding)
    }

    /// A `height × width` crop after padding by `padding` (filled with 0).
    pub fn rect(height: usize, width: usize, padding: usize) -> Self {
        RandomCrop {
            height,
            width,
            padding,
            fill: 0.0,
        }
    }

    /// The value of the padding pixels (default 0).
    pub fn fill(mut self, value: f32) -> Self {
        self.fill = value;
        self
    }
}

impl Transform for RandomCrop {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "RandomCrop", |d, src| {
            let p = self.padding;
            let pad = |n: usize| n.checked_add(p.checked_mul(2)?);
            let (Some(ph), Some(pw)) = (pad(d.h), pad(d.w)) else {
                return Err(DataError::invalid(
                    "RandomCrop",
                    format!("padding {p} is too large"),
                ));
            };
            let fits =
                d.c.max(1)
                    .checked_mul(self.height.max(1))
                    .and_then(|n| n.checked_mul(self.width.max(1)));
            if self.height > ph || self.width > pw || fits.is_none() {
                return Err(DataError::invalid(
                    "RandomCrop",
                    format!(
                        "cannot crop {}x{} from a {}x{} image padded by {p} ({ph}x{pw})",
                        self.height, self.width, d.h, d.w
                    ),
                ));
            }
            let top = rng.below(((ph - self.height) as u64).saturating_add(1)) as usize;
            let left = rng.below(((pw - self.width) as u64).saturating_add(1)) as usize;
            let out_dims = Dims {
                c: d.c,
                h: self.height,
                w: self.width,
            };
            let mut out = vec![self.fill; out_dims.c * out_dims.plane()];
            // Output (y, x) reads input (top + y - p, left + x - p) where that lies inside.
            let x_lo = p.saturating_sub(left);
            let x_hi = (d.w + p).saturating_sub(left).min(self.width);
            for c in 0..d.c {
                for y in 0..self.height {
                    let sy = top + y;
                    if sy < p || sy >= d.h + p || x_lo >= x_hi {
                        continue;
                    }
                    let src_row = &src[c * d.plane() + (sy - p) * d.w..][..d.w];
                    let dst_row = &mut out[c * out_dims.plane() + y * self.width..][..self.width];
                    let sx = left + x_lo - p;
                    dst_row[x_lo..x_hi].copy_from_slice(&src_row[sx..sx + (x_hi - x_lo)]);
                }
            }
            make(out_dims, out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::image::test_images::{bright, dot};
    use super::*;

    #[test]
    fn crop_is_a_shift_within_the_padding() {
        // A dot at (3, 4) of a 8x8 image moves by (dy, dx) in [-2, 2]^2, and every shift occurs.
        let img = dot(8, 8, 3, 4, 1.0);
        let mut seen = std::collections::HashSet::new();
        for seed in 0..400 {
            let out = RandomCrop::new(8, 2)
                .apply(&img, &mut Generator::new(seed))
                .unwrap();
            assert_eq!(out.shape(), &[1, 8, 8]);
            let pos = bright(&out, 0.5);
            assert_eq!(pos.len(), 1, "{pos:?}");
            let (y, x) = pos[0];
            let (dy, dx) = (y as i64 - 3, x as i64 - 4);
            assert!(dy.abs() <= 2 && dx.abs() <= 2);
            assert_eq!(out.to_vec::<f32>().unwrap().iter().sum::<f32>(), 1.0);
            seen.insert((dy, dx));
        }
        assert_eq!(seen.len(), 25);
    }

    #[test]
    fn crop_without_padding_takes_a_window_and_padding_uses_fill() {
        // 1x3x3 image 0..9 cropped to 1x1 without padding: one of the 9 values.
        let img = Tensor::arange(0.0, 9.0, 1.0)
            .unwrap()
            .reshape(&[1, 3, 3])
            .unwrap();
        let out = RandomCrop::new(1, 0)
            .apply(&img, &mut Generator::new(3))
            .unwrap();
        assert_eq!(out.shape(), &[1, 1, 1]);
        // A 5x5 crop of a 3x3 image padded by 1 is the whole padded image, exactly.
        let out = RandomCrop::new(5, 1)
            .fill(-1.0)
            .apply(&img, &mut Generator::new(3))
            .unwrap();
        let v = out.to_vec::<f32>().unwrap();
        #[rustfmt::skip]
        let want = vec![
            -1.0, -1.0, -1.0, -1.0, -1.0,
            -1.0,  0.0,  1.0,  2.0, -1.0,
            -1.0,  3.0,  4.0,  5.0, -1.0,
            -1.0,  6.0,  7.0,  8.0, -1.0,
            -1.0, -1.0, -1.0, -1.0, -1.0,
        ];
        assert_eq!(v, want);
        assert!(RandomCrop::new(6, 1)
            .apply(&img, &mut Generator::new(0))
            .is_err());
        assert!(RandomCrop::new(1, 0)
            .apply(&Tensor::zeros(&[3, 3]), &mut Generator::new(0))
            .is_err());
    }
}
