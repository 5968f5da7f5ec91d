//! Data parallelism with threads as ranks: N ranks with batch B train the model one
//! process trains with batch N·B (PyTorch's DDP equivalence test), every rank ends with
//! the same weights, and figures are global.

use crate::common::*;
use strata_core::Tensor;
use strata_data::DataLoader;
use strata_nn::{loss::cross_entropy, Linear, ModuleExt, ReLU, Sequential, SGD};
use strata_train::parallel::ThreadGroup;
use strata_train::{TrainError, Trainer};

/// 8-16-3 without dropout (its masks could not match across ranks).
fn model(seed: u64) -> Sequential {
    strata_core::manual_seed(seed);
    Sequential::new()
        .push(Linear::new(8, 16).unwrap())
        .push(ReLU::new())
        .push(Linear::new(16, 3).unwrap())
}

fn trainer(seed: u64) -> Trainer<Sequential> {
    trainer_of(model(seed))
}

/// Every parameter after each step of one epoch, on one rank.
fn steps(
    mut t: Trainer<Sequential>,
    loader: DataLoader<strata_data::TensorDataset>,
) -> Vec<Vec<f32>> {
    let mut after = Vec::new();
    for batch in loader.epoch(0) {
        t.train_step(&batch.unwrap()).unwrap();
        let flat: Vec<f32> = t
            .model()
            .state_dict()
            .iter()
            .flat_map(|(_, v)| v.to_vec::<f32>().unwrap())
            .collect();
        after.push(flat);
    }
    after
}

#[test]
fn n_ranks_with_batch_b_train_like_one_process_with_batch_n_b() {
    let _lock = serial();
    // 100 examples: global batches of 24 leave 4 at the end, split unevenly for 3 ranks.
    let data = || dataset(100, 5);
    let single = |b: usize| steps(trainer(1), DataLoader::new(data()).batch_size(b).shuffle(9));
    let mut overlapped = std::collections::HashMap::new();
    // Gradients all-reduced during the backward pass (bucket by bucket, as the autograd
    // engine reports them final) and after it.
    for (world, overlap) in [
        (1usize, true),
        (2, true),
        (4, true),
        (3, true),
        (2, false),
        (3, false),
    ] {
        let per_rank = if world == 3 { 8 } else { 24 / world };
        let reference = single(per_rank * world);
        // Models are built here, one after another: the global generator is shared by the
        // threads. Ranks other than 0 start from other weights: rank 0's are broadcast.
        let models: Vec<Sequential> = (0..world).map(|r| model(1 + r as u64)).collect();
        let handles: Vec<_> = ThreadGroup::new(world)
            .into_iter()
            .zip(models)
            .map(|(group, m)| {
                std::thread::spawn(move || {
                    let rank = strata_train::parallel::Collective::rank(&group);
                    let t = trainer_of(m)
                        .data_parallel(group)
                        .overlap_communication(overlap);
                    let loader = DataLoader::new(dataset(100, 5))
                        .batch_size(per_rank)
                        .shuffle(9)
                        .shard(rank, world);
                    steps(t, loader)
                })
            })
            .collect();
        let ranks: Vec<Vec<Vec<f32>>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        if overlap {
            overlapped.insert(world, ranks[0].clone());
        } else {
            // Which moment the buckets travel changes nothing in the arithmetic.
            assert_eq!(
                overlapped[&world], ranks[0],
                "world {world}: overlap changed the result"
            );
        }
        // The same number of steps as one process, with the same weights after each, up
        // to the rounding of sums taken in another order (growing with the rank count).
        let tolerance = 2e-6 * world as f32;
        for r in &ranks {
            assert_eq!(r.len(), reference.len(), "world {world}");
            for (step, (got, want)) in r.iter().zip(&reference).enumerate() {
                let worst = got
                    .iter()
                    .zip(want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(
                    worst <= tolerance,
                    "world {world}, step {}: off by {worst}",
                    step + 1
                );
            }
        }
        // Ranks agree bit for bit: they applied the same averaged gradients.
        assert!(ranks.iter().all(|r| r == &ranks[0]), "world {world}");
    }
}

#[test]
fn fit_reports_global_figures_and_a_failing_rank_is_named() {
    let _lock = serial();
    let figures = |t: &mut Trainer<Sequential>, train: DataLoader<strata_data::TensorDataset>| {
        let history = t.fit(&train, None, 2).unwrap();
        let last = &history[1].metrics;
        [
            "train_loss",
            "train_accuracy",
            "train_f1_macro",
            "train_recall_weighted",
        ]
        .map(|k| {
            last.get(k)
                .copied()
                .unwrap_or_else(|| panic!("no {k}: {last:?}"))
        })
    };
    let with_metrics = |t: Trainer<Sequential>| {
        t.metric(strata_train::metrics::Accuracy::new())
            .metric(strata_train::metrics::ConfusionMatrix::new(3).unwrap())
    };
    let mut one = with_metrics(trainer(3));
    let reference = figures(
        &mut one,
        DataLoader::new(dataset(60, 5)).batch_size(16).shuffle(1),
    );
    // Two ranks with batch 8 (the last global batch of 12 splits 6 + 6).
    let models: Vec<Sequential> = (0..2).map(|_| model(3)).collect();
    let handles: Vec<_> = ThreadGroup::new(2)
        .into_iter()
        .zip(models)
        .map(|(group, m)| {
            std::thread::spawn(move || {
                let rank = strata_train::parallel::Collective::rank(&group);
                let mut t = with_metrics(trainer_of(m).data_parallel(group));
                let train = DataLoader::new(dataset(60, 5))
                    .batch_size(8)
                    .shuffle(1)
                    .shard(rank, 2);
                figures(&mut t, train)
            })
        })
        .collect();
    let ranks: Vec<[f64; 4]> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // The epoch's figures are over all 60 examples, the same on both ranks, and those of
    // one process with batch 16: F1 and the weighted recall too (merged confusion
    // matrices, not averages of the ranks' own).
    assert_eq!(ranks[0], ranks[1]);
    for (got, want) in ranks[0].iter().zip(&reference) {
        assert!((got - want).abs() < 1e-6, "{:?} vs {reference:?}", ranks[0]);
    }

    // A rank whose step fails stops with its error; the other is not left hanging on a
    // model that differs from rank 0's.
    let handles: Vec<_> = ThreadGroup::new(2)
        .into_iter()
        .map(|group| {
            std::thread::spawn(move || -> Result<(), TrainError> {
                let rank = strata_train::parallel::Collective::rank(&group);
                let width = if rank == 1 { 4 } else { 3 };
                strata_core::manual_seed(0);
                let m = Sequential::new().push(Linear::new(8, width).unwrap());
                let opt = SGD::new(m.parameters(), 0.1).unwrap();
                let mut t =
                    quiet(Trainer::new(m, opt, cross_entropy).monitor(None)).data_parallel(group);
                let x = Tensor::zeros(&[2, 8]);
                let y = Tensor::from_vec(vec![0i64, 1], &[2]).unwrap();
                let batch = strata_data::Batch {
                    inputs: x,
                    targets: y,
                    indices: vec![0, 1],
                };
                t.train_step(&batch).map(|_| ())
            })
        })
        .collect();
    for h in handles {
        let err = h.join().unwrap().unwrap_err().to_string();
        assert!(
            err.contains("rank(s) [1] hold a model whose parameter names or shapes differ"),
            "{err}"
        );
    }
}
