//! Learning-rate schedules against PyTorch (fixture `lr_schedules`: base lr 0.1, 40 steps,
//! value i = lr in effect for step i; plateau stepped with `plateau_metric[i]`), plus other
//! settings against step-by-step transcriptions of PyTorch's chainable (recursive) forms.

use strata_core::Tensor;
use strata_nn::optim::{Optimizer, ParamGroup, SGD};
use strata_nn::schedule::{
    AnnealStrategy, ChainedScheduler, ConstantLR, CosineAnnealingLR, CosineAnnealingWarmRestarts,
    ExponentialLR, LinearLR, LrSchedule, LrScheduler, MultiStepLR, OneCycleLR, PlateauMode,
    PlateauOptions, ReduceLROnPlateau, Scheduler, SequentialLR, StepLR, ThresholdMode,
};
use strata_nn::Param;
use strata_testutil::{assert_close, assert_close_f64, Fixture};

/// Numbers in a case name: `multistep_5_15_30_0.1` → [5, 15, 30, 0.1].
fn numbers(name: &str) -> Vec<f64> {
    name.split(['_', 'T', 'x'])
        .filter_map(|part| {
            let digits = part.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            digits.parse::<f64>().ok()
        })
        .collect()
}

/// The scheduler a fixture case names, built from the numbers in its name.
fn scheduler(case: &str, base_lr: f64) -> Box<dyn LrScheduler> {
    let n = numbers(case);
    let s = |rule: Box<dyn LrSchedule>| -> Box<dyn LrScheduler> {
        Box::new(Scheduler::with_base_lr(base_lr, rule).unwrap())
    };
    if case.starts_with("cosine_warm_restarts") {
        s(Box::new(CosineAnnealingWarmRestarts::new(
            n[0] as usize,
            n[1] as usize,
            0.0,
        )))
    } else if case.starts_with("cosine") {
        s(Box::new(CosineAnnealingLR::new(n[0] as usize, n[1])))
    } else if case.starts_with("exponential") {
        s(Box::new(ExponentialLR::new(n[0])))
    } else if case.starts_with("linear_warmup") {
        // LinearLR(start_factor=0.2, total_iters=5): the case's first value is 0.2 * base.
        s(Box::new(LinearLR::new(0.2, 1.0, n[0] as usize)))
    } else if case.starts_with("multistep") {
        let (gamma, milestones) = n.split_last().unwrap();
        s(Box::new(MultiStepLR::new(
            milestones.iter().map(|&m| m as usize).collect(),
            *gamma,
        )))
    } else if case.starts_with("onecycle") {
        s(Box::new(OneCycleLR::new(n[0], n[1] as usize)))
    } else if case.starts_with("reduce_on_plateau") {
        let opts = PlateauOptions::default()
            .patience(n[0] as usize)
            .factor(n[1]);
        Box::new(ReduceLROnPlateau::with_base_lr(base_lr, opts).unwrap())
    } else if case.starts_with("step") {
        s(Box::new(StepLR::new(n[0] as usize, n[1])))
    } else {
        panic!("fixture has a schedule this test does not know: {case}")
    }
}

#[test]
fn every_schedule_case_matches_pytorch() {
    let fx = Fixture::load("lr_schedules");
    let base_lr = fx.cfg_f64("base_lr");
    let steps = fx.cfg_usize("steps");
    let metric = fx.get("plateau_metric").to_vec::<f64>().unwrap();
    let cases: Vec<String> = fx
        .keys()
        .into_iter()
        .filter(|k| *k != "plateau_metric")
        .map(str::to_string)
        .collect();
    assert_eq!(cases.len(), 8);
    for case in &cases {
        let mut sched = scheduler(case, base_lr);
        let mut lrs = Vec::with_capacity(steps);
        for &m in metric.iter().take(steps) {
            lrs.push(sched.lr());
            sched.step_with_metric(m); // only the plateau scheduler reads the metric
        }
        assert_eq!(sched.last_epoch(), steps);
        let got = Tensor::from_vec(lrs, &[steps]).unwrap();
        assert_close_f64(&got, &fx.get(case), case);
    }
}

