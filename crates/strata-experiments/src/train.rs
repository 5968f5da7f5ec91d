//! The small training loops the experiments share: a mini-batch epoch of classification,
//! evaluation, and the norms and fractions they report.

use crate::data::{batches, Set};
use crate::Result;
use strata_core::{no_grad, Generator, Gradients, Tensor};
use strata_nn::{cross_entropy, Forward, ModuleExt, Optimizer};

/// Loss and accuracy of a classifier on a whole set, in evaluation mode.
pub fn evaluate<M: Forward + ModuleExt>(model: &M, set: &Set) -> Result<(f64, f64)> {
    model.eval();
    let result = no_grad(|| -> Result<(f64, f64)> {
        let logits = model.forward(&set.x)?;
        let loss = cross_entropy(&logits, &set.y)?.item()?;
        Ok((loss, accuracy(&logits, &set.y)?))
    });
    model.train();
    result
}

/// The fraction of rows whose largest logit is the target class.
pub fn accuracy(logits: &Tensor, y: &Tensor) -> Result<f64> {
    let predicted = logits.argmax(1, false)?.to_vec::<i64>()?;
    let target = y.to_vec::<i64>()?;
    let right = predicted
        .iter()
        .zip(&target)
        .filter(|(p, t)| p == t)
        .count();
    Ok(right as f64 / target.len().max(1) as f64)
}

/// One epoch of mini-batch training with cross-entropy; `after_step` sees each step's
/// index, loss and gradients once the update is applied. Returns each step's loss.
pub fn epoch<M, F>(
    model: &M,
    opt: &mut dyn Optimizer,
    set: &Set,
    batch: usize,
    rng: &mut Generator,
    mut after_step: F,
) -> Result<Vec<f64>>
where
    M: Forward + ModuleExt,
    F: FnMut(usize, f64, &Gradients) -> Result<()>,
{
    let mut losses = Vec::new();
    for (i, rows) in batches(set.len(), batch, rng).iter().enumerate() {
        let b = set.rows(rows)?;
        let loss = cross_entropy(&model.forward(&b.x)?, &b.y)?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        let value = loss.item()?;
        losses.push(value);
        after_step(i, value, &grads)?;
    }
    Ok(losses)
}

/// The Euclidean (Frobenius) norm of a tensor.
pub fn norm(t: &Tensor) -> Result<f64> {
    Ok(t.square()?.sum_all()?.item()?.sqrt())
}

/// The standard deviation of all values of a tensor.
pub fn std_all(t: &Tensor) -> Result<f64> {
    Ok(t.std_all(0)?.item()?)
}

/// The fraction of units (columns of `[N, units]`) that are never positive on any row:
/// a ReLU unit like this outputs 0 for every example and gets no gradient.
pub fn never_positive_fraction(pre: &Tensor) -> Result<f64> {
    let (max, _) = pre.max(0, false)?;
    let max = max.to_vec_f64();
    let dead = max.iter().filter(|&&m| m <= 0.0).count();
    Ok(dead as f64 / max.len().max(1) as f64)
}
