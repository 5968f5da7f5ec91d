//! Behaviour shared by all optimisers: parameter groups, frozen and gradient-less
//! parameters, validation, and state dicts (the update rules themselves are checked against
//! PyTorch in `tests/suite/fixture_optimizers.rs`).

use super::*;
use crate::schedule::{LrScheduler, Scheduler, StepLR};
use crate::{Linear, ModuleExt, Param, Result};
use strata_core::{DType, Gradients, Tensor};

fn param(values: &[f64]) -> Param {
    Param::new(Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap())
}

fn grads_for(pairs: &[(&Param, &[f64])]) -> Gradients {
    let mut g = Gradients::new();
    for (p, v) in pairs {
        g.insert(p, Tensor::from_vec(v.to_vec(), p.shape()).unwrap());
    }
    g
}

fn values(p: &Param) -> Vec<f64> {
    p.to_vec_f64()
}

/// Every optimiser kind with non-default settings, over `groups`.
fn all_kinds(groups: impl Fn() -> Vec<ParamGroup>) -> Vec<Box<dyn Optimizer>> {
    vec![
        Box::new(
            SGD::new(groups(), 0.1)
                .unwrap()
                .momentum(0.9)
                .unwrap()
                .nesterov(true)
                .unwrap()
                .weight_decay(0.01)
                .unwrap(),
        ),
        Box::new(
            SGD::new(groups(), 0.1)
                .unwrap()
                .momentum(0.5)
                .unwrap()
                .dampening(0.3)
                .unwrap(),
        ),
        Box::new(
            Adam::new(groups(), 0.05)
                .unwrap()
                .amsgrad(true)
                .weight_decay(0.1)
                .unwrap(),
        ),
        Box::new(AdamW::new(groups(), 0.05).unwrap().betas(0.8, 0.9).unwrap()),
        Box::new(
            RMSprop::new(groups(), 0.01)
                .unwrap()
                .momentum(0.5)
                .unwrap()
                .centered(true),
        ),
        Box::new(RMSprop::new(groups(), 0.01).unwrap().alpha(0.9).unwrap()),
        Box::new(
            Adagrad::new(groups(), 0.1)
                .unwrap()
                .lr_decay(0.05)
                .unwrap()
                .initial_accumulator_value(0.1)
                .unwrap(),
        ),
    ]
}

#[test]
fn groups_use_their_own_learning_rates() {
    let (a, b) = (param(&[1.0, 1.0]), param(&[1.0]));
    let mut opt = SGD::new(
        vec![
            ParamGroup::new(vec![a.clone()]),
            ParamGroup::new(vec![b.clone()]).lr(0.01),
        ],
        0.1,
    )
    .unwrap();
    opt.step(&grads_for(&[(&a, &[1.0, 2.0]), (&b, &[1.0])]))
        .unwrap();
    assert_eq!(values(&a), vec![0.9, 0.8]);
    assert_eq!(values(&b), vec![0.99]);
    opt.set_lr(0.5).unwrap();
    assert_eq!(opt.groups().lrs(), vec![0.5, 0.5]);
    opt.groups_mut().set_lr(1, 0.25).unwrap();
    assert_eq!(opt.lr(), 0.5);
    assert_eq!(opt.groups().lr(1), Some(0.25));
    assert!(opt.set_lr(-0.1).is_err());
    assert!(opt.groups_mut().set_lr(7, 0.1).is_err());
}

#[test]
fn no_decay_group_keeps_biases_and_norm_weights() {
    let model = Linear::new(3, 2).unwrap();
    let w0 = model.weight().to_vec::<f32>().unwrap();
    let b0 = model.bias().unwrap().to_vec::<f32>().unwrap();
    let mut opt = AdamW::new(weight_decay_groups(model.named_parameters(), 0.5), 0.1).unwrap();
    // Zero gradients: only the decoupled decay moves anything.
    let mut grads = Gradients::new();
    for p in model.parameters() {
        grads.insert(&p, Tensor::zeros(p.shape()));
    }
    opt.step(&grads).unwrap();
    let w1 = model.weight().to_vec::<f32>().unwrap();
    for (x, y) in w0.iter().zip(&w1) {
        assert!((x * 0.95 - y).abs() < 1e-7);
    }
    assert_eq!(model.bias().unwrap().to_vec::<f32>().unwrap(), b0);

    // The same split with coupled decay in SGD.
    let model = Linear::new(3, 2).unwrap();
    let b0 = model.bias().unwrap().to_vec::<f32>().unwrap();
    let w0 = model.weight().to_vec::<f32>().unwrap();
    let mut opt = SGD::new(weight_decay_groups(model.named_parameters(), 0.5), 0.1).unwrap();
    let mut grads = Gradients::new();
    for p in model.parameters() {
        grads.insert(&p, Tensor::zeros(p.shape()));
    }
    opt.step(&grads).unwrap();
    assert_eq!(model.bias().unwrap().to_vec::<f32>().unwrap(), b0);
    let w1 = model.weight().to_vec::<f32>().unwrap();
    assert!(w0.iter().zip(&w1).all(|(x, y)| (x * 0.95 - y).abs() < 1e-7));
}

