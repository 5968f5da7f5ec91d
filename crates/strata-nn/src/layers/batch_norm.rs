//! `BatchNorm1d` and `BatchNorm2d`: per-channel normalisation with batch statistics in
//! training and running estimates in evaluation (the fused op is in `batch_norm_op.rs`,
//! the statistics synchronised across ranks in `batch_norm_sync.rs`).

use super::batch_norm_op::{batch_norm, Statistics};
use super::batch_norm_sync::{BatchStatsSync, SyncedStatistics};
use crate::{hooks, Buffer, Error, Forward, Module, Param, Result, Visitor};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use strata_core::{DType, Tensor};

/// Hyperparameters of a batch-normalisation layer (PyTorch's defaults).
///
/// ```
/// use strata_nn::{BatchNorm2d, BatchNormConfig, ModuleExt};
/// let cfg = BatchNormConfig { momentum: None, affine: false, ..BatchNormConfig::default() };
/// let bn = BatchNorm2d::with_config(16, cfg)?;
/// assert_eq!(bn.num_parameters(), 0);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Added to the variance before the square root (default `1e-5`).
    pub eps: f64,
    /// Weight of the new batch in the running averages (default `Some(0.1)`); `None` keeps
    /// a cumulative average over all batches seen (factor `1 / num_batches_tracked`).
    pub momentum: Option<f64>,
    /// Learnable per-channel `weight` (init 1) and `bias` (init 0) (default `true`).
    pub affine: bool,
    /// Keep `running_mean`, `running_var` and `num_batches_tracked` and use them in
    /// evaluation (default `true`); without them batch statistics are used in both modes.
    pub track_running_stats: bool,
    /// Dtype of the parameters and running statistics (default `F32`).
    pub dtype: DType,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            eps: 1e-5,
            momentum: Some(0.1),
            affine: true,
            track_running_stats: true,
            dtype: DType::F32,
        }
    }
}

/// What the 1d and 2d layers share: parameters, buffers, mode and the forward pass.
struct BatchNorm {
    num_features: usize,
    config: BatchNormConfig,
    weight: Option<Param>,
    bias: Option<Param>,
    running_mean: Option<Buffer>,
    running_var: Option<Buffer>,
    num_batches_tracked: Option<Buffer>,
    training: AtomicBool,
    /// Data-parallel training: the other ranks, whose batches share the statistics.
    sync: RwLock<Option<Arc<dyn BatchStatsSync>>>,
}

impl BatchNorm {
    fn new(layer: &'static str, num_features: usize, config: BatchNormConfig) -> Result<Self> {
        if num_features == 0 {
            return Err(Error::config(layer, "num_features must be positive"));
        }
        if !(config.eps > 0.0 && config.eps.is_finite()) {
            return Err(Error::config(
                layer,
                format!("eps must be positive, got {}", config.eps),
            ));
        }
        if let Some(m) = config.momentum
            && !(0.0..=1.0).contains(&m)
        {
            return Err(Error::config(
                layer,
                format!("momentum must be in [0, 1], got {m}"),
            ));
        }
        if !config.dtype.is_float() {
            return Err(Error::config(
                layer,
                format!("dtype must be f32 or f64, got {}", config.dtype),
            ));
        }
        let shape = [num_features];
        let dtype = config.dtype;
        let affine = config.affine;
        let track = config.track_running_stats;
        // An absurd num_features is an error here, not an abort in the allocator.
        let full = |on: bool, v: f64| on.then(|| Tensor::try_full(&shape, v, dtype)).transpose();
        Ok(BatchNorm {
            num_features,
            config,
            weight: full(affine, 1.0)?.map(Param::new),
            bias: full(affine, 0.0)?.map(Param::new),
            running_mean: full(track, 0.0)?.map(Buffer::new),
            running_var: full(track, 1.0)?.map(Buffer::new),
            num_batches_tracked: track.then(|| Buffer::new(Tensor::scalar(0i64))),
            training: AtomicBool::new(true),
            sync: RwLock::new(None),
        })
    }

    fn visit(&self, visitor: &mut dyn Visitor) {
        if let Some(w) = &self.weight {
            visitor.param("weight", w);
        }
        if let Some(b) = &self.bias {
            visitor.param("bias", b);
        }
        if let Some(m) = &self.running_mean {
            visitor.buffer("running_mean", m);
        }
        if let Some(v) = &self.running_var {
            visitor.buffer("running_var", v);
        }
        if let Some(n) = &self.num_batches_tracked {
            visitor.buffer("num_batches_tracked", n);
        }
    }

