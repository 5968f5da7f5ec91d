//! The [`Dataset`] trait: a length and a way to get one [`Example`] by index.

use crate::{Concat, Mapped, Result, Subset, Transform, Transformed};
use std::sync::Arc;
use strata_core::{Generator, Tensor};

/// One example: an input tensor and its target (a class index as an i64 scalar, a
/// next-character sequence, a forecast horizon, ...).
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::Example;
/// let ex = Example::new(Tensor::zeros(&[1, 28, 28]), Tensor::scalar(3i64));
/// assert_eq!(ex.input.shape(), &[1, 28, 28]);
/// assert_eq!(ex.target.item()?, 3.0);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone)]
pub struct Example {
    /// What the model sees.
    pub input: Tensor,
    /// What the model should predict.
    pub target: Tensor,
}

impl Example {
    /// Pairs an input with its target.
    pub fn new(input: Tensor, target: Tensor) -> Self {
        Example { input, target }
    }
}

impl std::fmt::Debug for Example {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Example")
            .field("input", &(self.input.dtype(), self.input.shape()))
            .field("target", &(self.target.dtype(), self.target.shape()))
            .finish()
    }
}

/// A collection of examples addressed by index, readable from several threads at once.
///
/// Implement [`Dataset::len`] and [`Dataset::get`]; datasets with random augmentation also
/// override [`Dataset::get_augmented`], which the [`DataLoader`](crate::DataLoader) calls
/// with a generator derived from (seed, epoch, position in the epoch) so that batches are
/// the same whatever the number of worker threads.
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::{Dataset, Example, Result};
///
/// /// The numbers 0..n with their squares as targets.
/// struct Squares(usize);
///
/// impl Dataset for Squares {
///     fn len(&self) -> usize { self.0 }
///     fn get(&self, index: usize) -> Result<Example> {
///         let x = index as f32;
///         Ok(Example::new(Tensor::from_vec(vec![x], &[1])?, Tensor::from_vec(vec![x * x], &[1])?))
///     }
/// }
///
/// let ds = Squares(10);
/// assert_eq!(ds.get(3)?.target.to_vec::<f32>()?, vec![9.0]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub trait Dataset: Send + Sync {
    /// The number of examples.
    fn len(&self) -> usize;

    /// The example at `index` (an error past the end), without random augmentation.
    fn get(&self, index: usize) -> Result<Example>;

    /// The example at `index` with any random augmentation drawn from `rng`. The default
    /// ignores `rng` and calls [`Dataset::get`]; wrappers pass `rng` on to what they wrap.
    fn get_augmented(&self, index: usize, rng: &mut Generator) -> Result<Example> {
        let _ = rng;
        self.get(index)
    }

    /// True when the dataset has no examples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Applies a deterministic function to every example (see [`Mapped`]).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_data::{Dataset, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::ones(&[4, 2]), Tensor::zeros_dtype(&[4], strata_core::DType::I64))?;
    /// let doubled = ds.map(|mut ex| { ex.input = ex.input.mul_scalar(2.0)?; Ok(ex) });
    /// assert_eq!(doubled.get(0)?.input.to_vec::<f32>()?, vec![2.0, 2.0]);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    fn map<F>(self, f: F) -> Mapped<Self, F>
    where
        Self: Sized,
        F: Fn(Example) -> Result<Example> + Send + Sync,
    {
        Mapped::new(self, f)
    }

    /// Applies a (possibly random) [`Transform`] to every input (see [`Transformed`]).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_data::{Dataset, TensorDataset, transforms::Normalize};
    /// let ds = TensorDataset::new(Tensor::ones(&[4, 1, 2, 2]), Tensor::zeros_dtype(&[4], strata_core::DType::I64))?;
    /// let ds = ds.transform(Normalize::new(&[0.5], &[0.25])?);
    /// assert_eq!(ds.get(0)?.input.to_vec::<f32>()?, vec![2.0; 4]);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    fn transform<T>(self, transform: T) -> Transformed<Self, T>
    where
        Self: Sized,
        T: Transform,
    {
        Transformed::new(self, transform)
    }

    /// The examples at `indices`, in that order (an error if one is out of range).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_data::{Dataset, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::arange(0.0, 5.0, 1.0)?, Tensor::arange(0.0, 5.0, 1.0)?)?;
    /// let sub = ds.subset(vec![4, 0])?;
    /// assert_eq!(sub.len(), 2);
    /// assert_eq!(sub.get(0)?.input.item()?, 4.0);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    fn subset(self, indices: Vec<usize>) -> Result<Subset<Self>>
    where
        Self: Sized,
    {
        Subset::new(Arc::new(self), indices)
    }

    /// This dataset followed by `other` (see [`Concat`]).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_data::{Dataset, TensorDataset};
    /// let a = TensorDataset::new(Tensor::zeros(&[3, 2]), Tensor::zeros(&[3]))?;
    /// let b = TensorDataset::new(Tensor::ones(&[2, 2]), Tensor::ones(&[2]))?;
    /// let both = a.concat(b);
    /// assert_eq!(both.len(), 5);
    /// assert_eq!(both.get(4)?.target.item()?, 1.0);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    fn concat(self, other: Self) -> Concat<Self>
    where
        Self: Sized,
    {
        Concat::new(vec![self, other])
    }
}

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> Result<Example> {
        (**self).get(index)
    }
    fn get_augmented(&self, index: usize, rng: &mut Generator) -> Result<Example> {
        (**self).get_augmented(index, rng)
    }
}

impl<D: Dataset + ?Sized> Dataset for Box<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> Result<Example> {
        (**self).get(index)
    }
    fn get_augmented(&self, index: usize, rng: &mut Generator) -> Result<Example> {
        (**self).get_augmented(index, rng)
    }
}

/// An error unless `index < len` (for implementations of [`Dataset::get`]).
///
/// ```
/// assert!(strata_data::check_index(3, 3).is_err());
/// assert!(strata_data::check_index(2, 3).is_ok());
/// ```
pub fn check_index(index: usize, len: usize) -> Result<()> {
    if index >= len {
        return Err(crate::DataError::Index { index, len });
    }
    Ok(())
}
