//! The warning rules through the monitor's calls, on hand-made gradient, weight and loss
//! sequences.

use super::*;
use crate::records::WarningKind;
use strata_core::{DType, Gradients, Tensor};
use strata_nn::{Linear, ModuleExt, Sequential};

fn every_step() -> MonitorConfig {
    MonitorConfig {
        every_steps: 1,
        histogram_every_steps: 0,
        ..MonitorConfig::default()
    }
}

#[test]
fn update_ratio_warns_after_three_large_steps() {
    let model = Sequential::new().push(Linear::new(4, 4).unwrap());
    let mut monitor = Monitor::new(&model, every_step());
    let weight = model.named_parameters()[0].1.clone();
    for step in 1..=3 {
        let mut grads = Gradients::new();
        grads.insert(weight.tensor(), Tensor::ones(&[4, 4]));
        monitor.after_backward(&model, &grads, step, 1);
        // A step as large as the weight itself: ratio 1.
        let doubled = weight.tensor().mul_scalar(2.0).unwrap().detach();
        weight.assign(&doubled).unwrap();
        let r = monitor.after_update(&model, step, 1).unwrap();
        assert!((r.params[0].update_ratio.unwrap() - 1.0).abs() < 1e-6);
        let warned = monitor.warnings().iter().any(|w| {
            w.kind == WarningKind::UpdateRatio && w.subject.as_deref() == Some("0.weight")
        });
        assert_eq!(warned, step == 3);
    }
    // Biases are not judged.
    assert_eq!(monitor.warnings().len(), 1);
}

#[test]
fn exploding_from_a_scaled_gradient_sequence() {
    let model = Linear::new(3, 2).unwrap();
    let mut monitor = Monitor::new(&model, every_step());
    let params = model.parameters();
    // Global norm = scale · √8 (six weight and two bias gradients of `scale`).
    let scales = [1.0, 1.2, 0.8, 1.0, 50.0, 100.0];
    for (i, &scale) in scales.iter().enumerate() {
        let step = i as u64 + 1;
        let mut grads = Gradients::new();
        for p in &params {
            grads.insert(p.tensor(), Tensor::full(p.shape(), scale, DType::F32));
        }
        monitor.after_backward(&model, &grads, step, 1);
        let new = monitor.take_new_warnings();
        let exploding: Vec<_> = new
            .iter()
            .filter(|w| w.kind == WarningKind::ExplodingGradients)
            .collect();
        // 50 is 50× the median of the four before it (1); 100 is 100× the median (1) of the
        // last five.
        assert_eq!(exploding.len(), usize::from(step == 6), "step {step}");
        if step == 6 {
            assert_eq!(
                exploding[0].message,
                "exploding gradients: the global gradient norm 2.8e2 is 100× the median of \
                 the previous 5 checks (2.8e0)"
            );
        }
    }
    // Non-finite norms would warn too, but exploding gradients are raised once.
    let mut grads = Gradients::new();
    grads.insert(
        params[0].tensor(),
        Tensor::full(&[2, 3], f64::NAN, DType::F32),
    );
    monitor.after_backward(&model, &grads, 7, 1);
    assert!(monitor.take_new_warnings().is_empty());
    let mut fresh = Monitor::new(&model, every_step());
    fresh.after_backward(&model, &grads, 1, 1);
    assert!(fresh.take_new_warnings()[0]
        .message
        .contains("is NaN (non-finite)"));
}

#[test]
fn loss_spike_from_fed_losses() {
    let model = Linear::new(2, 2).unwrap();
    let mut monitor = Monitor::new(&model, MonitorConfig::default());
    // Before 20 losses nothing is judged, and non-finite losses never are.
    monitor.on_loss(1, 1, 1.0);
    monitor.on_loss(2, 1, 100.0);
    assert!(monitor.take_new_warnings().is_empty());
    let mut monitor = Monitor::new(&model, MonitorConfig::default());
    for step in 1..=20 {
        monitor.on_loss(step, 1, 1.0);
    }
    monitor.on_loss(21, 1, 2.9); // below 3× the mean of 1
    monitor.on_loss(22, 1, f64::NAN);
    assert!(monitor.warnings().is_empty());
    monitor.on_loss(23, 2, 5.0); // mean of the last 20 is (19 + 2.9) / 20 = 1.095
    let w = monitor.take_new_warnings();
    assert_eq!(w.len(), 1);
    assert_eq!(
        (w[0].kind, w[0].step, w[0].epoch),
        (WarningKind::LossSpike, 23, 2)
    );
    assert_eq!(
        w[0].message,
        "loss spike: batch loss 5.0000 is 4.6× the mean of the previous 20 (1.0950)"
    );

    // A run that started at 2.3 and fell to about 0.04: a hard batch at 0.19 (a rise of
    // 0.15, under a tenth of 2.3) passes, one at 0.5 does not.
    let mut monitor = Monitor::new(&model, MonitorConfig::default());
    for step in 1..=20 {
        monitor.on_loss(step, 1, 2.3);
    }
    for step in 21..=60 {
        monitor.on_loss(step, 2, 0.038 + 0.002 * (step % 3) as f64);
    }
    monitor.on_loss(61, 3, 0.19);
    assert!(monitor.take_new_warnings().is_empty());
    monitor.on_loss(62, 3, 0.5);
    assert_eq!(monitor.take_new_warnings()[0].kind, WarningKind::LossSpike);
}

#[test]
fn overfitting_from_fed_epochs() {
    let model = Linear::new(2, 2).unwrap();
    let mut monitor = Monitor::new(&model, MonitorConfig::default());
    let epochs = [
        (1.0, Some(0.90)),
        (0.8, Some(0.60)),
        (0.7, None), // not evaluated: left out
        (0.6, Some(0.62)),
        (0.5, Some(0.65)),
    ];
    for (i, &(train, val)) in epochs.iter().enumerate() {
        monitor.on_epoch_end(i as u64 + 1, 100 * (i as u64 + 1), train, val);
    }
    assert!(monitor.warnings().is_empty(), "two rises only");
    monitor.on_epoch_end(6, 600, 0.4, Some(0.7));
    let w = monitor.take_new_warnings();
    assert_eq!(
        (w[0].kind, w[0].epoch, w[0].step),
        (WarningKind::Overfitting, 6, 600)
    );
    assert!(w[0]
        .message
        .contains("(0.6000 -> 0.6200 -> 0.6500 -> 0.7000, epochs 2-6)"));
    assert!(w[0]
        .message
        .ends_with("training loss fell (0.8000 -> 0.4000)"));
}
