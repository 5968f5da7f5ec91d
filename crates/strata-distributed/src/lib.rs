//! # strata-distributed
//!
//! Data-parallel training over MPI (Open MPI or MPICH), the way Horovod and PyTorch's DDP
//! do it: every process (rank) holds a full copy of the model, trains on its own shard of
//! each batch (`DataLoader::shard`), and the gradients are averaged with an all-reduce
//! before every optimiser step, so N ranks with batch B train the model one process would
//! with batch N·B. `MpiGroup` (with the `mpi` feature) is the
//! [`Collective`](strata_train::parallel::Collective) that
//! [`Trainer::data_parallel`](strata_train::Trainer::data_parallel) uses.
//!
//! Everything here needs the `mpi` feature (an MPI library, its headers and libclang:
//! Debian's `libopenmpi-dev openmpi-bin libclang-dev`); without it the crate is empty.
//!
//! ```ignore
//! let mpi = strata_distributed::Mpi::init()?;          // once, first thing in main
//! let (rank, world) = (mpi.rank(), mpi.world());
//! let train = DataLoader::new(data).batch_size(64).shuffle(0).shard(rank, world);
//! let mut trainer = Trainer::new(model, opt, cross_entropy).data_parallel(mpi.group());
//! mpi.exit_on_error(trainer.fit(&train, Some(&val), 10));  // a failing rank ends the job
//! ```
//! Synchronised BatchNorm (statistics over every rank's batch, PyTorch's `SyncBatchNorm`):
//! add `.sync_batch_norm()?` after `.data_parallel(mpi.group())`; its all-reduces run on a
//! communicator of their own (`MpiBatchStats`).
//!
//! Launch: `mpirun -n 4 ./my_program` (as root add `--allow-run-as-root`; more ranks than
//! cores needs `--oversubscribe`).

#[cfg(feature = "mpi")]
mod batch_stats;
#[cfg(feature = "mpi")]
mod group;
#[cfg(feature = "mpi")]
mod reduction;

#[cfg(feature = "mpi")]
pub use batch_stats::MpiBatchStats;
#[cfg(feature = "mpi")]
pub use group::{Mpi, MpiGroup};
