//! `RNN`: the Elman recurrent network, `h' = act(W_ih x + b_ih + W_hh h + b_hh)`.

use super::gates::CellKind;
use super::layer::{hidden_state_forward, recurrent_layer};
use super::stack::{RecurrentConfig, Stack};
use crate::{hooks, Forward, Module, Result, Visitor};
use strata_core::Tensor;

/// The non-linearity of an [`RNN`] or [`crate::RNNCell`].
///
/// ```
/// use strata_nn::{RNN, RNNNonlinearity, RecurrentConfig};
/// let rnn = RNN::with_config(2, 3, RNNNonlinearity::Relu, RecurrentConfig::default())?;
/// assert_eq!(rnn.nonlinearity(), RNNNonlinearity::Relu);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RNNNonlinearity {
    /// `tanh` (PyTorch's default).
    #[default]
    Tanh,
    /// `relu`.
    Relu,
}

impl RNNNonlinearity {
    pub(crate) fn kind(self) -> CellKind {
        match self {
            RNNNonlinearity::Tanh => CellKind::RnnTanh,
            RNNNonlinearity::Relu => CellKind::RnnRelu,
        }
    }
}

/// A multi-layer Elman RNN with `tanh` or `relu`, like `torch.nn.RNN`: per layer and step
/// `h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`.
///
/// Input `[T, B, I]` (`[B, T, I]` with `batch_first`, or unbatched `[T, I]`); output
/// `[T, B, D·H]` (`D` = 2 when bidirectional); final state `h_n: [D·num_layers, B, H]`.
/// Parameters are named like PyTorch's (`weight_ih_l0`, `bias_hh_l1_reverse`, ...), so its
/// state dicts load with `load_state_dict`. Each layer-direction runs as one fused op (see
/// `ARCHITECTURE.md`, "Recurrent layers").
///
/// ```
/// use strata_nn::{RNN, RNNNonlinearity, RecurrentConfig, ModuleExt};
/// use strata_core::Tensor;
/// let config = RecurrentConfig { num_layers: 2, batch_first: true, ..Default::default() };
/// let rnn = RNN::with_config(3, 5, RNNNonlinearity::Relu, config)?;
/// let (out, h_n) = rnn.forward_with_state(&Tensor::randn(&[4, 7, 3]), None)?;
/// assert_eq!(out.shape(), &[4, 7, 5]);
/// assert_eq!(h_n.shape(), &[2, 4, 5]);
/// assert_eq!(rnn.named_parameters()[0].0, "weight_ih_l0");
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct RNN {
    stack: Stack,
    nonlinearity: RNNNonlinearity,
}

impl RNN {
    /// A one-layer `tanh` RNN with PyTorch's defaults.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<RNN> {
        RNN::with_config(
            input_size,
            hidden_size,
            RNNNonlinearity::Tanh,
            RecurrentConfig::default(),
        )
    }

    /// An RNN with the given non-linearity and hyperparameters.
    pub fn with_config(
        input_size: usize,
        hidden_size: usize,
        nonlinearity: RNNNonlinearity,
        config: RecurrentConfig,
    ) -> Result<RNN> {
        Ok(RNN {
            stack: Stack::new(nonlinearity.kind(), "RNN", input_size, hidden_size, config)?,
            nonlinearity,
        })
    }

    /// The non-linearity.
    pub fn nonlinearity(&self) -> RNNNonlinearity {
        self.nonlinearity
    }
}

hidden_state_forward! {
    RNN,
    /// Like [`RNN::forward_with_state`] for padded batches: sequence `b` is valid for its
    /// first `lengths[b]` steps. Outputs at padded steps are zero and `h_n` is each
    /// sequence's state at its last valid step (the reverse direction starts there), as
    /// PyTorch gives with packed sequences.
    ///
    /// ```
    /// use strata_nn::RNN;
    /// use strata_core::Tensor;
    /// let rnn = RNN::new(2, 3)?;
    /// let x = Tensor::randn(&[4, 2, 2]); // T = 4, B = 2
    /// let (out, h_n) = rnn.forward_with_lengths(&x, None, &[4, 2])?;
    /// let padded = out.narrow(0, 2, 2)?.narrow(1, 1, 1)?;
    /// assert_eq!(padded.to_vec::<f32>()?, vec![0.0; 6]);
    /// assert!(rnn.forward_with_lengths(&x, None, &[5, 2]).is_err());
    /// # let _ = h_n;
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    fn forward_with_lengths
}

recurrent_layer!(RNN, "RNN", |l| format!(
    ", nonlinearity={:?}",
    l.nonlinearity
));
