//! Parameter groups: which parameters an optimiser updates, with which learning rate and
//! weight decay, and the state it keeps for each parameter.

use super::kernel::check_non_negative;
use crate::{Error, Param, Result};
use std::collections::HashSet;
use strata_core::{DType, Gradients, Tensor};

/// A set of parameters with its own learning rate and/or weight decay (`None`: the
/// optimiser's default), like an entry of PyTorch's `param_groups`.
///
/// ```
/// use strata_nn::optim::{Optimizer, ParamGroup, SGD};
/// use strata_nn::Linear;
/// let body = Linear::new(4, 4)?;
/// let head = Linear::new(4, 2)?;
/// let opt = SGD::new(
///     vec![
///         ParamGroup::new(body.parameters()),               // default lr 0.1
///         ParamGroup::new(head.parameters()).lr(0.01).weight_decay(0.0),
///     ],
///     0.1,
/// )?;
/// assert_eq!(opt.groups().lrs(), vec![0.1, 0.01]);
/// # use strata_nn::ModuleExt;
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ParamGroup {
    pub params: Vec<Param>,
    pub lr: Option<f64>,
    pub weight_decay: Option<f64>,
}

impl ParamGroup {
    /// A group using the optimiser's default learning rate and weight decay.
    pub fn new(params: Vec<Param>) -> ParamGroup {
        ParamGroup {
            params,
            lr: None,
            weight_decay: None,
        }
    }

    /// This group's learning rate.
    pub fn lr(mut self, lr: f64) -> ParamGroup {
        self.lr = Some(lr);
        self
    }

    /// This group's weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> ParamGroup {
        self.weight_decay = Some(weight_decay);
        self
    }
}

/// What an optimiser accepts as its parameters: a list of parameters (one group) or a list
/// of [`ParamGroup`]s.
pub trait IntoParamGroups {
    fn into_param_groups(self) -> Vec<ParamGroup>;
}

impl IntoParamGroups for Vec<Param> {
    fn into_param_groups(self) -> Vec<ParamGroup> {
        vec![ParamGroup::new(self)]
    }
}

impl IntoParamGroups for &[Param] {
    fn into_param_groups(self) -> Vec<ParamGroup> {
        vec![ParamGroup::new(self.to_vec())]
    }
}

impl IntoParamGroups for ParamGroup {
    fn into_param_groups(self) -> Vec<ParamGroup> {
        vec![self]
    }
}

impl IntoParamGroups for Vec<ParamGroup> {
    fn into_param_groups(self) -> Vec<ParamGroup> {
        self
    }
}

impl<const N: usize> IntoParamGroups for [ParamGroup; N] {
    fn into_param_groups(self) -> Vec<ParamGroup> {
        self.into()
    }
}

/// Splits named parameters into two groups: `[decay, no_decay]`. The first gets
/// `weight_decay`; the second, weight decay 0, holds biases (names ending in `bias`) and
/// every parameter with fewer than 2 dimensions (normalisation weights and biases, scalars):
/// decaying those towards zero only hurts.
///
/// ```
/// use strata_nn::optim::{weight_decay_groups, AdamW, Optimizer};
/// use strata_nn::{Linear, ModuleExt, Sequential};
/// let model = Sequential::new().push(Linear::new(4, 8)?).push(Linear::new(8, 2)?);
/// let groups = weight_decay_groups(model.named_parameters(), 0.05);
/// assert_eq!(groups[0].params.len(), 2); // the two weights
/// assert_eq!(groups[1].params.len(), 2); // the two biases
/// let opt = AdamW::new(groups, 1e-3)?;
/// assert_eq!(opt.groups().weight_decay(0), Some(0.05));
/// assert_eq!(opt.groups().weight_decay(1), Some(0.0));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn weight_decay_groups(
    named_params: impl IntoIterator<Item = (String, Param)>,
    weight_decay: f64,
) -> Vec<ParamGroup> {
    let (no_decay, decay): (Vec<_>, Vec<_>) = named_params
        .into_iter()
        .partition(|(name, p)| p.ndim() < 2 || name.ends_with("bias"));
    vec![
        ParamGroup::new(decay.into_iter().map(|(_, p)| p).collect()).weight_decay(weight_decay),
        ParamGroup::new(no_decay.into_iter().map(|(_, p)| p).collect()).weight_decay(0.0),
    ]
}

/// What an optimiser keeps for one parameter: how many updates it has received and its
/// buffers (moments, momentum), created when first needed. Buffers have the parameter's
/// shape and dtype.
#[derive(Clone, Debug, Default)]
pub(crate) struct ParamState {
    pub(crate) step: u64,
    pub(crate) bufs: Vec<Option<Tensor>>,
}

