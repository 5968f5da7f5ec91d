//! Optimisers with PyTorch's update rules and defaults: [`SGD`] (momentum, dampening,
//! Nesterov), [`Adam`] (AMSGrad, L2 weight decay), [`AdamW`] (decoupled weight decay),
//! [`RMSprop`] (momentum, centered) and [`Adagrad`].
//!
//! An optimiser holds clones of the parameters (which share their values with the model)
//! and updates them in place from the [`Gradients`] of a backward pass. Each update is one
//! fused pass over the weight, the gradient and the state buffers of a parameter, in the
//! parameter's dtype (f32 or f64). Frozen parameters and parameters without a gradient are
//! skipped, and their state does not advance.
//!
//! ```
//! use strata_nn::optim::{Adam, Optimizer};
//! use strata_nn::{Forward, Linear, ModuleExt};
//! use strata_core::Tensor;
//!
//! let model = Linear::new(3, 1)?;
//! let mut opt = Adam::new(model.parameters(), 1e-2)?.betas(0.9, 0.99)?.weight_decay(1e-4)?;
//! let (x, y) = (Tensor::randn(&[16, 3]), Tensor::randn(&[16, 1]));
//! for _ in 0..5 {
//!     let loss = model.forward(&x)?.sub(&y)?.square()?.mean_all()?;
//!     let grads = loss.backward()?;
//!     opt.step(&grads)?;
//! }
//! opt.set_lr(1e-3)?;                        // every group
//! let saved = opt.state_dict();             // step counts, moments, hyperparameters
//! let mut resumed = Adam::new(model.parameters(), 1e-2)?;
//! resumed.load_state_dict(&saved)?;
//! assert_eq!(resumed.lr(), 1e-3);
//! # Ok::<(), strata_nn::Error>(())
//! ```
//!
//! Hyperparameters are checked when they are set: constructors and builder settings return
//! a `Result`, and a negative learning rate or a beta outside `[0, 1)` is an
//! [`Error::Config`] naming the optimiser and the value. Each
//! optimiser is an [`Optim`] over its [`UpdateRule`] (the rule's file holds only its
//! hyper-parameters and update); [`Optimizer::set_lr`], [`ParamGroups`] and loaded states
//! are checked as well, and `step` checks again.

mod adagrad;
mod adam;
mod adamw;
mod group;
mod kernel;
mod rmsprop;
mod rule;
mod sgd;
mod state;
#[cfg(test)]
mod tests;

pub use adagrad::{Adagrad, AdagradRule};
pub use adam::{Adam, AdamRule};
pub use adamw::AdamW;
pub use group::{weight_decay_groups, IntoParamGroups, ParamGroup, ParamGroups};
pub use rmsprop::{RMSprop, RmspropRule};
pub use rule::{HyperTable, HyperValue, Optim, StepInfo, UpdateRule};
pub use sgd::{SgdRule, SGD};

use crate::{Error, Result};
use strata_core::{Gradients, Tensor};

