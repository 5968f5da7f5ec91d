//! Gradchecks and error cases of the fused recurrent op.

use super::*;
use strata_core::{gradcheck, Generator, GradcheckOptions};

/// A random f64 tensor of small values (so the tanh/sigmoid gates stay off saturation).
fn small_randn(rng: &mut Generator, shape: &[usize], scale: f64) -> Tensor {
    Tensor::randn_with(rng, shape, DType::F64)
        .mul_scalar(scale)
        .unwrap()
}

/// Gradcheck of one layer-direction w.r.t. input, initial states, weights and biases.
fn check_op(kind: CellKind, walk: Walk<'_>, bias: bool) {
    let (t, b, i, h) = (4, 3, 2, 3);
    let gh = kind.gates() * h;
    let mut rng = Generator::new(7);
    let mut r = |shape: &[usize]| small_randn(&mut rng, shape, 0.6);
    let x_shape = if walk.batch_first {
        [b, t, i]
    } else {
        [t, b, i]
    };
    let mut inputs = vec![r(&x_shape), r(&[b, h])];
    let lstm = kind == CellKind::Lstm;
    if lstm {
        inputs.push(r(&[b, h]));
    }
    inputs.extend([r(&[gh, i]), r(&[gh, h])]);
    if bias {
        inputs.extend([r(&[gh]), r(&[gh])]);
    }
    gradcheck(
        |x| {
            let k = 2 + lstm as usize;
            let w = LayerWeights {
                w_ih: &x[k],
                w_hh: &x[k + 1],
                b_ih: bias.then(|| &x[k + 2]),
                b_hh: bias.then(|| &x[k + 3]),
            };
            let o = recurrent_layer(kind, &x[0], &x[1], lstm.then(|| &x[2]), w, walk)?;
            // Every output of the op takes part in the loss.
            let mut parts = vec![o.out.reshape(&[t * b * h])?, o.h_n.reshape(&[b * h])?];
            if let Some(c) = o.c_n {
                parts.push(c.reshape(&[b * h])?);
            }
            Tensor::cat(&parts, 0)
        },
        &inputs,
        GradcheckOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{kind:?} {walk:?} bias={bias}: {e}"));
}

#[test]
fn gradcheck_every_kind_both_directions_with_and_without_lengths() {
    for kind in [
        CellKind::RnnTanh,
        CellKind::RnnRelu,
        CellKind::Lstm,
        CellKind::Gru,
    ] {
        for reverse in [false, true] {
            for batch_first in [false, true] {
                let walk = |lengths| Walk {
                    reverse,
                    batch_first,
                    lengths,
                };
                check_op(kind, walk(None), true);
                check_op(kind, walk(Some(&[4, 1, 3])), true);
            }
        }
        let lengths = Some(&[2, 0, 4][..]);
        check_op(
            kind,
            Walk {
                lengths,
                ..Walk::default()
            },
            false,
        );
    }
}

#[test]
fn gradcheck_on_strided_inputs() {
    // A transposed input and a broadcast initial state, built inside the closure.
    let (t, b, i, h) = (3, 2, 2, 2);
    gradcheck(
        |x| {
            let input = x[0].transpose(0, 1)?; // [B, T, I] -> [T, B, I]
            let h0 = x[1].expand(&[b, h])?;
            let c0 = x[1].expand(&[b, h])?;
            let w = LayerWeights {
                w_ih: &x[2],
                w_hh: &x[3],
                b_ih: None,
                b_hh: None,
            };
            let o = recurrent_layer(CellKind::Lstm, &input, &h0, Some(&c0), w, Walk::default())?;
            o.out.add(&o.c_n.unwrap_or(o.h_n))
        },
        &[
            Tensor::randn(&[b, t, i]),
            Tensor::randn(&[1, h]),
            Tensor::randn(&[4 * h, i]),
            Tensor::randn(&[4 * h, h]),
        ],
        GradcheckOptions::default(),
    )
    .unwrap();
}

/// Output and every gradient of one LSTM and one GRU call, flattened.
fn run_large(kind: CellKind, lengths: Option<&[usize]>) -> Vec<f64> {
    let (t, b, i, h) = (16, 16, 8, 128);
    let gh = kind.gates() * h;
    let mut rng = Generator::new(11);
    let mut r = |shape: &[usize]| small_randn(&mut rng, shape, 0.3).requires_grad_();
    let (x, h0, c0) = (r(&[t, b, i]), r(&[b, h]), r(&[b, h]));
    let (w_ih, w_hh, b_ih, b_hh) = (r(&[gh, i]), r(&[gh, h]), r(&[gh]), r(&[gh]));
    let w = LayerWeights {
        w_ih: &w_ih,
        w_hh: &w_hh,
        b_ih: Some(&b_ih),
        b_hh: Some(&b_hh),
    };
    let lstm = kind == CellKind::Lstm;
    let c0 = lstm.then_some(&c0);
    let walk = Walk {
        lengths,
        ..Walk::default()
    };
    let o = recurrent_layer(kind, &x, &h0, c0, w, walk).unwrap();
    let loss = o.out.mul(&o.out).unwrap().sum_all().unwrap();
    let loss = loss.add(&o.h_n.sum_all().unwrap()).unwrap();
    let grads = loss.backward().unwrap();
    let mut all = o.out.to_vec::<f64>().unwrap();
    let mut wrt = vec![&x, &h0, &w_ih, &w_hh, &b_ih, &b_hh];
    wrt.extend(c0);
    for p in wrt {
        all.extend(grads.get(p).unwrap().to_vec::<f64>().unwrap());
    }
    all
}

#[test]
fn stale_spare_buffers_never_reach_results() {
    // Buffers large enough to be kept as spares; the second run of each case finds
    // spares full of NaN of exactly the sizes it asks for.
    for kind in [CellKind::Lstm, CellKind::Gru] {
        for lengths in [
            None,
            Some(&[16, 3, 0, 9, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11][..]),
        ] {
            let first = run_large(kind, lengths);
            // The gate buffers' rows as the op lays them out (padded when 2 KiB multiples).
            let dims = Dims {
                t: 16,
                b: 16,
                i: 8,
                h: 128,
                g: kind.gates(),
            };
            let gates = 16 * 16 * dims.gate_ld::<f64>();
            for n in [gates, gates, 16 * 16 * 128, 16 * 16 * 128, 16 * 16 * 128] {
                let mut poisoned = LineAligned::new(n);
                poisoned.fill(f64::NAN);
                spare::give(poisoned);
            }
            let second = run_large(kind, lengths);
            assert!(second.iter().all(|v| v.is_finite()), "{kind:?} {lengths:?}");
            assert_eq!(first, second, "{kind:?} {lengths:?}");
        }
    }
}

/// Every output and gradient of one layer-direction on a batch, the weight gradients last.
fn run_rows(
    kind: CellKind,
    x: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w: [&Tensor; 4],
    upstream: &Tensor,
    walk: Walk<'_>,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let lstm = kind == CellKind::Lstm;
    let weights = LayerWeights {
        w_ih: w[0],
        w_hh: w[1],
        b_ih: Some(w[2]),
        b_hh: Some(w[3]),
    };
    let o = recurrent_layer(kind, x, h0, lstm.then_some(c0), weights, walk).unwrap();
    let loss = o.out.mul(upstream).unwrap().sum_all().unwrap();
    let loss = loss
        .add(&o.h_n.mul(&o.h_n).unwrap().sum_all().unwrap())
        .unwrap();
    let loss = match &o.c_n {
        Some(c) => loss.add(&c.sum_all().unwrap()).unwrap(),
        None => loss,
    };
    let grads = loss.backward().unwrap();
    let v = |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().unwrap();
    let mut outs = vec![v(&o.out), v(&o.h_n)];
    outs.extend(o.c_n.as_ref().map(v));
    let mut wrt = vec![x, h0];
    if lstm {
        wrt.push(c0);
    }
    wrt.extend(w);
    let grads = wrt.iter().map(|p| v(grads.get(p).unwrap())).collect();
    (outs, grads)
}

/// Random inputs of one layer-direction (`x [T, B, I]`, `h0`, `c0`, an upstream gradient
/// for the output, and `[W_ih, W_hh, b_ih, b_hh]`), all requiring grad.
struct Case {
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    up: Tensor,
    w: [Tensor; 4],
}

impl Case {
    fn random(
        kind: CellKind,
        dtype: DType,
        (t, b, i, h): (usize, usize, usize, usize),
        seed: u64,
        scale: f64,
    ) -> Case {
        let gh = kind.gates() * h;
        let mut rng = Generator::new(seed);
        let mut r = |shape: &[usize]| {
            small_randn(&mut rng, shape, scale)
                .to_dtype(dtype)
                .requires_grad_()
        };
        let (x, h0, c0, up) = (r(&[t, b, i]), r(&[b, h]), r(&[b, h]), r(&[t, b, h]));
        let w = [r(&[gh, i]), r(&[gh, h]), r(&[gh]), r(&[gh])];
        Case { x, h0, c0, up, w }
    }

    fn weights(&self) -> [&Tensor; 4] {
        [&self.w[0], &self.w[1], &self.w[2], &self.w[3]]
    }
}

/// Asserts `got` and `want` have the same length and agree within `tol`, relative to
/// values above 1 and absolute below.
fn assert_all_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: {g} vs {w}"
        );
    }
}

