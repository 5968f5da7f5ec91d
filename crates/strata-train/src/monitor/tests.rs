//! The monitors on real layers and real backward passes, and the warning rules on
//! hand-made sequences.

use super::activations::output_figures;
use super::*;
use crate::records::{HistogramKind, MonitorRecord, WarningKind};
use strata_core::{DType, Gradients, Tensor};
use strata_nn::init::{FanMode, Init, Nonlinearity};
use strata_nn::{
    cross_entropy, Forward, Linear, ModuleExt, Optimizer, ReLU, Sequential, Sigmoid, Tanh, SGD,
};

fn every_step() -> MonitorConfig {
    MonitorConfig {
        every_steps: 1,
        histogram_every_steps: 0,
        ..MonitorConfig::default()
    }
}

/// One optimiser step with the monitor's calls in the trainer's order.
fn train_step(
    model: &Sequential,
    opt: &mut SGD,
    monitor: &mut Monitor,
    step: u64,
    x: &Tensor,
    labels: &Tensor,
) -> Option<MonitorRecord> {
    let out = monitor.forward(step, || model.forward(x)).unwrap();
    let loss = cross_entropy(&out, labels).unwrap();
    monitor.on_loss(step, 1, loss.item().unwrap());
    let grads = loss.backward().unwrap();
    monitor.after_backward(model, &grads, step, 1);
    opt.step(&grads).unwrap();
    monitor.after_update(model, step, 1)
}

fn kinds(monitor: &Monitor) -> Vec<(WarningKind, Option<String>)> {
    monitor
        .warnings()
        .iter()
        .map(|w| (w.kind, w.subject.clone()))
        .collect()
}

#[test]
fn schedule_of_monitored_and_histogram_steps() {
    let model = Linear::new(2, 2).unwrap();
    let m = Monitor::new(&model, MonitorConfig::default());
    let due: Vec<u64> = (1..=1001).filter(|&s| m.is_due(s)).collect();
    assert_eq!(due[..4], [1, 50, 100, 150]);
    assert_eq!(due.len(), 1 + 20);
    let hist: Vec<u64> = (1..=1001).filter(|&s| m.histograms_due(s)).collect();
    assert_eq!(hist, [1, 500, 1000]);
    // Histogram steps are monitored even off the monitoring schedule.
    let config = MonitorConfig {
        every_steps: 50,
        histogram_every_steps: 30,
        ..MonitorConfig::default()
    };
    let m = Monitor::new(&model, config);
    assert!(m.is_due(30) && m.histograms_due(30) && m.is_due(50) && !m.histograms_due(50));
    assert!(!m.is_due(31));
    let off = MonitorConfig {
        every_steps: 0,
        histogram_every_steps: 0,
        ..MonitorConfig::default()
    };
    let m = Monitor::new(&model, off);
    assert!((1..200).all(|s| !m.is_due(s) && !m.histograms_due(s)));
}

#[test]
fn dead_fraction_and_saturation_hand_counted() {
    // Units 0 and 4 are zero for all four examples; the others are non-zero somewhere.
    #[rustfmt::skip]
    let y = Tensor::from_vec(vec![
        0.0f32, 1.0, 0.0, 0.0, 0.0, 2.0,
        0.0,    0.0, 3.0, 0.0, 0.0, 0.0,
        0.0,    0.0, 0.0, 0.5, 0.0, 0.0,
        0.0,    0.0, 0.0, 0.0, 0.0, 1.0,
    ], &[4, 6]).unwrap();
    let f = output_figures("ReLU", &y);
    assert_eq!(f.dead, Some((2, 6)));
    assert_eq!(f.saturated, None);
    assert_eq!((f.moments.count, f.moments.sum), (24, 7.5));
    // Units are all non-batch positions: as [2, 3, 4], 12 units per example; position j
    // is alive where flat element j or 12 + j is non-zero: the non-zeros are at flat 1, 5,
    // 8, 15 and 23, so units 1, 5, 8, 3 and 11 are alive and 7 are dead.
    let z = y.reshape(&[2, 3, 4]).unwrap();
    assert_eq!(output_figures("ReLU", &z).dead, Some((7, 12)));
    // A strided f64 view takes the converting path and agrees.
    let t = y
        .to_dtype(DType::F64)
        .transpose(0, 1)
        .unwrap()
        .transpose(0, 1)
        .unwrap();
    assert_eq!(output_figures("ReLU", &t).dead, Some((2, 6)));
    assert_eq!(output_figures("LeakyReLU", &y).dead, None);

    let s = Tensor::from_vec(vec![0.005f32, 0.5, 0.995, 0.3, 0.02, 0.9999], &[2, 3]).unwrap();
    let f = output_figures("Sigmoid", &s);
    assert_eq!((f.saturated, f.dead), (Some(3), None));
    let th = Tensor::from_vec(vec![-0.995f32, 0.5, 0.999, -0.2], &[2, 2]).unwrap();
    assert_eq!(output_figures("Tanh", &th).saturated, Some(2));
}

