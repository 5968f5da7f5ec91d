//! Synchronised BatchNorm with threads as ranks: a layer fed N ranks' uneven shards
//! normalises, tracks and differentiates exactly like one layer fed their concatenation,
//! and N ranks × batch B train a BatchNorm model like one process with batch N·B — which
//! they do not without synchronisation.

use crate::common::*;
use strata_core::{DType, Generator, Tensor};
use strata_data::DataLoader;
use strata_nn::{
    loss::cross_entropy, BatchNorm1d, BatchNorm2d, BatchNormConfig, Forward, Linear, ModuleExt,
    ReLU, Sequential, SGD,
};
use strata_train::parallel::{Collective, ThreadGroup};
use strata_train::Trainer;

/// What one rank (or the single process) ends with after two training steps of a layer.
struct LayerRun {
    outputs: Vec<Tensor>,
    dx: Vec<Tensor>,
    dw: Vec<f64>,
    db: Vec<f64>,
    running: Vec<f64>,
}

/// A BatchNorm layer of `channels`, f64, with non-trivial weight and bias.
fn layer(two_d: bool, channels: usize) -> Box<dyn Forward> {
    let cfg = BatchNormConfig {
        dtype: DType::F64,
        ..BatchNormConfig::default()
    };
    let (bn, w, b): (Box<dyn Forward>, _, _) = if two_d {
        let bn = BatchNorm2d::with_config(channels, cfg).unwrap();
        let (w, b) = (bn.weight().unwrap().clone(), bn.bias().unwrap().clone());
        (Box::new(bn), w, b)
    } else {
        let bn = BatchNorm1d::with_config(channels, cfg).unwrap();
        let (w, b) = (bn.weight().unwrap().clone(), bn.bias().unwrap().clone());
        (Box::new(bn), w, b)
    };
    let w_values: Vec<f64> = (0..channels).map(|c| 0.5 + 0.3 * c as f64).collect();
    let b_values: Vec<f64> = (0..channels).map(|c| 0.1 - 0.2 * c as f64).collect();
    w.copy_from(&Tensor::from_vec(w_values, &[channels]).unwrap())
        .unwrap();
    b.copy_from(&Tensor::from_vec(b_values, &[channels]).unwrap())
        .unwrap();
    bn
}

/// Two training steps on `inputs[k]` (each `[n, C, *]`), each with the loss
/// `Σ(y·probe) / n`: the mean over this rank's examples, as the trainer's losses are.
fn run_layer(bn: &dyn Forward, inputs: &[Tensor; 2], probes: &[Tensor; 2]) -> LayerRun {
    let (mut outputs, mut dx) = (Vec::new(), Vec::new());
    let (mut dw, mut db) = (Vec::new(), Vec::new());
    for (x, probe) in inputs.iter().zip(probes) {
        let x = x.clone().requires_grad_();
        let y = bn.forward(&x).unwrap();
        let n = x.shape()[0] as f64;
        let loss = y
            .mul(probe)
            .unwrap()
            .sum_all()
            .unwrap()
            .div_scalar(n)
            .unwrap();
        let grads = loss.backward().unwrap();
        outputs.push(y.detach());
        dx.push(grads.get(&x).unwrap().clone());
        let params = bn.parameters();
        dw = grads.get(params[0].tensor()).unwrap().to_vec_f64();
        db = grads.get(params[1].tensor()).unwrap().to_vec_f64();
    }
    let running = bn
        .named_buffers()
        .iter()
        .flat_map(|(_, b)| b.tensor().to_vec_f64())
        .collect();
    LayerRun {
        outputs,
        dx,
        dw,
        db,
        running,
    }
}

fn close(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-10 * (1.0 + b.abs()),
            "{what}[{i}]: {a} vs {b}"
        );
    }
}

