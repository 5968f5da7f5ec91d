//! One seed fixes initialisation, shuffling and dropout: two runs give the same bits;
//! a resumed run gives the bits of one that never stopped.

use crate::common::*;
use strata_nn::schedule::{Scheduler, StepLR};
use strata_nn::{loss::cross_entropy, Adam, ModuleExt, SGD};
use strata_train::{callbacks::EarlyStopping, metrics::classification_metrics, RunTarget, Trainer};

/// Weights and epoch metrics, bit for bit.
type Bits = (Vec<(String, Vec<u32>)>, Vec<Vec<(String, u64)>>);

fn run(seed: u64, epochs: u64) -> Bits {
    let (train, val) = loaders(seed);
    let model = model(seed);
    let opt = Adam::new(model.parameters(), 1e-2).unwrap();
    let mut t = quiet(Trainer::new(model, opt, cross_entropy).metrics(classification_metrics(3)))
        .seed(seed);
    let history = t.fit(&train, Some(&val), epochs).unwrap();
    (weights_bits(t.model()), metric_bits(&history))
}

#[test]
fn the_same_seed_gives_bit_identical_weights_and_metrics() {
    let _serial = serial();
    let a = run(3, 3);
    let b = run(3, 3);
    assert_eq!(a, b);
    let c = run(4, 3);
    assert_ne!(a.0, c.0, "another seed must give other weights");
    // The run learned something: the values are real, not constants.
    let last = a.1.last().unwrap();
    let acc = last.iter().find(|(k, _)| k == "val_accuracy").unwrap().1;
    assert!(
        f64::from_bits(acc) > 0.6,
        "val_accuracy {}",
        f64::from_bits(acc)
    );
}

fn trainer(seed: u64, dir: &std::path::Path) -> Trainer<strata_nn::Sequential> {
    let model = model(seed);
    let mut opt = SGD::new(model.parameters(), 0.05)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    let sched = Scheduler::new(&mut opt, StepLR::new(10, 0.7)).unwrap();
    Trainer::new(model, opt, cross_entropy)
        .metrics(classification_metrics(3))
        .schedule_per_batch(sched)
        .callback(
            EarlyStopping::new("val_loss")
                .patience(50)
                .unwrap()
                .restore_best_weights(true),
        )
        .progress(strata_train::ProgressMode::Quiet)
        .run_target(RunTarget::At(dir.to_path_buf()))
        .report(false)
        .seed(seed)
}

#[test]
fn two_epochs_then_resume_then_two_equal_four_epochs_bit_for_bit() {
    let _serial = serial();
    let (train, val) = loaders(5);
    let dir = temp_dir("resume");
    let mut whole = trainer(5, &dir.join("whole"));
    let full = whole.fit(&train, Some(&val), 4).unwrap();

    let mut first = trainer(5, &dir.join("first"));
    first.fit(&train, Some(&val), 2).unwrap();
    let ckpt = dir.join("first/checkpoints/last.safetensors");
    assert!(ckpt.exists());

    // A new process would build everything afresh (another seed even: resume overrides).
    let mut second = trainer(99, &dir.join("second"));
    second.resume(&ckpt).unwrap();
    assert_eq!(second.completed().0, 2);
    let resumed = second.fit(&train, Some(&val), 4).unwrap();

    assert_eq!(
        resumed.len(),
        4,
        "the resumed history holds all four epochs"
    );
    assert_eq!(metric_bits(&resumed), metric_bits(&full));
    assert_eq!(weights_bits(second.model()), weights_bits(whole.model()));
    assert_eq!(second.completed(), whole.completed());
    assert_eq!(
        second.optimizer().lr().to_bits(),
        whole.optimizer().lr().to_bits()
    );
    std::fs::remove_dir_all(&dir).ok();
}
