//! The multi-layer, optionally bidirectional stack shared by `RNN`, `LSTM` and `GRU`: the
//! parameters with PyTorch's names, input checks, and the loop over layers and directions
//! that calls the fused op once per layer-direction.

use super::fused_op::{recurrent_layer, LayerWeights, Walk};
use super::gates::CellKind;
use crate::{Error, Param, Result, Visitor};
use std::sync::atomic::{AtomicBool, Ordering};
use strata_core::{with_global_generator, DType, Tensor};

/// Hyperparameters of [`crate::RNN`], [`crate::LSTM`] and [`crate::GRU`] (PyTorch's
/// defaults).
///
/// ```
/// use strata_nn::{RecurrentConfig, LSTM};
/// let config = RecurrentConfig { num_layers: 2, bidirectional: true, ..Default::default() };
/// let lstm = LSTM::with_config(8, 16, config)?;
/// assert_eq!(lstm.config().num_layers, 2);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RecurrentConfig {
    /// Stacked layers; layer `k > 0` reads the output of layer `k - 1` (default 1).
    pub num_layers: usize,
    /// Biases `b_ih` and `b_hh` (default `true`).
    pub bias: bool,
    /// Input and output are `[B, T, F]` instead of `[T, B, F]` (default `false`); states
    /// are `[layers·directions, B, H]` either way.
    pub batch_first: bool,
    /// Dropout probability on the output of every layer but the last, in training mode
    /// only (default 0).
    pub dropout: f64,
    /// A second pass from the last step to the first; outputs are concatenated (default
    /// `false`).
    pub bidirectional: bool,
    /// Dtype of the parameters and expected inputs (default `F32`).
    pub dtype: DType,
}

impl Default for RecurrentConfig {
    fn default() -> Self {
        RecurrentConfig {
            num_layers: 1,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
            dtype: DType::F32,
        }
    }
}

/// The parameters of one layer in one direction.
pub(crate) struct DirectionParams {
    pub(crate) w_ih: Param,
    pub(crate) w_hh: Param,
    pub(crate) b_ih: Option<Param>,
    pub(crate) b_hh: Option<Param>,
}

impl DirectionParams {
    /// Fresh parameters, uniform in `±1/√hidden` like PyTorch.
    pub(crate) fn new(
        kind: CellKind,
        input: usize,
        hidden: usize,
        bias: bool,
        dtype: DType,
    ) -> Result<DirectionParams> {
        let k = 1.0 / (hidden as f64).sqrt();
        let gh = kind.gates() * hidden;
        let draw = |shape: &[usize]| -> Result<Param> {
            Ok(Param::new(Tensor::uniform(shape, -k, k)?.to_dtype(dtype)))
        };
        Ok(DirectionParams {
            w_ih: draw(&[gh, input])?,
            w_hh: draw(&[gh, hidden])?,
            b_ih: bias.then(|| draw(&[gh])).transpose()?,
            b_hh: bias.then(|| draw(&[gh])).transpose()?,
        })
    }

    pub(crate) fn weights(&self) -> LayerWeights<'_> {
        LayerWeights {
            w_ih: &self.w_ih,
            w_hh: &self.w_hh,
            b_ih: self.b_ih.as_deref(),
            b_hh: self.b_hh.as_deref(),
        }
    }

    /// Shows the parameters as `weight_ih{suffix}`, ... (PyTorch's order).
    pub(crate) fn visit(&self, suffix: &str, visitor: &mut dyn Visitor) {
        visitor.param(&format!("weight_ih{suffix}"), &self.w_ih);
        visitor.param(&format!("weight_hh{suffix}"), &self.w_hh);
        if let Some(b) = &self.b_ih {
            visitor.param(&format!("bias_ih{suffix}"), b);
        }
        if let Some(b) = &self.b_hh {
            visitor.param(&format!("bias_hh{suffix}"), b);
        }
    }
}

/// What a stack returns: the output sequence and the final states `[D·L, B, H]`.
pub(crate) struct StackOutput {
    pub out: Tensor,
    pub h_n: Tensor,
    pub c_n: Option<Tensor>,
}

