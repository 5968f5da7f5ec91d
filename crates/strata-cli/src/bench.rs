//! `strata bench`: the benchmark workloads of `strata-bench`, each in a fresh process (the
//! binary runs itself with the hidden `--child` flag), so each training workload's peak
//! memory is its own and no workload warms the caches or heap of the next.

use crate::error::CliError;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use strata_bench::{run_in_child, BenchError, Measurement, Workload};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Workloads to run, comma-separated: W1, W1-b16, W2, W3, W4, W5, W6 (default: all).
    #[arg(long, value_delimiter = ',', value_name = "W1,...")]
    workload: Vec<Workload>,
    /// Kernel threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// One JSON object per figure, the lines `bench/pytorch_bench.py --json` prints.
    #[arg(long)]
    json: bool,
    /// MNIST's folder (W1, W1-b16 and W2 train on it).
    #[arg(long, default_value = "data/mnist")]
    data: PathBuf,
    /// Measure in this process and print JSON: what each child process does.
    #[arg(long, hide = true)]
    child: bool,
}

pub fn bench(args: BenchArgs) -> Result<(), CliError> {
    if let Some(n) = args.threads {
        // Read once, when the kernels' threads start: set before any tensor work. The
        // children inherit it.
        // SAFETY: called from `main` before any thread is started, so no other thread can
        // read the environment while it changes.
        unsafe { std::env::set_var("STRATA_NUM_THREADS", n.to_string()) };
    }
    let workloads = match args.workload.is_empty() {
        true => Workload::ALL.to_vec(),
        false => args.workload,
    };
    let json = args.json || args.child;
    // A reader that stops early (`| head`) is not an error of the benchmark: write
    // without `println!`, which would panic on the closed pipe.
    let print = |m: Measurement| {
        let line = match json {
            true => m.to_json("strata"),
            false => m.to_text("strata"),
        };
        let _ = writeln!(std::io::stdout(), "{line}");
    };
    if args.child {
        for w in workloads {
            strata_bench::run(w, &args.data, &mut |m| print(m))?;
        }
        return Ok(());
    }
    for w in workloads {
        let exe = std::env::current_exe().map_err(|source| BenchError::Spawn {
            workload: w.name(),
            source,
        })?;
        let mut child = Command::new(exe);
        child
            .args(["bench", "--child", "--workload", w.name(), "--data"])
            .arg(&args.data);
        run_in_child(child, w, &mut |m| print(m))?;
    }
    Ok(())
}
