//! `schedules`: constant, step, exponential, cosine, one-cycle, warm-up then cosine, and
//! ReduceLROnPlateau, all starting from (or peaking at) the same rate, stepped per batch:
//! the learning-rate curve and the loss curve of each, and where each ends.

use crate::data::mnist;
use crate::mlp::{Act, Mlp, MlpSpec};
use crate::train::evaluate;
use crate::write::number;
use crate::{plot, Check, Measured, Op, Options, Outcome, Result};
use serde_json::json;
use std::fmt::Write;
use strata_core::Generator;
use strata_nn::schedule::{
    CosineAnnealingLR, ExponentialLR, LinearLR, LrScheduler, OneCycleLR, PlateauOptions,
    ReduceLROnPlateau, Scheduler, SequentialLR, StepLR,
};
use strata_nn::{cross_entropy, Forward, ModuleExt, Optimizer, SGD};

const LR: f64 = 0.1;
const MOMENTUM: f64 = 0.9;
const NAMES: [&str; 7] = [
    "constant",
    "step",
    "exponential",
    "cosine",
    "one-cycle",
    "warmup-cosine",
    "plateau",
];
/// The plateau scheduler watches the mean batch loss of windows of this many steps.
const PLATEAU_WINDOW: usize = 10;

/// The scheduler called `name` for a run of `steps` steps, or `None` for the constant rate.
fn scheduler(
    name: &str,
    opt: &mut dyn Optimizer,
    steps: usize,
) -> Result<Option<Box<dyn LrScheduler>>> {
    let s: Box<dyn LrScheduler> = match name {
        "constant" => return Ok(None),
        "step" => Box::new(Scheduler::new(opt, StepLR::new(steps / 3, 0.1))?),
        // To 1 % of the start by the end.
        "exponential" => Box::new(Scheduler::new(
            opt,
            ExponentialLR::new(0.01f64.powf(1.0 / steps as f64)),
        )?),
        "cosine" => Box::new(Scheduler::new(opt, CosineAnnealingLR::new(steps, 0.0))?),
        "one-cycle" => Box::new(Scheduler::new(opt, OneCycleLR::new(LR, steps))?),
        "warmup-cosine" => {
            let warm = steps / 10;
            Box::new(Scheduler::new(
                opt,
                SequentialLR::new(
                    vec![
                        Box::new(LinearLR::new(0.1, 1.0, warm)),
                        Box::new(CosineAnnealingLR::new(steps - warm, 0.0)),
                    ],
                    vec![warm],
                ),
            )?)
        }
        _ => Box::new(ReduceLROnPlateau::new(
            opt,
            PlateauOptions::default().factor(0.5).patience(2),
        )?),
    };
    Ok(Some(s))
}

