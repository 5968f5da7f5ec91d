//! `dying-relu`: the fraction of dead hidden units after training at rising learning
//! rates, for ReLU, Leaky ReLU, ELU and PReLU. A unit is dead when its pre-activation is
//! never positive on any held-out example: a ReLU unit like that outputs 0 everywhere and
//! gets no gradient again; the leaky variants still pass a gradient, and the same test
//! shows whether their units got pushed to the same place.

use crate::data::mnist;
use crate::mlp::{Act, Mlp, MlpSpec};
use crate::train::{epoch, evaluate, never_positive_fraction};
use crate::write::number;
use crate::{plot, Check, Measured, Op, Options, Outcome, Result};
use serde_json::json;
use std::fmt::Write;
use strata_core::{no_grad, Generator};
use strata_nn::{Adam, ModuleExt, Optimizer};

const ACTS: [Act; 4] = [Act::Relu, Act::LeakyRelu, Act::Elu, Act::Prelu];

/// The dead fraction over all hidden units, or NaN when training diverged.
fn dead_fraction(net: &Mlp, x: &strata_core::Tensor) -> Result<f64> {
    no_grad(|| -> Result<f64> {
        let trace = net.trace(x)?;
        let mut sum = 0.0;
        for pre in &trace.pre {
            if !pre.abs()?.max_all()?.item()?.is_finite() {
                return Ok(f64::NAN);
            }
            sum += never_positive_fraction(pre)?;
        }
        Ok(sum / trace.pre.len() as f64)
    })
}

