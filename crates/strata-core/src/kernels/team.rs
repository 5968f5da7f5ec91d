//! A small team of helper threads with microsecond hand-offs, for the short parallel
//! regions a training step is made of (one matrix product, one recurrent step).
//!
//! A region of 20–500 µs cannot go through rayon from an outside thread: the caller sleeps
//! on a latch and a sleeping worker must be woken, and on a virtual machine each wake-up
//! costs tens of microseconds (measured 20–80 µs per parallel region here). So the team
//! works differently:
//! - the caller publishes a job (`chunks` pieces of work) and starts claiming pieces itself;
//! - helpers spin briefly after each job, so back-to-back products find them awake, and
//!   park when idle;
//! - pieces are claimed one at a time from atomic counters, so a helper that wakes late
//!   just finds less to do, and the caller never waits for a helper to *start*, only for a
//!   piece already in progress to finish;
//! - each thread first claims from its own share of the pieces (the caller the first
//!   `chunks / threads`, helper `k` the next), and only then from the others' shares: the
//!   same piece of a repeated job (a band of a matrix product, a chunk of an optimiser's
//!   state) goes to the same core each time and finds its data in that core's cache. With
//!   one counter handing pieces out in order, a chunk of W1's Adam state went to whichever
//!   thread asked first; in the slow spells of the virtual machines measured here (two
//!   threads slower than one, as if the cores did not share a last-level cache) W1-b16 ran
//!   about twice as fast with shares (BENCHMARKS, 2026-12-04).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long an idle helper keeps polling for the next job before it parks.
const SPIN: Duration = Duration::from_micros(300);
/// The first part of that wait, polled without giving up the core.
const SPIN_HOT: Duration = Duration::from_micros(30);

/// A job as the helpers see it: a type-erased `&dyn Fn(usize)` and the claim counter.
struct Shared {
    /// Bumped once per job; helpers watch it.
    generation: AtomicU64,
    /// Set when the caller has claimed the last piece: no helper may enter after it.
    closed: AtomicBool,
    /// Helpers currently inside the job.
    active: AtomicUsize,
    /// Each thread's share of the pieces (the caller's first).
    shares: Vec<Share>,
    /// `*const &(dyn Fn(usize) + Sync)`, valid while `closed` is false or `active > 0`.
    job: AtomicUsize,
    /// Set if a piece of work panicked on a helper.
    poisoned: AtomicBool,
    /// One flag per helper: parked (or about to park) and needs an unpark.
    sleeping: Vec<AtomicBool>,
}

/// The next unclaimed piece of one thread's share, and where the share ends. One cache line
/// each: a thread claims its own pieces without taking the line from the thread beside it.
#[repr(align(64))]
struct Share {
    next: AtomicUsize,
    end: AtomicUsize,
}

struct Team {
    shared: Arc<Shared>,
    helpers: Vec<Thread>,
    /// Held by the one caller using the team; others run their product alone.
    busy: AtomicBool,
}

/// Runs `f(c)` for every `c in 0..chunks`, sharing the pieces between the calling thread
/// and the team's helpers. Returns when every piece has finished.
pub(crate) fn run(chunks: usize, f: &(dyn Fn(usize) + Sync)) {
    let team = match team() {
        Some(t)
            if chunks > 1
                && t.busy
                    .compare_exchange(false, true, Acquire, Relaxed)
                    .is_ok() =>
        {
            t
        }
        _ => return (0..chunks).for_each(f),
    };
    let s = &team.shared;
    // The previous job is over (closed, no helper active): its fields may be rewritten.
    let job: *const &(dyn Fn(usize) + Sync) = &f;
    s.job.store(job as usize, Relaxed);
    let shares = s.shares.len();
    for (k, share) in s.shares.iter().enumerate() {
        share.next.store(chunks * k / shares, Relaxed);
        share.end.store(chunks * (k + 1) / shares, Relaxed);
    }
    s.closed.store(false, SeqCst);
    s.generation.fetch_add(1, SeqCst);
    for (flag, helper) in s.sleeping.iter().zip(&team.helpers) {
        if flag.load(SeqCst) {
            helper.unpark();
        }
    }
    // Closes the job and waits for helpers inside it, also if `f` panics here.
    let _close = Close(team);
    claim_all(s, 0, f);
}

