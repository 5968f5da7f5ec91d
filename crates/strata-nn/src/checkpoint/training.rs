//! A full training checkpoint in one `.safetensors` file: model weights, optimiser state,
//! scheduler state, the global random generator, epoch, step and user metadata, so that
//! training resumed from it continues bit for bit as if it had never stopped.
//!
//! Layout. Tensors, under reserved prefixes:
//!
//! - `model.<name>`: the model's state dict (`model.0.weight`, ...);
//! - `optimizer.<key>`: [`Optimizer::state_dict`] (`optimizer.state.0.3.exp_avg`,
//!   `optimizer.param_groups.0.lr`, `optimizer.defaults.beta1`, ...);
//! - `scheduler.<key>`: [`LrScheduler::state_dict`] (`scheduler.last_epoch`, ...), if any;
//! - `rng.state` (i64 `[4]`, the xoshiro words bit for bit) and `rng.spare_normal` (f64
//!   `[0]` or `[1]`), if the generator was saved;
//! - `extra.<key>`: any other tensors a training loop needs to resume (a trainer's
//!   early-stopping best weights, ...), under names of the caller's choosing.
//!
//! Numbers stay tensors so they round-trip exactly. The safetensors metadata header (a
//! JSON string map) holds `format` = `strata.training_checkpoint`, `format_version` = `1`,
//! `epoch`, `step` (decimal) and the user metadata as `user.<key>`.