pub fn run(opts: &Options) -> Result<Outcome> {
    let lrs: Vec<f64> = opts.pick(vec![1e-4, 3e-2], vec![1e-4, 1e-3, 3e-3, 1e-2, 3e-2]);
    let (width, depth) = opts.pick((64, 2), (256, 3));
    let (train_n, test_n, epochs, batch) = opts.pick((1_024, 500, 1, 32), (10_000, 2_000, 1, 64));
    let (train, test) = mnist(&opts.mnist_dir, train_n, test_n)?;
    let mut series = Vec::new();
    let mut table =
        String::from("| activation | lr | dead units | test accuracy |\n|---|---|---|---|\n");
    for act in ACTS {
        let mut dead = Vec::new();
        let mut accs = Vec::new();
        for &lr in &lrs {
            // The same initial weights and batch order at every learning rate.
            strata_core::manual_seed(opts.seed);
            let net = Mlp::new(&MlpSpec::uniform(784, width, depth, 10, act))?;
            let mut opt: Box<dyn Optimizer> = Adam::new(net.parameters(), lr)?.into();
            let mut rng = Generator::new(opts.seed);
            for _ in 0..epochs {
                epoch(&net, &mut opt, &train, batch, &mut rng, |_, _, _| Ok(()))?;
            }
            net.eval();
            let d = dead_fraction(&net, &test.x)?;
            net.train();
            let (_, acc) = evaluate(&net, &test)?;
            let _ = writeln!(
                table,
                "| {} | {lr} | {:.1} % | {:.1} % |",
                act.name(),
                d * 100.0,
                acc * 100.0
            );
            dead.push((lr, d));
            accs.push((lr, acc));
        }
        series.push(Measured::new(
            format!("{}/dead-fraction", act.name()),
            "learning rate",
            "dead fraction",
            dead,
        ));
        series.push(Measured::new(
            format!("{}/test-accuracy", act.name()),
            "learning rate",
            "test accuracy",
            accs,
        ));
    }
    let top = lrs[lrs.len() - 1];
    let dead_at = |act: Act, lr: f64| {
        series
            .iter()
            .find(|s| s.name == format!("{}/dead-fraction", act.name()))
            .and_then(|s| s.at(lr))
            .unwrap_or(f64::NAN)
    };
    let relu_top = dead_at(Act::Relu, top);
    let checks = vec![
        Check::new(
            format!("relu: dead fraction at lr {top} minus at lr {}", lrs[0]),
            relu_top - dead_at(Act::Relu, lrs[0]),
            Op::Gt,
            0.0,
        ),
        Check::new(
            format!("relu: dead fraction at lr {top}"),
            relu_top,
            Op::Gt,
            0.25,
        ),
        Check::new(
            format!("leaky-relu/relu dead fraction at lr {top}"),
            dead_at(Act::LeakyRelu, top) / relu_top,
            Op::Lt,
            0.5,
        ),
        Check::new(
            format!("elu/relu dead fraction at lr {top}"),
            dead_at(Act::Elu, top) / relu_top,
            Op::Lt,
            0.5,
        ),
    ];
    let pick = |what: &str| -> Vec<&Measured> {
        ACTS.iter()
            .filter_map(|a| {
                series
                    .iter()
                    .find(|s| s.name == format!("{}/{what}", a.name()))
            })
            .collect()
    };
    // Learning rates span decades: plot them on a log axis.
    let log_x = |series: &[&Measured]| -> Vec<Measured> {
        series
            .iter()
            .map(|s| {
                Measured::new(
                    s.name.clone(),
                    "log10 lr",
                    &s.y,
                    s.points.iter().map(|p| (p.0.log10(), p.1)).collect(),
                )
            })
            .collect()
    };
    let dead = log_x(&pick("dead-fraction"));
    let acc = log_x(&pick("test-accuracy"));
    let plots = vec![
        plot::with_guide(
            plot::lines(
                "dead_fraction",
                "Dead hidden units after training",
                "log10 learning rate",
                "fraction never positive",
                false,
                &dead.iter().collect::<Vec<_>>(),
            ),
            0.25,
            "25 %",
        ),
        plot::lines(
            "test_accuracy",
            "Test accuracy after training",
            "log10 learning rate",
            "accuracy",
            false,
            &acc.iter().collect::<Vec<_>>(),
        ),
    ];
    let findings = format!(
        "An MLP of {depth} hidden layers of {width} units (PyTorch's default initialisation) \
         trains {epochs} epoch(s) of Adam (batch {batch}) on {train_n} standardised MNIST \
         images at each learning rate, from the same initial weights and batch order. A \
         hidden unit counts as dead when its pre-activation is not positive on any of {test_n} \
         held-out images.\n\n{table}\n\
         At lr {top} ReLU ends with {} of its units dead, against {} at lr {}: a large step \
         can push a unit's weights and bias to where no input reaches the positive side, and \
         from there ReLU's zero gradient never brings it back. Leaky ReLU ends at {}, ELU at \
         {} and PReLU at {}: {}\n",
        number(relu_top),
        number(dead_at(Act::Relu, lrs[0])),
        lrs[0],
        number(dead_at(Act::LeakyRelu, top)),
        number(dead_at(Act::Elu, top)),
        number(dead_at(Act::Prelu, top)),
        if dead_at(Act::LeakyRelu, top) < 0.5 * relu_top && dead_at(Act::Elu, top) < 0.5 * relu_top
        {
            "their negative side keeps a gradient, so a unit pushed there can come back."
        } else {
            "the same large steps push their units below zero on every input too. Unlike a \
             dead ReLU unit such a unit still passes a (small) gradient and can come back, but \
             at this learning rate the leaky variants do not keep their units on the positive \
             side much better than ReLU does."
        },
    );
    Ok(Outcome {
        name: "dying-relu".into(),
        title:
            "Large learning rates kill ReLU units; Leaky ReLU, ELU and PReLU keep far more alive."
                .into(),
        settings: json!({
            "seed": opts.seed, "quick": opts.quick, "learning_rates": lrs, "width": width,
            "hidden_layers": depth, "train_examples": train_n, "heldout_examples": test_n,
            "epochs": epochs, "batch": batch, "optimizer": "adam", "init": "pytorch default",
            "leaky_slope": 0.01, "elu_alpha": 1.0, "prelu_init": 0.25,
        }),
        series,
        plots,
        findings,
        checks,
        seconds: 0.0,
    })
}
