//! A training loop written by hand that still gets the Trainer's metrics, monitors, logs
//! and report: `train_step` per batch, `end_epoch` per epoch, `finish` at the end.
//!
//! The network is the lesson's warning example, a 12-layer sigmoid MLP: its first layers
//! barely learn, and the monitors say so (a vanishing-gradient warning naming the layers
//! and their gradient norms, saturated units). Trains on 12,000 MNIST images.
//!
//! Run: `cargo run --release --example train_loop` (from the repository root). Set
//! `STRATA_EPOCHS` to change the number of epochs (default 2).

use std::sync::Arc;
use strata::data::Subset;
use strata::nn::Sigmoid;
use strata::prelude::*;
use strata::train::{metrics::Accuracy, Batches};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: u64 = std::env::var("STRATA_EPOCHS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    seed_everything(0);
    let data_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
    let train = Arc::new(Mnist::load(data_dir, Split::Train)?.flattened());
    let test = Arc::new(Mnist::load(data_dir, Split::Test)?.flattened());
    let train = DataLoader::new(Subset::range(train, 0..12_000)?)
        .batch_size(64)
        .shuffle(0);
    let test = DataLoader::new(Subset::range(test, 0..2_000)?).batch_size(500);

    let mut model = Sequential::new()
        .push(Linear::new(784, 128)?)
        .push(Sigmoid::new());
    for _ in 0..10 {
        model = model.push(Linear::new(128, 128)?).push(Sigmoid::new());
    }
    let model = model.push(Linear::new(128, 10)?);
    let opt = SGD::new(model.parameters(), 0.1)?.momentum(0.9)?;
    let mut trainer = Trainer::new(model, opt, cross_entropy)
        .metric(Accuracy::new())
        .name("deep-sigmoid")
        .monitor(Some(MonitorConfig::default()));

    for epoch in 0..epochs {
        trainer.begin_epoch(Some(train.num_batches()))?;
        for batch in train.epoch(epoch) {
            let report = trainer.train_step(&batch?)?;
            // Anything a hand-written loop wants to do between steps goes here.
            if report.step % 100 == 0 {
                println!("step {}: loss {:.4}", report.step, report.loss);
            }
        }
        trainer.end_epoch(Some(&test))?;
    }
    trainer.finish()?;
    let warnings = trainer.warnings();
    let vanishing = warnings
        .iter()
        .filter(|w| w.kind == strata::train::records::WarningKind::VanishingGradients)
        .count();
    println!(
        "{} health warning(s), {vanishing} about vanishing gradients (all in the report)",
        warnings.len()
    );
    Ok(())
}