/// The same cases driving a real optimiser: `apply` sets what the optimiser uses.
#[test]
fn schedules_drive_the_optimizer() {
    let fx = Fixture::load("lr_schedules");
    let metric = fx.get("plateau_metric").to_vec::<f64>().unwrap();
    for case in [
        "step_10_0.5",
        "onecycle_max1.0_total40",
        "reduce_on_plateau_patience3_factor0.5",
    ] {
        let w = Param::new(Tensor::ones(&[2]));
        let mut opt = SGD::new(vec![w], 0.1).unwrap().momentum(0.9).unwrap();
        let mut sched = scheduler(case, 0.1);
        let want = fx.get(case).to_vec::<f64>().unwrap();
        for i in 0..40 {
            sched.apply(&mut opt).unwrap();
            assert!(
                (opt.lr() - want[i]).abs() <= 1e-12 * want[i],
                "{case} step {i}"
            );
            sched.step_with_metric(metric[i]);
        }
    }
}

// ------------------------------------------------------------- chainable references

/// Runs `rule` for `steps` steps and returns the lrs in effect at each step.
fn run(rule: impl LrSchedule + 'static, base: f64, steps: usize) -> Vec<f64> {
    let mut s = Scheduler::with_base_lr(base, rule).unwrap();
    (0..steps)
        .map(|_| {
            let lr = s.lr();
            s.step();
            lr
        })
        .collect()
}

fn close(got: &[f64], want: &[f64], what: &str) {
    let n = got.len();
    assert_close(
        &Tensor::from_vec(got.to_vec(), &[n]).unwrap(),
        &Tensor::from_vec(want.to_vec(), &[n]).unwrap(),
        1e-12,
        1e-15,
        what,
    );
}

/// PyTorch's recursive updates: `next(lr, epoch)` gives the lr after stepping to `epoch`.
fn chain(initial: f64, steps: usize, next: impl Fn(f64, usize) -> f64) -> Vec<f64> {
    let mut lr = initial;
    let mut out = vec![lr];
    for e in 1..steps {
        lr = next(lr, e);
        out.push(lr);
    }
    out
}

#[test]
fn closed_forms_agree_with_pytorchs_recursive_forms() {
    let base = 0.3;
    // StepLR(7, 0.3)
    let want = chain(base, 50, |lr, e| if e % 7 == 0 { lr * 0.3 } else { lr });
    close(&run(StepLR::new(7, 0.3), base, 50), &want, "StepLR");
    // MultiStepLR with a repeated milestone
    let ms = [3usize, 8, 8, 20];
    let want = chain(base, 30, |lr, e| {
        lr * 0.5f64.powi(ms.iter().filter(|&&m| m == e).count() as i32)
    });
    close(
        &run(MultiStepLR::new(ms.to_vec(), 0.5), base, 30),
        &want,
        "MultiStepLR",
    );
    // ExponentialLR(0.95)
    let want = chain(base, 60, |lr, _| lr * 0.95);
    close(
        &run(ExponentialLR::new(0.95), base, 60),
        &want,
        "ExponentialLR",
    );
    // LinearLR(0.25 -> 0.75 over 8): PyTorch's ratio form
    let (s, f, n) = (0.25, 0.75, 8.0);
    let want = chain(base * s, 20, |lr, e| {
        if e as f64 > n {
            lr
        } else {
            lr * (1.0 + (f - s) / (n * s + (e as f64 - 1.0) * (f - s)))
        }
    });
    close(&run(LinearLR::new(s, f, 8), base, 20), &want, "LinearLR");
    // ConstantLR(0.4, 6)
    let want = chain(base * 0.4, 12, |lr, e| if e == 6 { lr / 0.4 } else { lr });
    close(&run(ConstantLR::new(0.4, 6), base, 12), &want, "ConstantLR");
    // CosineAnnealingLR(T_max=12, eta_min=0.01), beyond T_max too
    let (t, eta) = (12.0, 0.01);
    let pi = std::f64::consts::PI;
    let want = chain(base, 40, |lr, e| {
        let e = e as f64;
        if ((e - 1.0 - t) % (2.0 * t)) == 0.0 {
            lr + (base - eta) * (1.0 - (pi / t).cos()) / 2.0
        } else {
            (1.0 + (pi * e / t).cos()) / (1.0 + (pi * (e - 1.0) / t).cos()) * (lr - eta) + eta
        }
    });
    close(
        &run(CosineAnnealingLR::new(12, eta), base, 40),
        &want,
        "CosineAnnealingLR",
    );
}