pub fn run(opts: &Options) -> Result<Outcome> {
    let width = 128;
    let (train_n, epochs, batch) = opts.pick((1_024, 2, 32), (10_000, 4, 128));
    let (train, _) = mnist(&opts.mnist_dir, train_n, 0)?;
    let steps = epochs * train_n.div_ceil(batch);
    let mut series = Vec::new();
    let mut finals = Vec::new();
    let mut table =
        String::from("| schedule | final learning rate | final training loss |\n|---|---|---|\n");
    for name in NAMES {
        strata_core::manual_seed(opts.seed);
        let net = Mlp::new(&MlpSpec::uniform(784, width, 2, 10, Act::Relu))?;
        let mut opt: Box<dyn Optimizer> =
            SGD::new(net.parameters(), LR)?.momentum(MOMENTUM)?.into();
        let mut sched = scheduler(name, &mut opt, steps)?;
        let mut rng = Generator::new(opts.seed);
        let (mut lrs, mut losses) = (Vec::new(), Vec::new());
        let mut window = 0.0;
        for _ in 0..epochs {
            for rows in crate::data::batches(train_n, batch, &mut rng) {
                let b = train.rows(&rows)?;
                let loss = cross_entropy(&net.forward(&b.x)?, &b.y)?;
                let grads = loss.backward()?;
                let step = losses.len();
                lrs.push((step as f64, opt.lr()));
                opt.step(&grads)?;
                let value = loss.item()?;
                losses.push((step as f64, value));
                window += value;
                if let Some(s) = sched.as_mut() {
                    if name == "plateau" {
                        if (step + 1) % PLATEAU_WINDOW == 0 {
                            s.step_with_metric(window / PLATEAU_WINDOW as f64);
                        }
                    } else {
                        s.step();
                    }
                    s.apply(&mut opt)?;
                }
                if (step + 1) % PLATEAU_WINDOW == 0 {
                    window = 0.0;
                }
            }
        }
        let (final_loss, _) = evaluate(&net, &train)?;
        let _ = writeln!(
            table,
            "| {name} | {} | {} |",
            number(opt.lr()),
            number(final_loss)
        );
        series.push(Measured::new(
            format!("{name}/lr"),
            "step",
            "learning rate",
            lrs,
        ));
        series.push(Measured::new(
            format!("{name}/loss"),
            "step",
            "batch loss",
            moving_average(&losses, PLATEAU_WINDOW),
        ));
        finals.push((name, final_loss));
    }
    let final_of = |n: &str| finals.iter().find(|f| f.0 == n).map_or(f64::NAN, |f| f.1);
    let constant = final_of("constant");
    let checks = ["step", "exponential", "cosine"]
        .iter()
        .map(|n| {
            Check::new(
                format!("{n} / constant final training loss"),
                final_of(n) / constant,
                Op::Lt,
                1.0,
            )
        })
        .collect();
    series.push(Measured::new(
        "final-train-loss",
        "schedule",
        "loss",
        finals
            .iter()
            .enumerate()
            .map(|(i, f)| (i as f64, f.1))
            .collect(),
    ));
    let pick = |what: &str| -> Vec<&Measured> {
        NAMES
            .iter()
            .filter_map(|n| series.iter().find(|s| s.name == format!("{n}/{what}")))
            .collect()
    };
    let plots = vec![
        plot::lines(
            "learning_rates",
            "Learning rate per step",
            "step",
            "learning rate",
            false,
            &pick("lr"),
        ),
        plot::lines(
            "loss_curves",
            &format!("Batch loss (moving average of {PLATEAU_WINDOW})"),
            "step",
            "loss",
            true,
            &pick("loss"),
        ),
    ];
    let findings = format!(
        "A 784-{width}-{width}-10 ReLU MLP, the same initial weights and batch order for every \
         schedule, trains {epochs} epochs ({steps} steps, batch {batch}) of SGD with momentum \
         {MOMENTUM} from lr {LR} on {train_n} standardised MNIST images; every schedule is \
         stepped per batch (ReduceLROnPlateau every {PLATEAU_WINDOW} steps on the mean batch \
         loss, factor 0.5, patience 2). Step divides the rate by 10 every third of the run, \
         exponential reaches 1 % of it at the end, one-cycle peaks at {LR}, warm-up is the \
         first 10 % of the steps. The final training loss is measured on all {train_n} \
         images.\n\n{table}\n\
         The constant rate ends at {}; cosine at {}. At a fixed rate the last steps still \
         bounce around the minimum by an amount set by the rate and the gradient noise; \
         lowering the rate at the end lets the weights settle into it. {}\n",
        number(constant),
        number(final_of("cosine")),
        if final_of("step").min(final_of("exponential")) >= constant {
            "Step and exponential decay end higher than the constant rate here: they spend \
             much of the run at a tenth of the rate or less, and within this budget the \
             progress they give up costs more than the settling gains."
        } else {
            ""
        },
    );
    Ok(Outcome {
        name: "schedules".into(),
        title: "A decaying learning rate ends at a lower training loss than the constant rate it starts from.".into(),
        settings: json!({
            "seed": opts.seed, "quick": opts.quick, "width": width, "hidden_layers": 2,
            "train_examples": train_n, "epochs": epochs, "steps": steps, "batch": batch,
            "optimizer": "sgd", "lr": LR, "momentum": MOMENTUM, "schedules": NAMES,
            "plateau_window_steps": PLATEAU_WINDOW,
        }),
        series,
        plots,
        findings,
        checks,
        seconds: 0.0,
    })
}

fn moving_average(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    points
        .iter()
        .enumerate()
        .map(|(i, &(x, _))| {
            let slice = &points[(i + 1).saturating_sub(window)..=i];
            (
                x,
                slice.iter().map(|p| p.1).sum::<f64>() / slice.len() as f64,
            )
        })
        .collect()
}
