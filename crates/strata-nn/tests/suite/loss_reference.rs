//! The fused losses against plain compositions of core ops (written here, independently
//! of the kernels), on random inputs across shapes, options and reductions: values and
//! gradients. Plus gradchecks of every loss and option combination.

use strata_core::{gradcheck, DType, Generator, GradcheckOptions, Tensor};
use strata_nn::{
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss, Reduction,
    SmoothL1Loss,
};
use strata_testutil::assert_close;

type R<T = Tensor> = strata_core::Result<T>;

const REDUCTIONS: [Reduction; 3] = [Reduction::Mean, Reduction::Sum, Reduction::None];

fn close(actual: &Tensor, expected: &Tensor, what: &str) {
    assert_close(actual, expected, 1e-10, 1e-12, what);
}

fn randn(rng: &mut Generator, shape: &[usize]) -> Tensor {
    Tensor::randn_with(rng, shape, DType::F64)
}

/// Uniform in (lo, hi), f64.
fn uniform(rng: &mut Generator, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    Tensor::uniform_with(rng, shape, lo, hi, DType::F64).unwrap()
}

/// Random class indices in 0..classes for `shape`, with about a fifth set to `ignore`
/// (never the first, so the mean is defined).
fn class_targets(rng: &mut Generator, shape: &[usize], classes: usize, ignore: i64) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<i64> = (0..n)
        .map(|i| {
            if i > 0 && rng.below(5) == 0 {
                return ignore;
            }
            loop {
                let y = rng.below(classes as u64) as i64;
                if i > 0 || y != ignore {
                    return y;
                }
            }
        })
        .collect();
    Tensor::from_vec(v, shape).unwrap()
}

/// Reduces per-sample losses the way the reference wants.
fn reduce(per: Tensor, reduction: Reduction, denominator: &Tensor) -> R {
    match reduction {
        Reduction::None => Ok(per),
        Reduction::Sum => per.sum_all(),
        Reduction::Mean => per.sum_all()?.div(denominator),
    }
}

#[derive(Clone, Debug)]
struct ClassOptions {
    weight: Option<Tensor>,
    ignore_index: i64,
    smoothing: f64,
    reduction: Reduction,
}

impl ClassOptions {
    fn cross_entropy(&self) -> CrossEntropyLoss {
        let mut ce = CrossEntropyLoss::new()
            .ignore_index(self.ignore_index)
            .label_smoothing(self.smoothing)
            .reduction(self.reduction);
        if let Some(w) = &self.weight {
            ce = ce.weight(w.clone());
        }
        ce
    }

    fn nll(&self) -> NLLLoss {
        let mut nll = NLLLoss::new()
            .ignore_index(self.ignore_index)
            .reduction(self.reduction);
        if let Some(w) = &self.weight {
            nll = nll.weight(w.clone());
        }
        nll
    }
}

/// Log-softmax over dim 1, plainly (the random inputs here are moderate).
fn log_softmax_dim1(x: &Tensor) -> R {
    x.sub(&x.exp()?.sum(&[1], true)?.log()?)
}

/// Cross-entropy (or NLL when `from_logits` is false) written with core ops in the
/// input's own layout `[N, C, rest...]` (or `[C]`): one-hot targets, class weights shaped
/// `[1, C, 1, ...]`, the weighted-mean denominator.
fn reference_class_loss(x: &Tensor, target: &Tensor, o: &ClassOptions, from_logits: bool) -> R {
    let unbatched = x.ndim() == 1;
    let x = if unbatched {
        x.unsqueeze(0)?
    } else {
        x.clone()
    };
    let shape = x.shape().to_vec();
    let (n, c) = (shape[0], shape[1]);
    let s: usize = shape[2..].iter().product();
    let t = target.to_vec::<i64>()?;
    let mut one_hot = vec![0.0f64; n * c * s];
    let mut kept = vec![0.0f64; n * s];
    for i in 0..n {
        for j in 0..s {
            let y = t[i * s + j];
            if y != o.ignore_index {
                one_hot[i * c * s + y as usize * s + j] = 1.0;
                kept[i * s + j] = 1.0;
            }
        }
    }
    let one_hot = Tensor::from_vec(one_hot, &shape)?.to_dtype(x.dtype());
    let mut kept_shape = shape.clone();
    kept_shape[1] = 1;
    let kept = Tensor::from_vec(kept, &kept_shape)?.to_dtype(x.dtype());
    let mut w_shape = vec![1; shape.len()];
    w_shape[1] = c;
    let w = match &o.weight {
        Some(w) => w.to_dtype(x.dtype()).reshape(&w_shape)?,
        None => Tensor::ones_dtype(&w_shape, x.dtype()),
    };
    let logp = if from_logits {
        log_softmax_dim1(&x)?
    } else {
        x.clone()
    };
    let nll = logp.mul(&one_hot)?.mul(&w)?.sum(&[1], false)?.neg()?;
    let smooth = logp
        .mul(&w)?
        .sum(&[1], true)?
        .mul(&kept)?
        .sum(&[1], false)?
        .neg()?;
    let eps = if from_logits { o.smoothing } else { 0.0 };
    let per = nll
        .mul_scalar(1.0 - eps)?
        .add(&smooth.mul_scalar(eps / c as f64)?)?;
    let per = if unbatched { per.reshape(&[])? } else { per };
    let denominator = one_hot.mul(&w)?.sum_all()?;
    reduce(per, o.reduction, &denominator)
}

