//! Sequence layers in a `Sequential`, batch first `[B, T, F]`.

use crate::config::PoolMode;
use std::sync::Mutex;
use strata_core::Tensor;
use strata_nn::{Forward, Module, Visitor, GRU, LSTM, RNN};

/// A recurrent layer: the last step's output `[B, H]` or the whole sequence `[B, T, H]`
/// out. Transparent in state dicts: its parameters keep the layer's own PyTorch names
/// (`2.weight_ih_l0`).
///
/// A stateful layer starts each batch from the final state of the batch before, detached:
/// truncated backpropagation through time in training, for a text read as streams that
/// continue from one batch to the next (row `b` of each batch after row `b` of the one
/// before), and the same reading in evaluation. The state starts from zeros again whenever
/// the layer is switched between training and evaluation (the trainer does so at each
/// epoch and around each evaluation) and when the batch size changes.
pub struct SequenceLayer<L> {
    layer: L,
    last: bool,
    stateful: bool,
    /// The carried state (`[h]`, or `[h, c]` for an LSTM), each `[layers, B, H]`.
    state: Mutex<Option<Vec<Tensor>>>,
}

impl<L: Recurrent> SequenceLayer<L> {
    pub fn new(layer: L, last: bool, stateful: bool) -> Self {
        SequenceLayer {
            layer,
            last,
            stateful,
            state: Mutex::new(None),
        }
    }

    fn carried(&self) -> std::sync::MutexGuard<'_, Option<Vec<Tensor>>> {
        // A panic elsewhere cannot leave the state half-written: it is replaced whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The layer's output, carrying the state when stateful.
    fn run(&self, input: &Tensor) -> strata_nn::Result<Tensor> {
        if !self.stateful {
            return self.layer.forward(input);
        }
        let mut carried = self.carried();
        let batch = input.shape().first().copied();
        let start = carried
            .take()
            .filter(|s| s.first().map(|h| h.shape().get(1).copied()) == Some(batch));
        let (out, end) = self.layer.forward_from(input, start.as_deref())?;
        *carried = Some(end.iter().map(Tensor::detach).collect());
        Ok(out)
    }
}

impl<L: Recurrent> Module for SequenceLayer<L> {
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.layer.visit(visitor)
    }
    fn type_name(&self) -> &'static str {
        self.layer.type_name()
    }
    fn set_training(&self, training: bool) {
        *self.carried() = None;
        self.layer.set_training(training)
    }
    fn is_training(&self) -> Option<bool> {
        self.layer.is_training()
    }
}

impl<L: Recurrent> Forward for SequenceLayer<L> {
    fn forward(&self, input: &Tensor) -> strata_nn::Result<Tensor> {
        let out = self.run(input)?;
        if !self.last {
            return Ok(out);
        }
        let steps = out.shape().get(1).copied().unwrap_or(0);
        if steps == 0 {
            return Ok(out);
        }
        Ok(out.select(1, steps - 1)?)
    }
}

/// A recurrent layer run from a given state: the output and the final state (`[h]`, or
/// `[h, c]` for an LSTM; zeros to start from when `None`).
pub trait Recurrent: Forward {
    fn forward_from(
        &self,
        input: &Tensor,
        state: Option<&[Tensor]>,
    ) -> strata_nn::Result<(Tensor, Vec<Tensor>)>;
}

impl Recurrent for LSTM {
    fn forward_from(
        &self,
        input: &Tensor,
        state: Option<&[Tensor]>,
    ) -> strata_nn::Result<(Tensor, Vec<Tensor>)> {
        let state = match state {
            Some([h, c]) => Some((h, c)),
            _ => None,
        };
        let (out, (h, c)) = self.forward_with_state(input, state)?;
        Ok((out, vec![h, c]))
    }
}

/// `RNN` and `GRU`, whose state is the hidden state alone.
macro_rules! hidden_state_recurrent {
    ($($layer:ty),*) => {$(
        impl Recurrent for $layer {
            fn forward_from(
                &self,
                input: &Tensor,
                state: Option<&[Tensor]>,
            ) -> strata_nn::Result<(Tensor, Vec<Tensor>)> {
                let (out, h) = self.forward_with_state(input, state.and_then(|s| s.first()))?;
                Ok((out, vec![h]))
            }
        }
    )*};
}
hidden_state_recurrent!(RNN, GRU);