/// `a` (`[T, B, ·]`) as a batch-first `[B, T, ·]` leaf that requires grad.
fn batch_major(a: &Tensor) -> Tensor {
    a.transpose(0, 1)
        .unwrap()
        .contiguous()
        .detach()
        .requires_grad_()
}

/// The output of one layer-direction on `x` without recording (nothing saved: the kernels
/// write their `extra` rows into a scratch block), flattened as f64.
fn unrecorded_out(kind: CellKind, x: &Tensor, case: &Case, walk: Walk<'_>) -> Vec<f64> {
    let w = case.weights();
    let weights = LayerWeights {
        w_ih: w[0],
        w_hh: w[1],
        b_ih: Some(w[2]),
        b_hh: Some(w[3]),
    };
    let c0 = (kind == CellKind::Lstm).then_some(&case.c0);
    let o = strata_core::no_grad(|| recurrent_layer(kind, x, &case.h0, c0, weights, walk)).unwrap();
    o.out.to_dtype(DType::F64).to_vec::<f64>().unwrap()
}

/// A batch large enough to be cut into bands of rows, one per thread, gives every row what
/// that row gives alone (a batch of one is never cut), and weight gradients that sum the
/// rows' own.
#[test]
fn bands_of_rows_give_each_row_its_own_results() {
    let (t, b, i, h) = (5, 20, 3, 16);
    let lengths: Vec<usize> = (0..b).map(|r| (r * 7) % (t + 1)).collect();
    for kind in [CellKind::Lstm, CellKind::Gru, CellKind::RnnTanh] {
        for dtype in [DType::F32, DType::F64] {
            for (reverse, lengths) in [(false, None), (true, Some(&lengths[..]))] {
                let case = Case::random(kind, dtype, (t, b, i, h), 5, 0.5);
                let Case { x, h0, c0, up, w } = &case;
                let wr = case.weights();
                let walk = Walk {
                    reverse,
                    lengths,
                    ..Walk::default()
                };
                let (outs, grads) = run_rows(kind, x, h0, c0, wr, up, walk);
                let plain = unrecorded_out(kind, x, &case, walk);
                assert_eq!(plain, outs[0], "{kind:?} {dtype:?} without recording");
                let tol = if dtype == DType::F32 { 2e-5 } else { 1e-12 };
                let close = |got: f64, want: f64, what: &str| {
                    assert!(
                        (got - want).abs() <= tol * want.abs().max(1.0),
                        "{kind:?} {dtype:?} reverse={reverse} {what}: {got} vs {want}"
                    );
                };
                let mut weight_sums: Vec<Vec<f64>> =
                    w.iter().map(|p| vec![0.0; p.numel()]).collect();
                for row in 0..b {
                    let one = |a: &Tensor, dim: usize| {
                        a.narrow(dim, row, 1)
                            .unwrap()
                            .detach()
                            .contiguous()
                            .requires_grad_()
                    };
                    let (xr, h0r, c0r, upr) = (one(x, 1), one(h0, 0), one(c0, 0), one(up, 1));
                    let len = lengths.map(|l| vec![l[row]]);
                    let walk = Walk {
                        lengths: len.as_deref(),
                        ..walk
                    };
                    let (o1, g1) = run_rows(kind, &xr, &h0r, &c0r, wr, &upr, walk);
                    for step in 0..t {
                        for u in 0..h {
                            close(
                                outs[0][(step * b + row) * h + u],
                                o1[0][step * h + u],
                                "out",
                            );
                        }
                        for c in 0..i {
                            close(
                                grads[0][(step * b + row) * i + c],
                                g1[0][step * i + c],
                                "dx",
                            );
                        }
                    }
                    for k in 1..outs.len() {
                        for u in 0..h {
                            close(outs[k][row * h + u], o1[k][u], "final state");
                        }
                    }
                    let states = 1 + usize::from(kind == CellKind::Lstm);
                    for k in 1..=states {
                        for u in 0..h {
                            close(grads[k][row * h + u], g1[k][u], "initial state gradient");
                        }
                    }
                    for (sum, g) in weight_sums.iter_mut().zip(&g1[states + 1..]) {
                        for (s, v) in sum.iter_mut().zip(g) {
                            *s += v;
                        }
                    }
                }
                let states = 1 + usize::from(kind == CellKind::Lstm);
                for (sum, g) in weight_sums.iter().zip(&grads[states + 1..]) {
                    for (s, v) in sum.iter().zip(g) {
                        close(*v, *s, "weight gradient");
                    }
                }
            }
        }
    }
}

