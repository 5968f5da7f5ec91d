//! Invariants of attention: causality, key padding, normalised weights, fully masked rows,
//! dropout, layouts, sinusoidal values by hand, the encoder layer against a hand
//! composition, and errors that name the shapes.

use strata_core::{DType, Tensor};
use strata_nn::{
    scaled_dot_product_attention, AdditiveAttention, EncoderMasks, Forward, LayerNorm,
    LearnedPositionalEncoding, MhaOptions, ModuleExt, MultiheadAttention, MultiheadAttentionConfig,
    SdpaOptions, SinusoidalPositionalEncoding, TransformerEncoder, TransformerEncoderLayer,
    TransformerEncoderLayerConfig,
};
use strata_testutil::{assert_close_f32, assert_close_f64};

fn f64_randn(shape: &[usize]) -> Tensor {
    Tensor::randn(shape).to_dtype(DType::F64)
}

/// `t` with positions `from..` along `dim` replaced by fresh random values.
fn perturb_from(t: &Tensor, dim: usize, from: usize) -> Tensor {
    let n = t.shape()[dim];
    let head = t.narrow(dim, 0, from).unwrap();
    let mut shape = t.shape().to_vec();
    shape[dim] = n - from;
    Tensor::cat(&[head, f64_randn(&shape)], dim).unwrap()
}

fn mha(e: usize, h: usize, batch_first: bool) -> MultiheadAttention {
    let config = MultiheadAttentionConfig {
        batch_first,
        dtype: DType::F64,
        ..Default::default()
    };
    MultiheadAttention::with_config(e, h, config).unwrap()
}

#[test]
fn causal_output_at_i_ignores_later_positions() {
    let (q, k, v) = (
        f64_randn(&[2, 6, 4]),
        f64_randn(&[2, 6, 4]),
        f64_randn(&[2, 6, 3]),
    );
    let opts = SdpaOptions {
        is_causal: true,
        ..Default::default()
    };
    let base = scaled_dot_product_attention(&q, &k, &v, &opts)
        .unwrap()
        .output;
    for i in 0..5 {
        let changed = scaled_dot_product_attention(
            &perturb_from(&q, 1, i + 1),
            &perturb_from(&k, 1, i + 1),
            &perturb_from(&v, 1, i + 1),
            &opts,
        )
        .unwrap()
        .output;
        let upto = |t: &Tensor| t.narrow(1, 0, i + 1).unwrap();
        assert_close_f64(&upto(&changed), &upto(&base), &format!("positions <= {i}"));
        // ...and the outputs after i do change.
        let after = |t: &Tensor| t.narrow(1, i + 1, 1).unwrap().to_vec::<f64>().unwrap();
        assert_ne!(after(&changed), after(&base));
    }
    // The same through MultiheadAttention and a causal encoder layer ([seq, batch, e]).
    let m = mha(4, 2, false);
    m.eval();
    let x = f64_randn(&[6, 2, 4]);
    let o = MhaOptions {
        is_causal: true,
        ..Default::default()
    };
    let layer = TransformerEncoderLayer::new(
        4,
        2,
        TransformerEncoderLayerConfig {
            dim_feedforward: 8,
            dtype: DType::F64,
            ..Default::default()
        },
    )
    .unwrap();
    layer.eval();
    let masks = EncoderMasks {
        is_causal: true,
        ..Default::default()
    };
    let y = m.attend(&x, &x, &x, &o).unwrap().0;
    let z = layer.forward_masked(&x, &masks).unwrap();
    let x2 = perturb_from(&x, 0, 3);
    let y2 = m.attend(&x2, &x2, &x2, &o).unwrap().0;
    let z2 = layer.forward_masked(&x2, &masks).unwrap();
    let first3 = |t: &Tensor| t.narrow(0, 0, 3).unwrap();
    assert_close_f64(&first3(&y2), &first3(&y), "MHA causal");
    assert_close_f64(&first3(&z2), &first3(&z), "encoder layer causal");
}

