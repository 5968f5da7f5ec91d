//! Data-parallel training: several processes (ranks) each hold a full copy of the model,
//! train on their own share of every batch (`DataLoader::shard`), and average their
//! gradients before every optimiser step, so `N` ranks with batch `B` train the model one
//! process would with batch `N·B`.
//!
//! The [`Collective`] trait is the communication the trainer needs (sums across ranks and a
//! broadcast); `strata-distributed` implements it over MPI, and [`ThreadGroup`] in-process
//! for tests. [`Trainer::data_parallel`](crate::Trainer::data_parallel) turns it on, and
//! [`Trainer::sync_batch_norm`](crate::Trainer::sync_batch_norm) gives the model's
//! BatchNorm layers a channel of their own ([`Collective::batch_stats_sync`]) to compute
//! their statistics over every rank's batch.

mod local;
mod metrics;
mod overlap;
mod sync;

pub use local::ThreadGroup;
pub(crate) use metrics::merge_metrics;
pub(crate) use overlap::OverlappedAverage;
pub(crate) use sync::{average_gradients, broadcast_module, check_same_model, reduce_epoch};

use crate::{Result, TrainError};
use std::sync::Arc;
use strata_nn::BatchStatsSync;

/// What data-parallel training needs from the processes' communication. Every rank must
/// make the same calls in the same order with buffers of the same lengths.
pub trait Collective {
    /// This process's rank, `0..world()`.
    fn rank(&self) -> usize;

    /// The number of processes.
    fn world(&self) -> usize;

    /// Replaces `values` by their element-wise sum over all ranks.
    fn all_reduce_sum_f32(&mut self, values: &mut [f32]) -> Result<()>;

    /// Replaces `values` by their element-wise sum over all ranks.
    fn all_reduce_sum_f64(&mut self, values: &mut [f64]) -> Result<()>;

    /// Replaces `values` by rank 0's.
    fn broadcast_f32(&mut self, values: &mut [f32]) -> Result<()>;

    /// Replaces `values` by rank 0's.
    fn broadcast_f64(&mut self, values: &mut [f64]) -> Result<()>;

    /// Every rank's `value`, in rank order.
    fn all_gather_u64(&mut self, value: u64) -> Result<Vec<u64>>;

    /// Starts summing `values` over all ranks and returns without waiting, so the caller
    /// can go on computing while the numbers travel; [`InFlight::wait`] gives the sum.
    /// Every rank must start the same reductions in the same order. The default sums at
    /// once (blocking) and hands back a finished reduction; MPI overrides it with a
    /// non-blocking all-reduce.
    fn start_all_reduce_sum_f32(&mut self, values: Vec<f32>) -> Result<Box<dyn InFlight>> {
        let mut values = values;
        self.all_reduce_sum_f32(&mut values)?;
        Ok(Box::new(Finished(values)))
    }

    /// A channel between the same ranks for synchronised BatchNorm, whose sums cannot mix
    /// with this collective's own calls. Every rank asks for it at the same point (for MPI
    /// it duplicates the communicator). The default: this collective has none.
    fn batch_stats_sync(&mut self) -> Result<Arc<dyn BatchStatsSync>> {
        Err(TrainError::Parallel {
            rank: self.rank(),
            world: self.world(),
            reason: "this collective offers no channel for synchronised BatchNorm".to_string(),
        })
    }
}

/// An all-reduce under way (from [`Collective::start_all_reduce_sum_f32`]).
pub trait InFlight {
    /// Lets the reduction advance without waiting (MPI moves a non-blocking collective on
    /// only inside MPI calls, so the trainer polls between gradients); true once complete.
    fn poll(&mut self) -> Result<bool>;

    /// Waits for the reduction and returns the sum over all ranks.
    fn wait(self: Box<Self>) -> Result<Vec<f32>>;
}

/// A reduction that was complete when it started.
struct Finished(Vec<f32>);

impl InFlight for Finished {
    fn poll(&mut self) -> Result<bool> {
        Ok(true)
    }

    fn wait(self: Box<Self>) -> Result<Vec<f32>> {
        Ok(self.0)
    }
}

/// Gradients travel in buckets of at most this many values (4 MiB of f32): large enough
/// that each all-reduce is bandwidth-bound, small enough that the temporary copy stays
/// modest.
pub const BUCKET_VALUES: usize = 1 << 20;
