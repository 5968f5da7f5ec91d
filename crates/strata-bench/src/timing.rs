//! The timing rules of `../shared/BENCHMARKS.md`: warm up, then time repeats with a
//! monotonic clock; the process's CPU time beside the wall time shows how many cores
//! worked, and its peak resident memory what the workload cost in memory.

use std::time::Instant;

/// Warm-up steps before any timing (the rules ask for at least 5).
pub const WARMUP: usize = 5;
/// Timed repeats; the figure is their median.
pub const REPEATS: usize = 3;

/// Wall seconds of each repeat and CPU time over wall time across them all.
#[derive(Clone, Debug)]
pub struct Timing {
    pub seconds: Vec<f64>,
    pub cpu_util: f64,
}

/// Calls `work(warmup)` untimed, then `work(count)` `repeats` times timed; `work(n)` does
/// `n` steps (training steps, products).
pub fn time_repeats<E>(
    warmup: usize,
    count: usize,
    repeats: usize,
    mut work: impl FnMut(usize) -> Result<(), E>,
) -> Result<Timing, E> {
    work(warmup)?;
    let (mut seconds, mut wall, mut cpu) = (Vec::with_capacity(repeats), 0.0, 0.0);
    for _ in 0..repeats {
        let (w0, c0) = (Instant::now(), cpu_seconds());
        work(count)?;
        let w = w0.elapsed().as_secs_f64();
        cpu += cpu_seconds() - c0;
        wall += w;
        seconds.push(w);
    }
    Ok(Timing {
        seconds,
        cpu_util: if wall > 0.0 { cpu / wall } else { 0.0 },
    })
}

/// [`time_repeats`] for two kinds of work taken in turn (`a`, `b`, `a`, `b`, …), so that a
/// figure and the ceiling measured beside it see the same state of a shared machine, whose
/// speed can drift by half within a minute.
pub fn time_alternating<E>(
    warmup: usize,
    count: usize,
    repeats: usize,
    mut a: impl FnMut(usize) -> Result<(), E>,
    mut b: impl FnMut(usize) -> Result<(), E>,
) -> Result<(Timing, Timing), E> {
    a(warmup)?;
    b(warmup)?;
    let (mut ta, mut tb) = (Vec::with_capacity(repeats), Vec::with_capacity(repeats));
    for _ in 0..repeats {
        ta.push(time_repeats(0, count, 1, &mut a)?);
        tb.push(time_repeats(0, count, 1, &mut b)?);
    }
    Ok((Timing::joined(&ta), Timing::joined(&tb)))
}

impl Timing {
    /// One timing of several, their CPU use weighted by their wall time.
    fn joined(parts: &[Timing]) -> Timing {
        let seconds: Vec<f64> = parts.iter().flat_map(|t| t.seconds.clone()).collect();
        let wall: f64 = seconds.iter().sum();
        let cpu: f64 = parts
            .iter()
            .map(|t| t.cpu_util * t.seconds.iter().sum::<f64>())
            .sum();
        Timing {
            seconds,
            cpu_util: if wall > 0.0 { cpu / wall } else { 0.0 },
        }
    }
}

/// User plus system CPU seconds of this process so far, all threads.
pub fn cpu_seconds() -> f64 {
    let u = rusage();
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// The most resident memory this process has held, in MiB (`getrusage`'s `ru_maxrss`,
/// which Linux counts in KiB).
pub fn peak_rss_mib() -> f64 {
    rusage().ru_maxrss as f64 / 1024.0
}

fn rusage() -> libc::rusage {
    // SAFETY: `getrusage` only writes the struct it is given; a zeroed `rusage` is a valid
    // value of this plain C struct. RUSAGE_SELF cannot fail.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    }
}