#[test]
fn padded_keys_get_zero_weight_and_do_not_matter() {
    let m = mha(8, 4, true);
    m.eval();
    let (q, k, v) = (
        f64_randn(&[2, 3, 8]),
        f64_randn(&[2, 5, 8]),
        f64_randn(&[2, 5, 8]),
    );
    // Example 0 pads keys 3, 4; example 1 pads key 0.
    let pad = [
        false, false, false, true, true, true, false, false, false, false,
    ];
    let kpm = Tensor::from_vec(pad.to_vec(), &[2, 5]).unwrap();
    let o = MhaOptions {
        key_padding_mask: Some(kpm),
        average_attn_weights: false,
        ..Default::default()
    };
    let (out, w) = m.attend(&q, &k, &v, &o).unwrap();
    let w = w.unwrap();
    assert_eq!(w.shape(), &[2, 4, 3, 5]);
    let wv = w.to_vec::<f64>().unwrap();
    for (i, x) in wv.iter().enumerate() {
        let (b, s) = (i / (4 * 3 * 5), i % 5);
        if pad[b * 5 + s] {
            assert_eq!(*x, 0.0, "weight {i}");
        } else {
            assert!(*x > 0.0);
        }
    }
    for row in wv.chunks(5) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
    // New values at the padded positions change nothing.
    let repad = |t: &Tensor| {
        let b0 = perturb_from(&t.narrow(0, 0, 1).unwrap(), 1, 3);
        let b1 = Tensor::cat(
            &[
                f64_randn(&[1, 1, 8]),
                t.narrow(0, 1, 1).unwrap().narrow(1, 1, 4).unwrap(),
            ],
            1,
        )
        .unwrap();
        Tensor::cat(&[b0, b1], 0).unwrap()
    };
    let out2 = m.attend(&q, &repad(&k), &repad(&v), &o).unwrap().0;
    assert_close_f64(&out2, &out, "padded keys changed");
}

#[test]
fn weights_rows_sum_to_one_for_every_mask_kind() {
    let (q, k, v) = (
        f64_randn(&[3, 2, 4, 5]),
        f64_randn(&[3, 2, 6, 5]),
        f64_randn(&[3, 2, 6, 2]),
    );
    let masks = [
        None,
        Some(f64_randn(&[4, 6])),
        Some(Tensor::from_vec((0..24).map(|i| i % 5 != 1).collect::<Vec<_>>(), &[4, 6]).unwrap()),
    ];
    for mask in masks {
        for is_causal in [false, true] {
            let opts = SdpaOptions {
                attn_mask: mask.clone(),
                is_causal,
                need_weights: true,
                ..Default::default()
            };
            let w = scaled_dot_product_attention(&q, &k, &v, &opts)
                .unwrap()
                .weights
                .unwrap();
            let sums = w.sum(&[-1], false).unwrap();
            assert_close_f64(
                &sums,
                &Tensor::ones_dtype(&[3, 2, 4], DType::F64),
                "row sums",
            );
        }
    }
}

#[test]
fn sdpa_equals_the_formula_by_hand() {
    // One query, two keys, scale 1/sqrt(2): weights softmax([1, 0]/sqrt 2 ...).
    let q = Tensor::from_vec(vec![1.0f64, 1.0], &[1, 2]).unwrap();
    let k = Tensor::from_vec(vec![1.0f64, 0.0, 0.0, 0.0], &[2, 2]).unwrap();
    let v = Tensor::from_vec(vec![10.0f64, 20.0], &[2, 1]).unwrap();
    let opts = SdpaOptions {
        need_weights: true,
        ..Default::default()
    };
    let att = scaled_dot_product_attention(&q, &k, &v, &opts).unwrap();
    let a = (1.0f64 / 2f64.sqrt()).exp();
    let w0 = a / (a + 1.0);
    assert!((att.weights.unwrap().to_vec::<f64>().unwrap()[0] - w0).abs() < 1e-15);
    let out = att.output.item().unwrap();
    assert!((out - (10.0 * w0 + 20.0 * (1.0 - w0))).abs() < 1e-12);
}

