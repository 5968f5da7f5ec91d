//! Synchronised batch statistics: what a BatchNorm layer needs from the other ranks of
//! data-parallel training ([`BatchStatsSync`]), and the two exchanges built on it — the
//! forward merge of every rank's per-channel statistics and the backward sums.
//!
//! Forward, in two all-reduces of `C + 1` and `C` values per layer: rank `r` has `m_r` values
//! per channel with mean `μ_r` and biased variance `v_r` (its own shifted one-pass sums).
//! The first sums `m_r` and `m_r·μ_r`, giving the count `M` and the global mean `μ`; the
//! second sums `m_r·v_r + m_r·(μ_r − μ)²`, each rank's squared deviations about `μ`,
//! giving the global variance. That is Chan's pairwise merge with sums only: no
//! `Σx² − M·μ²` cancellation, however far the data lie from zero.
//!
//! Backward, in one all-reduce of `2C` values: `Σdy` and `Σdy·(x − μ)` over every rank's
//! values, as PyTorch's SyncBatchNorm. One difference for uneven batches: Strata's trainer
//! takes each rank's loss as the mean over its own `n_r` examples and combines the ranks'
//! gradients as `Σ n_r·g_r / Σ n_r`, so rank `s`'s `dy` carries a factor `1/n_s` that
//! rank `r`'s does not. The sums are therefore taken as `Σ_s n_s·(Σdy)_s / n_r` (in rank
//! `r`'s scale), which makes `N` ranks' combined gradients exactly one process's on the
//! whole batch; with equal batches it is PyTorch's plain sum.

use super::batch_norm_op::local_statistics;
use crate::Result;
use std::sync::Arc;
use strata_core::Tensor;

/// What a synchronised BatchNorm needs from the other ranks: sums across them. Every rank
/// calls it in the same order with buffers of the same length (the layers run the same
/// forward and backward passes on every rank); an implementation may keep its own channel
/// (a duplicated MPI communicator) so that these calls cannot mix with others.
///
/// Install one in every BatchNorm layer of a model with
/// [`ModuleExt::sync_batch_norm`](crate::ModuleExt::sync_batch_norm). `strata-train`'s
/// `ThreadGroup` (threads) and `strata-distributed`'s MPI group implement it.
///
/// ```
/// use std::sync::Arc;
/// use strata_nn::{BatchNorm1d, BatchStatsSync, Forward, ModuleExt, Result};
/// use strata_core::Tensor;
///
/// /// A group of one: the sums are the values themselves.
/// struct Alone;
/// impl BatchStatsSync for Alone {
///     fn all_reduce_sum(&self, _values: &mut [f64]) -> Result<()> { Ok(()) }
///     fn world(&self) -> usize { 1 }
/// }
///
/// let bn = BatchNorm1d::new(2)?;
/// assert_eq!(bn.sync_batch_norm(Some(Arc::new(Alone))), 1);
/// let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[2, 2])?;
/// let y = bn.forward(&x)?.to_vec::<f32>()?;
/// assert!((y[0] + 1.0).abs() < 1e-3 && (y[3] - 1.0).abs() < 1e-3);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub trait BatchStatsSync: Send + Sync {
    /// Replaces `values` by their element-wise sum over all ranks. Failures are
    /// [`Error::Collective`](crate::Error::Collective), naming the rank and the cause.
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()>;

    /// The number of ranks.
    fn world(&self) -> usize;
}

/// Per-channel statistics of the union of every rank's batch, for the op.
pub(crate) struct SyncedStatistics {
    pub(crate) mean: Vec<f64>,
    /// Biased variance.
    pub(crate) var: Vec<f64>,
    /// Values per channel over every rank (`M`).
    pub(crate) count: usize,
    sync: Arc<dyn BatchStatsSync>,
}

impl SyncedStatistics {
    /// Merges this rank's statistics of `input` (`[N, C, *]`) with every other rank's.
    pub(crate) fn gather(sync: Arc<dyn BatchStatsSync>, input: &Tensor) -> Result<Self> {
        let (mean, var) = local_statistics(input)?;
        let c = mean.len();
        let m = (input.numel() / c.max(1)) as f64;
        let mut first: Vec<f64> = std::iter::once(m)
            .chain(mean.iter().map(|mu| m * mu))
            .collect();
        sync.all_reduce_sum(&mut first)?;
        // Counts are integers well below 2^53: exact in f64. An empty global batch keeps
        // mean 0 here; the layer then refuses it (fewer than 2 values per channel).
        let total = first[0];
        let global_mean: Vec<f64> = first[1..].iter().map(|s| s / total.max(1.0)).collect();
        let mut second: Vec<f64> = (0..c)
            .map(|i| m * var[i] + m * (mean[i] - global_mean[i]).powi(2))
            .collect();
        sync.all_reduce_sum(&mut second)?;
        Ok(SyncedStatistics {
            var: second
                .iter()
                .map(|s| (s / total.max(1.0)).max(0.0))
                .collect(),
            mean: global_mean,
            count: total as usize,
            sync,
        })
    }

    /// Mean, variance, and what the backward pass of a rank with `batch` examples needs.
    pub(crate) fn split(self, batch: usize) -> (Vec<f64>, Vec<f64>, SyncedBackward) {
        let backward = SyncedBackward {
            sync: self.sync,
            batch,
            count: self.count,
        };
        (self.mean, self.var, backward)
    }
}

