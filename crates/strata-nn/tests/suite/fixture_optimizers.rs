//! Optimiser trajectories against PyTorch (fixture `optimizers`: objective
//! `sum(a*w^2 + b*w)`, 6 steps, row i = w after step i+1), in f64 and f32, plus other
//! hyperparameters against a plain scalar transcription of PyTorch's update rules.

use serde_json::Value;
use strata_core::{DType, Tensor};
use strata_nn::optim::{Adagrad, Adam, AdamW, Optimizer, RMSprop, SGD};
use strata_nn::Param;
use strata_testutil::{assert_close, assert_close_f32, assert_close_f64, Fixture};

/// Every hyperparameter any of the optimisers takes, with PyTorch's defaults.
#[derive(Clone, Debug)]
struct Config {
    lr: f64,
    momentum: f64,
    dampening: f64,
    nesterov: bool,
    weight_decay: Option<f64>,
    betas: (f64, f64),
    eps: Option<f64>,
    amsgrad: bool,
    alpha: f64,
    centered: bool,
    lr_decay: f64,
    initial_accumulator_value: f64,
    maximize: bool,
}

impl Config {
    fn new(lr: f64) -> Config {
        Config {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: None,
            betas: (0.9, 0.999),
            eps: None,
            amsgrad: false,
            alpha: 0.99,
            centered: false,
            lr_decay: 0.0,
            initial_accumulator_value: 0.0,
            maximize: false,
        }
    }

    fn from_json(v: &Value) -> Config {
        let mut c = Config::new(v["lr"].as_f64().unwrap());
        let f = |k: &str| v.get(k).and_then(|x| x.as_f64());
        let b = |k: &str| v.get(k).and_then(|x| x.as_bool());
        for key in v.as_object().unwrap().keys() {
            match key.as_str() {
                "lr" => {}
                "momentum" => c.momentum = f(key).unwrap(),
                "dampening" => c.dampening = f(key).unwrap(),
                "nesterov" => c.nesterov = b(key).unwrap(),
                "weight_decay" => c.weight_decay = f(key),
                "betas" => {
                    let bs = v[key].as_array().unwrap();
                    c.betas = (bs[0].as_f64().unwrap(), bs[1].as_f64().unwrap());
                }
                "eps" => c.eps = f(key),
                "amsgrad" => c.amsgrad = b(key).unwrap(),
                "alpha" => c.alpha = f(key).unwrap(),
                "centered" => c.centered = b(key).unwrap(),
                "lr_decay" => c.lr_decay = f(key).unwrap(),
                "initial_accumulator_value" => c.initial_accumulator_value = f(key).unwrap(),
                other => panic!("fixture config has an option this test does not know: {other}"),
            }
        }
        c
    }
}

/// The fixture names an optimiser by its case name: `sgd_momentum` → SGD, and so on.
fn kind(case: &str) -> &'static str {
    if case.starts_with("sgd") {
        "sgd"
    } else if case.starts_with("adamw") {
        "adamw"
    } else if case.starts_with("adam") {
        "adam"
    } else if case.starts_with("rmsprop") {
        "rmsprop"
    } else if case.starts_with("adagrad") {
        "adagrad"
    } else {
        panic!("unknown optimiser case {case}")
    }
}

