//! Runs the bands of a batch through every step, one thread per band, and keeps the threads
//! busy to the end: a thread whose band is done asks for work, and the next band to finish a
//! step hands it half of its rows for the remaining steps.
//!
//! The cores of a virtual machine do not run equally fast (a core's neighbour may be busy),
//! and with fixed bands the faster thread waited for the slower one at the end of every
//! call: on the 2-core Zen 4 measured, the two bands of one W3 call finished 0–13 % apart
//! in quiet runs and 32–47 % apart in a slow spell, and one profile found the caller
//! waiting at band ends for 3 % of a training step's samples. One row is 6 % of a 16-row
//! band, too coarse to even the bands out ahead of time. A batch row's recurrence never
//! reads another row, so rows can change threads between any two steps. Measured on W3
//! (alternating builds): the same speed in quiet runs (0.999×), 6 % faster with a
//! low-priority busy loop sharing one of the two cores (0.94×).

use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use strata_core::kernels::parallel::for_each_piece;
use strata_core::Result;

/// How long a thread waiting for rows polls without giving up its core: a band hands out
/// rows after its current step, tens of microseconds in W3.
const SPIN: Duration = Duration::from_micros(200);

/// Rows of a batch that can be cut in two between steps.
pub(super) trait Band: Send + Sized {
    /// Batch rows in this band.
    fn rows(&self) -> usize;

    /// Keeps the first `at` rows (`0 < at < rows`) and returns the others as a band.
    fn split_off(&mut self, at: usize) -> Self;
}

