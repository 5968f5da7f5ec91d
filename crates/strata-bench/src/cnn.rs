//! W2: a small CNN trained on MNIST batches of 64 with Adam (lr 1e-3).

use crate::mnist::MnistBatches;
use crate::Result;
use strata_core::Tensor;
use strata_nn::{
    cross_entropy, Adam, Conv2d, ConvOptions, Flatten, Forward, Linear, MaxPool2d, ModuleExt,
    Optimizer, ReLU, Sequential,
};

/// conv(1→32, 3x3, pad 1)-ReLU-maxpool 2 → conv(32→64, 3x3, pad 1)-ReLU-maxpool 2 →
/// flatten → linear(3136→128)-ReLU → linear(128→10).
pub fn cnn() -> Result<Sequential> {
    let pad1 = ConvOptions::new().padding(1);
    Ok(Sequential::new()
        .push(Conv2d::with_options(1, 32, 3, pad1)?)
        .push(ReLU::new())
        .push(MaxPool2d::new(2)?)
        .push(Conv2d::with_options(32, 64, 3, pad1)?)
        .push(ReLU::new())
        .push(MaxPool2d::new(2)?)
        .push(Flatten::new())
        .push(Linear::new(3136, 128)?)
        .push(ReLU::new())
        .push(Linear::new(128, 10)?))
}

/// W2's training loop: one call to [`CnnTraining::step`] is one timed step.
pub struct CnnTraining {
    model: Sequential,
    opt: Adam,
    data: MnistBatches,
    batch: usize,
}

impl CnnTraining {
    pub fn new(data: MnistBatches, batch: usize) -> Result<CnnTraining> {
        let model = cnn()?;
        let opt = Adam::new(model.parameters(), 1e-3)?;
        Ok(CnnTraining {
            model,
            opt,
            data,
            batch,
        })
    }

    /// Draws a batch and trains on it; returns the loss.
    pub fn step(&mut self) -> Result<f64> {
        let (x, y) = self.data.next(self.batch, false)?;
        self.train_on(&x, &y)
    }

    /// Forward, cross-entropy, backward and an Adam step on images `[B, 1, 28, 28]`.
    pub fn train_on(&mut self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let loss = cross_entropy(&self.model.forward(x)?, y)?;
        let grads = loss.backward()?;
        self.opt.step(&grads)?;
        Ok(loss.item()?)
    }
}
