//! Measures the data pipeline: loading MNIST, and iterating an epoch with and without
//! augmentation on 0, 1 and 2 worker threads.
//!
//! ```sh
//! cargo run --release -p strata-data --example pipeline_bench
//! ```
//!
//! Each epoch is the 60,000 training images in batches of 128, shuffled; a batch is counted
//! once it has reached the consuming thread, which does nothing else (so this is the
//! pipeline's ceiling, to compare with a model's training speed).

use std::path::PathBuf;
use std::time::Instant;
use strata_data::transforms::*;
use strata_data::{DataError, DataLoader, Dataset, Mnist, Split};

fn main() -> Result<(), DataError> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    let repeats = 5;

    let mut loads = Vec::new();
    let mut train = None;
    for _ in 0..repeats {
        let t = Instant::now();
        let m = Mnist::load(&dir, Split::Train)?;
        loads.push(t.elapsed().as_secs_f64());
        train = Some(m);
    }
    let Some(train) = train else { return Ok(()) };
    loads.sort_by(f64::total_cmp);
    println!(
        "load MNIST train (60,000 images, gzip): median {:.0} ms, min {:.0} ms over {repeats} runs",
        loads[repeats / 2] * 1e3,
        loads[0] * 1e3
    );

    per_transform(&train)?;

    println!("epoch of 60,000 samples, batch 128, shuffled (best and median of 3 epochs):");
    println!(
        "{:<14} {:>8} {:>16} {:>16}",
        "augmentation", "workers", "best samples/s", "median samples/s"
    );
    for augment in [false, true] {
        for workers in [0, 1, 2] {
            let rates = if augment {
                measure(train.clone().transform(augmentation()?), workers)?
            } else {
                measure(train.clone(), workers)?
            };
            println!(
                "{:<14} {:>8} {:>16.0} {:>16.0}",
                if augment { "on" } else { "off" },
                workers,
                rates[2],
                rates[1]
            );
        }
    }
    Ok(())
}

/// Single-thread cost of each transform on a 1x28x28 digit, in microseconds per image.
fn per_transform(train: &Mnist) -> Result<(), DataError> {
    let images: Vec<strata_core::Tensor> = (0..2000)
        .map(|i| train.get(i).map(|e| e.input))
        .collect::<Result<_, _>>()?;
    let steps: Vec<(&str, Box<dyn Transform>)> = vec![
        ("Mnist::get (u8 -> f32 tensor)", Box::new(Compose::new())),
        ("RandomCrop(28, 2)", Box::new(RandomCrop::new(28, 2))),
        (
            "RandomHorizontalFlip(0.5)",
            Box::new(RandomHorizontalFlip::new(0.5)?),
        ),
        (
            "RandomAffine(rot, trans, scale)",
            Box::new(
                RandomAffine::new()
                    .rotate(-15.0, 15.0)?
                    .translate(0.1, 0.1)?
                    .scale(0.9, 1.1)?,
            ),
        ),
        (
            "ColorJitter(0.3, 0.3)",
            Box::new(ColorJitter::new(0.3, 0.3)?),
        ),
        ("GaussianNoise(0.05)", Box::new(GaussianNoise::new(0.05)?)),
        ("RandomErasing(0.5)", Box::new(RandomErasing::new(0.5)?)),
        ("Normalize", Box::new(Normalize::new(&[0.1307], &[0.3081])?)),
        ("the whole set", Box::new(augmentation()?)),
    ];
    println!("single-thread cost per 28x28 image:");
    for (name, t) in &steps {
        let mut best = f64::INFINITY;
        for round in 0..3 {
            let start = Instant::now();
            for (i, img) in images.iter().enumerate() {
                let mut rng = strata_data::sample_generator(round, 0, i as u64);
                if name.starts_with("Mnist::get") {
                    std::hint::black_box(train.get(i)?);
                } else {
                    std::hint::black_box(t.apply(img, &mut rng)?);
                }
            }
            best = best.min(start.elapsed().as_secs_f64() / images.len() as f64);
        }
        println!("  {name:<34} {:>7.2} us", best * 1e6);
    }
    Ok(())
}

/// Samples per second of three epochs, sorted ascending.
fn measure<D: Dataset + 'static>(dataset: D, workers: usize) -> Result<Vec<f64>, DataError> {
    let n = dataset.len();
    let loader = DataLoader::new(dataset)
        .batch_size(128)
        .shuffle(0)
        .workers(workers);
    let mut rates = Vec::new();
    for epoch in 0..3 {
        let t = Instant::now();
        let mut seen = 0;
        for batch in loader.epoch(epoch) {
            seen += batch?.len();
        }
        assert_eq!(seen, n);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates)
}

/// The training augmentation of the `augment_grid` example, plus normalisation.
fn augmentation() -> Result<Compose, DataError> {
    Ok(Compose::new()
        .then(RandomCrop::new(28, 2))
        .then(
            RandomAffine::new()
                .rotate(-15.0, 15.0)?
                .translate(0.1, 0.1)?
                .scale(0.9, 1.1)?,
        )
        .then(ColorJitter::new(0.3, 0.3)?)
        .then(GaussianNoise::new(0.05)?)
        .then(RandomErasing::new(0.5)?.scale(0.02, 0.15)?)
        .then(Normalize::new(&[0.1307], &[0.3081])?))
}
