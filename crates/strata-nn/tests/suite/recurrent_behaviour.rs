//! RNN, LSTM and GRU beyond the PyTorch fixtures: the fused layers against a naive
//! composition of tensor ops, variable lengths against unpadded runs, truncated BPTT,
//! gradcheck through stacked bidirectional layers, dropout, names, init and errors.

use strata_core::{gradcheck, DType, Generator, GradcheckOptions, Gradients, Tensor};
use strata_nn::{
    Forward, GRUCell, LSTMCell, Module, ModuleExt, RNNCell, RNNNonlinearity, RecurrentConfig, GRU,
    LSTM, RNN,
};
use strata_testutil::{assert_close, assert_close_f32};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Tanh,
    Relu,
    Lstm,
    Gru,
}

const KINDS: [Kind; 4] = [Kind::Tanh, Kind::Relu, Kind::Lstm, Kind::Gru];

/// One of the three layers behind one interface: `(out, h_n, c_n)`.
enum Net {
    Rnn(RNN),
    Lstm(LSTM),
    Gru(GRU),
}

impl Net {
    fn new(kind: Kind, input: usize, hidden: usize, config: RecurrentConfig) -> Net {
        match kind {
            Kind::Tanh => {
                Net::Rnn(RNN::with_config(input, hidden, RNNNonlinearity::Tanh, config).unwrap())
            }
            Kind::Relu => {
                Net::Rnn(RNN::with_config(input, hidden, RNNNonlinearity::Relu, config).unwrap())
            }
            Kind::Lstm => Net::Lstm(LSTM::with_config(input, hidden, config).unwrap()),
            Kind::Gru => Net::Gru(GRU::with_config(input, hidden, config).unwrap()),
        }
    }

    fn module(&self) -> &dyn Module {
        match self {
            Net::Rnn(m) => m,
            Net::Lstm(m) => m,
            Net::Gru(m) => m,
        }
    }

    fn run(
        &self,
        x: &Tensor,
        h0: Option<&Tensor>,
        c0: Option<&Tensor>,
        lengths: Option<&[usize]>,
    ) -> strata_nn::Result<(Tensor, Tensor, Option<Tensor>)> {
        Ok(match self {
            Net::Rnn(m) => {
                let (o, h) = match lengths {
                    Some(l) => m.forward_with_lengths(x, h0, l)?,
                    None => m.forward_with_state(x, h0)?,
                };
                (o, h, None)
            }
            Net::Gru(m) => {
                let (o, h) = match lengths {
                    Some(l) => m.forward_with_lengths(x, h0, l)?,
                    None => m.forward_with_state(x, h0)?,
                };
                (o, h, None)
            }
            Net::Lstm(m) => {
                let state = h0.zip(c0);
                let (o, (h, c)) = match lengths {
                    Some(l) => m.forward_with_lengths(x, state, l)?,
                    None => m.forward_with_state(x, state)?,
                };
                (o, h, Some(c))
            }
        })
    }
}

fn randn(rng: &mut Generator, shape: &[usize], dtype: DType) -> Tensor {
    Tensor::randn_with(rng, shape, dtype)
}

