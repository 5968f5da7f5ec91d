//! One batch of training: forward, the NaN/Inf guard, backward, gradient accumulation,
//! monitors, clipping, the optimiser and per-batch schedules.

use super::{Engine, Schedule};
use crate::callbacks::Control;
use crate::records::{Record, StepRecord};
use crate::tensor_stats::{all_finite, all_finite_each};
use crate::{Result, TrainError};
use strata_core::Gradients;
use strata_data::Batch;
use strata_nn::clip::clip_grad_norm;
use strata_nn::ModuleExt;

/// What [`Trainer::train_step`](super::Trainer::train_step) did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepReport {
    /// The batch's mean loss.
    pub loss: f64,
    /// True when the optimiser stepped (false while gradients are being accumulated).
    pub stepped: bool,
    /// Optimiser steps completed.
    pub step: u64,
}

impl Engine {
    /// See [`Trainer::train_step`](super::Trainer::train_step).
    pub(super) fn train_step(&mut self, batch: &Batch) -> Result<StepReport> {
        self.ensure_started(super::epoch::RunStart {
            first: Some(batch),
            ..Default::default()
        })?;
        if self.state.epoch_started.is_none() {
            self.begin_epoch(None)?;
        }
        let step_no = self.state.step + 1;
        let epoch_no = self.state.epoch + 1;
        let out = match (&mut self.state.monitor, self.state.micro) {
            (Some(monitor), 0) => {
                let model = &self.model;
                monitor.forward(step_no, || model.step(batch))?
            }
            _ => self.model.step(batch)?,
        };
        let loss = out.loss.item()?;
        if !loss.is_finite() {
            return Err(self.non_finite_loss(loss, step_no, epoch_no));
        }
        if !self.state.graph_written {
            self.state.graph_written = true;
            self.write_graph(&out.loss)?;
        }
        let n = self.settings.accumulate;
        let overlap = n == 1 && self.settings.overlap;
        let grads = match &mut self.group {
            Some(group) if overlap && group.world() > 1 => {
                let mut average = crate::parallel::OverlappedAverage::new(
                    &mut **group,
                    &self.state.named,
                    batch.len(),
                )?;
                // The hook can only return the autograd's error type: keep the trainer's.
                let mut failed = None;
                let pass = out.loss.backward_with_hook(&mut |leaf, g| {
                    average.ready(leaf, g).map_err(|e| {
                        let message = e.to_string();
                        failed = Some(e);
                        strata_core::Error::Backward(message)
                    })
                });
                if let Some(e) = failed {
                    return Err(e);
                }
                let mut grads = pass?;
                average.finish(&mut grads)?;
                self.state.pending_averaged = true;
                grads
            }
            _ if n > 1 => out.loss.div_scalar(n as f64)?.backward()?,
            _ => out.loss.backward()?,
        };
        for m in &mut self.train_metrics {
            m.update(&out)?;
        }
        self.state.loss_sum += loss * out.count as f64;
        self.state.loss_count += out.count;
        self.state.examples += batch.len();
        self.state.pending_examples += batch.len();
        self.state.last_loss = loss;
        self.state.pending = Some(match self.state.pending.take() {
            None => grads,
            Some(sum) => self.add_gradients(sum, &grads)?,
        });
        self.state.micro += 1;
        let stepped = self.state.micro == n;
        if stepped {
            self.apply_pending(loss)?;
        }
        self.after_batch(batch.len());
        Ok(StepReport {
            loss,
            stepped,
            step: self.state.step,
        })
    }

    /// Adds one batch's parameter gradients to the running sum (over the parameters taken
    /// when training started, rather than walking the model again for every batch).
    fn add_gradients(&self, mut sum: Gradients, grads: &Gradients) -> Result<Gradients> {
        for (_, p) in &self.state.named {
            if let Some(g) = grads.get(p.tensor()) {
                let total = match sum.get(p.tensor()) {
                    Some(prev) => prev.add(g)?,
                    None => g.clone(),
                };
                sum.insert(p.tensor(), total);
            }
        }
        Ok(sum)
    }