impl ParamState {
    /// Buffer `i`, created as zeros shaped like `param` if missing; `true` when just created.
    pub(crate) fn buffer(&mut self, i: usize, param: &Tensor) -> (Tensor, bool) {
        if self.bufs.len() <= i {
            self.bufs.resize(i + 1, None);
        }
        match &self.bufs[i] {
            Some(b) => (b.clone(), false),
            None => {
                let b = Tensor::zeros_dtype(param.shape(), param.dtype()).aligned();
                self.bufs[i] = Some(b.clone());
                (b, true)
            }
        }
    }
}

/// One group as the optimiser holds it.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub(crate) params: Vec<Param>,
    pub(crate) lr: Option<f64>,
    pub(crate) weight_decay: Option<f64>,
    pub(crate) state: Vec<Option<ParamState>>,
}

/// One parameter due for an update in this step.
#[derive(Debug)]
pub(crate) struct Update {
    pub(crate) group: usize,
    pub(crate) index: usize,
    pub(crate) param: Tensor,
    pub(crate) grad: Tensor,
    pub(crate) lr: f64,
    pub(crate) weight_decay: f64,
}

/// An optimiser's parameter groups, their learning rates and weight decays, and the state
/// of every parameter. Reach it with [`Optimizer::groups`](super::Optimizer::groups) and
/// [`Optimizer::groups_mut`](super::Optimizer::groups_mut).
///
/// ```
/// use strata_nn::optim::{Adam, Optimizer, ParamGroup};
/// use strata_nn::Param;
/// use strata_core::Tensor;
/// let (a, b) = (Param::new(Tensor::ones(&[2])), Param::new(Tensor::ones(&[3])));
/// let mut opt = Adam::new(vec![ParamGroup::new(vec![a]), ParamGroup::new(vec![b])], 1e-3)?;
/// opt.groups_mut().set_lr(1, 1e-4)?;
/// assert_eq!(opt.groups().lrs(), vec![1e-3, 1e-4]);
/// assert_eq!(opt.groups().params(1).unwrap().len(), 1);
/// assert!(opt.groups_mut().set_lr(2, 0.1).is_err()); // no group 2
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ParamGroups {
    what: &'static str,
    pub(crate) default_lr: f64,
    pub(crate) default_weight_decay: f64,
    pub(crate) groups: Vec<Group>,
}

impl ParamGroups {
    pub(crate) fn new(
        what: &'static str,
        groups: impl IntoParamGroups,
        lr: f64,
        weight_decay: f64,
    ) -> ParamGroups {
        let mut out = ParamGroups {
            what,
            default_lr: lr,
            default_weight_decay: weight_decay,
            groups: Vec::new(),
        };
        for g in groups.into_param_groups() {
            out.push(g);
        }
        out
    }

    /// Adds a group. A parameter listed twice in it (a tied weight reached through two
    /// modules) is kept once, as PyTorch's `parameters()` does; across groups a repeat is
    /// an error ([`ParamGroups::validate`]).
    fn push(&mut self, g: ParamGroup) {
        let mut seen = HashSet::new();
        let params: Vec<Param> = g
            .params
            .into_iter()
            .filter(|p| seen.insert(p.id()))
            .collect();
        let n = params.len();
        self.groups.push(Group {
            params,
            lr: g.lr,
            weight_decay: g.weight_decay,
            state: vec![None; n],
        });
    }

    /// The optimiser's name, for messages.
    pub(crate) fn what(&self) -> &'static str {
        self.what
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// True when there is no group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Total number of parameters over all groups.
    pub fn num_params(&self) -> usize {
        self.groups.iter().map(|g| g.params.len()).sum()
    }

    /// The parameters of group `group`.
    pub fn params(&self, group: usize) -> Option<&[Param]> {
        self.groups.get(group).map(|g| g.params.as_slice())
    }

    /// The learning rate of group `group`.
    pub fn lr(&self, group: usize) -> Option<f64> {
        self.groups
            .get(group)
            .map(|g| g.lr.unwrap_or(self.default_lr))
    }

    /// Every group's learning rate, in group order.
    pub fn lrs(&self) -> Vec<f64> {
        (0..self.len()).filter_map(|g| self.lr(g)).collect()
    }

    /// The weight decay of group `group`.
    pub fn weight_decay(&self, group: usize) -> Option<f64> {
        self.groups
            .get(group)
            .map(|g| g.weight_decay.unwrap_or(self.default_weight_decay))
    }

