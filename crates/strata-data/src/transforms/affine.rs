//! [`RandomAffine`] (rotation, translation, scale, shear) and [`RandomRotation`].
//!
//! Both map each output pixel back into the input through the inverse transform and sample
//! it bilinearly; pixels that come from outside the input take the fill value.

use super::image::{check_range, make, uniform_in, with_image, Dims};
use super::Transform;
use crate::{DataError, Result};
use strata_core::{Generator, Tensor};

/// A random affine transform about the image centre: rotation by an angle in `degrees`
/// (positive is counter-clockwise as displayed), translation by a whole number of pixels up
/// to `translate` × the image size, scaling by a factor in `scale` and an x-shear by an angle
/// in `shear` (torchvision's `RandomAffine`, with bilinear sampling).
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{RandomAffine, Transform};
/// let t = RandomAffine::new().rotate(-15.0, 15.0)?.translate(0.1, 0.1)?.scale(0.9, 1.1)?;
/// let out = t.apply(&Tensor::rand(&[1, 28, 28]), &mut Generator::new(5))?;
/// assert_eq!(out.shape(), &[1, 28, 28]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RandomAffine {
    degrees: (f64, f64),
    translate: (f64, f64),
    scale: (f64, f64),
    shear: (f64, f64),
    fill: f32,
}

impl Default for RandomAffine {
    fn default() -> Self {
        RandomAffine::new()
    }
}

impl RandomAffine {
    /// The identity; add the parts you want with the builder methods.
    pub fn new() -> Self {
        RandomAffine {
            degrees: (0.0, 0.0),
            translate: (0.0, 0.0),
            scale: (1.0, 1.0),
            shear: (0.0, 0.0),
            fill: 0.0,
        }
    }

    /// Rotation by an angle drawn uniformly from `[min, max]` degrees.
    pub fn rotate(mut self, min: f64, max: f64) -> Result<Self> {
        check_range("RandomAffine", "rotation", min, max)?;
        self.degrees = (min, max);
        Ok(self)
    }

    /// Translation by up to `fx` × width and `fy` × height pixels either way (fractions in
    /// `[0, 1]`), rounded to whole pixels.
    pub fn translate(mut self, fx: f64, fy: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&fx) || !(0.0..=1.0).contains(&fy) {
            return Err(DataError::invalid(
                "RandomAffine",
                format!("translate fractions must be in [0, 1], got ({fx}, {fy})"),
            ));
        }
        self.translate = (fx, fy);
        Ok(self)
    }

    /// Scaling by a factor drawn uniformly from `[min, max]` (both > 0).
    pub fn scale(mut self, min: f64, max: f64) -> Result<Self> {
        check_range("RandomAffine", "scale", min, max)?;
        if min <= 0.0 {
            return Err(DataError::invalid(
                "RandomAffine",
                format!("scale factors must be > 0, got ({min}, {max})"),
            ));
        }
        self.scale = (min, max);
        Ok(self)
    }

    /// An x-shear by an angle drawn uniformly from `[min, max]` degrees (inside ±90).
    pub fn shear(mut self, min: f64, max: f64) -> Result<Self> {
        check_range("RandomAffine", "shear", min, max)?;
        if min <= -90.0 || max >= 90.0 {
            return Err(DataError::invalid(
                "RandomAffine",
                format!("shear angles must be inside (-90, 90) degrees, got ({min}, {max})"),
            ));
        }
        self.shear = (min, max);
        Ok(self)
    }

    /// The value of pixels that come from outside the input (default 0).
    pub fn fill(mut self, value: f32) -> Self {
        self.fill = value;
        self
    }
}

impl Transform for RandomAffine {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        with_image(input, "RandomAffine", |d, src| {
            // Draw every parameter every time, so the generator advances the same way.
            let angle = uniform_in(rng, self.degrees.0, self.degrees.1).to_radians();
            let max_dx = self.translate.0 * d.w as f64;
            let max_dy = self.translate.1 * d.h as f64;
            let tx = uniform_in(rng, -max_dx, max_dx).round();
            let ty = uniform_in(rng, -max_dy, max_dy).round();
            let scale = uniform_in(rng, self.scale.0, self.scale.1);
            let shear = uniform_in(rng, self.shear.0, self.shear.1).to_radians();
            let params = Affine {
                angle,
                tx,
                ty,
                scale,
                shear,
            };
            make(d, warp(d, src, &params, self.fill))
        })
    }
}

/// Rotation by a random angle about the image centre (torchvision's `RandomRotation`, with
/// bilinear sampling). Positive angles turn counter-clockwise as displayed.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{RandomRotation, Transform};
/// let out = RandomRotation::new(10.0)?.apply(&Tensor::rand(&[1, 28, 28]), &mut Generator::new(1))?;
/// assert_eq!(out.shape(), &[1, 28, 28]);
/// assert!(RandomRotation::new(-1.0).is_err());
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RandomRotation {
    affine: RandomAffine,
}

