//! `RNNCell`, `LSTMCell`, `GRUCell`: one time step, for hand-written loops. Each runs the
//! same fused op as the full layers, over a sequence of length 1.

use super::fused_op::{recurrent_layer, Walk};
use super::gates::CellKind;
use super::rnn::RNNNonlinearity;
use super::stack::DirectionParams;
use crate::{hooks, Error, Forward, Module, Result, Visitor};
use strata_core::{DType, Tensor};

/// Hyperparameters of the cells (PyTorch's defaults).
///
/// ```
/// use strata_nn::{CellConfig, GRUCell, ModuleExt};
/// use strata_core::DType;
/// let cell = GRUCell::with_config(3, 4, CellConfig { bias: false, dtype: DType::F64 })?;
/// assert_eq!(cell.num_parameters(), 12 * 3 + 12 * 4);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellConfig {
    /// Biases `bias_ih` and `bias_hh` (default `true`).
    pub bias: bool,
    /// Dtype of the parameters and expected inputs (default `F32`).
    pub dtype: DType,
}

impl Default for CellConfig {
    fn default() -> Self {
        CellConfig {
            bias: true,
            dtype: DType::F32,
        }
    }
}

/// What the three cells share: parameters `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`
/// and the step itself.
struct Cell {
    kind: CellKind,
    input_size: usize,
    hidden_size: usize,
    dtype: DType,
    params: DirectionParams,
}

impl Cell {
    fn new(
        kind: CellKind,
        what: &'static str,
        input: usize,
        hidden: usize,
        config: CellConfig,
    ) -> Result<Cell> {
        if input == 0 || hidden == 0 {
            return Err(Error::config(
                what,
                format!("input_size and hidden_size must be positive, got {input} and {hidden}"),
            ));
        }
        if !config.dtype.is_float() {
            return Err(Error::config(
                what,
                format!("dtype must be f32 or f64, got {}", config.dtype),
            ));
        }
        Ok(Cell {
            kind,
            input_size: input,
            hidden_size: hidden,
            dtype: config.dtype,
            params: DirectionParams::new(kind, input, hidden, config.bias, config.dtype)?,
        })
    }

    /// One step: `input [B, I]` (or `[I]`), states `[B, H]` (or `[H]`), zeros when absent.
    /// Returns `(h', c')` (`c'` only for LSTM).
    fn step(
        &self,
        name: &str,
        input: &Tensor,
        h: Option<&Tensor>,
        c: Option<&Tensor>,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let input_err = |expected: String, got: &Tensor| Error::Input {
            layer: name.to_string(),
            expected,
            got: got.shape().into(),
        };
        let batched = match input.ndim() {
            2 => true,
            1 => false,
            _ => {
                return Err(input_err(
                    format!("input [B, {0}] or [{0}]", self.input_size),
                    input,
                ))
            }
        };
        if input.shape()[input.ndim() - 1] != self.input_size {
            return Err(input_err(
                format!("input with last dimension {}", self.input_size),
                input,
            ));
        }
        if input.dtype() != self.dtype {
            return Err(input_err(
                format!(
                    "{} input like its parameters, not {} (convert with to_dtype)",
                    self.dtype,
                    input.dtype()
                ),
                input,
            ));
        }
        let x = if batched {
            input.clone()
        } else {
            input.unsqueeze(0)?
        };
        let batch = x.shape()[0];
        let state_shape: Vec<usize> = if batched {
            vec![batch, self.hidden_size]
        } else {
            vec![self.hidden_size]
        };
        let state = |s: Option<&Tensor>, what: &str| -> Result<Tensor> {
            match s {
                None => Ok(Tensor::zeros_dtype(&[batch, self.hidden_size], self.dtype)),
                Some(s) if s.shape() != state_shape.as_slice() || s.dtype() != self.dtype => {
                    Err(input_err(
                        format!("{what} of shape {state_shape:?} and dtype {}", self.dtype),
                        s,
                    ))
                }
                Some(s) if batched => Ok(s.clone()),
                Some(s) => Ok(s.unsqueeze(0)?),
            }
        };
        let h0 = state(h, "hidden state")?;
        let c0 = if self.kind == CellKind::Lstm {
            Some(state(c, "cell state")?)
        } else {
            None
        };
        let o = recurrent_layer(
            self.kind,
            &x.unsqueeze(0)?,
            &h0,
            c0.as_ref(),
            self.params.weights(),
            Walk::default(),
        )?;
        let unbatch = |t: Tensor| if batched { Ok(t) } else { t.squeeze_dim(0) };
        Ok((unbatch(o.h_n)?, o.c_n.map(unbatch).transpose()?))
    }

    fn visit(&self, visitor: &mut dyn Visitor) {
        self.params.visit("", visitor);
    }

    fn extra_repr(&self) -> String {
        format!(
            "{}, {}, bias={}",
            self.input_size,
            self.hidden_size,
            self.params.b_ih.is_some()
        )
    }
}

macro_rules! cell_module {
    ($t:ident) => {
        impl Module for $t {
            fn visit(&self, visitor: &mut dyn Visitor) {
                self.cell.visit(visitor);
            }

            fn extra_repr(&self) -> String {
                self.cell.extra_repr()
            }
        }

        impl $t {
            /// Features per input step.
            pub fn input_size(&self) -> usize {
                self.cell.input_size
            }

            /// Units of the hidden state.

            pub fn hidden_size(&self) -> usize {
                self.cell.hidden_size
            }

            fn name(&self) -> String {
                format!(
                    "{}({}, {})",
                    stringify!($t),
                    self.cell.input_size,
                    self.cell.hidden_size
                )
            }
        }
    };
}

