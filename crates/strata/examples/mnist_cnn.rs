//! Trains a LeNet-style CNN on the bundled MNIST with Adam and a cosine learning-rate
//! schedule: two blocks of 3x3 convolution, ReLU and 2x2 max pooling (32 and 64 channels),
//! then a 3136-128-10 classifier with dropout. Inputs are standardised with the MNIST mean
//! and standard deviation. Reaches about 99% test accuracy in 4 epochs.
//!
//! Run: `cargo run --release --example mnist_cnn` (from the repository root; the data is in
//! `data/mnist`). Set `STRATA_EPOCHS` to change the number of epochs (default 4).

use std::time::Instant;
use strata::nn::schedule::{CosineAnnealingLR, LrScheduler, Scheduler};
use strata::nn::{Conv2d, ConvOptions, Flatten, MaxPool2d};
use strata::prelude::*;

const BATCH: usize = 64;

/// Standardises pixels in [0, 1] with the training set's mean and standard deviation.
fn standardise(images: &Tensor) -> strata::core::Result<Tensor> {
    images.sub_scalar(0.1307)?.mul_scalar(1.0 / 0.3081)
}

/// Mean loss and accuracy of `model` over a loader, without recording a graph.
fn evaluate(
    model: &Sequential,
    loader: &DataLoader<Mnist>,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    model.eval();
    let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
    for batch in loader.epoch(0) {
        let batch = batch?;
        let inputs = standardise(&batch.inputs)?;
        let logits = no_grad(|| model.forward(&inputs))?;
        let n = batch.targets.numel();
        loss_sum += cross_entropy(&logits, &batch.targets)?.item()? * n as f64;
        let predicted = logits.argmax(1, false)?.to_vec::<i64>()?;
        let labels = batch.targets.to_vec::<i64>()?;
        correct += predicted
            .iter()
            .zip(&labels)
            .filter(|(p, l)| p == l)
            .count();
        seen += n;
    }
    model.train();
    Ok((loss_sum / seen as f64, correct as f64 / seen as f64))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: u64 = std::env::var("STRATA_EPOCHS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    manual_seed(0);
    let started = Instant::now();
    let data_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
    let train = Mnist::load(data_dir, Split::Train)?;
    let test = Mnist::load(data_dir, Split::Test)?;
    println!(
        "MNIST: {} training and {} test images",
        train.len(),
        test.len()
    );
    let train_loader = DataLoader::new(train)
        .batch_size(BATCH)
        .shuffle(0)
        .workers(1);
    let test_loader = DataLoader::new(test).batch_size(1000);

    let pad1 = ConvOptions::new().padding(1);
    let model = Sequential::new()
        .push(Conv2d::with_options(1, 32, 3, pad1)?)
        .push(ReLU::new())
        .push(MaxPool2d::new(2)?)
        .push(Conv2d::with_options(32, 64, 3, pad1)?)
        .push(ReLU::new())
        .push(MaxPool2d::new(2)?)
        .push(Flatten::new())
        .push(Linear::new(3136, 128)?)
        .push(ReLU::new())
        .push(Dropout::new(0.2)?)
        .push(Linear::new(128, 10)?);
    println!("{}", strata::nn::summary(&model, &[1, 1, 28, 28])?);

    let mut opt = Adam::new(model.parameters(), 1e-3);
    let steps_per_epoch = train_loader.len();
    let mut schedule = Scheduler::new(
        &mut opt,
        CosineAnnealingLR::new(epochs as usize * steps_per_epoch, 1e-5),
    )?;

    let (mut test_loss, mut test_acc) = (f64::NAN, f64::NAN);
    for epoch in 0..epochs {
        let (mut loss_sum, mut batches) = (0.0, 0usize);
        for batch in train_loader.epoch(epoch) {
            let batch = batch?;
            let loss = cross_entropy(
                &model.forward(&standardise(&batch.inputs)?)?,
                &batch.targets,
            )?;
            loss_sum += loss.item()?;
            batches += 1;
            let grads = loss.backward()?;
            opt.step(&grads)?;
            schedule.step();
            schedule.apply(&mut opt)?;
        }
        (test_loss, test_acc) = evaluate(&model, &test_loader)?;
        println!(
            "epoch {}/{epochs}: train_loss={:.4} test_loss={test_loss:.4} test_accuracy={test_acc:.4} lr={:.2e} elapsed={:.1}s",
            epoch + 1,
            loss_sum / batches as f64,
            opt.lr(),
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "final: test_accuracy={test_acc:.4} test_loss={test_loss:.4} epochs={epochs} seconds={:.1}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
