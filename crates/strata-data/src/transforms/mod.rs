//! Data augmentation: composable, seeded transforms on image tensors `[C, H, W]` (f32).
//!
//! Every transform draws its random parameters from the generator it is given, so the same
//! generator state gives the same output. In a [`DataLoader`](crate::DataLoader) that
//! generator is derived from (seed, epoch, position in the epoch) and the transforms run on
//! the worker threads.
//!
//! Photometric transforms ([`ColorJitter`], [`GaussianNoise`]) expect values in `[0, 1]`
//! and clip to it, so put [`Normalize`] last.
//!
//! ```
//! use strata_core::{Generator, Tensor};
//! use strata_data::transforms::*;
//! let augment = Compose::new()
//!     .then(RandomCrop::new(28, 2))
//!     .then(RandomRotation::new(10.0)?)
//!     .then(ColorJitter::new(0.2, 0.2)?)
//!     .then(Normalize::new(&[0.1307], &[0.3081])?);
//! let digit = Tensor::rand(&[1, 28, 28]);
//! let out = augment.apply(&digit, &mut Generator::new(0))?;
//! assert_eq!(out.shape(), &[1, 28, 28]);
//! # Ok::<(), strata_data::DataError>(())
//! ```

mod affine;
mod color;
mod crop;
mod erasing;
mod flip;
mod image;
mod noise;
mod normalize;

pub use affine::{RandomAffine, RandomRotation};
pub use color::ColorJitter;
pub use crop::RandomCrop;
pub use erasing::RandomErasing;
pub use flip::{RandomHorizontalFlip, RandomVerticalFlip};
pub use noise::GaussianNoise;
pub use normalize::{Flatten, Normalize};

use crate::Result;
use std::sync::Arc;
use strata_core::{Generator, Tensor};

/// A function from one input tensor to another that may draw random numbers.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{RandomHorizontalFlip, Transform};
/// let img = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[1, 1, 3])?;
/// let flipped = RandomHorizontalFlip::new(1.0)?.apply(&img, &mut Generator::new(0))?;
/// assert_eq!(flipped.to_vec::<f32>()?, vec![3.0, 2.0, 1.0]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub trait Transform: Send + Sync {
    /// Transforms `input`, drawing any random parameters from `rng`.
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor>;
}

impl<T: Transform + ?Sized> Transform for Box<T> {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        (**self).apply(input, rng)
    }
}

impl<T: Transform + ?Sized> Transform for Arc<T> {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        (**self).apply(input, rng)
    }
}

/// Transforms applied one after another.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{Compose, Flatten, Normalize, Transform};
/// let t = Compose::new().then(Normalize::new(&[1.0], &[2.0])?).then(Flatten);
/// let out = t.apply(&Tensor::ones(&[1, 2, 2]), &mut Generator::new(0))?;
/// assert_eq!(out.shape(), &[4]);
/// assert_eq!(out.to_vec::<f32>()?, vec![0.0; 4]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Default)]
pub struct Compose {
    steps: Vec<Box<dyn Transform>>,
}

impl Compose {
    /// An empty composition (the identity).
    pub fn new() -> Self {
        Compose::default()
    }

    /// Appends `step`, which runs after the ones already added.
    pub fn then(mut self, step: impl Transform + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }

    /// The number of steps.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True when there are no steps.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl Transform for Compose {
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        let mut x = input.clone();
        for step in &self.steps {
            x = step.apply(&x, rng)?;
        }
        Ok(x)
    }
}

/// A transform made from a closure.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::transforms::{FromFn, Transform};
/// let invert = FromFn::new(|x: &Tensor, _rng: &mut Generator| Ok(x.neg()?.add_scalar(1.0)?));
/// let out = invert.apply(&Tensor::zeros(&[1, 1, 2]), &mut Generator::new(0))?;
/// assert_eq!(out.to_vec::<f32>()?, vec![1.0, 1.0]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub struct FromFn<F>(F);

impl<F> FromFn<F>
where
    F: Fn(&Tensor, &mut Generator) -> Result<Tensor> + Send + Sync,
{
    /// Wraps `f`.
    pub fn new(f: F) -> Self {
        FromFn(f)
    }
}

impl<F> Transform for FromFn<F>
where
    F: Fn(&Tensor, &mut Generator) -> Result<Tensor> + Send + Sync,
{
    fn apply(&self, input: &Tensor, rng: &mut Generator) -> Result<Tensor> {
        (self.0)(input, rng)
    }
}
