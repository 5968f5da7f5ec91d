//! Times one optimiser step on W1's parameters (the 784-512-256-10 MLP of BENCHMARKS.md,
//! 535,818 values) with fixed gradients: SGD with momentum, Adam and AdamW, each as the
//! fastest and the median of 15 repeats of 200 steps, so that a change to the optimisers
//! can be compared before and after on a shared machine (alternate the two builds; the
//! fastest repeat is the least disturbed).
//!
//! Run: `cargo run --release --example bench_optimizer_step` (`STRATA_NUM_THREADS` sets
//! the kernel threads).

use std::time::Instant;
use strata::nn::{AdamW, Optimizer};
use strata::prelude::*;

const STEPS: usize = 200;
const REPEATS: usize = 15;

/// µs per step: the fastest and the median repeat.
fn time_steps(opt: &mut dyn Optimizer, grads: &Gradients) -> Result<(f64, f64), strata::nn::Error> {
    for _ in 0..20 {
        opt.step(grads)?;
    }
    let mut per_step: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..STEPS {
                opt.step(grads)?;
            }
            Ok(started.elapsed().as_secs_f64() * 1e6 / STEPS as f64)
        })
        .collect::<Result<_, strata::nn::Error>>()?;
    per_step.sort_by(f64::total_cmp);
    Ok((per_step[0], per_step[REPEATS / 2]))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    manual_seed(0);
    let shapes: [&[usize]; 6] = [&[512, 784], &[512], &[256, 512], &[256], &[10, 256], &[10]];
    let params: Vec<Param> = shapes
        .iter()
        .map(|s| Param::new(Tensor::randn(s)))
        .collect();
    let mut grads = Gradients::new();
    for (p, s) in params.iter().zip(shapes) {
        grads.insert(p, Tensor::randn(s).mul_scalar(1e-3)?);
    }
    let mut optimisers: Vec<(&str, Box<dyn Optimizer>)> = vec![
        (
            "sgd-momentum",
            Box::new(SGD::new(params.clone(), 1e-3)?.momentum(0.9)?),
        ),
        ("adam", Box::new(Adam::new(params.clone(), 1e-3)?)),
        ("adamw", Box::new(AdamW::new(params.clone(), 1e-3)?)),
    ];
    for (name, opt) in optimisers.iter_mut() {
        let (fastest, median) = time_steps(opt.as_mut(), &grads)?;
        println!("{name:<13} {fastest:8.1} µs/step fastest  {median:8.1} median");
    }
    Ok(())
}
