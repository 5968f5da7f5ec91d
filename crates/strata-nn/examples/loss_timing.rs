//! Times the fused losses, forward and forward + backward, on benchmark-sized inputs, next
//! to two core ops over the same tensor for scale:
//! `STRATA_NUM_THREADS=1 cargo run --release -p strata-nn --example loss_timing`.

use std::time::Instant;
use strata_core::{Generator, Tensor};
use strata_nn::{cross_entropy, mse_loss, CrossEntropyLoss};

/// The fastest of `reps` runs of `f` after a warm-up, in microseconds (the minimum is the
/// figure least disturbed by other work on a shared machine).
fn time(reps: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e6
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> strata_nn::Result<()> {
    println!("threads: {}", strata_core::num_threads());
    for (n, c, reps) in [
        (128, 10, 2000),
        (2048, 96, 300),
        (8192, 1000, 20),
        (512, 32000, 10),
    ] {
        let x = Tensor::randn(&[n, c]).requires_grad_();
        let target = Tensor::randint(0, c as i64, &[n])?;
        let forward = time(reps, || {
            cross_entropy(&x.detach(), &target).unwrap();
        });
        let both = time(reps, || {
            cross_entropy(&x, &target).unwrap().backward().unwrap();
        });
        let smoothed = time(reps, || {
            CrossEntropyLoss::new()
                .label_smoothing(0.1)
                .forward(&x, &target)
                .unwrap()
                .backward()
                .unwrap();
        });
        let mul = time(reps, || {
            x.detach().mul_scalar(2.0).unwrap();
        });
        let exp = time(reps, || {
            x.detach().exp().unwrap();
        });
        let ns = |us: f64| us * 1e3 / (n * c) as f64;
        println!(
            "cross_entropy [{n}, {c}] f32: forward {forward:.1} µs ({:.2} ns/elem), \
             forward+backward {both:.1} µs ({:.2} ns/elem), label-smoothed {smoothed:.1} µs; \
             core mul_scalar {mul:.1} µs, exp {exp:.1} µs",
            ns(forward),
            ns(both),
        );
    }
    let p = Tensor::randn(&[1 << 20]).requires_grad_();
    let t = Tensor::randn_with(&mut Generator::new(1), &[1 << 20], strata_core::DType::F32);
    let us = time(20, || {
        mse_loss(&p, &t).unwrap().backward().unwrap();
    });
    println!("mse_loss [2^20] f32: forward+backward {us:.1} µs");
    Ok(())
}