#[test]
fn fully_masked_rows_give_zeros_not_nan() {
    let (q, k, v) = (
        f64_randn(&[2, 3, 4]),
        f64_randn(&[2, 5, 4]),
        f64_randn(&[2, 5, 3]),
    );
    let keep: Vec<bool> = (0..15).map(|i| i / 5 != 2).collect(); // query 2 sees nothing
    let opts = SdpaOptions {
        attn_mask: Some(Tensor::from_vec(keep, &[3, 5]).unwrap()),
        need_weights: true,
        ..Default::default()
    };
    let q = q.requires_grad_();
    let att = scaled_dot_product_attention(&q, &k, &v, &opts).unwrap();
    let out = att.output.to_vec::<f64>().unwrap();
    let w = att.weights.unwrap().to_vec::<f64>().unwrap();
    for b in 0..2 {
        assert!(out[b * 9 + 6..b * 9 + 9].iter().all(|&x| x == 0.0));
        assert!(w[b * 15 + 10..b * 15 + 15].iter().all(|&x| x == 0.0));
        assert!(out[b * 9..b * 9 + 6]
            .iter()
            .all(|&x| x != 0.0 && x.is_finite()));
    }
    let g = att.output.sum_all().unwrap().backward().unwrap();
    assert!(g
        .get(&q)
        .unwrap()
        .to_vec::<f64>()
        .unwrap()
        .iter()
        .all(|x| x.is_finite()));
    // With an additive -inf mask too.
    let add: Vec<f64> = (0..15)
        .map(|i| if i / 5 == 0 { f64::NEG_INFINITY } else { 0.0 })
        .collect();
    let opts = SdpaOptions {
        attn_mask: Some(Tensor::from_vec(add, &[3, 5]).unwrap()),
        ..Default::default()
    };
    let out = scaled_dot_product_attention(&q, &k, &v, &opts)
        .unwrap()
        .output;
    let out = out.to_vec::<f64>().unwrap();
    assert!(out[..3].iter().all(|&x| x == 0.0) && out.iter().all(|x| x.is_finite()));
}

#[test]
fn batch_first_unbatched_and_sequence_first_agree() {
    let bf = mha(6, 3, true);
    let sf = mha(6, 3, false);
    sf.load_state_dict(&bf.state_dict(), true).unwrap();
    let (q, k) = (f64_randn(&[2, 4, 6]), f64_randn(&[2, 5, 6]));
    let o = MhaOptions::default();
    let (y, w) = bf.attend(&q, &k, &k, &o).unwrap();
    let t = |x: &Tensor| x.transpose(0, 1).unwrap();
    let (y2, w2) = sf.attend(&t(&q), &t(&k), &t(&k), &o).unwrap();
    assert_close_f64(&t(&y2), &y, "sequence-first output");
    assert_close_f64(&w2.unwrap(), w.as_ref().unwrap(), "sequence-first weights");
    let first = |x: &Tensor| x.select(0, 0).unwrap();
    let (y3, w3) = bf.attend(&first(&q), &first(&k), &first(&k), &o).unwrap();
    assert_close_f64(&y3, &first(&y), "unbatched output");
    assert_close_f64(
        &w3.unwrap(),
        &first(w.as_ref().unwrap()),
        "unbatched weights",
    );
    // Self-attention through Forward takes the packed path and agrees with attend.
    let f = bf.forward(&q).unwrap();
    assert_close_f64(
        &f,
        &bf.attend(&q, &q.copy(), &q.copy(), &o).unwrap().0,
        "packed path",
    );
}

#[test]
fn mha_default_init_follows_pytorch() {
    let m = MultiheadAttention::new(64, 8).unwrap();
    let w = m.in_proj_weight().to_vec::<f32>().unwrap();
    let bound = (6.0f32 / (64.0 + 192.0)).sqrt(); // xavier_uniform on [192, 64]
    assert!(w.iter().all(|x| x.abs() <= bound));
    assert!(w.iter().any(|x| x.abs() > 0.9 * bound));
    assert!(m
        .in_proj_bias()
        .unwrap()
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .all(|&b| b == 0.0));
    let ob = m.out_proj().bias().unwrap().to_vec::<f32>().unwrap();
    assert!(ob.iter().all(|&b| b == 0.0));
    let ow = m.out_proj().weight().to_vec::<f32>().unwrap();
    assert!(ow.iter().all(|x| x.abs() <= 1.0 / 8.0) && ow.iter().any(|&x| x != 0.0));
    let names: Vec<String> = m.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "in_proj_weight",
            "in_proj_bias",
            "out_proj.weight",
            "out_proj.bias"
        ]
    );
}

