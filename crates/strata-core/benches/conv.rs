//! The convolutional part of benchmark W2 (see the project's BENCHMARKS.md): on MNIST-sized
//! input at batch 64, conv(1→32, 3x3, pad 1)-ReLU-maxpool 2 → conv(32→64, 3x3, pad 1)-ReLU-
//! maxpool 2, forward and backward, plus its pieces.
//!
//! Run with `cargo bench -p strata-core --bench conv` (`STRATA_NUM_THREADS` sets threads).

use criterion::{criterion_group, criterion_main, Criterion};
use strata_core::{Conv2dParams, DType, Generator, MaxPool2dParams, Result, Tensor};

struct Net {
    x: Tensor,
    w1: Tensor,
    b1: Tensor,
    w2: Tensor,
    b2: Tensor,
}

impl Net {
    fn new(batch: usize) -> Net {
        let mut g = Generator::new(0);
        let mut param = |shape: &[usize], scale: f64| {
            Tensor::randn_with(&mut g, shape, DType::F32)
                .mul_scalar(scale)
                .unwrap()
                .requires_grad_()
        };
        Net {
            w1: param(&[32, 1, 3, 3], 1.0 / 3.0),
            b1: param(&[32], 0.1),
            w2: param(&[64, 32, 3, 3], 1.0 / 17.0),
            b2: param(&[64], 0.1),
            x: Tensor::rand_with(&mut g, &[batch, 1, 28, 28], DType::F32),
        }
    }

    fn forward(&self) -> Result<Tensor> {
        let pad = Conv2dParams {
            padding: (1, 1),
            ..Default::default()
        };
        let pool = MaxPool2dParams::new(2);
        let h = self
            .x
            .conv2d(&self.w1, Some(&self.b1), pad)?
            .relu()?
            .max_pool2d(pool)?;
        h.conv2d(&self.w2, Some(&self.b2), pad)?
            .relu()?
            .max_pool2d(pool)
    }
}

fn w2_conv_stack(c: &mut Criterion) {
    let net = Net::new(64);
    c.bench_function("w2_convs_forward_backward_b64", |b| {
        b.iter(|| {
            net.forward()
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    c.bench_function("w2_convs_forward_b64", |b| {
        b.iter(|| strata_core::no_grad(|| net.forward()).unwrap())
    });

    // The second convolution alone: its forward, and its backward (input and weight).
    let pad = Conv2dParams {
        padding: (1, 1),
        ..Default::default()
    };
    let h =
        Tensor::rand_with(&mut Generator::new(1), &[64, 32, 14, 14], DType::F32).requires_grad_();
    let gy = Tensor::randn_with(&mut Generator::new(2), &[64, 64, 14, 14], DType::F32);
    c.bench_function("conv2_forward_b64", |b| {
        b.iter(|| strata_core::no_grad(|| h.conv2d(&net.w2, Some(&net.b2), pad)).unwrap())
    });
    c.bench_function("conv2_forward_backward_b64", |b| {
        b.iter(|| {
            let y = h.conv2d(&net.w2, Some(&net.b2), pad).unwrap();
            y.backward_with(&gy).unwrap()
        })
    });
    let y1 =
        Tensor::randn_with(&mut Generator::new(3), &[64, 32, 28, 28], DType::F32).requires_grad_();
    let g1 = Tensor::randn_with(&mut Generator::new(4), &[64, 32, 14, 14], DType::F32);
    c.bench_function("maxpool1_forward_backward_b64", |b| {
        b.iter(|| {
            let p = y1.max_pool2d(MaxPool2dParams::new(2)).unwrap();
            p.backward_with(&g1).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = w2_conv_stack
}
criterion_main!(benches);