/// Random upstream gradient of the loss's shape, so `None` reductions are checked
/// element by element.
fn project(loss: &Tensor, rng: &mut Generator) -> R {
    let r = Tensor::randn_with(rng, loss.shape(), loss.dtype());
    loss.mul(&r)?.sum_all()
}

/// Compares value and input gradient of `fused` and `reference` at `x` (f64).
fn compare(
    what: &str,
    x: &Tensor,
    seed: u64,
    fused: impl Fn(&Tensor) -> strata_nn::Result<Tensor>,
    reference: impl Fn(&Tensor) -> R,
) {
    let xf = x.detach().requires_grad_();
    let xr = x.detach().requires_grad_();
    let lf = fused(&xf).unwrap_or_else(|e| panic!("{what}: {e}"));
    let lr = reference(&xr).unwrap();
    close(&lf, &lr, &format!("{what}: loss"));
    let gf = project(&lf, &mut Generator::new(seed))
        .unwrap()
        .backward()
        .unwrap();
    let gr = project(&lr, &mut Generator::new(seed))
        .unwrap()
        .backward()
        .unwrap();
    close(
        gf.get(&xf).unwrap(),
        gr.get(&xr).unwrap(),
        &format!("{what}: gradient"),
    );
}

const CLASS_SHAPES: [&[usize]; 6] = [&[6, 5], &[1, 3], &[5], &[3, 4, 5], &[2, 3, 2, 3], &[9, 2]];

fn random_class_options(rng: &mut Generator, classes: usize, case: usize) -> ClassOptions {
    let weight = case
        .is_multiple_of(2)
        .then(|| uniform(rng, &[classes], 0.2, 2.0));
    let ignore_index = match case % 3 {
        0 => -100,
        1 => (classes / 2) as i64,
        _ => classes as i64 + 3,
    };
    let smoothing = [0.0, 0.1, 0.35, 1.0][case % 4];
    ClassOptions {
        weight,
        ignore_index,
        smoothing,
        reduction: REDUCTIONS[(case / 4) % 3],
    }
}

#[test]
fn cross_entropy_and_nll_match_the_reference_across_shapes_and_options() {
    let mut rng = Generator::new(11);
    for case in 0..48 {
        let shape = CLASS_SHAPES[case % CLASS_SHAPES.len()];
        let classes = if shape.len() == 1 { shape[0] } else { shape[1] };
        let o = random_class_options(&mut rng, classes, case);
        let mut target_shape = if shape.len() == 1 {
            vec![]
        } else {
            vec![shape[0]]
        };
        target_shape.extend_from_slice(shape.get(2..).unwrap_or(&[]));
        let target = class_targets(&mut rng, &target_shape, classes, o.ignore_index);
        let x = randn(&mut rng, shape).mul_scalar(3.0).unwrap();
        let what = format!("case {case}: {shape:?} {o:?}");
        compare(
            &format!("cross_entropy {what}"),
            &x,
            case as u64,
            |x| o.cross_entropy().forward(x, &target),
            |x| reference_class_loss(x, &target, &o, true),
        );
        let log_probs = log_softmax_dim1(&if shape.len() == 1 {
            x.unsqueeze(0).unwrap()
        } else {
            x.clone()
        })
        .unwrap()
        .reshape(shape)
        .unwrap();
        compare(
            &format!("nll_loss {what}"),
            &log_probs,
            case as u64,
            |x| o.nll().forward(x, &target),
            |x| reference_class_loss(x, &target, &o, false),
        );
    }
}

