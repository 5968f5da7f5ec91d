//! Attention against PyTorch (fixtures `sdpa_causal` and `multihead_attention`, float64):
//! outputs, attention weights, input gradients and parameter gradients, in f64 (1e-9) and
//! f32 (1e-4).

use strata_core::{DType, Tensor};
use strata_nn::{
    scaled_dot_product_attention, MhaOptions, ModuleExt, MultiheadAttention,
    MultiheadAttentionConfig, SdpaOptions,
};
use strata_testutil::{assert_close, Fixture, F32_ATOL, F32_RTOL, F64_ATOL, F64_RTOL};

fn tolerances(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F64 => (F64_RTOL, F64_ATOL),
        _ => (F32_RTOL, F32_ATOL),
    }
}

#[test]
fn sdpa_causal_matches_pytorch() {
    let fx = Fixture::load("sdpa_causal");
    assert!(fx.cfg_bool("causal"));
    for dtype in [DType::F64, DType::F32] {
        let (rtol, atol) = tolerances(dtype);
        let what = |k: &str| format!("sdpa_causal ({dtype}): {k}");
        let get = |k: &str| fx.get(k).to_dtype(dtype).requires_grad_();
        let (q, k, v) = (get("query"), get("key"), get("value"));
        let opts = SdpaOptions {
            is_causal: true,
            ..Default::default()
        };
        let out = scaled_dot_product_attention(&q, &k, &v, &opts)
            .unwrap()
            .output;
        assert_close(&out, &fx.get("out"), rtol, atol, &what("out"));
        let grads = out
            .backward_with(&fx.get("grad_out").to_dtype(dtype))
            .unwrap();
        for (t, name) in [(&q, "grad_query"), (&k, "grad_key"), (&v, "grad_value")] {
            assert_close(
                grads.get(t).unwrap(),
                &fx.get(name),
                rtol,
                atol,
                &what(name),
            );
        }
    }
}

#[test]
fn multihead_attention_matches_pytorch() {
    let fx = Fixture::load("multihead_attention");
    let (e, h) = (fx.cfg_usize("embed_dim"), fx.cfg_usize("heads"));
    for dtype in [DType::F64, DType::F32] {
        let (rtol, atol) = tolerances(dtype);
        let what = |k: &str| format!("multihead_attention ({dtype}): {k}");
        let config = MultiheadAttentionConfig {
            batch_first: fx.cfg_bool("batch_first"),
            dtype,
            ..Default::default()
        };
        let mha = MultiheadAttention::with_config(e, h, config).unwrap();
        // Loaded by PyTorch's state-dict names.
        let entries: Vec<(String, Tensor)> = fx
            .with_prefix("param.")
            .into_iter()
            .map(|(n, t)| (n, t.to_dtype(dtype)))
            .collect();
        mha.load_state_dict(&entries, true).unwrap();
        mha.eval();
        let get = |k: &str| fx.get(k).to_dtype(dtype).requires_grad_();
        let (q, k, v) = (get("query"), get("key"), get("value"));
        let opts = MhaOptions {
            key_padding_mask: Some(fx.get("key_padding_mask")),
            ..Default::default()
        };
        let (out, weights) = mha.attend(&q, &k, &v, &opts).unwrap();
        assert_close(&out, &fx.get("out"), rtol, atol, &what("out"));
        assert_close(
            &weights.unwrap(),
            &fx.get("attn_weights_avg"),
            rtol,
            atol,
            &what("attn_weights_avg"),
        );
        let grads = out
            .backward_with(&fx.get("grad_out").to_dtype(dtype))
            .unwrap();
        for (t, name) in [(&q, "grad_query"), (&k, "grad_key"), (&v, "grad_value")] {
            assert_close(
                grads.get(t).unwrap(),
                &fx.get(name),
                rtol,
                atol,
                &what(name),
            );
        }
        let params = mha.named_parameters();
        let expected = fx.with_prefix("grad.");
        assert_eq!(expected.len(), params.len());
        for (name, want) in expected {
            let (_, p) = params.iter().find(|(n, _)| *n == name).unwrap();
            let g = p.grad(&grads).unwrap();
            assert_close(g, &want, rtol, atol, &what(&format!("grad.{name}")));
        }
    }
}
