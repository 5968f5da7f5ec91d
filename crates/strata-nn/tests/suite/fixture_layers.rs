//! Layers against PyTorch (fixtures in `fixtures/pytorch/`, float64): outputs, input
//! gradients, parameter gradients and running buffers, in f64 (1e-9) and f32 (1e-4).

use strata_core::{DType, Tensor};
use strata_nn::{
    BatchNorm1d, BatchNorm2d, BatchNormConfig, Embedding, Forward, LayerNorm, LayerNormConfig,
    Linear, ModuleExt, Param,
};
use strata_testutil::{assert_close, Fixture, F32_ATOL, F32_RTOL, F64_ATOL, F64_RTOL};

fn tolerances(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (F64_RTOL, F64_ATOL),
        _ => (F32_RTOL, F32_ATOL),
    }
}

/// The fixture tensor `key` in `dtype`.
fn get(fx: &Fixture, key: &str, dtype: DType) -> Tensor {
    fx.get(key).to_dtype(dtype)
}

/// Runs `model` forward and backward on the fixture's `input` and `grad_out` and compares
/// the output, the input gradient and the gradient of every parameter listed in the
/// fixture as `grad.<name>`.
fn check_forward_backward(fx: &Fixture, model: &dyn Forward, dtype: DType) {
    let (rtol, atol) = tolerances(dtype);
    let what = |k: &str| format!("{} ({dtype}): {k}", fx.name);
    let x = get(fx, "input", dtype).requires_grad_();
    let y = model.forward(&x).unwrap();
    assert_eq!(y.dtype(), dtype);
    assert_close(&y, &fx.get("out"), rtol, atol, &what("out"));
    let grads = y.backward_with(&get(fx, "grad_out", dtype)).unwrap();
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
        let (_, p) = params
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{}", what(&format!("no parameter {name}"))));
        let g = p
            .grad(&grads)
            .unwrap_or_else(|| panic!("{}", what(&format!("no gradient for {name}"))));
        assert_close(g, &want, rtol, atol, &what(&format!("grad.{name}")));
    }
}

fn check_buffers(fx: &Fixture, model: &dyn Forward, dtype: DType) {
    let (rtol, atol) = tolerances(dtype);
    let buffers = model.named_buffers();
    for (name, want) in fx.with_prefix("buffer.") {
        let (_, b) = buffers
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{}: no buffer {name}", fx.name));
        assert_close(
            b,
            &want,
            rtol,
            atol,
            &format!("{} ({dtype}): buffer.{name}", fx.name),
        );
    }
}

const DTYPES: [DType; 2] = [DType::F64, DType::F32];

#[test]
fn linear_matches_pytorch() {
    for case in ["linear", "linear_3d_input"] {
        let fx = Fixture::load(case);
        // f64 through from_weights, f32 through a default layer and load_state_dict.
        let layer =
            Linear::from_weights(fx.get("param.weight"), Some(fx.get("param.bias"))).unwrap();
        check_forward_backward(&fx, &layer, DType::F64);
        let layer = Linear::new(fx.cfg_usize("in"), fx.cfg_usize("out")).unwrap();
        layer
            .load_state_dict(&fx.with_prefix("param."), true)
            .unwrap();
        check_forward_backward(&fx, &layer, DType::F32);
    }
}

fn batch_norm_config(fx: &Fixture, dtype: DType) -> BatchNormConfig {
    BatchNormConfig {
        eps: fx.cfg_f64("eps"),
        momentum: fx.config["momentum"].as_f64().or(Some(0.1)),
        dtype,
        ..BatchNormConfig::default()
    }
}

#[test]
fn batchnorm1d_train_matches_pytorch_including_running_stats() {
    let fx = Fixture::load("batchnorm1d_train");
    for dtype in DTYPES {
        let bn = BatchNorm1d::with_config(fx.cfg_usize("features"), batch_norm_config(&fx, dtype))
            .unwrap();
        // Only the parameters: the buffers start at PyTorch's initial mean 0, var 1.
        let report = bn
            .load_state_dict(&fx.with_prefix("param."), false)
            .unwrap();
        assert_eq!(report.loaded, ["weight", "bias"]);
        assert_eq!(
            report.problems.missing,
            ["running_mean", "running_var", "num_batches_tracked"]
        );
        check_forward_backward(&fx, &bn, dtype);
        check_buffers(&fx, &bn, dtype);
        assert_eq!(
            bn.num_batches_tracked().unwrap().to_vec::<i64>().unwrap(),
            vec![1]
        );
    }
}

#[test]
fn batchnorm2d_train_matches_pytorch_including_running_stats() {
    let fx = Fixture::load("batchnorm2d_train");
    for dtype in DTYPES {
        let bn = BatchNorm2d::with_config(fx.cfg_usize("features"), batch_norm_config(&fx, dtype))
            .unwrap();
        for (name, t) in fx.with_prefix("param.") {
            let p: Param = bn
                .named_parameters()
                .into_iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1;
            p.assign(&t.to_dtype(dtype)).unwrap();
        }
        check_forward_backward(&fx, &bn, dtype);
        check_buffers(&fx, &bn, dtype);
    }
}

#[test]
fn batchnorm2d_eval_uses_running_stats_and_leaves_them_alone() {
    let fx = Fixture::load("batchnorm2d_eval");
    for dtype in DTYPES {
        let bn = BatchNorm2d::with_config(fx.cfg_usize("features"), batch_norm_config(&fx, dtype))
            .unwrap();
        let mut state = fx.with_prefix("param.");
        state.extend(fx.with_prefix("buffer."));
        bn.load_state_dict(&state, true).unwrap();
        bn.eval();
        check_forward_backward(&fx, &bn, dtype);
        // Evaluation does not touch the running statistics.
        check_buffers(&fx, &bn, dtype);
    }
}

#[test]
fn layernorm_matches_pytorch() {
    let fx = Fixture::load("layernorm");
    let shape: Vec<usize> = fx.config["normalized_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    for dtype in DTYPES {
        let cfg = LayerNormConfig {
            eps: fx.cfg_f64("eps"),
            dtype,
            ..LayerNormConfig::default()
        };
        let ln = LayerNorm::with_config(&shape, cfg).unwrap();
        ln.load_state_dict(&fx.with_prefix("param."), true).unwrap();
        check_forward_backward(&fx, &ln, dtype);
    }
}
#[test]
fn embedding_matches_pytorch() {
    let fx = Fixture::load("embedding");
    for dtype in DTYPES {
        let emb = Embedding::from_weight(get(&fx, "param.weight", dtype), None).unwrap();
        assert_eq!(emb.num_embeddings(), fx.cfg_usize("num"));
        assert_eq!(emb.embedding_dim(), fx.cfg_usize("dim"));
        let (rtol, atol) = tolerances(dtype);
        let y = emb.forward(&fx.get("indices")).unwrap();
        assert_close(&y, &fx.get("out"), rtol, atol, "embedding out");
        let grads = y.backward_with(&get(&fx, "grad_out", dtype)).unwrap();
        assert_close(
            emb.weight().grad(&grads).unwrap(),
            &fx.get("grad.weight"),
            rtol,
            atol,
            "embedding grad.weight",
        );
    }
}
