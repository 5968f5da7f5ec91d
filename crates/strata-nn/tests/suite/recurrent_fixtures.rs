//! RNN, LSTM, GRU and their cells against PyTorch (float64 references): outputs, final
//! states and every gradient, in f64 and f32, with weights loaded by `load_state_dict`.

use strata_core::{DType, Tensor};
use strata_nn::{
    CellConfig, GRUCell, LSTMCell, ModuleExt, RNNCell, RNNNonlinearity, RecurrentConfig, GRU, LSTM,
    RNN,
};
use strata_testutil::{assert_close_f32, assert_close_f64, Fixture};

fn check(dtype: DType, got: &Tensor, want: &Tensor, what: &str) {
    if dtype == DType::F64 {
        assert_close_f64(got, want, what)
    } else {
        assert_close_f32(got, want, what)
    }
}

enum Net {
    Rnn(RNN),
    Lstm(LSTM),
    Gru(GRU),
}

impl Net {
    fn module(&self) -> &dyn strata_nn::Module {
        match self {
            Net::Rnn(m) => m,
            Net::Lstm(m) => m,
            Net::Gru(m) => m,
        }
    }
}

fn run_layer_case(name: &str, dtype: DType) {
    let fx = Fixture::load(name);
    let c = &fx.config;
    let (input, hidden) = (
        c["input"].as_u64().unwrap() as usize,
        c["hidden"].as_u64().unwrap() as usize,
    );
    let config = RecurrentConfig {
        num_layers: c["layers"].as_u64().unwrap() as usize,
        batch_first: c["batch_first"].as_bool().unwrap(),
        bidirectional: c["bidirectional"].as_bool().unwrap(),
        dtype,
        ..Default::default()
    };
    let net = match c["kind"].as_str().unwrap() {
        "rnn_tanh" => {
            Net::Rnn(RNN::with_config(input, hidden, RNNNonlinearity::Tanh, config).unwrap())
        }
        "lstm" => Net::Lstm(LSTM::with_config(input, hidden, config).unwrap()),
        "gru" => Net::Gru(GRU::with_config(input, hidden, config).unwrap()),
        other => panic!("unknown kind {other}"),
    };
    let m = net.module();
    m.load_state_dict(&fx.with_prefix("param."), true).unwrap();
    let x = fx.get("input").to_dtype(dtype).requires_grad_();
    let (out, h_n, c_n) = match &net {
        Net::Rnn(r) => {
            let (o, h) = r.forward_with_state(&x, None).unwrap();
            (o, h, None)
        }
        Net::Gru(r) => {
            let (o, h) = r.forward_with_state(&x, None).unwrap();
            (o, h, None)
        }
        Net::Lstm(r) => {
            let (o, (h, c)) = r.forward_with_state(&x, None).unwrap();
            (o, h, Some(c))
        }
    };
    check(dtype, &out, &fx.get("out"), &format!("{name} out"));
    check(dtype, &h_n, &fx.get("h_n"), &format!("{name} h_n"));
    if let Some(c_n) = c_n {
        check(dtype, &c_n, &fx.get("c_n"), &format!("{name} c_n"));
    }
    let grads = out
        .backward_with(&fx.get("grad_out").to_dtype(dtype))
        .unwrap();
    check(
        dtype,
        grads.get(&x).unwrap(),
        &fx.get("grad_input"),
        &format!("{name} grad_input"),
    );
    let expected = fx.with_prefix("grad.");
    let params = m.named_parameters();
    assert_eq!(params.len(), expected.len(), "{name}: parameter count");
    for (pname, want) in expected {
        let p = &params.iter().find(|(n, _)| *n == pname).unwrap().1;
        check(
            dtype,
            p.grad(&grads).unwrap(),
            &want,
            &format!("{name} grad.{pname}"),
        );
    }
}

#[test]
fn rnn_tanh_matches_pytorch() {
    for case in ["rnn_tanh_0", "rnn_tanh_1", "rnn_tanh_2"] {
        run_layer_case(case, DType::F64);
        run_layer_case(case, DType::F32);
    }
}

#[test]
fn lstm_matches_pytorch() {
    for case in ["lstm_0", "lstm_1", "lstm_2"] {
        run_layer_case(case, DType::F64);
        run_layer_case(case, DType::F32);
    }
}