    /// The optimiser step with the accumulated gradients.
    pub(super) fn apply_pending(&mut self, loss: f64) -> Result<()> {
        let Some(mut grads) = self.state.pending.take() else {
            return Ok(());
        };
        self.state.micro = 0;
        let examples = std::mem::take(&mut self.state.pending_examples);
        let step_no = self.state.step + 1;
        let epoch_no = self.state.epoch + 1;
        let named = &self.state.named;
        let averaged = std::mem::take(&mut self.state.pending_averaged);
        if let Some(group) = &mut self.group {
            // Before the guard: every rank then sees the same gradients and stops alike.
            if !averaged && group.world() > 1 {
                crate::parallel::average_gradients(&mut **group, &mut grads, named, examples)?;
            }
        }
        // The guard: a non-finite gradient never reaches the weights.
        let checked: Vec<(&String, &strata_core::Tensor)> = named
            .iter()
            .filter(|(_, p)| p.is_trainable())
            .filter_map(|(name, p)| Some((name, grads.get(p.tensor())?)))
            .collect();
        let finite = all_finite_each(&checked.iter().map(|(_, g)| *g).collect::<Vec<_>>());
        if let Some(i) = finite.iter().position(|ok| !ok) {
            let (name, g) = checked[i];
            return Err(TrainError::NonFinite {
                what: "gradient",
                step: step_no,
                epoch: epoch_no,
                detail: format!(
                    "the gradient of {name} (shape {:?}) has NaN or infinite values; \
                     the step was not applied (loss {loss})",
                    g.shape()
                ),
            });
        }
        if let Some(monitor) = &mut self.state.monitor {
            monitor.after_backward(self.model.module(), &grads, step_no, epoch_no);
        }
        if let Some(max) = self.settings.clip_norm {
            let params: Vec<_> = named.iter().map(|(_, p)| p.clone()).collect();
            clip_grad_norm(&mut grads, &params, max, 2.0)?;
        }
        self.optimizer.step(&grads)?;
        self.state.step += 1;
        if let Some(Schedule::PerBatch(s)) = &mut self.schedule {
            s.step();
            s.apply(&mut *self.optimizer)?;
        }
        self.after_update(step_no, epoch_no, loss)
    }

    /// Monitors, step logs and batch callbacks after an optimiser step.
    fn after_update(&mut self, step: u64, epoch: u64, loss: f64) -> Result<()> {
        let (record, histograms, warnings) = match &mut self.state.monitor {
            Some(m) => {
                let record = m.after_update(self.model.module(), step, epoch);
                m.on_loss(step, epoch, loss);
                (record, m.take_histograms(), m.take_new_warnings())
            }
            None => (None, Vec::new(), Vec::new()),
        };
        self.report_warnings(&warnings);
        let lr = self.optimizer.lr();
        if let Some(logs) = &mut self.logs {
            if let Some(r) = &record {
                logs.dir.append(&Record::Monitor(r.clone()))?;
            }
            logs.dir.append_histograms(&histograms)?;
            if let Some(every) = self.settings.log_every_steps
                && step.is_multiple_of(every)
            {
                let rec = StepRecord {
                    step,
                    epoch,
                    loss,
                    lr,
                };
                logs.dir.append(&Record::Step(rec))?;
            }
            if let Some(events) = &mut logs.events {
                super::finish::log_step_events(
                    events,
                    step,
                    loss,
                    lr,
                    record.as_ref(),
                    &histograms,
                )?;
            }
        }
        let ctx = context!(self);
        let mut stop = None;
        for cb in &mut self.callbacks {
            if let Some(r) = &record {
                cb.on_monitor(&ctx, r)?;
            }
            if let Control::Stop(reason) = cb.on_batch_end(&ctx, loss)? {
                stop.get_or_insert(reason);
            }
        }
        if let Some(reason) = stop {
            self.state.stopped.get_or_insert(reason);
        }
        Ok(())
    }

    /// The error for a non-finite loss, naming the first parameter whose value is no
    /// longer finite if the previous step produced one.
    fn non_finite_loss(&self, loss: f64, step: u64, epoch: u64) -> TrainError {
        let bad = self
            .model
            .module()
            .named_parameters()
            .into_iter()
            .find(|(_, p)| !all_finite(p.tensor()));
        let detail = match &bad {
            Some((name, _)) => format!(
                "the loss is {loss}: the value of {name} has NaN or infinite entries \
                 (set by step {}); nothing was applied at this step",
                step - 1
            ),
            None => format!(
                "the loss is {loss} while every parameter is finite (check the inputs, the \
                 targets and the loss function); nothing was applied"
            ),
        };
        TrainError::NonFinite {
            what: if bad.is_some() { "value" } else { "loss" },
            step,
            epoch,
            detail,
        }
    }

    /// Prints new warnings, once each, in every progress mode: they matter.
    pub(super) fn report_warnings(&self, warnings: &[crate::records::Warning]) {
        for w in warnings {
            eprintln!("{w}");
        }
    }
}
