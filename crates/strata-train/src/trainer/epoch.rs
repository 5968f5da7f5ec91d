//! Epochs: starting a run, beginning and ending epochs (validation, schedules, records,
//! callbacks, save points) and `fit`, which loops over them.

use super::{Engine, Logs, Schedule};
use crate::batches::Batches;
use crate::callbacks::{Control, ModelCheckpoint};
use crate::monitor::Monitor;
use crate::progress::{EpochProgress, ProgressMode};
use crate::records::{EpochRecord, Record};
use crate::run_dir::RunDir;
use crate::tensor_stats::all_finite;
use crate::tensorboard::EventWriter;
use crate::{Result, TrainError};
use std::collections::BTreeMap;
use std::time::Instant;
use strata_data::Batch;
use strata_nn::ModuleExt;

/// What is known when a run starts (`fit` knows it all; a hand-written loop of
/// `train_step`s nothing).
#[derive(Default)]
pub(super) struct RunStart<'a> {
    pub train_examples: Option<usize>,
    pub val_examples: Option<usize>,
    pub epochs: Option<u64>,
    /// A batch for the model summary.
    pub first: Option<&'a Batch>,
}

impl Engine {
    /// See [`Trainer::fit`](super::Trainer::fit).
    pub(super) fn fit(
        &mut self,
        train: &dyn Batches,
        val: Option<&dyn Batches>,
        epochs: u64,
    ) -> Result<Vec<EpochRecord>> {
        // One batch for the model summary in the run directory.
        let first = match (&self.settings.run, self.state.started) {
            (super::RunTarget::Nowhere, _) | (_, Some(_)) => None,
            _ => train.batches(self.state.epoch).next().transpose()?,
        };
        self.ensure_started(RunStart {
            train_examples: Some(train.num_examples()),
            val_examples: val.map(|v| v.num_examples()),
            epochs: Some(epochs),
            first: first.as_ref(),
        })?;
        self.state.target_epochs = Some(epochs);
        // A second `fit` on the same trainer trains on and closes the run again.
        self.state.finished = false;
        let result = self.run_epochs(train, val, epochs);
        match result {
            Ok(()) => {
                self.finish()?;
                Ok(self.state.history.clone())
            }
            Err(err) => {
                self.finish_after_error(&err);
                Err(err)
            }
        }
    }

    fn run_epochs(
        &mut self,
        train: &dyn Batches,
        val: Option<&dyn Batches>,
        epochs: u64,
    ) -> Result<()> {
        while self.state.epoch < epochs && self.state.stopped.is_none() {
            self.begin_epoch(Some(train.num_batches()))?;
            for batch in train.batches(self.state.epoch) {
                self.train_step(&batch?)?;
                if self.state.stopped.is_some() {
                    break;
                }
            }
            self.end_epoch(val)?;
        }
        Ok(())
    }

    /// Opens the run: seeds, monitors, the run directory, callbacks' `on_train_begin`.
    pub(super) fn ensure_started(&mut self, start: RunStart) -> Result<()> {
        if self.state.started.is_some() {
            return Ok(());
        }
        self.state.started = Some(Instant::now());
        self.state.started_at = Some(std::time::SystemTime::now());
        let (rank, _) = self.rank();
        if rank > 0 {
            // Rank 0 writes and prints for the whole group.
            self.settings.run = super::RunTarget::Nowhere;
            self.settings.progress = ProgressMode::Quiet;
            self.monitor_config = None;
        }
        if let (Some(seed), false) = (self.settings.seed, self.state.resumed) {
            strata_core::manual_seed(seed.wrapping_add(rank as u64));
        }
        if let Some(group) = &mut self.group {
            crate::parallel::check_same_model(&mut **group, self.model.module())?;
            crate::parallel::broadcast_module(&mut **group, self.model.module())?;
        }
        self.model.module().train();
        self.state.named = self.model.module().named_parameters();
        self.state.monitor = self
            .monitor_config
            .clone()
            .map(|c| Monitor::new(self.model.module(), c));
        if self.settings.main_metric.is_none() {
            let key = match (start.val_examples.is_some(), self.settings.task) {
                (true, super::Task::Classification) => "val_accuracy",
                (true, _) => "val_loss",
                (false, _) => "train_loss",
            };
            self.settings.main_metric = Some(key.into());
        }
        self.state.train_examples = start.train_examples;
        self.state.val_examples = start.val_examples;
        self.state.target_epochs = start.epochs;
        self.open_logs(start.first)?;
        if self.logs.is_some()
            && self.settings.checkpoints
            && !self
                .callbacks
                .iter()
                .any(|c| c.name() == "model_checkpoint")
        {
            let key = self.settings.main_metric.clone().unwrap_or_default();
            self.callbacks
                .push(Box::new(ModelCheckpoint::new().best(key)));
        }
        self.restore_callbacks()?;
        let ctx = context!(self);
        for cb in &mut self.callbacks {
            cb.on_train_begin(&ctx)?;
        }
        Ok(())
    }

