//! Resuming from a `TrainingCheckpoint` continues training bit for bit: N steps, save,
//! load into fresh objects, M more steps == N + M steps without a break. Adam (with
//! weight decay), a learning-rate scheduler and dropout (so the random generator matters).
//!
//! The tests take `RNG_LOCK`: they use the process-wide random generator (`restore` sets
//! it), and tests running in parallel in this binary would disturb each other's streams.

use std::fs;
use std::sync::Mutex;
use strata_core::{manual_seed, Tensor};
use strata_nn::checkpoint::{read_safetensors, TrainingCheckpoint};
use strata_nn::optim::{Adam, Optimizer};
use strata_nn::schedule::{
    ChainedScheduler, CosineAnnealingLR, ExponentialLR, LinearLR, LrScheduler, PlateauOptions,
    ReduceLROnPlateau, Scheduler, SequentialLR, StepLR, ThresholdMode,
};
use strata_nn::{cross_entropy, Dropout, Forward, Linear, ModuleExt, ReLU, Sequential};

static RNG_LOCK: Mutex<()> = Mutex::new(());

fn build() -> Sequential {
    let model = Sequential::new()
        .push(Linear::new(6, 16).unwrap())
        .push(ReLU::new())
        .push(Dropout::new(0.3).unwrap())
        .push(Linear::new(16, 4).unwrap());
    model.train();
    model
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Sequential,
    Chained,
    Plateau,
}

fn scheduler(kind: Kind, opt: &mut Adam) -> Box<dyn LrScheduler> {
    match kind {
        Kind::Sequential => Box::new(
            Scheduler::new(
                opt,
                SequentialLR::new(
                    vec![
                        Box::new(LinearLR::new(0.1, 1.0, 4)),
                        Box::new(CosineAnnealingLR::new(10, 1e-4)),
                    ],
                    vec![4],
                ),
            )
            .unwrap(),
        ),
        Kind::Chained => Box::new(
            Scheduler::new(
                opt,
                ChainedScheduler::new(vec![
                    Box::new(StepLR::new(3, 0.5)),
                    Box::new(ExponentialLR::new(0.95)),
                ]),
            )
            .unwrap(),
        ),
        // A large relative threshold makes "no improvement" common, so the rate drops.
        Kind::Plateau => Box::new(
            ReduceLROnPlateau::new(
                opt,
                PlateauOptions::default()
                    .patience(1)
                    .factor(0.5)
                    .threshold(0.2, ThresholdMode::Rel),
            )
            .unwrap(),
        ),
    }
}

struct Run {
    model: Sequential,
    opt: Adam,
    sched: Box<dyn LrScheduler>,
}

impl Run {
    fn new(kind: Kind) -> Run {
        let model = build();
        let mut opt = Adam::new(model.parameters(), 0.05)
            .unwrap()
            .weight_decay(1e-3)
            .unwrap();
        let sched = scheduler(kind, &mut opt);
        Run { model, opt, sched }
    }

    /// `steps` optimiser steps; returns the learning rates used.
    fn train(&mut self, x: &Tensor, y: &Tensor, steps: usize) -> Vec<f64> {
        let mut lrs = Vec::new();
        for _ in 0..steps {
            lrs.push(self.opt.lr());
            let loss = cross_entropy(&self.model.forward(x).unwrap(), y).unwrap();
            self.opt.step(&loss.backward().unwrap()).unwrap();
            self.sched.step_with_metric(loss.item().unwrap());
            self.sched.apply(&mut self.opt).unwrap();
        }
        lrs
    }

    fn weight_bits(&self) -> Vec<(String, Vec<u64>)> {
        self.model
            .state_dict()
            .into_iter()
            .map(|(n, t)| (n, t.to_vec_f64().iter().map(|v| v.to_bits()).collect()))
            .collect()
    }
}