/// An optimiser: updates its parameters in place from a backward pass's gradients.
///
/// Object safe, so schedulers and trainers take `&mut dyn Optimizer`. The built-in ones box
/// with `into()`, which keeps their update loops compiled in strata-nn (see the `From`
/// impls below):
///
/// ```
/// use strata_nn::optim::{Optimizer, SGD};
/// use strata_nn::{layers::Linear, ModuleExt};
/// let layer = Linear::new(4, 2)?;
/// let opt: Box<dyn Optimizer> = SGD::new(layer.parameters(), 0.1)?.momentum(0.9)?.into();
/// assert_eq!(opt.momentum_or_beta1(), Some(0.9));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub trait Optimizer: Send {
    /// Applies one update to every trainable parameter that has a gradient in `grads`.
    /// Hyperparameters and gradient shapes are checked first; on error nothing changes.
    fn step(&mut self, grads: &Gradients) -> Result<()>;

    /// The parameter groups with their learning rates and weight decays.
    fn groups(&self) -> &ParamGroups;

    /// Mutable access to the groups (per-group learning rate and weight decay, adding a
    /// group).
    fn groups_mut(&mut self) -> &mut ParamGroups;

    /// The learning rate of the first group (the default learning rate if there is none).
    fn lr(&self) -> f64 {
        self.groups().lr(0).unwrap_or(self.groups().default_lr)
    }

    /// Sets the learning rate of every group.
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        self.groups_mut().set_all_lr(lr)
    }

    /// The momentum a one-cycle schedule cycles: SGD's and RMSprop's `momentum`, Adam's
    /// `beta1`; `None` for optimisers without one (Adagrad).
    fn momentum_or_beta1(&self) -> Option<f64> {
        None
    }

    /// Sets the value [`Optimizer::momentum_or_beta1`] reports.
    fn set_momentum_or_beta1(&mut self, momentum: f64) -> Result<()> {
        let _ = momentum;
        Err(Error::config(
            self.groups().what(),
            "this optimiser has no momentum (or beta1) to set",
        ))
    }

    /// The whole state as named tensors (copies), PyTorch's `state_dict` flattened:
    ///
    /// - `defaults.lr`, `defaults.weight_decay` and `defaults.<hyperparameter>` (e.g.
    ///   `defaults.beta1`; booleans as 0/1), f64 scalars;
    /// - `param_groups.<g>.lr`, `param_groups.<g>.weight_decay`,
    ///   `param_groups.<g>.num_params`, f64 scalars;
    /// - `state.<g>.<p>.step` (f64 scalar) and `state.<g>.<p>.<buffer>` (e.g. `exp_avg`, in
    ///   the parameter's shape and dtype) for parameter `p` of group `g`, once it has been
    ///   updated.
    fn state_dict(&self) -> Vec<(String, Tensor)>;

    /// Restores a state saved by [`Optimizer::state_dict`] of an optimiser of the same kind
    /// over parameters of the same shapes. Checks everything first and changes nothing on
    /// error; the error lists every missing, unexpected or mis-shaped entry.
    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()>;
}

/// A boxed optimiser is an optimiser, so code that picks one at run time (from a config
/// file) can hand it to anything that takes `impl Optimizer`.
impl Optimizer for Box<dyn Optimizer> {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        (**self).step(grads)
    }
    fn groups(&self) -> &ParamGroups {
        (**self).groups()
    }
    fn groups_mut(&mut self) -> &mut ParamGroups {
        (**self).groups_mut()
    }
    fn lr(&self) -> f64 {
        (**self).lr()
    }
    fn set_lr(&mut self, lr: f64) -> Result<()> {
        (**self).set_lr(lr)
    }
    fn momentum_or_beta1(&self) -> Option<f64> {
        (**self).momentum_or_beta1()
    }
    fn set_momentum_or_beta1(&mut self, momentum: f64) -> Result<()> {
        (**self).set_momentum_or_beta1(momentum)
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        (**self).state_dict()
    }
    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        (**self).load_state_dict(entries)
    }
}

/// The built-in optimisers boxed by strata-nn itself:
///
/// ```
/// use strata_nn::optim::{Adam, Optimizer};
/// use strata_nn::{layers::Linear, ModuleExt};
/// let layer = Linear::new(4, 2)?;
/// let opt: Box<dyn Optimizer> = Adam::new(layer.parameters(), 1e-3)?.into();
/// assert_eq!(opt.lr(), 1e-3);
/// # Ok::<(), strata_nn::Error>(())
/// ```
///
/// Why not `Box::new(adam)`: the update loops are generic code, and a release build compiles
/// generic code in the crate that names it, at that crate's optimisation level. Boxed with
/// `into()` they are compiled once, here, at strata-nn's; the `strata` binary, whose own
/// code builds at opt-level 1 (`Cargo.toml`), relies on that (boxed in the binary, Adam's
/// update took about 4× as long: MNIST MLP, 20 % of a slower epoch against 7 %).
macro_rules! boxed_in_strata_nn {
    ($($optimiser:ty),*) => {$(
        impl From<$optimiser> for Box<dyn Optimizer> {
            fn from(optimiser: $optimiser) -> Box<dyn Optimizer> {
                Box::new(optimiser)
            }
        }
    )*};
}
boxed_in_strata_nn!(SGD, Adam, AdamW, RMSprop, Adagrad);
