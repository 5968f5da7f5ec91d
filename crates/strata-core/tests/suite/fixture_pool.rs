//! max_pool2d, avg_pool2d and adaptive_avg_pool2d against PyTorch (float64 references):
//! outputs and input gradients, in f64 and in f32.

use strata_core::{AvgPool2dParams, DType, MaxPool2dParams, Tensor};
use strata_testutil::{assert_close, Fixture, F32_ATOL, F32_RTOL, F64_ATOL, F64_RTOL};

fn check(fx: &Fixture, pool: impl Fn(&Tensor) -> Tensor) {
    for dtype in [DType::F64, DType::F32] {
        let (rtol, atol) = match dtype {
            DType::F64 => (F64_RTOL, F64_ATOL),
            _ => (F32_RTOL, F32_ATOL),
        };
        let x = fx.get("input").to_dtype(dtype).requires_grad_();
        let y = pool(&x);
        let what = |k: &str| format!("{} {dtype} {k}", fx.name);
        assert_close(&y, &fx.get("out"), rtol, atol, &what("out"));
        let g = y
            .backward_with(&fx.get("grad_out").to_dtype(dtype))
            .unwrap();
        assert_close(
            g.get(&x).unwrap(),
            &fx.get("grad_input"),
            rtol,
            atol,
            &what("grad_input"),
        );
    }
}

/// (kernel, stride, padding) of a pooling fixture.
fn window(fx: &Fixture) -> (usize, usize, usize) {
    (
        fx.cfg_usize("k"),
        fx.cfg_usize("stride"),
        fx.cfg_usize("padding"),
    )
}

#[test]
fn max_pool2d_matches_pytorch() {
    for i in 0..3 {
        let fx = Fixture::load(&format!("maxpool2d_{i}"));
        let (k, s, p) = window(&fx);
        let params = MaxPool2dParams {
            stride: (s, s),
            padding: (p, p),
            ..MaxPool2dParams::new(k)
        };
        check(&fx, |x| x.max_pool2d(params).unwrap());
    }
}

#[test]
fn avg_pool2d_matches_pytorch() {
    for i in 0..3 {
        let fx = Fixture::load(&format!("avgpool2d_{i}"));
        let (k, s, p) = window(&fx);
        let params = AvgPool2dParams {
            stride: (s, s),
            padding: (p, p),
            ..AvgPool2dParams::new(k)
        };
        check(&fx, |x| x.avg_pool2d(params).unwrap());
    }
}

#[test]
fn adaptive_avg_pool2d_matches_pytorch() {
    let fx = Fixture::load("adaptive_avgpool2d_1x1");
    let out: Vec<usize> = fx.config["out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    check(&fx, |x| x.adaptive_avg_pool2d(out[0], out[1]).unwrap());
    check(&fx, |x| x.global_avg_pool2d().unwrap());
}
