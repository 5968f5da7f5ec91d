//! Core kernel benchmarks: matrix products (W4), large elementwise ops and reductions.
//!
//! Run: `cargo bench -p strata-core --bench core` (threads from `STRATA_NUM_THREADS`).
//! Throughput is reported by criterion: elements or bytes per second; GFLOP/s for matmul is
//! `2 n^3 / time`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use strata_core::{DType, Generator, Tensor};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn_with(&mut Generator::new(seed), shape, DType::F32)
}

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_f32");
    for &n in &[64usize, 256, 1024] {
        let (a, b) = (randn(&[n, n], 1), randn(&[n, n], 2));
        // FLOPs as "elements" so criterion prints Gelem/s = GFLOP/s.
        group.throughput(Throughput::Elements(2 * (n as u64).pow(3)));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| black_box(a.matmul(&b).unwrap()))
        });
    }
    // Batch-1 inference shapes (W5): a row vector through 784-512-256-10 weights.
    let x = randn(&[1, 784], 3);
    let w = [
        randn(&[784, 512], 4),
        randn(&[512, 256], 5),
        randn(&[256, 10], 6),
    ];
    group.throughput(Throughput::Elements(2 * (784 * 512 + 512 * 256 + 256 * 10)));
    group.bench_function("mlp_batch1_chain", |bench| {
        bench.iter(|| {
            let h = x.matmul(&w[0]).unwrap();
            let h = h.matmul(&w[1]).unwrap();
            black_box(h.matmul(&w[2]).unwrap())
        })
    });
    group.finish();
}

/// 2^24 f32 = 64 MiB per operand: far larger than the caches, so memory bandwidth bounds it.
const BIG: usize = 1 << 24;

fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise_f32_64MiB");
    group.sample_size(20);
    let (a, b) = (randn(&[BIG], 7), randn(&[BIG], 8));
    let bytes = |operands: u64| Throughput::Bytes(operands * 4 * BIG as u64);
    group.throughput(bytes(3)); // read a, read b, write out
    group.bench_function("add", |bench| bench.iter(|| black_box(a.add(&b).unwrap())));
    group.bench_function("mul", |bench| bench.iter(|| black_box(a.mul(&b).unwrap())));
    group.throughput(bytes(2));
    group.bench_function("relu", |bench| bench.iter(|| black_box(a.relu().unwrap())));
    group.bench_function("exp", |bench| bench.iter(|| black_box(a.exp().unwrap())));
    group.bench_function("mul_scalar", |bench| {
        bench.iter(|| black_box(a.mul_scalar(2.0).unwrap()))
    });
    let rows = a.reshape(&[BIG / 1024, 1024]).unwrap();
    let bias = randn(&[1024], 9);
    group.bench_function("add_row_broadcast", |bench| {
        bench.iter(|| black_box(rows.add(&bias).unwrap()))
    });
    let t = rows.t().unwrap();
    group.bench_function("contiguous_of_transpose", |bench| {
        bench.iter(|| black_box(t.contiguous()))
    });
    group.finish();
}

fn reductions(c: &mut Criterion) {
    let mut group = c.benchmark_group("reduce_f32_64MiB");
    group.sample_size(20);
    let a = randn(&[BIG], 10);
    group.throughput(Throughput::Bytes(4 * BIG as u64));
    group.bench_function("sum_all", |bench| {
        bench.iter(|| black_box(a.sum_all().unwrap()))
    });
    let m = a.reshape(&[BIG / 1024, 1024]).unwrap();
    group.bench_function("sum_rows", |bench| {
        bench.iter(|| black_box(m.sum(&[1], false).unwrap()))
    });
    group.bench_function("sum_columns", |bench| {
        bench.iter(|| black_box(m.sum(&[0], false).unwrap()))
    });
    group.finish();
}

/// The machine's ceiling for f32 products: fused multiply-adds on registers only (no memory
/// traffic), on as many threads as the products use. A matrix product cannot go faster; its
/// GFLOP/s over this figure is its efficiency.
fn fma_peak(c: &mut Criterion) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        let threads = strata_core::num_threads();
        // Twelve independent chains hide the FMA latency on both FMA ports. About 35 ms
        // per thread and call: at 3 ms, starting the threads in every call read 3–5 % below
        // the same loop run 25 times longer.
        const STEPS: u64 = 20_000_000;
        let mut group = c.benchmark_group("machine");
        group.throughput(Throughput::Elements(threads as u64 * STEPS * 12 * 16 * 2));
        group.bench_function("fma_f32_peak_all_threads", |bench| {
            bench.iter(|| {
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        // SAFETY: AVX-512F was detected above.
                        s.spawn(|| black_box(unsafe { fma_chains(STEPS) }));
                    }
                })
            })
        });
        group.finish();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains(steps: u64) -> f32 {
    use std::arch::x86_64::*;
    let (b, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_setzero_ps(); 12];
    for _ in 0..steps {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, b, c);
        }
    }
    acc.iter().map(|&x| _mm512_reduce_add_ps(x)).sum()
}

criterion_group!(benches, matmul, elementwise, reductions, fma_peak);
criterion_main!(benches);