#[test]
fn relu_after_a_very_negative_bias_is_dead_and_warns() {
    let first = Linear::new(8, 16).unwrap();
    first
        .bias()
        .unwrap()
        .assign(&Tensor::full(&[16], -100.0, DType::F32))
        .unwrap();
    let model = Sequential::new()
        .push(first)
        .push(ReLU::new())
        .push(Linear::new(16, 3).unwrap());
    let mut opt = SGD::new(model.parameters(), 0.01).unwrap();
    let mut monitor = Monitor::new(&model, every_step());
    let x = Tensor::randn(&[32, 8]);
    let labels = Tensor::randint(0, 3, &[32]).unwrap();
    for step in 1..=3 {
        let r = train_step(&model, &mut opt, &mut monitor, step, &x, &labels).unwrap();
        let names: Vec<&str> = r.activations.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["0", "1", "2"]);
        let relu = &r.activations[1];
        assert_eq!(relu.layer_type, "ReLU");
        assert_eq!(relu.dead_fraction, Some(1.0));
        assert_eq!((relu.mean, relu.std), (0.0, 0.0));
        assert_eq!(r.activations[0].dead_fraction, None);
        let dead_warned = kinds(&monitor).contains(&(WarningKind::DeadRelu, Some("1".into())));
        assert_eq!(dead_warned, step == 3, "step {step}");
    }
    let w = monitor
        .warnings()
        .iter()
        .find(|w| w.kind == WarningKind::DeadRelu)
        .unwrap();
    assert_eq!(w.step, 3);
    assert_eq!(
        w.message,
        "dead ReLU: 100% of 1's units output zero for every example of the batch, over 3 checks"
    );
    // Raised once: a fourth dead check adds nothing.
    monitor.take_new_warnings();
    train_step(&model, &mut opt, &mut monitor, 4, &x, &labels);
    assert!(!monitor
        .take_new_warnings()
        .iter()
        .any(|w| w.kind == WarningKind::DeadRelu));
}

#[test]
fn sigmoid_after_huge_weights_is_saturated_and_warns() {
    let weight = Tensor::randn(&[16, 8]).mul_scalar(1000.0).unwrap();
    let model = Sequential::new()
        .push(Linear::from_weights(weight, Some(Tensor::zeros(&[16]))).unwrap())
        .push(Sigmoid::new())
        .push(Linear::new(16, 3).unwrap());
    let mut opt = SGD::new(model.parameters(), 0.01).unwrap();
    let mut monitor = Monitor::new(&model, every_step());
    let x = Tensor::randn(&[32, 8]);
    let labels = Tensor::randint(0, 3, &[32]).unwrap();
    for step in 1..=3 {
        let r = train_step(&model, &mut opt, &mut monitor, step, &x, &labels).unwrap();
        let sat = r.activations[1].saturated_fraction.unwrap();
        assert!(sat > 0.98, "saturated fraction {sat}");
        assert_eq!(r.activations[1].dead_fraction, None);
    }
    let w = monitor
        .warnings()
        .iter()
        .find(|w| w.kind == WarningKind::Saturation)
        .unwrap();
    assert_eq!((w.step, w.subject.as_deref()), (3, Some("1")));
    assert!(w
        .message
        .contains("of 1's outputs (Sigmoid) are within 1% of its bounds"));
}