#[test]
fn rejects_bad_shapes_without_panicking() {
    let w_ih = Tensor::zeros(&[8, 2]);
    let w_hh = Tensor::zeros(&[8, 2]);
    let w = LayerWeights {
        w_ih: &w_ih,
        w_hh: &w_hh,
        b_ih: None,
        b_hh: None,
    };
    let x = Tensor::zeros(&[3, 1, 2]);
    let h0 = Tensor::zeros(&[1, 2]);
    let plain = Walk::default();
    assert!(recurrent_layer(CellKind::Lstm, &x, &h0, None, w, plain).is_err());
    let err = recurrent_layer(
        CellKind::Lstm,
        &x,
        &Tensor::zeros(&[2, 2]),
        Some(&h0),
        w,
        plain,
    )
    .unwrap_err();
    assert!(err.to_string().contains("expected h0 [1, 2]"), "{err}");
    let four = Walk {
        lengths: Some(&[4]),
        ..plain
    };
    let err = recurrent_layer(CellKind::Lstm, &x, &h0, Some(&h0), w, four).unwrap_err();
    assert!(err.to_string().contains("lengths"), "{err}");
    // Batch-first, the same input is 3 sequences of one step: h0 must have 3 rows.
    let batch_first = Walk {
        batch_first: true,
        ..plain
    };
    let err = recurrent_layer(CellKind::Lstm, &x, &h0, Some(&h0), w, batch_first).unwrap_err();
    assert!(err.to_string().contains("expected h0 [3, 2]"), "{err}");
    let err = recurrent_layer(CellKind::Gru, &x, &h0, None, w, plain).unwrap_err();
    assert!(
        err.to_string().contains("weight_hh [6, 2]") || err.to_string().contains("weight_ih"),
        "{err}"
    );
}

