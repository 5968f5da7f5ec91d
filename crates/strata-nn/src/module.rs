//! The `Module` and `Forward` traits, the visitor that walks a module tree, and the
//! operations every module gets for free (named parameters, state dict, train/eval,
//! freezing).

use crate::error::{ShapeConflict, StateDictProblems};
use crate::{BatchStatsSync, Buffer, Error, Param, Result};
use std::sync::Arc;
use strata_core::Tensor;

/// A node of a model: it owns parameters, buffers and child modules, which it shows to a
/// [`Visitor`] under their local names. Names compose into PyTorch state-dict names
/// (`encoder.layers.1.bias`).
///
/// Implement it with `#[derive(Module)]`, which visits every field; write the forward pass
/// separately (usually `impl Forward`).
///
/// ```
/// use strata_nn::{Forward, Linear, Module, ModuleExt, Result};
/// use strata_core::Tensor;
///
/// /// y = x + f(x): a residual block as a user-defined module.
/// #[derive(Module)]
/// struct Residual {
///     inner: Linear,
///     outer: Linear,
///     #[module(skip)]
///     note: &'static str,
/// }
///
/// impl Forward for Residual {
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         let h = self.inner.forward(x)?.relu()?;
///         Ok(x.add(&self.outer.forward(&h)?)?)
///     }
/// }
///
/// let block = Residual { inner: Linear::new(4, 8)?, outer: Linear::new(8, 4)?, note: "demo" };
/// let names: Vec<String> = block.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["inner.weight", "inner.bias", "outer.weight", "outer.bias"]);
/// assert_eq!(block.forward(&Tensor::ones(&[2, 4]))?.shape(), &[2, 4]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub trait Module: Send + Sync {
    /// Shows this module's own parameters, buffers and child modules to `visitor`.
    fn visit(&self, visitor: &mut dyn Visitor);

    /// Short type name for summaries (`"Linear"`).
    fn type_name(&self) -> &'static str {
        short_type_name(std::any::type_name::<Self>())
    }

    /// Switches this module's own train/eval behaviour (children are reached separately by
    /// [`ModuleExt::train`] / [`ModuleExt::eval`]). Dropout and BatchNorm override it.
    fn set_training(&self, _training: bool) {}

    /// This module's own train/eval mode: `Some(true)` in training, `Some(false)` in
    /// evaluation, `None` for modules that behave the same in both (the default). Lets
    /// tools such as [`crate::summary`] switch to evaluation and restore the mode after.
    fn is_training(&self) -> Option<bool> {
        None
    }

    /// Installs (`Some`) or removes (`None`) this module's own channel to the other ranks
    /// of data-parallel training, and says whether it uses one (children are reached by
    /// [`ModuleExt::sync_batch_norm`]). BatchNorm overrides it; the default ignores it.
    fn set_batch_stats_sync(&self, _sync: Option<Arc<dyn BatchStatsSync>>) -> bool {
        false
    }

    /// Hyperparameters for summaries and `Debug`, e.g. `"in=784, out=10, bias=true"`.
    fn extra_repr(&self) -> String {
        String::new()
    }
}

/// A module with a single-tensor forward pass: what [`crate::Sequential`], summaries and the
/// trainer call.
pub trait Forward: Module {
    /// Computes the output for `input`.
    fn forward(&self, input: &Tensor) -> Result<Tensor>;
}

/// Receives what a module shows in [`Module::visit`].
pub trait Visitor {
    fn param(&mut self, name: &str, param: &Param);
    fn buffer(&mut self, name: &str, buffer: &Buffer);
    fn module(&mut self, name: &str, module: &dyn Module);
}

/// A field that `#[derive(Module)]` can visit: parameters, buffers, modules, and
/// collections of them. Plain numbers and flags are visited as nothing.
pub trait Visit {
    /// Shows `self` to `visitor` under `name`.
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor);
}

impl Visit for Param {
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor) {
        visitor.param(name, self);
    }
}

impl Visit for Buffer {
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor) {
        visitor.buffer(name, self);
    }
}

impl<M: Module> Visit for M {
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor) {
        visitor.module(name, self);
    }
}

impl<T: Visit> Visit for Vec<T> {
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor) {
        for (i, item) in self.iter().enumerate() {
            item.visit_as(&format!("{name}.{i}"), visitor);
        }
    }
}

impl<T: Visit> Visit for Option<T> {
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor) {
        if let Some(item) = self {
            item.visit_as(name, visitor);
        }
    }
}

impl Visit for Box<dyn Forward> {
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor) {
        visitor.module(name, self.as_ref());
    }
}

impl Visit for Box<dyn Module> {
    fn visit_as(&self, name: &str, visitor: &mut dyn Visitor) {
        visitor.module(name, self.as_ref());
    }
}