#[test]
fn resuming_continues_training_bit_for_bit() {
    let _guard = RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("strata-ckpt-resume-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let (n, m) = (5, 7);
    for kind in [Kind::Sequential, Kind::Chained, Kind::Plateau] {
        let path = dir.join(format!("{kind:?}.safetensors"));
        manual_seed(42);
        let x = Tensor::randn(&[12, 6]);
        let y = Tensor::from_vec((0..12).map(|i| (i * 5 % 4) as i64).collect(), &[12]).unwrap();

        // Uninterrupted: N steps, checkpoint (does not disturb anything), M more steps.
        let mut a = Run::new(kind);
        a.train(&x, &y, n);
        let mut ckpt =
            TrainingCheckpoint::capture(&a.model, &a.opt, Some(a.sched.as_ref()), 0, n as u64);
        ckpt.metadata.insert("kind".into(), format!("{kind:?}"));
        ckpt.save(&path).unwrap();
        let lrs_a = a.train(&x, &y, m);

        // The file holds the expected pieces under their reserved prefixes.
        let names: Vec<String> = read_safetensors(&path)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for want in [
            "model.0.weight",
            "model.3.bias",
            "optimizer.state.0.0.exp_avg",
            "optimizer.state.0.3.exp_avg_sq",
            "optimizer.param_groups.0.lr",
            "scheduler.last_epoch",
            "rng.state",
        ] {
            assert!(
                names.iter().any(|k| k == want),
                "{kind:?}: no {want} in {names:?}"
            );
        }

        // Resumed: fresh objects from another seed, restored from the file.
        manual_seed(7);
        let mut b = Run::new(kind);
        assert_ne!(b.weight_bits(), a.weight_bits());
        let loaded = TrainingCheckpoint::load(&path).unwrap();
        assert_eq!((loaded.epoch, loaded.step), (0, n as u64));
        assert_eq!(loaded.metadata["kind"], format!("{kind:?}"));
        loaded
            .restore(&b.model, &mut b.opt, Some(b.sched.as_mut()))
            .unwrap();
        assert_eq!(b.sched.last_epoch(), n);
        let lrs_b = b.train(&x, &y, m);
        assert_eq!(lrs_a, lrs_b, "{kind:?}: learning rates");
        assert_eq!(a.weight_bits(), b.weight_bits(), "{kind:?}: weights");
        assert_eq!(a.opt.state_dict().len(), b.opt.state_dict().len());
        if matches!(kind, Kind::Plateau | Kind::Chained) {
            assert!(
                lrs_b.iter().any(|&lr| lr < 0.05),
                "{kind:?}: the schedule never moved: {lrs_b:?}"
            );
        }

        // The generator matters: the same restore with a different dropout stream diverges.
        let mut c = Run::new(kind);
        loaded
            .restore(&c.model, &mut c.opt, Some(c.sched.as_mut()))
            .unwrap();
        manual_seed(1234);
        c.train(&x, &y, m);
        assert_ne!(
            a.weight_bits(),
            c.weight_bits(),
            "{kind:?}: dropout had no effect"
        );
    }
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn restore_checks_the_scheduler_and_the_optimiser_kind() {
    let _guard = RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let model = Linear::new(3, 2).unwrap();
    let mut opt = Adam::new(model.parameters(), 0.1).unwrap();
    let mut sched = Scheduler::new(&mut opt, StepLR::new(2, 0.5)).unwrap();
    let with_sched = TrainingCheckpoint::capture(&model, &opt, Some(&sched), 0, 0);
    let without = TrainingCheckpoint::capture(&model, &opt, None, 0, 0);
    let err = with_sched.restore(&model, &mut opt, None).unwrap_err();
    assert!(err.to_string().contains("no scheduler was given"), "{err}");
    let err = without
        .restore(&model, &mut opt, Some(&mut sched))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("checkpoint has no scheduler state"),
        "{err}"
    );
    // Adam state does not load into SGD.
    let mut sgd = strata_nn::optim::SGD::new(model.parameters(), 0.1).unwrap();
    let err = without.restore(&model, &mut sgd, None).unwrap_err();
    assert!(
        err.to_string().contains("unexpected key defaults.beta1"),
        "{err}"
    );
    // Through bytes: the same checkpoint back.
    let back = TrainingCheckpoint::from_bytes(&with_sched.to_bytes().unwrap()).unwrap();
    assert_eq!(back.rng, with_sched.rng);
    assert_eq!(
        back.scheduler.as_ref().map(|s| s.len()),
        with_sched.scheduler.as_ref().map(|s| s.len())
    );
    back.restore(&model, &mut opt, Some(&mut sched)).unwrap();
}
