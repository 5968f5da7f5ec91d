//! Benchmark W2 (`BENCHMARKS.md` of the shared folder, mirrored by `bench/w2_cnn.py`): training
//! throughput of a small CNN on MNIST batches of 64 with Adam (lr 1e-3).
//!
//! conv(1→32, 3x3, pad 1)-ReLU-maxpool 2 → conv(32→64, 3x3, pad 1)-ReLU-maxpool 2 → flatten
//! → linear(3136→128)-ReLU → linear(128→10).
//!
//! Like the PyTorch script: 5 warm-up steps, then the median over 3 runs of 100 steps of
//! `samples / seconds`, the batch assembly (random images scaled to [0, 1]) included.
//! Run: `cargo run --release --example bench_w2`; prints `w2: samples_per_s=...`.

use std::time::Instant;
use strata::nn::{Conv2d, ConvOptions, Flatten, MaxPool2d};
use strata::prelude::*;

const BATCH: usize = 64;
const STEPS: usize = 100;

/// A tiny xorshift generator for the batch indices (the benchmark measures the model, not
/// the sampler).
struct Indices(u64);

impl Indices {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// A random batch of `BATCH` images `[B, 1, 28, 28]` in [0, 1] and their labels.
fn batch(data: &Mnist, rng: &mut Indices) -> Result<(Tensor, Tensor), Box<dyn std::error::Error>> {
    let mut pixels = Vec::with_capacity(BATCH * 784);
    let mut labels = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let i = rng.next(data.len());
        pixels.extend(data.pixels(i)?.iter().map(|&p| p as f32 / 255.0));
        labels.push(data.labels()[i] as i64);
    }
    Ok((
        Tensor::from_vec(pixels, &[BATCH, 1, 28, 28])?,
        Tensor::from_vec(labels, &[BATCH])?,
    ))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    manual_seed(0);
    let data_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
    let train = Mnist::load(data_dir, Split::Train)?;
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
        .push(Linear::new(128, 10)?);
    let mut opt = Adam::new(model.parameters(), 1e-3)?;
    let mut rng = Indices(0x9E37_79B9_7F4A_7C15);
    let mut run = |steps: usize| -> Result<f64, Box<dyn std::error::Error>> {
        let started = Instant::now();
        for _ in 0..steps {
            let (x, y) = batch(&train, &mut rng)?;
            let loss = cross_entropy(&model.forward(&x)?, &y)?;
            let grads = loss.backward()?;
            opt.step(&grads)?;
        }
        Ok(started.elapsed().as_secs_f64())
    };
    run(5)?;
    let mut rates = Vec::new();
    for _ in 0..3 {
        rates.push((BATCH * STEPS) as f64 / run(STEPS)?);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!("w2: samples_per_s={:.1}", rates[1]);
    Ok(())
}