#[test]
fn warm_restarts_follow_pytorchs_counters() {
    for (t0, mult, eta) in [(3usize, 1usize, 0.0), (4, 3, 0.02), (1, 2, 0.0)] {
        let (mut t_cur, mut t_i) = (0usize, t0);
        let mut want = Vec::new();
        for _ in 0..60 {
            let lr = eta
                + (0.5 - eta) * (1.0 + (std::f64::consts::PI * t_cur as f64 / t_i as f64).cos())
                    / 2.0;
            want.push(lr);
            t_cur += 1;
            if t_cur >= t_i {
                t_cur %= t_i;
                t_i *= mult;
            }
        }
        close(
            &run(CosineAnnealingWarmRestarts::new(t0, mult, eta), 0.5, 60),
            &want,
            &format!("warm restarts T0={t0} mult={mult}"),
        );
    }
}

/// PyTorch's OneCycleLR `get_lr`, transcribed.
fn one_cycle_reference(
    max_lr: f64,
    total: usize,
    pct: f64,
    linear: bool,
    div: f64,
    final_div: f64,
    three: bool,
) -> Vec<(f64, f64)> {
    let initial = max_lr / div;
    let min = initial / final_div;
    let t = total as f64;
    let phases: Vec<(f64, f64, f64, f64, f64)> = if three {
        vec![
            (pct * t - 1.0, initial, max_lr, 0.95, 0.85),
            (2.0 * pct * t - 2.0, max_lr, initial, 0.85, 0.95),
            (t - 1.0, initial, min, 0.95, 0.95),
        ]
    } else {
        vec![
            (pct * t - 1.0, initial, max_lr, 0.95, 0.85),
            (t - 1.0, max_lr, min, 0.85, 0.95),
        ]
    };
    let anneal = |a: f64, b: f64, p: f64| {
        if linear {
            (b - a) * p + a
        } else {
            b + (a - b) / 2.0 * ((std::f64::consts::PI * p).cos() + 1.0)
        }
    };
    (0..total)
        .map(|step| {
            let step = step as f64;
            let mut start = 0.0;
            for (i, &(end, lr0, lr1, m0, m1)) in phases.iter().enumerate() {
                if step <= end || i == phases.len() - 1 {
                    let p = (step - start) / (end - start);
                    return (anneal(lr0, lr1, p), anneal(m0, m1, p));
                }
                start = end;
            }
            unreachable!()
        })
        .collect()
}

#[test]
fn one_cycle_variants_match_the_reference() {
    for (pct, linear, div, final_div, three, total) in [
        (0.3, false, 25.0, 1e4, false, 100),
        (0.25, true, 10.0, 100.0, false, 37),
        (0.4, false, 5.0, 1e3, true, 50),
        (0.1, true, 25.0, 1e4, true, 23),
    ] {
        let rule = OneCycleLR::new(0.8, total)
            .pct_start(pct)
            .anneal_strategy(if linear {
                AnnealStrategy::Linear
            } else {
                AnnealStrategy::Cos
            })
            .div_factor(div)
            .final_div_factor(final_div)
            .three_phase(three);
        let want = one_cycle_reference(0.8, total, pct, linear, div, final_div, three);
        let lrs: Vec<f64> = (0..total).map(|e| rule.lr_at(123.0, e)).collect();
        let moms: Vec<f64> = (0..total).map(|e| rule.momentum_at(e).unwrap()).collect();
        let what = format!("OneCycle pct={pct} linear={linear} three={three}");
        close(&lrs, &want.iter().map(|w| w.0).collect::<Vec<_>>(), &what);
        close(&moms, &want.iter().map(|w| w.1).collect::<Vec<_>>(), &what);
    }
}