/// One step of an Elman RNN, like `torch.nn.RNNCell`: `h' = act(W_ih x + b_ih + W_hh h + b_hh)`.
///
/// ```
/// use strata_nn::{RNNCell, ModuleExt};
/// use strata_core::Tensor;
/// let cell = RNNCell::new(3, 4)?;
/// let mut h = Tensor::zeros(&[2, 4]);
/// for _ in 0..5 {
///     h = cell.step(&Tensor::randn(&[2, 3]), Some(&h))?;
/// }
/// assert_eq!(h.shape(), &[2, 4]);
/// let names: Vec<String> = cell.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct RNNCell {
    cell: Cell,
    nonlinearity: RNNNonlinearity,
}

impl RNNCell {
    /// A `tanh` cell with bias.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<RNNCell> {
        RNNCell::with_config(
            input_size,
            hidden_size,
            RNNNonlinearity::Tanh,
            CellConfig::default(),
        )
    }

    /// A cell with the given non-linearity and options.
    pub fn with_config(
        input_size: usize,
        hidden_size: usize,
        nonlinearity: RNNNonlinearity,
        config: CellConfig,
    ) -> Result<RNNCell> {
        Ok(RNNCell {
            cell: Cell::new(
                nonlinearity.kind(),
                "RNNCell",
                input_size,
                hidden_size,
                config,
            )?,
            nonlinearity,
        })
    }

    /// The next hidden state from `input` (`[B, I]` or `[I]`) and `h` (`[B, H]` or `[H]`,
    /// zeros when `None`).
    pub fn step(&self, input: &Tensor, h: Option<&Tensor>) -> Result<Tensor> {
        let (h, _) = self.cell.step(&self.name(), input, h, None)?;
        hooks::emit(self, &h);
        Ok(h)
    }

    /// The non-linearity.
    pub fn nonlinearity(&self) -> RNNNonlinearity {
        self.nonlinearity
    }
}
cell_module!(RNNCell);

/// One step of an LSTM, like `torch.nn.LSTMCell` (gates `i, f, g, o`; see [`crate::LSTM`]).
///
/// ```
/// use strata_nn::LSTMCell;
/// use strata_core::Tensor;
/// let cell = LSTMCell::new(3, 4)?;
/// let (h, c) = cell.step(&Tensor::randn(&[2, 3]), None)?;
/// let (h, c) = cell.step(&Tensor::randn(&[2, 3]), Some((&h, &c)))?;
/// assert_eq!((h.shape(), c.shape()), (&[2, 4][..], &[2, 4][..]));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct LSTMCell {
    cell: Cell,
}

impl LSTMCell {
    /// A cell with bias.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<LSTMCell> {
        LSTMCell::with_config(input_size, hidden_size, CellConfig::default())
    }

    /// A cell with the given options.
    pub fn with_config(
        input_size: usize,
        hidden_size: usize,
        config: CellConfig,
    ) -> Result<LSTMCell> {
        Ok(LSTMCell {
            cell: Cell::new(CellKind::Lstm, "LSTMCell", input_size, hidden_size, config)?,
        })
    }

    /// The next `(h, c)` from `input` (`[B, I]` or `[I]`) and `state = (h, c)` (each
    /// `[B, H]` or `[H]`, zeros when `None`).
    pub fn step(
        &self,
        input: &Tensor,
        state: Option<(&Tensor, &Tensor)>,
    ) -> Result<(Tensor, Tensor)> {
        let (h0, c0) = match state {
            Some((h, c)) => (Some(h), Some(c)),
            None => (None, None),
        };
        let (h, c) = self.cell.step(&self.name(), input, h0, c0)?;
        hooks::emit(self, &h);
        let c = c.unwrap_or_else(|| h.clone());
        Ok((h, c))
    }
}
cell_module!(LSTMCell);

/// One step of a GRU, like `torch.nn.GRUCell` (gates `r, z, n`; see [`crate::GRU`]).
///
/// ```
/// use strata_nn::GRUCell;
/// use strata_core::Tensor;
/// let cell = GRUCell::new(3, 4)?;
/// let h = cell.step(&Tensor::randn(&[3]), None)?; // unbatched
/// assert_eq!(h.shape(), &[4]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct GRUCell {
    cell: Cell,
}

impl GRUCell {
    /// A cell with bias.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<GRUCell> {
        GRUCell::with_config(input_size, hidden_size, CellConfig::default())
    }

    /// A cell with the given options.
    pub fn with_config(
        input_size: usize,
        hidden_size: usize,
        config: CellConfig,
    ) -> Result<GRUCell> {
        Ok(GRUCell {
            cell: Cell::new(CellKind::Gru, "GRUCell", input_size, hidden_size, config)?,
        })
    }

    /// The next hidden state from `input` (`[B, I]` or `[I]`) and `h` (`[B, H]` or `[H]`,
    /// zeros when `None`).
    pub fn step(&self, input: &Tensor, h: Option<&Tensor>) -> Result<Tensor> {
        let (h, _) = self.cell.step(&self.name(), input, h, None)?;
        hooks::emit(self, &h);
        Ok(h)
    }
}
cell_module!(GRUCell);

macro_rules! cell_forward {
    ($t:ident) => {
        impl Forward for $t {
            /// The next hidden state from a zero state.
            fn forward(&self, input: &Tensor) -> Result<Tensor> {
                Ok(self.cell.step(&self.name(), input, None, None)?.0)
            }
        }
    };
}
cell_forward!(RNNCell);
cell_forward!(LSTMCell);
cell_forward!(GRUCell);
