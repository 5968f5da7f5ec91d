//! A config's optimiser, schedule, loss and callbacks, put together into a `Trainer`.

use crate::config::{Config, Every, LossKind, OptimizerKind, ScheduleKind};
use crate::data::Data;
use crate::error::CliError;
use std::path::PathBuf;
use strata_core::Tensor;
use strata_nn::loss::{l1_loss, mse_loss, CrossEntropyLoss};
use strata_nn::optim::{Adagrad, Adam, AdamW, Optimizer, RMSprop, SGD};
use strata_nn::schedule::{
    CosineAnnealingLR, ExponentialLR, PlateauOptions, ReduceLROnPlateau, Scheduler, StepLR,
};
use strata_nn::{ModuleExt, Sequential};
use strata_train::callbacks::EarlyStopping;
use strata_train::metrics::{classification_metrics, language_metrics, regression_metrics};
use strata_train::{MonitorConfig, RunTarget, Trainer};

/// The optimiser of the config over `model`'s parameters. Settings the optimiser refuses
/// (a negative learning rate, a beta outside `[0, 1)`, ...) are a config error.
pub fn optimizer(config: &Config, model: &Sequential) -> Result<Box<dyn Optimizer>, CliError> {
    build_optimizer(config, model)
        .map_err(|e| CliError::usage(format!("invalid [optimizer] settings: {e}")))
}

fn build_optimizer(config: &Config, model: &Sequential) -> strata_nn::Result<Box<dyn Optimizer>> {
    let o = &config.optimizer;
    let params = model.parameters();
    let wd = o.weight_decay.unwrap_or(0.0);
    let [b1, b2] = o.betas.unwrap_or([0.9, 0.999]);
    // `into()` boxes them in strata-nn, where their update loops are compiled at opt-level 3
    // (this crate builds at 1; see `From<Adam> for Box<dyn Optimizer>`).
    Ok(match o.name {
        OptimizerKind::Adam => Adam::new(params, o.lr)?
            .betas(b1, b2)?
            .weight_decay(wd)?
            .into(),
        OptimizerKind::Adamw => {
            let wd = o.weight_decay.unwrap_or(0.01);
            AdamW::new(params, o.lr)?
                .betas(b1, b2)?
                .weight_decay(wd)?
                .into()
        }
        OptimizerKind::Sgd => SGD::new(params, o.lr)?
            .momentum(o.momentum)?
            .nesterov(o.nesterov)?
            .weight_decay(wd)?
            .into(),
        OptimizerKind::Rmsprop => RMSprop::new(params, o.lr)?
            .momentum(o.momentum)?
            .weight_decay(wd)?
            .into(),
        OptimizerKind::Adagrad => Adagrad::new(params, o.lr)?.weight_decay(wd)?.into(),
    })
}