#[test]
fn ranks_with_uneven_shards_match_one_layer_on_the_whole_batch() {
    let _serial = serial();
    // [n, 3, 5] for BatchNorm1d and [n, 2, 3, 2] for BatchNorm2d, two steps each (the
    // second sees the first's running statistics), 2 and 3 ranks with uneven shards; the
    // data sit far from zero (mean 40) so a careless merge would show.
    let cases: [(bool, &[usize], &[usize]); 4] = [
        (false, &[3, 5], &[3, 5]),
        (false, &[2, 4, 7], &[1, 1, 3]),
        (true, &[1, 3], &[2, 2]),
        (true, &[4, 2, 5], &[3, 1, 2]),
    ];
    for (two_d, sizes0, sizes1) in cases {
        let shape = |n: usize| -> Vec<usize> {
            if two_d {
                vec![n, 2, 3, 2]
            } else {
                vec![n, 3, 5]
            }
        };
        let channels = shape(1)[1];
        let world = sizes0.len();
        let mut g = Generator::new(7 + world as u64);
        let mut draw = |n: usize, offset: f64| {
            Tensor::randn_with(&mut g, &shape(n), DType::F64)
                .mul_scalar(3.0)
                .unwrap()
                .add_scalar(offset)
                .unwrap()
        };
        // parts[k][r]: step k's shard of rank r; probes likewise (the loss's weights).
        let mut parts = [Vec::new(), Vec::new()];
        let mut probes = [Vec::new(), Vec::new()];
        for (k, sizes) in [sizes0, sizes1].into_iter().enumerate() {
            for (r, &n) in sizes.iter().enumerate() {
                parts[k].push(draw(n, 40.0 + r as f64));
                probes[k].push(draw(n, 0.0));
            }
        }
        let whole = |v: &Vec<Tensor>| Tensor::cat(v, 0).unwrap();
        let single = run_layer(
            &*layer(two_d, channels),
            &[whole(&parts[0]), whole(&parts[1])],
            &[whole(&probes[0]), whole(&probes[1])],
        );

        let handles: Vec<_> = ThreadGroup::new(world)
            .into_iter()
            .enumerate()
            .map(|(r, mut group)| {
                let inputs = [parts[0][r].clone(), parts[1][r].clone()];
                let probes = [probes[0][r].clone(), probes[1][r].clone()];
                std::thread::spawn(move || {
                    let bn = layer(two_d, channels);
                    assert_eq!(
                        bn.sync_batch_norm(Some(group.batch_stats_sync().unwrap())),
                        1
                    );
                    run_layer(&*bn, &inputs, &probes)
                })
            })
            .collect();
        let ranks: Vec<LayerRun> = handles.into_iter().map(|h| h.join().unwrap()).collect();

        let what = format!(
            "{} with shards {sizes0:?}, {sizes1:?}",
            if two_d { "2d" } else { "1d" }
        );
        for (k, sizes) in [sizes0, sizes1].into_iter().enumerate() {
            let total: usize = sizes.iter().sum();
            let mut start = 0;
            let (mut dw, mut db) = (vec![0.0; channels], vec![0.0; channels]);
            for (r, &n) in sizes.iter().enumerate() {
                let rows = |t: &Tensor| t.narrow(0, start, n).unwrap().to_vec_f64();
                close(
                    &ranks[r].outputs[k].to_vec_f64(),
                    &rows(&single.outputs[k]),
                    &format!("{what}: step {k} output of rank {r}"),
                );
                // The trainer weighs rank r's gradients by n_r / Σn: so must the test.
                let share = n as f64 / total as f64;
                let dx: Vec<f64> = ranks[r].dx[k]
                    .to_vec_f64()
                    .iter()
                    .map(|g| g * share)
                    .collect();
                close(
                    &dx,
                    &rows(&single.dx[k]),
                    &format!("{what}: step {k} dx of rank {r}"),
                );
                if k == 1 {
                    dw.iter_mut()
                        .zip(&ranks[r].dw)
                        .for_each(|(a, g)| *a += g * share);
                    db.iter_mut()
                        .zip(&ranks[r].db)
                        .for_each(|(a, g)| *a += g * share);
                }
                start += n;
            }
            if k == 1 {
                close(&dw, &single.dw, &format!("{what}: weight gradient"));
                close(&db, &single.db, &format!("{what}: bias gradient"));
            }
        }
        for (r, run) in ranks.iter().enumerate() {
            close(
                &run.running,
                &single.running,
                &format!("{what}: running statistics of rank {r}"),
            );
        }
        // Not trivially equal: the running mean moved towards the data (0.19·~41 after
        // two steps of momentum 0.1), and rank 0's own shard would give another variance.
        assert!(single.running[0] > 5.0, "{}", single.running[0]);
    }
}

