//! The trainer's options against hand computations: early stopping with restored
//! weights, the NaN/Inf guard, gradient accumulation, clipping, schedules, evaluation
//! intervals, `evaluate`, `predict`, a hand-written loop of `train_step`s.

use crate::common::*;
use std::sync::atomic::{AtomicU64, Ordering};
use strata_core::{no_grad, Tensor};
use strata_data::{Batch, DataLoader, TensorDataset};
use strata_nn::checkpoint::TrainingCheckpoint;
use strata_nn::schedule::{PlateauOptions, ReduceLROnPlateau, Scheduler, StepLR};
use strata_nn::{loss::cross_entropy, Forward, Linear, ModuleExt, ReLU, Sequential, SGD};
use strata_train::callbacks::{EarlyStopping, ModelCheckpoint};
use strata_train::{
    metrics::Accuracy, validation_split, Batches, RunTarget, StepOutput, TrainError, Trainer,
};

/// Validation labels that have nothing to do with the inputs: as training succeeds,
/// validation loss rises.
fn noise_val() -> DataLoader<TensorDataset> {
    let ds = dataset(64, 2);
    let labels: Vec<i64> = (0..64).map(|i| (i * 7 % 3) as i64).collect();
    let ds = TensorDataset::new(
        ds.inputs().clone(),
        Tensor::from_vec(labels, &[64]).unwrap(),
    )
    .unwrap();
    DataLoader::new(ds).batch_size(64)
}

fn plain_model(seed: u64) -> Sequential {
    strata_core::manual_seed(seed);
    Sequential::new()
        .push(Linear::new(8, 32).unwrap())
        .push(ReLU::new())
        .push(Linear::new(32, 3).unwrap())
}

