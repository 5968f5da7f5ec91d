//! End to end: the bundled MNIST through the data loader into an MLP trained with Adam. A
//! small slice of the data keeps it quick in a debug build; the assertions are what any
//! working pipeline reaches on it and a broken one (wrong labels, no learning, shuffled
//! targets) cannot.

use std::sync::Arc;
use strata::data::Subset;
use strata::prelude::*;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");

fn accuracy(model: &Sequential, loader: &DataLoader<Subset<Mnist>>) -> f64 {
    model.eval();
    let (mut correct, mut seen) = (0usize, 0usize);
    for batch in loader.epoch(0) {
        let batch = batch.unwrap();
        let logits = no_grad(|| model.forward(&batch.inputs)).unwrap();
        let predicted = logits.argmax(1, false).unwrap().to_vec::<i64>().unwrap();
        let labels = batch.targets.to_vec::<i64>().unwrap();
        correct += predicted
            .iter()
            .zip(&labels)
            .filter(|(p, l)| p == l)
            .count();
        seen += labels.len();
    }
    model.train();
    correct as f64 / seen as f64
}

/// Trains for two epochs on 10,000 images; returns (per-epoch mean losses, test accuracy).
fn train_once(workers: usize) -> (Vec<f64>, f64) {
    manual_seed(7);
    let train = Arc::new(Mnist::load(DATA, Split::Train).unwrap().flattened());
    let test = Arc::new(Mnist::load(DATA, Split::Test).unwrap().flattened());
    let train = DataLoader::new(Subset::range(train, 0..10000).unwrap())
        .batch_size(64)
        .shuffle(3)
        .workers(workers);
    let test = DataLoader::new(Subset::range(test, 0..2000).unwrap()).batch_size(500);

    let model = Sequential::new()
        .push(Linear::new(784, 128).unwrap())
        .push(ReLU::new())
        .push(Linear::new(128, 10).unwrap());
    let mut opt = Adam::new(model.parameters(), 2e-3).unwrap();
    let mut epoch_losses = Vec::new();
    for epoch in 0..2 {
        let (mut sum, mut n) = (0.0, 0);
        for batch in train.epoch(epoch) {
            let batch = batch.unwrap();
            let loss =
                cross_entropy(&model.forward(&batch.inputs).unwrap(), &batch.targets).unwrap();
            sum += loss.item().unwrap();
            n += 1;
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        epoch_losses.push(sum / n as f64);
    }
    (epoch_losses, accuracy(&model, &test))
}

#[test]
fn mlp_learns_mnist_and_training_is_reproducible_across_worker_counts() {
    let (losses, acc) = train_once(0);
    eprintln!("epoch losses {losses:?}, test accuracy {acc}");
    // Chance is 10 % and ln(10) ≈ 2.30; 10,000 images and two epochs give about 89 %.
    assert!(losses[0] < 1.0, "first-epoch loss {}", losses[0]);
    assert!(losses[1] < losses[0], "loss did not fall: {losses:?}");
    assert!(acc > 0.87, "test accuracy {acc}");

    // Same seeds, a background worker: bit-identical training.
    let (losses2, acc2) = train_once(2);
    assert_eq!(losses, losses2);
    assert_eq!(acc, acc2);
}