macro_rules! visit_nothing {
    ($($t:ty),*) => {$(
        impl Visit for $t {
            fn visit_as(&self, _: &str, _: &mut dyn Visitor) {}
        }
    )*};
}
visit_nothing!(
    bool,
    usize,
    isize,
    u8,
    u16,
    u32,
    u64,
    i8,
    i16,
    i32,
    i64,
    f32,
    f64,
    String,
    &'static str
);

/// `"strata_nn::layers::linear::Linear<f32>"` → `"Linear"`.
pub(crate) fn short_type_name(full: &'static str) -> &'static str {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Walks a module tree depth-first, calling the closures with full dotted names.
struct Walker<'f> {
    prefix: String,
    on_param: &'f mut dyn FnMut(&str, &Param),
    on_buffer: &'f mut dyn FnMut(&str, &Buffer),
    on_module: &'f mut dyn FnMut(&str, &dyn Module),
}

impl Visitor for Walker<'_> {
    fn param(&mut self, name: &str, param: &Param) {
        (self.on_param)(&join(&self.prefix, name), param);
    }
    fn buffer(&mut self, name: &str, buffer: &Buffer) {
        (self.on_buffer)(&join(&self.prefix, name), buffer);
    }
    fn module(&mut self, name: &str, module: &dyn Module) {
        let full = join(&self.prefix, name);
        (self.on_module)(&full, module);
        let saved = std::mem::replace(&mut self.prefix, full);
        module.visit(self);
        self.prefix = saved;
    }
}

/// Visits every parameter, buffer and sub-module (with full names) below `root`; the root
/// itself is reported to `on_module` with the name `""`.
pub fn walk(
    root: &dyn Module,
    on_param: &mut dyn FnMut(&str, &Param),
    on_buffer: &mut dyn FnMut(&str, &Buffer),
    on_module: &mut dyn FnMut(&str, &dyn Module),
) {
    on_module("", root);
    let mut w = Walker {
        prefix: String::new(),
        on_param,
        on_buffer,
        on_module,
    };
    root.visit(&mut w);
}

/// Operations every [`Module`] has.
pub trait ModuleExt: Module {
    /// All parameters with their state-dict names, in definition order.
    fn named_parameters(&self) -> Vec<(String, Param)> {
        let mut out = Vec::new();
        walk(
            self.as_dyn(),
            &mut |n, p| out.push((n.to_string(), p.clone())),
            &mut |_, _| {},
            &mut |_, _| {},
        );
        out
    }

    /// All parameters, in definition order.
    fn parameters(&self) -> Vec<Param> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The parameters that are not frozen.
    fn trainable_parameters(&self) -> Vec<Param> {
        self.parameters()
            .into_iter()
            .filter(|p| p.is_trainable())
            .collect()
    }

    /// All buffers with their state-dict names.
    fn named_buffers(&self) -> Vec<(String, Buffer)> {
        let mut out = Vec::new();
        walk(
            self.as_dyn(),
            &mut |_, _| {},
            &mut |n, b| out.push((n.to_string(), b.clone())),
            &mut |_, _| {},
        );
        out
    }

