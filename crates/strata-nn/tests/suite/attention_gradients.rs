//! Gradchecks (f64, finite differences) of attention: scaled dot-product attention with
//! every kind of mask, broadcast and strided inputs; MultiheadAttention with respect to
//! inputs and parameters; additive attention; the Transformer encoder layer.

use strata_core::{gradcheck, DType, GradcheckOptions, Tensor};
use strata_nn::{
    scaled_dot_product_attention, AdditiveAttention, EncoderMasks, FeedForwardActivation, Linear,
    MhaOptions, ModuleExt, MultiheadAttention, MultiheadAttentionConfig, SdpaOptions,
    TransformerEncoderLayer, TransformerEncoderLayerConfig,
};

/// Checks the gradient of `loss()` with respect to every element of every parameter of
/// `module` (f64) against central finite differences, perturbing the parameters in place.
fn check_parameter_gradients<M: ModuleExt>(module: &M, loss: &dyn Fn() -> Tensor) {
    let grads = loss().backward().unwrap();
    let eps = 1e-6;
    for (name, p) in module.named_parameters() {
        let analytic = p.grad(&grads).unwrap().to_vec::<f64>().unwrap();
        for i in 0..p.numel() {
            let at = |delta: f64| {
                let old = p.read::<f64>().unwrap()[i];
                p.write::<f64>().unwrap()[i] = old + delta;
                let l = loss().item().unwrap();
                p.write::<f64>().unwrap()[i] = old;
                l
            };
            let numeric = (at(eps) - at(-eps)) / (2.0 * eps);
            let diff = (numeric - analytic[i]).abs();
            assert!(
                diff <= 1e-5 + 1e-3 * numeric.abs(),
                "{name}[{i}]: analytic {} numeric {numeric}",
                analytic[i]
            );
        }
    }
}

/// `sum(out * r)` for a fixed random `r`.
fn projected(out: &Tensor, seed: u64) -> Tensor {
    let mut g = strata_core::Generator::new(seed);
    let r = Tensor::randn_with(&mut g, out.shape(), DType::F64);
    out.mul(&r).unwrap().sum_all().unwrap()
}

fn opts() -> GradcheckOptions {
    GradcheckOptions::default()
}

fn sdpa(q: &Tensor, k: &Tensor, v: &Tensor, o: &SdpaOptions) -> strata_core::Result<Tensor> {
    scaled_dot_product_attention(q, k, v, o)
        .map(|a| a.output)
        .map_err(nn_err)
}

#[test]
fn sdpa_plain_causal_and_scaled() {
    let (q, k, v) = (
        Tensor::randn(&[2, 3, 5]),
        Tensor::randn(&[2, 4, 5]),
        Tensor::randn(&[2, 4, 3]),
    );
    for (is_causal, scale) in [(false, None), (true, None), (true, Some(0.7))] {
        let o = SdpaOptions {
            is_causal,
            scale,
            ..Default::default()
        };
        gradcheck(
            |t| sdpa(&t[0], &t[1], &t[2], &o),
            &[q.clone(), k.clone(), v.clone()],
            opts(),
        )
        .unwrap();
    }
}

#[test]
fn sdpa_with_a_bool_mask_including_a_fully_masked_row() {
    // Row 1 of the mask excludes every key: zero output, zero (not NaN) gradients.
    let keep: Vec<bool> = (0..3 * 4).map(|i| i / 4 != 1 && (i % 3 != 0)).collect();
    let mask = Tensor::from_vec(keep, &[3, 4]).unwrap();
    let o = SdpaOptions {
        attn_mask: Some(mask),
        ..Default::default()
    };
    let inputs = [
        Tensor::randn(&[2, 3, 5]),
        Tensor::randn(&[2, 4, 5]),
        Tensor::randn(&[2, 4, 3]),
    ];
    gradcheck(|t| sdpa(&t[0], &t[1], &t[2], &o), &inputs, opts()).unwrap();
}

#[test]
fn sdpa_with_a_float_mask_is_differentiable_in_the_mask_too() {
    let inputs = [
        Tensor::randn(&[2, 2, 3, 4]),
        Tensor::randn(&[2, 2, 5, 4]),
        Tensor::randn(&[2, 2, 5, 3]),
        Tensor::randn(&[2, 1, 3, 5]), // broadcast over heads
    ];
    gradcheck(
        |t| {
            let o = SdpaOptions {
                attn_mask: Some(t[3].clone()),
                is_causal: true,
                ..Default::default()
            };
            sdpa(&t[0], &t[1], &t[2], &o)
        },
        &inputs,
        opts(),
    )
    .unwrap();
}

#[test]
fn sdpa_on_broadcast_and_strided_inputs() {
    // k and v shared by all batches ([1, S, E]); q a transposed view built in the closure.
    let inputs = [
        Tensor::randn(&[3, 2, 4]),
        Tensor::randn(&[1, 5, 4]),
        Tensor::randn(&[1, 5, 2]),
    ];
    gradcheck(
        |t| {
            let q = t[0].transpose(0, 1)?; // [2, 3, 4], not contiguous
            sdpa(&q, &t[1], &t[2], &SdpaOptions::default())
        },
        &inputs,
        opts(),
    )
    .unwrap();
}

/// An f64 MHA with 2 heads and random (not small) parameters, biases included.
fn mha(e: usize, batch_first: bool) -> MultiheadAttention {
    let config = MultiheadAttentionConfig {
        batch_first,
        ..Default::default()
    };
    let f = |shape: &[usize]| Tensor::randn(shape).to_dtype(DType::F64);
    MultiheadAttention::from_weights(
        2,
        f(&[3 * e, e]),
        Some(f(&[3 * e])),
        f(&[e, e]),
        Some(f(&[e])),
        config,
    )
    .unwrap()
}

