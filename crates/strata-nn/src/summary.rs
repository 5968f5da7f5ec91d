//! Model summaries: one forward pass on a dummy input, recording every layer's output shape
//! and parameter counts, rendered as a Keras-style table.

use crate::{hooks, walk, Forward, Module, ModuleExt, Param, Result, Visitor};
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use strata_core::{no_grad, DType, Tensor};

/// A module's identity during one pass (see [`hooks::module_key`]).
type ModuleKey = (usize, &'static str);
type Call = (ModuleKey, Vec<usize>);

/// One reporting layer call in a [`Summary`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryRow {
    /// The state-dict path of the layer (`"features.0"`); `""` for the model itself and
    /// `"?"` for a module outside the model's tree.
    pub name: String,
    /// The layer's type (`"Linear"`).
    pub type_name: &'static str,
    /// The shape of its output for the summary's input.
    pub output_shape: Vec<usize>,
    /// Elements of the layer's own parameters (not its children's).
    pub params: usize,
    /// The trainable part of `params`.
    pub trainable: usize,
}

/// What [`summary`] found: a row per layer call in execution order, plus totals over the
/// whole model. `Display` renders a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The model's type name.
    pub model: &'static str,
    /// The shape of the dummy input.
    pub input_shape: Vec<usize>,
    /// One row per reported layer call (a layer called twice appears twice).
    pub rows: Vec<SummaryRow>,
    /// Elements of all the model's parameters.
    pub total_params: usize,
    /// Elements of its trainable parameters.
    pub trainable_params: usize,
    /// Elements of its frozen parameters.
    pub non_trainable_params: usize,
}

/// Runs `model` once on zeros of `input_shape` (in the dtype of the model's first
/// parameter, f32 without parameters) and summarises it. See [`summary_with_input`].
pub fn summary(model: &dyn Forward, input_shape: &[usize]) -> Result<Summary> {
    let dtype = model.parameters().first().map_or(DType::F32, |p| p.dtype());
    summary_with_input(model, &Tensor::zeros_dtype(input_shape, dtype))
}

/// Runs `model` once on `input` and summarises it (for models whose input is not a float
/// tensor of zeros, e.g. token indices).
///
/// The pass runs in evaluation mode without recording gradients, and every module's
/// train/eval mode is restored afterwards, so running statistics, dropout masks and the
/// random generator are untouched. Layers appear when they report their output through
/// [`hooks::emit`] (all built-in layers do; containers do not).
///
/// ```
/// use strata_nn::{summary, BatchNorm1d, Flatten, Linear, ReLU, Sequential};
/// let model = Sequential::new()
///     .push(Flatten::new())
///     .push(Linear::new(12, 4)?)
///     .push(BatchNorm1d::new(4)?)
///     .push(ReLU::new());
/// let s = summary(&model, &[2, 3, 4])?;
/// assert_eq!(s.rows[1].name, "1");
/// assert_eq!(s.rows[1].output_shape, vec![2, 4]);
/// assert_eq!(s.total_params, 12 * 4 + 4 + 2 * 4);
/// println!("{s}");
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn summary_with_input(model: &dyn Forward, input: &Tensor) -> Result<Summary> {
    // (layer, output shape) per reported call, in order.
    let calls: Rc<RefCell<Vec<Call>>> = Rc::default();
    let sink = calls.clone();
    {
        let _mode = EvalMode::enter(model.as_dyn());
        hooks::with_forward_hook(
            move |m, out| {
                sink.borrow_mut()
                    .push((hooks::module_key(m), out.shape().to_vec()))
            },
            || no_grad(|| model.forward(input)),
        )?;
    }

    // Names and own parameter counts of every module in the tree, by identity.
    let mut known: HashMap<ModuleKey, (String, usize, usize)> = HashMap::new();
    walk(
        model.as_dyn(),
        &mut |_, _| {},
        &mut |_, _| {},
        &mut |name, m| {
            let (params, trainable) = own_params(m);
            known
                .entry(hooks::module_key(m))
                .or_insert((name.to_string(), params, trainable));
        },
    );
    let calls = calls.borrow();
    let rows = calls
        .iter()
        .map(|(key, shape)| {
            let (name, params, trainable) =
                known.get(key).cloned().unwrap_or(("?".to_string(), 0, 0));
            SummaryRow {
                name,
                type_name: key.1,
                output_shape: shape.clone(),
                params,
                trainable,
            }
        })
        .collect();
    let total_params = model.num_parameters();
    let trainable_params = model.num_trainable_parameters();
    Ok(Summary {
        model: model.type_name(),
        input_shape: input.shape().to_vec(),
        rows,
        total_params,
        trainable_params,
        non_trainable_params: total_params - trainable_params,
    })
}

