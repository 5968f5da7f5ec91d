//! Data-parallel training under `mpirun` (Open MPI or MPICH): the collectives, the
//! equivalence of N ranks × batch B with one process × batch N·B after every step, a
//! failing rank stopping the job with its name, and a checkpoint of 2 ranks resumed on 1.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_strata-mpi-check");

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
    seconds: f64,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `mpirun -n RANKS strata-mpi-check ARGS`, killed after `limit`.
fn mpirun(ranks: usize, args: &[&str], limit: Duration) -> Run {
    let mut cmd = Command::new("mpirun");
    cmd.args(["-n", &ranks.to_string(), "--oversubscribe"]);
    if is_root() {
        cmd.arg("--allow-run-as-root");
    }
    // Containers often lack the kernel support for Open MPI's single-copy transfers.
    cmd.env("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
        .env("STRATA_NUM_THREADS", "1")
        .arg(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().expect("mpirun (install openmpi-bin)");
    loop {
        if child.try_wait().unwrap().is_some() || started.elapsed() > limit {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let timed_out = child.try_wait().unwrap().is_none();
    if timed_out {
        child.kill().ok();
    }
    let out = child.wait_with_output().unwrap();
    assert!(!timed_out, "mpirun {args:?} hung past {limit:?}");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
    }
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-mpi-{name}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every step's parameters written by rank 0.
fn steps(dir: &Path) -> Vec<Vec<f32>> {
    std::fs::read_to_string(dir.join("steps.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split(' ').map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn worst(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "different step counts");
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

const LIMIT: Duration = Duration::from_secs(120);

#[test]
fn collectives_sum_broadcast_and_gather() {
    for ranks in [1, 2, 4] {
        let r = mpirun(ranks, &["collectives"], LIMIT);
        assert!(r.ok, "{ranks} ranks: {}", r.stderr);
        assert!(
            r.stdout
                .contains(&format!("collectives ok on {ranks} ranks")),
            "{}",
            r.stdout
        );
    }
}

#[test]
fn n_ranks_with_batch_b_match_one_process_with_batch_n_b_after_every_step() {
    let dir = temp("equivalence");
    let run = |ranks: usize, batch: usize| {
        let out = dir.join(format!("n{ranks}"));
        std::fs::create_dir_all(&out).unwrap();
        let r = mpirun(
            ranks,
            &["train", out.to_str().unwrap(), &batch.to_string(), "2"],
            LIMIT,
        );
        assert!(r.ok, "{ranks} ranks: {}", r.stderr);
        steps(&out)
    };
    let one = run(1, 24);
    // 96 examples, global batch 24: 4 steps per epoch, 2 epochs.
    assert_eq!(one.len(), 8);
    for ranks in [2, 4] {
        let many = run(ranks, 24 / ranks);
        // Sums over ranks round differently from one process's mean: a tolerance that
        // grows with the rank count.
        let off = worst(&one, &many);
        assert!(off <= 2e-6 * ranks as f32, "{ranks} ranks: off by {off}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn synchronised_batch_norm_on_two_ranks_matches_one_process_and_local_does_not() {
    let dir = temp("batch-norm");
    let run = |ranks: usize, batch: usize, mode: &str| {
        let out = dir.join(format!("n{ranks}-{mode}"));
        std::fs::create_dir_all(&out).unwrap();
        let r = mpirun(
            ranks,
            &["train-bn", out.to_str().unwrap(), &batch.to_string(), mode],
            LIMIT,
        );
        assert!(r.ok, "{ranks} ranks, {mode}: {}", r.stderr);
        steps(&out)
    };
    // 96 examples, global batch 24: 4 steps; parameters and running statistics compared.
    let one = run(1, 24, "sync");
    assert_eq!(one.len(), 4);
    let synced = worst(&one, &run(2, 12, "sync"));
    assert!(synced <= 4e-6, "synchronised: off by {synced}");
    // Each rank normalising with its own half-batch trains another model.
    let local = worst(&one, &run(2, 12, "local"));
    assert!(local > 1e-2, "local BatchNorm: off by only {local}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_failing_rank_stops_the_job_naming_itself() {
    let r = mpirun(2, &["fail"], Duration::from_secs(60));
    assert!(!r.ok);
    assert!(
        r.stderr
            .contains("rank 1 of 2: error: a training step: failed on purpose"),
        "{}",
        r.stderr
    );
    assert!(r.seconds < 30.0, "took {:.1} s to stop", r.seconds);
}

#[test]
fn a_checkpoint_of_two_ranks_resumes_on_one() {
    let dir = temp("resume");
    let full = dir.join("full");
    let half = dir.join("half");
    let resumed = dir.join("resumed");
    for d in [&full, &half, &resumed] {
        std::fs::create_dir_all(d).unwrap();
    }
    let go = |ranks: usize, out: &Path, batch: &str, epochs: &str, extra: &[&str]| {
        let mut args = vec!["train", out.to_str().unwrap(), batch, epochs];
        args.extend(extra);
        let r = mpirun(ranks, &args, LIMIT);
        assert!(r.ok, "{}", r.stderr);
    };
    go(2, &full, "12", "2", &[]);
    go(2, &half, "12", "1", &[]);
    let ckpt = half.join("run/checkpoints/last.safetensors");
    assert!(ckpt.exists(), "no checkpoint at {}", ckpt.display());
    go(1, &resumed, "24", "2", &[ckpt.to_str().unwrap()]);
    // The resumed run's steps are the full run's second epoch.
    let (full, resumed) = (steps(&full), steps(&resumed));
    assert_eq!(resumed.len(), 4);
    let off = worst(&full[4..], &resumed);
    assert!(off <= 1e-5, "off by {off}");
    std::fs::remove_dir_all(&dir).ok();
}
