//! Each workload's code does what it claims, in a few steps and without timing anything:
//! training losses fall on a repeated batch, outputs are finite, W6's chain has its 100
//! ops in turn, the ceilings measure the right amount of work.

use std::path::PathBuf;
use strata_bench::cnn::CnnTraining;
use strata_bench::latency::{stream_weights, BatchOne, Latencies};
use strata_bench::lstm::LstmTraining;
use strata_bench::mlp::{MlpTraining, StepProducts};
use strata_bench::mnist::MnistBatches;
use strata_bench::overhead::{OpChain, CHAIN_OPS, ELEMS};

fn mnist() -> MnistBatches {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/mnist"));
    MnistBatches::load(&dir).unwrap()
}

/// Losses of `steps` training steps on one batch; the last must be well below the first.
fn assert_falls(losses: &[f64]) {
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[losses.len() - 1] < 0.8 * losses[0], "{losses:?}");
}

#[test]
fn w1_batches_are_mnist_in_unit_range_and_its_loss_falls() {
    let mut data = mnist();
    let (x, y) = data.next(32, true).unwrap();
    assert_eq!((x.shape(), y.shape()), (&[32, 784][..], &[32][..]));
    let pixels = x.to_vec::<f32>().unwrap();
    assert!(pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
    assert!(
        pixels.iter().any(|&p| p > 0.9),
        "MNIST digits have white strokes"
    );
    let labels = y.to_vec::<i64>().unwrap();
    assert!(labels.iter().all(|&l| (0..10).contains(&l)));

    let mut t = MlpTraining::new(data, 32).unwrap();
    let losses: Vec<f64> = (0..6).map(|_| t.train_on(&x, &y).unwrap()).collect();
    assert!((losses[0] - 10f64.ln()).abs() < 0.3, "{losses:?}");
    assert_falls(&losses);
    assert!(t.step().unwrap().is_finite());
}

#[test]
fn w1_ceiling_runs_the_steps_eight_products() {
    let products = StepProducts::new(4).unwrap();
    assert_eq!(products.len(), 8);
    products.run().unwrap();
}

#[test]
fn w2_images_are_nchw_and_its_loss_falls() {
    let mut data = mnist();
    let (x, y) = data.next(8, false).unwrap();
    assert_eq!(x.shape(), &[8, 1, 28, 28]);
    let mut t = CnnTraining::new(data, 8).unwrap();
    let losses: Vec<f64> = (0..8).map(|_| t.train_on(&x, &y).unwrap()).collect();
    assert_falls(&losses);
}

#[test]
fn w3_targets_are_the_next_tokens_and_its_loss_falls() {
    let mut t = LstmTraining::new(2).unwrap();
    let (x, y) = t.batch().unwrap();
    assert_eq!((x.shape(), y.shape()), (&[2, 64][..], &[2, 64][..]));
    let (xs, ys) = (x.to_vec::<i64>().unwrap(), y.to_vec::<i64>().unwrap());
    for row in 0..2 {
        assert_eq!(xs[row * 64 + 1..row * 64 + 64], ys[row * 64..row * 64 + 63]);
    }
    let losses: Vec<f64> = (0..40).map(|_| t.train_on(&x, &y).unwrap()).collect();
    // Random tokens: the untrained model is near ln 96 and learns the one batch by heart.
    assert!((losses[0] - 96f64.ln()).abs() < 0.2, "{losses:?}");
    assert_falls(&losses);
}

#[test]
fn w5_gives_ten_finite_logits_and_its_ceiling_reads_every_weight() {
    let net = BatchOne::new().unwrap();
    let logits = net.call().unwrap();
    assert_eq!(logits.len(), 10);
    assert!(logits.iter().all(|v| v.is_finite()));
    assert_eq!(logits, net.call().unwrap(), "no state between calls");
    let weights = net.weights().unwrap();
    // 784·512 + 512 + 512·256 + 256 + 256·10 + 10 floats: the 2.1 MB the ceiling streams.
    assert_eq!(weights.len(), 535_818);
    assert_eq!(net.time(1, 3).unwrap().0.len(), 3);
    let ceiling = stream_weights(&weights, 1, 4);
    assert_eq!(ceiling.0.len(), 4);
    assert!(ceiling.0.iter().all(|&us| us > 0.0));
}

#[test]
fn latency_percentiles_interpolate_like_numpy() {
    let l = Latencies(vec![5.0, 1.0, 4.0, 2.0, 3.0]);
    assert_eq!(l.percentile(50.0), 3.0);
    assert_eq!(l.percentile(10.0), 1.4);
    assert_eq!(l.percentile(90.0), 4.6);
}

#[test]
fn w6_chain_is_100_recorded_ops_add_mul_tanh_and_backward_reaches_every_leaf() {
    let chain = OpChain::new();
    let y = chain.forward().unwrap();
    assert_eq!(y.shape(), &[ELEMS]);
    let ops: Vec<&str> = y.graph().unwrap().iter().map(|n| n.op).collect();
    assert_eq!(ops.len(), CHAIN_OPS);
    for (i, op) in ops.iter().enumerate() {
        assert_eq!(*op, ["add", "mul", "tanh"][i % 3], "op {i}");
    }
    let grads = y
        .backward_with(&strata_core::Tensor::ones(&[ELEMS]))
        .unwrap();
    assert_eq!(grads.len(), 3, "x, the addend and the factor");
    assert!(y.to_vec::<f32>().unwrap().iter().all(|v| v.is_finite()));
    let (fwd, bwd) = chain.time(2).unwrap();
    assert!(fwd > 0.0 && bwd > 0.0);
}