fn nn_err(e: strata_nn::Error) -> strata_core::Error {
    strata_core::Error::Backward(e.to_string())
}

#[test]
fn multihead_attention_inputs_and_parameters_with_masks() {
    let (e, l, s, b) = (4, 3, 5, 2);
    for batch_first in [true, false] {
        let m = mha(e, batch_first);
        let shape = |n: usize| if batch_first { [b, n, e] } else { [n, b, e] };
        let inputs = vec![
            Tensor::randn(&shape(l)),
            Tensor::randn(&shape(s)),
            Tensor::randn(&shape(s)),
        ];
        let kpm = Tensor::from_vec(
            vec![
                false, false, true, false, true, false, false, false, false, true,
            ],
            &[b, s],
        )
        .unwrap();
        let o = MhaOptions {
            key_padding_mask: Some(kpm),
            attn_mask: Some(Tensor::randn(&[l, s]).to_dtype(DType::F64)),
            ..Default::default()
        };
        let run = |t: &[Tensor]| m.attend(&t[0], &t[1], &t[2], &o).map(|(out, _)| out);
        gradcheck(|t| run(t).map_err(nn_err), &inputs, opts()).unwrap();
        let x: Vec<Tensor> = inputs.iter().map(|t| t.to_dtype(DType::F64)).collect();
        check_parameter_gradients(&m, &|| projected(&run(&x).unwrap(), 1));
    }
}

#[test]
fn multihead_self_attention_and_per_head_weights() {
    // One tensor as query, key and value takes the packed projection path; the per-head
    // weights are differentiable too.
    let m = mha(4, true);
    let o = MhaOptions {
        is_causal: true,
        average_attn_weights: false,
        ..Default::default()
    };
    let run = |x: &Tensor| -> strata_core::Result<Tensor> {
        let (out, w) = m.attend(x, x, x, &o).map_err(nn_err)?;
        let w = w.ok_or_else(|| strata_core::Error::Backward("no weights".into()))?;
        assert_eq!(w.shape(), &[2, 2, 3, 3]);
        Tensor::cat(&[out.flatten(0, -1)?, w.flatten(0, -1)?], 0)
    };
    let x = Tensor::randn(&[2, 3, 4]);
    gradcheck(|t| run(&t[0]), &[x.clone()], opts()).unwrap();
    let x = x.to_dtype(DType::F64);
    check_parameter_gradients(&m, &|| projected(&run(&x).unwrap(), 2));
}

#[test]
fn additive_attention_inputs_and_parameters() {
    let f = |shape: &[usize]| Tensor::randn(shape).to_dtype(DType::F64);
    let att = AdditiveAttention::from_layers(
        Linear::from_weights(f(&[6, 3]), None).unwrap(),
        Linear::from_weights(f(&[6, 5]), Some(f(&[6]))).unwrap(),
        Linear::from_weights(f(&[1, 6]), None).unwrap(),
    )
    .unwrap();
    let inputs = [
        Tensor::randn(&[2, 3]),    // decoder state
        Tensor::randn(&[2, 4, 5]), // keys
        Tensor::randn(&[2, 4, 2]), // values
    ];
    // The second example is fully masked: zero context, zero gradients.
    let mask = Tensor::from_vec(
        vec![true, true, false, true, false, false, false, false],
        &[2, 4],
    )
    .unwrap();
    let run = |t: &[Tensor]| -> strata_core::Result<Tensor> {
        let (c, w) = att
            .attend(&t[0], &t[1], &t[2], Some(&mask))
            .map_err(nn_err)?;
        Tensor::cat(&[c.flatten(0, -1)?, w.flatten(0, -1)?], 0)
    };
    gradcheck(run, &inputs, opts()).unwrap();
    let x: Vec<Tensor> = inputs.iter().map(|t| t.to_dtype(DType::F64)).collect();
    check_parameter_gradients(&att, &|| projected(&run(&x).unwrap(), 3));
    // Several decoder steps at once, unmasked.
    gradcheck(
        |t| {
            att.attend(&t[0], &t[1], &t[1], None)
                .map(|(c, _)| c)
                .map_err(nn_err)
        },
        &[Tensor::randn(&[2, 3, 3]), Tensor::randn(&[2, 4, 5])],
        opts(),
    )
    .unwrap();
}

#[test]
fn transformer_encoder_layer_in_both_norm_orders() {
    for (norm_first, activation) in [
        (false, FeedForwardActivation::Relu),
        (true, FeedForwardActivation::Gelu),
    ] {
        let config = TransformerEncoderLayerConfig {
            dim_feedforward: 6,
            dropout: 0.0,
            activation,
            batch_first: true,
            norm_first,
            dtype: DType::F64,
            ..Default::default()
        };
        let layer = TransformerEncoderLayer::new(4, 2, config).unwrap();
        let kpm = Tensor::from_vec(vec![false, false, true, false, false, false], &[2, 3]).unwrap();
        let masks = EncoderMasks {
            key_padding_mask: Some(kpm),
            ..Default::default()
        };
        let x = Tensor::randn(&[2, 3, 4]);
        gradcheck(
            |t| layer.forward_masked(&t[0], &masks).map_err(nn_err),
            &[x.clone()],
            opts(),
        )
        .unwrap();
        let x = x.to_dtype(DType::F64);
        check_parameter_gradients(&layer, &|| {
            projected(&layer.forward_masked(&x, &masks).unwrap(), 4)
        });
        assert_eq!(
            layer.num_parameters(),
            3 * 16 + 12 + 16 + 4 + 24 + 6 + 24 + 4 + 4 * 4
        );
    }
}