/// `[B, T, F]` to `[B, F]`: the mean, the maximum or the last step over time, so a
/// sequence model (attention, a convolution over time) can end in a classifier.
pub struct PoolSequence {
    mode: PoolMode,
}

impl PoolSequence {
    pub fn new(mode: PoolMode) -> Self {
        PoolSequence { mode }
    }
}

impl Module for PoolSequence {
    fn visit(&self, _: &mut dyn Visitor) {}
    fn type_name(&self) -> &'static str {
        "PoolSequence"
    }
    fn extra_repr(&self) -> String {
        format!("mode={:?}", self.mode).to_lowercase()
    }
}

impl Forward for PoolSequence {
    fn forward(&self, input: &Tensor) -> strata_nn::Result<Tensor> {
        let steps = input.shape().get(1).copied().unwrap_or(0);
        if input.ndim() != 3 || steps == 0 {
            return Err(strata_nn::Error::Config {
                what: "PoolSequence",
                reason: format!(
                    "expects a non-empty batch of sequences [batch, time, features], got {:?}",
                    input.shape()
                ),
            });
        }
        Ok(match self.mode {
            PoolMode::Mean => input.mean(&[1], false)?,
            PoolMode::Max => input.max(1, false)?.0,
            PoolMode::Last => input.select(1, steps - 1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_nn::{RecurrentConfig, GRU, LSTM};

    fn batch_first() -> RecurrentConfig {
        RecurrentConfig {
            batch_first: true,
            num_layers: 2,
            ..Default::default()
        }
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.to_vec::<f32>().unwrap()
    }

    /// A stateful layer runs each batch from the final state of the one before, exactly as
    /// `forward_from` with that state, and detached from its graph; switching modes or
    /// changing the batch size starts from zeros.
    fn carries_like_forward_from<L: Recurrent>(layer: L) {
        let seq = SequenceLayer::new(layer, false, true);
        seq.set_training(true);
        let x1 = Tensor::randn(&[2, 5, 3]).requires_grad_();
        let x2 = Tensor::randn(&[2, 5, 3]);
        let (want1, end1) = seq.layer.forward_from(&x1, None).unwrap();
        let (want2, _) = seq.layer.forward_from(&x2, Some(&end1)).unwrap();
        let fresh2 = seq.layer.forward(&x2).unwrap();
        assert_ne!(
            values(&want2),
            values(&fresh2),
            "the state must matter here"
        );

        assert_eq!(values(&seq.forward(&x1).unwrap()), values(&want1));
        let y2 = seq.forward(&x2).unwrap();
        assert_eq!(values(&y2), values(&want2));
        // Truncated: the second batch's loss reaches the weights, not the first batch.
        let grads = y2.sum_all().unwrap().backward().unwrap();
        assert!(grads.get(&x1).is_none());

        seq.set_training(true); // a new epoch
        assert_eq!(values(&seq.forward(&x2).unwrap()), values(&fresh2));
        let x3 = Tensor::randn(&[3, 5, 3]); // another batch size
        assert_eq!(
            values(&seq.forward(&x3).unwrap()),
            values(&seq.layer.forward(&x3).unwrap())
        );
        seq.set_training(false); // evaluation carries too, from zeros
        assert_eq!(values(&seq.forward(&x1).unwrap()), values(&want1));
        assert_eq!(values(&seq.forward(&x2).unwrap()), values(&want2));
    }

    #[test]
    fn a_stateful_lstm_and_gru_carry_their_state_between_training_batches() {
        carries_like_forward_from(LSTM::with_config(3, 4, batch_first()).unwrap());
        carries_like_forward_from(GRU::with_config(3, 4, batch_first()).unwrap());
    }

    #[test]
    fn a_layer_without_state_runs_each_batch_from_zeros() {
        let seq = SequenceLayer::new(LSTM::with_config(3, 4, batch_first()).unwrap(), true, false);
        seq.set_training(true);
        let x = Tensor::randn(&[2, 5, 3]);
        let first = values(&seq.forward(&x).unwrap());
        assert_eq!(first.len(), 2 * 4); // the last step only
        assert_eq!(values(&seq.forward(&x).unwrap()), first);
    }
}
