//! The workloads by name, and what each measures and prints.

use crate::cnn::CnnTraining;
use crate::gemm::{fma_peak_gflops, time_products};
use crate::latency::{stream_weights, BatchOne, Latencies};
use crate::lstm::{LstmProducts, LstmTraining, SEQ};
use crate::measurement::Measurement;
use crate::mlp::{MlpTraining, StepProducts};
use crate::mnist::MnistBatches;
use crate::overhead::OpChain;
use crate::timing::{peak_rss_mib, time_alternating, time_repeats, Timing, REPEATS, WARMUP};
use crate::{BenchError, Result};
use std::path::Path;

/// One workload of `../shared/BENCHMARKS.md`, or one this harness adds (W1-b16, W6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    W1,
    W1B16,
    W2,
    W3,
    W4,
    W5,
    W6,
}

impl Workload {
    /// Every workload, in the order `strata bench` runs them.
    pub const ALL: [Workload; 7] = [
        Workload::W1,
        Workload::W1B16,
        Workload::W2,
        Workload::W3,
        Workload::W4,
        Workload::W5,
        Workload::W6,
    ];

    /// The name both frameworks print.
    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1",
            Workload::W1B16 => "W1-b16",
            Workload::W2 => "W2",
            Workload::W3 => "W3",
            Workload::W4 => "W4",
            Workload::W5 => "W5",
            Workload::W6 => "W6",
        }
    }

    /// Training workloads also report their process's peak memory.
    pub fn is_training(self) -> bool {
        matches!(
            self,
            Workload::W1 | Workload::W1B16 | Workload::W2 | Workload::W3
        )
    }
}

impl std::str::FromStr for Workload {
    type Err = BenchError;

    /// ```
    /// use strata_bench::Workload;
    /// assert_eq!("w1-b16".parse::<Workload>()?, Workload::W1B16);
    /// assert!("W9".parse::<Workload>().is_err());
    /// # Ok::<(), strata_bench::BenchError>(())
    /// ```
    fn from_str(s: &str) -> Result<Workload> {
        Workload::ALL
            .into_iter()
            .find(|w| w.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| BenchError::UnknownWorkload(s.to_string()))
    }
}

/// Training steps per timed repeat, as in PyTorch's script.
const W1_STEPS: usize = 200;
const W1_B16_STEPS: usize = 500;
const W2_STEPS: usize = 100;
const W3_STEPS: usize = 50;
/// W5's calls: 200 untimed, then 2,000 timed one by one, in blocks alternating with the
/// ceiling's.
const W5_WARMUP: usize = 200;
const W5_CALLS: usize = 2_000;
const W5_BLOCKS: usize = 10;
/// W6's chains: 20 untimed, then 200 per repeat.
const W6_WARMUP: usize = 20;
const W6_CHAINS: usize = 200;