/// A batch-first call gives what a time-major call gives on the transposed input, outputs
/// and gradients alike: in bands of rows and not, in both directions, with lengths, with
/// and without recording.
#[test]
fn batch_first_matches_time_major() {
    let (t, i, h) = (5, 3, 16);
    for b in [3, 20] {
        let lengths: Vec<usize> = (0..b).map(|r| (r * 7) % (t + 1)).collect();
        for kind in [CellKind::Lstm, CellKind::Gru, CellKind::RnnTanh] {
            for dtype in [DType::F32, DType::F64] {
                for (reverse, lengths) in [(false, None), (true, Some(&lengths[..]))] {
                    let case = Case::random(kind, dtype, (t, b, i, h), 3, 0.5);
                    let Case { x, h0, c0, up, .. } = &case;
                    let wr = case.weights();
                    let (xb, upb) = (batch_major(x), batch_major(up));
                    let walk = Walk {
                        reverse,
                        lengths,
                        batch_first: false,
                    };
                    let (outs, grads) = run_rows(kind, x, h0, c0, wr, up, walk);
                    let walk_b = Walk {
                        batch_first: true,
                        ..walk
                    };
                    let (outs_b, grads_b) = run_rows(kind, &xb, h0, c0, wr, &upb, walk_b);
                    // Back to time-major [T, B, width] order, flattened.
                    let time_major = |v: &[f64], width: usize| -> Vec<f64> {
                        let mut out = vec![0.0; v.len()];
                        for (row, chunk) in v.chunks_exact(width).enumerate() {
                            let (bb, tt) = (row / t, row % t);
                            let at = (tt * b + bb) * width;
                            out[at..at + width].copy_from_slice(chunk);
                        }
                        out
                    };
                    let tol = if dtype == DType::F32 { 1e-5 } else { 1e-12 };
                    let what = format!("{kind:?} {dtype:?} b={b} reverse={reverse}");
                    let close = |got: &[f64], want: &[f64], part: &str| {
                        assert_all_close(got, want, tol, &format!("{what} {part}"))
                    };
                    close(&time_major(&outs_b[0], h), &outs[0], "output");
                    for k in 1..outs.len() {
                        close(&outs_b[k], &outs[k], "final state");
                    }
                    close(&time_major(&grads_b[0], i), &grads[0], "dx");
                    for k in 1..grads.len() {
                        close(&grads_b[k], &grads[k], "state or weight gradient");
                    }
                    // Without recording, the kernels write a scratch block for `extra`.
                    let plain = unrecorded_out(kind, &xb, &case, walk_b);
                    assert_eq!(plain, outs_b[0], "{what} without recording");
                }
            }
        }
    }
}