#[test]
fn cross_entropy_on_a_large_batch_takes_the_parallel_path_and_agrees() {
    // 4096 rows of 96 classes: well above the parallel threshold.
    let mut rng = Generator::new(5);
    let (n, c) = (4096, 96);
    let o = ClassOptions {
        weight: Some(uniform(&mut rng, &[c], 0.5, 1.5)),
        ignore_index: 0,
        smoothing: 0.1,
        reduction: Reduction::Mean,
    };
    let target = class_targets(&mut rng, &[n], c, 0);
    let x = randn(&mut rng, &[n, c]);
    compare(
        "large cross_entropy",
        &x,
        1,
        |x| o.cross_entropy().forward(x, &target),
        |x| reference_class_loss(x, &target, &o, true),
    );
    // f32 agrees with f64.
    let x32 = x.to_dtype(DType::F32).requires_grad_();
    let l32 = o.cross_entropy().forward(&x32, &target).unwrap();
    let l64 = o.cross_entropy().forward(&x, &target).unwrap();
    assert_close(&l32, &l64, 1e-5, 1e-6, "f32 vs f64 loss");
    let g32 = l32.backward().unwrap();
    let x64 = x.detach().requires_grad_();
    let g64 = o
        .cross_entropy()
        .forward(&x64, &target)
        .unwrap()
        .backward()
        .unwrap();
    assert_close(
        g32.get(&x32).unwrap(),
        g64.get(&x64).unwrap(),
        1e-4,
        1e-9,
        "f32 vs f64 gradient",
    );
}

/// Soft-label cross-entropy written plainly: `-Σ_c w[c] t'[c] log_softmax(x)[c]` with
/// `t' = (1 - ε) t + ε / C`, the mean over samples.
fn reference_soft_ce(x: &Tensor, t: &Tensor, w: Option<&Tensor>, eps: f64, red: Reduction) -> R {
    let c = x.shape()[1];
    let mut w_shape = vec![1; x.ndim()];
    w_shape[1] = c;
    let w = match w {
        Some(w) => w.reshape(&w_shape)?,
        None => Tensor::ones_dtype(&w_shape, x.dtype()),
    };
    let smoothed = t.mul_scalar(1.0 - eps)?.add_scalar(eps / c as f64)?;
    let per = log_softmax_dim1(x)?
        .mul(&smoothed)?
        .mul(&w)?
        .sum(&[1], false)?
        .neg()?;
    let samples = Tensor::scalar((x.numel() / c) as f64);
    reduce(per, red, &samples)
}

#[test]
fn cross_entropy_with_probability_targets_matches_the_reference() {
    let mut rng = Generator::new(3);
    for (case, shape) in [&[5usize, 4][..], &[2, 3, 4], &[3, 6]].iter().enumerate() {
        for (k, &red) in REDUCTIONS.iter().enumerate() {
            let c = shape[1];
            let weight = (k != 1).then(|| uniform(&mut rng, &[c], 0.3, 2.0));
            let eps = [0.0, 0.2, 0.05][k];
            let t = uniform(&mut rng, shape, 0.0, 1.0);
            let t = t.div(&t.sum(&[1], true).unwrap()).unwrap().detach();
            let x = randn(&mut rng, shape).requires_grad_();
            let tr = t.detach().requires_grad_();
            let mut ce = CrossEntropyLoss::new().label_smoothing(eps).reduction(red);
            if let Some(w) = &weight {
                ce = ce.weight(w.clone());
            }
            let fused = ce.forward(&x, &tr).unwrap();
            let (x2, t2) = (x.detach().requires_grad_(), t.detach().requires_grad_());
            let reference = reference_soft_ce(&x2, &t2, weight.as_ref(), eps, red).unwrap();
            let what = format!("soft ce {case} {shape:?} {red:?}");
            close(&fused, &reference, &what);
            let gf = project(&fused, &mut Generator::new(9))
                .unwrap()
                .backward()
                .unwrap();
            let gr = project(&reference, &mut Generator::new(9))
                .unwrap()
                .backward()
                .unwrap();
            close(gf.get(&x).unwrap(), gr.get(&x2).unwrap(), &what);
            close(gf.get(&tr).unwrap(), gr.get(&t2).unwrap(), &what);
        }
    }
}