    /// Sets the learning rate of group `group` (finite, `>= 0`).
    pub fn set_lr(&mut self, group: usize, lr: f64) -> Result<()> {
        check_non_negative(self.what, "lr", lr)?;
        self.group_mut(group)?.lr = Some(lr);
        Ok(())
    }

    /// Sets every group's learning rate (and the default for groups added later).
    pub fn set_all_lr(&mut self, lr: f64) -> Result<()> {
        check_non_negative(self.what, "lr", lr)?;
        self.default_lr = lr;
        self.groups.iter_mut().for_each(|g| g.lr = None);
        Ok(())
    }

    /// Sets the weight decay of group `group` (finite, `>= 0`).
    pub fn set_weight_decay(&mut self, group: usize, weight_decay: f64) -> Result<()> {
        check_non_negative(self.what, "weight_decay", weight_decay)?;
        self.group_mut(group)?.weight_decay = Some(weight_decay);
        Ok(())
    }

    /// Adds a group (PyTorch's `add_param_group`). Its parameters must not already be in
    /// another group.
    pub fn add(&mut self, group: ParamGroup) -> Result<()> {
        self.push(group);
        if let Err(e) = self.validate() {
            self.groups.pop();
            return Err(e);
        }
        Ok(())
    }

    /// How many updates parameter `index` of group `group` has received (`None` before the
    /// first one). Frozen parameters and parameters without a gradient are not updated, so
    /// their count does not advance.
    pub fn step_count(&self, group: usize, index: usize) -> Option<u64> {
        self.groups
            .get(group)?
            .state
            .get(index)?
            .as_ref()
            .map(|s| s.step)
    }

    fn group_mut(&mut self, group: usize) -> Result<&mut Group> {
        let n = self.groups.len();
        let what = self.what;
        self.groups.get_mut(group).ok_or_else(|| {
            Error::config(
                what,
                format!("there is no parameter group {group} (the optimiser has {n})"),
            )
        })
    }

    pub(crate) fn set_default_weight_decay(&mut self, weight_decay: f64) {
        self.default_weight_decay = weight_decay;
    }

