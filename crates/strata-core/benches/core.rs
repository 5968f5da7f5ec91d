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

/// Two ceilings for f32 products, on as many threads as the products use: fused multiply-adds
/// on registers only (no memory traffic), and the bare inner loop of a product (a register
/// tile fed from L1 and L2, nothing around it). A matrix product cannot beat the first and
/// can only approach the second; its GFLOP/s over them is its efficiency.
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
        // The same threads running only the inner loop of a matrix product: a 14×32 tile of
        // C in registers, A packed in L1, B streamed from L2 (16 panels of 256 steps, 512 KiB
        // per thread, as in a 1024³ product on two threads). No packing, no C loaded, no
        // threads waiting on each other: what a product could reach if everything around
        // its loop were free. 2,000 passes: about 35 ms per thread and call.
        const PASSES: usize = 2_000;
        let tile_flops = (LOOP_ROWS * 32 * LOOP_K * 2 * LOOP_PANELS * PASSES) as u64;
        // Each thread its own panels, as each band of a product packs its own (two threads
        // reading one copy ran 0–7 % slower in alternating runs).
        let panels: Vec<_> = (0..threads as u64)
            .map(|t| {
                (
                    aligned(LOOP_K * LOOP_ROWS, 3 + 2 * t),
                    aligned(LOOP_PANELS * LOOP_K * 32, 4 + 2 * t),
                )
            })
            .collect();
        group.throughput(Throughput::Elements(threads as u64 * tile_flops));
        group.bench_function("gemm_loop_ceiling_all_threads", |bench| {
            bench.iter(|| {
                std::thread::scope(|s| {
                    for (a, b) in &panels {
                        let (a, b) = (&a.0[a.1..], &b.0[b.1..]);
                        // SAFETY: AVX-512F was detected above.
                        s.spawn(move || black_box(unsafe { tile_loops(PASSES, a, b) }));
                    }
                })
            })
        });
        group.finish();
    }
}

#[cfg(target_arch = "x86_64")]
/// `len` random floats starting on a 64-byte line (at the returned offset into the vector),
/// as the product's packed panels do: vectors that straddle two lines load at half speed.
fn aligned(len: usize, seed: u64) -> (Vec<f32>, usize) {
    let v = randn(&[len + 16], seed).to_vec::<f32>().unwrap_or_default();
    let offset = v.as_ptr().align_offset(64).min(16);
    (v, offset)
}

// Rows, depth and `B` panels of the tile loop in `tile_loops`.
#[cfg(target_arch = "x86_64")]
const LOOP_ROWS: usize = 14;
#[cfg(target_arch = "x86_64")]
const LOOP_K: usize = 256;
#[cfg(target_arch = "x86_64")]
const LOOP_PANELS: usize = 16;

/// `passes` sweeps of one packed `A` panel over `LOOP_PANELS` packed `B` panels, a 14×32
/// register tile per panel (the micro-kernel of `kernels/sgemm` with `A` packed).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_loops(passes: usize, a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::*;
    assert!(a.len() >= LOOP_K * LOOP_ROWS && b.len() >= LOOP_PANELS * LOOP_K * 32);
    let mut c = vec![0f32; LOOP_PANELS * LOOP_ROWS * 32];
    for _ in 0..passes {
        for panel in 0..LOOP_PANELS {
            let mut acc = [[_mm512_setzero_ps(); 2]; LOOP_ROWS];
            let bp = b.as_ptr().add(panel * LOOP_K * 32);
            for p in 0..LOOP_K {
                let b0 = _mm512_loadu_ps(bp.add(p * 32));
                let b1 = _mm512_loadu_ps(bp.add(p * 32 + 16));
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.get_unchecked(p * LOOP_ROWS + r));
                    row[0] = _mm512_fmadd_ps(av, b0, row[0]);
                    row[1] = _mm512_fmadd_ps(av, b1, row[1]);
                }
            }
            let cp = c.as_mut_ptr().add(panel * LOOP_ROWS * 32);
            for (r, row) in acc.iter().enumerate() {
                _mm512_storeu_ps(cp.add(r * 32), row[0]);
                _mm512_storeu_ps(cp.add(r * 32 + 16), row[1]);
            }
        }
    }
    c.iter().sum()
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