/// The trainer of `config` for `model` on `data`, its run directory under `out`.
pub fn trainer(
    config: &Config,
    model: Sequential,
    data: &Data,
    name: &str,
    out: PathBuf,
) -> Result<Trainer<Sequential>, CliError> {
    let mut opt = optimizer(config, &model)?;
    let steps_per_epoch = data
        .train
        .num_batches()
        .div_ceil(config.training.accumulate);
    let epochs = config.training.epochs as usize;
    let s = &config.schedule;
    let gamma = s.gamma.unwrap_or(0.1);
    // Built before the optimiser moves into the trainer: schedules read its rates.
    enum Plan {
        None,
        Batch(Scheduler<CosineAnnealingLR>),
        Epoch(Box<dyn strata_nn::schedule::LrScheduler>),
        Metric(ReduceLROnPlateau, String),
    }
    let plan = match (s.name, s.per) {
        (ScheduleKind::None, _) => Plan::None,
        (ScheduleKind::Cosine, Every::Batch) => Plan::Batch(Scheduler::new(
            &mut *opt,
            CosineAnnealingLR::new((epochs * steps_per_epoch).max(1), s.min_lr),
        )?),
        (ScheduleKind::Cosine, Every::Epoch) => Plan::Epoch(Box::new(Scheduler::new(
            &mut *opt,
            CosineAnnealingLR::new(epochs.max(1), s.min_lr),
        )?)),
        (ScheduleKind::Step, _) => Plan::Epoch(Box::new(Scheduler::new(
            &mut *opt,
            StepLR::new(s.step_size.unwrap_or(10), gamma),
        )?)),
        (ScheduleKind::Exponential, _) => Plan::Epoch(Box::new(Scheduler::new(
            &mut *opt,
            ExponentialLR::new(gamma),
        )?)),
        (ScheduleKind::Plateau, _) => {
            let options = PlateauOptions::default()
                .patience(s.patience.unwrap_or(2))
                .factor(s.factor.unwrap_or(0.1))
                .min_lr(s.min_lr);
            let monitor = s.monitor.clone().unwrap_or_else(|| "val_loss".into());
            Plan::Metric(ReduceLROnPlateau::new(&*opt, options)?, monitor)
        }
    };
    let t = &config.training;
    let smoothing = config.loss.label_smoothing;
    let mut trainer = match config.loss.name {
        LossKind::CrossEntropy if data.vocab.is_some() => {
            // A language model scores every step: logits [B, T, V] against ids [B, T].
            let loss = CrossEntropyLoss::new().label_smoothing(smoothing);
            Trainer::new(model, opt, move |x: &Tensor, y: &Tensor| {
                let classes = x.shape().last().copied().unwrap_or(1).max(1);
                let n = x.numel() / classes;
                loss.forward(&x.reshape(&[n, classes])?, &y.reshape(&[n])?)
            })
            .metrics(language_metrics())
        }
        LossKind::CrossEntropy => {
            let loss = CrossEntropyLoss::new().label_smoothing(smoothing);
            Trainer::new(model, opt, move |x: &Tensor, y: &Tensor| loss.forward(x, y))
                .metrics(classification_metrics(data.num_classes))
        }
        LossKind::Mse => Trainer::new(model, opt, mse_loss).metrics(regression_metrics()),
        LossKind::L1 => Trainer::new(model, opt, l1_loss).metrics(regression_metrics()),
    };
    trainer = match plan {
        Plan::None => trainer,
        Plan::Batch(s) => trainer.schedule_per_batch(s),
        Plan::Epoch(s) => trainer.schedule_per_epoch(BoxedScheduler(s)),
        Plan::Metric(s, key) => trainer.schedule_on_metric(s, key),
    };
    if let Some(es) = &t.early_stopping {
        let stop = EarlyStopping::new(es.monitor.clone())
            .patience(es.patience)?
            .min_delta(es.min_delta)?
            .restore_best_weights(es.restore_best_weights);
        trainer = trainer.callback(stop);
    }
    if let Some(max) = t.clip_grad_norm {
        trainer = trainer.clip_grad_norm(max)?;
    }
    let monitor = (t.monitor_every > 0).then(|| MonitorConfig {
        every_steps: t.monitor_every,
        ..MonitorConfig::default()
    });
    trainer = trainer
        .accumulate(t.accumulate)?
        .eval_every(t.eval_every)?
        .monitor(monitor)
        .name(name)
        .seed(t.seed)
        .checkpoints(t.checkpoints)
        .tensorboard(config.output.tensorboard)
        .report(config.output.report)
        .run_target(RunTarget::Under(out))
        .hparams(serde_json::to_value(config).unwrap_or_default());
    if let Some(names) = &data.class_names {
        trainer = trainer.class_names(names.clone());
    }
    if let Some(shape) = &data.image_shape {
        trainer = trainer.image_shape(shape);
    }
    Ok(trainer)
}

/// A boxed scheduler handed to the trainer as one.
struct BoxedScheduler(Box<dyn strata_nn::schedule::LrScheduler>);

impl strata_nn::schedule::LrScheduler for BoxedScheduler {
    fn step(&mut self) {
        self.0.step()
    }
    fn step_with_metric(&mut self, metric: f64) {
        self.0.step_with_metric(metric)
    }
    fn lrs(&self) -> Vec<f64> {
        self.0.lrs()
    }
    fn momentum(&self) -> Option<f64> {
        self.0.momentum()
    }
    fn last_epoch(&self) -> usize {
        self.0.last_epoch()
    }
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.0.state_dict()
    }
    fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> strata_nn::Result<()> {
        self.0.load_state_dict(entries)
    }
}