/// One layer-direction written with plain differentiable tensor ops, step by step: the
/// reference for [`fused_matches_plain_ops_with_padded_gate_rows`]. Returns the output
/// sequence `[T, B, H]` and the final states.
fn plain_layer(
    kind: CellKind,
    x: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
    w: [&Tensor; 4],
    reverse: bool,
) -> strata_core::Result<(Tensor, Tensor, Tensor)> {
    let (t, h) = (x.shape()[0], h0.shape()[1]);
    let gate = |m: &Tensor, k: usize| m.narrow(1, k * h, h);
    let (mut hs, mut cs) = (h0.clone(), c0.clone());
    let mut outs = vec![Tensor::zeros(&[1]); t];
    for s in 0..t {
        let step = if reverse { t - 1 - s } else { s };
        let gx = x.select(0, step)?.matmul(&w[0].t()?)?.add(w[2])?;
        let gh = hs.matmul(&w[1].t()?)?.add(w[3])?;
        hs = match kind {
            CellKind::Lstm => {
                let pre = gx.add(&gh)?;
                let (i, f) = (gate(&pre, 0)?.sigmoid()?, gate(&pre, 1)?.sigmoid()?);
                let (g, o) = (gate(&pre, 2)?.tanh()?, gate(&pre, 3)?.sigmoid()?);
                cs = f.mul(&cs)?.add(&i.mul(&g)?)?;
                o.mul(&cs.tanh()?)?
            }
            CellKind::Gru => {
                let r = gate(&gx, 0)?.add(&gate(&gh, 0)?)?.sigmoid()?;
                let z = gate(&gx, 1)?.add(&gate(&gh, 1)?)?.sigmoid()?;
                let n = gate(&gx, 2)?.add(&r.mul(&gate(&gh, 2)?)?)?.tanh()?;
                // (1 − z) · n + z · h
                n.sub(&z.mul(&n)?)?.add(&z.mul(&hs)?)?
            }
            _ => gx.add(&gh)?.tanh()?,
        };
        outs[step] = hs.clone();
    }
    Ok((Tensor::stack(&outs, 0)?, hs, cs))
}

