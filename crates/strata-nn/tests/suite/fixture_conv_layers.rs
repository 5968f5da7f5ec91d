//! Convolution and pooling layers against PyTorch (fixtures `conv2d_*`, `conv1d_0`,
//! `maxpool2d_*`, `avgpool2d_*`, `adaptive_avgpool2d_1x1`): outputs, input gradients and
//! parameter gradients through the LAYERS, in f64 (1e-9, weights via `from_weights`) and
//! f32 (1e-4, a freshly initialised layer loaded with `load_state_dict`).

use strata_core::{AvgPool2dParams, DType, MaxPool2dParams, Tensor};
use strata_nn::{
    AdaptiveAvgPool2d, AvgPool2d, Conv1d, Conv2d, ConvOptions, Forward, MaxPool2d, ModuleExt,
};
use strata_testutil::{assert_close, Fixture, F32_ATOL, F32_RTOL, F64_ATOL, F64_RTOL};

fn tolerances(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (F64_RTOL, F64_ATOL),
        _ => (F32_RTOL, F32_ATOL),
    }
}

/// Runs `model` forward and backward on the fixture's `input` and `grad_out` (in `dtype`)
/// and compares the output, the input gradient and every `grad.<name>` parameter gradient.
fn check_forward_backward(fx: &Fixture, model: &dyn Forward, dtype: DType) {
    let (rtol, atol) = tolerances(dtype);
    let what = |k: &str| format!("{} ({dtype}): {k}", fx.name);
    let x = fx.get("input").to_dtype(dtype).requires_grad_();
    let y = model.forward(&x).unwrap();
    assert_eq!(y.dtype(), dtype);
    assert_close(&y, &fx.get("out"), rtol, atol, &what("out"));
    let grads = y
        .backward_with(&fx.get("grad_out").to_dtype(dtype))
        .unwrap();
    assert_close(
        grads.get(&x).unwrap(),
        &fx.get("grad_input"),
        rtol,
        atol,
        &what("grad_input"),
    );
    let params = model.named_parameters();
    let expected = fx.with_prefix("grad.");
    assert_eq!(expected.len(), params.len(), "{}", what("parameter count"));
    for (name, want) in expected {
        let (_, p) = params.iter().find(|(n, _)| *n == name).unwrap();
        let g = p.grad(&grads).unwrap();
        assert_close(g, &want, rtol, atol, &what(&format!("grad.{name}")));
    }
}

fn conv_options(fx: &Fixture) -> ConvOptions {
    let opt = |k: &str| fx.config.get(k).and_then(|v| v.as_u64()).unwrap_or(1) as usize;
    ConvOptions::new()
        .stride(fx.cfg_usize("stride"))
        .padding(fx.cfg_usize("padding"))
        .dilation(opt("dilation"))
        .groups(opt("groups"))
}

#[test]
fn conv2d_layer_matches_pytorch() {
    for case in ["conv2d_0", "conv2d_1", "conv2d_2", "conv2d_3", "conv2d_4"] {
        let fx = Fixture::load(case);
        let options = conv_options(&fx);
        let layer =
            Conv2d::from_weights(fx.get("param.weight"), Some(fx.get("param.bias")), options)
                .unwrap();
        check_forward_backward(&fx, &layer, DType::F64);
        let (cin, cout, k) = (fx.cfg_usize("cin"), fx.cfg_usize("cout"), fx.cfg_usize("k"));
        let layer = Conv2d::with_options(cin, cout, k, options).unwrap();
        let report = layer
            .load_state_dict(&fx.with_prefix("param."), true)
            .unwrap();
        assert_eq!(report.loaded, ["weight", "bias"], "{case}");
        check_forward_backward(&fx, &layer, DType::F32);
    }
}

#[test]
fn conv1d_layer_matches_pytorch() {
    let fx = Fixture::load("conv1d_0");
    let options = conv_options(&fx);
    let layer =
        Conv1d::from_weights(fx.get("param.weight"), Some(fx.get("param.bias")), options).unwrap();
    check_forward_backward(&fx, &layer, DType::F64);
    let layer = Conv1d::with_options(
        fx.cfg_usize("cin"),
        fx.cfg_usize("cout"),
        fx.cfg_usize("k"),
        options,
    )
    .unwrap();
    layer
        .load_state_dict(&fx.with_prefix("param."), true)
        .unwrap();
    check_forward_backward(&fx, &layer, DType::F32);
}

#[test]
fn pooling_layers_match_pytorch() {
    for i in 0..3 {
        for kind in ["maxpool2d", "avgpool2d"] {
            let fx = Fixture::load(&format!("{kind}_{i}"));
            let (k, s, p) = (
                fx.cfg_usize("k"),
                fx.cfg_usize("stride"),
                fx.cfg_usize("padding"),
            );
            let layer: Box<dyn Forward> = if kind == "maxpool2d" {
                Box::new(
                    MaxPool2d::with_params(MaxPool2dParams {
                        stride: (s, s),
                        padding: (p, p),
                        ..MaxPool2dParams::new(k)
                    })
                    .unwrap(),
                )
            } else {
                Box::new(
                    AvgPool2d::with_params(AvgPool2dParams {
                        stride: (s, s),
                        padding: (p, p),
                        ..AvgPool2dParams::new(k)
                    })
                    .unwrap(),
                )
            };
            for dtype in [DType::F64, DType::F32] {
                check_forward_backward(&fx, layer.as_ref(), dtype);
            }
        }
    }
}

#[test]
fn adaptive_avg_pool_layer_matches_pytorch() {
    let fx = Fixture::load("adaptive_avgpool2d_1x1");
    let out = fx.config["out"].as_array().unwrap();
    let size = (
        out[0].as_u64().unwrap() as usize,
        out[1].as_u64().unwrap() as usize,
    );
    let layer = AdaptiveAvgPool2d::new(size).unwrap();
    for dtype in [DType::F64, DType::F32] {
        check_forward_backward(&fx, &layer, dtype);
    }
    // Global pooling is the same numbers without the two unit dims.
    let g = strata_nn::GlobalAvgPool2d::new()
        .forward(&fx.get("input"))
        .unwrap();
    let want: Tensor = fx.get("out").reshape(g.shape()).unwrap();
    assert_close(&g, &want, F64_RTOL, F64_ATOL, "global average pool");
}
