//! Activation statistics: a forward hook condenses each reporting layer's output into a
//! few numbers as the model runs (the output itself is not kept), and the layers are named
//! afterwards by their state-dict paths.
//!
//! Dead units are counted for `ReLU` (and a future `ReLU6`) only: they output exact zeros,
//! so a unit that is zero for a whole batch receives no gradient and may never recover.
//! `LeakyReLU`, `PReLU`, `ELU` and friends keep a gradient for negative inputs, so "dead"
//! means nothing for them. Saturation is measured for `Sigmoid` (outputs below 0.01 or
//! above 0.99) and `Tanh` (|y| above 0.99): within 1% of the bounds, where the derivative
//! is below 0.01 (sigmoid) or 0.02 (tanh).

use super::histogram::{histogram, HistogramOf};
use crate::records::{ActivationStats, HistogramKind, HistogramRecord};
use crate::tensor_stats::{moments, Moments};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use strata_core::{DType, Tensor};
use strata_nn::{hooks, walk, Module};

/// A module's identity during one pass (see [`hooks::module_key`]).
pub(crate) type ModuleKey = (usize, &'static str);

/// Layer types whose dead units are counted.
const DEAD_UNIT_TYPES: [&str; 2] = ["ReLU", "ReLU6"];

/// How a bounded activation saturates.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Saturation {
    /// Outputs in (0, 1): saturated below 0.01 or above 0.99.
    Sigmoid,
    /// Outputs in (-1, 1): saturated where |y| > 0.99.
    Tanh,
}

fn saturation_of(type_name: &str) -> Option<Saturation> {
    match type_name {
        "Sigmoid" => Some(Saturation::Sigmoid),
        "Tanh" => Some(Saturation::Tanh),
        _ => None,
    }
}

/// The figures of one output tensor of a layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct OutputFigures {
    pub moments: Moments,
    /// `(dead units, units)` for ReLU layers: units are the positions of the output
    /// reshaped `[batch, rest]`.
    pub dead: Option<(usize, usize)>,
    /// Saturated outputs, for sigmoid and tanh layers.
    pub saturated: Option<usize>,
}

/// Condenses `y`, the output of a layer of type `type_name`.
pub(crate) fn output_figures(type_name: &str, y: &Tensor) -> OutputFigures {
    let moments = moments(y);
    let counts_dead = DEAD_UNIT_TYPES.contains(&type_name);
    let saturation = saturation_of(type_name);
    if !counts_dead && saturation.is_none() {
        return OutputFigures {
            moments,
            dead: None,
            saturated: None,
        };
    }
    let units = if y.ndim() == 0 || y.shape()[0] == 0 {
        y.numel()
    } else {
        y.numel() / y.shape()[0]
    };
    let Counts { dead, saturated } = counts_of(y, units, counts_dead, saturation);
    OutputFigures {
        moments,
        dead: counts_dead.then_some((dead, units)),
        saturated: saturation.map(|_| saturated),
    }
}

struct Counts {
    dead: usize,
    saturated: usize,
}

/// [`counts`] of a contiguous f32 tensor read in place, of anything else converted once.
fn counts_of(
    y: &Tensor,
    units: usize,
    counts_dead: bool,
    saturation: Option<Saturation>,
) -> Counts {
    if y.dtype() == DType::F32
        && let Ok(values) = y.read::<f32>()
    {
        return counts(&values, units, counts_dead, saturation);
    }
    counts(&y.to_vec_f64(), units, counts_dead, saturation)
}

/// One pass over the values: which units are ever non-zero, and how many values saturate.
fn counts<T: Copy + Into<f64>>(
    values: &[T],
    units: usize,
    counts_dead: bool,
    saturation: Option<Saturation>,
) -> Counts {
    let mut out = Counts {
        dead: 0,
        saturated: 0,
    };
    if counts_dead && units > 0 {
        let mut alive = vec![false; units];
        for row in values.chunks_exact(units) {
            for (a, &v) in alive.iter_mut().zip(row) {
                *a |= v.into() != 0.0;
            }
        }
        out.dead = alive.iter().filter(|&&a| !a).count();
    }
    out.saturated = match saturation {
        None => 0,
        Some(Saturation::Sigmoid) => values
            .iter()
            .filter(|&&v| {
                let v: f64 = v.into();
                v.is_finite() && !(0.01..=0.99).contains(&v)
            })
            .count(),
        Some(Saturation::Tanh) => values.iter().filter(|&&v| v.into().abs() > 0.99).count(),
    };
    out
}