#[test]
fn one_cycle_cycles_the_optimizers_momentum() {
    let w = Param::new(Tensor::ones(&[2]));
    let mut opt = SGD::new(vec![w.clone()], 0.1)
        .unwrap()
        .momentum(0.9)
        .unwrap();
    let mut sched = Scheduler::new(&mut opt, OneCycleLR::new(1.0, 10)).unwrap();
    // Creation already sets step 0's values.
    assert!((opt.lr() - 0.04).abs() < 1e-15);
    assert_eq!(opt.momentum_or_beta1(), Some(0.95));
    for _ in 0..2 {
        sched.step();
        sched.apply(&mut opt).unwrap();
    }
    // The peak (step 2 = 0.3 * 10 - 1): max lr, base momentum.
    assert_eq!(opt.lr(), 1.0);
    assert_eq!(opt.momentum_or_beta1(), Some(0.85));
    // Adagrad has no momentum: cycling it is an error, as in PyTorch.
    let mut ada = strata_nn::optim::Adagrad::new(vec![w.clone()], 0.1).unwrap();
    assert!(Scheduler::new(&mut ada, OneCycleLR::new(1.0, 10)).is_err());
    assert!(Scheduler::new(&mut ada, OneCycleLR::new(1.0, 10).cycle_momentum(false)).is_ok());
}

#[test]
fn sequential_warmup_then_cosine_matches_pytorch_behaviour() {
    // PyTorch: LinearLR(0.1, 1, 5) then CosineAnnealingLR(T_max=15, eta_min=0.001) at 5; at
    // the milestone the cosine restarts from its closed form at epoch 0.
    let rule = SequentialLR::new(
        vec![
            Box::new(LinearLR::new(0.1, 1.0, 5)),
            Box::new(CosineAnnealingLR::new(15, 0.001)),
        ],
        vec![5],
    );
    let got = run(rule, 0.2, 25);
    let mut want: Vec<f64> = (0..5).map(|e| 0.2 * (0.1 + 0.9 * e as f64 / 5.0)).collect();
    want.extend((0..20).map(|e| {
        0.001 + (0.2 - 0.001) * (1.0 + (std::f64::consts::PI * e as f64 / 15.0).cos()) / 2.0
    }));
    close(&got, &want, "warm-up then cosine");

    // Three pieces, with a step decay in the middle.
    let rule = SequentialLR::new(
        vec![
            Box::new(ConstantLR::new(0.5, 100)),
            Box::new(StepLR::new(2, 0.5)),
            Box::new(ExponentialLR::new(0.9)),
        ],
        vec![3, 7],
    );
    let got = run(rule, 1.0, 10);
    let want = [0.5, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0, 0.9, 0.81];
    close(&got, &want, "three pieces");
}

#[test]
fn chained_scheduler_multiplies_like_pytorch() {
    // PyTorch docs: ConstantLR(factor=0.1, total_iters=20) chained with ExponentialLR(0.9).
    let rule = ChainedScheduler::new(vec![
        Box::new(ConstantLR::new(0.1, 20)),
        Box::new(ExponentialLR::new(0.9)),
    ]);
    let got = run(rule, 0.5, 25);
    let want = chain(0.5 * 0.1, 25, |lr, e| {
        let lr = if e == 20 { lr / 0.1 } else { lr };
        lr * 0.9
    });
    close(&got, &want, "chained");
}

