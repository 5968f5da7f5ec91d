//! What every optimiser shares, so that an optimiser's own file holds only its
//! hyper-parameters and its update rule: [`Optim`] keeps the parameter groups and their
//! per-parameter state, validates, steps, saves and loads; an [`UpdateRule`] says what one
//! parameter's update is.
//!
//! Adding an optimiser is one new file (a rule struct declared through `hyper_table!`,
//! which also writes its builder setters, its `UpdateRule` impl, `new` on
//! `Optim<TheRule>`, and `pub type TheName = Optim<TheRule>;`) plus its `mod`/`pub use`
//! lines in `optim/mod.rs`. `ARCHITECTURE.md` shows an example.

use super::group::{unsupported_dtype, IntoParamGroups, ParamGroups, Update};
use super::kernel::check_non_negative;
use super::state;
use super::Optimizer;
use crate::{Error, Result};
use std::fmt;
use strata_core::{DType, FloatElement, Gradients, Tensor};

/// The scalars of one parameter's update: its group's learning rate and weight decay, the
/// parameter's step count (1 on its first update) and whether its buffers were just
/// created (as zeros, or the rule's [`UpdateRule::initial_value`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepInfo {
    pub lr: f64,
    pub weight_decay: f64,
    pub step: u64,
    pub fresh: bool,
}

/// A hyper-parameter as a state dict stores it: a number (flags as 0/1).
pub trait HyperValue: Copy {
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl HyperValue for f64 {
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f64(v: f64) -> f64 {
        v
    }
}

impl HyperValue for bool {
    fn to_f64(self) -> f64 {
        if self {
            1.0
        } else {
            0.0
        }
    }
    fn from_f64(v: f64) -> bool {
        v != 0.0
    }
}

/// An optimiser's hyper-parameter table: names (saved as `defaults.<name>`), values in
/// that order, and the same values restored from a loaded state dict. Inside strata-nn
/// `hyper_table!` writes it from the struct's fields.
pub trait HyperTable: Sized {
    const NAMES: &'static [&'static str];
    fn values(&self) -> Vec<f64>;
    /// These hyper-parameters with `values` (in the order of [`HyperTable::NAMES`]).
    fn with_values(self, values: &[f64]) -> Self;
}