fn build(kind: &str, c: &Config, params: Vec<Param>) -> Box<dyn Optimizer> {
    match kind {
        "sgd" => {
            let mut o = SGD::new(params, c.lr)
                .unwrap()
                .momentum(c.momentum)
                .unwrap()
                .dampening(c.dampening)
                .unwrap()
                .nesterov(c.nesterov)
                .unwrap()
                .maximize(c.maximize);
            if let Some(wd) = c.weight_decay {
                o = o.weight_decay(wd).unwrap();
            }
            Box::new(o)
        }
        "adam" => {
            let mut o = Adam::new(params, c.lr)
                .unwrap()
                .betas(c.betas.0, c.betas.1)
                .unwrap()
                .amsgrad(c.amsgrad)
                .maximize(c.maximize);
            if let Some(wd) = c.weight_decay {
                o = o.weight_decay(wd).unwrap();
            }
            if let Some(eps) = c.eps {
                o = o.eps(eps).unwrap();
            }
            Box::new(o)
        }
        "adamw" => {
            let mut o = AdamW::new(params, c.lr)
                .unwrap()
                .betas(c.betas.0, c.betas.1)
                .unwrap()
                .amsgrad(c.amsgrad)
                .maximize(c.maximize);
            if let Some(wd) = c.weight_decay {
                o = o.weight_decay(wd).unwrap();
            }
            if let Some(eps) = c.eps {
                o = o.eps(eps).unwrap();
            }
            Box::new(o)
        }
        "rmsprop" => {
            let mut o = RMSprop::new(params, c.lr)
                .unwrap()
                .alpha(c.alpha)
                .unwrap()
                .momentum(c.momentum)
                .unwrap()
                .centered(c.centered)
                .maximize(c.maximize);
            if let Some(wd) = c.weight_decay {
                o = o.weight_decay(wd).unwrap();
            }
            if let Some(eps) = c.eps {
                o = o.eps(eps).unwrap();
            }
            Box::new(o)
        }
        "adagrad" => {
            let mut o = Adagrad::new(params, c.lr)
                .unwrap()
                .lr_decay(c.lr_decay)
                .unwrap()
                .initial_accumulator_value(c.initial_accumulator_value)
                .unwrap()
                .maximize(c.maximize);
            if let Some(wd) = c.weight_decay {
                o = o.weight_decay(wd).unwrap();
            }
            if let Some(eps) = c.eps {
                o = o.eps(eps).unwrap();
            }
            Box::new(o)
        }
        other => panic!("unknown optimiser {other}"),
    }
}

/// Runs `steps` steps on `sum(a*w^2 + b*w)` with the gradient from autodiff; returns the
/// trajectory `[steps, n]`.
fn trajectory(
    kind: &str,
    c: &Config,
    a: &Tensor,
    b: &Tensor,
    w0: &Tensor,
    steps: usize,
    dtype: DType,
) -> Tensor {
    let (a, b) = (a.to_dtype(dtype), b.to_dtype(dtype));
    let w = Param::new(w0.to_dtype(dtype).copy());
    let mut opt = build(kind, c, vec![w.clone()]);
    let mut rows = Vec::new();
    for _ in 0..steps {
        let loss = a
            .mul(&w)
            .unwrap()
            .mul(&w)
            .unwrap()
            .add(&b.mul(&w).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&grads).unwrap();
        rows.extend(w.to_vec_f64());
    }
    Tensor::from_vec(rows, &[steps, w0.numel()]).unwrap()
}

#[test]
fn every_optimizer_case_matches_pytorch_in_f64_and_f32() {
    let fx = Fixture::load("optimizers");
    let steps = fx.cfg_usize("steps");
    let opts = fx.config["opts"].as_object().unwrap();
    let cases: Vec<String> = fx
        .keys()
        .iter()
        .filter_map(|k| k.strip_prefix("trajectory.").map(str::to_string))
        .collect();
    assert_eq!(
        cases.len(),
        opts.len(),
        "every configured case has a trajectory"
    );
    assert_eq!(cases.len(), 11);
    let (a, b, w0) = (fx.get("a"), fx.get("b"), fx.get("w0"));
    for case in &cases {
        let c = Config::from_json(&opts[case.as_str()]);
        let k = kind(case);
        let want = fx.get(&format!("trajectory.{case}"));
        let got = trajectory(k, &c, &a, &b, &w0, steps, DType::F64);
        assert_close_f64(&got, &want, &format!("{case} f64"));
        let got32 = trajectory(k, &c, &a, &b, &w0, steps, DType::F32);
        assert_close_f32(&got32, &want, &format!("{case} f32"));
    }
}