/// The same network written with plain tensor ops, one step at a time (time-major input).
fn naive(
    kind: Kind,
    m: &dyn Module,
    x: &Tensor,
    layers: usize,
    dirs: usize,
    h0: &Tensor,
    c0: &Tensor,
) -> (Tensor, Tensor, Tensor) {
    let params = m.named_parameters();
    let p = |name: String| {
        params
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
            .tensor()
            .clone()
    };
    let steps = x.shape()[0];
    let hidden = h0.shape()[2];
    let gate = |g: &Tensor, k: usize| g.narrow(1, k * hidden, hidden).unwrap();
    let mut input = x.clone();
    let (mut hs, mut cs) = (Vec::new(), Vec::new());
    for l in 0..layers {
        let mut dir_outs = Vec::new();
        for d in 0..dirs {
            let sfx = format!("_l{l}{}", if d == 1 { "_reverse" } else { "" });
            let (w_ih, w_hh) = (p(format!("weight_ih{sfx}")), p(format!("weight_hh{sfx}")));
            let (b_ih, b_hh) = (p(format!("bias_ih{sfx}")), p(format!("bias_hh{sfx}")));
            let mut h = h0.select(0, l * dirs + d).unwrap();
            let mut c = c0.select(0, l * dirs + d).unwrap();
            let mut outs = vec![None; steps];
            for s in 0..steps {
                let t = if d == 1 { steps - 1 - s } else { s };
                let gi = input
                    .select(0, t)
                    .unwrap()
                    .matmul(&w_ih.t().unwrap())
                    .unwrap()
                    .add(&b_ih)
                    .unwrap();
                let gh = h.matmul(&w_hh.t().unwrap()).unwrap().add(&b_hh).unwrap();
                h = match kind {
                    Kind::Tanh => gi.add(&gh).unwrap().tanh().unwrap(),
                    Kind::Relu => gi.add(&gh).unwrap().relu().unwrap(),
                    Kind::Lstm => {
                        let g = gi.add(&gh).unwrap();
                        let i = gate(&g, 0).sigmoid().unwrap();
                        let f = gate(&g, 1).sigmoid().unwrap();
                        let gg = gate(&g, 2).tanh().unwrap();
                        let o = gate(&g, 3).sigmoid().unwrap();
                        c = f.mul(&c).unwrap().add(&i.mul(&gg).unwrap()).unwrap();
                        o.mul(&c.tanh().unwrap()).unwrap()
                    }
                    Kind::Gru => {
                        let r = gate(&gi, 0).add(&gate(&gh, 0)).unwrap().sigmoid().unwrap();
                        let z = gate(&gi, 1).add(&gate(&gh, 1)).unwrap().sigmoid().unwrap();
                        let n = gate(&gi, 2)
                            .add(&r.mul(&gate(&gh, 2)).unwrap())
                            .unwrap()
                            .tanh()
                            .unwrap();
                        // (1 - z) n + z h = n + z (h - n)
                        n.add(&z.mul(&h.sub(&n).unwrap()).unwrap()).unwrap()
                    }
                };
                outs[t] = Some(h.clone());
            }
            let outs: Vec<Tensor> = outs.into_iter().map(|o| o.unwrap()).collect();
            dir_outs.push(Tensor::stack(&outs, 0).unwrap());
            hs.push(h);
            cs.push(c);
        }
        input = Tensor::cat(&dir_outs, 2).unwrap();
    }
    (
        input,
        Tensor::stack(&hs, 0).unwrap(),
        Tensor::stack(&cs, 0).unwrap(),
    )
}

/// `sum(out·r1) + sum(h_n·r2) (+ sum(c_n·r3))`: a loss every output takes part in.
fn project(rng: &mut Generator, out: &Tensor, h_n: &Tensor, c_n: Option<&Tensor>) -> Tensor {
    let mut loss = out
        .mul(&randn(rng, out.shape(), out.dtype()))
        .unwrap()
        .sum_all()
        .unwrap();
    for s in [Some(h_n), c_n].into_iter().flatten() {
        let term = s
            .mul(&randn(rng, s.shape(), s.dtype()))
            .unwrap()
            .sum_all()
            .unwrap();
        loss = loss.add(&term).unwrap();
    }
    loss
}

