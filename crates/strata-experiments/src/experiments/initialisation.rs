//! `initialisation`: all-zero, too small (std 0.01), too large (std 1), Xavier and He
//! weights in a 10-layer tanh net and a 10-layer ReLU net: the activations' standard
//! deviation layer by layer at initialisation, and what training then reaches.

use crate::data::mnist;
use crate::mlp::{Act, Mlp, MlpSpec, WeightInit};
use crate::train::{epoch, evaluate, std_all};
use crate::write::number;
use crate::{plot, Check, Measured, Op, Options, Outcome, Result};
use serde_json::json;
use std::fmt::Write;
use strata_core::{no_grad, Generator, Tensor};
use strata_nn::{ModuleExt, Optimizer, SGD};

const DEPTH: usize = 10;
const LR: f64 = 0.01;
const MOMENTUM: f64 = 0.9;

const SCHEMES: [(&str, WeightInit); 5] = [
    ("zeros", WeightInit::Zeros),
    ("std-0.01", WeightInit::Normal(0.01)),
    ("std-1", WeightInit::Normal(1.0)),
    ("xavier", WeightInit::Xavier { gain: 1.0 }),
    ("he", WeightInit::He),
];

/// The largest difference between any hidden unit's incoming weights and bias and those
/// of the first unit of its layer: 0 when every unit of every layer is the same.
fn unit_asymmetry(net: &Mlp) -> Result<f64> {
    let hidden = &net.linears()[..net.linears().len() - 1];
    let mut worst: f64 = 0.0;
    for layer in hidden {
        let bias = match layer.bias() {
            Some(b) => b.tensor().unsqueeze(1)?,
            None => Tensor::zeros(&[layer.out_features(), 1]),
        };
        let rows = Tensor::cat(&[layer.weight().tensor().clone(), bias], 1)?;
        let diff = rows.sub(&rows.narrow(0, 0, 1)?)?.abs()?.max_all()?.item()?;
        worst = worst.max(diff);
    }
    Ok(worst)
}