/// With gate rows a multiple of 2 KiB wide, the gate buffers are padded (`Dims::gate_ld`):
/// the fused op still gives what plain tensor ops give, outputs and every gradient, in
/// both layouts and in bands of rows.
#[test]
fn fused_matches_plain_ops_with_padded_gate_rows() {
    let (t, b, i) = (3, 17, 5);
    // Gate rows of 2 KiB: 4·128 f32 (LSTM) and 4·64 f64 values; 256 f64 for the simple RNN.
    let cases = [
        (CellKind::Lstm, DType::F32, 128),
        (CellKind::Lstm, DType::F64, 64),
        (CellKind::RnnTanh, DType::F64, 256),
        (CellKind::Gru, DType::F64, 128),
    ];
    for (kind, dtype, h) in cases {
        let dims = Dims {
            t,
            b,
            i,
            h,
            g: kind.gates(),
        };
        let size = if dtype == DType::F32 { 4 } else { 8 };
        let padded = if dtype == DType::F32 {
            dims.gate_ld::<f32>()
        } else {
            dims.gate_ld::<f64>()
        };
        let gate_bytes = dims.gh() * size;
        assert_eq!(
            padded > dims.gh(),
            gate_bytes.is_multiple_of(2048),
            "{kind:?}"
        );
        let case = Case::random(kind, dtype, (t, b, i, h), 9, 0.3);
        let Case { x, h0, c0, up, .. } = &case;
        let wr = case.weights();
        let lstm = kind == CellKind::Lstm;
        let (out, h_n, c_n) = plain_layer(kind, x, h0, c0, wr, true).unwrap();
        let mut loss = out.mul(up).unwrap().sum_all().unwrap();
        loss = loss
            .add(&h_n.mul(&h_n).unwrap().sum_all().unwrap())
            .unwrap();
        if lstm {
            loss = loss.add(&c_n.sum_all().unwrap()).unwrap();
        }
        let grads = loss.backward().unwrap();
        let v = |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().unwrap();
        let mut wrt = vec![x, h0];
        if lstm {
            wrt.push(c0);
        }
        wrt.extend(wr);
        let want: Vec<Vec<f64>> = wrt.iter().map(|p| v(grads.get(p).unwrap())).collect();
        let tol = if dtype == DType::F32 { 1e-4 } else { 1e-10 };
        let close = |got: &[f64], want: &[f64], what: &str| {
            assert_all_close(got, want, tol, &format!("{kind:?} {dtype:?} {what}"))
        };
        for batch_first in [false, true] {
            let walk = Walk {
                reverse: true,
                batch_first,
                lengths: None,
            };
            let (xs, ups) = if batch_first {
                (batch_major(x), batch_major(up))
            } else {
                (x.clone(), up.clone())
            };
            let (outs, got) = run_rows(kind, &xs, h0, c0, wr, &ups, walk);
            let to_time_major = |a: Vec<f64>, width: usize| {
                if !batch_first {
                    return a;
                }
                let m = Tensor::from_vec(a, &[b, t, width]).unwrap();
                v(&m.transpose(0, 1).unwrap().contiguous())
            };
            close(&to_time_major(outs[0].clone(), h), &v(&out), "output");
            close(&outs[1], &v(&h_n), "h_n");
            close(&to_time_major(got[0].clone(), i), &want[0], "dx");
            for k in 1..want.len() {
                close(&got[k], &want[k], "state or weight gradient");
            }
        }
    }
}

/// Rows that change threads between steps (bands split whenever a thread could take rows)
/// give the same outputs and gradients, to the last bit, as bands that never split: every
/// row's results, the bias gradients' sums included, do not depend on where it ran.
#[test]
fn rows_split_between_steps_give_the_same_bits() {
    let (t, b, i, h) = (6, 18, 3, 8);
    let lengths: Vec<usize> = (0..b).map(|r| (r * 5) % (t + 1)).collect();
    for kind in [CellKind::Lstm, CellKind::Gru, CellKind::RnnTanh] {
        for dtype in [DType::F32, DType::F64] {
            for (batch_first, reverse, lengths) in [
                (false, false, None),
                (true, true, Some(&lengths[..])),
                (true, false, None),
            ] {
                let case = Case::random(kind, dtype, (t, b, i, h), 11, 0.5);
                let x = if batch_first {
                    batch_major(&case.x)
                } else {
                    case.x.clone()
                };
                let up = if batch_first {
                    batch_major(&case.up)
                } else {
                    case.up.clone()
                };
                let walk = Walk {
                    reverse,
                    batch_first,
                    lengths,
                };
                let run = || {
                    let w = case.weights();
                    let recorded = run_rows(kind, &x, &case.h0, &case.c0, w, &up, walk);
                    (recorded, unrecorded_out(kind, &x, &case, walk))
                };
                let whole = run();
                for requests in [1, 3, 40] {
                    let split = super::steal::with_forced_splits(requests, run);
                    assert!(
                        split == whole,
                        "{kind:?} {dtype:?} batch-first {batch_first} reverse {reverse}, \
                         {requests} requests"
                    );
                }
            }
        }
    }
}
