//! [`ThreadGroup`]: a [`Collective`] between threads of one process, for tests of
//! data-parallel training without MPI.

use super::Collective;
use crate::{Result, TrainError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use strata_nn::BatchStatsSync;

/// One rank of a group of threads that exchange values through shared memory. Sums are
/// taken in rank order in f64, so results are deterministic. A rank that waits more than
/// a minute for the others gets an error instead of hanging. It is also a
/// [`BatchStatsSync`] (its [`Collective::batch_stats_sync`] channel is a second exchange
/// of the same threads).
///
/// ```
/// use strata_train::parallel::{Collective, ThreadGroup};
/// let handles: Vec<_> = ThreadGroup::new(3)
///     .into_iter()
///     .map(|mut g| std::thread::spawn(move || {
///         let mut v = [g.rank() as f32, 1.0];
///         g.all_reduce_sum_f32(&mut v).unwrap();
///         v
///     }))
///     .collect();
/// for h in handles {
///     assert_eq!(h.join().unwrap(), [3.0, 3.0]); // 0 + 1 + 2, and 1 three times
/// }
/// ```
pub struct ThreadGroup {
    rank: usize,
    world: usize,
    shared: Arc<Shared>,
    /// The exchange of the synchronised BatchNorm channel.
    batch_norm: Arc<Shared>,
}

type Shared = (Mutex<Exchange>, Condvar);

/// One round at a time: every rank contributes, then every rank reads all contributions.
struct Exchange {
    world: usize,
    round: u64,
    contributions: Vec<Option<Vec<f64>>>,
    arrived: usize,
    result: Arc<Vec<Vec<f64>>>,
    readers_left: usize,
}

const PATIENCE: Duration = Duration::from_secs(60);

impl ThreadGroup {
    /// The `world` ranks of a new group, rank 0 first: hand one to each thread.
    pub fn new(world: usize) -> Vec<ThreadGroup> {
        let exchange = || {
            Arc::new((
                Mutex::new(Exchange {
                    world,
                    round: 0,
                    contributions: vec![None; world],
                    arrived: 0,
                    result: Arc::new(Vec::new()),
                    readers_left: 0,
                }),
                Condvar::new(),
            ))
        };
        let (shared, batch_norm) = (exchange(), exchange());
        (0..world)
            .map(|rank| ThreadGroup {
                rank,
                world,
                shared: shared.clone(),
                batch_norm: batch_norm.clone(),
            })
            .collect()
    }

    fn error(&self, reason: &str) -> TrainError {
        TrainError::Parallel {
            rank: self.rank,
            world: self.world,
            reason: reason.to_string(),
        }
    }

    /// Every rank's `values`, in rank order.
    fn exchange(&self, values: Vec<f64>) -> Result<Arc<Vec<Vec<f64>>>> {
        let (lock, ready) = &*self.shared;
        let poisoned = || self.error("another rank panicked during an exchange");
        let mut s = lock.lock().map_err(|_| poisoned())?;
        // The previous round's results are still being read by slower ranks.
        while s.readers_left > 0 {
            let (guard, timeout) = ready.wait_timeout(s, PATIENCE).map_err(|_| poisoned())?;
            s = guard;
            if timeout.timed_out() {
                return Err(self.error("timed out waiting for the other ranks"));
            }
        }
        s.contributions[self.rank] = Some(values);
        s.arrived += 1;
        let round = s.round;
        if s.arrived == s.world {
            s.result = Arc::new(
                s.contributions
                    .iter_mut()
                    .filter_map(Option::take)
                    .collect(),
            );
            s.arrived = 0;
            s.readers_left = s.world;
            s.round += 1;
            ready.notify_all();
        } else {
            while s.round == round {
                let (guard, timeout) = ready.wait_timeout(s, PATIENCE).map_err(|_| poisoned())?;
                s = guard;
                if timeout.timed_out() && s.round == round {
                    return Err(self.error("timed out waiting for the other ranks"));
                }
            }
        }
        let result = s.result.clone();
        s.readers_left -= 1;
        if s.readers_left == 0 {
            ready.notify_all();
        }
        Ok(result)
    }

    fn sum(&self, values: Vec<f64>) -> Result<Vec<f64>> {
        let all = self.exchange(values)?;
        let mut total = vec![0.0; all.first().map_or(0, Vec::len)];
        for part in all.iter() {
            if part.len() != total.len() {
                return Err(self.error("ranks passed buffers of different lengths"));
            }
            total.iter_mut().zip(part).for_each(|(t, v)| *t += v);
        }
        Ok(total)
    }

    /// Rank 0's values, which must have as many as this rank's.
    fn first(&mut self, values: Vec<f64>) -> Result<Vec<f64>> {
        let n = values.len();
        let root = self.exchange(values)?.first().cloned().unwrap_or_default();
        if root.len() != n {
            return Err(self.error("ranks passed buffers of different lengths"));
        }
        Ok(root)
    }
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world(&self) -> usize {
        self.world
    }

    fn all_reduce_sum_f32(&mut self, values: &mut [f32]) -> Result<()> {
        let total = self.sum(values.iter().map(|&v| v as f64).collect())?;
        values
            .iter_mut()
            .zip(total)
            .for_each(|(v, t)| *v = t as f32);
        Ok(())
    }

    fn all_reduce_sum_f64(&mut self, values: &mut [f64]) -> Result<()> {
        let total = self.sum(values.to_vec())?;
        values.copy_from_slice(&total);
        Ok(())
    }

    fn broadcast_f32(&mut self, values: &mut [f32]) -> Result<()> {
        let root = self.first(values.iter().map(|&v| v as f64).collect())?;
        values.iter_mut().zip(root).for_each(|(v, r)| *v = r as f32);
        Ok(())
    }

    fn broadcast_f64(&mut self, values: &mut [f64]) -> Result<()> {
        let root = self.first(values.to_vec())?;
        values.copy_from_slice(&root);
        Ok(())
    }

    fn batch_stats_sync(&mut self) -> Result<Arc<dyn BatchStatsSync>> {
        Ok(Arc::new(ThreadGroup {
            rank: self.rank,
            world: self.world,
            shared: self.batch_norm.clone(),
            batch_norm: self.batch_norm.clone(),
        }))
    }

    fn all_gather_u64(&mut self, value: u64) -> Result<Vec<u64>> {
        // Two 32-bit halves travel exactly as f64.
        let all = self.exchange(vec![(value >> 32) as f64, (value & 0xffff_ffff) as f64])?;
        Ok(all
            .iter()
            .map(|p| ((p[0] as u64) << 32) | p[1] as u64)
            .collect())
    }
}

impl BatchStatsSync for ThreadGroup {
    fn all_reduce_sum(&self, values: &mut [f64]) -> strata_nn::Result<()> {
        let total = self
            .sum(values.to_vec())
            .map_err(|e| strata_nn::Error::Collective {
                reason: e.to_string(),
            })?;
        values.copy_from_slice(&total);
        Ok(())
    }

    fn world(&self) -> usize {
        self.world
    }
}