// ------------------------------------------------------------------ scalar reference

/// PyTorch's single-tensor update rules, transcribed element by element in f64.
struct Reference {
    kind: &'static str,
    c: Config,
    step: u64,
    /// Per element: [buf0, buf1, buf2] (momentum / exp_avg / square_avg ...).
    bufs: Vec<[f64; 3]>,
    has_momentum_buf: bool,
}

impl Reference {
    fn new(kind: &'static str, c: &Config, n: usize) -> Reference {
        let init = if kind == "adagrad" {
            c.initial_accumulator_value
        } else {
            0.0
        };
        Reference {
            kind,
            c: c.clone(),
            step: 0,
            bufs: vec![[init, 0.0, 0.0]; n],
            has_momentum_buf: false,
        }
    }

    fn step(&mut self, w: &mut [f64], g: &[f64]) {
        self.step += 1;
        let c = &self.c;
        let t = self.step as f64;
        let default_wd = if self.kind == "adamw" { 1e-2 } else { 0.0 };
        let wd = c.weight_decay.unwrap_or(default_wd);
        for i in 0..w.len() {
            let mut g = if c.maximize { -g[i] } else { g[i] };
            let s = &mut self.bufs[i];
            match self.kind {
                "sgd" => {
                    g += wd * w[i];
                    if c.momentum != 0.0 {
                        s[0] = if self.has_momentum_buf {
                            c.momentum * s[0] + (1.0 - c.dampening) * g
                        } else {
                            g
                        };
                        g = if c.nesterov {
                            g + c.momentum * s[0]
                        } else {
                            s[0]
                        };
                    }
                    w[i] -= c.lr * g;
                }
                "adam" | "adamw" => {
                    if self.kind == "adamw" {
                        w[i] *= 1.0 - c.lr * wd;
                    } else {
                        g += wd * w[i];
                    }
                    let (b1, b2) = c.betas;
                    s[0] = b1 * s[0] + (1.0 - b1) * g;
                    s[1] = b2 * s[1] + (1.0 - b2) * g * g;
                    s[2] = s[2].max(s[1]);
                    let second = if c.amsgrad { s[2] } else { s[1] };
                    let denom = second.sqrt() / (1.0 - b2.powf(t)).sqrt() + c.eps.unwrap_or(1e-8);
                    w[i] -= c.lr / (1.0 - b1.powf(t)) * s[0] / denom;
                }
                "rmsprop" => {
                    g += wd * w[i];
                    s[0] = c.alpha * s[0] + (1.0 - c.alpha) * g * g;
                    let avg = if c.centered {
                        s[2] = c.alpha * s[2] + (1.0 - c.alpha) * g;
                        (s[0] - s[2] * s[2]).sqrt()
                    } else {
                        s[0].sqrt()
                    } + c.eps.unwrap_or(1e-8);
                    if c.momentum > 0.0 {
                        s[1] = c.momentum * s[1] + g / avg;
                        w[i] -= c.lr * s[1];
                    } else {
                        w[i] -= c.lr * g / avg;
                    }
                }
                "adagrad" => {
                    g += wd * w[i];
                    let clr = c.lr / (1.0 + (t - 1.0) * c.lr_decay);
                    s[0] += g * g;
                    w[i] -= clr * g / (s[0].sqrt() + c.eps.unwrap_or(1e-10));
                }
                other => panic!("{other}"),
            }
        }
        self.has_momentum_buf = true;
    }
}