#[test]
fn plateau_modes_cooldown_and_min_lr() {
    // PyTorch's algorithm, transcribed, for a metric that wiggles.
    let metrics: Vec<f64> = (0..60)
        .map(|i| {
            let i = i as f64;
            1.0 / (1.0 + 0.1 * i) + 0.05 * (i * 1.7).sin()
        })
        .collect();
    let settings = [
        (
            PlateauMode::Min,
            ThresholdMode::Rel,
            0.01,
            2usize,
            3usize,
            0.5,
            0.02,
        ),
        (PlateauMode::Min, ThresholdMode::Abs, 0.005, 0, 0, 0.3, 0.0),
        (PlateauMode::Max, ThresholdMode::Rel, 1e-4, 3, 1, 0.7, 0.05),
        (PlateauMode::Max, ThresholdMode::Abs, 0.01, 1, 2, 0.1, 1e-3),
    ];
    for (mode, tmode, threshold, patience, cooldown, factor, min_lr) in settings {
        let opts = PlateauOptions::default()
            .mode(mode)
            .threshold(threshold, tmode)
            .patience(patience)
            .cooldown(cooldown)
            .factor(factor)
            .min_lr(min_lr);
        let mut sched = ReduceLROnPlateau::with_base_lrs(vec![0.4, 0.1], opts).unwrap();
        let (mut best, mut bad, mut cool) = (
            if mode == PlateauMode::Min {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            },
            0usize,
            0usize,
        );
        let mut lrs = [0.4f64, 0.1];
        for &m in &metrics {
            sched.step_with_metric(m);
            let better = match (mode, tmode) {
                (PlateauMode::Min, ThresholdMode::Rel) => m < best * (1.0 - threshold),
                (PlateauMode::Min, ThresholdMode::Abs) => m < best - threshold,
                (PlateauMode::Max, ThresholdMode::Rel) => m > best * (threshold + 1.0),
                (PlateauMode::Max, ThresholdMode::Abs) => m > best + threshold,
            };
            if better {
                best = m;
                bad = 0;
            } else {
                bad += 1;
            }
            if cool > 0 {
                cool -= 1;
                bad = 0;
            }
            if bad > patience {
                for lr in &mut lrs {
                    let new = (*lr * factor).max(min_lr);
                    if *lr - new > 1e-8 {
                        *lr = new;
                    }
                }
                cool = cooldown;
                bad = 0;
            }
            assert_eq!(sched.lrs(), lrs.to_vec(), "{mode:?} {tmode:?}");
        }
        assert!(
            lrs[0] < 0.4,
            "{mode:?} {tmode:?}: the metric plateaus, so lr drops"
        );
    }
}

#[test]
fn per_group_base_lrs_and_group_count_checks() {
    let (a, b) = (
        Param::new(Tensor::ones(&[1])),
        Param::new(Tensor::ones(&[1])),
    );
    let mut opt = SGD::new(
        vec![
            ParamGroup::new(vec![a.clone()]),
            ParamGroup::new(vec![b.clone()]).lr(0.01),
        ],
        0.1,
    )
    .unwrap();
    let mut sched = Scheduler::new(&mut opt, StepLR::new(1, 0.5)).unwrap();
    sched.step();
    sched.apply(&mut opt).unwrap();
    assert_eq!(opt.groups().lrs(), vec![0.05, 0.005]);
    // A scheduler for one group cannot drive two.
    let single = Scheduler::with_base_lr(0.1, StepLR::new(1, 0.5)).unwrap();
    let e = single.apply(&mut opt).unwrap_err().to_string();
    assert!(
        e.contains("1 learning rate(s)") && e.contains("2 group(s)"),
        "{e}"
    );
}

