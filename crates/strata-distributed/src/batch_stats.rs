//! [`MpiBatchStats`]: the channel of synchronised BatchNorm over MPI, a communicator of its
//! own (duplicated from the trainer's) so that the layers' all-reduces, made inside the
//! forward and backward passes, cannot match the trainer's gradient all-reduces.

use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use strata_nn::{BatchStatsSync, Error, Result};

/// Blocking `MPI_Allreduce` sums on a duplicated communicator, made only from the thread
/// that created it: MPI is initialised for one thread ([`Mpi::init`](crate::Mpi::init)),
/// the one that trains. A call from another thread is an error, not an MPI call.
/// [`MpiGroup`](crate::MpiGroup)'s `batch_stats_sync` makes one; see
/// `Trainer::sync_batch_norm`.
pub struct MpiBatchStats {
    comm: Mutex<Owned>,
    rank: usize,
    world: usize,
    // Keeps MPI initialised while a model holds the channel.
    _universe: Arc<mpi::environment::Universe>,
}

/// The communicator and the thread allowed to use it.
struct Owned {
    comm: Option<SimpleCommunicator>,
    owner: ThreadId,
}

// SAFETY: an MPI communicator is a handle (a pointer into the MPI library). It is passed to
// MPI only on the thread that created it: `all_reduce_sum` checks `owner` first, and `Drop`
// leaks it on any other thread. Moving the handle between threads, behind the mutex,
// therefore never has two threads use it.
unsafe impl Send for Owned {}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(comm) = self.comm.take()
            && std::thread::current().id() != self.owner
        {
            // Freeing it here would be an MPI call from a thread MPI does not serve.
            std::mem::forget(comm);
        }
    }
}

impl MpiBatchStats {
    /// A channel on `comm` (a communicator of its own), usable from this thread.
    pub(crate) fn new(comm: SimpleCommunicator, universe: Arc<mpi::environment::Universe>) -> Self {
        MpiBatchStats {
            rank: comm.rank() as usize,
            world: comm.size() as usize,
            comm: Mutex::new(Owned {
                comm: Some(comm),
                owner: std::thread::current().id(),
            }),
            _universe: universe,
        }
    }

    fn error(&self, reason: &str) -> Error {
        Error::Collective {
            reason: format!("rank {} of {}: {reason}", self.rank, self.world),
        }
    }
}

impl BatchStatsSync for MpiBatchStats {
    fn all_reduce_sum(&self, values: &mut [f64]) -> Result<()> {
        let owned = self
            .comm
            .lock()
            .map_err(|_| self.error("a panic poisoned the BatchNorm channel"))?;
        let comm = match &owned.comm {
            Some(c) if std::thread::current().id() == owned.owner => c,
            _ => {
                return Err(self.error(
                    "synchronised BatchNorm ran on another thread than the one that set it up \
                     (MPI serves one thread): train on the thread that called sync_batch_norm",
                ))
            }
        };
        let send = values.to_vec();
        comm.all_reduce_into(&send[..], values, SystemOperation::sum());
        Ok(())
    }

    fn world(&self) -> usize {
        self.world
    }
}