// ------------------------------------------------------------------ elementwise losses

fn ones_like_or(w: Option<&Tensor>, x: &Tensor) -> Tensor {
    w.cloned()
        .unwrap_or_else(|| Tensor::ones_dtype(&[], x.dtype()))
}

/// Compares value and both gradients (input and target) of two losses of (x, t).
fn compare_pair(
    what: &str,
    x: &Tensor,
    t: &Tensor,
    fused: impl Fn(&Tensor, &Tensor) -> strata_nn::Result<Tensor>,
    reference: impl Fn(&Tensor, &Tensor) -> R,
) {
    let (xf, tf) = (x.detach().requires_grad_(), t.detach().requires_grad_());
    let (xr, tr) = (x.detach().requires_grad_(), t.detach().requires_grad_());
    let lf = fused(&xf, &tf).unwrap_or_else(|e| panic!("{what}: {e}"));
    let lr = reference(&xr, &tr).unwrap();
    close(&lf, &lr, &format!("{what}: loss"));
    let gf = project(&lf, &mut Generator::new(4))
        .unwrap()
        .backward()
        .unwrap();
    let gr = project(&lr, &mut Generator::new(4))
        .unwrap()
        .backward()
        .unwrap();
    close(
        gf.get(&xf).unwrap(),
        gr.get(&xr).unwrap(),
        &format!("{what}: d/dinput"),
    );
    close(
        gf.get(&tf).unwrap(),
        gr.get(&tr).unwrap(),
        &format!("{what}: d/dtarget"),
    );
}

fn mean_or_sum(per: Tensor, red: Reduction) -> R {
    match red {
        Reduction::None => Ok(per),
        Reduction::Sum => per.sum_all(),
        Reduction::Mean => per.mean_all(),
    }
}

/// Huber with threshold `delta`, plainly: `where(|d| <= delta, d²/2, delta (|d| - delta/2))`.
fn reference_huber(d: &Tensor, delta: f64) -> R {
    let a = d.abs()?;
    let quadratic = d.square()?.mul_scalar(0.5)?;
    let linear = a.sub_scalar(0.5 * delta)?.mul_scalar(delta)?;
    quadratic.where_(&a.le_scalar(delta)?, &linear)
}

#[test]
fn regression_losses_match_the_reference() {
    let mut rng = Generator::new(21);
    for (case, shape) in [&[4usize, 3][..], &[7], &[2, 3, 5], &[200, 200]]
        .iter()
        .enumerate()
    {
        let x = randn(&mut rng, shape).mul_scalar(2.0).unwrap();
        let t = randn(&mut rng, shape);
        for red in REDUCTIONS {
            let what = |name: &str| format!("{name} {case} {shape:?} {red:?}");
            compare_pair(
                &what("mse"),
                &x,
                &t,
                |x, t| MSELoss::new().reduction(red).forward(x, t),
                |x, t| mean_or_sum(x.sub(t)?.square()?, red),
            );
            compare_pair(
                &what("l1"),
                &x,
                &t,
                |x, t| L1Loss::new().reduction(red).forward(x, t),
                |x, t| mean_or_sum(x.sub(t)?.abs()?, red),
            );
            for delta in [0.3, 1.0, 2.5] {
                compare_pair(
                    &what(&format!("huber {delta}")),
                    &x,
                    &t,
                    |x, t| HuberLoss::new().delta(delta).reduction(red).forward(x, t),
                    |x, t| mean_or_sum(reference_huber(&x.sub(t)?, delta)?, red),
                );
                compare_pair(
                    &what(&format!("smooth_l1 {delta}")),
                    &x,
                    &t,
                    |x, t| SmoothL1Loss::new().beta(delta).reduction(red).forward(x, t),
                    |x, t| mean_or_sum(reference_huber(&x.sub(t)?, delta)?.div_scalar(delta)?, red),
                );
            }
            compare_pair(
                &what("smooth_l1 beta 0 = l1"),
                &x,
                &t,
                |x, t| SmoothL1Loss::new().beta(0.0).reduction(red).forward(x, t),
                |x, t| mean_or_sum(x.sub(t)?.abs()?, red),
            );
        }
    }
}