    fn is_training(&self) -> bool {
        self.training.load(Ordering::Relaxed)
    }

    fn extra_repr(&self) -> String {
        let momentum = match self.config.momentum {
            Some(m) => m.to_string(),
            None => "None".to_string(),
        };
        format!(
            "{}, eps={}, momentum={momentum}, affine={}, track_running_stats={}",
            self.num_features, self.config.eps, self.config.affine, self.config.track_running_stats
        )
    }

    /// The forward pass on an input already checked to be `[N, C, *]` with `C` channels.
    fn forward(&self, layer: &str, input: &Tensor) -> Result<Tensor> {
        if input.dtype() != self.config.dtype {
            return Err(Error::Input {
                layer: layer.to_string(),
                expected: format!(
                    "{} input like its parameters, not {} (convert with to_dtype)",
                    self.config.dtype,
                    input.dtype()
                ),
                got: input.shape().into(),
            });
        }
        let running = match (&self.running_mean, &self.running_var) {
            (Some(m), Some(v)) => Some((m, v)),
            _ => None,
        };
        let use_batch_stats = self.is_training() || running.is_none();
        // Only training synchronises: evaluation is local, as in PyTorch.
        let sync = self.sync.read().clone().filter(|_| self.is_training());
        let mut per_channel = input.numel() / self.num_features;
        let stats = match (running, sync) {
            (Some((mean, var)), _) if !use_batch_stats => Statistics::Running { mean, var },
            (_, Some(sync)) => {
                let synced = SyncedStatistics::gather(sync, input)?;
                // The global count, the same on every rank: they all stop here alike.
                per_channel = synced.count;
                Statistics::Synced(synced)
            }
            _ => Statistics::Batch,
        };
        if use_batch_stats && per_channel < 2 && self.is_training() {
            return Err(Error::Input {
                layer: layer.to_string(),
                expected: match stats {
                    Statistics::Synced(_) => "more than 1 value per channel over every rank's \
                                              batch when training"
                        .to_string(),
                    _ => "more than 1 value per channel when training".to_string(),
                },
                got: input.shape().into(),
            });
        }
        let out = batch_norm(
            input,
            self.weight.as_deref(),
            self.bias.as_deref(),
            stats,
            self.config.eps,
        )?;
        if self.is_training()
            && let Some((mean, var)) = running
        {
            self.update_running_stats(mean, var, &out.batch_mean, &out.batch_var, per_channel)?;
        }
        Ok(out.output)
    }

    /// `running = (1 − f)·running + f·batch`, with the unbiased batch variance, in place.
    fn update_running_stats(
        &self,
        running_mean: &Buffer,
        running_var: &Buffer,
        mean: &[f64],
        var: &[f64],
        count: usize,
    ) -> Result<()> {
        let mut tracked = 1;
        if let Some(n) = &self.num_batches_tracked {
            let mut n = n.write::<i64>()?;
            if let Some(v) = n.first_mut() {
                *v += 1;
                tracked = *v;
            }
        }
        let factor = match self.config.momentum {
            Some(m) => m,
            None => 1.0 / tracked.max(1) as f64,
        };
        let unbiased = count as f64 / (count as f64 - 1.0);
        let var: Vec<f64> = var.iter().map(|v| v * unbiased).collect();
        blend(running_mean, mean, factor)?;
        blend(running_var, &var, factor)
    }
}

/// `buffer = (1 − f)·buffer + f·values`, in place, in the buffer's dtype.
fn blend(buffer: &Buffer, values: &[f64], f: f64) -> Result<()> {
    match buffer.dtype() {
        DType::F32 => {
            for (b, v) in buffer.write::<f32>()?.iter_mut().zip(values) {
                *b = ((1.0 - f) * *b as f64 + f * v) as f32;
            }
        }
        _ => {
            for (b, v) in buffer.write::<f64>()?.iter_mut().zip(values) {
                *b = (1.0 - f) * *b + f * v;
            }
        }
    }
    Ok(())
}

