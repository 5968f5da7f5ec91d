//! `transfer`: a CNN pretrained on MNIST digits 0–4 learns digits 5–9 from 10, 50 and
//! 200 labelled examples per class, three ways: its feature extractor frozen (only a new
//! head trains), fully fine-tuned, or the same network trained from scratch (Yosinski et
//! al. 2014).

use crate::data::{mnist, Set};
use crate::train::accuracy;
use crate::{plot, Check, Measured, Op, Options, Outcome, Result};
use serde_json::json;
use std::fmt::Write;
use strata_core::{no_grad, Generator, Tensor};
use strata_nn::{
    cross_entropy, Adam, Conv2d, Flatten, Forward, Linear, MaxPool2d, ModuleExt, Optimizer, ReLU,
    Sequential,
};

const LR: f64 = 1e-3;
const BATCH: usize = 32;
const VARIANTS: [&str; 3] = ["frozen", "fine-tune", "scratch"];

/// Two convolution blocks (the part that transfers) and a linear head over 5 classes.
#[derive(strata_nn::Module)]
struct Cnn {
    features: Sequential,
    head: Linear,
}

impl Cnn {
    fn new() -> Result<Cnn> {
        let features = Sequential::new()
            .push(Conv2d::new(1, 16, 5)?)
            .push(ReLU::new())
            .push(MaxPool2d::new(2)?)
            .push(Conv2d::new(16, 32, 5)?)
            .push(ReLU::new())
            .push(MaxPool2d::new(2)?)
            .push(Flatten::new());
        Ok(Cnn {
            features,
            head: Linear::new(32 * 4 * 4, 5)?,
        })
    }
}

impl Forward for Cnn {
    fn forward(&self, x: &Tensor) -> strata_nn::Result<Tensor> {
        let images = x.reshape(&[x.shape()[0], 1, 28, 28])?;
        self.head.forward(&self.features.forward(&images)?)
    }
}

/// The examples of `set` whose digit is in `first..first + 5`, relabelled `0..5`; at most
/// `per_class` of each digit (in data order).
fn digits(set: &Set, first: i64, per_class: usize) -> Result<Set> {
    let labels = set.y.to_vec::<i64>()?;
    let mut counts = [0usize; 5];
    let mut rows = Vec::new();
    for (i, &l) in labels.iter().enumerate() {
        let c = l - first;
        if (0..5).contains(&c) && counts[c as usize] < per_class {
            counts[c as usize] += 1;
            rows.push(i);
        }
    }
    let picked = set.rows(&rows)?;
    let y: Vec<i64> = picked
        .y
        .to_vec::<i64>()?
        .iter()
        .map(|l| l - first)
        .collect();
    Ok(Set {
        x: picked.x,
        y: Tensor::from_vec(y, &[rows.len()])?,
    })
}

/// `steps` Adam steps on batches drawn with replacement from `set`.
fn fit(net: &Cnn, set: &Set, steps: usize, rng: &mut Generator) -> Result<()> {
    let mut opt: Box<dyn Optimizer> = Adam::new(net.parameters(), LR)?.into();
    for _ in 0..steps {
        let rows: Vec<usize> = (0..BATCH.min(set.len()))
            .map(|_| rng.below(set.len() as u64) as usize)
            .collect();
        let b = set.rows(&rows)?;
        opt.step(&cross_entropy(&net.forward(&b.x)?, &b.y)?.backward()?)?;
    }
    Ok(())
}

fn test_accuracy(net: &Cnn, test: &Set) -> Result<f64> {
    net.eval();
    let mut right = 0.0;
    for start in (0..test.len()).step_by(1_000) {
        let b = test.rows(&(start..(start + 1_000).min(test.len())).collect::<Vec<_>>())?;
        right += no_grad(|| accuracy(&net.forward(&b.x)?, &b.y))? * b.len() as f64;
    }
    net.train();
    Ok(right / test.len() as f64)
}