/// Ends the caller's job: no helper may enter after it, and it returns once the helpers
/// inside have left, so the job's closure outlives every use.
struct Close(&'static Team);

impl Drop for Close {
    fn drop(&mut self) {
        let s = &self.0.shared;
        s.closed.store(true, SeqCst);
        while s.active.load(SeqCst) > 0 {
            std::hint::spin_loop();
        }
        self.0.busy.store(false, Release);
        if s.poisoned.swap(false, SeqCst) && !std::thread::panicking() {
            panic!("a piece of parallel work panicked on a helper thread");
        }
    }
}

/// Runs pieces until none is left unclaimed: those of share `me` first, then the others'.
fn claim_all(s: &Shared, me: usize, f: &(dyn Fn(usize) + Sync)) {
    let shares = s.shares.len();
    for k in (me..shares).chain(0..me) {
        let share = &s.shares[k];
        let end = share.end.load(Relaxed);
        loop {
            let c = share.next.fetch_add(1, AcqRel);
            if c >= end {
                break;
            }
            f(c);
        }
    }
}

fn helper_loop(s: Arc<Shared>, me: usize) {
    let mut seen = s.generation.load(SeqCst);
    loop {
        // Wait for a new job: poll for a while, then park.
        let start = Instant::now();
        while s.generation.load(SeqCst) == seen {
            let waited = start.elapsed();
            if waited < SPIN_HOT {
                std::hint::spin_loop();
                continue;
            }
            if waited < SPIN {
                // Still ready within microseconds, but other threads (rayon's workers,
                // the caller's own pool) get the core when they need it.
                std::thread::yield_now();
                continue;
            }
            s.sleeping[me].store(true, SeqCst);
            if s.generation.load(SeqCst) == seen {
                std::thread::park();
            }
            s.sleeping[me].store(false, SeqCst);
        }
        seen = s.generation.load(SeqCst);
        // Enter the job unless the caller already closed it (then it may be gone).
        s.active.fetch_add(1, SeqCst);
        if !s.closed.load(SeqCst) {
            // SAFETY: the job is open and we are counted in `active`, so the caller is still
            // inside `run` and the closure it published is alive.
            let f = unsafe { *(s.job.load(Relaxed) as *const &(dyn Fn(usize) + Sync)) };
            // A panic must not kill the helper while it is counted in `active`: the caller
            // would wait for it forever. It is reported to the caller instead.
            let run =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| claim_all(&s, me + 1, f)));
            if run.is_err() {
                s.poisoned.store(true, SeqCst);
            }
        }
        s.active.fetch_sub(1, SeqCst);
    }
}

/// The process-wide team: `num_threads() - 1` helpers, or none on one thread.
fn team() -> Option<&'static Team> {
    static TEAM: OnceLock<Option<Team>> = OnceLock::new();
    TEAM.get_or_init(|| {
        let n = crate::kernels::parallel::num_threads().saturating_sub(1);
        if n == 0 {
            return None;
        }
        let shared = Arc::new(Shared {
            generation: AtomicU64::new(0),
            closed: AtomicBool::new(true),
            active: AtomicUsize::new(0),
            shares: (0..=n)
                .map(|_| Share {
                    next: AtomicUsize::new(0),
                    end: AtomicUsize::new(0),
                })
                .collect(),
            job: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
            sleeping: (0..n).map(|_| AtomicBool::new(false)).collect(),
        });
        let mut helpers = Vec::with_capacity(n);
        for me in 0..n {
            let s = Arc::clone(&shared);
            let handle = std::thread::Builder::new()
                .name(format!("strata-team-{me}"))
                .spawn(move || helper_loop(s, me))
                .ok()?;
            helpers.push(handle.thread().clone());
        }
        Some(Team {
            shared,
            helpers,
            busy: AtomicBool::new(false),
        })
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::run;
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// Runs `pieces` pieces and returns how often each ran.
    fn counts(pieces: usize) -> Vec<usize> {
        let seen: Vec<AtomicUsize> = (0..pieces).map(|_| AtomicUsize::new(0)).collect();
        run(pieces, &|i| {
            seen[i].fetch_add(1, Relaxed);
        });
        seen.into_iter().map(|a| a.into_inner()).collect()
    }

    #[test]
    fn every_piece_runs_exactly_once_across_many_jobs() {
        for pieces in [0, 1, 2, 3, 17, 1000] {
            for _ in 0..50 {
                assert!(counts(pieces).iter().all(|&c| c == 1), "{pieces} pieces");
            }
        }
    }

    #[test]
    fn nested_and_concurrent_jobs_complete() {
        // A piece that starts its own job runs it on its own thread.
        let inner_total = AtomicUsize::new(0);
        run(8, &|_| {
            run(10, &|j| {
                inner_total.fetch_add(j, Relaxed);
            });
        });
        assert_eq!(inner_total.into_inner(), 8 * 45);
        // Two threads using the team at once: one gets it, the other runs alone.
        let handles: Vec<_> = (0..2).map(|_| std::thread::spawn(|| counts(500))).collect();
        for h in handles {
            assert!(h.join().is_ok_and(|c| c.iter().all(|&n| n == 1)));
        }
    }

    #[test]
    fn a_panicking_piece_reaches_the_caller_and_the_team_recovers() {
        let caught = std::panic::catch_unwind(|| {
            run(64, &|i| {
                if i % 2 == 1 {
                    panic!("piece {i} fails");
                }
            })
        });
        assert!(caught.is_err());
        assert!(counts(100).iter().all(|&c| c == 1));
    }
}
