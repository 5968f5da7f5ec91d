//! The programs `tests/mpi.rs` launches with `mpirun`: `strata-mpi-check SCENARIO ARGS`.
//!
//! - `collectives`: sums, broadcast and gather of known values.
//! - `train OUT BATCH EPOCHS [RESUME]`: an MLP trained with `BATCH` examples per rank;
//!   rank 0 writes every step's parameters to `OUT/steps.txt` and a run directory (with
//!   checkpoints) under `OUT`; `RESUME` continues from a checkpoint.
//! - `train-bn OUT BATCH sync|local`: as `train` (one epoch, no resume) with a BatchNorm
//!   layer in the MLP, its statistics synchronised across ranks or each rank's own.
//! - `fail`: rank 1's training step fails at step 3; the job must stop, naming it.
//! - `bench W1|W2 BATCH [after]`: training throughput of BENCHMARKS.md's W1 (MLP) or W2
//!   (CNN) with `BATCH` examples per rank on random inputs, and the share of a step spent
//!   in the all-reduce (rank 0 prints one line); `after` all-reduces the gradients after
//!   the backward pass instead of during it.

use strata_core::{Generator, Tensor};
use strata_data::{DataLoader, TensorDataset};
use strata_distributed::Mpi;
use strata_nn::{loss::cross_entropy, BatchNorm1d, Linear, ModuleExt, ReLU, Sequential, SGD};
use strata_train::parallel::{Collective, InFlight};
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
        Some("train-bn") => train_bn(&mpi, &args[1..]),
        Some("fail") => fail(&mpi),
        Some("bench") => bench(&mpi, &args[1..]),
        _ => Err(
            "usage: strata-mpi-check collectives | train OUT BATCH EPOCHS [RESUME] \
             | train-bn OUT BATCH sync|local | fail"
                .into(),
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
    fn start_all_reduce_sum_f32(&mut self, v: Vec<f32>) -> strata_train::Result<Box<dyn InFlight>> {
        let inner = self.time(|c| c.start_all_reduce_sum_f32(v))?;
        Ok(Box::new(TimedFlight(inner)))
    }
}

/// A reduction under way whose polls and wait count as communication time.
struct TimedFlight(Box<dyn InFlight>);

impl InFlight for TimedFlight {
    fn poll(&mut self) -> strata_train::Result<bool> {
        let t = std::time::Instant::now();
        let done = self.0.poll();
        COMM.with(|c| c.set(c.get() + t.elapsed().as_secs_f64()));
        done
    }
    fn wait(self: Box<Self>) -> strata_train::Result<Vec<f32>> {
        let t = std::time::Instant::now();
        let sum = self.0.wait();
        COMM.with(|c| c.set(c.get() + t.elapsed().as_secs_f64()));
        sum
    }
}

/// Times `steps` optimiser steps of `model` on random batches, after 5 warm-up steps.
fn bench(mpi: &Mpi, args: &[String]) -> Outcome {
    use strata_nn::{Conv2d, ConvOptions, Flatten, MaxPool2d};
    let (workload, batch, overlap) = match args {
        [w, b] => (w, b, true),
        [w, b, when] if when == "after" => (w, b, false),
        _ => return Err("bench W1|W2 BATCH [after]".into()),
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
    let opt = strata_nn::Adam::new(m.parameters(), 1e-3)?;
    let group = Timed { inner: mpi.group() };
    let mut t = Trainer::new(m, opt, cross_entropy)
        .monitor(None)
        .progress(ProgressMode::Quiet)
        .run_target(RunTarget::Nowhere)
        .data_parallel(group)
        .overlap_communication(overlap);
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
            "{workload} ranks={} batch_per_rank={batch} overlap={overlap} samples_per_s={:.0} \
             comm_share={:.3}",
            mpi.world(),
            (batch * mpi.world() * steps) as f64 / secs,
            comm / secs
        );
    }
    Ok(())
}

fn collectives(mpi: &Mpi) -> Outcome {
    let mut g = mpi.group();
    let (r, n) = (g.rank(), g.world());
    let mut v = vec![(r + 1) as f32; 7];
    g.all_reduce_sum_f32(&mut v)?;
    let want = (n * (n + 1) / 2) as f32;
    assert!(v.iter().all(|&x| x == want), "sum {v:?}, want {want}");
    let mut d = vec![r as f64 + 0.5; 3];
    g.broadcast_f64(&mut d)?;
    assert_eq!(d, vec![0.5; 3]);
    // Two non-blocking reductions in flight at once, of odd lengths, finished in order.
    let a = g.start_all_reduce_sum_f32(vec![(r + 1) as f32; 1_000_003])?;
    let mut b = g.start_all_reduce_sum_f32((0..5).map(|i| (i * (r + 1)) as f32).collect())?;
    while !b.poll()? {}
    let (a, b) = (a.wait()?, b.wait()?);
    assert!(
        a.len() == 1_000_003 && a.iter().all(|&x| x == want),
        "non-blocking sum"
    );
    assert_eq!(b, (0..5).map(|i| i as f32 * want).collect::<Vec<_>>());
    let ranks = g.all_gather_u64(r as u64 * 10)?;
    assert_eq!(ranks, (0..n as u64).map(|k| k * 10).collect::<Vec<_>>());
    if r == 0 {
        println!("collectives ok on {n} ranks");
    }
    Ok(())
}

