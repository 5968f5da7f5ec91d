//! Every wrong input to a loss is an error that names the loss, the shapes and what was
//! expected; huge logits give finite losses and gradients; edge cases follow PyTorch.

use strata_core::{DType, Tensor};
use strata_nn::{
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss,
    mse_loss, nll_loss, smooth_l1_loss, BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss,
    Reduction,
};

fn t64(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape).unwrap()
}

fn labels(v: &[i64], shape: &[usize]) -> Tensor {
    Tensor::from_slice(v, shape).unwrap()
}

fn message(r: strata_nn::Result<Tensor>) -> String {
    match r {
        Ok(t) => panic!("expected an error, got a tensor of shape {:?}", t.shape()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn class_losses_report_bad_targets_shapes_and_weights() {
    let logits = Tensor::zeros(&[6, 5]);
    // Target dtype.
    assert_eq!(
        message(cross_entropy(
            &logits,
            &Tensor::zeros_dtype(&[6], DType::Bool)
        )),
        "cross_entropy: expected dtype i64 for the target (class indices of shape [6]), got bool"
    );
    assert_eq!(
        message(nll_loss(&logits, &Tensor::zeros(&[6]))),
        "nll_loss: expected dtype i64 for the target (class indices of shape [6]), got f32"
    );
    assert_eq!(
        message(cross_entropy(&logits, &Tensor::zeros(&[6]))),
        "cross_entropy: expected dtype i64 for the target (class indices of shape [6]), got f32"
    );
    // A float target of another shape: neither indices nor probabilities.
    assert_eq!(
        message(cross_entropy(&logits, &Tensor::zeros(&[5]))),
        "cross_entropy: got shape [5], expected a target of shape [6] (class indices, i64) or \
         [6, 5] (class probabilities, the input's dtype) for the input [6, 5]"
    );
    // Out of range, both sides; the ignore index is allowed.
    let bad = labels(&[0, 1, 5, 2, 3, 4], &[6]);
    assert_eq!(
        message(cross_entropy(&logits, &bad)),
        "cross_entropy: invalid argument `target`: class index 5 (element 2 of the target) is \
         out of range for 5 classes: expected a value in 0..=4 or the ignore_index -100"
    );
    let negative = labels(&[0, 1, 2, -1, 3, 4], &[6]);
    assert!(message(nll_loss(&logits, &negative)).contains(
        "nll_loss: invalid argument `target`: class index -1 (element 3 of the target) is out \
         of range for 5 classes"
    ));
    let ignored = labels(&[0, 1, 2, -100, 3, 9], &[6]);
    assert!(cross_entropy(&logits, &ignored).is_err());
    assert!(CrossEntropyLoss::new()
        .ignore_index(9)
        .forward(&logits, &ignored)
        .is_err()); // -100 is now out of range
    let ok = labels(&[0, 1, 2, 9, 3, 9], &[6]);
    assert!(CrossEntropyLoss::new()
        .ignore_index(9)
        .forward(&logits, &ok)
        .is_ok());
    // Batch size mismatch.
    assert_eq!(
        message(cross_entropy(&logits, &labels(&[0; 5], &[5]))),
        "cross_entropy: got shape [5], expected a target of shape [6]: one class index per \
         sample of the input [6, 5] (batch size 6)"
    );
    assert_eq!(
        message(nll_loss(
            &Tensor::zeros(&[2, 3, 4, 4]),
            &labels(&[0; 32], &[2, 4, 4, 1])
        )),
        "nll_loss: got shape [2, 4, 4, 1], expected a target of shape [2, 4, 4]: one class \
         index per position of the input [2, 3, 4, 4] (batch size 2)"
    );
    // Weight length.
    assert_eq!(
        message(
            CrossEntropyLoss::new()
                .weight(Tensor::ones(&[4]))
                .forward(&logits, &labels(&[0; 6], &[6]))
        ),
        "cross_entropy: got shape [4], expected a class weight of shape [5]: one per class of \
         the input [6, 5]"
    );
    assert!(message(
        NLLLoss::new()
            .weight(Tensor::ones(&[5, 1]))
            .forward(&logits, &labels(&[0; 6], &[6]))
    )
    .starts_with("nll_loss: got shape [5, 1], expected a class weight of shape [5]"));
    // Input rank and dtype.
    assert_eq!(
        message(cross_entropy(&Tensor::scalar(1.0f32), &labels(&[0], &[]))),
        "cross_entropy: got shape [], expected an input of shape [C], [N, C] or [N, C, d1, ...] \
         (classes along dimension 1)"
    );
    assert_eq!(
        message(cross_entropy(
            &labels(&[0; 6], &[2, 3]),
            &labels(&[0; 2], &[2])
        )),
        "cross_entropy: expected dtype f32 or f64 for the input (class scores), got i64"
    );
    // Options.
    assert_eq!(
        message(
            CrossEntropyLoss::new()
                .label_smoothing(1.5)
                .forward(&logits, &labels(&[0; 6], &[6]))
        ),
        "cross_entropy: invalid configuration: label_smoothing must be in [0, 1], got 1.5"
    );
    assert_eq!(
        message(
            CrossEntropyLoss::new()
                .ignore_index(0)
                .forward(&logits, &Tensor::zeros(&[6, 5]))
        ),
        "cross_entropy: invalid configuration: ignore_index (0) is not supported with \
         class-probability targets"
    );
    assert_eq!(
        message(cross_entropy(
            &logits,
            &Tensor::zeros_dtype(&[6, 5], DType::F64)
        )),
        "cross_entropy: dtypes f32 and f64 differ; convert one with `to_dtype` first"
    );
}

#[test]
fn elementwise_losses_report_bad_inputs() {
    let x = Tensor::zeros(&[4, 3]);
    assert_eq!(
        message(mse_loss(&x, &Tensor::zeros(&[4, 2]))),
        "mse_loss: shapes [4, 3] and [4, 2] differ: the input and the target must have the \
         same shape"
    );
    assert!(
        message(l1_loss(&x, &Tensor::zeros(&[3]))).starts_with("l1_loss: shapes [4, 3] and [3]")
    );
    assert_eq!(
        message(huber_loss(
            &x,
            &Tensor::zeros_dtype(&[4, 3], DType::I64),
            1.0
        )),
        "huber_loss: expected dtype f32 or f64 for the target, got i64"
    );
    assert_eq!(
        message(smooth_l1_loss(
            &x,
            &Tensor::zeros_dtype(&[4, 3], DType::F64),
            1.0
        )),
        "smooth_l1_loss: dtypes f32 and f64 differ; convert one with `to_dtype` first"
    );
    assert_eq!(
        message(smooth_l1_loss(&x, &x, -1.0)),
        "smooth_l1_loss: invalid configuration: beta must be non-negative, got -1"
    );
    assert!(message(huber_loss(&x, &x, f64::NAN)).contains("delta must be positive"));
    // BCE range checks.
    let p = t64(&[0.2, 1.5, 0.3], &[3]);
    let t = t64(&[0.0, 1.0, 1.0], &[3]);
    assert_eq!(
        message(binary_cross_entropy(&p, &t)),
        "binary_cross_entropy: invalid argument `input`: every element must lie in [0, 1], but \
         element 1 of the input (shape [3]) is 1.5"
    );
    assert!(message(binary_cross_entropy(&t, &p))
        .contains("invalid argument `target`: every element must lie in [0, 1], but element 1"));
    let nan = t64(&[0.2, f64::NAN, 0.3], &[3]);
    assert!(message(binary_cross_entropy(&nan, &t))
        .contains("element 1 of the input (shape [3]) is NaN"));
    assert_eq!(
        message(binary_cross_entropy(&t, &labels(&[0, 1, 1], &[3]))),
        "binary_cross_entropy: expected dtype f32 or f64 for the target, got i64"
    );
    // Weights that do not broadcast to the input.
    assert_eq!(
        message(BCELoss::new().weight(Tensor::ones(&[4])).forward(&x, &x)),
        "binary_cross_entropy: got shape [4], expected weight broadcastable to the input shape \
         [4, 3]"
    );
    assert_eq!(
        message(
            BCEWithLogitsLoss::new()
                .pos_weight(Tensor::ones(&[2, 4, 3]))
                .forward(&x, &x)
        ),
        "binary_cross_entropy_with_logits: got shape [2, 4, 3], expected pos_weight \
         broadcastable to the input shape [4, 3]"
    );
    assert!(message(binary_cross_entropy_with_logits(
        &x,
        &Tensor::zeros(&[3, 4])
    ))
    .contains("shapes [4, 3] and [3, 4] differ"));
}

/// Every element finite.
fn finite(t: &Tensor) -> bool {
    t.to_vec_f64().iter().all(|v| v.is_finite())
}

#[test]
fn huge_logits_give_finite_losses_and_gradients() {
    for dtype in [DType::F32, DType::F64] {
        let x = t64(
            &[
                1e4, -1e4, 0.0, -1e4, -1e4, 1e4, 1e4, 1e4, -1e4, 0.0, 1.0, -1e4,
            ],
            &[4, 3],
        )
        .to_dtype(dtype)
        .requires_grad_();
        let target = labels(&[0, 1, 2, 1], &[4]);
        let ce = CrossEntropyLoss::new()
            .weight(t64(&[1.0, 2.0, 0.5], &[3]))
            .label_smoothing(0.1)
            .reduction(Reduction::None);
        let each = ce.forward(&x, &target).unwrap();
        assert!(finite(&each), "{dtype}: {:?}", each.to_vec_f64());
        // Row 0 predicts its target with certainty (only smoothing costs anything); row 1
        // misses by 2e4 with weight 2.
        let v = each.to_vec_f64();
        let row1 = 0.9 * 2.0 * 2e4 + 0.1 / 3.0 * (1.0 * 2e4 + 2.0 * 2e4);
        assert!(
            (v[1] - row1).abs() < 1e-3 * row1,
            "{dtype}: {} vs {row1}",
            v[1]
        );
        let g = each.sum_all().unwrap().backward().unwrap();
        let g = g.get(&x).unwrap();
        assert!(finite(g), "{dtype}: {:?}", g.to_vec_f64());
        // Without weights or smoothing each row's gradient (softmax - one_hot) sums to 0.
        let plain = cross_entropy(&x, &target).unwrap();
        assert!(finite(&plain));
        let gp = plain.backward().unwrap();
        let gp = gp.get(&x).unwrap().to_vec_f64();
        for row in gp.chunks(3) {
            assert!(row.iter().sum::<f64>().abs() < 1e-6, "{dtype}: {row:?}");
        }
        // Logits with targets.
        let bx = Tensor::from_slice(&[1e4, -1e4, 1e4, -1e4], &[4])
            .unwrap()
            .to_dtype(dtype)
            .requires_grad_();
        let bt = t64(&[1.0, 0.0, 0.0, 1.0], &[4]).to_dtype(dtype);
        let bl = BCEWithLogitsLoss::new()
            .pos_weight(t64(&[3.0], &[1]))
            .reduction(Reduction::None)
            .forward(&bx, &bt)
            .unwrap();
        let v = bl.to_vec_f64();
        assert_eq!(&v[..2], &[0.0, 0.0], "{dtype}");
        assert!(
            (v[2] - 1e4).abs() < 1e-3 && (v[3] - 3e4).abs() < 1e-2,
            "{dtype}: {v:?}"
        );
        let g = bl.sum_all().unwrap().backward().unwrap();
        assert_eq!(
            g.get(&bx).unwrap().to_vec_f64(),
            vec![0.0, 0.0, 1.0, -3.0],
            "{dtype}"
        );
        // Probabilities of exactly 0 and 1: logs clamp at -100.
        let p = t64(&[0.0, 1.0, 1.0], &[3]).to_dtype(dtype);
        let t = t64(&[1.0, 0.0, 1.0], &[3]).to_dtype(dtype);
        let l = BCELoss::new()
            .reduction(Reduction::None)
            .forward(&p, &t)
            .unwrap();
        assert_eq!(l.to_vec_f64(), vec![100.0, 100.0, 0.0], "{dtype}");
    }
}

#[test]
fn all_ignored_targets_give_a_nan_mean_and_zero_gradients_like_pytorch() {
    let x = Tensor::randn(&[3, 4]).requires_grad_();
    let target = labels(&[-100, -100, -100], &[3]);
    let loss = cross_entropy(&x, &target).unwrap();
    assert!(loss.item().unwrap().is_nan());
    let g = loss.backward().unwrap();
    assert_eq!(g.get(&x).unwrap().to_vec::<f32>().unwrap(), vec![0.0; 12]);
    let sum = CrossEntropyLoss::new()
        .reduction(Reduction::Sum)
        .forward(&x, &target)
        .unwrap();
    assert_eq!(sum.item().unwrap(), 0.0);
}

#[test]
fn label_smoothing_of_one_is_the_uniform_target() {
    // With ε = 1 the target is uniform whatever the class, so every class gives the same loss.
    let x = Tensor::randn(&[2, 4]);
    let ce = CrossEntropyLoss::new()
        .label_smoothing(1.0)
        .reduction(Reduction::None);
    let a = ce.forward(&x, &labels(&[0, 1], &[2])).unwrap();
    let b = ce.forward(&x, &labels(&[3, 2], &[2])).unwrap();
    assert_eq!(a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    // And equals the probability-target loss with uniform probabilities.
    let uniform = Tensor::full(&[2, 4], 0.25, DType::F32);
    let c = CrossEntropyLoss::new()
        .reduction(Reduction::None)
        .forward(&x, &uniform)
        .unwrap();
    let (a, c) = (a.to_vec::<f32>().unwrap(), c.to_vec::<f32>().unwrap());
    for (p, q) in a.iter().zip(&c) {
        assert!((p - q).abs() < 1e-5, "{a:?} vs {c:?}");
    }
}

#[test]
fn unbatched_input_gives_a_scalar_per_sample_loss() {
    let x = t64(&[1.0, 2.0, 3.0], &[3]);
    let each = CrossEntropyLoss::new()
        .reduction(Reduction::None)
        .forward(&x, &labels(&[2], &[]))
        .unwrap();
    assert_eq!(each.shape(), &[] as &[usize]);
    let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
    assert!((each.item().unwrap() - (lse - 3.0)).abs() < 1e-12);
}
