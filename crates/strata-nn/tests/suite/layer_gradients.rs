//! Gradient checks of the layers with their own backward rules (the fused BatchNorm and
//! LayerNorm ops) and of the learnable activations, with respect to inputs (including
//! strided views) and parameters, plus a few SGD steps that must move the parameters.

use strata_core::{gradcheck, no_grad, DType, Generator, GradcheckOptions, Tensor};
use strata_nn::{
    BatchNorm1d, BatchNorm2d, BatchNormConfig, Forward, LayerNorm, LayerNormConfig, ModuleExt,
    PReLU, Param, Swish,
};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn_with(&mut Generator::new(seed), shape, DType::F64)
}

fn core(e: strata_nn::Error) -> strata_core::Error {
    match e {
        strata_nn::Error::Tensor(e) => e,
        other => panic!("unexpected error: {other}"),
    }
}

/// The loss used by the parameter checks: a fixed random projection of the output.
fn project(y: &Tensor, r: &Tensor) -> Tensor {
    y.mul(r).unwrap().sum_all().unwrap()
}

/// Checks the gradient `model` gives `param` against central differences of
/// `L = Σ model(x)·r`, perturbing the parameter in place.
fn check_param_gradient(model: &dyn Forward, param: &Param, x: &Tensor, what: &str) {
    let r = randn(model.forward(x).unwrap().shape(), 99);
    let grads = project(&model.forward(x).unwrap(), &r).backward().unwrap();
    let analytic = param
        .grad(&grads)
        .unwrap_or_else(|| panic!("{what}: no gradient"))
        .to_vec::<f64>()
        .unwrap();
    let base = param.to_vec::<f64>().unwrap();
    let eps = 1e-6;
    let loss_at = |j: usize, delta: f64| {
        let mut v = base.clone();
        v[j] += delta;
        param
            .assign(&Tensor::from_vec(v, param.shape()).unwrap())
            .unwrap();
        let l = no_grad(|| project(&model.forward(x).unwrap(), &r).item().unwrap());
        param
            .assign(&Tensor::from_vec(base.clone(), param.shape()).unwrap())
            .unwrap();
        l
    };
    for j in 0..base.len() {
        let numeric = (loss_at(j, eps) - loss_at(j, -eps)) / (2.0 * eps);
        let diff = (analytic[j] - numeric).abs();
        assert!(
            diff <= 1e-5 + 1e-4 * numeric.abs(),
            "{what}: element {j}: analytic {} vs numeric {numeric}",
            analytic[j]
        );
    }
}

fn f64_bn() -> BatchNormConfig {
    BatchNormConfig {
        dtype: DType::F64,
        ..BatchNormConfig::default()
    }
}

/// Random affine parameters and running statistics, so no check passes by symmetry.
fn randomise(model: &dyn Forward, seed: u64) {
    for (i, (name, p)) in model.named_parameters().into_iter().enumerate() {
        let v = randn(p.shape(), seed + i as u64);
        let v = if name == "weight" {
            v.add_scalar(1.0).unwrap()
        } else {
            v
        };
        p.assign(&v).unwrap();
    }
    for (name, b) in model.named_buffers() {
        match name.as_str() {
            "running_mean" => b.assign(&randn(b.shape(), seed + 10)).unwrap(),
            "running_var" => b
                .assign(
                    &randn(b.shape(), seed + 11)
                        .abs()
                        .unwrap()
                        .add_scalar(0.5)
                        .unwrap(),
                )
                .unwrap(),
            _ => {}
        }
    }
}

