//! One workload per fresh process: its peak memory is then the workload's own, and no
//! workload inherits another's heap, caches or threads.

use crate::measurement::Measurement;
use crate::workload::Workload;
use crate::{BenchError, Result};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Runs `command`, a process that measures `workload` alone and prints one
/// [`Measurement::to_json`] line per figure (the `strata` binary runs itself as
/// `strata bench --workload W1 --child`), and hands each figure to `emit` as it arrives.
/// The child's stderr goes to ours.
pub fn run_in_child(
    mut command: Command,
    workload: Workload,
    emit: &mut dyn FnMut(Measurement),
) -> Result<()> {
    let name = workload.name();
    let spawn_error = |source| BenchError::Spawn {
        workload: name,
        source,
    };
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_error)?;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(spawn_error)?;
            match Measurement::from_json(&line) {
                Some(m) => emit(m),
                None => {
                    // Do not leave the child running behind an error.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(BenchError::BadLine {
                        workload: name,
                        line,
                    });
                }
            }
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    if !status.success() {
        return Err(BenchError::ChildFailed {
            workload: name,
            status,
        });
    }
    Ok(())
}
