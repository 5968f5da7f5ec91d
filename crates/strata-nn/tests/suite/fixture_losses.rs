//! Losses against PyTorch (float64 references): values and gradients, in f64 and f32.

use strata_core::{DType, Tensor};
use strata_nn::{
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss, l1_loss,
    mse_loss, nll_loss, smooth_l1_loss, BCEWithLogitsLoss, CrossEntropyLoss, NLLLoss, Reduction,
};
use strata_testutil::{assert_close_f32, assert_close_f64, Fixture};

/// `log_softmax` over dim 1 of a [N, C] tensor, written with core ops (max-free; the
/// fixture's logits are moderate).
fn log_softmax(x: &Tensor) -> Tensor {
    let lse = x.exp().unwrap().sum(&[1], true).unwrap().log().unwrap();
    x.sub(&lse).unwrap()
}

/// Checks loss and gradient of `f(input)` against `loss.{case}` and `{grad_key}.{case}`,
/// in f64 and in f32.
fn check(
    fx: &Fixture,
    input_key: &str,
    grad_key: &str,
    case: &str,
    f: impl Fn(&Tensor) -> strata_nn::Result<Tensor>,
) {
    let expected_loss = fx.get(&format!("loss.{case}"));
    let expected_grad = fx.get(&format!("{grad_key}.{case}"));
    for dtype in [DType::F64, DType::F32] {
        let x = fx.get(input_key).to_dtype(dtype).requires_grad_();
        let loss = f(&x).unwrap_or_else(|e| panic!("{case} {dtype}: {e}"));
        assert_eq!(loss.dtype(), dtype, "{case}: loss dtype");
        let grads = loss.backward().unwrap();
        let grad = grads.get(&x).expect("a gradient for the input");
        let what = format!("{case} {dtype}");
        if dtype == DType::F64 {
            assert_close_f64(&loss, &expected_loss, &format!("{what} loss"));
            assert_close_f64(grad, &expected_grad, &format!("{what} grad"));
        } else {
            assert_close_f32(&loss, &expected_loss, &format!("{what} loss"));
            assert_close_f32(grad, &expected_grad, &format!("{what} grad"));
        }
    }
}

#[test]
fn cross_entropy_cases_match_pytorch() {
    let fx = Fixture::load("cross_entropy");
    let target = fx.get("target");
    assert_eq!(target.dtype(), DType::I64);
    assert!(
        target.to_vec::<i64>().unwrap().contains(&2),
        "the ignore_index case must ignore something"
    );
    let weight = || fx.get("class_weight");
    let (logits, grad) = ("logits", "grad_logits");

    check(&fx, logits, grad, "ce_mean", |x| cross_entropy(x, &target));
    check(&fx, logits, grad, "ce_sum", |x| {
        CrossEntropyLoss::new()
            .reduction(Reduction::Sum)
            .forward(x, &target)
    });
    check(&fx, logits, grad, "ce_weighted", |x| {
        CrossEntropyLoss::new()
            .weight(weight().to_dtype(x.dtype()))
            .forward(x, &target)
    });
    check(&fx, logits, grad, "ce_ignore_index_2", |x| {
        CrossEntropyLoss::new().ignore_index(2).forward(x, &target)
    });
    check(&fx, logits, grad, "ce_label_smoothing_0.1", |x| {
        CrossEntropyLoss::new()
            .label_smoothing(0.1)
            .forward(x, &target)
    });
    check(&fx, logits, grad, "nll_of_log_softmax", |x| {
        nll_loss(&log_softmax(x), &target)
    });
    // The same through the struct API.
    check(&fx, logits, grad, "nll_of_log_softmax", |x| {
        NLLLoss::new().forward(&log_softmax(x), &target)
    });
}

#[test]
fn regression_and_binary_cases_match_pytorch() {
    let fx = Fixture::load("regression_and_binary_losses");
    let (pred, grad) = ("pred", "grad_pred");
    let target = |x: &Tensor| fx.get("target").to_dtype(x.dtype());
    let binary = |x: &Tensor| fx.get("binary_target").to_dtype(x.dtype());

    check(&fx, pred, grad, "mse", |x| mse_loss(x, &target(x)));
    check(&fx, pred, grad, "l1", |x| l1_loss(x, &target(x)));
    check(&fx, pred, grad, "huber_1.0", |x| {
        huber_loss(x, &target(x), 1.0)
    });
    check(&fx, pred, grad, "smooth_l1_0.5", |x| {
        smooth_l1_loss(x, &target(x), 0.5)
    });
    check(&fx, pred, grad, "bce_of_sigmoid", |x| {
        binary_cross_entropy(&x.sigmoid()?, &binary(x))
    });
    check(&fx, pred, grad, "bce_with_logits", |x| {
        binary_cross_entropy_with_logits(x, &binary(x))
    });
    check(&fx, pred, grad, "bce_with_logits_pos_weight", |x| {
        BCEWithLogitsLoss::new()
            .pos_weight(fx.get("pos_weight").to_dtype(x.dtype()))
            .forward(x, &binary(x))
    });
}