    fn open_logs(&mut self, first: Option<&Batch>) -> Result<()> {
        let dir = match &self.settings.run {
            super::RunTarget::Nowhere => return Ok(()),
            super::RunTarget::Under(root) => RunDir::create_in(root, &self.settings.name)?,
            super::RunTarget::At(path) => RunDir::create_at(path)?,
        };
        if self.settings.progress != ProgressMode::Quiet {
            println!("run: {}", dir.path().display());
        }
        let events = if self.settings.tensorboard {
            Some(EventWriter::create(dir.path())?)
        } else {
            None
        };
        self.logs = Some(Logs { dir, events });
        if let Some(batch) = first {
            let one = batch.inputs.narrow(0, 0, 1.min(batch.len()))?;
            if let Some(text) = self.model.summary(&one) {
                self.write_run_file("summary.txt", text?.as_bytes())?;
            }
        }
        if let Some(logs) = &self.logs {
            logs.dir.write_json("config.json", &self.settings.hparams)?;
        }
        // A resumed run starts its new directory with the history so far.
        let history = self.state.history.clone();
        if let Some(logs) = &mut self.logs {
            for rec in &history {
                logs.dir.append(&Record::Epoch(rec.clone()))?;
            }
        }
        self.write_meta(false)?;
        Ok(())
    }

    /// See [`Trainer::begin_epoch`](super::Trainer::begin_epoch).
    pub(super) fn begin_epoch(&mut self, batches: Option<usize>) -> Result<()> {
        for m in &mut self.train_metrics {
            m.reset();
        }
        self.state.loss_sum = 0.0;
        self.state.loss_count = 0;
        self.state.examples = 0;
        self.state.epoch_started = Some(Instant::now());
        self.model.module().train();
        let epochs = self.state.target_epochs.unwrap_or(0);
        self.state.bar = Some(EpochProgress::start(
            self.settings.progress,
            self.state.epoch + 1,
            epochs,
            batches.unwrap_or(0),
        ));
        let ctx = context!(self);
        let epoch = self.state.epoch + 1;
        for cb in &mut self.callbacks {
            cb.on_epoch_begin(&ctx, epoch)?;
        }
        Ok(())
    }

    /// Progress after each batch: the running loss and the first metric's running value
    /// (metrics keep sums, so this costs no pass over the data).
    pub(super) fn after_batch(&mut self, examples: usize) {
        if let Some(bar) = &mut self.state.bar {
            let running = self.state.loss_sum / self.state.loss_count.max(1) as f64;
            let metric = if bar.is_visible() {
                self.train_metrics
                    .first()
                    .and_then(|m| m.compute().into_iter().next())
            } else {
                None
            };
            bar.batch(
                examples,
                running,
                metric.as_ref().map(|(k, v)| (k.as_str(), *v)),
            );
        }
    }