#[test]
fn fused_layers_match_a_naive_composition_of_tensor_ops_in_f32() {
    // Hidden size 20 runs the sixteen-lane f32 kernels on a full and a partial vector.
    let (t, b, i) = (7, 3, 5);
    for (kind, h) in KINDS.into_iter().flat_map(|k| [(k, 6), (k, 20)]) {
        for batch_first in [false, true] {
            let config = RecurrentConfig {
                num_layers: 2,
                bidirectional: true,
                batch_first,
                ..Default::default()
            };
            let net = Net::new(kind, i, h, config);
            let mut rng = Generator::new(3);
            let x_tm = randn(&mut rng, &[t, b, i], DType::F32);
            let x = if batch_first {
                x_tm.transpose(0, 1).unwrap().contiguous()
            } else {
                x_tm.clone()
            };
            let x = x.requires_grad_();
            let h0 = randn(&mut rng, &[4, b, h], DType::F32).requires_grad_();
            let c0 = randn(&mut rng, &[4, b, h], DType::F32).requires_grad_();
            let lstm = kind == Kind::Lstm;
            let (out, h_n, c_n) = net.run(&x, Some(&h0), lstm.then_some(&c0), None).unwrap();
            let x_time_major = if batch_first {
                x.transpose(0, 1).unwrap()
            } else {
                x.clone()
            };
            let (n_out, n_h, n_c) = naive(kind, net.module(), &x_time_major, 2, 2, &h0, &c0);
            let n_out = if batch_first {
                n_out.transpose(0, 1).unwrap()
            } else {
                n_out
            };
            let what = format!("{kind:?} h={h} batch_first={batch_first}");
            assert_close_f32(&out, &n_out, &format!("{what} out"));
            assert_close_f32(&h_n, &n_h, &format!("{what} h_n"));
            if let Some(c_n) = &c_n {
                assert_close_f32(c_n, &n_c, &format!("{what} c_n"));
            }
            let g1 = project(&mut Generator::new(9), &out, &h_n, c_n.as_ref())
                .backward()
                .unwrap();
            let g2 = project(&mut Generator::new(9), &n_out, &n_h, lstm.then_some(&n_c))
                .backward()
                .unwrap();
            let mut leaves = vec![("x".to_string(), x.clone()), ("h0".into(), h0.clone())];
            if lstm {
                leaves.push(("c0".into(), c0.clone()));
            }
            for (name, p) in net.module().named_parameters() {
                leaves.push((name, p.tensor().clone()));
            }
            for (name, leaf) in leaves {
                let (a, e) = (g1.get(&leaf).unwrap(), g2.get(&leaf).unwrap());
                assert_close(a, e, 1e-3, 1e-4, &format!("{what} grad {name}"));
            }
        }
    }
}

