//! conv2d and conv1d against PyTorch (float64 references): outputs and the gradients of
//! the input, weight and bias, in f64 and in f32.

use strata_core::{Conv1dParams, Conv2dParams, DType, Tensor};
use strata_testutil::{assert_close, Fixture, F32_ATOL, F32_RTOL, F64_ATOL, F64_RTOL};

/// Runs `conv` on the fixture's input and parameters in `dtype`, backpropagates
/// `grad_out`, and compares everything with the references.
fn check(fx: &Fixture, dtype: DType, conv: impl Fn(&Tensor, &Tensor, &Tensor) -> Tensor) {
    let (rtol, atol) = match dtype {
        DType::F64 => (F64_RTOL, F64_ATOL),
        _ => (F32_RTOL, F32_ATOL),
    };
    let get = |k: &str| fx.get(k).to_dtype(dtype).requires_grad_();
    let (x, w, b) = (get("input"), get("param.weight"), get("param.bias"));
    let y = conv(&x, &w, &b);
    let what = |k: &str| format!("{} {dtype} {k}", fx.name);
    assert_close(&y, &fx.get("out"), rtol, atol, &what("out"));
    let g = y
        .backward_with(&fx.get("grad_out").to_dtype(dtype))
        .unwrap();
    for (t, key) in [(&x, "grad_input"), (&w, "grad.weight"), (&b, "grad.bias")] {
        assert_close(g.get(t).unwrap(), &fx.get(key), rtol, atol, &what(key));
    }
}

#[test]
fn conv2d_matches_pytorch() {
    for i in 0..5 {
        let fx = Fixture::load(&format!("conv2d_{i}"));
        let k = fx.cfg_usize("k");
        let (s, p, d) = (
            fx.cfg_usize("stride"),
            fx.cfg_usize("padding"),
            fx.cfg_usize("dilation"),
        );
        let params = Conv2dParams {
            stride: (s, s),
            padding: (p, p),
            dilation: (d, d),
            groups: fx.cfg_usize("groups"),
        };
        assert_eq!(fx.get("param.weight").shape()[2..], [k, k]);
        for dtype in [DType::F64, DType::F32] {
            check(&fx, dtype, |x, w, b| x.conv2d(w, Some(b), params).unwrap());
        }
    }
}

#[test]
fn conv1d_matches_pytorch() {
    let fx = Fixture::load("conv1d_0");
    let params = Conv1dParams {
        stride: fx.cfg_usize("stride"),
        padding: fx.cfg_usize("padding"),
        ..Default::default()
    };
    assert_eq!(fx.get("param.weight").shape()[2], fx.cfg_usize("k"));
    for dtype in [DType::F64, DType::F32] {
        check(&fx, dtype, |x, w, b| x.conv1d(w, Some(b), params).unwrap());
    }
}