#[test]
fn batch_norm_input_gradients_in_train_and_eval_over_many_shapes() {
    let shapes: [&[usize]; 7] = [
        &[4, 3],
        &[7, 1],
        &[2, 5],
        &[3, 2, 4],
        &[2, 3, 4, 5],
        &[1, 2, 3, 3],
        &[5, 1, 2, 1],
    ];
    for (k, shape) in shapes.iter().enumerate() {
        let c = shape[1];
        let model: Box<dyn Forward> = if shape.len() == 4 {
            Box::new(BatchNorm2d::with_config(c, f64_bn()).unwrap())
        } else {
            Box::new(BatchNorm1d::with_config(c, f64_bn()).unwrap())
        };
        randomise(model.as_ref(), k as u64 * 20);
        // Shift and scale the input so the statistics are far from 0 and 1.
        let x = randn(shape, k as u64)
            .mul_scalar(3.0)
            .unwrap()
            .add_scalar(2.0)
            .unwrap();
        for training in [true, false] {
            if training {
                model.train();
            } else {
                model.eval();
            }
            gradcheck(
                |t| model.forward(&t[0]).map_err(core),
                &[x.clone()],
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{shape:?} training={training}: {e}"));
            for (name, p) in model.named_parameters() {
                check_param_gradient(
                    model.as_ref(),
                    &p,
                    &x,
                    &format!("{shape:?} training={training} {name}"),
                );
            }
        }
    }
}

#[test]
fn batch_norm_gradients_through_a_strided_view_and_without_affine() {
    let cfg = BatchNormConfig {
        affine: false,
        ..f64_bn()
    };
    let bn = BatchNorm2d::with_config(3, cfg).unwrap();
    assert_eq!(bn.num_parameters(), 0);
    // The layer sees [2, 3, 4, 5] built by permuting a [5, 3, 2, 4] tensor.
    gradcheck(
        |t| bn.forward(&t[0].permute(&[2, 1, 3, 0])?).map_err(core),
        &[randn(&[5, 3, 2, 4], 7)],
        GradcheckOptions::default(),
    )
    .unwrap();
    let bn1 = BatchNorm1d::with_config(4, f64_bn()).unwrap();
    randomise(&bn1, 3);
    gradcheck(
        |t| bn1.forward(&t[0].t()?).map_err(core),
        &[randn(&[4, 6], 8)],
        GradcheckOptions::default(),
    )
    .unwrap();
}

#[test]
fn batch_norm_without_running_stats_uses_batch_statistics_in_eval_too() {
    let cfg = BatchNormConfig {
        track_running_stats: false,
        ..f64_bn()
    };
    let bn = BatchNorm1d::with_config(2, cfg).unwrap();
    assert!(bn.named_buffers().is_empty());
    bn.eval();
    let x = randn(&[6, 2], 5);
    gradcheck(
        |t| bn.forward(&t[0]).map_err(core),
        &[x.clone()],
        GradcheckOptions::default(),
    )
    .unwrap();
    // Batch statistics: each channel of the output has mean 0.
    let y = bn.forward(&x).unwrap().mean(&[0], false).unwrap();
    assert!(y.to_vec::<f64>().unwrap().iter().all(|v| v.abs() < 1e-12));
}

#[test]
fn batch_norm_and_layer_norm_record_one_fused_op() {
    let bn = BatchNorm2d::new(3).unwrap();
    let y = bn
        .forward(&Tensor::randn(&[2, 3, 4, 4]).requires_grad_())
        .unwrap();
    let ops: Vec<&str> = y.graph().unwrap().iter().map(|n| n.op).collect();
    assert_eq!(ops, ["batch_norm"]);
    let ln = LayerNorm::new(&[4, 4]).unwrap();
    let y = ln
        .forward(&Tensor::randn(&[2, 3, 4, 4]).requires_grad_())
        .unwrap();
    let ops: Vec<&str> = y.graph().unwrap().iter().map(|n| n.op).collect();
    assert_eq!(ops, ["layer_norm"]);
}

#[test]
fn layer_norm_gradients_over_many_shapes() {
    let cases: [(&[usize], &[usize]); 6] = [
        (&[3, 4, 6], &[6]),
        (&[5, 7], &[7]),
        (&[2, 3, 4], &[3, 4]),
        (&[4], &[4]),
        (&[2, 1, 5], &[1, 5]),
        (&[3, 2], &[2]),
    ];
    for (k, (shape, normalized)) in cases.iter().enumerate() {
        for affine in [true, false] {
            let cfg = LayerNormConfig {
                elementwise_affine: affine,
                dtype: DType::F64,
                ..LayerNormConfig::default()
            };
            let ln = LayerNorm::with_config(normalized, cfg).unwrap();
            randomise(&ln, 40 + k as u64);
            let x = randn(shape, k as u64)
                .mul_scalar(2.0)
                .unwrap()
                .add_scalar(-1.0)
                .unwrap();
            gradcheck(
                |t| ln.forward(&t[0]).map_err(core),
                &[x.clone()],
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{shape:?} over {normalized:?}: {e}"));
            for (name, p) in ln.named_parameters() {
                check_param_gradient(&ln, &p, &x, &format!("{shape:?} {name}"));
            }
        }
    }
    // A strided view as input: [4, 3] seen through a transpose of [3, 4].
    let ln = LayerNorm::with_config(
        &[3],
        LayerNormConfig {
            dtype: DType::F64,
            ..LayerNormConfig::default()
        },
    )
    .unwrap();
    randomise(&ln, 1);
    gradcheck(
        |t| ln.forward(&t[0].t()?).map_err(core),
        &[randn(&[3, 4], 2)],
        GradcheckOptions::default(),
    )
    .unwrap();
}

#[test]
fn prelu_gradients_for_input_and_slopes() {
    for (shape, n) in [
        (&[4, 3, 2][..], 3usize),
        (&[5, 2][..], 1),
        (&[6][..], 1),
        (&[2, 2, 3, 3][..], 2),
    ] {
        let act = PReLU::with_init(n, 0.25, DType::F64).unwrap();
        act.weight().assign(&randn(&[n], 3)).unwrap();
        // Keep inputs away from the kink at 0.
        let x = randn(shape, 4);
        let x = x.add(&x.sign().unwrap().mul_scalar(0.1).unwrap()).unwrap();
        gradcheck(
            |t| act.forward(&t[0]).map_err(core),
            &[x.clone()],
            GradcheckOptions::default(),
        )
        .unwrap();
        check_param_gradient(&act, act.weight(), &x, &format!("PReLU {shape:?}"));
    }
    let err = PReLU::new(3)
        .unwrap()
        .forward(&Tensor::ones(&[2, 4]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "PReLU(num_parameters=3): expected input with 3 channels in dim 1, got input of shape [2, 4]"
    );
}

#[test]
fn swish_gradients_for_input_and_beta() {
    for (shape, n) in [
        (&[4, 3, 2][..], 3usize),
        (&[5, 2][..], 1),
        (&[2, 2, 3][..], 2),
    ] {
        let beta = randn(&[n], 5).add_scalar(1.0).unwrap();
        let act = Swish::from_beta(beta).unwrap();
        let x = randn(shape, 6);
        gradcheck(
            |t| act.forward(&t[0]).map_err(core),
            &[x.clone()],
            GradcheckOptions::default(),
        )
        .unwrap();
        check_param_gradient(&act, act.beta(), &x, &format!("Swish {shape:?}"));
    }
}

/// Plain SGD written here: `p -= lr * grad`.
fn sgd_steps(model: &dyn Forward, x: &Tensor, target: &Tensor, steps: usize, lr: f64) -> Vec<f64> {
    let mut losses = Vec::new();
    for _ in 0..steps {
        let diff = model.forward(x).unwrap().sub(target).unwrap();
        let loss = diff.mul(&diff).unwrap().mean_all().unwrap();
        losses.push(loss.item().unwrap());
        let grads = loss.backward().unwrap();
        for p in model.parameters() {
            if let Some(g) = p.grad(&grads) {
                p.add_scaled_(g, -lr).unwrap();
            }
        }
    }
    losses
}

#[test]
fn learnable_activations_train_towards_a_target() {
    // Targets produced by the same activation with other parameter values: SGD must move
    // the parameters towards them and lower the loss.
    let x = randn(&[64, 3], 11);
    let prelu = PReLU::with_init(3, 0.25, DType::F64).unwrap();
    let teacher =
        PReLU::from_weight(Tensor::from_vec(vec![0.8, -0.3, 0.5], &[3]).unwrap()).unwrap();
    let target = teacher.forward(&x).unwrap().detach();
    let losses = sgd_steps(&prelu, &x, &target, 30, 1.0);
    assert!(losses[29] < 0.05 * losses[0], "{losses:?}");
    let w = prelu.weight().to_vec::<f64>().unwrap();
    for (a, b) in w.iter().zip([0.8, -0.3, 0.5]) {
        assert!((a - b).abs() < 0.1, "{w:?}");
    }

    let swish = Swish::from_beta(Tensor::ones_dtype(&[3], DType::F64)).unwrap();
    let teacher = Swish::from_beta(Tensor::from_vec(vec![2.0, 0.5, 1.5], &[3]).unwrap()).unwrap();
    let target = teacher.forward(&x).unwrap().detach();
    let before = swish.beta().to_vec::<f64>().unwrap();
    let losses = sgd_steps(&swish, &x, &target, 200, 2.0);
    let after = swish.beta().to_vec::<f64>().unwrap();
    assert_ne!(before, after);
    assert!(losses[199] < 0.1 * losses[0], "{losses:?}");
    for (a, b) in after.iter().zip([2.0, 0.5, 1.5]) {
        assert!((a - b).abs() < 0.3, "{after:?}");
    }
}

#[test]
fn embedding_table_gradient_through_the_module() {
    let emb = strata_nn::Embedding::from_weight(randn(&[6, 3], 12), None).unwrap();
    let ids = Tensor::from_vec(vec![5i64, 0, 5, 2, 2, 2, 1, 0], &[2, 2, 2]).unwrap();
    check_param_gradient(&emb, emb.weight(), &ids, "Embedding");
    // With padding, the padding row's gradient is zero and the others are unchanged.
    let padded = strata_nn::Embedding::from_weight(randn(&[6, 3], 12), Some(2)).unwrap();
    let y = padded.forward(&ids).unwrap();
    let g = padded
        .weight()
        .grad(&y.sum_all().unwrap().backward().unwrap())
        .unwrap()
        .to_vec::<f64>()
        .unwrap();
    assert_eq!(
        g,
        [
            2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 2.0,
            2.0
        ]
    );
}
