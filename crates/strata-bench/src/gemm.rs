//! W4: f32 matrix products (1024³ and 256³) and the machine's ceiling for them, fused
//! multiply-adds on registers alone on every kernel thread.

use crate::timing::{time_repeats, Timing};
use crate::Result;
use strata_core::{no_grad, Tensor};

/// Times `count` products `a·b` of random `n×n` matrices per repeat, after 5 untimed ones.
pub fn time_products(n: usize, count: usize, repeats: usize) -> Result<Timing> {
    let (a, b) = (Tensor::randn(&[n, n]), Tensor::randn(&[n, n]));
    time_repeats(5, count, repeats, |k| -> Result<()> {
        no_grad(|| {
            for _ in 0..k {
                std::hint::black_box(a.matmul(&b)?);
            }
            Ok(())
        })
    })
}

/// The f32 FMA rate of all kernel threads at once, GFLOP/s: what no product can pass.
/// `None` where the CPU lacks AVX-512 (the kernels this ceiling describes).
pub fn fma_peak_gflops(repeats: usize) -> Option<Vec<f64>> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        let threads = strata_core::num_threads();
        // About 35 ms per thread and call: long enough that starting the threads is noise.
        const STEPS: u64 = 20_000_000;
        let flops = (threads as u64 * STEPS * FMA_CHAINS as u64 * 16 * 2) as f64;
        let run = || {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    // SAFETY: AVX-512F was detected above.
                    s.spawn(|| std::hint::black_box(unsafe { fma_chains(STEPS) }));
                }
            })
        };
        run();
        let rates = (0..repeats)
            .map(|_| {
                let t = std::time::Instant::now();
                run();
                flops / t.elapsed().as_secs_f64() / 1e9
            })
            .collect();
        return Some(rates);
    }
    let _ = repeats;
    None
}

/// Independent chains: enough to hide the FMA latency on both FMA ports.
#[cfg(target_arch = "x86_64")]
const FMA_CHAINS: usize = 12;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains(steps: u64) -> f32 {
    use std::arch::x86_64::*;
    let (b, c) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    let mut acc = [_mm512_setzero_ps(); FMA_CHAINS];
    for _ in 0..steps {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, b, c);
        }
    }
    acc.iter().map(|&x| _mm512_reduce_add_ps(x)).sum()
}