/// Runs `step(band, p)` for `p` in `0..steps` on every band, in order of `p` within a band.
/// One band runs directly (its products and gate kernels then share their own work between
/// threads); more run one per thread, rows moving to a thread that runs out of work when
/// `may_split` (only where a row's results do not depend on the rows computed beside it,
/// so that they do not depend on timing either). The first error any step returns is
/// returned, once every band has stopped.
pub(super) fn run<X: Band>(
    bands: Vec<X>,
    steps: usize,
    may_split: bool,
    step: impl Fn(&mut X, usize) -> Result<()> + Sync,
) -> Result<()> {
    let requests = if may_split { forced_requests() } else { 0 };
    if bands.len() == 1 && requests == 0 {
        for mut band in bands {
            for p in 0..steps {
                step(&mut band, p)?;
            }
        }
        return Ok(());
    }
    let threads = bands.len();
    let board = Board {
        queue: Mutex::new(bands.into_iter().map(|b| Some((b, 0))).collect()),
        running: AtomicUsize::new(0),
        hungry: AtomicUsize::new(requests),
        error: Mutex::new(None),
        may_split,
    };
    // Inside a piece the team is taken, so a band's products and kernels run on its own
    // thread. The team hands piece `k` to thread `k` first, and piece `k` starts with band
    // `k`: a band's rows stay on the core that ran them in the last call.
    for_each_piece(threads, |k| board.work(k, steps, &step));
    match board.error.into_inner() {
        Ok(Some(e)) => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
thread_local! {
    /// Requests for rows every call on this thread starts with, so tests can see bands
    /// split whatever the timing.
    static FORCED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Runs `f` with every call of [`run`] on this thread starting as if `requests` threads
/// had asked for rows: the first bands to finish a step split whether or not a thread is
/// free to take the rows.
#[cfg(test)]
pub(super) fn with_forced_splits<R>(requests: usize, f: impl FnOnce() -> R) -> R {
    FORCED.with(|c| c.set(requests));
    let out = f();
    FORCED.with(|c| c.set(0));
    out
}

fn forced_requests() -> usize {
    #[cfg(test)]
    return FORCED.with(|c| c.get());
    #[cfg(not(test))]
    0
}

/// What the threads running one call's bands share.
struct Board<X> {
    /// Bands waiting for a thread, each with the first step it has not run: the call's
    /// bands (slot `k` for thread `k`), then the rows split off running bands.
    queue: Mutex<Vec<Option<(X, usize)>>>,
    /// Bands taken from the queue and not finished.
    running: AtomicUsize,
    /// Threads waiting for rows and not yet promised any.
    hungry: AtomicUsize,
    /// The first error a step returned.
    error: Mutex<Option<strata_core::Error>>,
    /// Whether bands may be split at all.
    may_split: bool,
}

impl<X: Band> Board<X> {
    /// Thread `k`'s share: band `k`, then whatever is queued, until every band is done.
    fn work(&self, k: usize, steps: usize, step: &(impl Fn(&mut X, usize) -> Result<()> + Sync)) {
        // Whether this thread has a request for rows standing, and since when.
        let mut asked = false;
        let mut waiting_since = Instant::now();
        loop {
            match self.take(k) {
                Taken::Band(band, from) => {
                    // Rows split off were promised to one hungry thread; if this thread
                    // took them without asking, that thread's request stands again, and a
                    // thread that asked but took a band of the call withdraws its own.
                    if from > 0 && !asked {
                        self.hungry.fetch_add(1, SeqCst);
                    } else if from == 0 && asked {
                        self.withdraw();
                    }
                    asked = false;
                    let _done = Finished(&self.running);
                    if let Err(e) = self.run_band(band, from, steps, step)
                        && let Ok(mut slot) = self.error.lock()
                    {
                        slot.get_or_insert(e);
                    }
                }
                Taken::Wait => {
                    if !asked {
                        self.hungry.fetch_add(1, SeqCst);
                        asked = true;
                        waiting_since = Instant::now();
                    }
                    if waiting_since.elapsed() < SPIN {
                        // Polls the queue now and then, not on every spin.
                        for _ in 0..64 {
                            std::hint::spin_loop();
                        }
                    } else {
                        // No rows for a while (the bands left may be single rows): lets
                        // other work have the core meanwhile.
                        std::thread::yield_now();
                    }
                }
                Taken::AllDone => return,
            }
        }
    }

    /// Runs `band` from step `from` to the end, giving half of its rows to a hungry thread
    /// between steps.
    fn run_band(
        &self,
        mut band: X,
        from: usize,
        steps: usize,
        step: &(impl Fn(&mut X, usize) -> Result<()> + Sync),
    ) -> Result<()> {
        for p in from..steps {
            step(&mut band, p)?;
            let rows = band.rows();
            if self.may_split && p + 1 < steps && rows >= 2 && self.promise_rows() {
                let rest = band.split_off(rows - rows / 2);
                // Counted as running before it is queued: a thread that finds the queue
                // empty and nothing running may leave.
                self.running.fetch_add(1, SeqCst);
                self.queue().push(Some((rest, p + 1)));
            }
        }
        Ok(())
    }

    /// The queue, also after a panic elsewhere (no code that can panic runs while it is
    /// held, and a band queued must still run, or the other threads would wait for it).
    fn queue(&self) -> MutexGuard<'_, Vec<Option<(X, usize)>>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a hungry thread's request, if there is one.
    fn promise_rows(&self) -> bool {
        self.hungry.load(Relaxed) > 0 && self.withdraw()
    }

    /// Removes one request for rows; false if there was none.
    fn withdraw(&self) -> bool {
        self.hungry
            .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Band `k` if still queued, else the last queued band; `Wait` while bands run that may
    /// still hand out rows (never when bands may not split: the thread is then done).
    fn take(&self, k: usize) -> Taken<X> {
        let mut queue = self.queue();
        let own = queue.get_mut(k).and_then(Option::take);
        let found = own.or_else(|| queue.iter_mut().rev().find_map(Option::take));
        match found {
            Some((band, from)) => {
                // Split-off bands were counted when queued; the call's own bands now.
                if from == 0 {
                    self.running.fetch_add(1, SeqCst);
                }
                Taken::Band(band, from)
            }
            // Read under the lock: a band queues what it splits off before it finishes.
            None if self.may_split && self.running.load(SeqCst) > 0 => Taken::Wait,
            None => Taken::AllDone,
        }
    }
}

enum Taken<X> {
    Band(X, usize),
    Wait,
    AllDone,
}

/// Counts a band finished when dropped, also when its step panicked: the other threads
/// then stop waiting for it.
struct Finished<'a>(&'a AtomicUsize);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batch rows `first..first + rows`; each step logs `(row, step)` for its rows.
    struct Rows {
        first: usize,
        rows: usize,
    }

    impl Band for Rows {
        fn rows(&self) -> usize {
            self.rows
        }

        fn split_off(&mut self, at: usize) -> Rows {
            let rest = Rows {
                first: self.first + at,
                rows: self.rows - at,
            };
            self.rows = at;
            rest
        }
    }

    /// Bands of `sizes` rows run for `steps` steps; returns each row's steps in the order
    /// they ran.
    fn run_logged(
        sizes: &[usize],
        steps: usize,
        slow_band_0: bool,
        fail_at: Option<(usize, usize)>,
    ) -> (Vec<Vec<usize>>, Result<()>) {
        let total: usize = sizes.iter().sum();
        let mut first = 0;
        let bands: Vec<Rows> = sizes
            .iter()
            .map(|&rows| {
                first += rows;
                Rows {
                    first: first - rows,
                    rows,
                }
            })
            .collect();
        let log = Mutex::new(vec![Vec::new(); total]);
        let out = run(bands, steps, true, |band, p| {
            if slow_band_0 && band.first < sizes[0] {
                std::thread::sleep(Duration::from_micros(300));
            }
            for r in band.first..band.first + band.rows {
                if fail_at == Some((r, p)) {
                    return Err(strata_core::Error::InvalidArgument {
                        op: "test",
                        arg: "row",
                        reason: format!("row {r} fails at step {p}"),
                    });
                }
                log.lock().unwrap()[r].push(p);
            }
            Ok(())
        });
        (log.into_inner().unwrap(), out)
    }

    #[test]
    fn every_row_runs_every_step_once_in_order() {
        let steps = 9;
        for requests in [0, 1, 3, 20] {
            for sizes in [&[8, 8][..], &[5, 3, 7], &[1, 1], &[16]] {
                for slow in [false, true] {
                    let (log, out) =
                        with_forced_splits(requests, || run_logged(sizes, steps, slow, None));
                    out.unwrap();
                    for (row, ran) in log.iter().enumerate() {
                        assert_eq!(
                            *ran,
                            (0..steps).collect::<Vec<_>>(),
                            "row {row} of {sizes:?}, {requests} requests, slow {slow}"
                        );
                    }
                }
            }
        }
    }

    /// With requests standing, a band splits after its first step: the rows split off
    /// run their remaining steps as a band of their own.
    #[test]
    fn requests_split_bands_between_steps() {
        let splits = Mutex::new(Vec::new());
        struct Logged<'a> {
            rows: Rows,
            splits: &'a Mutex<Vec<(usize, usize)>>,
        }
        impl Band for Logged<'_> {
            fn rows(&self) -> usize {
                self.rows.rows
            }
            fn split_off(&mut self, at: usize) -> Self {
                let rest = self.rows.split_off(at);
                self.splits.lock().unwrap().push((rest.first, rest.rows));
                Logged {
                    rows: rest,
                    splits: self.splits,
                }
            }
        }
        let band = Logged {
            rows: Rows { first: 0, rows: 8 },
            splits: &splits,
        };
        with_forced_splits(3, || run(vec![band], 5, true, |_, _| Ok(()))).unwrap();
        // 8 rows keep 4, then 2, then 1: the later halves go at each step. (The requests
        // stand again when no thread that asked takes the rows, so the pieces split too.)
        let splits = splits.into_inner().unwrap();
        assert_eq!(splits[..3], [(4, 4), (2, 2), (1, 1)]);
    }

    #[test]
    fn an_error_comes_back_after_every_band_stops() {
        for requests in [0, 2] {
            let (log, out) =
                with_forced_splits(requests, || run_logged(&[6, 6], 7, false, Some((8, 3))));
            let err = out.unwrap_err().to_string();
            assert!(err.contains("row 8 fails at step 3"), "{err}");
            // The rows before the failing one in its band stop there too; the other band
            // runs to the end.
            assert_eq!(log[0], (0..7).collect::<Vec<_>>(), "{requests}");
            assert!(log[8].len() == 3, "{:?}", log[8]);
        }
    }

    /// A step that panics on one thread does not leave the other waiting for its band.
    #[test]
    fn a_panic_in_a_step_ends_the_call() {
        let out = std::panic::catch_unwind(|| {
            let bands = vec![Rows { first: 0, rows: 4 }, Rows { first: 4, rows: 4 }];
            run(bands, 6, true, |band, p| {
                if band.first == 4 && p == 2 {
                    panic!("step 2 of the second band");
                }
                std::thread::sleep(Duration::from_micros(100));
                Ok(())
            })
        });
        assert!(out.is_err());
    }
}
