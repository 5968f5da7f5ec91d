//! Saves training checkpoints: the last epoch's and/or the best epoch's.

use super::Control;
use super::{Callback, TrainContext};
use crate::callbacks::Mode;
use crate::records::EpochRecord;
use crate::{Result, TrainError};
use serde_json::json;
use std::path::PathBuf;

/// Writes [`TrainingCheckpoint`](strata_nn::checkpoint::TrainingCheckpoint)s (atomically:
/// an interrupted save leaves the previous file intact) to `last.safetensors` after every
/// `every` epochs and to `best.safetensors` whenever the monitored metric improves. Both
/// hold everything [`Trainer::resume`](crate::Trainer::resume) needs. The directory
/// defaults to `checkpoints/` in the run directory.
///
/// ```
/// use strata_train::callbacks::ModelCheckpoint;
/// let ckpt = ModelCheckpoint::new().best("val_accuracy").last(true).dir("my-checkpoints");
/// # let _ = ckpt;
/// ```
pub struct ModelCheckpoint {
    dir: Option<PathBuf>,
    save_last: bool,
    every: u64,
    best: Option<(String, Mode)>,
    best_value: f64,
    improved: bool,
    epoch_ended: bool,
}

impl Default for ModelCheckpoint {
    fn default() -> Self {
        ModelCheckpoint::new()
    }
}

impl ModelCheckpoint {
    /// Saves the last epoch only, every epoch, into the run directory's `checkpoints/`.
    pub fn new() -> ModelCheckpoint {
        ModelCheckpoint {
            dir: None,
            save_last: true,
            every: 1,
            best: None,
            best_value: f64::NAN,
            improved: false,
            epoch_ended: false,
        }
    }

    /// Where to write (created if missing).
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> ModelCheckpoint {
        self.dir = Some(dir.into());
        self
    }

    /// Whether to write `last.safetensors`.
    pub fn last(mut self, save_last: bool) -> ModelCheckpoint {
        self.save_last = save_last;
        self
    }

    /// Writes `last.safetensors` every `every` epochs.
    pub fn every(mut self, every: u64) -> Result<ModelCheckpoint> {
        if every == 0 {
            return Err(TrainError::config(
                "ModelCheckpoint",
                "every must be at least 1",
            ));
        }
        self.every = every;
        Ok(self)
    }

    /// Also writes `best.safetensors` when `monitor` improves (mode from its name).
    pub fn best(self, monitor: impl Into<String>) -> ModelCheckpoint {
        let monitor = monitor.into();
        let mode = Mode::Auto.resolve(&monitor);
        self.best_with_mode(monitor, mode)
    }

    /// Like [`ModelCheckpoint::best`] with an explicit mode.
    pub fn best_with_mode(mut self, monitor: impl Into<String>, mode: Mode) -> ModelCheckpoint {
        let monitor = monitor.into();
        let mode = mode.resolve(&monitor);
        self.best_value = mode.worst();
        self.best = Some((monitor, mode));
        self
    }

    fn target_dir(&self, ctx: &TrainContext) -> Result<PathBuf> {
        match (&self.dir, ctx.run_dir) {
            (Some(d), _) => Ok(d.clone()),
            (None, Some(run)) => Ok(run.join("checkpoints")),
            (None, None) => Err(TrainError::config(
                "ModelCheckpoint",
                "no directory: give one with .dir(...) or let the trainer write a run directory",
            )),
        }
    }

    fn save(&self, ctx: &TrainContext, file: &str) -> Result<()> {
        let dir = self.target_dir(ctx)?;
        std::fs::create_dir_all(&dir).map_err(|e| TrainError::file(&dir, e))?;
        ctx.checkpoint().save(dir.join(file))?;
        Ok(())
    }
}

impl Callback for ModelCheckpoint {
    fn name(&self) -> String {
        "model_checkpoint".into()
    }

    fn on_epoch_end(&mut self, _: &TrainContext, record: &EpochRecord) -> Result<Control> {
        self.epoch_ended = record.epoch.is_multiple_of(self.every);
        self.improved = false;
        if let Some((key, mode)) = &self.best
            && let Some(&v) = record.metrics.get(key)
            && mode.improves(v, self.best_value, 0.0)
        {
            self.best_value = v;
            self.improved = true;
        }
        Ok(Control::Continue)
    }

    fn on_save_point(&mut self, ctx: &TrainContext) -> Result<()> {
        if self.improved {
            self.save(ctx, "best.safetensors")?;
        }
        if self.save_last && self.epoch_ended {
            self.save(ctx, "last.safetensors")?;
        }
        Ok(())
    }

    fn state(&self) -> (serde_json::Value, Vec<(String, strata_core::Tensor)>) {
        (
            json!({ "best_value": crate::json_f64(self.best_value) }),
            Vec::new(),
        )
    }

    fn load_state(
        &mut self,
        state: &serde_json::Value,
        _: &[(String, strata_core::Tensor)],
    ) -> Result<()> {
        self.best_value = crate::f64_from_json(&state["best_value"]).ok_or_else(|| {
            TrainError::config("ModelCheckpoint", format!("cannot restore state {state}"))
        })?;
        Ok(())
    }
}