/// One layer's figures summed over its calls in one forward pass (a layer used twice
/// counts both outputs; its units are counted per call).
#[derive(Clone, Debug)]
pub(crate) struct LayerFigures {
    pub key: ModuleKey,
    count: usize,
    sum: f64,
    sum_squares: f64,
    dead: Option<(usize, usize)>,
    saturated: Option<usize>,
}

impl LayerFigures {
    fn new(key: ModuleKey) -> LayerFigures {
        LayerFigures {
            key,
            count: 0,
            sum: 0.0,
            sum_squares: 0.0,
            dead: None,
            saturated: None,
        }
    }

    fn add(&mut self, f: &OutputFigures) {
        self.count += f.moments.count;
        self.sum += f.moments.sum;
        self.sum_squares += f.moments.sum_squares;
        if let Some((d, u)) = f.dead {
            let (dead, units) = self.dead.unwrap_or((0, 0));
            self.dead = Some((dead + d, units + u));
        }
        if let Some(s) = f.saturated {
            self.saturated = Some(self.saturated.unwrap_or(0) + s);
        }
    }

    /// The record entry, under `name`.
    pub fn stats(&self, name: String) -> ActivationStats {
        let m = Moments {
            count: self.count,
            sum: self.sum,
            sum_squares: self.sum_squares,
            min: f64::NAN,
            max: f64::NAN,
        };
        ActivationStats {
            name,
            layer_type: self.key.1.to_string(),
            mean: m.mean(),
            std: m.std(),
            dead_fraction: self
                .dead
                .filter(|&(_, units)| units > 0)
                .map(|(dead, units)| dead as f64 / units as f64),
            saturated_fraction: self
                .saturated
                .filter(|_| self.count > 0)
                .map(|s| s as f64 / self.count as f64),
        }
    }
}

/// What the hook saw during one forward pass, layers in the order they first reported.
#[derive(Debug, Default)]
pub(crate) struct Recorded {
    pub layers: Vec<LayerFigures>,
    index: HashMap<ModuleKey, usize>,
    /// Activation histograms (of each layer's first call), named later.
    pub histograms: Vec<(ModuleKey, HistogramRecord)>,
}

impl Recorded {
    fn report(&mut self, module: &dyn Module, y: &Tensor, bins: Option<usize>, step: u64) {
        if y.numel() == 0 {
            return;
        }
        let key = hooks::module_key(module);
        let figures = output_figures(key.1, y);
        let i = *self.index.entry(key).or_insert_with(|| {
            self.layers.push(LayerFigures::new(key));
            self.layers.len() - 1
        });
        let first_call = self.layers[i].count == 0;
        self.layers[i].add(&figures);
        if let (Some(bins), true) = (bins, first_call) {
            let of = HistogramOf {
                name: "",
                kind: HistogramKind::Activation,
                step,
                epoch: 0,
            };
            if let Some(h) = histogram(y, bins, of) {
                self.histograms.push((key, h));
            }
        }
    }
}

/// Runs `f` with a forward hook recording every reporting layer's figures (and, with
/// `histogram_bins`, each layer's activation histogram at `step`).
pub(crate) fn record_forward<R>(
    histogram_bins: Option<usize>,
    step: u64,
    f: impl FnOnce() -> R,
) -> (R, Recorded) {
    let shared: Rc<RefCell<Recorded>> = Rc::default();
    let sink = shared.clone();
    let out = hooks::with_forward_hook(
        move |m, y| {
            // A report from inside the hook's own work cannot happen (hooks skip nested
            // reports), so the borrow always succeeds; skip rather than panic if not.
            if let Ok(mut rec) = sink.try_borrow_mut() {
                rec.report(m, y, histogram_bins, step);
            }
        },
        f,
    );
    let recorded = std::mem::take(&mut *shared.borrow_mut());
    (out, recorded)
}

/// The state-dict name of every module of `model` by identity; the model itself (walk's
/// `""`) is named by its type.
pub(crate) fn layer_names(model: &dyn Module) -> HashMap<ModuleKey, String> {
    let mut names = HashMap::new();
    walk(model, &mut |_, _| {}, &mut |_, _| {}, &mut |name, m| {
        let name = if name.is_empty() {
            m.type_name().to_string()
        } else {
            name.to_string()
        };
        // A module shared by two paths keeps its first name.
        names.entry(hooks::module_key(m)).or_insert(name);
    });
    names
}

/// The name of a reported module: its state-dict path, or its type for a module outside
/// the model's tree.
pub(crate) fn name_of(names: &HashMap<ModuleKey, String>, key: ModuleKey) -> String {
    names
        .get(&key)
        .cloned()
        .unwrap_or_else(|| key.1.to_string())
}