pub fn run(opts: &Options) -> Result<Outcome> {
    let sizes: Vec<usize> = opts.pick(vec![10], vec![10, 50, 200]);
    let (n_train, n_test, pre_steps, steps) =
        opts.pick((3_000, 500, 60, 40), (60_000, 10_000, 1_000, 300));
    let (train, test) = mnist(&opts.mnist_dir, n_train, n_test)?;
    let mut rng = Generator::new(opts.seed);

    strata_core::manual_seed(opts.seed);
    let pretrained = Cnn::new()?;
    let low = digits(&train, 0, usize::MAX)?;
    fit(&pretrained, &low, pre_steps, &mut rng)?;
    let pre_acc = test_accuracy(&pretrained, &digits(&test, 0, usize::MAX)?)?;
    let high_test = digits(&test, 5, usize::MAX)?;

    let mut series: Vec<Measured> = VARIANTS
        .iter()
        .map(|v| {
            Measured::new(
                format!("{v}/test-accuracy"),
                "examples per class",
                "test accuracy",
                Vec::new(),
            )
        })
        .collect();
    let mut table =
        String::from("| examples per class | frozen | fine-tune | scratch |\n|---|---|---|---|\n");
    for &n in &sizes {
        let few = digits(&train, 5, n)?;
        let mut row = format!("| {n} |");
        for (i, variant) in VARIANTS.iter().enumerate() {
            // The same head initialisation and batches for every variant.
            strata_core::manual_seed(opts.seed.wrapping_add(n as u64));
            let net = Cnn::new()?;
            if *variant != "scratch" {
                for (mine, theirs) in net
                    .features
                    .parameters()
                    .iter()
                    .zip(pretrained.features.parameters())
                {
                    mine.assign(&theirs.tensor().copy())?;
                }
            }
            if *variant == "frozen" {
                net.features.freeze();
            }
            fit(
                &net,
                &few,
                steps,
                &mut Generator::new(opts.seed.wrapping_add(n as u64)),
            )?;
            let acc = test_accuracy(&net, &high_test)?;
            let _ = write!(row, " {:.1} % |", acc * 100.0);
            series[i].points.push((n as f64, acc));
        }
        table.push_str(&row);
        table.push('\n');
    }
    let acc = |v: usize, n: f64| series[v].at(n).unwrap_or(f64::NAN);
    let mut checks = Vec::new();
    for n in [10.0, 50.0]
        .into_iter()
        .filter(|&n| sizes.contains(&(n as usize)))
    {
        for (v, name) in [(0, "frozen"), (1, "fine-tune")] {
            checks.push(Check::new(
                format!("{n} per class: {name} minus scratch test accuracy (points)"),
                (acc(v, n) - acc(2, n)) * 100.0,
                Op::Ge,
                5.0,
            ));
        }
    }
    let plots = vec![plot::lines(
        "accuracy_by_examples",
        "Test accuracy on digits 5–9",
        "labelled examples per class",
        "accuracy",
        false,
        &series.iter().collect::<Vec<_>>(),
    )];
    let findings = format!(
        "A CNN (two 5×5 convolution blocks of 16 and 32 channels with max pooling, a linear \
         head) is pretrained for {pre_steps} Adam steps (lr {LR}, batch {BATCH}) on the digits \
         0–4 among the first {n_train} MNIST training images, reaching {:.1} % on the test \
         set's 0–4. Then, for each number of labelled examples per class of digits 5–9 (the \
         first ones in the training data), a fresh head trains for {steps} steps on top of the \
         pretrained convolutions kept frozen, or with them fine-tuned, or on the same \
         architecture from random weights; the accuracy is measured on the {} test images of \
         digits 5–9.\n\n{table}\n\
         Features learned on other digits (strokes, curves, their positions) describe new \
         digits too, so with few labels the transferred nets start from a representation \
         the scratch net must learn from a handful of images.\n",
        pre_acc * 100.0,
        high_test.len(),
    );
    Ok(Outcome {
        name: "transfer".into(),
        title: "With 10 or 50 labels per class, pretrained features beat training from scratch by at least 5 points.".into(),
        settings: json!({
            "seed": opts.seed, "quick": opts.quick, "examples_per_class": sizes, "pretrain_pool": n_train,
            "pretrain_steps": pre_steps, "steps": steps, "batch": BATCH, "optimizer": "adam", "lr": LR,
            "pretrain_test_accuracy": pre_acc, "test_examples": high_test.len(),
        }),
        series,
        plots,
        findings,
        checks,
        seconds: 0.0,
    })
}
