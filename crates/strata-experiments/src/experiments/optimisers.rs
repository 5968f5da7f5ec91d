//! `optimisers`: SGD, SGD with momentum, Nesterov, RMSprop, Adam and AdamW on the same
//! network, data and budget, each given the same small learning-rate grid search: the
//! best final training loss of each and its loss curve.

use crate::data::{mnist, Set};
use crate::mlp::{Act, Mlp, MlpSpec};
use crate::train::{epoch, evaluate};
use crate::write::number;
use crate::{plot, Check, Measured, Op, Options, Outcome, Result};
use serde_json::json;
use std::fmt::Write;
use strata_core::Generator;
use strata_nn::{Adam, AdamW, ModuleExt, Optimizer, Param, RMSprop, SGD};

/// An optimiser and its learning-rate grid: five values a factor √10 apart (SGD with
/// momentum 0.9 a tenth of plain SGD's, the same effective step).
struct Contender {
    name: &'static str,
    grid: [f64; 5],
    make: fn(Vec<Param>, f64) -> strata_nn::Result<Box<dyn Optimizer>>,
}

const CONTENDERS: [Contender; 6] = [
    Contender {
        name: "sgd",
        grid: [0.01, 0.03, 0.1, 0.3, 1.0],
        make: |p, lr| Ok(SGD::new(p, lr)?.into()),
    },
    Contender {
        name: "momentum",
        grid: [0.001, 0.003, 0.01, 0.03, 0.1],
        make: |p, lr| Ok(SGD::new(p, lr)?.momentum(0.9)?.into()),
    },
    Contender {
        name: "nesterov",
        grid: [0.001, 0.003, 0.01, 0.03, 0.1],
        make: |p, lr| Ok(SGD::new(p, lr)?.momentum(0.9)?.nesterov(true)?.into()),
    },
    Contender {
        name: "rmsprop",
        grid: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
        make: |p, lr| Ok(RMSprop::new(p, lr)?.into()),
    },
    Contender {
        name: "adam",
        grid: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
        make: |p, lr| Ok(Adam::new(p, lr)?.into()),
    },
    Contender {
        name: "adamw",
        grid: [1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
        make: |p, lr| Ok(AdamW::new(p, lr)?.weight_decay(0.01)?.into()),
    },
];

/// Trains a fresh net (same initial weights every time) and returns its final training
/// loss over the whole set and its batch-loss curve.
fn train_once(
    c: &Contender,
    lr: f64,
    set: &Set,
    epochs: usize,
    batch: usize,
    width: usize,
    seed: u64,
) -> Result<(f64, Vec<(f64, f64)>)> {
    strata_core::manual_seed(seed);
    let net = Mlp::new(&MlpSpec::uniform(784, width, 2, 10, Act::Relu))?;
    let mut opt = (c.make)(net.parameters(), lr)?;
    let mut rng = Generator::new(seed);
    let mut curve = Vec::new();
    for _ in 0..epochs {
        for l in epoch(&net, opt.as_mut(), set, batch, &mut rng, |_, _, _| Ok(()))? {
            curve.push((curve.len() as f64, l));
        }
    }
    let (loss, _) = evaluate(&net, set)?;
    Ok((loss, curve))
}

pub fn run(opts: &Options) -> Result<Outcome> {
    let (width, train_n, epochs, batch) = opts.pick((64, 768, 1, 32), (128, 10_000, 2, 128));
    let (train, _) = mnist(&opts.mnist_dir, train_n, 0)?;
    let mut series = Vec::new();
    let mut best = Vec::new();
    let mut table = String::from("| optimiser | learning rates tried | final training loss at each | best |\n|---|---|---|---|\n");
    for c in &CONTENDERS {
        let mut results = Vec::new();
        for &lr in &c.grid {
            let (loss, curve) = train_once(c, lr, &train, epochs, batch, width, opts.seed)?;
            results.push((lr, loss, curve));
        }
        // NaN (a diverged run) never wins.
        let winner = results
            .iter()
            .filter(|r| r.1.is_finite())
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let (best_lr, best_loss) = winner.map_or((f64::NAN, f64::NAN), |w| (w.0, w.1));
        let _ = writeln!(
            table,
            "| {} | {} | {} | {} at lr {} |",
            c.name,
            c.grid.map(|g| g.to_string()).join(", "),
            results
                .iter()
                .map(|r| number(r.1))
                .collect::<Vec<_>>()
                .join(", "),
            number(best_loss),
            best_lr
        );
        series.push(Measured::new(
            format!("{}/final-loss-by-lr", c.name),
            "learning rate",
            "final training loss",
            results.iter().map(|r| (r.0, r.1)).collect(),
        ));
        if let Some(w) = winner {
            series.push(Measured::new(
                format!("{}/best-curve", c.name),
                "step",
                "batch loss",
                w.2.clone(),
            ));
        }
        best.push((c.name, best_loss));
    }
    let best_of = |name: &str| best.iter().find(|b| b.0 == name).map_or(f64::NAN, |b| b.1);
    let sgd = best_of("sgd");
    let checks = vec![
        Check::new(
            "momentum best / sgd best final training loss",
            best_of("momentum") / sgd,
            Op::Lt,
            1.0,
        ),
        Check::new(
            "adam best / sgd best final training loss",
            best_of("adam") / sgd,
            Op::Lt,
            1.0,
        ),
    ];
    let curves: Vec<&Measured> = series
        .iter()
        .filter(|s| s.name.ends_with("/best-curve"))
        .collect();
    let plots = vec![plot::lines(
        "loss_curves",
        "Batch loss at each optimiser's best learning rate",
        "step",
        "loss",
        true,
        &curves,
    )];
    let findings = format!(
        "A 784-{width}-{width}-10 ReLU MLP, the same initial weights for every run, trains \
         {epochs} epoch(s) (batch {batch}) on {train_n} standardised MNIST images with each \
         optimiser at each of five learning rates; the final training loss is measured on all \
         {train_n} images, and each optimiser is judged by its best rate.\n\n{table}\n\
         Plain SGD's best ends at {}, momentum's at {} and Adam's at {}: momentum averages \
         the gradient over steps, which damps the zig-zag across steep directions and speeds \
         travel along shallow ones; Adam also scales each parameter's step by its gradient's \
         recent size.\n",
        number(sgd),
        number(best_of("momentum")),
        number(best_of("adam")),
    );
    Ok(Outcome {
        name: "optimisers".into(),
        title: "Momentum and Adam reach a lower training loss than plain SGD with the same learning-rate search.".into(),
        settings: json!({
            "seed": opts.seed, "quick": opts.quick, "width": width, "hidden_layers": 2,
            "train_examples": train_n, "epochs": epochs, "batch": batch,
            "grids": CONTENDERS.iter().map(|c| json!({"optimizer": c.name, "lrs": c.grid})).collect::<Vec<_>>(),
            "momentum": 0.9, "adamw_weight_decay": 0.01,
        }),
        series,
        plots,
        findings,
        checks,
        seconds: 0.0,
    })
}
