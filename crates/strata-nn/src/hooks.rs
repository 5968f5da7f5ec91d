//! Forward hooks: observe the output of every layer as a model runs, for summaries and
//! training monitors (activation statistics, dead units).
//!
//! Every built-in layer reports its output through [`emit`] (containers such as
//! [`crate::Sequential`] do not: their layers already do); a hook installed with
//! [`with_forward_hook`] sees the reports on the calling thread. A user-defined module
//! appears too if its forward pass calls `emit(self, &output)`. When no hook is installed,
//! `emit` costs one thread-local read.

use crate::Module;
use std::cell::RefCell;
use strata_core::Tensor;

type Hook = Box<dyn FnMut(&dyn Module, &Tensor)>;

thread_local! {
    static HOOKS: RefCell<Vec<Hook>> = const { RefCell::new(Vec::new()) };
}

/// Reports that `module` produced `output`. Call it at the end of a custom layer's forward
/// pass if the layer should appear in summaries and activation monitors.
pub fn emit(module: &dyn Module, output: &Tensor) {
    HOOKS.with(|h| {
        // A hook that itself runs a model would re-enter: skip nested reports then.
        if let Ok(mut hooks) = h.try_borrow_mut() {
            for hook in hooks.iter_mut() {
                hook(module, output);
            }
        }
    });
}

/// Runs `f` with `hook` receiving every reported `(module, output)` on this thread. The
/// hook is removed when `f` returns (or panics). Collect results through shared state:
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use strata_nn::{hooks, Forward, Linear, Module, ReLU, Sequential};
/// use strata_core::Tensor;
/// let model = Sequential::new().push(Linear::new(3, 4)?).push(ReLU::new());
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let sink = seen.clone();
/// hooks::with_forward_hook(
///     move |m, out| sink.borrow_mut().push((m.type_name(), out.shape().to_vec())),
///     || model.forward(&Tensor::ones(&[2, 3])),
/// )?;
/// assert_eq!(seen.borrow()[0], ("Linear", vec![2, 4]));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn with_forward_hook<R>(
    hook: impl FnMut(&dyn Module, &Tensor) + 'static,
    f: impl FnOnce() -> R,
) -> R {
    HOOKS.with(|h| h.borrow_mut().push(Box::new(hook)));
    struct Remove;
    impl Drop for Remove {
        fn drop(&mut self) {
            HOOKS.with(|h| {
                if let Ok(mut hooks) = h.try_borrow_mut() {
                    hooks.pop();
                }
            });
        }
    }
    let _remove = Remove;
    f()
}

/// A stable identity of a module instance during one traversal: its address and type.
/// (A struct and its first field share an address but not a type.)
pub fn module_key(module: &dyn Module) -> (usize, &'static str) {
    (
        module as *const dyn Module as *const () as usize,
        module.type_name(),
    )
}
