//! Language-model metrics from the loss itself: perplexity and bits per character. Both
//! take `StepOutput.loss` to be the mean cross-entropy in nats per token (or character)
//! over `StepOutput.count` tokens, and average it over batches weighted by that count.

use super::{summed_states, Metric};
use crate::{Result, StepOutput, TrainError};

/// The count-weighted mean of the batches' losses.
#[derive(Clone, Debug, Default)]
struct MeanLoss {
    weighted_sum: f64,
    count: u64,
}

impl MeanLoss {
    fn add(&mut self, metric: &str, step: &StepOutput) -> Result<()> {
        if step.loss.numel() != 1 {
            return Err(TrainError::metric(
                metric,
                format!(
                    "the loss must be a scalar (the batch mean), got shape {:?}",
                    step.loss.shape()
                ),
            ));
        }
        let loss = step.loss.item()?;
        if step.count > 0 {
            self.weighted_sum += loss * step.count as f64;
            self.count += step.count as u64;
        }
        Ok(())
    }

    fn state(&self) -> Vec<f64> {
        vec![self.weighted_sum, self.count as f64]
    }

    fn merge(&mut self, metric: &str, states: &[Vec<f64>]) -> Result<()> {
        let sum = summed_states(metric, states, 2)?;
        (self.weighted_sum, self.count) = (sum[0], sum[1] as u64);
        Ok(())
    }

    fn mean(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.weighted_sum / self.count as f64
        }
    }
}

/// `exp` of the mean cross-entropy per token, key `"perplexity"`: the effective number of
/// equally likely tokens the model hesitates between (1 is certain, the vocabulary size is
/// a uniform guess). The mean weights each batch's loss by its `count`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::Perplexity, Metric, StepOutput};
/// let mut ppl = Perplexity::new();
/// let loss = Tensor::scalar(4.0f32.ln()); // a uniform guess among 4 tokens
/// ppl.update(&StepOutput::new(loss, Tensor::zeros(&[8, 4]), Tensor::zeros(&[8])))?;
/// assert!((ppl.compute()[0].1 - 4.0).abs() < 1e-6);
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Perplexity(MeanLoss);

impl Perplexity {
    /// An empty perplexity.
    pub fn new() -> Perplexity {
        Perplexity::default()
    }
}

impl Metric for Perplexity {
    fn name(&self) -> String {
        "perplexity".into()
    }

    fn reset(&mut self) {
        *self = Perplexity::default();
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        self.0.add("perplexity", step)
    }

    fn compute(&self) -> Vec<(String, f64)> {
        vec![(self.name(), self.0.mean().exp())]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        Box::new(Perplexity::new())
    }

    fn shard_state(&self) -> Option<Vec<f64>> {
        Some(self.0.state())
    }

    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        self.0.merge(&self.name(), states)
    }
}

/// The mean cross-entropy per character in bits (the mean loss in nats over ln 2), key
/// `"bpc"`: for a character-level model, how many bits per character it would compress
/// the text to. The mean weights each batch's loss by its `count`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::BitsPerCharacter, Metric, StepOutput};
/// let mut bpc = BitsPerCharacter::new();
/// let loss = Tensor::scalar(2.0f64.ln()); // a fair coin per character: one bit
/// bpc.update(&StepOutput::new(loss, Tensor::zeros(&[8, 2]), Tensor::zeros(&[8])))?;
/// assert!((bpc.compute()[0].1 - 1.0).abs() < 1e-12);
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct BitsPerCharacter(MeanLoss);

impl BitsPerCharacter {
    /// An empty bits-per-character.
    pub fn new() -> BitsPerCharacter {
        BitsPerCharacter::default()
    }
}

impl Metric for BitsPerCharacter {
    fn name(&self) -> String {
        "bpc".into()
    }

    fn reset(&mut self) {
        *self = BitsPerCharacter::default();
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        self.0.add("bpc", step)
    }

    fn compute(&self) -> Vec<(String, f64)> {
        vec![(self.name(), self.0.mean() / std::f64::consts::LN_2)]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        Box::new(BitsPerCharacter::new())
    }

    fn shard_state(&self) -> Option<Vec<f64>> {
        Some(self.0.state())
    }

    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        self.0.merge(&self.name(), states)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::Tensor;

    fn step(loss: f64, count: usize) -> StepOutput {
        StepOutput {
            loss: Tensor::scalar(loss),
            output: Tensor::zeros(&[count, 3]),
            target: Tensor::zeros(&[count]),
            count,
        }
    }

    fn value(m: &dyn Metric) -> f64 {
        m.compute()[0].1
    }

    #[test]
    fn means_are_weighted_by_count() {
        // Losses 1.0 over 10 tokens, 2.0 over 30, 4.0 over 0 (ignored): mean 70/40 = 1.75.
        let mut ppl = Perplexity::new();
        let mut bpc = BitsPerCharacter::new();
        for (loss, count) in [(1.0, 10), (2.0, 30), (4.0, 0)] {
            ppl.update(&step(loss, count)).unwrap();
            bpc.update(&step(loss, count)).unwrap();
        }
        assert!((value(&ppl) - 1.75f64.exp()).abs() < 1e-12);
        assert!((value(&bpc) - 1.75 / 2.0f64.ln()).abs() < 1e-12);
        assert_eq!(ppl.compute()[0].0, "perplexity");
        assert_eq!(bpc.compute()[0].0, "bpc");

        // One batch of the 40 tokens at their mean gives the same.
        let mut one = Perplexity::new();
        one.update(&step(1.75, 40)).unwrap();
        assert!((value(&one) - value(&ppl)).abs() < 1e-12);
    }

    #[test]
    fn known_losses() {
        // A uniform guess over 256 bytes: perplexity 256, 8 bits per character.
        let mut ppl = Perplexity::new();
        let mut bpc = BitsPerCharacter::new();
        let loss = Tensor::scalar(256.0f32.ln());
        let s = StepOutput::new(loss, Tensor::zeros(&[5, 256]), Tensor::zeros(&[5]));
        ppl.update(&s).unwrap();
        bpc.update(&s).unwrap();
        assert!((value(&ppl) - 256.0).abs() < 1e-3);
        assert!((value(&bpc) - 8.0).abs() < 1e-5);
    }

    #[test]
    fn non_scalar_loss_is_an_error_and_reset_clears() {
        let mut bpc = BitsPerCharacter::new();
        let mut bad = step(1.0, 4);
        bad.loss = Tensor::zeros(&[4]);
        assert_eq!(
            bpc.update(&bad).unwrap_err().to_string(),
            "metric bpc: the loss must be a scalar (the batch mean), got shape [4]"
        );
        assert!(value(&bpc).is_nan());
        // A [1]-shaped loss is one value and fine.
        bad.loss = Tensor::from_vec(vec![2.0f64.ln()], &[1]).unwrap();
        bpc.update(&bad).unwrap();
        assert!((value(&bpc) - 1.0).abs() < 1e-12);
        assert!(value(bpc.fresh().as_ref()).is_nan());
        bpc.reset();
        assert!(value(&bpc).is_nan());

        let mut ppl = Perplexity::new();
        ppl.update(&step(0.0, 3)).unwrap();
        assert_eq!(value(&ppl), 1.0);
        ppl.reset();
        assert!(value(&ppl).is_nan());
    }
}