/// What the backward pass of synchronised statistics needs.
pub(crate) struct SyncedBackward {
    sync: Arc<dyn BatchStatsSync>,
    /// This rank's examples (the input's first dim): its weight among the ranks.
    batch: usize,
    /// Values per channel over every rank (`M`).
    pub(crate) count: usize,
}

impl SyncedBackward {
    /// This rank's per-channel `(Σdy, Σdy·(x − μ))` → the same over every rank, in this
    /// rank's scale (see the module docs).
    pub(crate) fn gradient_sums(
        &self,
        local: &[(f64, f64)],
    ) -> strata_core::Result<Vec<(f64, f64)>> {
        let n = self.batch as f64;
        let mut values: Vec<f64> = local.iter().flat_map(|&(g, gx)| [n * g, n * gx]).collect();
        self.sync
            .all_reduce_sum(&mut values)
            .map_err(|e| strata_core::Error::Backward(format!("batch_norm: {e}")))?;
        if self.batch == 0 {
            // No values here to give gradients to; the exchange above kept the ranks in step.
            return Ok(vec![(0.0, 0.0); local.len()]);
        }
        Ok(values
            .chunks_exact(2)
            .map(|p| (p[0] / n, p[1] / n))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchNorm1d, Forward, Module, ModuleExt};
    use std::sync::{Barrier, Mutex};
    use strata_core::{DType, Generator};

    /// Ranks as threads: each puts its values in its slot, all wait, each sums all slots
    /// in rank order, all wait again before the slots are reused.
    struct Threads {
        rank: usize,
        slots: Arc<Mutex<Vec<Vec<f64>>>>,
        barrier: Arc<Barrier>,
        calls: Mutex<usize>,
    }

    impl BatchStatsSync for Threads {
        fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
            *self.calls.lock().unwrap() += 1;
            self.slots.lock().unwrap()[self.rank] = values.to_vec();
            self.barrier.wait();
            let total: Vec<f64> = (0..values.len())
                .map(|i| self.slots.lock().unwrap().iter().map(|s| s[i]).sum())
                .collect();
            self.barrier.wait();
            values.copy_from_slice(&total);
            Ok(())
        }
        fn world(&self) -> usize {
            self.slots.lock().unwrap().len()
        }
    }

    fn threads(world: usize) -> Vec<Arc<Threads>> {
        let slots = Arc::new(Mutex::new(vec![Vec::new(); world]));
        let barrier = Arc::new(Barrier::new(world));
        (0..world)
            .map(|rank| {
                Arc::new(Threads {
                    rank,
                    slots: slots.clone(),
                    barrier: barrier.clone(),
                    calls: Mutex::new(0),
                })
            })
            .collect()
    }

    #[test]
    fn merged_statistics_are_the_concatenated_batch_s_even_far_from_zero() {
        // Three ranks with 1, 4 and 6 rows of [N, 2, 3], all near 1e6 with spread ~1: a
        // Σx² − M·μ² merge would lose the variance's leading digits here.
        let sizes = [1usize, 4, 6];
        let parts: Vec<Tensor> = sizes
            .iter()
            .enumerate()
            .map(|(r, &n)| {
                let t = Tensor::randn_with(&mut Generator::new(r as u64), &[n, 2, 3], DType::F64);
                t.add_scalar(1e6 + r as f64).unwrap()
            })
            .collect();
        let all = Tensor::cat(&parts, 0).unwrap();
        let (want_mean, want_var) = local_statistics(&all).unwrap();
        let handles: Vec<_> = threads(3)
            .into_iter()
            .zip(parts)
            .map(|(sync, x)| {
                std::thread::spawn(move || SyncedStatistics::gather(sync, &x).unwrap())
            })
            .collect();
        for h in handles {
            let s = h.join().unwrap();
            assert_eq!(s.count, 11 * 3);
            for c in 0..2 {
                assert!(
                    (s.mean[c] - want_mean[c]).abs() < 1e-9,
                    "{} vs {}",
                    s.mean[c],
                    want_mean[c]
                );
                assert!(want_var[c] > 0.3, "{}", want_var[c]);
                assert!(
                    (s.var[c] - want_var[c]).abs() < 1e-9 * want_var[c],
                    "{} vs {}",
                    s.var[c],
                    want_var[c]
                );
            }
        }
    }

    #[test]
    fn evaluation_and_unsynchronised_layers_do_not_communicate() {
        let sync = threads(1).remove(0);
        let bn = BatchNorm1d::new(3).unwrap();
        let x = Tensor::randn(&[4, 3]);
        assert!(bn.set_batch_stats_sync(Some(sync.clone())));
        bn.forward(&x).unwrap();
        assert_eq!(
            *sync.calls.lock().unwrap(),
            2,
            "training: mean, then variance"
        );
        bn.eval();
        bn.forward(&x).unwrap();
        assert_eq!(
            *sync.calls.lock().unwrap(),
            2,
            "evaluation uses running statistics"
        );
        bn.train();
        assert_eq!(bn.sync_batch_norm(None), 1);
        bn.forward(&x).unwrap();
        assert_eq!(*sync.calls.lock().unwrap(), 2, "removed");
    }
}