#[test]
fn sinusoidal_values_by_hand() {
    let pe = SinusoidalPositionalEncoding::with_dtype(6, 50, 0.0, false, DType::F64).unwrap();
    let table = pe.pe().to_vec::<f64>().unwrap();
    let at = |pos: usize, c: usize| table[pos * 6 + c];
    // Frequencies 1, 10000^(-2/6), 10000^(-4/6).
    let f = [1.0, 10000f64.powf(-1.0 / 3.0), 10000f64.powf(-2.0 / 3.0)];
    for pos in [0usize, 1, 2, 17, 49] {
        for i in 0..3 {
            let a = pos as f64 * f[i];
            assert!(
                (at(pos, 2 * i) - a.sin()).abs() < 1e-12,
                "pos {pos} col {}",
                2 * i
            );
            assert!((at(pos, 2 * i + 1) - a.cos()).abs() < 1e-12);
        }
    }
    assert_eq!(at(0, 0), 0.0);
    assert_eq!(at(0, 1), 1.0);
    assert!((at(1, 2) - 0.046399223464731).abs() < 1e-12); // sin(10000^(-1/3))
                                                           // Added to [seq, batch, d] inputs: each batch entry gets the same row.
    let x = f64_randn(&[4, 3, 6]);
    let y = pe.forward(&x).unwrap().sub(&x).unwrap();
    for b in 0..3 {
        let got = y.select(1, b).unwrap();
        assert_close_f64(&got, &pe.pe().narrow(0, 0, 4).unwrap(), "added rows");
    }
    assert!(pe.named_parameters().is_empty());
    assert_eq!(pe.state_dict()[0].0, "pe");
    // An odd width keeps the sine/cosine pairing (last column a sine).
    let odd = SinusoidalPositionalEncoding::with_dtype(5, 3, 0.0, true, DType::F64).unwrap();
    let t = odd.pe().to_vec::<f64>().unwrap();
    assert!((t[5 + 4] - 10000f64.powf(-4.0 / 5.0).sin()).abs() < 1e-12);
}

#[test]
fn learned_positional_encoding_adds_the_position_rows() {
    let pe = LearnedPositionalEncoding::new(4, 10, 0.0, true).unwrap();
    let x = Tensor::randn(&[2, 3, 4]);
    let y = pe.forward(&x).unwrap().sub(&x).unwrap();
    let w = pe.embedding().weight().narrow(0, 0, 3).unwrap();
    for b in 0..2 {
        assert_close_f32(&y.select(0, b).unwrap(), &w, "position rows");
    }
    let grads = pe
        .forward(&x)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = pe
        .embedding()
        .weight()
        .grad(&grads)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(g[..12], [2.0; 12]); // two batch entries per used position
    assert_eq!(g[12..], [0.0; 28]);
    assert!(pe.forward(&Tensor::zeros(&[2, 11, 4])).is_err());
}

