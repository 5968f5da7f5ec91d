//! Resuming: the trainer's own state (history, callbacks' states and tensors, run time)
//! travels in a [`TrainingCheckpoint`]'s metadata (`trainer.state`, JSON) and extra
//! tensors (`<callback>.<name>`), beside the model, optimiser, scheduler and generator.

use super::Engine;
use crate::records::EpochRecord;
use crate::{Result, TrainError};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use strata_core::Tensor;
use strata_nn::checkpoint::TrainingCheckpoint;

const STATE_KEY: &str = "trainer.state";

impl Engine {
    /// See [`Trainer::resume`](super::Trainer::resume).
    pub(super) fn resume(&mut self, path: &Path) -> Result<()> {
        if self.state.started.is_some() {
            return Err(TrainError::config(
                "Trainer::resume",
                "training has already started; resume a freshly built trainer",
            ));
        }
        let ckpt = TrainingCheckpoint::load(path)?;
        let what = || format!("checkpoint {}", path.display());
        let text = ckpt.metadata.get(STATE_KEY).ok_or_else(|| {
            TrainError::config(
                what(),
                "no trainer state in it (it was not written by a strata-train trainer)",
            )
        })?;
        let state: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            TrainError::config(what(), format!("trainer state is not valid JSON: {e}"))
        })?;
        let history: Vec<EpochRecord> = serde_json::from_value(state["history"].clone())
            .map_err(|e| TrainError::config(what(), format!("history: {e}")))?;
        let scheduler = self.schedule.as_mut().map(|s| s.scheduler_mut());
        ckpt.restore(self.model.module(), &mut *self.optimizer, scheduler)?;
        // Callbacks' states are applied when training starts, after the default
        // callbacks have been added.
        self.state.restored_callbacks = Some((state["callbacks"].clone(), ckpt.extra.clone()));
        self.state.epoch = ckpt.epoch;
        self.state.step = ckpt.step;
        self.state.history = history;
        self.state.seconds_before = state["seconds"].as_f64().unwrap_or(0.0);
        self.state.resumed = true;
        Ok(())
    }

    /// Gives every callback the state a resumed checkpoint saved for it.
    pub(super) fn restore_callbacks(&mut self) -> Result<()> {
        let Some((states, extra)) = self.state.restored_callbacks.take() else {
            return Ok(());
        };
        for cb in &mut self.callbacks {
            let name = cb.name();
            let prefix = format!("{name}.");
            let tensors: Vec<(String, Tensor)> = extra
                .iter()
                .filter_map(|(n, t)| Some((n.strip_prefix(&prefix)?.to_string(), t.clone())))
                .collect();
            if let Some(s) = states.get(&name) {
                cb.load_state(s, &tensors)?;
            }
        }
        Ok(())
    }

    /// The trainer's state for a checkpoint: metadata and extra tensors.
    pub(super) fn resume_state(&self) -> (BTreeMap<String, String>, Vec<(String, Tensor)>) {
        let mut callbacks = serde_json::Map::new();
        let mut extra = Vec::new();
        for cb in &self.callbacks {
            let name = cb.name();
            let (state, tensors) = cb.state();
            extra.extend(tensors.into_iter().map(|(n, t)| (format!("{name}.{n}"), t)));
            callbacks.insert(name, state);
        }
        let seconds = self
            .state
            .started
            .map_or(0.0, |t| t.elapsed().as_secs_f64())
            + self.state.seconds_before;
        let state = json!({
            "history": self.state.history,
            "callbacks": callbacks,
            "seconds": seconds,
        });
        let meta = BTreeMap::from([(STATE_KEY.to_string(), state.to_string())]);
        (meta, extra)
    }
}