    /// See [`Trainer::end_epoch`](super::Trainer::end_epoch).
    pub(super) fn end_epoch(&mut self, val: Option<&dyn Batches>) -> Result<EpochRecord> {
        if self.state.pending.is_some() {
            let loss = self.state.last_loss;
            self.apply_pending(loss)?;
        }
        if let Some(bar) = self.state.bar.take() {
            bar.finish();
        }
        let epoch = self.state.epoch + 1;
        let mut metrics = BTreeMap::new();
        let mut train: Vec<(String, f64)> = Vec::new();
        if let Some(group) = &mut self.group {
            // Metrics with shard state become exact over all ranks; the others (a user's
            // metric without one) are averaged by example count.
            let merged = crate::parallel::merge_metrics(&mut **group, &mut self.train_metrics)?;
            let mut averaged: Vec<(String, f64)> = Vec::new();
            for (m, merged) in self.train_metrics.iter().zip(merged) {
                if merged {
                    train.extend(m.compute());
                } else {
                    averaged.extend(m.compute());
                }
            }
            let s = &mut self.state;
            let mut sums = [s.loss_sum, s.loss_count as f64, s.examples as f64];
            let mut means: Vec<f64> = averaged.iter().map(|(_, v)| *v).collect();
            crate::parallel::reduce_epoch(&mut **group, &mut sums, &mut means, s.examples)?;
            (s.loss_sum, s.loss_count, s.examples) = (sums[0], sums[1] as usize, sums[2] as usize);
            averaged
                .iter_mut()
                .zip(means)
                .for_each(|((_, v), m)| *v = m);
            train.extend(averaged);
        } else {
            train.extend(self.train_metrics.iter().flat_map(|m| m.compute()));
        }
        let train_loss = self.state.loss_sum / self.state.loss_count as f64;
        metrics.insert("train_loss".to_string(), train_loss);
        for (k, v) in train {
            metrics.insert(format!("train_{k}"), v);
        }
        let last = self.state.target_epochs == Some(epoch);
        let mut val_loss = None;
        if let Some(val) = val
            && (epoch.is_multiple_of(self.settings.eval_every) || last)
        {
            let values = self.run_validation(val)?;
            val_loss = values.get("loss").copied();
            for (k, v) in values {
                metrics.insert(format!("val_{k}"), v);
            }
        }
        self.step_epoch_schedule(&metrics)?;
        self.state.epoch = epoch;
        let now = Instant::now();
        let epoch_secs = self
            .state
            .epoch_started
            .take()
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        let record = EpochRecord {
            epoch,
            step: self.state.step,
            lr: self.optimizer.lr(),
            seconds: self
                .state
                .started
                .map_or(0.0, |t| now.duration_since(t).as_secs_f64())
                + self.state.seconds_before,
            samples_per_sec: self.state.examples as f64 / epoch_secs.max(1e-9),
            metrics,
        };
        self.state.history.push(record.clone());
        let warnings = match &mut self.state.monitor {
            Some(m) => {
                m.on_epoch_end(epoch, self.state.step, train_loss, val_loss);
                m.take_new_warnings()
            }
            None => Vec::new(),
        };
        self.report_warnings(&warnings);
        self.log_epoch(&record)?;
        let ctx = context!(self);
        let mut stop = None;
        for cb in &mut self.callbacks {
            if let Control::Stop(reason) = cb.on_epoch_end(&ctx, &record)? {
                stop.get_or_insert(reason);
            }
        }
        if let Some(reason) = stop {
            if self.settings.progress != ProgressMode::Quiet {
                println!("{reason}");
            }
            self.state.stopped.get_or_insert(reason);
        }
        self.save_point()?;
        Ok(record)
    }

    fn step_epoch_schedule(&mut self, metrics: &BTreeMap<String, f64>) -> Result<()> {
        match &mut self.schedule {
            Some(Schedule::PerEpoch(s)) => {
                s.step();
                s.apply(&mut *self.optimizer)?;
            }
            Some(Schedule::OnMetric(s, key)) => {
                if let Some(&v) = metrics.get(key.as_str()) {
                    s.step_with_metric(v);
                    s.apply(&mut *self.optimizer)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Writes the epoch to the logs and prints its line.
    fn log_epoch(&mut self, record: &EpochRecord) -> Result<()> {
        if self.settings.progress != ProgressMode::Quiet {
            let epochs = self
                .state
                .target_epochs
                .map_or(String::new(), |e| format!("/{e}"));
            let figures: Vec<String> = record
                .metrics
                .iter()
                .filter(|(k, _)| {
                    !["precision", "recall", "f1", "top"]
                        .iter()
                        .any(|x| k.contains(x))
                })
                .map(|(k, v)| format!("{k}={v:.4}"))
                .collect();
            println!(
                "epoch {}{epochs}: {} lr={:.2e} {:.0} samples/s {:.1}s",
                record.epoch,
                figures.join(" "),
                record.lr,
                record.samples_per_sec,
                record.seconds
            );
        }
        let warnings = self.warnings();
        let history = self.state.history.clone();
        if let Some(logs) = &mut self.logs {
            logs.dir.append(&Record::Epoch(record.clone()))?;
            logs.dir.write_csv(&history)?;
            logs.dir.write_warnings(&warnings)?;
            if let Some(events) = &mut logs.events {
                super::finish::log_epoch_events(events, record)?;
            }
        }
        Ok(())
    }

    /// After every callback's epoch end: checks that the weights are finite (a checkpoint
    /// of NaN weights would replace the last good one), then lets callbacks save.
    fn save_point(&mut self) -> Result<()> {
        let bad = self
            .model
            .module()
            .named_parameters()
            .into_iter()
            .find(|(_, p)| !all_finite(p.tensor()));
        if let Some((name, _)) = bad {
            return Err(TrainError::NonFinite {
                what: "value",
                step: self.state.step,
                epoch: self.state.epoch,
                detail: format!(
                    "the value of {name} has NaN or infinite entries at the end of the \
                     epoch; no checkpoint was written"
                ),
            });
        }
        let (meta, extra) = self.resume_state();
        let mut ctx = context!(self);
        ctx.resume_state = Some((&meta, &extra));
        for cb in &mut self.callbacks {
            cb.on_save_point(&ctx)?;
        }
        Ok(())
    }
}
