//! `GRU`: the gated recurrent unit network.

use super::gates::CellKind;
use super::layer::{hidden_state_forward, recurrent_layer};
use super::stack::{RecurrentConfig, Stack};
use crate::{hooks, Forward, Module, Result, Visitor};
use strata_core::Tensor;

/// A multi-layer gated recurrent unit network, like `torch.nn.GRU`: per layer and step
///
/// ```text
/// r = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
/// h' = (1 − z) ⊙ n + z ⊙ h
/// ```
///
/// Gates are stacked `r, z, n` in `weight_ih_l{k}` (`[3H, I]`) and `weight_hh_l{k}`
/// (`[3H, H]`), as in PyTorch. Shapes, options and names as for [`crate::RNN`].
///
/// ```
/// use strata_nn::{GRU, RecurrentConfig};
/// use strata_core::Tensor;
/// let gru = GRU::with_config(3, 4, RecurrentConfig { bidirectional: true, ..Default::default() })?;
/// let (out, h_n) = gru.forward_with_state(&Tensor::randn(&[6, 2, 3]), None)?;
/// assert_eq!(out.shape(), &[6, 2, 8]);
/// assert_eq!(h_n.shape(), &[2, 2, 4]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct GRU {
    stack: Stack,
}

impl GRU {
    /// A one-layer GRU with PyTorch's defaults.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<GRU> {
        GRU::with_config(input_size, hidden_size, RecurrentConfig::default())
    }

    /// A GRU with the given hyperparameters.
    pub fn with_config(
        input_size: usize,
        hidden_size: usize,
        config: RecurrentConfig,
    ) -> Result<GRU> {
        Ok(GRU {
            stack: Stack::new(CellKind::Gru, "GRU", input_size, hidden_size, config)?,
        })
    }
}

hidden_state_forward! {
    GRU,
    /// Padded batches: sequence `b` is valid for its first `lengths[b]` steps (see
    /// [`crate::RNN::forward_with_lengths`]).
    ///
    /// ```
    /// use strata_nn::GRU;
    /// use strata_core::Tensor;
    /// let gru = GRU::new(2, 3)?;
    /// let x = Tensor::randn(&[5, 2, 2]);
    /// let (_, h_n) = gru.forward_with_lengths(&x, None, &[3, 5])?;
    /// // Sequence 0 ends at step 3: its final state ignores the padding after it.
    /// let (_, alone) = gru.forward_with_state(&x.narrow(0, 0, 3)?.narrow(1, 0, 1)?, None)?;
    /// let (a, b) = (h_n.narrow(1, 0, 1)?.to_vec::<f32>()?, alone.to_vec::<f32>()?);
    /// assert!(a.iter().zip(&b).all(|(a, b)| (a - b).abs() < 1e-6));
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    fn forward_with_lengths
}

recurrent_layer!(GRU, "GRU", |_| String::new());