/// 8-16 Linear, BatchNorm1d, ReLU, 16-3 Linear, initialised from `seed`.
fn model(seed: u64) -> Sequential {
    strata_core::manual_seed(seed);
    Sequential::new()
        .push(Linear::new(8, 16).unwrap())
        .push(BatchNorm1d::new(16).unwrap())
        .push(ReLU::new())
        .push(Linear::new(16, 3).unwrap())
}

/// Parameters and buffers (running statistics included) after each step of one epoch.
fn steps(
    mut t: Trainer<Sequential>,
    loader: DataLoader<strata_data::TensorDataset>,
) -> Vec<Vec<f64>> {
    let mut after = Vec::new();
    for batch in loader.epoch(0) {
        t.train_step(&batch.unwrap()).unwrap();
        let flat = t
            .model()
            .state_dict()
            .iter()
            .flat_map(|(_, v)| v.to_vec_f64())
            .collect();
        after.push(flat);
    }
    after
}

/// Every rank's states after each step, `world` threads with `per_rank` examples each.
fn data_parallel(world: usize, per_rank: usize, sync: bool) -> Vec<Vec<Vec<f64>>> {
    // Built one after another: the global generator is shared by the threads.
    let models: Vec<Sequential> = (0..world).map(|r| model(1 + r as u64)).collect();
    let handles: Vec<_> = ThreadGroup::new(world)
        .into_iter()
        .zip(models)
        .map(|(group, m)| {
            std::thread::spawn(move || {
                let rank = group.rank();
                let mut t = trainer_of(m).data_parallel(group);
                if sync {
                    t = t.sync_batch_norm().unwrap();
                }
                let loader = DataLoader::new(dataset(100, 5))
                    .batch_size(per_rank)
                    .shuffle(9)
                    .shard(rank, world);
                steps(t, loader)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

/// The largest difference between two runs' states over all steps.
fn worst(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f64::max)
}

#[test]
fn n_ranks_with_synchronised_batch_norm_train_like_one_process_with_batch_n_b() {
    let _lock = serial();
    let single = |b: usize| {
        let loader = DataLoader::new(dataset(100, 5)).batch_size(b).shuffle(9);
        steps(trainer_of(model(1)), loader)
    };
    // 100 examples in global batches of 24: 5 steps, the last of 4 examples (for 3 ranks
    // split 2, 1, 1: a rank's single example is normalised with the others').
    for (world, per_rank) in [(2usize, 12usize), (3, 8)] {
        let reference = single(world * per_rank);
        let ranks = data_parallel(world, per_rank, true);
        for (r, states) in ranks.iter().enumerate() {
            let off = worst(states, &reference);
            // Measured: 6e-8 (float rounding of sums taken in another order).
            assert!(
                off <= 2e-6 * world as f64,
                "world {world}, rank {r}: off by {off}"
            );
        }
        assert!(
            ranks.iter().all(|r| r == &ranks[0]),
            "world {world}: ranks differ"
        );
    }
    // Without synchronisation each rank normalises with its own half-batch's statistics:
    // the training differs from one process's (and the ranks' running statistics differ).
    let reference = single(24);
    let local = data_parallel(2, 12, false);
    let off = worst(&local[0], &reference);
    // Measured: 0.18.
    assert!(
        off > 1e-2,
        "local BatchNorm should differ, off by only {off}"
    );
    assert_ne!(local[0], local[1]);
}

#[test]
fn sync_batch_norm_needs_data_parallel_and_into_model_makes_layers_local() {
    let _serial = serial();
    let m = model(1);
    let opt = SGD::new(m.parameters(), 0.1).unwrap();
    let err = Trainer::new(m, opt, cross_entropy)
        .sync_batch_norm()
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("needs data-parallel training"), "{err}");

    // Rank 0 of a group of two whose rank 1 never trains: after into_model the layer
    // normalises alone (still synchronised, it would wait for rank 1 and fail after a
    // minute) and gives what an unsynchronised copy gives.
    let group = ThreadGroup::new(2).remove(0);
    let m = model(1);
    let opt = SGD::new(m.parameters(), 0.1).unwrap();
    let t = Trainer::new(m, opt, cross_entropy)
        .data_parallel(group)
        .sync_batch_norm()
        .unwrap();
    let m = t.into_model();
    let x = Tensor::randn(&[4, 8]);
    assert_eq!(
        m.forward(&x).unwrap().to_vec::<f32>().unwrap(),
        model(1).forward(&x).unwrap().to_vec::<f32>().unwrap()
    );
}