/// Runs `workload` in this process and hands each figure to `emit` as it is measured;
/// training workloads end with their process's peak resident memory (`W1-mem`, MiB) once
/// the training has warmed up, before a ceiling allocates anything, so run each in a fresh
/// process (see [`crate::child`]) for that figure to mean anything.
/// MNIST is read from `mnist_dir` (W1, W1-b16, W2 only).
pub fn run(workload: Workload, mnist_dir: &Path, emit: &mut dyn FnMut(Measurement)) -> Result<()> {
    let name = workload.name();
    // Peak memory of the training alone, where a ceiling's buffers come after it.
    let mut training_mib = None;
    match workload {
        Workload::W1 | Workload::W1B16 => {
            let (batch, steps) = match workload {
                Workload::W1 => (128, W1_STEPS),
                _ => (16, W1_B16_STEPS),
            };
            let mut t = MlpTraining::new(MnistBatches::load(mnist_dir)?, batch)?;
            training_mib = Some(warm_up_alone(|| t.step())?);
            let products = StepProducts::new(batch)?;
            // The training repeats and the ceiling's take turns: see `time_alternating`.
            let (timing, ceiling) = time_alternating(
                WARMUP,
                steps,
                REPEATS,
                |n| (0..n).try_for_each(|_| t.step().map(drop)),
                |n| (0..n).try_for_each(|_| products.run()),
            )?;
            let unit = "samples/s";
            emit(per_second(name, &timing, (batch * steps) as f64, unit));
            emit(per_second(
                &format!("{name}-gemm-ceiling"),
                &ceiling,
                (batch * steps) as f64,
                unit,
            ));
        }
        Workload::W2 => {
            let mut t = CnnTraining::new(MnistBatches::load(mnist_dir)?, 64)?;
            let timing = train_timing(W2_STEPS, || t.step())?;
            emit(per_second(
                name,
                &timing,
                (64 * W2_STEPS) as f64,
                "samples/s",
            ));
        }
        Workload::W3 => {
            let mut t = LstmTraining::new(32)?;
            training_mib = Some(warm_up_alone(|| t.step())?);
            let mut products = LstmProducts::new(32)?;
            let (timing, ceiling) = time_alternating(
                WARMUP,
                W3_STEPS,
                REPEATS,
                |n| (0..n).try_for_each(|_| t.step().map(drop)),
                |n| (0..n).try_for_each(|_| products.run()),
            )?;
            let tokens = (32 * SEQ * W3_STEPS) as f64;
            emit(per_second(name, &timing, tokens, "tokens/s"));
            emit(per_second("W3-gemm-ceiling", &ceiling, tokens, "tokens/s"));
        }
        Workload::W4 => {
            for (n, count) in [(1024usize, 20usize), (256, 400)] {
                let timing = time_products(n, count, REPEATS)?;
                let flops = 2.0 * (n * n * n * count) as f64 / 1e9;
                emit(per_second(&format!("W4-{n}"), &timing, flops, "GFLOP/s"));
            }
            if let Some(rates) = fma_peak_gflops(REPEATS) {
                emit(Measurement::median_of("W4-fma-ceiling", rates, "GFLOP/s"));
            }
        }
        Workload::W5 => {
            let net = BatchOne::new()?;
            let weights = net.weights()?;
            net.time(W5_WARMUP, 0)?;
            stream_weights(&weights, W5_WARMUP, 0);
            // The calls and the ceiling's take turns in blocks, so both see the same state
            // of the machine.
            let (mut calls, mut ceiling) = (Latencies(Vec::new()), Latencies(Vec::new()));
            let (mut wall, mut cpu) = (0.0, 0.0);
            for _ in 0..W5_BLOCKS {
                let (w0, c0) = (std::time::Instant::now(), crate::timing::cpu_seconds());
                calls.0.extend(net.time(0, W5_CALLS / W5_BLOCKS)?.0);
                cpu += crate::timing::cpu_seconds() - c0;
                wall += w0.elapsed().as_secs_f64();
                ceiling
                    .0
                    .extend(stream_weights(&weights, 0, W5_CALLS / W5_BLOCKS).0);
            }
            emit(latency("W5", &calls).with_cpu_util(cpu / wall));
            emit(latency("W5-stream-ceiling", &ceiling));
        }
        Workload::W6 => {
            let chain = OpChain::new();
            chain.time(W6_WARMUP)?;
            let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
            for _ in 0..REPEATS {
                let (f, b) = chain.time(W6_CHAINS)?;
                fwd.push(f);
                bwd.push(b);
            }
            emit(Measurement::median_of("W6-fwd", fwd, "ns/op"));
            emit(Measurement::median_of("W6-bwd", bwd, "ns/op"));
        }
    }
    if workload.is_training() {
        emit(Measurement::new(
            format!("{name}-mem"),
            training_mib.unwrap_or_else(peak_rss_mib),
            "MiB",
        ));
    }
    Ok(())
}

/// `WARMUP` training steps before anything else is allocated, and the process's peak
/// memory after them: every buffer a step needs exists after its first steps, and a
/// products-alone ceiling allocated next must not count as the training's memory.
fn warm_up_alone(mut step: impl FnMut() -> Result<f64>) -> Result<f64> {
    (0..WARMUP).try_for_each(|_| step().map(drop))?;
    Ok(peak_rss_mib())
}

/// `WARMUP` training steps, then `REPEATS` timed runs of `steps` steps.
fn train_timing(steps: usize, mut step: impl FnMut() -> Result<f64>) -> Result<Timing> {
    time_repeats(WARMUP, steps, REPEATS, |n| {
        (0..n).try_for_each(|_| step().map(drop))
    })
}

/// A rate: `units` per repeat over each repeat's seconds.
fn per_second(name: &str, t: &Timing, units: f64, unit: &str) -> Measurement {
    let rates = t.seconds.iter().map(|s| units / s).collect();
    Measurement::median_of(name, rates, unit).with_cpu_util(t.cpu_util)
}

/// A latency figure as PyTorch's script prints W5: the median call, with p10 and p90.
fn latency(name: &str, calls: &Latencies) -> Measurement {
    let round = |v: f64| (v * 100.0).round() / 100.0;
    Measurement::new(name, calls.percentile(50.0), "us/call")
        .with_extra("p10", round(calls.percentile(10.0)))
        .with_extra("p90", round(calls.percentile(90.0)))
}