#[test]
fn early_stopping_stops_after_patience_and_restores_the_best_epoch() {
    let _serial = serial();
    let (train, _) = loaders(1);
    let val = noise_val();
    let dir = temp_dir("early");
    let model = plain_model(1);
    let opt = SGD::new(model.parameters(), 0.2)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    let mut t = Trainer::new(model, opt, cross_entropy)
        .callback(
            EarlyStopping::new("val_loss")
                .patience(2)
                .unwrap()
                .restore_best_weights(true),
        )
        .callback(
            ModelCheckpoint::new()
                .best("val_loss")
                .dir(dir.join("ckpt")),
        )
        .progress(strata_train::ProgressMode::Quiet)
        .run_target(RunTarget::Nowhere);
    let history = t.fit(&train, Some(&val), 40).unwrap();
    let losses: Vec<f64> = history.iter().map(|r| r.metrics["val_loss"]).collect();
    let best = (0..losses.len())
        .min_by(|&a, &b| losses[a].total_cmp(&losses[b]))
        .unwrap();
    assert!(history.len() < 40, "never stopped: {losses:?}");
    assert_eq!(
        history.len(),
        best + 1 + 2,
        "stops `patience` epochs after the best: {losses:?}"
    );
    assert!(t
        .stop_reason()
        .unwrap()
        .contains("early stopping: val_loss did not improve"));
    // The model now holds the best epoch's weights: those ModelCheckpoint saved then.
    let ckpt = TrainingCheckpoint::load(dir.join("ckpt/best.safetensors")).unwrap();
    assert_eq!(ckpt.epoch, best as u64 + 1);
    for (name, saved) in &ckpt.model {
        let now = t
            .model()
            .state_dict()
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1;
        assert_eq!(
            now.to_vec::<f32>().unwrap(),
            saved.to_vec::<f32>().unwrap(),
            "{name}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_nan_gradient_stops_before_the_step_and_names_the_parameter() {
    let _serial = serial();
    let (train, val) = loaders(1);
    let dir = temp_dir("nan");
    let calls = std::sync::Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    // At the 15th training batch (epoch 2), sqrt(0 · w) puts NaN into 2.weight's gradient
    // while the loss stays finite. (Validation runs the step too, without gradients.)
    let step = move |m: &Sequential, b: &Batch| -> strata_train::Result<StepOutput> {
        let logits = m.forward(&b.inputs)?;
        let mut loss = cross_entropy(&logits, &b.targets)?;
        if strata_core::is_grad_enabled() && seen.fetch_add(1, Ordering::SeqCst) + 1 == 15 {
            let w = m
                .named_parameters()
                .into_iter()
                .find(|(n, _)| n == "2.weight")
                .unwrap()
                .1;
            loss = loss.add(&w.tensor().mul_scalar(0.0)?.sqrt()?.sum_all()?)?;
        }
        Ok(StepOutput::new(loss, logits, b.targets.clone()))
    };
    let model = plain_model(2);
    let opt = SGD::new(model.parameters(), 0.1).unwrap();
    let mut t = Trainer::with_step(model, opt, step)
        .progress(strata_train::ProgressMode::Quiet)
        .run_target(RunTarget::At(dir.clone()))
        .report(false);
    let err = t.fit(&train, Some(&val), 3).unwrap_err();
    match &err {
        TrainError::NonFinite {
            what,
            step,
            epoch,
            detail,
        } => {
            assert_eq!((*what, *step, *epoch), ("gradient", 15, 2));
            assert!(detail.contains("2.weight"), "{detail}");
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    assert!(
        err.to_string()
            .starts_with("non-finite gradient at step 15 (epoch 2)"),
        "{err}"
    );
    // Nothing non-finite reached the weights; the last checkpoint is epoch 1's, intact.
    for (name, p) in t.model().named_parameters() {
        assert!(strata_train::tensor_stats::all_finite(p.tensor()), "{name}");
    }
    let ckpt = TrainingCheckpoint::load(dir.join("checkpoints/last.safetensors")).unwrap();
    assert_eq!((ckpt.epoch, ckpt.step), (1, 12));
    let warnings = std::fs::read_to_string(dir.join("warnings.json")).unwrap();
    assert!(
        warnings.contains("non_finite") && warnings.contains("2.weight"),
        "{warnings}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_nan_input_is_caught_in_the_first_layers_gradient() {
    let _serial = serial();
    let ds = dataset(32, 1);
    let mut x = ds.inputs().to_vec::<f32>().unwrap();
    x[20 * 8 + 3] = f32::NAN; // example 20: the second batch of 16
    let ds =
        TensorDataset::new(Tensor::from_vec(x, &[32, 8]).unwrap(), ds.targets().clone()).unwrap();
    let train = DataLoader::new(ds).batch_size(16);
    let model = plain_model(3);
    let opt = SGD::new(model.parameters(), 0.1).unwrap();
    let mut t = quiet(Trainer::new(model, opt, cross_entropy));
    // Strata's ReLU maps NaN to 0, so the loss stays finite; the weight gradient
    // x^T · dy does not.
    match t.fit(&train, None, 1).unwrap_err() {
        TrainError::NonFinite {
            what, step, detail, ..
        } => {
            assert_eq!((what, step), ("gradient", 2));
            assert!(detail.contains("0.weight"), "{detail}");
        }
        other => panic!("expected NonFinite, got {other}"),
    }
}

#[test]
fn a_nan_target_stops_with_a_non_finite_loss() {
    let _serial = serial();
    let ds = dataset(32, 1);
    let mut y: Vec<f32> = (0..32).map(|i| i as f32 / 32.0).collect();
    y[5] = f32::NAN;
    let ds =
        TensorDataset::new(ds.inputs().clone(), Tensor::from_vec(y, &[32, 1]).unwrap()).unwrap();
    let train = DataLoader::new(ds).batch_size(16);
    strata_core::manual_seed(4);
    let model = Linear::new(8, 1).unwrap();
    let opt = SGD::new(model.parameters(), 0.1).unwrap();
    let mut t = quiet(Trainer::new(model, opt, strata_nn::loss::mse_loss));
    match t.fit(&train, None, 1).unwrap_err() {
        TrainError::NonFinite {
            what, step, detail, ..
        } => {
            assert_eq!((what, step), ("loss", 1));
            assert!(
                detail.contains("the loss is NaN while every parameter is finite"),
                "{detail}"
            );
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    assert_eq!(t.completed(), (0, 0));
}

#[test]
fn accumulating_two_half_batches_equals_one_full_batch() {
    let _serial = serial();
    let ds = dataset(64, 4);
    let run = |batch: usize, accumulate: usize| {
        let model = plain_model(5);
        let opt = SGD::new(model.parameters(), 0.1).unwrap();
        let mut t = quiet(Trainer::new(model, opt, cross_entropy))
            .accumulate(accumulate)
            .unwrap();
        let loader = DataLoader::new(ds.clone()).batch_size(batch);
        t.fit(&loader, None, 2).unwrap();
        assert_eq!(t.completed(), (2, 2 * 64 / (batch * accumulate) as u64));
        t.model().state_dict()
    };
    let (whole, halves) = (run(16, 1), run(8, 2));
    for ((n, a), (_, b)) in whole.iter().zip(&halves) {
        let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
        let diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(diff < 1e-5, "{n}: {diff}");
    }
}

#[test]
fn clipping_bounds_the_step_by_the_global_norm() {
    let _serial = serial();
    let (train, _) = loaders(1);
    let batch = train.batches(0).next().unwrap().unwrap();
    let model = plain_model(6);
    let before: Vec<Vec<f32>> = model
        .parameters()
        .iter()
        .map(|p| p.tensor().to_vec().unwrap())
        .collect();
    let opt = SGD::new(model.parameters(), 1.0).unwrap();
    let mut t = quiet(Trainer::new(model, opt, cross_entropy))
        .clip_grad_norm(1e-3)
        .unwrap();
    let report = t.train_step(&batch).unwrap();
    assert!(report.stepped && report.step == 1);
    let moved: f64 = t
        .model()
        .parameters()
        .iter()
        .zip(&before)
        .flat_map(|(p, b)| {
            let now = p.tensor().to_vec::<f32>().unwrap();
            now.iter()
                .zip(b)
                .map(|(x, y)| ((x - y) as f64).powi(2))
                .collect::<Vec<_>>()
        })
        .sum::<f64>()
        .sqrt();
    // SGD with lr 1 moves by exactly the clipped gradient: norm 1e-3 (less 1e-6 slack).
    assert!((moved - 1e-3).abs() < 2e-6, "moved {moved}");
    let m = plain_model(6);
    let opt = SGD::new(m.parameters(), 0.1).unwrap();
    assert!(Trainer::new(m, opt, cross_entropy)
        .clip_grad_norm(0.0)
        .is_err());
}

#[test]
fn schedules_step_per_epoch_per_batch_and_on_a_plateau() {
    let _serial = serial();
    let (train, _) = loaders(1);
    let lrs = |per_batch: bool| {
        let model = plain_model(7);
        let mut opt = SGD::new(model.parameters(), 0.1).unwrap();
        let mut t = if per_batch {
            let s = Scheduler::new(&mut opt, StepLR::new(12, 0.5)).unwrap();
            quiet(Trainer::new(model, opt, cross_entropy)).schedule_per_batch(s)
        } else {
            let s = Scheduler::new(&mut opt, StepLR::new(1, 0.5)).unwrap();
            quiet(Trainer::new(model, opt, cross_entropy)).schedule_per_epoch(s)
        };
        let h = t.fit(&train, None, 3).unwrap();
        h.iter().map(|r| r.lr).collect::<Vec<_>>()
    };
    // 192 examples in batches of 16: 12 steps per epoch.
    assert_eq!(lrs(false), vec![0.05, 0.025, 0.0125]);
    assert_eq!(lrs(true), vec![0.05, 0.025, 0.0125]);

    let model = plain_model(8);
    let opt = SGD::new(model.parameters(), 0.2)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    let plateau =
        ReduceLROnPlateau::new(&opt, PlateauOptions::default().patience(1).factor(0.5)).unwrap();
    let mut t =
        quiet(Trainer::new(model, opt, cross_entropy)).schedule_on_metric(plateau, "val_loss");
    let h = t.fit(&train, Some(&noise_val()), 12).unwrap();
    // The rate halves after two epochs without a new best validation loss.
    let mut best = f64::INFINITY;
    let (mut bad, mut lr) = (0, 0.2);
    for r in &h {
        let v = r.metrics["val_loss"];
        if v < best * (1.0 - 1e-4) {
            best = v;
            bad = 0;
        } else {
            bad += 1;
        }
        if bad > 1 {
            lr *= 0.5;
            bad = 0;
        }
        assert!(
            (r.lr - lr).abs() < 1e-12,
            "epoch {}: {} vs {lr}",
            r.epoch,
            r.lr
        );
    }
    assert!(h.last().unwrap().lr < 0.2, "never reduced");
}

#[test]
fn validation_runs_every_n_epochs_and_after_the_last() {
    let _serial = serial();
    let (train, val) = loaders(1);
    let model = plain_model(9);
    let opt = SGD::new(model.parameters(), 0.1).unwrap();
    let mut t = quiet(Trainer::new(model, opt, cross_entropy))
        .eval_every(2)
        .unwrap();
    let h = t.fit(&train, Some(&val), 5).unwrap();
    let with_val: Vec<u64> = h
        .iter()
        .filter(|r| r.metrics.contains_key("val_loss"))
        .map(|r| r.epoch)
        .collect();
    assert_eq!(with_val, vec![2, 4, 5]);
}

#[test]
fn evaluate_and_predict_match_a_direct_computation() {
    let _serial = serial();
    let (train, val) = loaders(1);
    let model = plain_model(10);
    let opt = SGD::new(model.parameters(), 0.1).unwrap();
    let mut t = quiet(Trainer::new(model, opt, cross_entropy).metric(Accuracy::new()));
    t.fit(&train, None, 2).unwrap();
    let ds = dataset(64, 2);
    let logits = no_grad(|| t.model().forward(ds.inputs())).unwrap();
    let loss = cross_entropy(&logits, ds.targets())
        .unwrap()
        .item()
        .unwrap();
    let pred = logits.argmax(1, false).unwrap().to_vec::<i64>().unwrap();
    let labels = ds.targets().to_vec::<i64>().unwrap();
    let acc = pred.iter().zip(&labels).filter(|(p, l)| p == l).count() as f64 / 64.0;
    let values = t.evaluate(&val).unwrap();
    assert!(
        (values["loss"] - loss).abs() < 1e-6,
        "{} vs {loss}",
        values["loss"]
    );
    assert_eq!(values["accuracy"], acc);
    let predicted = t.predict(&val).unwrap();
    assert_eq!(predicted.shape(), &[64, 3]);
    let (a, b) = (
        predicted.to_vec::<f32>().unwrap(),
        logits.to_vec::<f32>().unwrap(),
    );
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-6));
}

#[test]
fn a_hand_written_loop_of_train_steps_equals_fit() {
    let _serial = serial();
    let (train, val) = loaders(3);
    let build = || {
        let model = model(3);
        let opt = SGD::new(model.parameters(), 0.1)
            .unwrap()
            .momentum(0.9)
            .unwrap();
        quiet(Trainer::new(model, opt, cross_entropy).metric(Accuracy::new())).seed(3)
    };
    let mut a = build();
    let fitted = a.fit(&train, Some(&val), 2).unwrap();
    let mut b = build();
    for epoch in 0..2 {
        for batch in train.epoch(epoch) {
            b.train_step(&batch.unwrap()).unwrap();
        }
        b.end_epoch(Some(&val)).unwrap();
    }
    b.finish().unwrap();
    assert_eq!(metric_bits(b.history()), metric_bits(&fitted));
    assert_eq!(weights_bits(b.model()), weights_bits(a.model()));
}

#[test]
fn a_validation_split_is_disjoint_and_complete() {
    let _serial = serial();
    let loader = DataLoader::new(dataset(100, 1)).batch_size(10).shuffle(1);
    let (train, val) = validation_split(&loader, 0.25, 3).unwrap();
    assert_eq!((train.num_examples(), val.num_examples()), (75, 25));
    let mut seen: Vec<usize> = train.dataset().indices().to_vec();
    seen.extend(val.dataset().indices());
    seen.sort();
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    assert!(validation_split(&loader, 1.0, 3).is_err());
}

/// A model with two inputs (the first and last four features, through separate towers):
/// not a `Sequential`, not even a one-input `Forward`; its step splits the batch itself.
#[derive(strata_nn::Module)]
struct TwoTowers {
    left: Linear,
    right: Linear,
}

#[test]
fn any_model_trains_through_a_step_closure() {
    let _serial = serial();
    strata_core::manual_seed(11);
    let model = TwoTowers {
        left: Linear::new(4, 3).unwrap(),
        right: Linear::new(4, 3).unwrap(),
    };
    let step = |m: &TwoTowers, b: &Batch| -> strata_train::Result<StepOutput> {
        let (x1, x2) = (b.inputs.narrow(1, 0, 4)?, b.inputs.narrow(1, 4, 4)?);
        let logits = m.left.forward(&x1)?.add(&m.right.forward(&x2)?)?;
        let loss = cross_entropy(&logits, &b.targets)?;
        Ok(StepOutput::new(loss, logits, b.targets.clone()))
    };
    let opt = SGD::new(strata_nn::ModuleExt::parameters(&model), 0.2)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    let mut t = quiet(Trainer::with_step(model, opt, step).metric(Accuracy::new()));
    let (train, val) = loaders(2);
    let h = t.fit(&train, Some(&val), 8).unwrap();
    let (first, last) = (&h[0].metrics, &h[7].metrics);
    assert!(
        last["train_loss"] < 0.7 * first["train_loss"],
        "{first:?} -> {last:?}"
    );
    assert!(last["val_accuracy"] > 0.7, "{last:?}");
    // predict keeps the step's outputs: one row of three scores per example.
    assert_eq!(t.predict(&val).unwrap().shape(), &[64, 3]);
    let names: Vec<String> = t
        .model()
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names,
        ["left.weight", "left.bias", "right.weight", "right.bias"]
    );
}