/// Weights of several broadcast shapes against `shape` (the last is `[C]`).
fn weight_shapes(shape: &[usize]) -> Vec<Vec<usize>> {
    let last = *shape.last().unwrap();
    let mut first_only = vec![1; shape.len()];
    first_only[0] = shape[0];
    vec![
        vec![last],
        vec![],
        shape.to_vec(),
        first_only,
        vec![1, last],
    ]
}

#[test]
fn binary_losses_match_the_reference() {
    let mut rng = Generator::new(8);
    for (case, shape) in [&[4usize, 3][..], &[2, 3, 5], &[300, 120]]
        .iter()
        .enumerate()
    {
        for (k, w_shape) in weight_shapes(shape).into_iter().enumerate() {
            let red = REDUCTIONS[k % 3];
            let what = format!("{case} {shape:?} weight {w_shape:?} {red:?}");
            let w = uniform(&mut rng, &w_shape, 0.2, 2.0);
            let p = uniform(&mut rng, shape, 0.02, 0.98);
            let t = uniform(&mut rng, shape, 0.0, 1.0);
            // BCE: -w [t ln p + (1 - t) ln(1 - p)]
            compare_pair(
                &format!("bce {what}"),
                &p,
                &t,
                |p, t| {
                    BCELoss::new()
                        .weight(w.clone())
                        .reduction(red)
                        .forward(p, t)
                },
                |p, t| {
                    let one_minus = |v: &Tensor| v.neg()?.add_scalar(1.0);
                    let pos = t.mul(&p.log()?)?;
                    let neg = one_minus(t)?.mul(&one_minus(p)?.log()?)?;
                    mean_or_sum(pos.add(&neg)?.neg()?.mul(&w)?, red)
                },
            );
            // With logits and pos_weight: -w [pw t ln σ(x) + (1 - t) ln(1 - σ(x))]
            let x = randn(&mut rng, shape).mul_scalar(3.0).unwrap();
            let pos_weight = uniform(&mut rng, &[*shape.last().unwrap()], 0.5, 3.0);
            for with_pos in [false, true] {
                compare_pair(
                    &format!("bce_with_logits pos={with_pos} {what}"),
                    &x,
                    &t,
                    |x, t| {
                        let mut l = BCEWithLogitsLoss::new().weight(w.clone()).reduction(red);
                        if with_pos {
                            l = l.pos_weight(pos_weight.clone());
                        }
                        l.forward(x, t)
                    },
                    |x, t| {
                        let s = x.sigmoid()?;
                        let pw = if with_pos {
                            pos_weight.clone()
                        } else {
                            ones_like_or(None, x)
                        };
                        let pos = pw.mul(t)?.mul(&s.log()?)?;
                        let neg = t
                            .neg()?
                            .add_scalar(1.0)?
                            .mul(&s.neg()?.add_scalar(1.0)?.log()?)?;
                        mean_or_sum(pos.add(&neg)?.neg()?.mul(&w)?, red)
                    },
                );
            }
        }
    }
}

// ------------------------------------------------------------------ gradchecks

