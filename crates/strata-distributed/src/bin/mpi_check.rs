//! The programs `tests/mpi.rs` launches with `mpirun`: `strata-mpi-check SCENARIO ARGS`.
//!
//! - `collectives`: sums, broadcast and gather of known values.
//! - `train OUT BATCH EPOCHS [RESUME]`: an MLP trained with `BATCH` examples per rank;
//!   rank 0 writes every step's parameters to `OUT/steps.txt` and a run directory (with
//!   checkpoints) under `OUT`; `RESUME` continues from a checkpoint.
//! - `fail`: rank 1's training step fails at step 3; the job must stop, naming it.
//! - `bench W1|W2 BATCH`: training throughput of BENCHMARKS.md's W1 (MLP) or W2 (CNN) with
//!   `BATCH` examples per rank on random inputs, and the share of a step spent in the
//!   all-reduce (rank 0 prints one line).

use strata_core::{Generator, Tensor};
use strata_data::{DataLoader, TensorDataset};
use strata_distributed::Mpi;
use strata_nn::{loss::cross_entropy, Linear, ModuleExt, ReLU, Sequential, SGD};
use strata_train::parallel::Collective;
use strata_train::{ProgressMode, RunTarget, StepOutput, Trainer};

fn main() {
    let mpi = match Mpi::init() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("collectives") => collectives(&mpi),
        Some("train") => train(&mpi, &args[1..]),
        Some("fail") => fail(&mpi),
        Some("bench") => bench(&mpi, &args[1..]),
        _ => Err(
            "usage: strata-mpi-check collectives | train OUT BATCH EPOCHS [RESUME] | fail".into(),
        ),
    };
    mpi.exit_on_error(result);
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

thread_local! {
    /// Seconds spent in all-reduces by this process (the trainer owns the collective, so
    /// [`Timed`] keeps its total here).
    static COMM: std::cell::Cell<f64> = const { std::cell::Cell::new(0.0) };
}

/// A collective that times its all-reduces.
struct Timed<C> {
    inner: C,
}

impl<C: Collective> Timed<C> {
    fn time<T>(&mut self, f: impl FnOnce(&mut C) -> T) -> T {
        let t = std::time::Instant::now();
        let out = f(&mut self.inner);
        COMM.with(|c| c.set(c.get() + t.elapsed().as_secs_f64()));
        out
    }
}

impl<C: Collective> Collective for Timed<C> {
    fn rank(&self) -> usize {
        self.inner.rank()
    }
    fn world(&self) -> usize {
        self.inner.world()
    }
    fn all_reduce_sum_f32(&mut self, v: &mut [f32]) -> strata_train::Result<()> {
        self.time(|c| c.all_reduce_sum_f32(v))
    }
    fn all_reduce_sum_f64(&mut self, v: &mut [f64]) -> strata_train::Result<()> {
        self.time(|c| c.all_reduce_sum_f64(v))
    }
    fn broadcast_f32(&mut self, v: &mut [f32]) -> strata_train::Result<()> {
        self.inner.broadcast_f32(v)
    }
    fn broadcast_f64(&mut self, v: &mut [f64]) -> strata_train::Result<()> {
        self.inner.broadcast_f64(v)
    }
    fn all_gather_u64(&mut self, v: u64) -> strata_train::Result<Vec<u64>> {
        self.inner.all_gather_u64(v)
    }
}

/// Times `steps` optimiser steps of `model` on random batches, after 5 warm-up steps.
fn bench(mpi: &Mpi, args: &[String]) -> Outcome {
    use strata_nn::{Conv2d, ConvOptions, Flatten, MaxPool2d};
    let [workload, batch] = args else {
        return Err("bench W1|W2 BATCH".into());
    };
    let batch: usize = batch.parse()?;
    let (m, input, steps): (Sequential, Vec<usize>, usize) = match workload.as_str() {
        "W1" => (
            Sequential::new()
                .push(Linear::new(784, 512)?)
                .push(ReLU::new())
                .push(Linear::new(512, 256)?)
                .push(ReLU::new())
                .push(Linear::new(256, 10)?),
            vec![784],
            200,
        ),
        _ => (
            Sequential::new()
                .push(Conv2d::with_options(
                    1,
                    32,
                    3,
                    ConvOptions::new().padding(1),
                )?)
                .push(ReLU::new())
                .push(MaxPool2d::new(2)?)
                .push(Conv2d::with_options(
                    32,
                    64,
                    3,
                    ConvOptions::new().padding(1),
                )?)
                .push(ReLU::new())
                .push(MaxPool2d::new(2)?)
                .push(Flatten::new())
                .push(Linear::new(3136, 128)?)
                .push(ReLU::new())
                .push(Linear::new(128, 10)?),
            vec![1, 28, 28],
            60,
        ),
    };
    let opt = strata_nn::Adam::new(m.parameters(), 1e-3);
    let group = Timed { inner: mpi.group() };
    let mut t = Trainer::new(m, opt, cross_entropy)
        .monitor(None)
        .progress(ProgressMode::Quiet)
        .run_target(RunTarget::Nowhere)
        .data_parallel(group);
    let mut shape = vec![batch];
    shape.extend(&input);
    let x = Tensor::rand(&shape);
    let y = Tensor::from_vec((0..batch as i64).map(|i| i % 10).collect(), &[batch])?;
    let b = strata_data::Batch {
        inputs: x,
        targets: y,
        indices: (0..batch).collect(),
    };
    for _ in 0..5 {
        t.train_step(&b)?;
    }
    let comm_before = COMM.with(|c| c.get());
    mpi.barrier();
    let start = std::time::Instant::now();
    for _ in 0..steps {
        t.train_step(&b)?;
    }
    mpi.barrier();
    let secs = start.elapsed().as_secs_f64();
    let comm = COMM.with(|c| c.get()) - comm_before;
    if mpi.rank() == 0 {
        println!(
            "{workload} ranks={} batch_per_rank={batch} samples_per_s={:.0} comm_share={:.3}",
            mpi.world(),
            (batch * mpi.world() * steps) as f64 / secs,
            comm / secs
        );
    }
    Ok(())
}