/// A stack of recurrent layers of one kind.
pub(crate) struct Stack {
    kind: CellKind,
    input_size: usize,
    hidden_size: usize,
    config: RecurrentConfig,
    /// Index `layer · directions + direction`.
    params: Vec<DirectionParams>,
    training: AtomicBool,
}

impl Stack {
    pub(crate) fn new(
        kind: CellKind,
        what: &'static str,
        input_size: usize,
        hidden_size: usize,
        config: RecurrentConfig,
    ) -> Result<Stack> {
        if input_size == 0 || hidden_size == 0 || config.num_layers == 0 {
            return Err(Error::config(
                what,
                format!(
                    "input_size, hidden_size and num_layers must be positive, got {input_size}, {hidden_size} and {}",
                    config.num_layers
                ),
            ));
        }
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(Error::config(
                what,
                format!("dropout must be in [0, 1), got {}", config.dropout),
            ));
        }
        if !config.dtype.is_float() {
            return Err(Error::config(
                what,
                format!("dtype must be f32 or f64, got {}", config.dtype),
            ));
        }
        let dirs = if config.bidirectional { 2 } else { 1 };
        let mut params = Vec::new();
        for layer in 0..config.num_layers {
            let input = if layer == 0 {
                input_size
            } else {
                dirs * hidden_size
            };
            for _ in 0..dirs {
                params.push(DirectionParams::new(
                    kind,
                    input,
                    hidden_size,
                    config.bias,
                    config.dtype,
                )?);
            }
        }
        Ok(Stack {
            kind,
            input_size,
            hidden_size,
            config,
            params,
            training: AtomicBool::new(true),
        })
    }

    pub(crate) fn config(&self) -> RecurrentConfig {
        self.config
    }

    pub(crate) fn input_size(&self) -> usize {
        self.input_size
    }

    pub(crate) fn hidden_size(&self) -> usize {
        self.hidden_size
    }

    fn directions(&self) -> usize {
        if self.config.bidirectional {
            2
        } else {
            1
        }
    }

    pub(crate) fn visit(&self, visitor: &mut dyn Visitor) {
        let dirs = self.directions();
        for (k, p) in self.params.iter().enumerate() {
            let reverse = if k % dirs == 1 { "_reverse" } else { "" };
            p.visit(&format!("_l{}{reverse}", k / dirs), visitor);
        }
    }

    pub(crate) fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    pub(crate) fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    pub(crate) fn extra_repr(&self) -> String {
        let c = &self.config;
        format!(
            "{}, {}, num_layers={}, bias={}, batch_first={}, dropout={}, bidirectional={}",
            self.input_size,
            self.hidden_size,
            c.num_layers,
            c.bias,
            c.batch_first,
            c.dropout,
            c.bidirectional
        )
    }

    /// Runs the stack. `input` is `[T, B, I]` (`[B, T, I]` with `batch_first`) or unbatched
    /// `[T, I]`; `h0`/`c0` are `[D·L, B, H]` (unbatched `[D·L, H]`), zeros when absent.
    pub(crate) fn run(
        &self,
        name: &str,
        input: &Tensor,
        h0: Option<&Tensor>,
        c0: Option<&Tensor>,
        lengths: Option<&[usize]>,
    ) -> Result<StackOutput> {
        let input_err = |expected: String, got: &Tensor| Error::Input {
            layer: name.to_string(),
            expected,
            got: got.shape().into(),
        };
        let batched = match input.ndim() {
            3 => true,
            2 => false,
            _ => {
                let order = if self.config.batch_first {
                    "[B, T, I]"
                } else {
                    "[T, B, I]"
                };
                return Err(input_err(
                    format!(
                        "input {order} or unbatched [T, I] with I = {}",
                        self.input_size
                    ),
                    input,
                ));
            }
        };
        if input.shape()[input.ndim() - 1] != self.input_size {
            return Err(input_err(
                format!("input with last dimension {} (input_size)", self.input_size),
                input,
            ));
        }
        if input.dtype() != self.config.dtype {
            return Err(input_err(
                format!(
                    "{} input like its parameters, not {} (convert with to_dtype)",
                    self.config.dtype,
                    input.dtype()
                ),
                input,
            ));
        }
        // Batch-first input stays batch-first: the fused op reads and writes that order.
        let batch_first = batched && self.config.batch_first;
        let x = if batched {
            input.clone()
        } else {
            input.unsqueeze(1)?
        };
        let (steps, batch) = if batch_first {
            (x.shape()[1], x.shape()[0])
        } else {
            (x.shape()[0], x.shape()[1])
        };
        let (dirs, layers, hidden) = (self.directions(), self.config.num_layers, self.hidden_size);
        let state_shape: Vec<usize> = if batched {
            vec![dirs * layers, batch, hidden]
        } else {
            vec![dirs * layers, hidden]
        };
        // A wrong initial state is named as the argument it came in, not as the input.
        let prepare_state = |s: Option<&Tensor>, arg: &'static str| -> Result<Option<Tensor>> {
            let Some(s) = s else { return Ok(None) };
            let wrong = |expected: String, got: String| Error::Argument {
                layer: name.to_string(),
                arg,
                expected,
                got,
            };
            if s.shape() != state_shape.as_slice() {
                return Err(wrong(
                    format!("shape {state_shape:?} ([layers·directions, batch, hidden])"),
                    format!("shape {:?}", s.shape()),
                ));
            }
            if s.dtype() != self.config.dtype {
                return Err(wrong(
                    format!("dtype {} like the parameters", self.config.dtype),
                    format!("dtype {}", s.dtype()),
                ));
            }
            Ok(Some(if batched { s.clone() } else { s.unsqueeze(1)? }))
        };
        let h0 = prepare_state(h0, "h0")?;
        let c0 = prepare_state(c0, "c0")?;
        if let Some(l) = lengths
            && (l.len() != batch || l.iter().any(|&n| n > steps))
        {
            return Err(strata_core::Error::InvalidArgument {
                    op: "recurrent forward_with_lengths",
                    arg: "lengths",
                    reason: format!(
                        "{name}: expected {batch} lengths (one per batch row) each at most the sequence length {steps}, got {l:?}"
                    ),
                }
                .into());
        }
        let zeros = Tensor::zeros_dtype(&[batch, hidden], self.config.dtype);
        let initial = |s: &Option<Tensor>, k: usize| -> Result<Tensor> {
            Ok(match s {
                Some(s) => s.select(0, k)?,
                None => zeros.clone(),
            })
        };
        let lstm = self.kind == CellKind::Lstm;
        let mut layer_input = x;
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in 0..layers {
            let mut outs = Vec::with_capacity(dirs);
            for dir in 0..dirs {
                let k = layer * dirs + dir;
                let c_init = if lstm { Some(initial(&c0, k)?) } else { None };
                let o = recurrent_layer(
                    self.kind,
                    &layer_input,
                    &initial(&h0, k)?,
                    c_init.as_ref(),
                    self.params[k].weights(),
                    Walk {
                        reverse: dir == 1,
                        batch_first,
                        lengths,
                    },
                )?;
                outs.push(o.out);
                h_n.push(o.h_n);
                c_n.extend(o.c_n);
            }
            let mut out = if dirs == 1 {
                outs.pop().unwrap_or(zeros.clone())
            } else {
                Tensor::cat(&outs, 2)?
            };
            if layer + 1 < layers && self.config.dropout > 0.0 && self.is_training() {
                let keep = 1.0 - self.config.dropout;
                let mask = with_global_generator(|g| {
                    Tensor::bernoulli_with(g, out.shape(), keep, out.dtype())
                })?;
                out = out.mul(&mask.mul_scalar(1.0 / keep)?)?;
            }
            layer_input = out;
        }
        let mut out = layer_input;
        let mut h_n = Tensor::stack(&h_n, 0)?;
        let mut c_n = if lstm {
            Some(Tensor::stack(&c_n, 0)?)
        } else {
            None
        };
        if !batched {
            out = out.squeeze_dim(1)?;
            h_n = h_n.squeeze_dim(1)?;
            c_n = c_n.map(|c| c.squeeze_dim(1)).transpose()?;
        }
        Ok(StackOutput { out, h_n, c_n })
    }
}