/// 20 Linear layers of width 64 on 784 inputs, `act` after all but the last.
fn deep_mlp(act: fn() -> Box<dyn Forward>, he_init: bool) -> Sequential {
    let mut model = Sequential::new();
    for i in 0..20 {
        let (fan_in, fan_out) = (if i == 0 { 784 } else { 64 }, if i == 19 { 10 } else { 64 });
        let layer = Linear::new(fan_in, fan_out).unwrap();
        if he_init {
            let he = Init::KaimingNormal {
                mode: FanMode::FanIn,
                nonlinearity: Nonlinearity::Relu,
            };
            he.apply(layer.weight()).unwrap();
            Init::Zeros.apply(layer.bias().unwrap()).unwrap();
        }
        model = model.push(layer);
        if i < 19 {
            model = model.push_boxed(act());
        }
    }
    model
}

/// Trains `model` for 4 SGD steps on MNIST-like random data; the first/last weight
/// gradient-norm ratios of the records, and the monitor.
fn train_deep(model: &Sequential) -> (Vec<f64>, Monitor) {
    let x = Tensor::rand(&[64, 784]);
    let labels = Tensor::randint(0, 10, &[64]).unwrap();
    let mut opt = SGD::new(model.parameters(), 0.1).unwrap();
    let mut monitor = Monitor::new(model, every_step());
    let mut ratios = Vec::new();
    for step in 1..=4 {
        let r = train_step(model, &mut opt, &mut monitor, step, &x, &labels).unwrap();
        let (first, last) = (&r.params[0], &r.params[r.params.len() - 2]);
        assert_eq!(
            (first.name.as_str(), last.name.as_str()),
            ("0.weight", "38.weight")
        );
        ratios.push(first.grad_norm / last.grad_norm);
    }
    (ratios, monitor)
}

#[test]
fn deep_sigmoid_mlp_vanishes_and_he_initialised_relu_mlp_does_not() {
    let (ratios, monitor) = train_deep(&deep_mlp(|| Box::new(Sigmoid::new()), false));
    assert!(
        ratios.iter().all(|&r| r < 1e-6),
        "sigmoid ratios {ratios:?}"
    );
    let w = monitor
        .warnings()
        .iter()
        .find(|w| w.kind == WarningKind::VanishingGradients)
        .unwrap();
    assert_eq!((w.step, w.subject.as_deref()), (3, Some("0.weight")));
    assert!(w
        .message
        .starts_with("vanishing gradients: 0.weight's gradient norm "));
    assert!(w.message.contains(" of 38.weight's ("), "{}", w.message);

    let (ratios, monitor) = train_deep(&deep_mlp(|| Box::new(ReLU::new()), true));
    assert!(ratios.iter().all(|&r| r > 1e-2), "relu ratios {ratios:?}");
    assert!(!kinds(&monitor)
        .iter()
        .any(|(k, _)| *k == WarningKind::VanishingGradients));
}

