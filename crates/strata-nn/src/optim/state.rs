//! Saving and restoring an optimiser's state as named tensors.
//!
//! Keys (all numbers are f64 scalars; buffers have the parameter's shape and dtype):
//!
//! - `defaults.lr`, `defaults.weight_decay`, `defaults.<hyperparameter>` (booleans as 0/1)
//! - `param_groups.<g>.lr`, `param_groups.<g>.weight_decay`, `param_groups.<g>.num_params`
//! - `state.<g>.<p>.step` and `state.<g>.<p>.<buffer>` (e.g. `exp_avg`) for every parameter
//!   `p` of group `g` that has been updated
//!
//! Loading checks everything first (key names, group and parameter counts, buffer shapes,
//! required buffers) and changes nothing unless all of it fits; the error lists every
//! problem at once.

use super::group::{ParamGroups, ParamState};
use crate::{Error, Result};
use strata_core::Tensor;

/// Writes `groups` (learning rates, weight decays, per-parameter state) and the optimiser's
/// own hyperparameters.
pub(crate) fn save(
    groups: &ParamGroups,
    buffer_names: &[&str],
    hypers: &[(&str, f64)],
) -> Vec<(String, Tensor)> {
    let num = |v: f64| Tensor::scalar(v);
    let mut out = vec![
        ("defaults.lr".to_string(), num(groups.default_lr)),
        (
            "defaults.weight_decay".to_string(),
            num(groups.default_weight_decay),
        ),
    ];
    for (name, v) in hypers {
        out.push((format!("defaults.{name}"), num(*v)));
    }
    for gi in 0..groups.len() {
        let g = &groups.groups[gi];
        let lr = groups.lr(gi).unwrap_or(groups.default_lr);
        let wd = groups
            .weight_decay(gi)
            .unwrap_or(groups.default_weight_decay);
        out.push((format!("param_groups.{gi}.lr"), num(lr)));
        out.push((format!("param_groups.{gi}.weight_decay"), num(wd)));
        out.push((
            format!("param_groups.{gi}.num_params"),
            num(g.params.len() as f64),
        ));
    }
    for (gi, g) in groups.groups.iter().enumerate() {
        for (pi, s) in g.state.iter().enumerate() {
            let Some(s) = s else { continue };
            out.push((format!("state.{gi}.{pi}.step"), num(s.step as f64)));
            for (bi, b) in s.bufs.iter().enumerate() {
                if let (Some(b), Some(name)) = (b, buffer_names.get(bi)) {
                    // A snapshot: later steps must not change a saved state dict.
                    out.push((format!("state.{gi}.{pi}.{name}"), b.copy()));
                }
            }
        }
    }
    out
}

/// A state dict checked against the optimiser, ready to be committed.
pub(crate) struct Loaded {
    hypers: Vec<f64>,
    default_lr: f64,
    default_weight_decay: f64,
    group_lr: Vec<f64>,
    group_weight_decay: Vec<f64>,
    states: Vec<Vec<Option<ParamState>>>,
    buffer_names: Vec<String>,
}

impl Loaded {
    /// Hyperparameter `i` (in the order of the names given to [`parse`]).
    pub(crate) fn hyper(&self, i: usize) -> f64 {
        self.hypers.get(i).copied().unwrap_or(f64::NAN)
    }

    /// Errors unless every parameter with state has each buffer in `required` (indices into
    /// the buffer names).
    pub(crate) fn require_buffers(&self, what: &str, required: &[usize]) -> Result<()> {
        let mut problems = Vec::new();
        for (gi, g) in self.states.iter().enumerate() {
            for (pi, s) in g.iter().enumerate() {
                let Some(s) = s else { continue };
                for &bi in required {
                    if s.bufs.get(bi).is_none_or(|b| b.is_none()) {
                        let name = self.buffer_names.get(bi).map_or("?", |n| n.as_str());
                        problems.push(format!("missing key state.{gi}.{pi}.{name}"));
                    }
                }
            }
        }
        fail(what, problems)
    }

