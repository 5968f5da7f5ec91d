//! W6, per-op overhead: a chain of 100 elementwise ops (add, mul, tanh in turn) on
//! 64-element f32 tensors that require grad, then backward. On 64 elements the arithmetic
//! is a few nanoseconds, so the time per op is what the framework adds around it:
//! allocation, shape checks, recording the graph node, and in backward walking it.

use crate::Result;
use std::time::{Duration, Instant};
use strata_core::Tensor;

/// Ops in one chain.
pub const CHAIN_OPS: usize = 100;
/// Elements of every tensor in the chain.
pub const ELEMS: usize = 64;

/// The chain's leaves: the input and the operands of `add` and `mul`, all requiring grad.
pub struct OpChain {
    x: Tensor,
    addend: Tensor,
    factor: Tensor,
    seed: Tensor,
}

impl Default for OpChain {
    fn default() -> OpChain {
        OpChain::new()
    }
}

impl OpChain {
    pub fn new() -> OpChain {
        OpChain {
            x: Tensor::randn(&[ELEMS]).requires_grad_(),
            addend: Tensor::randn(&[ELEMS]).requires_grad_(),
            // Near 1, so a hundred products neither vanish nor overflow.
            factor: Tensor::rand(&[ELEMS]).requires_grad_(),
            seed: Tensor::ones(&[ELEMS]),
        }
    }

    /// The chain's output: op `i` is `add`, `mul` or `tanh` as `i % 3` is 0, 1 or 2.
    pub fn forward(&self) -> Result<Tensor> {
        let mut y = self.x.clone();
        for i in 0..CHAIN_OPS {
            y = match i % 3 {
                0 => y.add(&self.addend)?,
                1 => y.mul(&self.factor)?,
                _ => y.tanh()?,
            };
        }
        Ok(y)
    }

    /// Forward and backward time of one chain, backward seeded with ones (no loss op).
    /// The gradients are dropped after the clock stops.
    pub fn time_once(&self) -> Result<(Duration, Duration)> {
        let t0 = Instant::now();
        let y = self.forward()?;
        let t1 = Instant::now();
        let grads = y.backward_with(&self.seed)?;
        let t2 = Instant::now();
        drop(grads);
        Ok((t1 - t0, t2 - t1))
    }

    /// Nanoseconds per op forward and backward over `chains` chains.
    pub fn time(&self, chains: usize) -> Result<(f64, f64)> {
        let (mut fwd, mut bwd) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..chains {
            let (f, b) = self.time_once()?;
            fwd += f;
            bwd += b;
        }
        let per_op = |d: Duration| d.as_secs_f64() * 1e9 / (chains * CHAIN_OPS) as f64;
        Ok((per_op(fwd), per_op(bwd)))
    }
}