/// 96 points in 8 dimensions, labelled by a fixed linear rule.
fn data() -> Result<TensorDataset, Box<dyn std::error::Error>> {
    let mut g = Generator::new(5);
    let x: Vec<f32> = (0..96 * 8).map(|_| g.normal() as f32).collect();
    let y: Vec<i64> = x
        .chunks(8)
        .map(|p| i64::from(p[0] + p[1] > p[2]) + i64::from(p[3] > 0.5))
        .collect();
    Ok(TensorDataset::new(
        Tensor::from_vec(x, &[96, 8])?,
        Tensor::from_vec(y, &[96])?,
    )?)
}

fn model() -> Result<Sequential, strata_nn::Error> {
    Ok(Sequential::new()
        .push(Linear::new(8, 16)?)
        .push(ReLU::new())
        .push(Linear::new(16, 3)?))
}

fn train(mpi: &Mpi, args: &[String]) -> Outcome {
    let [out, batch, epochs, rest @ ..] = args else {
        return Err("train OUT BATCH EPOCHS [RESUME]".into());
    };
    // Every rank initialises from its own seed: rank 0's weights must win.
    strata_core::manual_seed(1 + mpi.rank() as u64);
    train_model(mpi, model()?, out, batch, epochs, rest.first(), false)
}

/// `train` with a BatchNorm layer after the first Linear, synchronised or local.
fn train_bn(mpi: &Mpi, args: &[String]) -> Outcome {
    let [out, batch, mode] = args else {
        return Err("train-bn OUT BATCH sync|local".into());
    };
    strata_core::manual_seed(1 + mpi.rank() as u64);
    let m = Sequential::new()
        .push(Linear::new(8, 16)?)
        .push(BatchNorm1d::new(16)?)
        .push(ReLU::new())
        .push(Linear::new(16, 3)?);
    train_model(mpi, m, out, batch, "1", None, mode == "sync")
}

fn train_model(
    mpi: &Mpi,
    m: Sequential,
    out: &str,
    batch: &str,
    epochs: &str,
    resume: Option<&String>,
    sync_batch_norm: bool,
) -> Outcome {
    let (batch, epochs): (usize, u64) = (batch.parse()?, epochs.parse()?);
    let (rank, world) = (mpi.rank(), mpi.world());
    let opt = SGD::new(m.parameters(), 0.1)?.momentum(0.9)?;
    let mut t = Trainer::new(m, opt, cross_entropy)
        .monitor(None)
        .progress(ProgressMode::Quiet)
        .tensorboard(false)
        .report(false)
        .run_target(RunTarget::At(std::path::Path::new(out).join("run")))
        .seed(3)
        .data_parallel(mpi.group());
    if sync_batch_norm {
        t = t.sync_batch_norm()?;
    }
    if let Some(ckpt) = resume {
        t.resume(ckpt)?;
    }
    let loader = DataLoader::new(data()?)
        .batch_size(batch)
        .shuffle(9)
        .shard(rank, world);
    let mut lines = String::new();
    let (done, _) = t.completed();
    for epoch in done..epochs {
        t.begin_epoch(Some(loader.len()))?;
        for b in loader.epoch(epoch) {
            t.train_step(&b?)?;
            let flat: Vec<String> = t
                .model()
                .state_dict()
                .iter()
                .flat_map(|(_, v)| v.to_vec::<f32>().unwrap_or_default())
                .map(|v| v.to_string())
                .collect();
            lines.push_str(&flat.join(" "));
            lines.push('\n');
        }
        t.end_epoch(None)?;
    }
    t.finish()?;
    if rank == 0 {
        std::fs::write(std::path::Path::new(out).join("steps.txt"), lines)?;
    }
    Ok(())
}

fn fail(mpi: &Mpi) -> Outcome {
    let rank = mpi.rank();
    let m = model()?;
    let opt = SGD::new(m.parameters(), 0.1)?;
    let steps = std::sync::atomic::AtomicUsize::new(0);
    let mut t = Trainer::with_step(m, opt, move |model: &Sequential, b: &strata_data::Batch| {
        let step = 1 + steps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if rank == 1 && step == 3 {
            return Err(strata_train::TrainError::config(
                "a training step",
                "failed on purpose (the test's simulated fault)",
            ));
        }
        let out = strata_nn::Forward::forward(model, &b.inputs)?;
        let loss = cross_entropy(&out, &b.targets)?;
        Ok(StepOutput::new(loss, out, b.targets.clone()))
    })
    .monitor(None)
    .progress(ProgressMode::Quiet)
    .run_target(RunTarget::Nowhere)
    .data_parallel(mpi.group());
    let loader = DataLoader::new(data()?)
        .batch_size(8)
        .shard(rank, mpi.world());
    t.fit(&loader, None, 5)?;
    Ok(())
}
