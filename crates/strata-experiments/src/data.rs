//! The experiments' data: MNIST from the repository's `data/mnist`, standardised and
//! flattened, held as whole tensors (the experiments pick their own batches).

use crate::Result;
use std::path::Path;
use strata_core::{Generator, Tensor};
use strata_data::{Mnist, Split};

/// MNIST's pixel mean and standard deviation over the training set: inputs are
/// standardised so that initialisation schemes see unit-variance inputs, as they assume.
const MEAN: f64 = 0.1307;
const STD: f64 = 0.3081;

/// Inputs `[N, features]` (f32) and targets `[N]` (i64 classes, or f32 values).
#[derive(Clone, Debug)]
pub struct Set {
    pub x: Tensor,
    pub y: Tensor,
}

impl Set {
    pub fn len(&self) -> usize {
        self.x.shape()[0]
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The examples at `rows`, in that order.
    pub fn rows(&self, rows: &[usize]) -> Result<Set> {
        let idx = Tensor::from_vec(rows.iter().map(|&r| r as i64).collect(), &[rows.len()])?;
        Ok(Set {
            x: self.x.index_select(0, &idx)?,
            y: self.y.index_select(0, &idx)?,
        })
    }

    /// The first `n` examples (all of them when there are fewer).
    pub fn head(&self, n: usize) -> Result<Set> {
        let n = n.min(self.len());
        Ok(Set {
            x: self.x.narrow(0, 0, n)?.contiguous(),
            y: self.y.narrow(0, 0, n)?.contiguous(),
        })
    }
}

/// The first `train` training and `test` test images of MNIST, flattened to 784 features
/// and standardised.
pub fn mnist(dir: &Path, train: usize, test: usize) -> Result<(Set, Set)> {
    Ok((
        load(dir, Split::Train, train)?,
        load(dir, Split::Test, test)?,
    ))
}

fn load(dir: &Path, split: Split, n: usize) -> Result<Set> {
    let (x, y) = Mnist::load(dir, split)?.to_tensors()?;
    let n = n.min(y.shape()[0]);
    let x = x
        .narrow(0, 0, n)?
        .reshape(&[n, 784])?
        .sub_scalar(MEAN)?
        .div_scalar(STD)?;
    Ok(Set {
        x,
        y: y.narrow(0, 0, n)?.contiguous(),
    })
}

/// One epoch's mini-batches: a seeded permutation of `0..n` cut into batches of `size`
/// (the last one may be smaller).
pub fn batches(n: usize, size: usize, rng: &mut Generator) -> Vec<Vec<usize>> {
    rng.permutation(n)
        .chunks(size.max(1))
        .map(|c| c.to_vec())
        .collect()
}