/// `model.summary(&shape)`: [`summary`] as a method of every [`Forward`] model.
pub trait SummaryExt: Forward {
    /// See [`summary`].
    fn summary(&self, input_shape: &[usize]) -> Result<Summary>;
}

impl<M: Forward> SummaryExt for M {
    fn summary(&self, input_shape: &[usize]) -> Result<Summary> {
        summary(self, input_shape)
    }
}

/// Switches every module of a model to evaluation, restoring each one's mode when dropped
/// (also if the forward pass fails or panics). Modes are matched by walk order, which is
/// fixed while the model is borrowed.
struct EvalMode<'m> {
    model: &'m dyn Module,
    saved: Vec<Option<bool>>,
}

impl<'m> EvalMode<'m> {
    fn enter(model: &'m dyn Module) -> Self {
        let mut saved = Vec::new();
        walk(model, &mut |_, _| {}, &mut |_, _| {}, &mut |_, m| {
            saved.push(m.is_training())
        });
        model.eval();
        EvalMode { model, saved }
    }
}

impl Drop for EvalMode<'_> {
    fn drop(&mut self) {
        let mut modes = self.saved.iter();
        walk(self.model, &mut |_, _| {}, &mut |_, _| {}, &mut |_, m| {
            if let Some(Some(training)) = modes.next() {
                m.set_training(*training);
            }
        });
    }
}

/// Elements of the parameters a module shows itself (children excluded): `(all, trainable)`.
fn own_params(m: &dyn Module) -> (usize, usize) {
    struct Count(usize, usize);
    impl Visitor for Count {
        fn param(&mut self, _: &str, p: &Param) {
            self.0 += p.numel();
            if p.is_trainable() {
                self.1 += p.numel();
            }
        }
        fn buffer(&mut self, _: &str, _: &crate::Buffer) {}
        fn module(&mut self, _: &str, _: &dyn Module) {}
    }
    let mut c = Count(0, 0);
    m.visit(&mut c);
    (c.0, c.1)
}

/// `1234567` → `"1,234,567"`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn shape_text(shape: &[usize]) -> String {
    format!("{shape:?}")
}

impl fmt::Display for Summary {
    /// ```text
    /// Model: Sequential, input [2, 3, 4]
    /// ---------------------------------------------------
    /// Layer  Type       Output Shape  Param #  Trainable
    /// ===================================================
    /// 0      Flatten    [2, 12]             0          0
    /// ...
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header = ["Layer", "Type", "Output Shape", "Param #", "Trainable"];
        let cells: Vec<[String; 5]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    if r.name.is_empty() {
                        "(model)".to_string()
                    } else {
                        r.name.clone()
                    },
                    r.type_name.to_string(),
                    shape_text(&r.output_shape),
                    thousands(r.params),
                    thousands(r.trainable),
                ]
            })
            .collect();
        let mut width = header.map(|h| h.chars().count());
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line_len = width.iter().sum::<usize>() + 2 * (width.len() - 1);
        let write_row = |f: &mut fmt::Formatter<'_>, row: [&str; 5]| -> fmt::Result {
            // Text columns left-aligned, numbers right-aligned.
            writeln!(
                f,
                "{:<w0$}  {:<w1$}  {:<w2$}  {:>w3$}  {:>w4$}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                w0 = width[0],
                w1 = width[1],
                w2 = width[2],
                w3 = width[3],
                w4 = width[4],
            )
            .map(|_| ())
        };
        writeln!(
            f,
            "Model: {}, input {}",
            self.model,
            shape_text(&self.input_shape)
        )?;
        writeln!(f, "{}", "-".repeat(line_len))?;
        write_row(f, header)?;
        writeln!(f, "{}", "=".repeat(line_len))?;
        for row in &cells {
            write_row(
                f,
                [
                    row[0].as_str(),
                    row[1].as_str(),
                    row[2].as_str(),
                    row[3].as_str(),
                    row[4].as_str(),
                ],
            )?;
        }
        writeln!(f, "{}", "=".repeat(line_len))?;
        writeln!(f, "Total params: {}", thousands(self.total_params))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable_params))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands(self.non_trainable_params)
        )?;
        write!(f, "{}", "-".repeat(line_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
