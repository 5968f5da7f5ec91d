//! The programs `tests/mpi.rs` launches with `mpirun`: `strata-mpi-check SCENARIO ARGS`.
//!
//! - `collectives`: sums, broadcast and gather of known values.
//! - `train OUT BATCH EPOCHS [RESUME]`: an MLP trained with `BATCH` examples per rank;
//!   rank 0 writes every step's parameters to `OUT/steps.txt` and a run directory (with
//!   checkpoints) under `OUT`; `RESUME` continues from a checkpoint.
//! - `fail`: rank 1's training step fails at step 3; the job must stop, naming it.

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
        _ => Err(
            "usage: strata-mpi-check collectives | train OUT BATCH EPOCHS [RESUME] | fail".into(),
        ),
    };
    mpi.exit_on_error(result);
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

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
    let (batch, epochs): (usize, u64) = (batch.parse()?, epochs.parse()?);
    let (rank, world) = (mpi.rank(), mpi.world());
    // Every rank initialises from its own seed: rank 0's weights must win.
    strata_core::manual_seed(1 + rank as u64);
    let m = model()?;
    let opt = SGD::new(m.parameters(), 0.1).momentum(0.9);
    let mut t = Trainer::new(m, opt, cross_entropy)
        .monitor(None)
        .progress(ProgressMode::Quiet)
        .tensorboard(false)
        .report(false)
        .run_target(RunTarget::At(std::path::Path::new(out).join("run")))
        .seed(3)
        .data_parallel(mpi.group());
    if let Some(ckpt) = rest.first() {
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
    let opt = SGD::new(m.parameters(), 0.1);
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
