//! MPI set-up ([`Mpi`]) and the trainer's collective over it ([`MpiGroup`]).

use crate::reduction::Reduction;
use mpi::collective::SystemOperation;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;
use std::sync::Arc;
use strata_nn::BatchStatsSync;
use strata_train::parallel::{Collective, InFlight};
use strata_train::{Result, TrainError};

/// MPI for this process: initialised once, finalised when dropped. A failure on any rank
/// should end the whole job ([`Mpi::exit_on_error`], and the panic hook installed by
/// [`Mpi::init`]): MPI would otherwise leave the other ranks waiting in their next
/// collective.
pub struct Mpi {
    universe: Arc<mpi::environment::Universe>,
    world: SimpleCommunicator,
}

impl Mpi {
    /// Initialises MPI (call once, before anything else) and installs a panic hook that
    /// names the rank and aborts every rank of the job.
    pub fn init() -> std::result::Result<Mpi, String> {
        let universe = mpi::initialize().ok_or_else(|| {
            "MPI is already initialised in this process (call Mpi::init once)".to_string()
        })?;
        let world = universe.world();
        let (rank, size) = (world.rank(), world.size());
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            eprintln!("rank {rank} of {size} panicked; stopping every rank:");
            previous(info);
            // MPI_Abort ends every process of the job, not only this one.
            mpi::topology::SimpleCommunicator::world().abort(70);
        }));
        Ok(Mpi {
            universe: Arc::new(universe),
            world,
        })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    /// The number of ranks.
    pub fn world(&self) -> usize {
        self.world.size() as usize
    }

    /// The collective the trainer uses.
    pub fn group(&self) -> MpiGroup {
        MpiGroup {
            world: self.world.duplicate(),
            universe: self.universe.clone(),
        }
    }

    /// The value, or, on an error, a message naming this rank and the cause on stderr and
    /// the whole job aborted (every rank stops within moments instead of waiting forever
    /// for this one).
    pub fn exit_on_error<T, E: std::fmt::Display>(&self, result: std::result::Result<T, E>) -> T {
        match result {
            Ok(v) => v,
            Err(e) => self.abort(&e.to_string(), 1),
        }
    }

    /// Prints `rank R of N: error: MESSAGE` and aborts every rank with `code`.
    pub fn abort(&self, message: &str, code: i32) -> ! {
        eprintln!("rank {} of {}: error: {message}", self.rank(), self.world());
        self.world.abort(code)
    }

    /// Waits until every rank gets here.
    pub fn barrier(&self) {
        self.world.barrier();
    }
}

/// [`Collective`] over an MPI communicator: `MPI_Allreduce` (blocking, or `MPI_Iallreduce`
/// for the gradient buckets the trainer overlaps with the backward pass), `MPI_Bcast` from
/// rank 0 and `MPI_Allgather`.
pub struct MpiGroup {
    world: SimpleCommunicator,
    // Keeps MPI initialised while the trainer holds the group.
    universe: Arc<mpi::environment::Universe>,
}

impl Collective for MpiGroup {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn world(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum_f32(&mut self, values: &mut [f32]) -> Result<()> {
        let send = values.to_vec();
        self.world
            .all_reduce_into(&send[..], values, SystemOperation::sum());
        Ok(())
    }

    fn all_reduce_sum_f64(&mut self, values: &mut [f64]) -> Result<()> {
        let send = values.to_vec();
        self.world
            .all_reduce_into(&send[..], values, SystemOperation::sum());
        Ok(())
    }

    fn broadcast_f32(&mut self, values: &mut [f32]) -> Result<()> {
        self.check_lengths(values.len())?;
        self.world.process_at_rank(0).broadcast_into(values);
        Ok(())
    }

    fn broadcast_f64(&mut self, values: &mut [f64]) -> Result<()> {
        self.check_lengths(values.len())?;
        self.world.process_at_rank(0).broadcast_into(values);
        Ok(())
    }

    fn all_gather_u64(&mut self, value: u64) -> Result<Vec<u64>> {
        let mut all = vec![0u64; self.world()];
        self.world.all_gather_into(&value, &mut all[..]);
        Ok(all)
    }

    /// A non-blocking `MPI_Iallreduce`, polled by the trainer between gradients.
    fn start_all_reduce_sum_f32(&mut self, values: Vec<f32>) -> Result<Box<dyn InFlight>> {
        Ok(Box::new(Reduction::start(&self.world, values)?))
    }

    fn batch_stats_sync(&mut self) -> Result<Arc<dyn BatchStatsSync>> {
        // MPI_Comm_dup is collective: every rank gets here at the same point.
        Ok(Arc::new(crate::MpiBatchStats::new(
            self.world.duplicate(),
            self.universe.clone(),
        )))
    }
}

impl MpiGroup {
    /// A broadcast of buffers of different lengths would corrupt memory: compare first.
    fn check_lengths(&mut self, n: usize) -> Result<()> {
        let all = self.all_gather_u64(n as u64)?;
        match all.iter().position(|&m| m != n as u64) {
            None => Ok(()),
            Some(r) => Err(TrainError::Parallel {
                rank: self.rank(),
                world: self.world(),
                reason: format!(
                    "a broadcast of {n} values met {} values on rank {r}",
                    all[r]
                ),
            }),
        }
    }
}