impl RandomRotation {
    /// An angle drawn uniformly from `[-degrees, degrees]`.
    pub fn new(degrees: f64) -> Result<Self> {
        if degrees < 0.0 || !degrees.is_finite() {
            return Err(DataError::invalid(
                "RandomRotation",
                format!("degrees must be finite and >= 0, got {degrees}"),
            ));
        }
        RandomRotation::range(-degrees, degrees)
    }

    /// An angle drawn uniformly from `[min, max]` degrees.
    pub fn range(min: f64, max: f64) -> Result<Self> {
        Ok(RandomRotation {
            affine: RandomAffine::new().rotate(min, max)?,
        })
    }

    /// The value of the corners that come from outside the input (default 0).
    pub fn fill(mut self, value: f32) -> Self {
        self.affine = self.affine.fill(value);
        self
    }
}

impl Transform for RandomRotation {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        self.affine.apply(input, rng)
    }
}

/// One drawn affine transform (angles in radians, translation in pixels).
struct Affine {
    angle: f64,
    tx: f64,
    ty: f64,
    scale: f64,
    shear: f64,
}

/// `floor(v)` as an integer (saturating), without the libm call `f64::floor` becomes on
/// baseline x86-64.
#[inline(always)]
fn floor_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t.saturating_sub(1)
    } else {
        t
    }
}