use super::atomic::write_atomic;
use super::format::{corrupt, decode, encode, memory_path};
use super::weights::{load_weights, read_file};
use crate::optim::Optimizer;
use crate::schedule::LrScheduler;
use crate::{Error, ModuleExt, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use strata_core::{global_generator_state, set_global_generator_state, GeneratorState, Tensor};

const FORMAT: &str = "strata.training_checkpoint";
const VERSION: &str = "1";

/// Everything needed to resume training. Build it with [`TrainingCheckpoint::capture`],
/// write it with [`save`](TrainingCheckpoint::save) (atomic), read it back with
/// [`load`](TrainingCheckpoint::load) and put it into fresh objects with
/// [`restore`](TrainingCheckpoint::restore). The module docs describe the file layout.
///
/// ```
/// use strata_nn::checkpoint::TrainingCheckpoint;
/// use strata_nn::optim::{Adam, Optimizer};
/// use strata_nn::schedule::{LrScheduler, Scheduler, StepLR};
/// use strata_nn::{Linear, ModuleExt};
///
/// let model = Linear::new(3, 2)?;
/// let mut opt = Adam::new(model.parameters(), 1e-3)?;
/// let mut sched = Scheduler::new(&mut opt, StepLR::new(10, 0.5))?;
/// // ... train, then at the end of epoch 4, step 1200:
/// let mut ckpt = TrainingCheckpoint::capture(&model, &opt, Some(&sched), 4, 1200);
/// ckpt.metadata.insert("run".into(), "baseline".into());
/// let path = std::env::temp_dir().join("strata-doc-training.safetensors");
/// ckpt.save(&path)?;
///
/// // Later, in a new process:
/// let model = Linear::new(3, 2)?;
/// let mut opt = Adam::new(model.parameters(), 1e-3)?;
/// let mut sched = Scheduler::new(&mut opt, StepLR::new(10, 0.5))?;
/// let ckpt = TrainingCheckpoint::load(&path)?;
/// ckpt.restore(&model, &mut opt, Some(&mut sched))?;
/// assert_eq!((ckpt.epoch, ckpt.step), (4, 1200));
/// assert_eq!(ckpt.metadata["run"], "baseline");
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct TrainingCheckpoint {
    /// The model's state dict (parameters and buffers).
    pub model: Vec<(String, Tensor)>,
    /// The optimiser's state dict.
    pub optimizer: Vec<(String, Tensor)>,
    /// The scheduler's state dict, if training uses one.
    pub scheduler: Option<Vec<(String, Tensor)>>,
    /// The global random generator (dropout, `Tensor::rand`), if saved.
    pub rng: Option<GeneratorState>,
    /// Epochs completed (the caller's count).
    pub epoch: u64,
    /// Optimiser steps completed (the caller's count).
    pub step: u64,
    /// Free-form notes (run name, git commit, validation accuracy, ...).
    pub metadata: BTreeMap<String, String>,
    /// Further named tensors to keep with the checkpoint (stored as `extra.<name>`).
    pub extra: Vec<(String, Tensor)>,
}

impl TrainingCheckpoint {
    /// Snapshots the model, the optimiser, the scheduler (if any) and the global random
    /// generator. The tensors are copies: training on does not change the snapshot.
    ///
    /// ```
    /// use strata_nn::checkpoint::TrainingCheckpoint;
    /// use strata_nn::optim::SGD;
    /// use strata_nn::{Linear, ModuleExt};
    /// let model = Linear::new(2, 1)?;
    /// let opt = SGD::new(model.parameters(), 0.1)?;
    /// let ckpt = TrainingCheckpoint::capture(&model, &opt, None, 0, 0);
    /// assert_eq!(ckpt.model.len(), 2);
    /// assert!(ckpt.scheduler.is_none() && ckpt.rng.is_some());
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn capture<M: ModuleExt + ?Sized>(
        model: &M,
        optimizer: &dyn Optimizer,
        scheduler: Option<&dyn LrScheduler>,
        epoch: u64,
        step: u64,
    ) -> TrainingCheckpoint {
        TrainingCheckpoint {
            // `state_dict` shares storage with the parameters; copy to freeze the values.
            model: model
                .state_dict()
                .into_iter()
                .map(|(n, t)| (n, t.detach().copy()))
                .collect(),
            optimizer: optimizer.state_dict(),
            scheduler: scheduler.map(|s| s.state_dict()),
            rng: Some(global_generator_state()),
            epoch,
            step,
            metadata: BTreeMap::new(),
            extra: Vec::new(),
        }
    }

    /// Loads everything into `model`, `optimizer` and `scheduler` (strictly: names, shapes
    /// and counts must all fit) and restores the global random generator. A scheduler must
    /// be passed exactly when the checkpoint has one. Each part is checked before it
    /// changes; if a later part fails, earlier parts are already loaded, so discard the
    /// objects (or load again) after an error.
    ///
    /// ```
    /// use strata_nn::checkpoint::TrainingCheckpoint;
    /// use strata_nn::optim::SGD;
    /// use strata_nn::{Linear, ModuleExt};
    /// let model = Linear::new(2, 1)?;
    /// let ckpt = TrainingCheckpoint::capture(&model, &SGD::new(model.parameters(), 0.1)?, None, 3, 30);
    /// let other = Linear::new(2, 5)?;
    /// let err = ckpt.restore(&other, &mut SGD::new(other.parameters(), 0.1)?, None).unwrap_err();
    /// assert!(err.to_string().contains("weight: model has [5, 2], checkpoint has [1, 2]"), "{err}");
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn restore<M: ModuleExt + ?Sized>(
        &self,
        model: &M,
        optimizer: &mut dyn Optimizer,
        scheduler: Option<&mut dyn LrScheduler>,
    ) -> Result<()> {
        let sched_mismatch = |reason: &str| Error::LoadState {
            what: "training checkpoint".to_string(),
            reason: reason.to_string(),
        };
        match (&self.scheduler, &scheduler) {
            (Some(_), None) => {
                return Err(sched_mismatch(
                    "the checkpoint has scheduler state but no scheduler was given",
                ))
            }
            (None, Some(_)) => {
                return Err(sched_mismatch(
                    "a scheduler was given but the checkpoint has no scheduler state",
                ))
            }
            _ => {}
        }
        load_weights(model, &self.model, true)?;
        optimizer.load_state_dict(&self.optimizer)?;
        if let (Some(state), Some(s)) = (&self.scheduler, scheduler) {
            s.load_state_dict(state)?;
        }
        if let Some(rng) = self.rng {
            set_global_generator_state(rng);
        }
        Ok(())
    }

    /// Writes the checkpoint to `path` atomically (temporary file in the same directory,
    /// fsync, rename, fsync of the directory): a crash or error never leaves a partial
    /// file, and an existing checkpoint at `path` stays intact unless the new one is
    /// complete.
    ///
    /// ```
    /// use strata_nn::checkpoint::TrainingCheckpoint;
    /// let path = std::env::temp_dir().join("strata-doc-save-training.safetensors");
    /// TrainingCheckpoint { epoch: 1, ..Default::default() }.save(&path)?;
    /// assert_eq!(TrainingCheckpoint::load(&path)?.epoch, 1);
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        write_atomic(path, &self.encode(path)?)
    }

    /// The bytes [`save`](TrainingCheckpoint::save) writes.
    ///
    /// ```
    /// use strata_nn::checkpoint::TrainingCheckpoint;
    /// let bytes = TrainingCheckpoint { step: 9, ..Default::default() }.to_bytes()?;
    /// assert_eq!(TrainingCheckpoint::from_bytes(&bytes)?.step, 9);
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.encode(&memory_path())
    }

    /// Reads a checkpoint written by [`save`](TrainingCheckpoint::save). Unreadable,
    /// truncated or corrupt files, and safetensors files that are not training
    /// checkpoints, are an [`Error::Checkpoint`] naming the file and the problem.
    ///
    /// ```
    /// use strata_nn::checkpoint::TrainingCheckpoint;
    /// let path = std::env::temp_dir().join("strata-doc-garbage.safetensors");
    /// std::fs::write(&path, b"definitely not a checkpoint")?;
    /// let err = TrainingCheckpoint::load(&path).unwrap_err();
    /// assert!(err.to_string().contains("strata-doc-garbage.safetensors"), "{err}");
    /// # std::fs::remove_file(&path).ok();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<TrainingCheckpoint> {
        let path = path.as_ref();
        TrainingCheckpoint::decode(&read_file(path)?, path)
    }

    /// Like [`load`](TrainingCheckpoint::load), from bytes in memory.
    ///
    /// ```
    /// use strata_nn::checkpoint::TrainingCheckpoint;
    /// assert!(TrainingCheckpoint::from_bytes(&[1, 2, 3]).is_err());
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Result<TrainingCheckpoint> {
        TrainingCheckpoint::decode(bytes, &memory_path())
    }

    fn encode(&self, path: &Path) -> Result<Vec<u8>> {
        let mut tensors = Vec::new();
        let mut put = |prefix: &str, entries: &[(String, Tensor)]| {
            for (name, t) in entries {
                tensors.push((format!("{prefix}{name}"), t.clone()));
            }
        };
        put("model.", &self.model);
        put("optimizer.", &self.optimizer);
        if let Some(s) = &self.scheduler {
            put("scheduler.", s);
        }
        put("extra.", &self.extra);
        if let Some(rng) = &self.rng {
            // The u64 words bit for bit as i64.
            let words: Vec<i64> = rng.words.iter().map(|&w| w as i64).collect();
            tensors.push(("rng.state".into(), Tensor::from_vec(words, &[4])?));
            let spare: Vec<f64> = rng.spare_normal.into_iter().collect();
            let n = spare.len();
            tensors.push(("rng.spare_normal".into(), Tensor::from_vec(spare, &[n])?));
        }
        let mut meta = HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("format_version".to_string(), VERSION.to_string()),
            ("epoch".to_string(), self.epoch.to_string()),
            ("step".to_string(), self.step.to_string()),
        ]);
        for (k, v) in &self.metadata {
            meta.insert(format!("user.{k}"), v.clone());
        }
        encode(&tensors, meta, path)
    }

    fn decode(bytes: &[u8], path: &Path) -> Result<TrainingCheckpoint> {
        let file = decode(bytes, path)?;
        let meta = &file.metadata;
        let get = |key: &str| {
            meta.get(key).ok_or_else(|| {
                corrupt(
                    path,
                    format!("not a Strata training checkpoint: no {key:?} in the metadata"),
                )
            })
        };
        if get("format")? != FORMAT {
            return Err(corrupt(
                path,
                format!(
                    "not a Strata training checkpoint: format is {:?}, expected {FORMAT:?}",
                    get("format")?
                ),
            ));
        }
        if get("format_version")? != VERSION {
            return Err(corrupt(
                path,
                format!(
                    "format version {:?} is not supported (this build reads {VERSION})",
                    get("format_version")?
                ),
            ));
        }
        let number = |key: &str| -> Result<u64> {
            let v = get(key)?;
            v.parse().map_err(|_| {
                corrupt(
                    path,
                    format!("metadata {key:?} must be a whole number, got {v:?}"),
                )
            })
        };
        let mut ckpt = TrainingCheckpoint {
            epoch: number("epoch")?,
            step: number("step")?,
            metadata: meta
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("user.")?.to_string(), v.clone())))
                .collect(),
            ..TrainingCheckpoint::default()
        };
        let (mut rng_state, mut spare) = (None, None);
        for (name, t) in file.tensors {
            if let Some(n) = name.strip_prefix("model.") {
                ckpt.model.push((n.to_string(), t));
            } else if let Some(n) = name.strip_prefix("optimizer.") {
                ckpt.optimizer.push((n.to_string(), t));
            } else if let Some(n) = name.strip_prefix("scheduler.") {
                ckpt.scheduler
                    .get_or_insert_with(Vec::new)
                    .push((n.to_string(), t));
            } else if let Some(n) = name.strip_prefix("extra.") {
                ckpt.extra.push((n.to_string(), t));
            } else if name == "rng.state" {
                rng_state = Some(t);
            } else if name == "rng.spare_normal" {
                spare = Some(t);
            } else {
                return Err(corrupt(
                    path,
                    format!(
                        "unexpected tensor {name:?} (names start with model., optimizer., \
                         scheduler., extra. or rng.)"
                    ),
                ));
            }
        }
        ckpt.rng = decode_rng(rng_state, spare).map_err(|reason| corrupt(path, reason))?;
        Ok(ckpt)
    }
}