#[test]
fn frozen_and_gradientless_parameters_are_left_alone() {
    let groups = || {
        vec![ParamGroup::new(vec![
            param(&[1.0, -2.0]),
            param(&[0.5]),
            param(&[3.0]),
        ])]
    };
    for mut opt in all_kinds(groups) {
        let ps = opt.groups().params(0).unwrap().to_vec();
        ps[1].set_trainable(false);
        let frozen_before = values(&ps[1]);
        let idle_before = values(&ps[2]);
        // A gradient for the frozen parameter (e.g. computed before freezing) is ignored;
        // the third has no gradient at all.
        let g = grads_for(&[(&ps[0], &[0.3, -0.7]), (&ps[1], &[5.0])]);
        for _ in 0..3 {
            opt.step(&g).unwrap();
        }
        assert_eq!(values(&ps[1]), frozen_before);
        assert_eq!(values(&ps[2]), idle_before);
        assert_eq!(opt.groups().step_count(0, 0), Some(3));
        assert_eq!(opt.groups().step_count(0, 1), None);
        assert_eq!(opt.groups().step_count(0, 2), None);
        assert_ne!(values(&ps[0]), vec![1.0, -2.0]);
        // Unfrozen, it starts from step 1.
        ps[1].set_trainable(true);
        opt.step(&g).unwrap();
        assert_eq!(opt.groups().step_count(0, 1), Some(1));
        assert_ne!(values(&ps[1]), frozen_before);
    }
}

#[test]
fn state_of_a_late_parameter_starts_fresh() {
    // Adam's first step moves every weight by lr (bias correction); a parameter that first
    // gets a gradient at step 4 must see its own step 1.
    let (a, b) = (param(&[1.0]), param(&[1.0]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], 0.1).unwrap();
    for _ in 0..3 {
        opt.step(&grads_for(&[(&a, &[2.0])])).unwrap();
    }
    opt.step(&grads_for(&[(&a, &[2.0]), (&b, &[2.0])])).unwrap();
    assert!((values(&b)[0] - 0.9).abs() < 1e-7);
}

/// Each invalid setting, built as a user would (`?` after each setting).
fn invalid_settings(p: &Param) -> Vec<(Result<Box<dyn Optimizer>>, &'static str)> {
    let one = || vec![p.clone()];
    let boxed = |o: Result<Box<dyn Optimizer>>| o;
    vec![
        (
            boxed((|| Ok(Box::new(SGD::new(one(), -0.1)?) as _))()),
            "lr",
        ),
        (
            boxed((|| Ok(Box::new(SGD::new(one(), 0.1)?.momentum(-0.5)?) as _))()),
            "momentum",
        ),
        (
            boxed((|| Ok(Box::new(SGD::new(one(), 0.1)?.nesterov(true)?) as _))()),
            "Nesterov",
        ),
        (
            boxed((|| {
                let o = SGD::new(one(), 0.1)?.momentum(0.9)?.dampening(0.1)?;
                Ok(Box::new(o.nesterov(true)?) as _)
            })()),
            "Nesterov",
        ),
        (
            boxed((|| {
                Ok(Box::new(SGD::new(one(), 0.1)?.weight_decay(-1.0)?) as _)
            })()),
            "weight_decay",
        ),
        (
            boxed((|| Ok(Box::new(Adam::new(one(), f64::NAN)?) as _))()),
            "lr",
        ),
        (
            boxed((|| {
                Ok(Box::new(Adam::new(one(), 0.1)?.betas(0.9, 1.0)?) as _)
            })()),
            "beta2",
        ),
        (
            boxed((|| {
                Ok(Box::new(Adam::new(one(), 0.1)?.betas(-0.1, 0.9)?) as _)
            })()),
            "beta1",
        ),
        (
            boxed((|| Ok(Box::new(AdamW::new(one(), 0.1)?.eps(-1e-8)?) as _))()),
            "eps",
        ),
        (
            boxed((|| Ok(Box::new(AdamW::new(one(), -1.0)?) as _))()),
            "lr",
        ),
        (
            boxed((|| {
                Ok(Box::new(RMSprop::new(one(), 0.1)?.alpha(-0.9)?) as _)
            })()),
            "alpha",
        ),
        (
            boxed((|| {
                Ok(Box::new(RMSprop::new(one(), 0.1)?.momentum(-1.0)?) as _)
            })()),
            "momentum",
        ),
        (
            boxed((|| {
                Ok(Box::new(Adagrad::new(one(), 0.1)?.lr_decay(-1.0)?) as _)
            })()),
            "lr_decay",
        ),
        (
            boxed((|| {
                Ok(Box::new(Adagrad::new(one(), 0.1)?.initial_accumulator_value(-1.0)?) as _)
            })()),
            "initial_accumulator_value",
        ),
        (
            boxed((|| {
                let groups = vec![ParamGroup::new(one()), ParamGroup::new(one())];
                Ok(Box::new(SGD::new(groups, 0.1)?) as _)
            })()),
            "more than once",
        ),
        (
            boxed((|| {
                Ok(Box::new(SGD::new(ParamGroup::new(one()).lr(-2.0), 0.1)?) as _)
            })()),
            "lr of group 0",
        ),
    ]
}