#[test]
fn gradcheck_through_stacked_bidirectional_layers_with_lengths() {
    // Input and initial states are the checked leaves; the weights are checked against the
    // naive composition above and by the op-level gradcheck in fused_op.rs.
    for kind in KINDS {
        let config = RecurrentConfig {
            num_layers: 2,
            bidirectional: true,
            dtype: DType::F64,
            ..Default::default()
        };
        let net = Net::new(kind, 2, 3, config);
        for lengths in [None, Some(&[4usize, 2, 3][..])] {
            let mut rng = Generator::new(1);
            let inputs = [
                randn(&mut rng, &[4, 3, 2], DType::F64),
                randn(&mut rng, &[4, 3, 3], DType::F64),
                randn(&mut rng, &[4, 3, 3], DType::F64),
            ];
            gradcheck(
                |x| {
                    let lstm = kind == Kind::Lstm;
                    let (out, h_n, c_n) = net
                        .run(&x[0], Some(&x[1]), lstm.then_some(&x[2]), lengths)
                        .unwrap();
                    let mut parts = vec![out.reshape(&[4 * 3 * 6])?, h_n.reshape(&[4 * 3 * 3])?];
                    parts.extend(c_n.map(|c| c.reshape(&[36])).transpose()?);
                    Tensor::cat(&parts, 0)
                },
                &inputs,
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{kind:?} {lengths:?}: {e}"));
        }
    }
}

#[test]
fn padded_batch_with_lengths_matches_each_sequence_run_alone() {
    check_lengths_against_unpadded(5, 3, 2, 4, &[5, 2, 4]);
}

#[test]
fn lengths_on_steps_large_enough_to_split_rows_across_threads() {
    // 24 rows of 128 units: the step kernels split the rows over the pool.
    let lengths: Vec<usize> = (0..24).map(|r| 1 + r % 3).collect();
    check_lengths_against_unpadded(3, 24, 3, 128, &lengths);
}

fn check_lengths_against_unpadded(t: usize, b: usize, i: usize, h: usize, lengths: &[usize]) {
    for kind in KINDS {
        for batch_first in [false, true] {
            let config = RecurrentConfig {
                num_layers: 2,
                bidirectional: true,
                batch_first,
                dtype: DType::F64,
                ..Default::default()
            };
            let net = Net::new(kind, i, h, config);
            let (bd, td) = if batch_first { (0, 1) } else { (1, 0) };
            let mut rng = Generator::new(5);
            let shape = if batch_first { [b, t, i] } else { [t, b, i] };
            let x = randn(&mut rng, &shape, DType::F64).requires_grad_();
            let h0 = randn(&mut rng, &[4, b, h], DType::F64);
            let c0 = randn(&mut rng, &[4, b, h], DType::F64);
            let lstm = kind == Kind::Lstm;
            let (out, h_n, c_n) = net
                .run(&x, Some(&h0), lstm.then_some(&c0), Some(lengths))
                .unwrap();
            let grads = project(&mut Generator::new(2), &out, &h_n, c_n.as_ref())
                .backward()
                .unwrap();
            let r_out = randn(&mut Generator::new(2), out.shape(), DType::F64);
            let params = net.module().named_parameters();
            let mut summed: Vec<Option<Tensor>> = vec![None; params.len()];
            let what = format!("{kind:?} h={h} batch_first={batch_first}");
            for (row, &len) in lengths.iter().enumerate() {
                let xr = x
                    .detach()
                    .narrow(bd, row, 1)
                    .unwrap()
                    .narrow(td, 0, len)
                    .unwrap()
                    .requires_grad_();
                let hr = h0.narrow(1, row, 1).unwrap();
                let cr = c0.narrow(1, row, 1).unwrap();
                let (o, hn, cn) = net.run(&xr, Some(&hr), lstm.then_some(&cr), None).unwrap();
                let got = out.narrow(bd, row, 1).unwrap();
                assert_close(
                    &got.narrow(td, 0, len).unwrap(),
                    &o,
                    1e-12,
                    1e-12,
                    &format!("{what} out row {row}"),
                );
                let pad = got
                    .narrow(td, len, t - len)
                    .unwrap()
                    .to_vec::<f64>()
                    .unwrap();
                assert!(
                    pad.iter().all(|&v| v == 0.0),
                    "{what}: padded outputs are zero"
                );
                assert_close(
                    &h_n.narrow(1, row, 1).unwrap(),
                    &hn,
                    1e-12,
                    1e-12,
                    &format!("{what} h_n row {row}"),
                );
                if let (Some(a), Some(e)) = (&c_n, &cn) {
                    assert_close(
                        &a.narrow(1, row, 1).unwrap(),
                        e,
                        1e-12,
                        1e-12,
                        &format!("{what} c_n row {row}"),
                    );
                }
                // The same loss restricted to this row, to compare gradients.
                let mut rng = Generator::new(2);
                let _ = randn(&mut rng, out.shape(), DType::F64);
                let r_h = randn(&mut rng, h_n.shape(), DType::F64);
                let r_c = randn(&mut rng, h_n.shape(), DType::F64);
                let ro = r_out
                    .narrow(bd, row, 1)
                    .unwrap()
                    .narrow(td, 0, len)
                    .unwrap();
                let mut loss = o.mul(&ro).unwrap().sum_all().unwrap();
                loss = loss
                    .add(
                        &hn.mul(&r_h.narrow(1, row, 1).unwrap())
                            .unwrap()
                            .sum_all()
                            .unwrap(),
                    )
                    .unwrap();
                if let Some(cn) = &cn {
                    loss = loss
                        .add(
                            &cn.mul(&r_c.narrow(1, row, 1).unwrap())
                                .unwrap()
                                .sum_all()
                                .unwrap(),
                        )
                        .unwrap();
                }
                let g: Gradients = loss.backward().unwrap();
                let gx = grads.get(&x).unwrap().narrow(bd, row, 1).unwrap();
                assert_close(
                    &gx.narrow(td, 0, len).unwrap(),
                    g.get(&xr).unwrap(),
                    1e-10,
                    1e-12,
                    &format!("{what} grad x row {row}"),
                );
                let gpad = gx
                    .narrow(td, len, t - len)
                    .unwrap()
                    .to_vec::<f64>()
                    .unwrap();
                assert!(
                    gpad.iter().all(|&v| v == 0.0),
                    "{what}: padded inputs get no gradient"
                );
                for (k, (_, p)) in params.iter().enumerate() {
                    let gp = p.grad(&g).unwrap().clone();
                    summed[k] = Some(match summed[k].take() {
                        Some(s) => s.add(&gp).unwrap(),
                        None => gp,
                    });
                }
            }
            for ((name, p), s) in params.iter().zip(summed) {
                assert_close(
                    p.grad(&grads).unwrap(),
                    &s.unwrap(),
                    1e-10,
                    1e-12,
                    &format!("{what} grad {name}"),
                );
            }
        }
    }
}

#[test]
fn detached_state_cuts_the_graph_between_chunks() {
    let lstm = LSTM::new(3, 4).unwrap();
    let mut rng = Generator::new(8);
    let x1 = randn(&mut rng, &[5, 2, 3], DType::F32).requires_grad_();
    let x2 = randn(&mut rng, &[5, 2, 3], DType::F32).requires_grad_();
    let (_, (h, c)) = lstm.forward_with_state(&x1, None).unwrap();

    // Truncated: the second chunk starts from detached values.
    let (h_d, c_d) = (h.detach(), c.detach());
    let (out2, _) = lstm.forward_with_state(&x2, Some((&h_d, &c_d))).unwrap();
    let g = out2.sum_all().unwrap().backward().unwrap();
    assert!(
        g.get(&x1).is_none(),
        "chunk 1 inputs get no gradient from chunk 2"
    );
    assert!(g.get(&x2).is_some());
    for p in lstm.parameters() {
        assert!(p.grad(&g).is_some());
    }

    // Not truncated: the gradient reaches chunk 1.
    let (out2, _) = lstm.forward_with_state(&x2, Some((&h, &c))).unwrap();
    let g = out2.sum_all().unwrap().backward().unwrap();
    let gx1 = g.get(&x1).unwrap().to_vec::<f32>().unwrap();
    assert!(gx1.iter().any(|&v| v != 0.0));
}

#[test]
fn parameter_names_shapes_and_init_follow_pytorch() {
    let config = RecurrentConfig {
        num_layers: 2,
        bidirectional: true,
        ..Default::default()
    };
    let gru = GRU::with_config(3, 4, config).unwrap();
    let names: Vec<(String, Vec<usize>)> = gru
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.shape().to_vec()))
        .collect();
    let want = [
        ("weight_ih_l0", vec![12, 3]),
        ("weight_hh_l0", vec![12, 4]),
        ("bias_ih_l0", vec![12]),
        ("bias_hh_l0", vec![12]),
        ("weight_ih_l0_reverse", vec![12, 3]),
        ("weight_hh_l0_reverse", vec![12, 4]),
        ("bias_ih_l0_reverse", vec![12]),
        ("bias_hh_l0_reverse", vec![12]),
        ("weight_ih_l1", vec![12, 8]),
        ("weight_hh_l1", vec![12, 4]),
        ("bias_ih_l1", vec![12]),
        ("bias_hh_l1", vec![12]),
        ("weight_ih_l1_reverse", vec![12, 8]),
        ("weight_hh_l1_reverse", vec![12, 4]),
        ("bias_ih_l1_reverse", vec![12]),
        ("bias_hh_l1_reverse", vec![12]),
    ];
    let want: Vec<(String, Vec<usize>)> =
        want.into_iter().map(|(n, s)| (n.to_string(), s)).collect();
    assert_eq!(names, want);
    let no_bias = LSTM::with_config(
        3,
        4,
        RecurrentConfig {
            bias: false,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(no_bias.num_parameters(), 16 * 3 + 16 * 4);
    let big = LSTM::new(10, 100).unwrap();
    for p in big.parameters() {
        let v = p.to_vec::<f32>().unwrap();
        assert!(v.iter().all(|x| x.abs() <= 0.1), "uniform in ±1/√H");
        assert!(v.iter().any(|x| x.abs() > 0.09));
    }
}

#[test]
fn dropout_between_layers_only_in_training() {
    let config = RecurrentConfig {
        num_layers: 2,
        dropout: 0.5,
        ..Default::default()
    };
    let lstm = LSTM::with_config(3, 8, config).unwrap();
    let plain = LSTM::with_config(
        3,
        8,
        RecurrentConfig {
            num_layers: 2,
            ..Default::default()
        },
    )
    .unwrap();
    plain.load_state_dict(&lstm.state_dict(), true).unwrap();
    let x = Tensor::randn(&[6, 2, 3]);
    let a = lstm.forward(&x).unwrap().to_vec::<f32>().unwrap();
    let b = lstm.forward(&x).unwrap().to_vec::<f32>().unwrap();
    let reference = plain.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert_ne!(a, b, "fresh masks each call");
    assert_ne!(a, reference);
    lstm.eval();
    assert_eq!(lstm.is_training(), Some(false));
    assert_eq!(
        lstm.forward(&x).unwrap().to_vec::<f32>().unwrap(),
        reference
    );
    // One layer: dropout never applies (PyTorch warns; here it is simply inactive).
    let one = GRU::with_config(
        3,
        4,
        RecurrentConfig {
            dropout: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    let y1 = one.forward(&x).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(y1, one.forward(&x).unwrap().to_vec::<f32>().unwrap());
}

#[test]
fn unbatched_inputs_and_cells_agree_with_the_layers() {
    let rnn = RNN::new(3, 4).unwrap();
    let x = Tensor::randn(&[5, 3]);
    let (out, h_n) = rnn.forward_with_state(&x, None).unwrap();
    assert_eq!((out.shape(), h_n.shape()), (&[5, 4][..], &[1, 4][..]));
    let (out_b, _) = rnn
        .forward_with_state(&x.unsqueeze(1).unwrap(), None)
        .unwrap();
    assert_close_f32(
        &out,
        &out_b.squeeze_dim(1).unwrap(),
        "unbatched = batch of one",
    );

    // A cell loaded with a one-layer network's weights reproduces its steps.
    let lstm = LSTM::new(3, 4).unwrap();
    let cell = LSTMCell::new(3, 4).unwrap();
    let renamed: Vec<(String, Tensor)> = lstm
        .state_dict()
        .into_iter()
        .map(|(n, t)| (n.trim_end_matches("_l0").to_string(), t))
        .collect();
    cell.load_state_dict(&renamed, true).unwrap();
    let xs = Tensor::randn(&[4, 2, 3]);
    let (out, (h_n, c_n)) = lstm.forward_with_state(&xs, None).unwrap();
    let mut state: Option<(Tensor, Tensor)> = None;
    for t in 0..4 {
        let (h, c) = cell
            .step(
                &xs.select(0, t).unwrap(),
                state.as_ref().map(|(h, c)| (h, c)),
            )
            .unwrap();
        assert_close_f32(&h, &out.select(0, t).unwrap(), "cell step = layer step");
        state = Some((h, c));
    }
    let (h, c) = state.unwrap();
    assert_close_f32(&h, &h_n.select(0, 0).unwrap(), "h_n");
    assert_close_f32(&c, &c_n.select(0, 0).unwrap(), "c_n");

    let gru_cell = GRUCell::new(3, 4).unwrap();
    assert_eq!(
        gru_cell.forward(&Tensor::randn(&[2, 3])).unwrap().shape(),
        &[2, 4]
    );
    let relu = RNNCell::with_config(3, 4, RNNNonlinearity::Relu, Default::default()).unwrap();
    let y = relu
        .step(&Tensor::randn(&[6, 3]), None)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    assert!(y.iter().all(|&v| v >= 0.0));
}

#[test]
fn user_mistakes_are_errors_with_clear_messages() {
    let lstm = LSTM::new(4, 5).unwrap();
    let msg =
        |r: strata_nn::Result<(Tensor, (Tensor, Tensor))>| r.expect_err("an error").to_string();

    let err = msg(lstm.forward_with_state(&Tensor::zeros(&[2, 3, 4, 1]), None));
    assert_eq!(err, "LSTM(4, 5): expected input [T, B, I] or unbatched [T, I] with I = 4, got input of shape [2, 3, 4, 1]");
    let err = msg(lstm.forward_with_state(&Tensor::zeros(&[6, 2, 3]), None));
    assert_eq!(err, "LSTM(4, 5): expected input with last dimension 4 (input_size), got input of shape [6, 2, 3]");
    let x = Tensor::zeros(&[6, 2, 4]);
    let (h_bad, c_ok) = (Tensor::zeros(&[1, 3, 5]), Tensor::zeros(&[1, 2, 5]));
    let err = msg(lstm.forward_with_state(&x, Some((&h_bad, &c_ok))));
    assert_eq!(err, "LSTM(4, 5): argument h0: expected shape [1, 2, 5] ([layers·directions, batch, hidden]), got shape [1, 3, 5]");
    let err = msg(lstm.forward_with_state(&x, Some((&c_ok, &h_bad))));
    assert_eq!(err, "LSTM(4, 5): argument c0: expected shape [1, 2, 5] ([layers·directions, batch, hidden]), got shape [1, 3, 5]");
    let h_f64 = Tensor::zeros(&[1, 2, 5]).to_dtype(strata_core::DType::F64);
    let err = msg(lstm.forward_with_state(&x, Some((&h_f64, &c_ok))));
    assert_eq!(
        err,
        "LSTM(4, 5): argument h0: expected dtype f32 like the parameters, got dtype f64"
    );
    let err = msg(lstm.forward_with_lengths(&x, None, &[7, 2]));
    assert!(
        err.contains(
            "expected 2 lengths (one per batch row) each at most the sequence length 6, got [7, 2]"
        ),
        "{err}"
    );
    let err = msg(lstm.forward_with_lengths(&x, None, &[6, 2, 1]));
    assert!(err.contains("got [6, 2, 1]"), "{err}");
    let err = msg(lstm.forward_with_state(&x.to_dtype(DType::F64), None));
    assert!(
        err.contains("f32 input like its parameters, not f64"),
        "{err}"
    );

    let gru = GRU::with_config(
        4,
        5,
        RecurrentConfig {
            batch_first: true,
            ..Default::default()
        },
    )
    .unwrap();
    let err = gru.forward(&Tensor::zeros(&[4])).unwrap_err().to_string();
    assert!(err.contains("expected input [B, T, I]"), "{err}");

    assert!(RNN::new(0, 3).is_err());
    let err = LSTM::with_config(
        3,
        3,
        RecurrentConfig {
            dropout: 1.0,
            ..Default::default()
        },
    )
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "LSTM: invalid configuration: dropout must be in [0, 1), got 1"
    );
    assert!(GRU::with_config(
        3,
        3,
        RecurrentConfig {
            num_layers: 0,
            ..Default::default()
        }
    )
    .is_err());

    let cell = GRUCell::new(3, 4).unwrap();
    let err = cell
        .step(&Tensor::zeros(&[2, 5]), None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "GRUCell(3, 4): expected input with last dimension 3, got input of shape [2, 5]"
    );
    let err = cell
        .step(&Tensor::zeros(&[2, 3]), Some(&Tensor::zeros(&[3, 4])))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "GRUCell(3, 4): expected hidden state of shape [2, 4] and dtype f32, got input of shape [3, 4]");
    let err = cell
        .step(&Tensor::zeros(&[1, 2, 3]), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected input [B, 3] or [3]"), "{err}");
}

#[test]
fn empty_sequences_and_batches_do_not_panic() {
    let lstm = LSTM::with_config(
        3,
        4,
        RecurrentConfig {
            bidirectional: true,
            ..Default::default()
        },
    )
    .unwrap();
    let (out, (h_n, c_n)) = lstm
        .forward_with_state(&Tensor::zeros(&[0, 2, 3]), None)
        .unwrap();
    assert_eq!((out.shape(), h_n.shape()), (&[0, 2, 8][..], &[2, 2, 4][..]));
    assert!(c_n.to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0));
    let (out, _) = lstm
        .forward_with_state(&Tensor::zeros(&[5, 0, 3]), None)
        .unwrap();
    assert_eq!(out.shape(), &[5, 0, 8]);
    // A zero length keeps the initial state and outputs zeros.
    let gru = GRU::new(3, 4).unwrap();
    let h0 = Tensor::ones(&[1, 2, 4]);
    let (out, h_n) = gru
        .forward_with_lengths(&Tensor::randn(&[3, 2, 3]), Some(&h0), &[0, 3])
        .unwrap();
    assert_eq!(
        h_n.narrow(1, 0, 1).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0; 4]
    );
    assert!(out
        .narrow(1, 0, 1)
        .unwrap()
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
}
