//! Grad mode: whether ops record the graph on this thread.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True when ops on this thread record the graph for autodiff.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Turns graph recording off on this thread until dropped (then restores the previous mode).
///
/// ```
/// use strata_core::{NoGradGuard, Tensor, is_grad_enabled};
/// let w = Tensor::ones(&[2]).requires_grad_();
/// {
///     let _guard = NoGradGuard::new();
///     assert!(!is_grad_enabled());
///     assert!(!w.mul_scalar(2.0)?.requires_grad());
/// }
/// assert!(w.mul_scalar(2.0)?.requires_grad());
/// # Ok::<(), strata_core::Error>(())
/// ```
pub struct NoGradGuard {
    previous: bool,
    // Grad mode is per thread, so the guard must stay on the thread that made it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl NoGradGuard {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard {
            previous,
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Runs `f` with graph recording off (inference, evaluation, optimiser updates).
///
/// ```
/// use strata_core::{no_grad, Tensor};
/// let w = Tensor::ones(&[2]).requires_grad_();
/// let y = no_grad(|| w.mul_scalar(2.0))?;
/// assert!(!y.requires_grad());
/// # Ok::<(), strata_core::Error>(())
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}