/// The encoder layer written out by hand from its own parameters.
fn by_hand(layer: &TransformerEncoderLayer, x: &Tensor, kpm: &Tensor) -> Tensor {
    let c = layer.config();
    let ln = |n: &LayerNorm, x: &Tensor| {
        let mean = x.mean(&[-1], true).unwrap();
        let var = x.var(&[-1], 0, true).unwrap();
        let xhat = x
            .sub(&mean)
            .unwrap()
            .div(&var.add_scalar(c.layer_norm_eps).unwrap().sqrt().unwrap())
            .unwrap();
        xhat.mul(n.weight().unwrap())
            .unwrap()
            .add(n.bias().unwrap())
            .unwrap()
    };
    let lin =
        |w: &Tensor, b: &Tensor, x: &Tensor| x.matmul(&w.t().unwrap()).unwrap().add(b).unwrap();
    let sa = |x: &Tensor| {
        // Per head by hand: [b, t, e] -> 2 heads of width e/2, -inf on padded keys.
        let a = layer.self_attn();
        let (w, bias) = (
            a.in_proj_weight().tensor(),
            a.in_proj_bias().unwrap().tensor(),
        );
        let e = a.embed_dim();
        let d = e / a.num_heads();
        let proj = |i: usize| {
            lin(
                &w.narrow(0, i * e, e).unwrap(),
                &bias.narrow(0, i * e, e).unwrap(),
                x,
            )
        };
        let (q, k, v) = (proj(0), proj(1), proj(2));
        let fill = Tensor::zeros_dtype(kpm.shape(), DType::F64)
            .masked_fill(kpm, f64::NEG_INFINITY)
            .unwrap()
            .unsqueeze(1)
            .unwrap();
        let heads: Vec<Tensor> = (0..a.num_heads())
            .map(|h| {
                let part = |t: &Tensor| t.narrow(2, h * d, d).unwrap();
                let s = part(&q)
                    .matmul(&part(&k).transpose(1, 2).unwrap())
                    .unwrap()
                    .div_scalar((d as f64).sqrt())
                    .unwrap()
                    .add(&fill)
                    .unwrap();
                s.softmax(-1).unwrap().matmul(&part(&v)).unwrap()
            })
            .collect();
        let o = a.out_proj();
        lin(
            o.weight(),
            o.bias().unwrap(),
            &Tensor::cat(&heads, 2).unwrap(),
        )
    };
    let ff = |x: &Tensor| {
        let (l1, l2) = (layer.linear1(), layer.linear2());
        let h = lin(l1.weight(), l1.bias().unwrap(), x).relu().unwrap();
        lin(l2.weight(), l2.bias().unwrap(), &h)
    };
    let (n1, n2) = (layer.norm1(), layer.norm2());
    if c.norm_first {
        let x = x.add(&sa(&ln(n1, x))).unwrap();
        x.add(&ff(&ln(n2, &x))).unwrap()
    } else {
        let x = ln(n1, &x.add(&sa(x)).unwrap());
        ln(n2, &x.add(&ff(&x)).unwrap())
    }
}

#[test]
fn encoder_layer_equals_the_hand_composition_in_both_norm_orders() {
    for norm_first in [false, true] {
        let config = TransformerEncoderLayerConfig {
            dim_feedforward: 12,
            batch_first: true,
            norm_first,
            dtype: DType::F64,
            ..Default::default()
        };
        let layer = TransformerEncoderLayer::new(8, 2, config).unwrap();
        // Non-trivial norm parameters.
        for n in [layer.norm1(), layer.norm2()] {
            n.weight().unwrap().assign(&f64_randn(&[8])).unwrap();
            n.bias().unwrap().assign(&f64_randn(&[8])).unwrap();
        }
        layer.eval(); // dropout 0.1 off
        let x = f64_randn(&[2, 5, 8]);
        let kpm = Tensor::from_vec(
            (0..10).map(|i| i == 4 || i == 8).collect::<Vec<_>>(),
            &[2, 5],
        )
        .unwrap();
        let masks = EncoderMasks {
            key_padding_mask: Some(kpm.clone()),
            ..Default::default()
        };
        let y = layer.forward_masked(&x, &masks).unwrap();
        assert_close_f64(
            &y,
            &by_hand(&layer, &x, &kpm),
            &format!("norm_first={norm_first}"),
        );
    }
}

#[test]
fn encoder_stacks_layers_and_applies_the_final_norm() {
    let config = TransformerEncoderLayerConfig {
        dim_feedforward: 8,
        dtype: DType::F64,
        ..Default::default()
    };
    let norm = LayerNorm::with_config(
        &[4],
        strata_nn::LayerNormConfig {
            dtype: DType::F64,
            ..Default::default()
        },
    )
    .unwrap();
    let enc = TransformerEncoder::new(4, 2, 2, config, Some(norm)).unwrap();
    enc.eval();
    let x = f64_randn(&[3, 2, 4]);
    let mut h = x.clone();
    for layer in enc.layers() {
        h = layer.forward(&h).unwrap();
    }
    let want = enc.norm().unwrap().forward(&h).unwrap();
    assert_close_f64(&enc.forward(&x).unwrap(), &want, "stack");
    let names: Vec<String> = enc.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "layers.0.self_attn.in_proj_weight");
    assert!(names.contains(&"layers.1.norm2.bias".to_string()));
    assert_eq!(names.last().unwrap(), "norm.bias");
    assert!(TransformerEncoder::from_layers(vec![], None).is_err());
}