/// Several hyperparameter settings the fixture does not cover, on a 2-D parameter with
/// mixed-sign values, checked step by step against [`Reference`].
#[test]
fn other_hyperparameters_match_the_reference_rules() {
    let mut cases: Vec<(&'static str, Config)> = Vec::new();
    let mut c = |kind: &'static str, lr: f64, f: &dyn Fn(&mut Config)| {
        let mut cfg = Config::new(lr);
        f(&mut cfg);
        cases.push((kind, cfg));
    };
    c("sgd", 0.05, &|c| c.weight_decay = Some(0.3));
    c("sgd", 0.05, &|c| {
        c.momentum = 0.5;
        c.dampening = 0.9;
        c.weight_decay = Some(0.1);
    });
    c("sgd", 0.02, &|c| {
        c.momentum = 0.7;
        c.nesterov = true;
        c.maximize = true;
    });
    c("adam", 0.01, &|c| {
        c.betas = (0.5, 0.6);
        c.eps = Some(1e-3);
        c.weight_decay = Some(0.2);
        c.amsgrad = true;
    });
    c("adam", 0.03, &|c| {
        c.betas = (0.0, 0.9);
        c.maximize = true;
    });
    c("adamw", 0.02, &|c| c.amsgrad = true); // default weight decay 0.01
    c("adamw", 0.02, &|c| {
        c.weight_decay = Some(0.3);
        c.betas = (0.95, 0.99);
    });
    c("rmsprop", 0.01, &|c| {
        c.alpha = 0.8;
        c.centered = true;
        c.weight_decay = Some(0.05);
    });
    c("rmsprop", 0.005, &|c| {
        c.momentum = 0.9;
        c.eps = Some(1e-4);
    });
    c("rmsprop", 0.005, &|c| {
        c.momentum = 0.3;
        c.centered = true;
        c.maximize = true;
    });
    c("adagrad", 0.2, &|c| {
        c.lr_decay = 0.1;
        c.weight_decay = Some(0.05);
        c.initial_accumulator_value = 0.5;
    });
    c("adagrad", 0.1, &|c| {
        c.eps = Some(1e-3);
        c.maximize = true;
    });

    let w0: Vec<f64> = vec![0.8, -1.3, 0.05, 2.1, -0.4, 1.7];
    let a: Vec<f64> = vec![0.3, 1.1, 0.7, 0.2, 2.0, 0.5];
    let b: Vec<f64> = vec![-0.5, 0.4, 1.2, -0.9, 0.1, 0.0];
    let at = Tensor::from_vec(a.clone(), &[2, 3]).unwrap();
    let bt = Tensor::from_vec(b.clone(), &[2, 3]).unwrap();
    for (kind, cfg) in &cases {
        let steps = 12;
        let got = trajectory(
            kind,
            cfg,
            &at,
            &bt,
            &Tensor::from_vec(w0.clone(), &[2, 3]).unwrap(),
            steps,
            DType::F64,
        );
        let mut reference = Reference::new(kind, cfg, w0.len());
        let mut w = w0.clone();
        let mut rows: Vec<f64> = Vec::new();
        for _ in 0..steps {
            let g: Vec<f64> = (0..w.len()).map(|i| 2.0 * a[i] * w[i] + b[i]).collect();
            reference.step(&mut w, &g);
            rows.extend(&w);
        }
        let want = Tensor::from_vec(rows, &[steps, w0.len()]).unwrap();
        assert_close(&got, &want, 1e-12, 1e-14, &format!("{kind} {cfg:?}"));
        let got32 = trajectory(
            kind,
            cfg,
            &at,
            &bt,
            &Tensor::from_vec(w0.clone(), &[2, 3]).unwrap(),
            steps,
            DType::F32,
        );
        assert_close(&got32, &want, 1e-4, 1e-5, &format!("{kind} f32 {cfg:?}"));
    }
}

