//! The Trainer's overhead on W1 (`BENCHMARKS.md` of the shared folder): a 784-512-256-10 ReLU MLP,
//! Adam (lr 1e-3), batches of 128 MNIST images, timed as a hand-written loop (forward,
//! cross-entropy, backward, optimiser step) and as `Trainer::train_step` with everything
//! on by default: the NaN/Inf guard, loss and accuracy metrics, and the monitors at their
//! default frequency (figures every 50 steps, histograms every 500) — once without files
//! and once writing a run directory (metrics, histograms and TensorBoard events).
//!
//! Both see the same batches (built before timing). The variants alternate, each run
//! being 5 warm-up steps then 200 timed ones, 15 rounds; medians of samples/s,
//! and the overhead as the median of each round's ratio to the hand-written loop.
//! Run: `cargo run --release --example bench_trainer` (`STRATA_MONITOR_EVERY=N` sets the
//! monitors' interval).

use std::time::Instant;
use strata::prelude::*;
use strata::train::StepReport;

const BATCH: usize = 128;
const STEPS: usize = 200;
const WARMUP: usize = 5;
const ROUNDS: usize = 15;

fn model() -> Result<Sequential, Box<dyn std::error::Error>> {
    Ok(Sequential::new()
        .push(Linear::new(784, 512)?)
        .push(ReLU::new())
        .push(Linear::new(512, 256)?)
        .push(ReLU::new())
        .push(Linear::new(256, 10)?))
}

fn batches(data: &Mnist, n: usize) -> Result<Vec<Batch>, Box<dyn std::error::Error>> {
    let mut out = Vec::with_capacity(n);
    for b in 0..n {
        let mut pixels = Vec::with_capacity(BATCH * 784);
        let mut labels = Vec::with_capacity(BATCH);
        for j in 0..BATCH {
            let i = (b * BATCH + j * 7919) % data.len();
            pixels.extend(data.pixels(i)?.iter().map(|&p| p as f32 / 255.0));
            labels.push(data.labels()[i] as i64);
        }
        out.push(Batch {
            inputs: Tensor::from_vec(pixels, &[BATCH, 784])?,
            targets: Tensor::from_vec(labels, &[BATCH])?,
            indices: (0..BATCH).collect(),
        });
    }
    Ok(out)
}

fn hand_written(batches: &[Batch]) -> Result<f64, Box<dyn std::error::Error>> {
    let model = model()?;
    let mut opt = Adam::new(model.parameters(), 1e-3)?;
    let mut step = |b: &Batch| -> Result<(), Box<dyn std::error::Error>> {
        let loss = cross_entropy(&model.forward(&b.inputs)?, &b.targets)?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        Ok(())
    };
    for b in &batches[..WARMUP] {
        step(b)?;
    }
    let t = Instant::now();
    for b in &batches[WARMUP..] {
        step(b)?;
    }
    Ok((STEPS * BATCH) as f64 / t.elapsed().as_secs_f64())
}

fn with_trainer(
    batches: &[Batch],
    run_dir: Option<&std::path::Path>,
    monitors: bool,
) -> Result<f64, Box<dyn std::error::Error>> {
    let model = model()?;
    let opt = Adam::new(model.parameters(), 1e-3)?;
    let target = match run_dir {
        Some(d) => RunTarget::At(d.to_path_buf()),
        None => RunTarget::Nowhere,
    };
    let mut trainer = Trainer::new(model, opt, cross_entropy)
        .metric(Accuracy::new())
        .progress(ProgressMode::Quiet)
        .run_target(target)
        .report(false)
        .monitor(monitors.then(|| MonitorConfig {
            every_steps: monitor_every(),
            ..MonitorConfig::default()
        }));
    let mut last = StepReport {
        loss: 0.0,
        stepped: false,
        step: 0,
    };
    for b in &batches[..WARMUP] {
        last = trainer.train_step(b)?;
    }
    let t = Instant::now();
    for b in &batches[WARMUP..] {
        last = trainer.train_step(b)?;
    }
    let rate = (STEPS * BATCH) as f64 / t.elapsed().as_secs_f64();
    assert_eq!(last.step as usize, STEPS + WARMUP);
    Ok(rate)
}

/// The monitors' interval: `STRATA_MONITOR_EVERY`, default 50 (the library's default).
fn monitor_every() -> u64 {
    std::env::var("STRATA_MONITOR_EVERY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(MonitorConfig::default().every_steps)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    manual_seed(0);
    let data_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist");
    let data = Mnist::load(data_dir, Split::Train)?.flattened();
    let batches = batches(&data, STEPS + WARMUP)?;
    let dir = std::env::temp_dir().join(format!("strata-bench-trainer-{}", std::process::id()));
    let (mut hand, mut bare, mut quiet, mut logged) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        hand.push(hand_written(&batches)?);
        bare.push(with_trainer(&batches, None, false)?);
        quiet.push(with_trainer(&batches, None, true)?);
        logged.push(with_trainer(&batches, Some(&dir), true)?);
    }
    std::fs::remove_dir_all(&dir).ok();
    // Each round's variants run back to back, so the ratio within a round cancels the
    // machine's drift; the overhead is the median of the rounds' ratios.
    let h = median(&mut hand.clone());
    println!("w1 hand-written loop: samples_per_s={h:.0}");
    for (what, runs) in [
        ("trainer, monitors off (guard, metrics)", &bare),
        ("trainer (guard, metrics, monitors)", &quiet),
        ("trainer + run directory", &logged),
    ] {
        let mut ratios: Vec<f64> = hand.iter().zip(runs).map(|(h, v)| h / v - 1.0).collect();
        let v = median(&mut runs.clone());
        println!(
            "w1 {what}: samples_per_s={v:.0} overhead={:.1}% (median of {ROUNDS} paired rounds)",
            100.0 * median(&mut ratios)
        );
    }
    Ok(())
}