/// Declares a rule's hyper-parameter struct (public fields of [`HyperValue`] types), its
/// [`HyperTable`], named after the fields in declaration order, and the builder settings
/// on `Optim<Rule>`: a field marked `=> checked` gets a setter of its name that validates
/// the rule and returns a `Result` ([`Optim::with`]), one marked `=> flag` an infallible
/// one ([`Optim::with_flag`]); the field's doc comment documents both. Unmarked fields
/// get no setter (Adam sets its betas together, by hand).
macro_rules! hyper_table {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<const $c:ident: bool>)? {
            $($(#[$fmeta:meta])* pub $field:ident: $ty:ty $(=> $setter:ident)?,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq)]
        pub struct $name $(<const $c: bool>)? {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $(<const $c: bool>)? $crate::optim::HyperTable for $name $(<$c>)? {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];

            fn values(&self) -> Vec<f64> {
                vec![$($crate::optim::HyperValue::to_f64(self.$field)),*]
            }

            fn with_values(self, values: &[f64]) -> Self {
                let mut v = values.iter().copied();
                Self {
                    $($field: $crate::optim::HyperValue::from_f64(v.next().unwrap_or(f64::NAN)),)*
                }
            }
        }

        impl $(<const $c: bool>)? $crate::optim::Optim<$name $(<$c>)?> {
            $($crate::optim::rule::hyper_table!(
                @setter [$($setter)?] $(#[$fmeta])* $field: $ty
            );)*
        }
    };
    (@setter [] $(#[$fmeta:meta])* $field:ident: $ty:ty) => {};
    (@setter [checked] $(#[$fmeta:meta])* $field:ident: $ty:ty) => {
        $(#[$fmeta])*
        pub fn $field(self, $field: $ty) -> $crate::Result<Self> {
            self.with(|r| r.$field = $field)
        }
    };
    (@setter [flag] $(#[$fmeta:meta])* $field:ident: $ty:ty) => {
        $(#[$fmeta])*
        pub fn $field(self, $field: $ty) -> Self {
            self.with_flag(|r| r.$field = $field)
        }
    };
}
pub(crate) use hyper_table;

/// An optimiser's hyper-parameters (besides learning rate and weight decay, which are per
/// group) and its update rule. [`Optim`] does everything else.
///
/// ```
/// use strata_nn::optim::{HyperTable, Optim, Optimizer, StepInfo, UpdateRule};
/// use strata_nn::{Param, Result};
/// use strata_core::{FloatElement, Tensor};
///
/// /// Sign descent: w ← w − lr · sign(g).
/// #[derive(Clone, Copy, Debug)]
/// struct SignRule;
///
/// impl HyperTable for SignRule {
///     const NAMES: &'static [&'static str] = &[];
///     fn values(&self) -> Vec<f64> { Vec::new() }
///     fn with_values(self, _: &[f64]) -> Self { self }
/// }
///
/// impl UpdateRule for SignRule {
///     const BUFFERS: &'static [&'static str] = &[];
///     fn what(&self) -> &'static str { "SignSGD" }
///     fn validate(&self) -> Result<()> { Ok(()) }
///     fn buffers(&self) -> &'static [usize] { &[] }
///     fn apply<T: FloatElement>(&self, s: &StepInfo, w: &mut [T], g: &[T], _: &mut [&mut [T]]) {
///         let lr = T::from_f64(s.lr);
///         for (w, g) in w.iter_mut().zip(g) {
///             *w -= lr * g.signum();
///         }
///     }
/// }
///
/// let w = Param::new(Tensor::from_vec(vec![1.0f64, -1.0], &[2])?);
/// let mut opt = Optim::build(vec![w.clone()], 0.5, 0.0, SignRule)?;
/// let grads = w.mul(&w)?.sum_all()?.backward()?;
/// opt.step(&grads)?;
/// assert_eq!(w.to_vec::<f64>()?, vec![0.5, -0.5]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub trait UpdateRule: HyperTable + Clone + Copy + fmt::Debug + Send + Sync + 'static {
    /// The names of the per-parameter state buffers (PyTorch's, e.g. `exp_avg`), saved as
    /// `state.<g>.<p>.<name>`.
    const BUFFERS: &'static [&'static str];

    /// The optimiser's name, for messages.
    fn what(&self) -> &'static str;

    /// Checks the hyper-parameters; an [`Error::Config`] names the optimiser and the value.
    fn validate(&self) -> Result<()>;

    /// The buffers (indices into [`UpdateRule::BUFFERS`]) this configuration updates, in
    /// the order [`UpdateRule::apply`] receives them.
    fn buffers(&self) -> &'static [usize];

    /// The buffers a loaded state must hold for every parameter with state (default: all
    /// of [`UpdateRule::buffers`]; a rule whose buffers start from the gradient can
    /// recreate them).
    fn required_on_load(&self) -> &'static [usize] {
        self.buffers()
    }

    /// The value a new buffer starts from (default 0).
    fn initial_value(&self) -> f64 {
        0.0
    }

    /// One parameter's update in place: `w` the weights, `g` the gradient and `bufs` the
    /// buffers of [`UpdateRule::buffers`], all of one length.
    fn apply<T: FloatElement>(&self, s: &StepInfo, w: &mut [T], g: &[T], bufs: &mut [&mut [T]]);

    /// The hyper-parameter a one-cycle schedule cycles, by its name in
    /// [`HyperTable::NAMES`] (SGD's and RMSprop's `momentum`, Adam's `beta1`); `None` (the
    /// default) when there is none.
    const MOMENTUM: Option<&'static str> = None;

    /// The value of [`UpdateRule::MOMENTUM`], if any.
    fn momentum(&self) -> Option<f64> {
        let i = momentum_index::<Self>()?;
        self.values().get(i).copied()
    }

    /// Sets the value [`UpdateRule::momentum`] reports; `false` when there is none.
    fn set_momentum(&mut self, momentum: f64) -> bool {
        let Some(i) = momentum_index::<Self>() else {
            return false;
        };
        let mut values = self.values();
        values[i] = momentum;
        *self = self.with_values(&values);
        true
    }
}

/// Where [`UpdateRule::MOMENTUM`] stands in the rule's [`HyperTable::NAMES`].
fn momentum_index<R: UpdateRule>() -> Option<usize> {
    let name = R::MOMENTUM?;
    R::NAMES.iter().position(|&n| n == name)
}

/// An optimiser: parameter groups with their per-parameter state, driven by an update rule
/// `R`. [`SGD`](super::SGD), [`Adam`](super::Adam), [`AdamW`](super::AdamW),
/// [`RMSprop`](super::RMSprop) and [`Adagrad`](super::Adagrad) are `Optim`s; see
/// [`UpdateRule`] for writing another.
#[derive(Clone, Debug)]
pub struct Optim<R> {
    groups: ParamGroups,
    rule: R,
}

impl<R: UpdateRule> Optim<R> {
    /// An optimiser over `params` (parameters or [`ParamGroup`](super::ParamGroup)s) with
    /// default learning rate `lr` and weight decay `weight_decay`. Everything is checked
    /// now: rates, the rule's hyper-parameters, parameters listed in two groups.
    pub fn build(
        params: impl IntoParamGroups,
        lr: f64,
        weight_decay: f64,
        rule: R,
    ) -> Result<Optim<R>> {
        let groups = ParamGroups::new(rule.what(), params, lr, weight_decay);
        groups.validate()?;
        rule.validate()?;
        Ok(Optim { groups, rule })
    }

    /// The hyper-parameters.
    pub fn rule(&self) -> &R {
        &self.rule
    }

    /// This optimiser with `change` applied to its hyper-parameters, if they stay valid.
    pub(crate) fn with(mut self, change: impl FnOnce(&mut R)) -> Result<Optim<R>> {
        change(&mut self.rule);
        self.rule.validate()?;
        Ok(self)
    }

    /// This optimiser with `change` applied to its hyper-parameters, for settings that
    /// cannot make valid hyper-parameters invalid (a direction, a variant flag).
    pub(crate) fn with_flag(mut self, change: impl FnOnce(&mut R)) -> Optim<R> {
        change(&mut self.rule);
        self
    }

    /// Weight decay for groups without their own (finite, `>= 0`; how it applies is the
    /// optimiser's: an L2 term in the gradient, or AdamW's decoupled shrinking).
    pub fn weight_decay(mut self, weight_decay: f64) -> Result<Optim<R>> {
        check_non_negative(self.rule.what(), "weight_decay", weight_decay)?;
        self.groups.set_default_weight_decay(weight_decay);
        Ok(self)
    }
}

impl<R: UpdateRule> Optimizer for Optim<R> {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        // Groups and hyper-parameters can change after construction (groups_mut,
        // load_state_dict), so they are checked again, once per step.
        self.rule.validate()?;
        let rule = self.rule;
        for u in self.groups.updates(grads)? {
            let state = self.groups.state_mut(u.group, u.index);
            state.step += 1;
            let mut fresh = false;
            let mut bufs = Vec::with_capacity(rule.buffers().len());
            for &i in rule.buffers() {
                let (b, new) = state.buffer(i, &u.param);
                if new && rule.initial_value() != 0.0 {
                    b.fill_(rule.initial_value())?;
                }
                fresh |= new;
                bufs.push(b);
            }
            let info = StepInfo {
                lr: u.lr,
                weight_decay: u.weight_decay,
                step: state.step,
                fresh,
            };
            match u.param.dtype() {
                DType::F32 => apply::<f32, R>(&rule, &info, &u, &bufs)?,
                DType::F64 => apply::<f64, R>(&rule, &info, &u, &bufs)?,
                other => return Err(unsupported_dtype(rule.what(), other)),
            }
        }
        Ok(())
    }

    fn groups(&self) -> &ParamGroups {
        &self.groups
    }

    fn groups_mut(&mut self) -> &mut ParamGroups {
        &mut self.groups
    }

    fn momentum_or_beta1(&self) -> Option<f64> {
        self.rule.momentum()
    }

    fn set_momentum_or_beta1(&mut self, momentum: f64) -> Result<()> {
        let mut rule = self.rule;
        if !rule.set_momentum(momentum) {
            return Err(Error::config(
                rule.what(),
                "this optimiser has no momentum (or beta1) to set",
            ));
        }
        rule.validate()?;
        self.rule = rule;
        Ok(())
    }

    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let hypers: Vec<(&str, f64)> = R::NAMES.iter().copied().zip(self.rule.values()).collect();
        state::save(&self.groups, R::BUFFERS, &hypers)
    }

    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let loaded = state::parse(&self.groups, entries, R::BUFFERS, R::NAMES)?;
        let values: Vec<f64> = (0..R::NAMES.len()).map(|i| loaded.hyper(i)).collect();
        let rule = self.rule.with_values(&values);
        rule.validate()?;
        loaded.require_buffers(rule.what(), rule.required_on_load())?;
        loaded.commit(&mut self.groups);
        self.rule = rule;
        Ok(())
    }
}

/// Runs `rule` on one parameter in dtype `T`, holding the write locks of the weight and
/// the buffers for the whole update.
fn apply<T: FloatElement, R: UpdateRule>(
    rule: &R,
    info: &StepInfo,
    u: &Update,
    bufs: &[Tensor],
) -> Result<()> {
    let mut w = u.param.write::<T>()?;
    let g = u.grad.read::<T>()?;
    let mut guards = Vec::with_capacity(bufs.len());
    for b in bufs {
        guards.push(b.write::<T>()?);
    }
    let mut slices: Vec<&mut [T]> = guards.iter_mut().map(|b| &mut **b).collect();
    rule.apply(info, &mut w, &g, &mut slices);
    Ok(())
}