/// A parameter large enough for the update to run in parallel chunks gives the same
/// result as the reference, element for element.
#[test]
fn large_parameter_matches_the_reference() {
    let n = 100_003;
    let w0: Vec<f64> = (0..n)
        .map(|i| ((i * 37 % 101) as f64 - 50.0) / 25.0)
        .collect();
    let a: Vec<f64> = (0..n).map(|i| 0.1 + (i % 7) as f64 * 0.2).collect();
    let b: Vec<f64> = (0..n).map(|i| ((i % 13) as f64 - 6.0) / 5.0).collect();
    let mut cfg = Config::new(0.01);
    cfg.amsgrad = true;
    cfg.weight_decay = Some(0.1);
    let got = trajectory(
        "adam",
        &cfg,
        &Tensor::from_vec(a.clone(), &[n]).unwrap(),
        &Tensor::from_vec(b.clone(), &[n]).unwrap(),
        &Tensor::from_vec(w0.clone(), &[n]).unwrap(),
        3,
        DType::F64,
    );
    let mut reference = Reference::new("adam", &cfg, n);
    let mut w = w0;
    for _ in 0..3 {
        let g: Vec<f64> = (0..n).map(|i| 2.0 * a[i] * w[i] + b[i]).collect();
        reference.step(&mut w, &g);
    }
    let last = got.select(0, 2).unwrap();
    assert_close(
        &last,
        &Tensor::from_vec(w, &[n]).unwrap(),
        1e-12,
        1e-14,
        "adam large",
    );
}

/// Fixture `mlp_sgd_3_steps`: a small MLP trained 3 steps with SGD (momentum 0.9) on
/// cross-entropy; the losses and the final parameters match PyTorch (f64 and f32).
#[test]
fn mlp_with_sgd_momentum_matches_pytorch() {
    use strata_nn::{Forward, Linear, ModuleExt, ReLU, Sequential, Tanh};
    let fx = Fixture::load("mlp_sgd_3_steps");
    for dtype in [DType::F64, DType::F32] {
        // Copies: a Param shares its tensor's storage, and the optimiser writes to it.
        let linear = |i: usize| {
            let w = fx.get(&format!("param.{i}.weight")).to_dtype(dtype).copy();
            let b = fx.get(&format!("param.{i}.bias")).to_dtype(dtype).copy();
            Linear::from_weights(w, Some(b)).unwrap()
        };
        let model = Sequential::new()
            .push(linear(0))
            .push(ReLU::new())
            .push(linear(2))
            .push(Tanh::new())
            .push(linear(4));
        let mut opt = SGD::new(model.parameters(), fx.cfg_f64("lr"))
            .unwrap()
            .momentum(fx.cfg_f64("momentum"))
            .unwrap();
        let x = fx.get("input").to_dtype(dtype);
        let target = fx.get("target").to_vec::<i64>().unwrap();
        let mut one_hot = vec![0.0f64; target.len() * 3];
        for (row, &t) in target.iter().enumerate() {
            one_hot[row * 3 + t as usize] = 1.0;
        }
        let one_hot = Tensor::from_vec(one_hot, &[target.len(), 3])
            .unwrap()
            .to_dtype(dtype);
        let mut losses = Vec::new();
        for _ in 0..3 {
            // Mean cross-entropy on logits: logsumexp(z) - z[target].
            let z = model.forward(&x).unwrap();
            let lse = z.exp().unwrap().sum(&[1], false).unwrap().log().unwrap();
            let picked = z.mul(&one_hot).unwrap().sum(&[1], false).unwrap();
            let loss = lse.sub(&picked).unwrap().mean_all().unwrap();
            losses.push(loss.item().unwrap());
            opt.step(&loss.backward().unwrap()).unwrap();
        }
        let check = if dtype == DType::F64 {
            assert_close_f64
        } else {
            assert_close_f32
        };
        check(
            &Tensor::from_vec(losses, &[3]).unwrap(),
            &fx.get("losses"),
            &format!("losses {dtype}"),
        );
        for (name, t) in model.state_dict() {
            check(
                &t,
                &fx.get(&format!("final.{name}")),
                &format!("{name} {dtype}"),
            );
        }
    }
}
