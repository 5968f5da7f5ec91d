//! Shared set-ups for the trainer's integration tests: a small learnable classification
//! problem, a model with dropout, and a temporary directory.
#![allow(dead_code)]

use std::path::PathBuf;
use strata_core::{manual_seed, Generator, Tensor};
use strata_data::{DataLoader, TensorDataset};
use strata_nn::{Dropout, Linear, ReLU, Sequential};
use strata_train::{ProgressMode, RunTarget, Trainer};

/// `n` points in 8 dimensions, labelled by which of three fixed directions they point
/// most along (learnable, not trivially).
pub fn dataset(n: usize, seed: u64) -> TensorDataset {
    let mut g = Generator::new(seed);
    let mut xs = Vec::with_capacity(n * 8);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let x: Vec<f32> = (0..8).map(|_| g.normal() as f32).collect();
        let scores = [
            x[0] + x[1] - x[2],
            x[3] - x[4] + 0.5 * x[5],
            x[6] + x[7] - x[0],
        ];
        let label = (0..3)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap_or(0);
        xs.extend(x);
        ys.push(label as i64);
    }
    TensorDataset::new(
        Tensor::from_vec(xs, &[n, 8]).unwrap(),
        Tensor::from_vec(ys, &[n]).unwrap(),
    )
    .unwrap()
}

pub fn loaders(seed: u64) -> (DataLoader<TensorDataset>, DataLoader<TensorDataset>) {
    let train = DataLoader::new(dataset(192, 1))
        .batch_size(16)
        .shuffle(seed);
    let val = DataLoader::new(dataset(64, 2)).batch_size(32);
    (train, val)
}

/// 8-32-3 with ReLU and dropout, initialised from `seed`.
pub fn model(seed: u64) -> Sequential {
    manual_seed(seed);
    Sequential::new()
        .push(Linear::new(8, 32).unwrap())
        .push(ReLU::new())
        .push(Dropout::new(0.2).unwrap())
        .push(Linear::new(32, 3).unwrap())
}

/// A fresh directory under the system's temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-train-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Quiet trainer settings with no files.
pub fn quiet<M: strata_nn::Module + 'static>(t: Trainer<M>) -> Trainer<M> {
    t.progress(ProgressMode::Quiet)
        .run_target(RunTarget::Nowhere)
}

/// Every parameter's values, bit for bit.
pub fn weights_bits(model: &impl strata_nn::ModuleExt) -> Vec<(String, Vec<u32>)> {
    model
        .state_dict()
        .into_iter()
        .map(|(n, t)| {
            (
                n,
                t.to_vec::<f32>()
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect(),
            )
        })
        .collect()
}

/// The metric maps of a history, bit for bit (times left out: they differ run to run).
pub fn metric_bits(history: &[strata_train::records::EpochRecord]) -> Vec<Vec<(String, u64)>> {
    history
        .iter()
        .map(|r| {
            r.metrics
                .iter()
                .map(|(k, v)| (k.clone(), v.to_bits()))
                .collect()
        })
        .collect()
}

/// The global generator is process-wide: every test holds this lock for its whole run so
/// that no other test of the program draws from it in between.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// `m` under SGD (lr 0.1, momentum 0.9) and cross-entropy, quiet and without monitors:
/// the data-parallel tests' trainer.
pub fn trainer_of(m: Sequential) -> Trainer<Sequential> {
    use strata_nn::{loss::cross_entropy, ModuleExt, SGD};
    let opt = SGD::new(m.parameters(), 0.1)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    quiet(Trainer::new(m, opt, cross_entropy).monitor(None))
}
