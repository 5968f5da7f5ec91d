//! Parameter figures: gradient and weight norms before the optimiser step, and the
//! relative size of the step, ‖w_new − w_old‖ / ‖w_old‖, after it.

use crate::tensor_stats::l2_norm;
use strata_core::{DType, Gradients, Tensor};
use strata_nn::{Module, ModuleExt, Param};

/// A trainable parameter at a monitored step, between backward and the optimiser.
#[derive(Clone, Debug)]
pub(crate) struct ParamEntry {
    /// The state-dict name.
    pub name: String,
    pub param: Param,
    /// The gradient's L2 norm; `None` when the backward pass did not reach it.
    pub grad_norm: Option<f64>,
    pub weight_norm: f64,
    /// A copy of the values before the optimiser step.
    pub before: Tensor,
    /// ‖Δw‖ / ‖w‖, once the step is taken.
    pub update_ratio: Option<f64>,
}

impl ParamEntry {
    /// Weights (two or more dimensions), as opposed to biases and norm scales: the
    /// parameters the gradient-flow and update-ratio rules look at.
    pub fn is_weight(&self) -> bool {
        self.before.ndim() >= 2
    }
}

/// The figures of every trainable parameter of `model`, in state-dict order, and the
/// global gradient norm (over the gradients present).
pub(crate) fn before_update(model: &dyn Module, grads: &Gradients) -> (Vec<ParamEntry>, f64) {
    let mut total = 0.0;
    let entries = model
        .named_parameters()
        .into_iter()
        .filter(|(_, p)| p.is_trainable())
        .map(|(name, param)| {
            let grad_norm = param.grad(grads).map(l2_norm);
            total += grad_norm.map_or(0.0, |g| g * g);
            ParamEntry {
                name,
                weight_norm: l2_norm(param.tensor()),
                before: param.tensor().detach().copy(),
                param,
                grad_norm,
                update_ratio: None,
            }
        })
        .collect();
    (entries, total.sqrt())
}

/// Fills in every entry's update ratio from the parameter's current values.
pub(crate) fn after_update(entries: &mut [ParamEntry]) {
    for e in entries {
        e.update_ratio = diff_norm(e.param.tensor(), &e.before)
            .filter(|_| e.weight_norm > 0.0)
            .map(|d| d / e.weight_norm);
    }
}

/// ‖a − b‖ in one pass (contiguous f32 read in place); `None` when the shapes differ.
pub(crate) fn diff_norm(a: &Tensor, b: &Tensor) -> Option<f64> {
    if a.shape() != b.shape() {
        return None;
    }
    if a.dtype() == DType::F32
        && b.dtype() == DType::F32
        && let (Ok(x), Ok(y)) = (a.read::<f32>(), b.read::<f32>())
    {
        let sum: f64 = x
            .iter()
            .zip(y.iter())
            .map(|(&p, &q)| {
                let d = p as f64 - q as f64;
                d * d
            })
            .sum();
        return Some(sum.sqrt());
    }
    let (x, y) = (a.to_vec_f64(), b.to_vec_f64());
    Some(
        x.iter()
            .zip(&y)
            .map(|(p, q)| (p - q) * (p - q))
            .sum::<f64>()
            .sqrt(),
    )
}