#[test]
fn invalid_settings_are_config_errors() {
    let bad: Vec<(Box<dyn LrSchedule>, &str)> = vec![
        (Box::new(StepLR::new(0, 0.1)), "step_size"),
        (Box::new(StepLR::new(3, -0.1)), "gamma"),
        (Box::new(ExponentialLR::new(f64::NAN)), "gamma"),
        (Box::new(CosineAnnealingLR::new(0, 0.0)), "t_max"),
        (
            Box::new(CosineAnnealingWarmRestarts::new(5, 0, 0.0)),
            "t_mult",
        ),
        (Box::new(LinearLR::new(0.0, 1.0, 5)), "start_factor"),
        (Box::new(LinearLR::new(0.5, 1.5, 5)), "end_factor"),
        (Box::new(ConstantLR::new(2.0, 5)), "factor"),
        (Box::new(OneCycleLR::new(1.0, 0)), "total_steps"),
        (
            Box::new(OneCycleLR::new(1.0, 10).pct_start(1.5)),
            "pct_start",
        ),
        (
            Box::new(SequentialLR::new(
                vec![Box::new(StepLR::new(1, 0.5))],
                vec![3],
            )),
            "milestone",
        ),
        (
            Box::new(SequentialLR::new(
                vec![
                    Box::new(StepLR::new(1, 0.5)),
                    Box::new(StepLR::new(1, 0.5)),
                    Box::new(StepLR::new(1, 0.5)),
                ],
                vec![5, 2],
            )),
            "increasing",
        ),
    ];
    for (rule, word) in bad {
        let e = Scheduler::with_base_lr(0.1, rule).unwrap_err().to_string();
        assert!(
            e.contains("invalid configuration") && e.contains(word),
            "{e}"
        );
    }
    assert!(Scheduler::with_base_lr(-0.1, StepLR::new(1, 0.5)).is_err());
    let e = ReduceLROnPlateau::with_base_lr(0.1, PlateauOptions::default().factor(1.0))
        .unwrap_err()
        .to_string();
    assert!(e.contains("factor"), "{e}");
}

#[test]
fn scheduler_state_round_trip() {
    let rule = || CosineAnnealingWarmRestarts::new(5, 2, 0.0);
    let mut a = Scheduler::with_base_lrs(vec![0.1, 0.2], rule()).unwrap();
    for _ in 0..13 {
        a.step();
    }
    let saved = a.state_dict();
    let mut b = Scheduler::with_base_lrs(vec![0.1, 0.2], rule()).unwrap();
    b.load_state_dict(&saved).unwrap();
    assert_eq!(b.last_epoch(), 13);
    for _ in 0..10 {
        assert_eq!(a.lrs(), b.lrs());
        a.step();
        b.step();
    }
    // A state for one group does not fit two; nothing changes on error.
    let mut one = Scheduler::with_base_lr(0.1, rule()).unwrap();
    let e = one.load_state_dict(&saved).unwrap_err().to_string();
    assert!(e.contains("unexpected key base_lrs.1"), "{e}");
    assert_eq!(one.last_epoch(), 0);
    let e = b.load_state_dict(&[]).unwrap_err().to_string();
    assert!(e.contains("missing key last_epoch"), "{e}");

    // Plateau: mid-way state continues identically.
    let metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.96, 0.98, 0.99, 1.0, 0.97];
    let opts = PlateauOptions::default()
        .patience(1)
        .cooldown(1)
        .factor(0.5);
    let mut p = ReduceLROnPlateau::with_base_lr(0.1, opts.clone()).unwrap();
    for &m in &metrics[..4] {
        p.step_with_metric(m);
    }
    let mut q = ReduceLROnPlateau::with_base_lr(0.1, opts).unwrap();
    q.load_state_dict(&p.state_dict()).unwrap();
    for &m in &metrics[4..] {
        p.step_with_metric(m);
        q.step_with_metric(m);
        assert_eq!(p.lrs(), q.lrs());
        assert_eq!(p.num_bad_epochs(), q.num_bad_epochs());
    }
    assert!(p.lr() < 0.1);
}