/// Resamples every channel of `src` through the inverse of `p` about the image centre.
fn warp(d: Dims, src: &[f32], p: &Affine, fill: f32) -> Vec<f32> {
    // Forward (offsets from the centre, y down): out = s * R(angle) * Shear(shear) * in + t
    // with R = [cos sin; -sin cos] (counter-clockwise on screen) and Shear = [1 tan; 0 1].
    // Inverse: in = Shear^-1 * R^-1 * (out - t) / s.
    let (sin, cos) = p.angle.sin_cos();
    let tan = p.shear.tan();
    // R^-1 = [cos -sin; sin cos]; Shear^-1 = [1 -tan; 0 1].
    let a = (cos - tan * sin) / p.scale;
    let b = (-sin - tan * cos) / p.scale;
    let c = sin / p.scale;
    let e = cos / p.scale;
    let cx = (d.w as f64 - 1.0) / 2.0;
    let cy = (d.h as f64 - 1.0) / 2.0;
    let mut out = vec![fill; src.len()];
    let (w, h) = (d.w as i64, d.h as i64);
    let plane = d.plane();
    for y in 0..d.h {
        let dy = y as f64 - cy - p.ty;
        // Source coordinates of (x, y) are (sx0 + a x, sy0 + c x): step along the row.
        let dx0 = -cx - p.tx;
        let (mut sx, mut sy) = (cx + a * dx0 + b * dy - a, cy + c * dx0 + e * dy - c);
        for x in 0..d.w {
            sx += a;
            sy += c;
            let (x0, y0) = (floor_i64(sx), floor_i64(sy));
            if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
                continue; // all four neighbours outside: stays fill
            }
            let (fx, fy) = ((sx - x0 as f64) as f32, (sy - y0 as f64) as f32);
            let w00 = (1.0 - fy) * (1.0 - fx);
            let w01 = (1.0 - fy) * fx;
            let w10 = fy * (1.0 - fx);
            let w11 = fy * fx;
            let at = y * d.w + x;
            if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                // All four neighbours inside (most pixels).
                let i = y0 as usize * d.w + x0 as usize;
                for ch in 0..d.c {
                    let q = &src[ch * plane..(ch + 1) * plane];
                    out[ch * plane + at] =
                        w00 * q[i] + w01 * q[i + 1] + w10 * q[i + d.w] + w11 * q[i + d.w + 1];
                }
                continue;
            }
            let neighbours = [
                (y0, x0, w00),
                (y0, x0 + 1, w01),
                (y0 + 1, x0, w10),
                (y0 + 1, x0 + 1, w11),
            ];
            for ch in 0..d.c {
                let q = &src[ch * plane..(ch + 1) * plane];
                let mut v = 0.0f32;
                for &(yy, xx, wgt) in &neighbours {
                    let px = if (0..h).contains(&yy) && (0..w).contains(&xx) {
                        q[yy as usize * d.w + xx as usize]
                    } else {
                        fill
                    };
                    v += wgt * px;
                }
                out[ch * plane + at] = v;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::image::test_images::{bright, dot};
    use super::*;

    #[test]
    fn quarter_turns_move_a_dot_counter_clockwise() {
        // Centre of a 5x5 image is (2, 2); a dot above it goes left at +90, right at -90.
        let img = dot(5, 5, 1, 2, 1.0);
        let r = |deg: f64| RandomRotation::range(deg, deg).unwrap();
        let out = r(90.0).apply(&img, &mut Generator::new(0)).unwrap();
        assert_eq!(bright(&out, 0.999), vec![(2, 1)]);
        assert!((out.sum_all().unwrap().item().unwrap() - 1.0).abs() < 1e-5);
        assert_eq!(
            bright(
                &r(-90.0).apply(&img, &mut Generator::new(0)).unwrap(),
                0.999
            ),
            vec![(2, 3)]
        );
        assert_eq!(
            bright(
                &r(180.0).apply(&img, &mut Generator::new(0)).unwrap(),
                0.999
            ),
            vec![(3, 2)]
        );
        // Even sizes rotate about the centre between pixels: (0, 0) of 4x4 goes to (3, 0) at +90.
        let img = dot(4, 4, 0, 0, 1.0);
        assert_eq!(
            bright(&r(90.0).apply(&img, &mut Generator::new(0)).unwrap(), 0.999),
            vec![(3, 0)]
        );
        // Zero rotation is the identity, exactly.
        let any = Tensor::rand(&[2, 6, 7]);
        let same = r(0.0).apply(&any, &mut Generator::new(0)).unwrap();
        assert_eq!(same.to_vec::<f32>().unwrap(), any.to_vec::<f32>().unwrap());
    }

    #[test]
    fn floor_matches_f64_floor() {
        for v in [
            -2.0,
            -1.5,
            -1.0,
            -0.25,
            0.0,
            0.25,
            1.0,
            1.75,
            1e30,
            -1e30,
            f64::NAN,
        ] {
            assert_eq!(floor_i64(v), v.floor() as i64, "{v}");
        }
        // A vanishing scale sends coordinates to infinity: no overflow, all fill.
        let t = RandomAffine::new().scale(1e-300, 1e-300).unwrap().fill(0.5);
        let out = t
            .apply(&Tensor::ones(&[1, 4, 4]), &mut Generator::new(0))
            .unwrap();
        assert!(out
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|&v| v == 0.5 || v == 1.0));
    }

    #[test]
    fn small_rotation_keeps_mass_near_the_centre_and_fills_corners() {
        let img = Tensor::ones(&[1, 9, 9]);
        let out = RandomRotation::range(45.0, 45.0)
            .unwrap()
            .fill(0.0)
            .apply(&img, &mut Generator::new(0))
            .unwrap();
        let v = out.to_vec::<f32>().unwrap();
        assert_eq!(v[0], 0.0); // corner comes from outside
        assert!((v[4 * 9 + 4] - 1.0).abs() < 1e-6); // centre stays
    }

    #[test]
    fn translation_is_an_exact_whole_pixel_shift_within_bounds() {
        let img = dot(10, 10, 5, 5, 1.0);
        let t = RandomAffine::new().translate(0.2, 0.1).unwrap();
        let mut shifts = std::collections::HashSet::new();
        for seed in 0..300 {
            let out = t.apply(&img, &mut Generator::new(seed)).unwrap();
            let v = out.to_vec::<f32>().unwrap();
            let pos = bright(&out, 0.5);
            assert_eq!(pos.len(), 1);
            assert_eq!(
                v.iter().filter(|&&x| x != 0.0).count(),
                1,
                "not a whole-pixel shift"
            );
            let (dy, dx) = (pos[0].0 as i64 - 5, pos[0].1 as i64 - 5);
            assert!(dx.abs() <= 2 && dy.abs() <= 1, "({dy}, {dx})");
            shifts.insert((dy, dx));
        }
        assert_eq!(shifts.len(), 15);
    }

    #[test]
    fn scale_and_shear_move_points_as_the_matrix_says() {
        // Scale 2 about the centre (2, 2) of a 5x5 image: the input point (2, 3) lands on (2, 4).
        let img = dot(5, 5, 2, 3, 1.0);
        let t = RandomAffine::new().scale(2.0, 2.0).unwrap();
        let out = t
            .apply(&img, &mut Generator::new(0))
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!((out[2 * 5 + 4] - 1.0).abs() < 1e-6);
        // Shear 45 degrees: x' = x + y (offsets from the centre); (3, 2) -> (3, 3).
        let img = dot(5, 5, 3, 2, 1.0);
        let t = RandomAffine::new().shear(45.0, 45.0).unwrap();
        let out = t.apply(&img, &mut Generator::new(0)).unwrap();
        assert_eq!(bright(&out, 0.999), vec![(3, 3)]);
        assert!(RandomAffine::new().scale(0.0, 1.0).is_err());
        assert!(RandomAffine::new().translate(1.5, 0.0).is_err());
        assert!(RandomAffine::new().shear(-90.0, 0.0).is_err());
        assert!(RandomAffine::new().rotate(10.0, -10.0).is_err());
    }
}
