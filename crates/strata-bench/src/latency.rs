//! W5: W1's network on one example at a time without gradient recording, and its
//! ceiling: reading the network's 2.1 MB of weights once from cache with all threads,
//! which every forward call must do at least.

use crate::mlp::mlp;
use crate::Result;
use std::time::Instant;
use strata_core::kernels::parallel::for_each_piece;
use strata_core::{no_grad, Tensor};
use strata_nn::{Forward, ModuleExt, Sequential};

/// Microseconds of each timed call, in call order.
pub struct Latencies(pub Vec<f64>);

impl Latencies {
    /// The `p`-th percentile (0–100), linearly interpolated as NumPy's default does.
    pub fn percentile(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return 0.0;
        }
        let pos = p / 100.0 * (v.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
    }
}

/// W5's network and input: one `[1, 784]` example in [0, 1).
pub struct BatchOne {
    model: Sequential,
    x: Tensor,
}

impl BatchOne {
    pub fn new() -> Result<BatchOne> {
        Ok(BatchOne {
            model: mlp()?,
            x: Tensor::rand(&[1, 784]),
        })
    }

    /// One call: forward and the 10 logits read back, as every peer does.
    pub fn call(&self) -> Result<Vec<f32>> {
        no_grad(|| Ok(self.model.forward(&self.x)?.to_vec::<f32>()?))
    }

    /// `warmup` untimed calls, then `calls` timed one by one.
    pub fn time(&self, warmup: usize, calls: usize) -> Result<Latencies> {
        for _ in 0..warmup {
            self.call()?;
        }
        let mut us = Vec::with_capacity(calls);
        for _ in 0..calls {
            let t = Instant::now();
            std::hint::black_box(self.call()?);
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        Ok(Latencies(us))
    }

    /// Every parameter's values in one buffer (weights and biases: 535,818 floats).
    pub fn weights(&self) -> Result<Vec<f32>> {
        let mut all = Vec::new();
        for p in self.model.parameters() {
            all.extend(p.tensor().to_vec::<f32>()?);
        }
        Ok(all)
    }
}

/// The weight-streaming ceiling: each call sums `weights` split evenly between all kernel
/// threads through the same parallel regions the kernels use, so it pays what a parallel
/// batch-1 forward must pay at least (one region start, every weight read once).
pub fn stream_weights(weights: &[f32], warmup: usize, calls: usize) -> Latencies {
    let pieces = strata_core::num_threads();
    let len = weights.len().div_ceil(pieces);
    let call = || {
        for_each_piece(pieces, |p| {
            let start = (p * len).min(weights.len());
            let end = (start + len).min(weights.len());
            std::hint::black_box(sum(&weights[start..end]));
        })
    };
    for _ in 0..warmup {
        call();
    }
    let mut us = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        call();
        us.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Latencies(us)
}

/// A sum the compiler vectorises: 32 independent lanes, so loads are the limit, not the
/// latency of one chain of additions.
fn sum(values: &[f32]) -> f32 {
    let mut acc = [0f32; 32];
    let chunks = values.chunks_exact(32);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + tail
}
