//! `STRATA_NUM_THREADS` holds even when rayon's global pool started first with its default
//! size (as when loading MNIST ran `rayon::join` before any kernel): a one-thread run must
//! not use every core. One test in this file: the thread count is set once per process.

#[test]
fn the_set_thread_count_wins_over_an_earlier_rayon_pool() {
    // SAFETY: the only test of this program, so no other test thread reads the environment
    // while it changes, and no Strata or rayon thread exists yet.
    unsafe { std::env::set_var("STRATA_NUM_THREADS", "1") };
    // Start rayon's global pool with its default size (all cores) before Strata's kernels.
    let (a, b) = rayon::join(|| 1, || 2);
    assert_eq!(a + b, 3);
    assert_eq!(strata_core::num_threads(), 1);
    // A product big enough to split across threads runs on this thread alone: the helpers'
    // team is never started, so the process has no `strata-team-*` thread.
    let x = strata_core::Tensor::randn(&[256, 256]);
    let _ = x.matmul(&x).unwrap();
    let helpers = std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .filter(|name| name.starts_with("strata-team"))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(helpers, 0);
}