    /// Parameters and buffers by name, like PyTorch's `state_dict()`.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let mut buffers = Vec::new();
        walk(
            self.as_dyn(),
            &mut |n, p| out.push((n.to_string(), p.tensor().clone())),
            &mut |n, b| buffers.push((n.to_string(), b.tensor().clone())),
            &mut |_, _| {},
        );
        out.extend(buffers);
        out
    }

    /// Total number of parameter elements.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.numel()).sum()
    }

    /// Number of parameter elements that are trainable.
    fn num_trainable_parameters(&self) -> usize {
        self.trainable_parameters().iter().map(|p| p.numel()).sum()
    }

    /// Training mode for this module and all its descendants (dropout active, batch
    /// statistics in BatchNorm).
    fn train(&self) {
        walk(
            self.as_dyn(),
            &mut |_, _| {},
            &mut |_, _| {},
            &mut |_, m| m.set_training(true),
        );
    }

    /// Evaluation mode for this module and all its descendants.
    fn eval(&self) {
        walk(
            self.as_dyn(),
            &mut |_, _| {},
            &mut |_, _| {},
            &mut |_, m| m.set_training(false),
        );
    }

    /// Synchronised BatchNorm: every BatchNorm layer of this module and its descendants
    /// computes its training statistics over all ranks' batches through `sync` (`None`
    /// makes them local again, the default). Returns how many layers took it. Evaluation
    /// stays local (running statistics). See [`BatchStatsSync`].
    ///
    /// ```
    /// use strata_nn::{BatchNorm1d, BatchStatsSync, Linear, ModuleExt, Result, Sequential};
    /// struct Alone;
    /// impl BatchStatsSync for Alone {
    ///     fn all_reduce_sum(&self, _values: &mut [f64]) -> Result<()> { Ok(()) }
    ///     fn world(&self) -> usize { 1 }
    /// }
    /// let model = Sequential::new()
    ///     .push(Linear::new(4, 8)?)
    ///     .push(BatchNorm1d::new(8)?)
    ///     .push(Linear::new(8, 2)?)
    ///     .push(BatchNorm1d::new(2)?);
    /// assert_eq!(model.sync_batch_norm(Some(std::sync::Arc::new(Alone))), 2);
    /// assert_eq!(model.sync_batch_norm(None), 2);
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    fn sync_batch_norm(&self, sync: Option<Arc<dyn BatchStatsSync>>) -> usize {
        let mut layers = 0;
        walk(
            self.as_dyn(),
            &mut |_, _| {},
            &mut |_, _| {},
            &mut |_, m| layers += usize::from(m.set_batch_stats_sync(sync.clone())),
        );
        layers
    }

    /// Freezes every parameter (no gradients, no updates).
    fn freeze(&self) {
        self.parameters()
            .iter()
            .for_each(|p| p.set_trainable(false));
    }

    /// Makes every parameter trainable again.
    fn unfreeze(&self) {
        self.parameters().iter().for_each(|p| p.set_trainable(true));
    }

    /// Freezes (`trainable = false`) or unfreezes the parameters whose names start with
    /// `prefix` followed by a dot (or equal it): `set_trainable_prefix("features", false)`
    /// freezes a whole submodule. Returns how many parameters changed state.
    fn set_trainable_prefix(&self, prefix: &str, trainable: bool) -> usize {
        let mut n = 0;
        for (name, p) in self.named_parameters() {
            let inside = name == prefix || name.starts_with(&format!("{prefix}."));
            if inside {
                p.set_trainable(trainable);
                n += 1;
            }
        }
        n
    }

    /// Copies values from `entries` (name → tensor, e.g. a loaded checkpoint) into the
    /// parameters and buffers with the same names, converting dtypes as needed.
    ///
    /// Strict loading checks everything first and loads nothing unless every name matches
    /// and every shape agrees; the error lists all missing, unexpected and mis-shaped
    /// entries at once. Non-strict loading (for transfer learning) loads what matches and
    /// reports what it skipped.
    ///
    /// ```
    /// use strata_nn::{Linear, ModuleExt};
    /// let a = Linear::new(3, 2)?;
    /// let b = Linear::new(3, 2)?;
    /// b.load_state_dict(&a.state_dict(), true)?;
    /// assert_eq!(a.weight().to_vec::<f32>()?, b.weight().to_vec::<f32>()?);
    /// let wrong = Linear::new(4, 2)?;
    /// let err = wrong.load_state_dict(&a.state_dict(), true).unwrap_err();
    /// assert!(err.to_string().contains("weight: model has [2, 4], checkpoint has [2, 3]"));
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    fn load_state_dict(&self, entries: &[(String, Tensor)], strict: bool) -> Result<LoadReport> {
        let own = self.state_dict();
        let mut report = LoadReport::default();
        let mut plan: Vec<(Tensor, Tensor)> = Vec::new();
        for (name, target) in &own {
            match entries.iter().find(|(n, _)| n == name) {
                None => report.problems.missing.push(name.clone()),
                Some((_, src)) if src.shape() != target.shape() => {
                    report.problems.mismatched.push(ShapeConflict {
                        name: name.clone(),
                        expected: target.shape().to_vec(),
                        found: src.shape().to_vec(),
                    })
                }
                Some((_, src)) => {
                    plan.push((target.clone(), src.to_dtype(target.dtype())));
                    report.loaded.push(name.clone());
                }
            }
        }
        for (name, _) in entries {
            if !own.iter().any(|(n, _)| n == name) {
                report.problems.unexpected.push(name.clone());
            }
        }
        if strict && !report.problems.is_empty() {
            return Err(Error::StateDict(report.problems));
        }
        for (target, src) in plan {
            target.copy_from(&src)?;
        }
        Ok(report)
    }

    #[doc(hidden)]
    fn as_dyn(&self) -> &dyn Module;
}

/// What [`ModuleExt::load_state_dict`] did: the names it loaded and, for non-strict
/// loading, what it skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub loaded: Vec<String>,
    pub problems: StateDictProblems,
}

impl<M: Module> ModuleExt for M {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}

impl<'a> ModuleExt for dyn Module + 'a {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}

impl<'a> ModuleExt for dyn Forward + 'a {
    fn as_dyn(&self) -> &dyn Module {
        self
    }
}

/// Parameters in the order a list of modules defines them (for optimisers over several
/// models).
pub fn parameters_of(modules: &[&dyn Module]) -> Vec<Param> {
    modules.iter().flat_map(|m| m.parameters()).collect()
}
