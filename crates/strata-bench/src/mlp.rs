//! W1: the 784-512-256-10 ReLU MLP trained on MNIST with Adam (lr 1e-3), and the ceiling
//! its matrix products set: the same step with nothing but its eight products.

use crate::mnist::MnistBatches;
use crate::Result;
use strata_core::{no_grad, Tensor};
use strata_nn::{cross_entropy, Adam, Forward, Linear, ModuleExt, Optimizer, ReLU, Sequential};

/// Layer widths of W1's network (also W5's).
pub const WIDTHS: [usize; 4] = [784, 512, 256, 10];

/// W1's network, initialised like PyTorch's `nn.Linear`.
pub fn mlp() -> Result<Sequential> {
    Ok(Sequential::new()
        .push(Linear::new(WIDTHS[0], WIDTHS[1])?)
        .push(ReLU::new())
        .push(Linear::new(WIDTHS[1], WIDTHS[2])?)
        .push(ReLU::new())
        .push(Linear::new(WIDTHS[2], WIDTHS[3])?))
}

/// W1's training loop: one call to [`MlpTraining::step`] is one timed step.
pub struct MlpTraining {
    model: Sequential,
    opt: Adam,
    data: MnistBatches,
    batch: usize,
}

impl MlpTraining {
    pub fn new(data: MnistBatches, batch: usize) -> Result<MlpTraining> {
        let model = mlp()?;
        let opt = Adam::new(model.parameters(), 1e-3)?;
        Ok(MlpTraining {
            model,
            opt,
            data,
            batch,
        })
    }

    /// Draws a batch and trains on it; returns the loss.
    pub fn step(&mut self) -> Result<f64> {
        let (x, y) = self.data.next(self.batch, true)?;
        self.train_on(&x, &y)
    }

    /// Forward, cross-entropy, backward and an Adam step on one batch; returns the loss.
    pub fn train_on(&mut self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let loss = cross_entropy(&self.model.forward(x)?, y)?;
        let grads = loss.backward()?;
        self.opt.step(&grads)?;
        Ok(loss.item()?)
    }
}

/// The matrix products of one W1 training step at `batch` rows, in the orientations
/// `Linear` and its backward use: three forward, five backward (no gradient for the input).
pub struct StepProducts {
    pairs: Vec<(Tensor, Tensor)>,
}

impl StepProducts {
    pub fn new(batch: usize) -> Result<StepProducts> {
        let mut pairs = Vec::new();
        for l in 0..3 {
            let (i, o) = (WIDTHS[l], WIDTHS[l + 1]);
            let (x, w, dy) = (
                Tensor::rand(&[batch, i]),
                Tensor::rand(&[o, i]),
                Tensor::rand(&[batch, o]),
            );
            pairs.push((x.clone(), w.t()?)); // y = x·Wᵀ
            pairs.push((dy.t()?, x)); // dW = dyᵀ·x
            if l > 0 {
                pairs.push((dy, w)); // dx = dy·W
            }
        }
        Ok(StepProducts { pairs })
    }

    /// How many products one step makes.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Runs every product once, without recording a graph.
    pub fn run(&self) -> Result<()> {
        no_grad(|| {
            for (a, b) in &self.pairs {
                std::hint::black_box(a.matmul(b)?);
            }
            Ok(())
        })
    }
}