#[test]
fn gru_matches_pytorch() {
    for case in ["gru_0", "gru_1", "gru_2"] {
        run_layer_case(case, DType::F64);
        run_layer_case(case, DType::F32);
    }
}

fn check_param_grads(
    fx: &Fixture,
    m: &dyn strata_nn::Module,
    grads: &strata_core::Gradients,
    dtype: DType,
) {
    for (pname, want) in fx.with_prefix("grad.") {
        let params = m.named_parameters();
        let p = &params.iter().find(|(n, _)| *n == pname).unwrap().1;
        check(
            dtype,
            p.grad(grads).unwrap(),
            &want,
            &format!("{} grad.{pname}", fx.name),
        );
    }
}

#[test]
fn rnn_and_gru_cells_match_pytorch() {
    for name in ["rnn_cell", "gru_cell"] {
        for dtype in [DType::F64, DType::F32] {
            let fx = Fixture::load(name);
            let config = CellConfig {
                dtype,
                ..Default::default()
            };
            let x = fx.get("input0").to_dtype(dtype).requires_grad_();
            let h = fx.get("input1").to_dtype(dtype).requires_grad_();
            let (out, m): (Tensor, Box<dyn strata_nn::Module>) = if name == "rnn_cell" {
                let cell = RNNCell::with_config(3, 4, RNNNonlinearity::Tanh, config).unwrap();
                cell.load_state_dict(&fx.with_prefix("param."), true)
                    .unwrap();
                (cell.step(&x, Some(&h)).unwrap(), Box::new(cell))
            } else {
                let cell = GRUCell::with_config(3, 4, config).unwrap();
                cell.load_state_dict(&fx.with_prefix("param."), true)
                    .unwrap();
                (cell.step(&x, Some(&h)).unwrap(), Box::new(cell))
            };
            check(dtype, &out, &fx.get("out"), &format!("{name} out"));
            let grads = out
                .backward_with(&fx.get("grad_out").to_dtype(dtype))
                .unwrap();
            check(
                dtype,
                grads.get(&x).unwrap(),
                &fx.get("grad_input0"),
                &format!("{name} grad x"),
            );
            check(
                dtype,
                grads.get(&h).unwrap(),
                &fx.get("grad_input1"),
                &format!("{name} grad h"),
            );
            check_param_grads(&fx, m.as_ref(), &grads, dtype);
        }
    }
}

#[test]
fn lstm_cell_matches_pytorch() {
    for dtype in [DType::F64, DType::F32] {
        let fx = Fixture::load("lstm_cell");
        let cell = LSTMCell::with_config(
            3,
            4,
            CellConfig {
                dtype,
                ..Default::default()
            },
        )
        .unwrap();
        cell.load_state_dict(&fx.with_prefix("param."), true)
            .unwrap();
        let x = fx.get("input").to_dtype(dtype).requires_grad_();
        let h0 = fx.get("h0").to_dtype(dtype).requires_grad_();
        let c0 = fx.get("c0").to_dtype(dtype).requires_grad_();
        let (h1, c1) = cell.step(&x, Some((&h0, &c0))).unwrap();
        check(dtype, &h1, &fx.get("h1"), "lstm_cell h1");
        check(dtype, &c1, &fx.get("c1"), "lstm_cell c1");
        let loss = h1
            .mul(&fx.get("grad_h1").to_dtype(dtype))
            .unwrap()
            .sum_all()
            .unwrap()
            .add(
                &c1.mul(&fx.get("grad_c1").to_dtype(dtype))
                    .unwrap()
                    .sum_all()
                    .unwrap(),
            )
            .unwrap();
        let grads = loss.backward().unwrap();
        check(
            dtype,
            grads.get(&x).unwrap(),
            &fx.get("grad_input"),
            "lstm_cell grad x",
        );
        check(
            dtype,
            grads.get(&h0).unwrap(),
            &fx.get("grad_h0"),
            "lstm_cell grad h0",
        );
        check(
            dtype,
            grads.get(&c0).unwrap(),
            &fx.get("grad_c0"),
            "lstm_cell grad c0",
        );
        check_param_grads(&fx, &cell, &grads, dtype);
    }
}