    /// Replaces the learning rates, weight decays and per-parameter state of `groups`.
    pub(crate) fn commit(self, groups: &mut ParamGroups) {
        groups.default_lr = self.default_lr;
        groups.default_weight_decay = self.default_weight_decay;
        let per_group = self
            .group_lr
            .into_iter()
            .zip(self.group_weight_decay)
            .zip(self.states);
        for (g, ((lr, wd), state)) in groups.groups.iter_mut().zip(per_group) {
            g.lr = Some(lr);
            g.weight_decay = Some(wd);
            g.state = state;
        }
    }
}

fn fail(what: &str, problems: Vec<String>) -> Result<()> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::LoadState {
            what: what.to_string(),
            reason: problems.join("; "),
        })
    }
}

/// Checks `entries` against `groups` and the optimiser's buffer and hyperparameter names.
pub(crate) fn parse(
    groups: &ParamGroups,
    entries: &[(String, Tensor)],
    buffer_names: &[&str],
    hyper_names: &[&str],
) -> Result<Loaded> {
    let what = groups.what();
    let n_groups = groups.len();
    let mut problems: Vec<String> = Vec::new();
    let mut hypers: Vec<Option<f64>> = vec![None; hyper_names.len()];
    let (mut default_lr, mut default_wd) = (None, None);
    let mut group_lr: Vec<Option<f64>> = vec![None; n_groups];
    let mut group_wd: Vec<Option<f64>> = vec![None; n_groups];
    let mut group_n: Vec<Option<f64>> = vec![None; n_groups];
    let mut states: Vec<Vec<Option<ParamState>>> = groups
        .groups
        .iter()
        .map(|g| vec![None; g.params.len()])
        .collect();
    let mut steps_seen: Vec<Vec<bool>> = states.iter().map(|s| vec![false; s.len()]).collect();

    for (key, t) in entries {
        let parts: Vec<&str> = key.split('.').collect();
        let scalar = || -> std::result::Result<f64, String> {
            if t.numel() == 1 {
                Ok(t.item().unwrap_or(f64::NAN))
            } else {
                Err(format!(
                    "{key} must hold one number, got shape {:?}",
                    t.shape()
                ))
            }
        };
        let index = |s: &str, len: usize| s.parse::<usize>().ok().filter(|&i| i < len);
        match parts.as_slice() {
            ["defaults", "lr"] => default_lr = Some(scalar()),
            ["defaults", "weight_decay"] => default_wd = Some(scalar()),
            ["defaults", name] => match hyper_names.iter().position(|h| h == name) {
                Some(i) => match scalar() {
                    Ok(v) => hypers[i] = Some(v),
                    Err(e) => problems.push(e),
                },
                None => problems.push(format!("unexpected key {key}")),
            },
            ["param_groups", g, field] => {
                let Some(g) = index(g, n_groups) else {
                    problems.push(format!(
                        "unexpected key {key} (the optimiser has {n_groups} parameter group(s))"
                    ));
                    continue;
                };
                let slot = match *field {
                    "lr" => &mut group_lr[g],
                    "weight_decay" => &mut group_wd[g],
                    "num_params" => &mut group_n[g],
                    _ => {
                        problems.push(format!("unexpected key {key}"));
                        continue;
                    }
                };
                match scalar() {
                    Ok(v) => *slot = Some(v),
                    Err(e) => problems.push(e),
                }
            }
            ["state", g, p, field] => {
                let Some(g) = index(g, n_groups) else {
                    problems.push(format!(
                        "unexpected key {key} (the optimiser has {n_groups} parameter group(s))"
                    ));
                    continue;
                };
                let n_params = states[g].len();
                let Some(p) = index(p, n_params) else {
                    problems.push(format!(
                        "unexpected key {key} (group {g} has {n_params} parameter(s))"
                    ));
                    continue;
                };
                let param = &groups.groups[g].params[p];
                let state = states[g][p].get_or_insert_with(|| ParamState {
                    step: 0,
                    bufs: vec![None; buffer_names.len()],
                });
                if *field == "step" {
                    match scalar() {
                        Ok(v) if v >= 0.0 && v.fract() == 0.0 => {
                            state.step = v as u64;
                            steps_seen[g][p] = true;
                        }
                        Ok(v) => {
                            problems.push(format!("{key} must be a whole number >= 0, got {v}"))
                        }
                        Err(e) => problems.push(e),
                    }
                } else if let Some(bi) = buffer_names.iter().position(|b| b == field) {
                    if t.shape() != param.shape() {
                        problems.push(format!(
                            "{key}: parameter has shape {:?}, checkpoint has {:?}",
                            param.shape(),
                            t.shape()
                        ));
                    } else if !t.dtype().is_float() {
                        problems.push(format!(
                            "{key}: expected a floating-point tensor, got {}",
                            t.dtype()
                        ));
                    } else {
                        // An own copy in the parameter's dtype: loading must not alias the
                        // caller's tensors.
                        state.bufs[bi] = Some(t.detach().to_dtype(param.dtype()).copy());
                    }
                } else {
                    problems.push(format!("unexpected key {key}"));
                }
            }
            _ => problems.push(format!("unexpected key {key}")),
        }
    }

    let mut take = |v: Option<std::result::Result<f64, String>>, key: String| match v {
        Some(Ok(v)) => v,
        Some(Err(e)) => {
            problems.push(e);
            0.0
        }
        None => {
            problems.push(format!("missing key {key}"));
            0.0
        }
    };
    let default_lr = take(default_lr, "defaults.lr".into());
    let default_weight_decay = take(default_wd, "defaults.weight_decay".into());
    let need = |v: Option<f64>, key: String, problems: &mut Vec<String>| {
        v.unwrap_or_else(|| {
            problems.push(format!("missing key {key}"));
            0.0
        })
    };
    let hypers: Vec<f64> = hypers
        .iter()
        .zip(hyper_names)
        .map(|(v, n)| need(*v, format!("defaults.{n}"), &mut problems))
        .collect();
    let mut lrs = Vec::with_capacity(n_groups);
    let mut wds = Vec::with_capacity(n_groups);
    for g in 0..n_groups {
        lrs.push(need(
            group_lr[g],
            format!("param_groups.{g}.lr"),
            &mut problems,
        ));
        wds.push(need(
            group_wd[g],
            format!("param_groups.{g}.weight_decay"),
            &mut problems,
        ));
        let n = need(
            group_n[g],
            format!("param_groups.{g}.num_params"),
            &mut problems,
        );
        let have = groups.groups[g].params.len();
        if group_n[g].is_some() && n != have as f64 {
            problems.push(format!(
                "group {g} has {n} parameter(s) in the checkpoint but {have} in the optimiser"
            ));
        }
        for (p, s) in states[g].iter().enumerate() {
            if s.is_some() && !steps_seen[g][p] {
                problems.push(format!("missing key state.{g}.{p}.step"));
            }
        }
    }
    let rates = [
        ("defaults.lr", default_lr),
        ("defaults.weight_decay", default_weight_decay),
    ];
    let group_rates = lrs
        .iter()
        .enumerate()
        .map(|(g, &v)| (format!("param_groups.{g}.lr"), v));
    let group_decays = wds
        .iter()
        .enumerate()
        .map(|(g, &v)| (format!("param_groups.{g}.weight_decay"), v));
    for (key, v) in rates
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .chain(group_rates)
        .chain(group_decays)
    {
        if !(v.is_finite() && v >= 0.0) {
            problems.push(format!("{key} must be a finite number >= 0, got {v}"));
        }
    }
    fail(what, problems)?;
    Ok(Loaded {
        hypers,
        default_lr,
        default_weight_decay,
        group_lr: lrs,
        group_weight_decay: wds,
        states,
        buffer_names: buffer_names.iter().map(|s| s.to_string()).collect(),
    })
}