#[test]
fn update_ratio_of_sgd_is_lr_times_grad_norm_over_weight_norm() {
    let w = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    let b = Tensor::from_vec(vec![0.5f32, -0.5], &[2]).unwrap();
    let model = Sequential::new().push(Linear::from_weights(w, Some(b)).unwrap());
    let mut opt = SGD::new(model.parameters(), 0.1).unwrap();
    let mut monitor = Monitor::new(&model, every_step());
    let out = monitor
        .forward(1, || model.forward(&Tensor::ones(&[2, 3])))
        .unwrap();
    // d sum(x Wᵀ + b) / dW = 2 everywhere (two rows of ones), / db = 2.
    let grads = out.sum_all().unwrap().backward().unwrap();
    monitor.after_backward(&model, &grads, 1, 1);
    opt.step(&grads).unwrap();
    let r = monitor.after_update(&model, 1, 1).unwrap();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs();
    assert!(close(r.global_grad_norm, 32f64.sqrt()));
    let (pw, pb) = (&r.params[0], &r.params[1]);
    assert_eq!((pw.name.as_str(), pb.name.as_str()), ("0.weight", "0.bias"));
    assert!(close(pw.grad_norm, 24f64.sqrt()) && close(pw.weight_norm, 91f64.sqrt()));
    assert!(close(
        pw.update_ratio.unwrap(),
        0.1 * 24f64.sqrt() / 91f64.sqrt()
    ));
    assert!(close(pb.grad_norm, 8f64.sqrt()) && close(pb.weight_norm, 0.5f64.sqrt()));
    assert!(close(
        pb.update_ratio.unwrap(),
        0.1 * 8f64.sqrt() / 0.5f64.sqrt()
    ));
    // The root model reports under its type when it is itself a layer.
    let root = Linear::new(3, 2).unwrap();
    let mut m = Monitor::new(&root, every_step());
    m.forward(1, || root.forward(&Tensor::ones(&[1, 3])))
        .unwrap();
    let grads = Gradients::new();
    m.after_backward(&root, &grads, 1, 1);
    let r = m.after_update(&root, 1, 1).unwrap();
    assert_eq!(r.activations[0].name, "Linear");
    // No gradient reached the parameters: norm 0 and no update.
    assert_eq!(
        (r.params[0].grad_norm, r.params[0].update_ratio),
        (0.0, Some(0.0))
    );
}

#[test]
fn histograms_of_weights_gradients_and_activations() {
    let model = Sequential::new()
        .push(Linear::new(5, 7).unwrap())
        .push(Tanh::new())
        .push(Linear::new(7, 3).unwrap());
    let config = MonitorConfig {
        every_steps: 1,
        histogram_every_steps: 3,
        histogram_bins: 10,
        ..MonitorConfig::default()
    };
    let mut monitor = Monitor::new(&model, config);
    let mut opt = SGD::new(model.parameters(), 0.1).unwrap();
    let x = Tensor::randn(&[6, 5]);
    let labels = Tensor::randint(0, 3, &[6]).unwrap();
    let weights_before: Vec<Tensor> = model.parameters().iter().map(|p| p.copy()).collect();
    train_step(&model, &mut opt, &mut monitor, 1, &x, &labels).unwrap();
    let hs = monitor.take_histograms();
    // 4 weight + 4 gradient + 3 activation histograms.
    let count = |k| hs.iter().filter(|h| h.kind == k).count();
    assert_eq!(count(HistogramKind::Weight), 4);
    assert_eq!(count(HistogramKind::Gradient), 4);
    assert_eq!(count(HistogramKind::Activation), 3);
    for h in &hs {
        assert_eq!((h.step, h.epoch), (1, 1));
        assert_eq!(h.counts.iter().sum::<f64>(), h.num, "{}", h.name);
        assert_eq!(*h.bucket_limits.last().unwrap(), h.max);
    }
    // The weight histograms are of the values before the step; min and max match them.
    let names = ["0.weight", "0.bias", "2.weight", "2.bias"];
    for (name, before) in names.iter().zip(&weights_before) {
        let h = hs
            .iter()
            .find(|h| h.kind == HistogramKind::Weight && h.name == *name)
            .unwrap();
        let v = before.to_vec_f64();
        assert_eq!(h.num, v.len() as f64);
        assert_eq!(h.min, v.iter().copied().fold(f64::INFINITY, f64::min));
        assert_eq!(h.max, v.iter().copied().fold(f64::NEG_INFINITY, f64::max));
        assert_eq!(h.counts.len(), 10);
    }
    let act = hs
        .iter()
        .find(|h| h.kind == HistogramKind::Activation && h.name == "1");
    let act = act.unwrap();
    assert!(act.min >= -1.0 && act.max <= 1.0 && act.num == 42.0);
    // Step 2 is monitored without histograms; step 3 has them again.
    train_step(&model, &mut opt, &mut monitor, 2, &x, &labels).unwrap();
    assert!(monitor.take_histograms().is_empty());
    train_step(&model, &mut opt, &mut monitor, 3, &x, &labels).unwrap();
    assert_eq!(monitor.take_histograms().len(), 11);
}