pub fn run(opts: &Options) -> Result<Outcome> {
    let width = opts.pick(64, 256);
    let (train_n, test_n, probe_n, epochs, batch) =
        opts.pick((512, 256, 256, 1, 64), (10_000, 2_000, 512, 2, 128));
    let (train, test) = mnist(&opts.mnist_dir, train_n, test_n)?;
    let probe = train.head(probe_n)?;

    let mut series = Vec::new();
    let mut checks = Vec::new();
    let mut table = String::from("| net | init | std layer 1 | std layer 10 | last/first | test accuracy | final train loss |\n|---|---|---|---|---|---|---|\n");
    for act in [Act::Tanh, Act::Relu] {
        let mut by_scheme = Vec::new();
        for (i, &(name, init)) in SCHEMES.iter().enumerate() {
            strata_core::manual_seed(opts.seed.wrapping_add(i as u64));
            let net = Mlp::new(&MlpSpec::uniform(784, width, DEPTH, 10, act).init(init))?;
            let stds: Vec<f64> = no_grad(|| -> Result<Vec<f64>> {
                net.trace(&probe.x)?.post.iter().map(std_all).collect()
            })?;
            let ratio = stds[DEPTH - 1] / stds[0];
            let mut opt: Box<dyn Optimizer> =
                SGD::new(net.parameters(), LR)?.momentum(MOMENTUM)?.into();
            let mut rng = Generator::new(opts.seed);
            let mut losses = Vec::new();
            for _ in 0..epochs {
                losses.extend(epoch(
                    &net,
                    &mut opt,
                    &train,
                    batch,
                    &mut rng,
                    |_, _, _| Ok(()),
                )?);
            }
            let (_, acc) = evaluate(&net, &test)?;
            let last_loss = losses.last().copied().unwrap_or(f64::NAN);
            let _ = writeln!(
                table,
                "| {} | {name} | {} | {} | {} | {:.1} % | {} |",
                act.name(),
                number(stds[0]),
                number(stds[DEPTH - 1]),
                number(ratio),
                acc * 100.0,
                number(last_loss)
            );
            let points = stds
                .iter()
                .enumerate()
                .map(|(l, &s)| ((l + 1) as f64, s))
                .collect();
            series.push(Measured::new(
                format!("{}/{name}/activation-std", act.name()),
                "layer",
                "activation std",
                points,
            ));
            let curve = losses
                .iter()
                .enumerate()
                .map(|(s, &l)| (s as f64, l))
                .collect();
            series.push(Measured::new(
                format!("{}/{name}/train-loss", act.name()),
                "step",
                "loss",
                curve,
            ));
            by_scheme.push((name, ratio, acc));
            match name {
                "std-0.01" => checks.push(Check::new(
                    format!("{}, std 0.01: last/first activation std", act.name()),
                    ratio,
                    Op::Lt,
                    0.01,
                )),
                "xavier" if act == Act::Tanh => checks.push(Check::new(
                    "tanh, Xavier: last/first activation-std spread factor",
                    ratio.max(1.0 / ratio),
                    Op::Lt,
                    3.0,
                )),
                "he" if act == Act::Relu => checks.push(Check::new(
                    "relu, He: last/first activation-std spread factor",
                    ratio.max(1.0 / ratio),
                    Op::Lt,
                    3.0,
                )),
                "zeros" => checks.push(Check::new(
                    format!(
                        "{}, all-zero: largest difference between hidden units after training",
                        act.name()
                    ),
                    unit_asymmetry(&net)?,
                    Op::Lt,
                    1e-6,
                )),
                _ => {}
            }
        }
        series.push(Measured::new(
            format!("{}/test-accuracy", act.name()),
            "scheme",
            "test accuracy",
            by_scheme
                .iter()
                .enumerate()
                .map(|(i, s)| (i as f64, s.2))
                .collect(),
        ));
    }

    let pick = |act: Act, what: &str| -> Vec<&Measured> {
        SCHEMES
            .iter()
            .filter_map(|(n, _)| {
                series
                    .iter()
                    .find(|s| s.name == format!("{}/{n}/{what}", act.name()))
            })
            .collect()
    };
    let mut plots = Vec::new();
    for act in [Act::Tanh, Act::Relu] {
        let n = act.name();
        plots.push(plot::lines(
            &format!("{n}_activation_std"),
            &format!("{n}: activation std by layer at initialisation"),
            "layer",
            "std",
            true,
            &pick(act, "activation-std"),
        ));
        plots.push(plot::lines(
            &format!("{n}_train_loss"),
            &format!("{n}: training loss"),
            "step",
            "loss",
            true,
            &pick(act, "train-loss"),
        ));
    }
    let findings = format!(
        "Ten hidden layers of {width} units (tanh, then ReLU) on standardised MNIST, weights \
         drawn by each scheme (biases zero). The standard deviation of each hidden layer's \
         output is measured at initialisation on {probe_n} examples; then each net trains \
         {epochs} epoch(s) of SGD (lr {LR}, momentum {MOMENTUM}, batch {batch}) on {train_n} \
         examples and is tested on {test_n}. Scheme order on the accuracy series' x axis: \
         zeros, std-0.01, std-1, xavier, he.\n\n{table}\n\
         Too small weights shrink the signal by a constant factor per layer, so it has all but \
         vanished ten layers in; too large ones saturate tanh (std near 1 everywhere, \
         gradients near 0) and blow ReLU activations up by a factor per layer. Xavier keeps \
         tanh's scale and He keeps ReLU's. All-zero weights give every unit of a layer the \
         same value and the same gradient, so the units stay copies of each other however \
         long training runs.\n"
    );
    Ok(Outcome {
        name: "initialisation".into(),
        title: "The initial weight scale decides whether signals survive depth; zero weights never break symmetry.".into(),
        settings: json!({
            "seed": opts.seed, "quick": opts.quick, "depth": DEPTH, "width": width,
            "schemes": SCHEMES.iter().map(|s| s.0).collect::<Vec<_>>(), "xavier_gain": 1.0,
            "train_examples": train_n, "test_examples": test_n, "probe_examples": probe_n,
            "epochs": epochs, "batch": batch, "optimizer": "sgd", "lr": LR, "momentum": MOMENTUM,
        }),
        series,
        plots,
        findings,
        checks,
        seconds: 0.0,
    })
}
