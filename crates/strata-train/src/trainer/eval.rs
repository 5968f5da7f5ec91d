//! Evaluation and prediction: the model in evaluation mode, no graph recorded, the same
//! step as training so the loss and metrics mean the same thing.

use super::{Engine, Task};
use crate::batches::Batches;
use crate::metrics::Metric;
use crate::{Result, StepOutput};
use std::collections::BTreeMap;
use strata_core::{no_grad, Tensor};
use strata_data::Batch;
use strata_nn::ModuleExt;

/// How many misclassified validation examples the report shows.
const MISCLASSIFIED_KEPT: usize = 32;

impl Engine {
    /// See [`Trainer::evaluate`](super::Trainer::evaluate).
    pub(super) fn evaluate(&mut self, loader: &dyn Batches) -> Result<BTreeMap<String, f64>> {
        let mut metrics: Vec<Box<dyn Metric>> =
            self.val_metrics.iter().map(|m| m.fresh()).collect();
        self.run_eval(loader, &mut metrics, false)
    }

    /// Validation inside training: the trainer's validation metrics (kept for the
    /// confusion matrix) and misclassified examples for the report.
    pub(super) fn run_validation(&mut self, loader: &dyn Batches) -> Result<BTreeMap<String, f64>> {
        let mut metrics = std::mem::take(&mut self.val_metrics);
        let result = self.run_eval(loader, &mut metrics, true);
        self.val_metrics = metrics;
        result
    }

    fn run_eval(
        &mut self,
        loader: &dyn Batches,
        metrics: &mut [Box<dyn Metric>],
        collect: bool,
    ) -> Result<BTreeMap<String, f64>> {
        for m in metrics.iter_mut() {
            m.reset();
        }
        let was_training = self.model.module().is_training().unwrap_or(true);
        self.model.module().eval();
        let collect = collect && self.settings.task == Task::Classification;
        if collect {
            self.state.misclassified.clear();
        }
        let result = (|| -> Result<BTreeMap<String, f64>> {
            let (mut loss_sum, mut count) = (0.0, 0usize);
            for batch in loader.batches(0) {
                let batch = batch?;
                let out = no_grad(|| self.model.step(&batch))?;
                loss_sum += out.loss.item()? * out.count as f64;
                count += out.count;
                for m in metrics.iter_mut() {
                    m.update(&out)?;
                }
                if collect {
                    self.collect_examples(&batch, &out)?;
                }
            }
            let mut values = BTreeMap::new();
            values.insert("loss".to_string(), loss_sum / count as f64);
            for m in metrics.iter() {
                values.extend(m.compute());
            }
            Ok(values)
        })();
        if was_training {
            self.model.module().train();
        }
        result
    }

    /// Keeps the first misclassified examples and one example for feature maps.
    fn collect_examples(&mut self, batch: &Batch, out: &StepOutput) -> Result<()> {
        if self.state.probe.is_none() && !batch.is_empty() {
            self.state.probe = Some(Batch {
                inputs: batch.inputs.narrow(0, 0, 1)?.copy(),
                targets: batch.targets.narrow(0, 0, 1)?.copy(),
                indices: batch.indices[..1].to_vec(),
            });
        }
        let (output, target) = (&out.output, &out.target);
        if self.state.misclassified.len() >= MISCLASSIFIED_KEPT
            || output.shape().len() != 2
            || target.shape() != [output.shape()[0]]
            || output.shape()[0] != batch.len()
        {
            return Ok(());
        }
        let labels = target.to_dtype(strata_core::DType::I64).to_vec::<i64>()?;
        let predicted = output.argmax(1, false)?.to_vec::<i64>()?;
        if labels.iter().zip(&predicted).all(|(l, p)| l == p) {
            return Ok(());
        }
        let probs = output.softmax(1)?;
        for (i, (&label, &pred)) in labels.iter().zip(&predicted).enumerate() {
            if label != pred && self.state.misclassified.len() < MISCLASSIFIED_KEPT {
                let confidence = probs
                    .select(0, i)?
                    .select(0, pred.max(0) as usize)?
                    .item()?;
                let input = batch.inputs.select(0, i)?.copy();
                self.state
                    .misclassified
                    .push((input, label, pred, confidence, batch.indices[i]));
            }
        }
        Ok(())
    }

    /// See [`Trainer::predict`](super::Trainer::predict).
    pub(super) fn predict(&mut self, loader: &dyn Batches) -> Result<Tensor> {
        let was_training = self.model.module().is_training().unwrap_or(true);
        self.model.module().eval();
        let result = (|| -> Result<Tensor> {
            let mut outputs = Vec::new();
            for batch in loader.batches(0) {
                let batch = batch?;
                let out = no_grad(|| match self.model.forward(&batch.inputs) {
                    Some(output) => output,
                    None => self.model.step(&batch).map(|o| o.output),
                })?;
                outputs.push(out);
            }
            if outputs.is_empty() {
                return Err(crate::TrainError::config(
                    "Trainer::predict",
                    "the loader yielded no batches",
                ));
            }
            Ok(Tensor::cat(&outputs, 0)?)
        })();
        if was_training {
            self.model.module().train();
        }
        result
    }
}