/// The generator state from `rng.state` and `rng.spare_normal` (both or neither).
fn decode_rng(
    state: Option<Tensor>,
    spare: Option<Tensor>,
) -> std::result::Result<Option<GeneratorState>, String> {
    let (state, spare) = match (state, spare) {
        (None, None) => return Ok(None),
        (Some(s), Some(p)) => (s, p),
        _ => return Err("rng.state and rng.spare_normal must be saved together".into()),
    };
    let words = state
        .to_vec::<i64>()
        .ok()
        .filter(|w| state.shape() == [4] && w.len() == 4)
        .ok_or_else(|| {
            format!(
                "rng.state must be an i64 tensor of shape [4], got {} {:?}",
                state.dtype(),
                state.shape()
            )
        })?;
    let spare_normal = match (spare.to_vec::<f64>(), spare.shape()) {
        (Ok(_), [0]) => None,
        (Ok(v), [1]) => v.first().copied(),
        _ => {
            return Err(format!(
                "rng.spare_normal must be an f64 tensor of shape [0] or [1], got {} {:?}",
                spare.dtype(),
                spare.shape()
            ))
        }
    };
    let mut w = [0u64; 4];
    for (dst, &src) in w.iter_mut().zip(&words) {
        *dst = src as u64;
    }
    Ok(Some(GeneratorState {
        words: w,
        spare_normal,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn good_meta() -> HashMap<String, String> {
        meta(&[
            ("format", FORMAT),
            ("format_version", VERSION),
            ("epoch", "2"),
            ("step", "40"),
        ])
    }

    fn reason(tensors: &[(String, Tensor)], metadata: HashMap<String, String>) -> String {
        let bytes = encode(tensors, metadata, &memory_path()).unwrap();
        match TrainingCheckpoint::from_bytes(&bytes).unwrap_err() {
            Error::Checkpoint { reason, .. } => reason,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn generator_state_with_a_spare_normal_round_trips_exactly() {
        for spare_normal in [
            None,
            Some(-0.123_456_789_012_345_6),
            Some(f64::MIN_POSITIVE),
        ] {
            let ckpt = TrainingCheckpoint {
                rng: Some(GeneratorState {
                    words: [u64::MAX, 0, 1 << 63, 0x0123_4567_89ab_cdef],
                    spare_normal,
                }),
                epoch: u64::MAX,
                step: 7,
                metadata: BTreeMap::from([("ünïcode key".into(), "{\"json\": true}".into())]),
                ..Default::default()
            };
            let back = TrainingCheckpoint::from_bytes(&ckpt.to_bytes().unwrap()).unwrap();
            assert_eq!(back.rng, ckpt.rng);
            assert_eq!((back.epoch, back.step), (u64::MAX, 7));
            assert_eq!(back.metadata, ckpt.metadata);
        }
    }

    #[test]
    fn extra_tensors_round_trip_under_their_names() {
        let best = Tensor::from_vec(vec![1.5f32, -2.0, 3.25], &[3]).unwrap();
        let ckpt = TrainingCheckpoint {
            extra: vec![("early_stopping.best.0.weight".into(), best)],
            ..Default::default()
        };
        let back = TrainingCheckpoint::from_bytes(&ckpt.to_bytes().unwrap()).unwrap();
        assert_eq!(back.extra.len(), 1);
        assert_eq!(back.extra[0].0, "early_stopping.best.0.weight");
        assert_eq!(
            back.extra[0].1.to_vec::<f32>().unwrap(),
            vec![1.5, -2.0, 3.25]
        );
        assert!(back.model.is_empty() && back.optimizer.is_empty());
    }

    #[test]
    fn wrong_metadata_and_tensors_are_named() {
        let mut m = good_meta();
        m.insert("format_version".into(), "99".into());
        assert!(reason(&[], m).contains("format version \"99\" is not supported"));
        let mut m = good_meta();
        m.insert("step".into(), "-3".into());
        assert!(reason(&[], m).contains("\"step\" must be a whole number, got \"-3\""));
        let mut m = good_meta();
        m.remove("epoch");
        assert!(reason(&[], m).contains("no \"epoch\" in the metadata"));
        let stray = vec![("weights.0".to_string(), Tensor::zeros(&[1]))];
        assert!(reason(&stray, good_meta()).contains("unexpected tensor \"weights.0\""));
        let bad_rng = vec![
            ("rng.state".to_string(), Tensor::zeros(&[4])),
            (
                "rng.spare_normal".to_string(),
                Tensor::zeros_dtype(&[0], strata_core::DType::F64),
            ),
        ];
        assert!(reason(&bad_rng, good_meta())
            .contains("rng.state must be an i64 tensor of shape [4], got f32 [4]"));
        let half_rng = vec![(
            "rng.state".to_string(),
            Tensor::from_vec(vec![1i64; 4], &[4]).unwrap(),
        )];
        assert!(reason(&half_rng, good_meta()).contains("must be saved together"));
    }
}