#[test]
fn bad_hyperparameters_fail_at_construction() {
    let p = param(&[1.0]);
    for (built, word) in invalid_settings(&p) {
        let e = built.err().expect(word).to_string();
        assert!(
            e.contains("invalid configuration") && e.contains(word),
            "{word}: {e}"
        );
    }
    // A refused setting names what the user called and the value.
    let e = SGD::new(vec![p.clone()], -0.1).unwrap_err().to_string();
    assert_eq!(
        e,
        "SGD: invalid configuration: lr must be a finite number >= 0, got -0.1"
    );
}

#[test]
fn bad_hyperparameters_set_later_fail_before_any_update() {
    // Rates changed after construction are checked when they are set, and a one-cycle
    // momentum that breaks Nesterov's requirement is refused without changing anything.
    let p = param(&[1.0]);
    let mut opt = SGD::new(vec![p.clone()], 0.1)
        .unwrap()
        .momentum(0.9)
        .unwrap()
        .nesterov(true)
        .unwrap();
    assert!(opt.set_lr(-1.0).is_err());
    assert!(opt.groups_mut().set_weight_decay(0, f64::INFINITY).is_err());
    let e = opt.set_momentum_or_beta1(0.0).unwrap_err().to_string();
    assert!(e.contains("Nesterov"), "{e}");
    assert_eq!(opt.momentum_or_beta1(), Some(0.9));
    assert_eq!(opt.lr(), 0.1);
    let e = Adagrad::new(vec![p.clone()], 0.1)
        .unwrap()
        .set_momentum_or_beta1(0.5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no momentum"), "{e}");
    opt.step(&grads_for(&[(&p, &[1.0])])).unwrap();
    assert!((values(&p)[0] - (1.0 - 0.1 * 1.9)).abs() < 1e-12);
}

#[test]
fn a_bad_gradient_fails_before_any_update() {
    let (a, b) = (param(&[1.0]), param(&[1.0, 2.0]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], 0.1).unwrap();
    let mut g = grads_for(&[(&a, &[1.0])]);
    g.insert(&b, Tensor::ones(&[3]).to_dtype(DType::F64));
    let e = opt.step(&g).unwrap_err().to_string();
    assert!(e.contains("[2] and [3]"), "{e}");
    g.insert(&b, Tensor::ones(&[2])); // f32 gradient for an f64 parameter
    let e = opt.step(&g).unwrap_err().to_string();
    assert!(e.contains("dtype"), "{e}");
    assert_eq!(values(&a), vec![1.0]);
    assert_eq!(opt.groups().step_count(0, 0), None);
}

/// Two groups (one with its own lr), f64 and f32 parameters, one frozen parameter.
fn model_groups(seed: f64) -> Vec<ParamGroup> {
    let p32 = Param::new(Tensor::from_vec(vec![0.3f32 * seed as f32, -0.8, 1.5], &[3]).unwrap());
    let frozen = param(&[9.0]);
    frozen.set_trainable(false);
    vec![
        ParamGroup::new(vec![
            Param::new(Tensor::from_vec(vec![1.0 * seed, -0.5, 0.25, 2.0], &[2, 2]).unwrap()),
            frozen,
        ]),
        ParamGroup::new(vec![p32]).lr(0.02).weight_decay(0.05),
    ]
}

/// Gradient of `sum(w^3 / 3 - w)` (so the state keeps changing).
fn cubic_grads(opt: &dyn Optimizer) -> Gradients {
    let mut g = Gradients::new();
    for gi in 0..opt.groups().len() {
        for p in opt.groups().params(gi).unwrap() {
            if p.is_trainable() {
                let loss = p
                    .pow_scalar(3.0)
                    .unwrap()
                    .div_scalar(3.0)
                    .unwrap()
                    .sub(p)
                    .unwrap();
                let gg = loss.sum_all().unwrap().backward().unwrap();
                g.insert(p, p.grad(&gg).unwrap().clone());
            }
        }
    }
    g
}

fn flat(opt: &dyn Optimizer) -> Vec<u64> {
    (0..opt.groups().len())
        .flat_map(|g| opt.groups().params(g).unwrap().to_vec())
        .flat_map(|p| p.to_vec_f64())
        .map(f64::to_bits)
        .collect()
}

#[test]
fn state_round_trip_continues_bit_identically() {
    let n_kinds = all_kinds(|| model_groups(1.0)).len();
    for k in 0..n_kinds {
        // Uninterrupted: 6 steps, with a schedule lowering the lr after 4.
        let mut straight = all_kinds(|| model_groups(1.0)).remove(k);
        let mut sched = Scheduler::new(straight.as_mut(), StepLR::new(4, 0.5)).unwrap();
        for _ in 0..6 {
            let g = cubic_grads(straight.as_ref());
            straight.step(&g).unwrap();
            sched.step();
            sched.apply(straight.as_mut()).unwrap();
        }

        // Interrupted after 3 steps: save optimiser, scheduler and parameters.
        let mut first = all_kinds(|| model_groups(1.0)).remove(k);
        let mut sched = Scheduler::new(first.as_mut(), StepLR::new(4, 0.5)).unwrap();
        for _ in 0..3 {
            let g = cubic_grads(first.as_ref());
            first.step(&g).unwrap();
            sched.step();
            sched.apply(first.as_mut()).unwrap();
        }
        let opt_state = first.state_dict();
        let sched_state = sched.state_dict();
        let params: Vec<Vec<Tensor>> = (0..first.groups().len())
            .map(|g| {
                first
                    .groups()
                    .params(g)
                    .unwrap()
                    .iter()
                    .map(|p| p.detach().copy())
                    .collect()
            })
            .collect();
        // Mutating the first optimiser afterwards must not touch the saved state.
        let g = cubic_grads(first.as_ref());
        first.step(&g).unwrap();
        drop(first);

        // Resume: fresh parameters (other values), fresh optimiser, load everything.
        let mut resumed = all_kinds(|| model_groups(7.0)).remove(k);
        for (g, saved) in params.iter().enumerate() {
            for (p, v) in resumed.groups().params(g).unwrap().iter().zip(saved) {
                p.assign(v).unwrap();
            }
        }
        resumed.set_lr(123.0).unwrap(); // overwritten by the load
        resumed.load_state_dict(&opt_state).unwrap();
        let mut sched = Scheduler::with_base_lrs(vec![9.0, 9.0], StepLR::new(4, 0.5)).unwrap();
        sched.load_state_dict(&sched_state).unwrap();
        for _ in 0..3 {
            let g = cubic_grads(resumed.as_ref());
            resumed.step(&g).unwrap();
            sched.step();
            sched.apply(resumed.as_mut()).unwrap();
        }
        assert_eq!(flat(resumed.as_ref()), flat(straight.as_ref()), "kind {k}");
        assert_eq!(resumed.groups().lrs(), straight.groups().lrs());
    }
}

#[test]
fn state_dict_names_and_load_errors() {
    let mut opt = Adam::new(model_groups(1.0), 0.1).unwrap().amsgrad(true);
    let g = cubic_grads(&opt);
    opt.step(&g).unwrap();
    let sd = opt.state_dict();
    let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
    for key in [
        "defaults.lr",
        "defaults.beta1",
        "defaults.amsgrad",
        "param_groups.1.lr",
        "param_groups.0.num_params",
        "state.0.0.step",
        "state.0.0.exp_avg",
        "state.1.0.max_exp_avg_sq",
    ] {
        assert!(names.contains(&key), "{key} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("state.0.1.")),
        "frozen: no state"
    );
    let exp_avg = &sd.iter().find(|(n, _)| n == "state.1.0.exp_avg").unwrap().1;
    assert_eq!(exp_avg.dtype(), DType::F32);
    assert_eq!(exp_avg.shape(), &[3]);

    let before = opt.state_dict();
    let check = |entries: Vec<(String, Tensor)>, want: &[&str]| {
        let mut target = Adam::new(model_groups(1.0), 0.1).unwrap().amsgrad(true);
        let e = target.load_state_dict(&entries).unwrap_err().to_string();
        for w in want {
            assert!(e.contains(w), "{w} not in: {e}");
        }
        assert_eq!(
            target.groups().step_count(0, 0),
            None,
            "nothing loaded on error"
        );
    };
    let without = |key: &str| -> Vec<(String, Tensor)> {
        before.iter().filter(|(n, _)| n != key).cloned().collect()
    };
    check(
        without("state.0.0.exp_avg_sq"),
        &["missing key state.0.0.exp_avg_sq"],
    );
    check(without("state.0.0.step"), &["missing key state.0.0.step"]);
    check(without("defaults.beta2"), &["missing key defaults.beta2"]);
    let mut extra = before.clone();
    extra.push(("state.0.5.exp_avg".into(), Tensor::zeros(&[1])));
    extra.push(("param_groups.2.lr".into(), Tensor::scalar(0.1)));
    extra.push(("foo".into(), Tensor::scalar(0.1)));
    check(
        extra,
        &[
            "unexpected key state.0.5.exp_avg",
            "unexpected key param_groups.2.lr",
            "unexpected key foo",
        ],
    );
    let mut reshaped = before.clone();
    for (n, t) in &mut reshaped {
        if n == "state.0.0.exp_avg" {
            *t = Tensor::zeros(&[4]).to_dtype(DType::F64);
        }
        if n == "param_groups.1.num_params" {
            *t = Tensor::scalar(2.0);
        }
    }
    check(
        reshaped,
        &[
            "state.0.0.exp_avg: parameter has shape [2, 2], checkpoint has [4]",
            "group 1 has 2",
        ],
    );
    // A one-group optimiser cannot take a two-group state.
    let mut small = Adam::new(vec![param(&[1.0, 2.0, 3.0, 4.0])], 0.1).unwrap();
    let e = small.load_state_dict(&before).unwrap_err().to_string();
    assert!(e.contains("unexpected key param_groups.1.lr"), "{e}");
    // Hyperparameters are loaded and validated.
    let mut bad = before.clone();
    for (n, t) in &mut bad {
        if n == "defaults.beta1" {
            *t = Tensor::scalar(1.5);
        }
    }
    let mut target = Adam::new(model_groups(1.0), 0.1).unwrap();
    assert!(target.load_state_dict(&bad).is_err());
    target.load_state_dict(&before).unwrap();
    assert_eq!(target.momentum_or_beta1(), Some(0.9));
    assert_eq!(target.groups().step_count(1, 0), Some(1));
}

#[test]
fn a_boxed_optimizer_steps_and_saves_like_the_one_inside() {
    let (a, b) = (param(&[1.0, 2.0, 3.0, 4.0]), param(&[1.0, 2.0, 3.0, 4.0]));
    let mut plain = SGD::new(vec![a.clone()], 0.1)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    let mut boxed: Box<dyn Optimizer> = Box::new(
        SGD::new(vec![b.clone()], 0.1)
            .unwrap()
            .momentum(0.9)
            .unwrap(),
    );
    for step in 0..3 {
        let g = Tensor::from_vec(vec![0.5f64, -1.0, 0.25, step as f64], &[4]).unwrap();
        let (mut ga, mut gb) = (Gradients::new(), Gradients::new());
        ga.insert(a.tensor(), g.clone());
        gb.insert(b.tensor(), g);
        plain.step(&ga).unwrap();
        boxed.step(&gb).unwrap();
    }
    assert_eq!(
        a.tensor().to_vec::<f64>().unwrap(),
        b.tensor().to_vec::<f64>().unwrap()
    );
    boxed.set_lr(0.5).unwrap();
    assert_eq!((boxed.lr(), boxed.momentum_or_beta1()), (0.5, Some(0.9)));
    assert_eq!(boxed.state_dict().len(), plain.state_dict().len());
    boxed.load_state_dict(&plain.state_dict()).unwrap();
    assert_eq!(boxed.lr(), 0.1);
}

/// A gradient that stops (a pixel blank in every later batch) lets Adam's moments and a
/// momentum buffer decay geometrically; they are flushed to zero below the normal range
/// instead of turning subnormal (slow on x86), and the weights follow the unflushed
/// formula all the same.
#[test]
fn decayed_state_is_flushed_to_zero_not_left_subnormal() {
    let steps = 900;
    let start = [1.0f32, -0.5, 0.25];
    let first_grad = [1.0f64, 1e-3, -1e-6];
    let p32 = |v: &[f32]| Param::new(Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap());
    let grads = |p: &Param, step: usize| {
        let g: Vec<f32> = first_grad
            .iter()
            .map(|&g| if step == 1 { g as f32 } else { 0.0 })
            .collect();
        let mut out = Gradients::new();
        out.insert(p, Tensor::from_vec(g, p.shape()).unwrap());
        out
    };
    let adam_param = p32(&start);
    let sgd_param = p32(&start);
    let rms_param = p32(&start);
    let mut adam = Adam::new(vec![adam_param.clone()], 1e-3).unwrap();
    let mut sgd = SGD::new(vec![sgd_param.clone()], 1e-2)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    // RMSprop with every buffer: its averages decay by alpha, its momentum by 0.9.
    let mut rms = RMSprop::new(vec![rms_param.clone()], 1e-3)
        .unwrap()
        .alpha(0.9)
        .unwrap()
        .momentum(0.9)
        .unwrap()
        .centered(true);
    for step in 1..=steps {
        adam.step(&grads(&adam_param, step)).unwrap();
        sgd.step(&grads(&sgd_param, step)).unwrap();
        rms.step(&grads(&rms_param, step)).unwrap();
    }
    let states = adam
        .state_dict()
        .into_iter()
        .chain(sgd.state_dict())
        .chain(rms.state_dict());
    for (name, state) in states {
        // Unflushed, RMSprop's averages would be subnormal too: 0.1 · 0.9^899 ≈ 8e-43.
        if name.ends_with("square_avg") || name.ends_with("grad_avg") {
            let v = state.to_vec::<f32>().unwrap();
            assert!(v.iter().all(|&x| x == 0.0), "{name} {v:?}");
        }
        if name.ends_with("exp_avg") || name.ends_with("momentum_buffer") {
            let v = state.to_vec::<f32>().unwrap();
            // Unflushed they would be subnormal here: 0.1 · 0.9^899 ≈ 8e-43 for Adam's
            // first moment, 0.9^899 ≈ 8e-42 for the momentum.
            assert!(v.iter().all(|&x| x == 0.0), "{name} {v:?}");
        }
        if name.ends_with("exp_avg_sq") {
            let v = state.to_vec::<f32>().unwrap();
            assert!(v.iter().all(|&x| x == 0.0 || x.is_normal()), "{name} {v:?}");
        }
    }
    // The same updates in f64 without any flush.
    let (mut w_adam, mut w_sgd) = (start.map(f64::from), start.map(f64::from));
    let mut w_rms = start.map(f64::from);
    for i in 0..start.len() {
        let (mut m, mut v, mut b) = (0.0f64, 0.0f64, 0.0f64);
        let (mut sq, mut ga, mut rb) = (0.0f64, 0.0f64, 0.0f64);
        for step in 1..=steps {
            let g = if step == 1 { first_grad[i] } else { 0.0 };
            sq = 0.9 * sq + 0.1 * g * g;
            ga = 0.9 * ga + 0.1 * g;
            rb = 0.9 * rb + g / ((sq - ga * ga).sqrt() + 1e-8);
            w_rms[i] -= 1e-3 * rb;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            let t = step as i32;
            let denom = (v / (1.0 - 0.999f64.powi(t))).sqrt() + 1e-8;
            w_adam[i] -= 1e-3 / (1.0 - 0.9f64.powi(t)) * m / denom;
            b = if step == 1 { g } else { 0.9 * b + g };
            w_sgd[i] -= 1e-2 * b;
        }
    }
    let close = |got: Vec<f64>, want: &[f64], what: &str| {
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "{what}: {got:?} vs {want:?}"
            );
        }
    };
    close(values(&adam_param), &w_adam, "Adam");
    close(values(&sgd_param), &w_sgd, "SGD");
    close(values(&rms_param), &w_rms, "RMSprop");
}