    /// Checks learning rates, weight decays and that no parameter is in two groups.
    pub(crate) fn validate(&self) -> Result<()> {
        check_non_negative(self.what, "lr", self.default_lr)?;
        check_non_negative(self.what, "weight_decay", self.default_weight_decay)?;
        let mut seen = HashSet::new();
        for (gi, g) in self.groups.iter().enumerate() {
            if let Some(lr) = g.lr {
                check_non_negative(self.what, &format!("lr of group {gi}"), lr)?;
            }
            if let Some(wd) = g.weight_decay {
                check_non_negative(self.what, &format!("weight_decay of group {gi}"), wd)?;
            }
            for (pi, p) in g.params.iter().enumerate() {
                if !seen.insert(p.id()) {
                    return Err(Error::config(
                        self.what,
                        format!(
                            "parameter {pi} of group {gi} (shape {:?}) appears more than once \
                             in the parameter groups (each parameter may be in one group only)",
                            p.shape()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The parameters to update in this step, with their gradients (contiguous, and never
    /// sharing the parameter's storage). Frozen parameters and parameters without a gradient
    /// are left out. Every gradient is checked before anything is updated, so a bad one
    /// leaves all parameters untouched.
    pub(crate) fn updates(&self, grads: &Gradients) -> Result<Vec<Update>> {
        self.validate()?;
        let mut out = Vec::new();
        for (gi, g) in self.groups.iter().enumerate() {
            let lr = g.lr.unwrap_or(self.default_lr);
            let weight_decay = g.weight_decay.unwrap_or(self.default_weight_decay);
            for (pi, p) in g.params.iter().enumerate() {
                if !p.is_trainable() {
                    continue;
                }
                let Some(grad) = p.grad(grads) else {
                    continue;
                };
                let op = self.what;
                if grad.shape() != p.shape() {
                    return Err(strata_core::Error::ShapeMismatch {
                        op,
                        lhs: p.shape().into(),
                        rhs: grad.shape().into(),
                        detail: format!(
                            " (parameter {pi} of group {gi} and its gradient must have the same shape)"
                        ),
                    }
                    .into());
                }
                if !p.dtype().is_float() || grad.dtype() != p.dtype() {
                    return Err(strata_core::Error::DType {
                        op,
                        expected: format!(
                            "a gradient of the parameter's floating-point dtype {} \
                             (parameter {pi} of group {gi})",
                            p.dtype()
                        ),
                        got: grad.dtype(),
                    }
                    .into());
                }
                let mut grad = grad.contiguous();
                if grad.shares_storage_with(p) {
                    grad = grad.copy();
                }
                out.push(Update {
                    group: gi,
                    index: pi,
                    param: p.tensor().clone(),
                    grad,
                    lr,
                    weight_decay,
                });
            }
        }
        Ok(out)
    }

    /// The state of parameter `index` of group `group`, created on first use.
    pub(crate) fn state_mut(&mut self, group: usize, index: usize) -> &mut ParamState {
        self.groups[group].state[index].get_or_insert_with(ParamState::default)
    }
}

/// The error for a parameter of a dtype the fused kernels do not handle.
pub(crate) fn unsupported_dtype(what: &'static str, dtype: DType) -> Error {
    strata_core::Error::DType {
        op: what,
        expected: "f32 or f64 parameters".into(),
        got: dtype,
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(shape: &[usize]) -> Param {
        Param::new(Tensor::ones(shape))
    }

    #[test]
    fn no_decay_split_by_rank_and_name() {
        let named = vec![
            ("fc.weight".to_string(), p(&[3, 2])),
            ("fc.bias".to_string(), p(&[3])),
            ("norm.weight".to_string(), p(&[3])),
            ("scale".to_string(), p(&[])),
            ("conv.weight".to_string(), p(&[4, 3, 3, 3])),
            ("odd_bias".to_string(), p(&[2, 2])),
        ];
        let groups = weight_decay_groups(named.clone(), 0.1);
        assert_eq!(groups.len(), 2);
        let ids = |g: &ParamGroup| g.params.iter().map(|p| p.id()).collect::<Vec<_>>();
        assert_eq!(ids(&groups[0]), vec![named[0].1.id(), named[4].1.id()]);
        assert_eq!(
            ids(&groups[1]),
            vec![
                named[1].1.id(),
                named[2].1.id(),
                named[3].1.id(),
                named[5].1.id()
            ]
        );
        assert_eq!(groups[0].weight_decay, Some(0.1));
        assert_eq!(groups[1].weight_decay, Some(0.0));
    }

    #[test]
    fn duplicates_and_bad_rates_are_rejected() {
        let a = p(&[2]);
        let groups = ParamGroups::new(
            "SGD",
            vec![
                ParamGroup::new(vec![a.clone()]),
                ParamGroup::new(vec![a.clone()]),
            ],
            0.1,
            0.0,
        );
        let e = groups.validate().unwrap_err().to_string();
        assert!(e.contains("appears more than once"), "{e}");

        // Within one group a repeat (a tied weight) is kept once.
        let tied = ParamGroups::new("SGD", vec![a.clone(), p(&[3]), a.clone()], 0.1, 0.0);
        assert_eq!(tied.num_params(), 2);
        assert!(tied.validate().is_ok());

        let mut groups = ParamGroups::new("SGD", vec![a.clone()], 0.1, 0.0);
        assert!(groups.add(ParamGroup::new(vec![a.clone()])).is_err());
        assert_eq!(groups.len(), 1, "a rejected group is not kept");
        groups.add(ParamGroup::new(vec![p(&[1])]).lr(0.5)).unwrap();
        assert_eq!(groups.lrs(), vec![0.1, 0.5]);
        assert!(groups.set_lr(0, -1.0).is_err());
        assert!(groups.set_weight_decay(5, 0.1).is_err());
        let bad = ParamGroups::new("SGD", ParamGroup::new(vec![p(&[1])]).lr(f64::NAN), 0.1, 0.0);
        assert!(bad.validate().is_err());
    }

    #[test]
    fn updates_skip_frozen_and_gradless_and_check_shapes() {
        let (a, b, c) = (p(&[2]), p(&[2]), p(&[2]));
        b.set_trainable(false);
        let groups = ParamGroups::new("SGD", vec![a.clone(), b.clone(), c.clone()], 0.1, 0.0);
        let mut grads = Gradients::new();
        grads.insert(&a, Tensor::ones(&[2]));
        grads.insert(&b, Tensor::ones(&[2]));
        let ups = groups.updates(&grads).unwrap();
        assert_eq!(ups.len(), 1);
        assert_eq!(ups[0].index, 0);

        grads.insert(&c, Tensor::ones(&[3]));
        let e = groups.updates(&grads).unwrap_err().to_string();
        assert!(e.contains("[2] and [3]"), "{e}");
        grads.insert(&c, Tensor::ones_dtype(&[2], DType::F64));
        let e = groups.updates(&grads).unwrap_err().to_string();
        assert!(e.contains("dtype"), "{e}");
    }
}