#[test]
fn errors_name_the_shapes() {
    let msg = |r: strata_nn::Result<_>| -> String {
        match r {
            Ok::<(), _>(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    };
    let (q, k, v) = (
        Tensor::randn(&[2, 3, 4]),
        Tensor::randn(&[2, 5, 4]),
        Tensor::randn(&[2, 5, 6]),
    );
    let sdpa = |q: &Tensor, k: &Tensor, v: &Tensor, o: &SdpaOptions| {
        scaled_dot_product_attention(q, k, v, o).map(|_| ())
    };
    let e = msg(sdpa(
        &q,
        &Tensor::randn(&[2, 5, 3]),
        &v,
        &SdpaOptions::default(),
    ));
    assert!(e.contains("[2, 5, 3]") && e.contains("[2, 3, 4]"), "{e}");
    let e = msg(sdpa(
        &q,
        &k,
        &Tensor::randn(&[2, 4, 6]),
        &SdpaOptions::default(),
    ));
    assert!(e.contains("[2, 4, 6]") && e.contains("[2, 5, 4]"), "{e}");
    let bad_mask = SdpaOptions {
        attn_mask: Some(Tensor::randn(&[3, 4])),
        ..Default::default()
    };
    let e = msg(sdpa(&q, &k, &v, &bad_mask));
    assert!(e.contains("[3, 4]") && e.contains("[2, 3, 5]"), "{e}");
    let e = msg(sdpa(
        &q,
        &k,
        &v.to_dtype(DType::F64),
        &SdpaOptions::default(),
    ));
    assert!(e.contains("f64") || e.contains("F64"), "{e}");
    let e = msg(sdpa(&Tensor::randn(&[4]), &k, &v, &SdpaOptions::default()));
    assert!(e.contains("[4]"), "{e}");
    let e = msg(sdpa(
        &Tensor::randn(&[3, 3, 4]),
        &k,
        &v,
        &SdpaOptions::default(),
    ));
    assert!(e.contains("[3, 3, 4]") && e.contains("[2, 5, 4]"), "{e}");

    let int_mask = SdpaOptions {
        attn_mask: Some(Tensor::zeros(&[3, 5]).to_dtype(DType::I64)),
        ..Default::default()
    };
    let e = msg(sdpa(&q, &k, &v, &int_mask));
    assert!(e.contains("i64") && e.contains("[3, 5]"), "{e}");
    // Empty sequences are not an error and produce no NaN.
    let empty =
        scaled_dot_product_attention(&Tensor::randn(&[2, 0, 4]), &k, &v, &SdpaOptions::default())
            .unwrap();
    assert_eq!(empty.output.shape(), &[2, 0, 6]);

    let e = msg(MultiheadAttention::new(10, 4).map(|_| ()));
    assert!(
        e.contains("embed_dim=10") && e.contains("num_heads=4"),
        "{e}"
    );
    let m = mha(8, 2, true);
    let (q, k) = (f64_randn(&[2, 3, 8]), f64_randn(&[2, 5, 8]));
    let attend =
        |q: &Tensor, k: &Tensor, v: &Tensor, o: &MhaOptions| m.attend(q, k, v, o).map(|_| ());
    let e = msg(attend(
        &q,
        &f64_randn(&[2, 5, 6]),
        &k,
        &MhaOptions::default(),
    ));
    assert!(e.contains("[2, 5, 6]") && e.contains("[2, 3, 8]"), "{e}");
    let e = msg(attend(
        &q,
        &k,
        &f64_randn(&[2, 4, 8]),
        &MhaOptions::default(),
    ));
    assert!(e.contains("[2, 4, 8]"), "{e}");
    let kpm = Tensor::from_vec(vec![false; 8], &[2, 4]).unwrap();
    let o = MhaOptions {
        key_padding_mask: Some(kpm),
        ..Default::default()
    };
    let e = msg(attend(&q, &k, &k, &o));
    assert!(e.contains("[2, 4]") && e.contains("[2, 5]"), "{e}");
    let o = MhaOptions {
        attn_mask: Some(f64_randn(&[3, 4])),
        ..Default::default()
    };
    let e = msg(attend(&q, &k, &k, &o));
    assert!(
        e.contains("[3, 4]") && e.contains("[3, 5]") && e.contains("[4, 3, 5]"),
        "{e}"
    );
    let o = MhaOptions {
        key_padding_mask: Some(Tensor::zeros(&[2, 5]).to_dtype(DType::I64)),
        ..Default::default()
    };
    let e = msg(attend(&q, &k, &k, &o));
    assert!(e.contains("i64"), "{e}");
    let e = msg(attend(
        &f64_randn(&[2, 3, 8, 1]),
        &k,
        &k,
        &MhaOptions::default(),
    ));
    assert!(e.contains("[2, 3, 8, 1]"), "{e}");

    let att = AdditiveAttention::new(3, 4, 5).unwrap();
    let mem = Tensor::randn(&[2, 6, 4]);
    let e = msg(att
        .attend(&Tensor::randn(&[3, 3]), &mem, &mem, None)
        .map(|_| ()));
    assert!(e.contains("[3, 3]") && e.contains("[2, 6, 4]"), "{e}");
    let e = msg(att
        .attend(
            &Tensor::randn(&[2, 3]),
            &mem,
            &mem,
            Some(&Tensor::ones(&[2, 5])),
        )
        .map(|_| ()));
    assert!(e.contains("[2, 5]") && e.contains("[2, 6]"), "{e}");
    let e = msg(att
        .attend(
            &Tensor::randn(&[2, 3]),
            &Tensor::randn(&[2, 6, 7]),
            &mem,
            None,
        )
        .map(|_| ()));
    assert!(e.contains("[2, 6, 7]"), "{e}");

    let pe = SinusoidalPositionalEncoding::new(4, 8, 0.0, false).unwrap();
    let e = msg(pe.forward(&Tensor::zeros(&[3, 2, 5])).map(|_| ()));
    assert!(e.contains("[3, 2, 5]"), "{e}");
}

/// The fused kernel (no weights asked for) against the composition of core ops (weights
/// asked for): outputs and gradients for q `[batch.., l, e]`, k `[batch.., s, e]` and v
/// `[batch.., s, ev]`.
fn check_fused_against_composed(
    dtype: DType,
    batch: &[usize],
    (l, s, e, ev): (usize, usize, usize, usize),
    is_causal: bool,
) {
    let make = |rows: usize, cols: usize| {
        let shape: Vec<usize> = batch.iter().copied().chain([rows, cols]).collect();
        Tensor::randn(&shape).to_dtype(dtype)
    };
    let (q, k, v) = (
        make(l, e).requires_grad_(),
        make(s, e).requires_grad_(),
        make(s, ev).requires_grad_(),
    );
    let r = make(l, ev);
    let run = |need_weights| {
        let o = SdpaOptions {
            is_causal,
            need_weights,
            scale: Some(0.3),
            ..Default::default()
        };
        let out = scaled_dot_product_attention(&q, &k, &v, &o).unwrap().output;
        let g = out.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
        let grads: Vec<Tensor> = [&q, &k, &v]
            .iter()
            .map(|t| g.get(t).unwrap().clone())
            .collect();
        (out, grads)
    };
    let (fused, gf) = run(false);
    let (composed, gc) = run(true);
    let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
    strata_testutil::assert_close(&fused, &composed, tol, tol, "output");
    for (a, b) in gf.iter().zip(&gc) {
        strata_testutil::assert_close(a, b, tol, tol, "gradient");
    }
}

#[test]
fn fused_and_composed_paths_agree() {
    // Both paths must agree, outputs and gradients, in f32 and f64, causal or not, with
    // L < S, L > S and several batch dims.
    for dtype in [DType::F64, DType::F32] {
        for (l, s) in [(3, 5), (6, 2), (4, 4)] {
            for is_causal in [false, true] {
                check_fused_against_composed(dtype, &[2, 3], (l, s, 4, 5), is_causal);
            }
        }
    }
}

#[test]
fn fused_path_over_many_blocks_agrees_with_the_composition() {
    // 32 (batch, head) blocks and enough work to spread them over threads.
    for dtype in [DType::F64, DType::F32] {
        for is_causal in [false, true] {
            check_fused_against_composed(dtype, &[4, 8], (32, 40, 16, 12), is_causal);
        }
    }
}
