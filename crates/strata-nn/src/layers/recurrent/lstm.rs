//! `LSTM`: the long short-term memory network.

use super::gates::CellKind;
use super::layer::recurrent_layer;
use super::stack::{RecurrentConfig, Stack};
use crate::{hooks, Forward, Module, Result, Visitor};
use strata_core::Tensor;

/// The final `(h_n, c_n)` of an [`LSTM`], each `[D·num_layers, B, H]`.
///
/// ```
/// use strata_nn::{LstmState, LSTM};
/// use strata_core::Tensor;
/// let (_, state): (Tensor, LstmState) = LSTM::new(2, 3)?.forward_with_state(&Tensor::randn(&[4, 1, 2]), None)?;
/// assert_eq!(state.1.shape(), &[1, 1, 3]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub type LstmState = (Tensor, Tensor);

/// A multi-layer long short-term memory network, like `torch.nn.LSTM`: per layer and step
///
/// ```text
/// i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
/// g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
/// c' = f ⊙ c + i ⊙ g                       h' = o ⊙ tanh(c')
/// ```
///
/// Gates are stacked `i, f, g, o` in `weight_ih_l{k}` (`[4H, I]`) and `weight_hh_l{k}`
/// (`[4H, H]`), as in PyTorch. Shapes, options and names as for [`crate::RNN`].
///
/// The returned states are ordinary tensors, so truncated backpropagation through time is a
/// matter of `detach()`ing them between chunks: the next chunk starts from their values but
/// its gradients stop there.
///
/// ```
/// use strata_nn::{Adam, Linear, LSTM, Forward, ModuleExt, Optimizer, RecurrentConfig};
/// use strata_core::Tensor;
/// let lstm = LSTM::with_config(3, 8, RecurrentConfig { batch_first: true, ..Default::default() })?;
/// let head = Linear::new(8, 1)?;
/// let mut params = lstm.parameters();
/// params.extend(head.parameters());
/// let mut opt = Adam::new(params, 1e-2)?;
/// let series = Tensor::randn(&[2, 40, 3]); // B = 2, T = 40
/// let mut state: Option<(Tensor, Tensor)> = None;
/// for chunk in 0..4 {
///     let x = series.narrow(1, chunk * 10, 10)?; // 10 steps per chunk
///     let (out, (h, c)) = lstm.forward_with_state(&x, state.as_ref().map(|(h, c)| (h, c)))?;
///     let loss = head.forward(&out)?.pow_scalar(2.0)?.mean_all()?;
///     opt.step(&loss.backward()?)?;
///     state = Some((h.detach(), c.detach())); // carry the values, cut the graph
/// }
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct LSTM {
    stack: Stack,
}

impl LSTM {
    /// A one-layer LSTM with PyTorch's defaults.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<LSTM> {
        LSTM::with_config(input_size, hidden_size, RecurrentConfig::default())
    }

    /// An LSTM with the given hyperparameters.
    pub fn with_config(
        input_size: usize,
        hidden_size: usize,
        config: RecurrentConfig,
    ) -> Result<LSTM> {
        Ok(LSTM {
            stack: Stack::new(CellKind::Lstm, "LSTM", input_size, hidden_size, config)?,
        })
    }

    /// The output sequence and the final `(h_n, c_n)`, starting from `state = (h0, c0)`
    /// (each `[D·num_layers, B, H]`, zeros when `None`).
    pub fn forward_with_state(
        &self,
        input: &Tensor,
        state: Option<(&Tensor, &Tensor)>,
    ) -> Result<(Tensor, LstmState)> {
        self.run(input, state, None)
    }

    /// Padded batches: sequence `b` is valid for its first `lengths[b]` steps (see
    /// [`crate::RNN::forward_with_lengths`]).
    ///
    /// ```
    /// use strata_nn::LSTM;
    /// use strata_core::Tensor;
    /// let lstm = LSTM::new(2, 3)?;
    /// let (out, (h_n, c_n)) = lstm.forward_with_lengths(&Tensor::randn(&[5, 2, 2]), None, &[5, 1])?;
    /// assert_eq!((out.shape(), h_n.shape(), c_n.shape()), (&[5, 2, 3][..], &[1, 2, 3][..], &[1, 2, 3][..]));
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn forward_with_lengths(
        &self,
        input: &Tensor,
        state: Option<(&Tensor, &Tensor)>,
        lengths: &[usize],
    ) -> Result<(Tensor, LstmState)> {
        self.run(input, state, Some(lengths))
    }

    fn run(
        &self,
        input: &Tensor,
        state: Option<(&Tensor, &Tensor)>,
        lengths: Option<&[usize]>,
    ) -> Result<(Tensor, LstmState)> {
        let (h0, c0) = match state {
            Some((h, c)) => (Some(h), Some(c)),
            None => (None, None),
        };
        let o = self.stack.run(&self.name(), input, h0, c0, lengths)?;
        hooks::emit(self, &o.out);
        let c_n = o.c_n.unwrap_or_else(|| o.h_n.clone());
        Ok((o.out, (o.h_n, c_n)))
    }
}

recurrent_layer!(LSTM, "LSTM", |_| String::new());
