//! [`Mapped`] and [`Transformed`]: datasets that change each example of another one.

use crate::{Dataset, Example, Result, Transform};
use strata_core::Generator;

/// A dataset whose examples are those of another passed through a deterministic function
/// (made by [`Dataset::map`]).
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{Dataset, TensorDataset};
/// let ds = TensorDataset::new(Tensor::ones(&[3, 4]), Tensor::zeros(&[3]))?
///     .map(|mut ex| { ex.target = ex.target.add_scalar(1.0)?; Ok(ex) });
/// assert_eq!(ds.get(2)?.target.item()?, 1.0);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone)]
pub struct Mapped<D, F> {
    dataset: D,
    f: F,
}

impl<D, F> Mapped<D, F> {
    /// Wraps `dataset`, applying `f` to each example it returns.
    pub fn new(dataset: D, f: F) -> Self {
        Mapped { dataset, f }
    }
}

impl<D, F> Dataset for Mapped<D, F>
where
    D: Dataset,
    F: Fn(Example) -> Result<Example> + Send + Sync,
{
    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn get(&self, index: usize) -> Result<Example> {
        (self.f)(self.dataset.get(index)?)
    }

    fn get_augmented(&self, index: usize, rng: &mut Generator) -> Result<Example> {
        (self.f)(self.dataset.get_augmented(index, rng)?)
    }
}

/// A dataset whose inputs pass through a [`Transform`] (made by [`Dataset::transform`]).
///
/// In the [`DataLoader`](crate::DataLoader) the transform draws its random parameters from
/// the per-sample generator of (seed, epoch, position), on the worker threads. Outside a
/// loader, [`Dataset::get`] draws them from a generator seeded with the index, so that it
/// returns the same example every time.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_data::{Dataset, TensorDataset, transforms::{Compose, GaussianNoise}};
/// let ds = TensorDataset::new(Tensor::zeros(&[2, 1, 4, 4]), Tensor::zeros(&[2]))?
///     .transform(Compose::new().then(GaussianNoise::new(0.1)?));
/// let a = ds.get_augmented(0, &mut Generator::new(1))?.input.to_vec::<f32>()?;
/// let b = ds.get_augmented(0, &mut Generator::new(1))?.input.to_vec::<f32>()?;
/// assert_eq!(a, b);
/// assert!(a.iter().any(|&v| v != 0.0));
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone)]
pub struct Transformed<D, T> {
    dataset: D,
    transform: T,
}

impl<D, T> Transformed<D, T> {
    /// Wraps `dataset`, transforming each input with `transform`.
    pub fn new(dataset: D, transform: T) -> Self {
        Transformed { dataset, transform }
    }

    /// The wrapped dataset.
    pub fn inner(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset, T: Transform> Dataset for Transformed<D, T> {
    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn get(&self, index: usize) -> Result<Example> {
        self.get_augmented(index, &mut Generator::new(index as u64))
    }

    fn get_augmented(&self, index: usize, rng: &mut Generator) -> Result<Example> {
        let mut ex = self.dataset.get_augmented(index, rng)?;
        ex.input = self.transform.apply(&ex.input, rng)?;
        Ok(ex)
    }
}