macro_rules! batch_norm_layer {
    ($(#[$doc:meta])* $name:ident, ranks = $ranks:expr, expected = $expected:literal) => {
        $(#[$doc])*
        pub struct $name {
            inner: BatchNorm,
        }

        impl $name {
            /// A layer with PyTorch's defaults (eps 1e-5, momentum 0.1, affine, tracking
            /// running statistics, f32).
            pub fn new(num_features: usize) -> Result<Self> {
                Self::with_config(num_features, BatchNormConfig::default())
            }

            /// A layer with the given hyperparameters.
            pub fn with_config(num_features: usize, config: BatchNormConfig) -> Result<Self> {
                Ok($name {
                    inner: BatchNorm::new(stringify!($name), num_features, config)?,
                })
            }

            /// The number of channels `C`.
            pub fn num_features(&self) -> usize {
                self.inner.num_features
            }

            /// The hyperparameters.
            pub fn config(&self) -> BatchNormConfig {
                self.inner.config
            }

            /// The per-channel scale (`None` without `affine`).
            pub fn weight(&self) -> Option<&Param> {
                self.inner.weight.as_ref()
            }

            /// The per-channel shift (`None` without `affine`).
            pub fn bias(&self) -> Option<&Param> {
                self.inner.bias.as_ref()
            }

            /// The running mean (`None` without `track_running_stats`).
            pub fn running_mean(&self) -> Option<&Buffer> {
                self.inner.running_mean.as_ref()
            }

            /// The running (unbiased) variance (`None` without `track_running_stats`).
            pub fn running_var(&self) -> Option<&Buffer> {
                self.inner.running_var.as_ref()
            }

            /// How many training batches updated the running statistics (an i64 scalar).
            pub fn num_batches_tracked(&self) -> Option<&Buffer> {
                self.inner.num_batches_tracked.as_ref()
            }
        }

        impl Module for $name {
            fn visit(&self, visitor: &mut dyn Visitor) {
                self.inner.visit(visitor);
            }

            fn set_training(&self, training: bool) {
                self.inner.training.store(training, Ordering::Relaxed);
            }

            fn is_training(&self) -> Option<bool> {
                Some(self.inner.is_training())
            }

            fn set_batch_stats_sync(&self, sync: Option<Arc<dyn BatchStatsSync>>) -> bool {
                *self.inner.sync.write() = sync;
                true
            }

            fn extra_repr(&self) -> String {
                self.inner.extra_repr()
            }
        }

        impl Forward for $name {
            fn forward(&self, input: &Tensor) -> Result<Tensor> {
                let layer = concat!(stringify!($name), "(").to_string()
                    + &self.inner.num_features.to_string()
                    + ")";
                let c = self.inner.num_features;
                if !$ranks.contains(&input.ndim()) || input.shape()[1] != c {
                    return Err(Error::Input {
                        layer,
                        expected: format!($expected, c = c),
                        got: input.shape().into(),
                    });
                }
                let y = self.inner.forward(&layer, input)?;
                hooks::emit(self, &y);
                Ok(y)
            }
        }
    };
}

batch_norm_layer!(
    /// Batch normalisation over `[N, C]` or `[N, C, L]` inputs: each channel is normalised
    /// with its mean and variance over the batch (and length), then scaled and shifted by
    /// learnable `weight` and `bias`. In training the batch's statistics are used and the
    /// running estimates updated (`running_var` with the unbiased variance); in evaluation
    /// the running estimates are used. State-dict names as PyTorch: `weight`, `bias`,
    /// `running_mean`, `running_var`, `num_batches_tracked`.
    ///
    /// ```
    /// use strata_nn::{BatchNorm1d, Forward, ModuleExt};
    /// use strata_core::Tensor;
    /// let bn = BatchNorm1d::new(2)?;
    /// let x = Tensor::from_vec(vec![1.0f32, 10.0, 3.0, 30.0], &[2, 2])?;
    /// let y = bn.forward(&x)?.to_vec::<f32>()?;
    /// assert!((y[0] + 1.0).abs() < 1e-3 && (y[2] - 1.0).abs() < 1e-3);
    /// // One step of momentum 0.1 from mean 0: running_mean = 0.1 * batch mean.
    /// assert_eq!(bn.running_mean().unwrap().to_vec::<f32>()?, vec![0.2, 2.0]);
    /// bn.eval();
    /// assert_eq!(bn.forward(&x)?.shape(), &[2, 2]);
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    BatchNorm1d, ranks = [2usize, 3], expected = "input [N, {c}] or [N, {c}, L]");

batch_norm_layer!(
    /// Batch normalisation over `[N, C, H, W]` inputs (statistics per channel over N, H
    /// and W); otherwise as [`BatchNorm1d`].
    ///
    /// ```
    /// use strata_nn::{BatchNorm2d, Forward, ModuleExt};
    /// use strata_core::Tensor;
    /// let bn = BatchNorm2d::new(3)?;
    /// let y = bn.forward(&Tensor::randn(&[4, 3, 5, 5]))?;
    /// assert_eq!(y.shape(), &[4, 3, 5, 5]);
    /// let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    BatchNorm2d, ranks = [4usize], expected = "input [N, {c}, H, W]");
