//! A non-blocking `MPI_Iallreduce` of f32 sums: the trainer starts one per gradient bucket
//! during the backward pass and polls it between gradients (Open MPI moves a non-blocking
//! collective on only inside MPI calls), so the bucket travels while computation goes on.

use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;
use strata_train::parallel::InFlight;
use strata_train::{Result, TrainError};

/// One `MPI_Iallreduce` under way. It owns both buffers, so they live until MPI is done
/// with them; dropped unfinished, it waits for the operation first.
pub(crate) struct Reduction {
    send: Vec<f32>,
    recv: Vec<f32>,
    request: ffi::MPI_Request,
    done: bool,
    rank: usize,
    world: usize,
}

impl Reduction {
    /// Starts summing `values` over every rank of `comm`.
    pub(crate) fn start(comm: &SimpleCommunicator, values: Vec<f32>) -> Result<Reduction> {
        use mpi::topology::Communicator;
        let mut r = Reduction {
            recv: vec![0.0; values.len()],
            send: values,
            // SAFETY: reading an initialised constant of the MPI library.
            request: unsafe { ffi::RSMPI_REQUEST_NULL },
            done: false,
            rank: comm.rank() as usize,
            world: comm.size() as usize,
        };
        let count =
            i32::try_from(r.send.len()).map_err(|_| r.error("a bucket over 2^31 values"))?;
        // SAFETY: both buffers hold `count` f32s and belong to `r`, which keeps them (their
        // heap storage does not move with `r`) until the request completes: `wait`, or
        // `drop`, which waits.
        let code = unsafe {
            ffi::MPI_Iallreduce(
                r.send.as_ptr().cast(),
                r.recv.as_mut_ptr().cast(),
                count,
                ffi::RSMPI_FLOAT,
                ffi::RSMPI_SUM,
                comm.as_raw(),
                &mut r.request,
            )
        };
        r.check(code, "MPI_Iallreduce")?;
        Ok(r)
    }

    fn error(&self, reason: &str) -> TrainError {
        TrainError::Parallel {
            rank: self.rank,
            world: self.world,
            reason: reason.to_string(),
        }
    }

    fn check(&self, code: i32, call: &str) -> Result<()> {
        if code == ffi::MPI_SUCCESS as i32 {
            Ok(())
        } else {
            Err(self.error(&format!("{call} failed with MPI error code {code}")))
        }
    }

    fn wait_here(&mut self) -> Result<()> {
        if !self.done {
            // SAFETY: `request` came from MPI_Iallreduce and is waited on once.
            let code = unsafe { ffi::MPI_Wait(&mut self.request, ffi::RSMPI_STATUS_IGNORE) };
            self.done = true;
            self.check(code, "MPI_Wait")?;
        }
        Ok(())
    }
}

impl InFlight for Reduction {
    fn poll(&mut self) -> Result<bool> {
        if !self.done {
            let mut flag = 0;
            // SAFETY: `request` is a live request of this process.
            let code =
                unsafe { ffi::MPI_Test(&mut self.request, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
            self.check(code, "MPI_Test")?;
            self.done = flag != 0;
        }
        Ok(self.done)
    }

    fn wait(mut self: Box<Self>) -> Result<Vec<f32>> {
        self.wait_here()?;
        Ok(std::mem::take(&mut self.recv))
    }
}

impl Drop for Reduction {
    fn drop(&mut self) {
        // MPI may still write into `recv`: never free it under a running operation. An
        // error here has nowhere to go; the job is stopping anyway.
        let _ = self.wait_here();
    }
}
