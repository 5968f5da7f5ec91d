//! Trains a 784-512-256-10 MLP on the bundled MNIST with Adam and a cosine learning-rate
//! schedule stepped per batch, through the `Trainer`: metrics (accuracy, top-5, confusion
//! matrix, precision/recall/F1), training-health monitors, a run directory with
//! `metrics.jsonl`, checkpoints, TensorBoard events and `report.html`.
//!
//! Run: `cargo run --release --example mnist_mlp` (from the repository root; the data is in
//! `data/mnist`, the run goes to `runs/mnist-mlp-<timestamp>`). Set `STRATA_EPOCHS` to
//! change the number of epochs (default 10) and `STRATA_SEED` the seed (default 0).

use strata::nn::schedule::{CosineAnnealingLR, Scheduler};
use strata::prelude::*;

const BATCH: usize = 128;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs = env_or("STRATA_EPOCHS", 10);
    let seed = env_or("STRATA_SEED", 0);
    seed_everything(seed);
    let data_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
    let train = Mnist::load(data_dir, Split::Train)?.flattened();
    let test = Mnist::load(data_dir, Split::Test)?.flattened();
    println!(
        "MNIST: {} training and {} test images",
        train.len(),
        test.len()
    );
    let train_loader = DataLoader::new(train)
        .batch_size(BATCH)
        .shuffle(seed)
        .workers(1);
    let test_loader = DataLoader::new(test).batch_size(1000);

    let model = Sequential::new()
        .push(Linear::new(784, 512)?)
        .push(ReLU::new())
        .push(Dropout::new(0.2)?)
        .push(Linear::new(512, 256)?)
        .push(ReLU::new())
        .push(Dropout::new(0.2)?)
        .push(Linear::new(256, 10)?);

    let mut opt = Adam::new(model.parameters(), 1e-3)?;
    let steps = epochs as usize * train_loader.len();
    let schedule = Scheduler::new(&mut opt, CosineAnnealingLR::new(steps, 1e-5))?;
    let mut trainer = Trainer::new(model, opt, cross_entropy)
        .metrics(classification_metrics(10))
        .schedule_per_batch(schedule)
        .image_shape(&[1, 28, 28])
        .name("mnist-mlp")
        .seed(seed)
        .hparams(serde_json::json!({
            "model": "784-512-256-10 MLP, ReLU, dropout 0.2",
            "optimizer": "adam", "lr": 1e-3, "schedule": "cosine per batch to 1e-5",
            "batch_size": BATCH, "epochs": epochs, "seed": seed,
        }));
    // The test set serves as the validation set here, as in the lesson's examples.
    let history = trainer.fit(&train_loader, Some(&test_loader), epochs)?;
    let last = history.last().ok_or("no epoch ran")?;
    println!(
        "final: test_accuracy={:.4} test_loss={:.4} epochs={} seconds={:.1}",
        last.metrics["val_accuracy"], last.metrics["val_loss"], last.epoch, last.seconds
    );
    Ok(())
}