fn check_grad(what: &str, inputs: &[Tensor], f: impl Fn(&[Tensor]) -> strata_nn::Result<Tensor>) {
    gradcheck(
        |t| f(t).map_err(|e| strata_core::Error::Backward(e.to_string())),
        inputs,
        GradcheckOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{what}: {e}"));
}

#[test]
fn gradcheck_cross_entropy_with_every_option_together() {
    let mut rng = Generator::new(2);
    for shape in [&[6usize, 5][..], &[3, 4, 5], &[2, 3, 2, 2], &[4]] {
        let classes = if shape.len() == 1 { shape[0] } else { shape[1] };
        let mut target_shape = if shape.len() == 1 {
            vec![]
        } else {
            vec![shape[0]]
        };
        target_shape.extend_from_slice(shape.get(2..).unwrap_or(&[]));
        let target = class_targets(&mut rng, &target_shape, classes, 1);
        let weight = uniform(&mut rng, &[classes], 0.3, 2.0);
        for red in REDUCTIONS {
            let ce = CrossEntropyLoss::new()
                .weight(weight.clone())
                .label_smoothing(0.2)
                .ignore_index(1)
                .reduction(red);
            check_grad(
                &format!("cross_entropy {shape:?} {red:?}"),
                &[randn(&mut rng, shape)],
                |t| ce.forward(&t[0], &target),
            );
            let nll = NLLLoss::new()
                .weight(weight.clone())
                .ignore_index(1)
                .reduction(red);
            check_grad(
                &format!("nll {shape:?} {red:?}"),
                &[randn(&mut rng, shape)],
                |t| nll.forward(&t[0], &target),
            );
        }
    }
}

#[test]
fn gradcheck_cross_entropy_on_strided_views_and_probability_targets() {
    let mut rng = Generator::new(4);
    let target = Tensor::from_vec(vec![0i64, 3, 2, 1], &[4]).unwrap();
    // Logits given as the transpose of a [5, 4] tensor.
    check_grad(
        "ce on a transposed view",
        &[randn(&mut rng, &[5, 4])],
        |t| {
            CrossEntropyLoss::new()
                .label_smoothing(0.1)
                .forward(&t[0].transpose(0, 1)?, &target)
        },
    );
    // Spatial logits as a permuted view of [N, d, C].
    let spatial_target = Tensor::from_vec(vec![0i64, 2, 1, 1, 0, 2], &[2, 3]).unwrap();
    check_grad(
        "ce on a permuted spatial view",
        &[randn(&mut rng, &[2, 3, 3])],
        |t| CrossEntropyLoss::new().forward(&t[0].permute(&[0, 2, 1])?, &spatial_target),
    );
    // Probability targets: gradients for logits and targets.
    for shape in [&[4usize, 3][..], &[2, 3, 4]] {
        for red in REDUCTIONS {
            let probs = uniform(&mut rng, shape, 0.0, 1.0);
            check_grad(
                &format!("soft ce {shape:?} {red:?}"),
                &[randn(&mut rng, shape), probs],
                |t| {
                    CrossEntropyLoss::new()
                        .weight(Tensor::from_vec(vec![0.5f64, 1.0, 2.0], &[3])?)
                        .label_smoothing(0.3)
                        .reduction(red)
                        .forward(&t[0], &t[1])
                },
            );
        }
    }
}

#[test]
fn gradcheck_elementwise_losses() {
    let mut rng = Generator::new(6);
    let shape = [3, 4];
    for red in REDUCTIONS {
        let x = || {
            randn(&mut Generator::new(1), &shape)
                .mul_scalar(2.0)
                .unwrap()
        };
        let t = randn(&mut rng, &shape);
        let pair = [x(), t.clone()];
        check_grad("mse", &pair, |t| {
            MSELoss::new().reduction(red).forward(&t[0], &t[1])
        });
        check_grad("l1", &pair, |t| {
            L1Loss::new().reduction(red).forward(&t[0], &t[1])
        });
        check_grad("huber", &pair, |t| {
            HuberLoss::new()
                .delta(0.7)
                .reduction(red)
                .forward(&t[0], &t[1])
        });
        check_grad("smooth_l1", &pair, |t| {
            SmoothL1Loss::new()
                .beta(0.7)
                .reduction(red)
                .forward(&t[0], &t[1])
        });
        // Regression on a broadcast (expanded) view of the target.
        check_grad(
            "mse on an expanded target",
            &[x(), randn(&mut rng, &[4])],
            |t| {
                MSELoss::new()
                    .reduction(red)
                    .forward(&t[0], &t[1].expand(&shape)?)
            },
        );
        let w = uniform(&mut rng, &[4], 0.5, 2.0);
        let probs = [
            uniform(&mut rng, &shape, 0.1, 0.9),
            uniform(&mut rng, &shape, 0.0, 1.0),
        ];
        check_grad("bce", &probs, |t| {
            BCELoss::new()
                .weight(w.clone())
                .reduction(red)
                .forward(&t[0], &t[1])
        });
        let pos_weight = uniform(&mut rng, &[4], 0.5, 3.0);
        check_grad("bce_with_logits", &[x(), probs[1].clone()], |t| {
            BCEWithLogitsLoss::new()
                .weight(w.clone())
                .pos_weight(pos_weight.clone())
                .reduction(red)
                .forward(&t[0], &t[1])
        });
    }
}
