//! Activation functions against PyTorch (float64): values and gradients.

use strata_core::Tensor;
use strata_testutil::{assert_close_f32, assert_close_f64, Fixture};

fn apply(name: &str, x: &Tensor) -> strata_core::Result<Tensor> {
    match name {
        "sigmoid" => x.sigmoid(),
        "tanh" => x.tanh(),
        "relu" => x.relu(),
        "leaky_relu_0.01" => x.leaky_relu(0.01),
        "leaky_relu_0.2" => x.leaky_relu(0.2),
        "elu_1.0" => x.elu(1.0),
        "selu" => x.selu(),
        "gelu_erf" => x.gelu(),
        "gelu_tanh" => x.gelu_tanh(),
        "silu" => x.silu(),
        "softplus" => x.softplus(),
        "mish" => x.mish(),
        "hardtanh" => x.hardtanh(-1.0, 1.0),
        "softsign" => x.softsign(),
        other => panic!("fixture lists an activation this test does not know: {other}"),
    }
}

#[test]
fn every_activation_matches_pytorch_in_f64_and_f32() {
    let fx = Fixture::load("activations");
    let names: Vec<String> = fx.config["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 14);
    let grad_out = fx.get("grad_out");
    for name in &names {
        let x = fx.get("input").requires_grad_();
        let y = apply(name, &x).unwrap();
        assert_close_f64(
            &y,
            &fx.get(&format!("out.{name}")),
            &format!("{name} forward"),
        );
        let g = y.backward_with(&grad_out).unwrap();
        assert_close_f64(
            g.get(&x).unwrap(),
            &fx.get(&format!("grad_input.{name}")),
            &format!("{name} backward"),
        );

        // The same in f32.
        let x32 = fx.get_f32("input").requires_grad_();
        let y32 = apply(name, &x32).unwrap();
        assert_close_f32(
            &y32,
            &fx.get(&format!("out.{name}")),
            &format!("{name} f32 forward"),
        );
        let g32 = y32.backward_with(&fx.get_f32("grad_out")).unwrap();
        assert_close_f32(
            g32.get(&x32).unwrap(),
            &fx.get(&format!("grad_input.{name}")),
            &format!("{name} f32 backward"),
        );
    }
}
