//! Softmax, log-softmax and logsumexp against PyTorch (float64 reference): values and
//! gradients of L = sum(out * grad_out), in f64 and in f32.

use strata_core::{DType, Tensor};
use strata_testutil::{assert_close_f32, assert_close_f64, Fixture};

type Op = fn(&Tensor) -> strata_core::Result<Tensor>;

/// Every case of the fixture: its key suffix and the op.
const CASES: [(&str, Op); 4] = [
    ("softmax_dim0", |x| x.softmax(0)),
    ("softmax_dim1", |x| x.softmax(1)),
    ("log_softmax_dim1", |x| x.log_softmax(-1)),
    ("logsumexp_dim1", |x| x.logsumexp(&[1], false)),
];

fn check(fx: &Fixture, dtype: DType) {
    for (case, op) in CASES {
        let x = fx.get("input").to_dtype(dtype).requires_grad_();
        let y = op(&x).unwrap();
        let grad_out = fx.get(&format!("grad_out.{case}")).to_dtype(dtype);
        let g = y.backward_with(&grad_out).unwrap();
        let gx = g.get(&x).unwrap();
        assert_eq!(y.dtype(), dtype);
        assert_eq!(gx.dtype(), dtype);
        let (want_y, want_g) = (
            fx.get(&format!("out.{case}")),
            fx.get(&format!("grad_input.{case}")),
        );
        if dtype == DType::F64 {
            assert_close_f64(&y, &want_y, &format!("{case} forward"));
            assert_close_f64(gx, &want_g, &format!("{case} backward"));
        } else {
            assert_close_f32(&y, &want_y, &format!("{case} f32 forward"));
            assert_close_f32(gx, &want_g, &format!("{case} f32 backward"));
        }
    }
}

#[test]
fn softmax_family_matches_pytorch_in_f64() {
    check(&Fixture::load("softmax_family"), DType::F64);
}

#[test]
fn softmax_family_matches_pytorch_in_f32() {
    check(&Fixture::load("softmax_family"), DType::F32);
}

#[test]
fn the_fixture_input_through_a_transposed_view_gives_the_same_result() {
    // softmax over dim 0 of x equals softmax over dim 1 of x^T, transposed back: the
    // strided path must agree with the fixture too.
    let fx = Fixture::load("softmax_family");
    let xt = fx.get("input").t().unwrap().contiguous().requires_grad_();
    let y = xt.t().unwrap().softmax(0).unwrap();
    assert_close_f64(&y, &fx.get("out.softmax_dim0"), "softmax dim 0 of a view");
    let g = y.backward_with(&fx.get("grad_out.softmax_dim0")).unwrap();
    assert_close_f64(
        &g.get(&xt).unwrap().t().unwrap(),
        &fx.get("grad_input.softmax_dim0"),
        "softmax dim 0 of a view, backward",
    );
}
