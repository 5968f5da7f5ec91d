//! The run's closing files (final weights, confusion matrix, pictures, metadata, report)
//! and what the trainer sends to TensorBoard.

use super::{Engine, Task};
use crate::metrics::ConfusionMatrix;
use crate::records::{EpochRecord, HistogramRecord, MonitorRecord};
use crate::report::images::{feature_map_tiles, filter_tiles, grid_png, png_size};
use crate::run_dir::{cpu_name, host_name, utc_stamp};
use crate::tensorboard::EventWriter;
use crate::{Result, TrainError};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::SystemTime;
use strata_core::{no_grad, Tensor};
use strata_nn::{hooks, Module, ModuleExt};

impl Engine {
    /// See [`Trainer::finish`](super::Trainer::finish).
    pub(super) fn finish(&mut self) -> Result<()> {
        if self.state.finished {
            return Ok(());
        }
        self.state.finished = true;
        let ctx = context!(self);
        for cb in &mut self.callbacks {
            cb.on_train_end(&ctx)?;
        }
        if self.logs.is_none() {
            return Ok(());
        }
        if let Some(logs) = &self.logs {
            strata_nn::checkpoint::save_safetensors(
                self.model.module(),
                logs.dir.path().join("model.safetensors"),
            )?;
        }
        self.write_confusion()?;
        self.write_pictures()?;
        self.write_closing_files()
    }

    /// After an error: the warnings, the metadata with the reason and the report, as far
    /// as they can be written (their own errors are secondary to the one reported).
    pub(super) fn finish_after_error(&mut self, err: &TrainError) {
        self.state.finished = true;
        self.state.stopped = Some(format!("error: {err}"));
        if let TrainError::NonFinite { step, epoch, .. } = err
            && let Some(m) = &mut self.state.monitor
        {
            m.record_warning(crate::records::Warning {
                kind: crate::records::WarningKind::NonFinite,
                step: *step,
                epoch: *epoch,
                subject: None,
                message: err.to_string(),
            });
        }
        if self.logs.is_some() {
            let _ = self.write_closing_files();
        }
    }

    fn write_closing_files(&mut self) -> Result<()> {
        let warnings = self.warnings();
        let history = self.state.history.clone();
        if let Some(logs) = &mut self.logs {
            logs.dir.write_warnings(&warnings)?;
            logs.dir.write_csv(&history)?;
            if let Some(events) = &mut logs.events {
                events.flush()?;
            }
        }
        self.write_meta(true)?;
        if self.settings.report
            && let Some(logs) = &self.logs
        {
            let report = crate::report::build(logs.dir.path())?;
            if self.settings.progress != crate::ProgressMode::Quiet {
                println!("report: {}", report.display());
            }
        }
        Ok(())
    }

    /// `meta.json`: what the run was and how it ended.
    pub(super) fn write_meta(&self, finished: bool) -> Result<()> {
        let started = self.state.started_at.unwrap_or_else(SystemTime::now);
        let seconds = self
            .state
            .started
            .map_or(0.0, |t| t.elapsed().as_secs_f64())
            + self.state.seconds_before;
        let meta = json!({
            "name": self.settings.name,
            "started": utc_stamp(started, true),
            "finished": finished.then(|| utc_stamp(SystemTime::now(), true)),
            "seconds": seconds,
            "seed": self.settings.seed,
            "threads": strata_core::num_threads(),
            "strata_version": env!("CARGO_PKG_VERSION"),
            "cpu": cpu_name(),
            "host": host_name(),
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "model_type": self.model.module().type_name(),
            "num_parameters": self.model.module().num_parameters(),
            "train_examples": self.state.train_examples,
            "val_examples": self.state.val_examples,
            "task": self.settings.task.name(),
            "main_metric": self.settings.main_metric,
            "stopped": self.state.stopped.clone().unwrap_or_else(|| {
                if finished { "completed every epoch".to_string() } else { "running".to_string() }
            }),
            "epochs": self.state.epoch,
            "steps": self.state.step,
            "resumed": self.state.resumed,
        });
        if let Some(logs) = &self.logs {
            logs.dir.write_json("meta.json", &meta)?;
        }
        Ok(())
    }

    pub(super) fn write_run_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        match &self.logs {
            Some(logs) => logs.dir.write_file(name, bytes),
            None => Ok(()),
        }
    }

    /// `graph.dot` (and `graph.svg` where Graphviz is installed) of the first loss.
    pub(super) fn write_graph(&self, loss: &Tensor) -> Result<()> {
        if let Some(logs) = &self.logs {
            let names: Vec<(String, Tensor)> = self
                .model
                .module()
                .named_parameters()
                .into_iter()
                .map(|(n, p)| (n, p.tensor().clone()))
                .collect();
            crate::graph::write_graph(loss, &names, &logs.dir.path().join("graph.dot"))?;
        }
        Ok(())
    }

    /// `confusion.json` from the last validation's confusion matrix, if one was kept.
    fn write_confusion(&self) -> Result<()> {
        let Some(cm) = self
            .val_metrics
            .iter()
            .find_map(|m| m.as_any()?.downcast_ref::<ConfusionMatrix>())
        else {
            return Ok(());
        };
        let matrix = cm.matrix();
        if matrix.iter().flatten().all(|&c| c == 0) {
            return Ok(());
        }
        let labels: Vec<String> = (0..matrix.len())
            .map(|i| {
                self.settings
                    .class_names
                    .as_ref()
                    .and_then(|n| n.get(i).cloned())
                    .unwrap_or_else(|| i.to_string())
            })
            .collect();
        let value = json!({ "split": "val", "labels": labels, "matrix": matrix });
        match &self.logs {
            Some(logs) => logs.dir.write_json("confusion.json", &value),
            None => Ok(()),
        }
    }

    /// The input of one example as an image `[C, H, W]`, if it is one.
    fn as_image(&self, input: &Tensor) -> Option<Tensor> {
        match (&self.settings.image_shape, input.shape().len()) {
            (Some(shape), _) if shape.iter().product::<usize>() == input.numel() => {
                input.reshape(shape).ok()
            }
            (_, 3) => Some(input.clone()),
            (_, 2) => input.unsqueeze(0).ok(),
            _ => None,
        }
    }

    /// Misclassified examples, first-layer filters and feature maps, for image data.
    fn write_pictures(&mut self) -> Result<()> {
        let label = |i: i64| -> String {
            self.settings
                .class_names
                .as_ref()
                .and_then(|n| n.get(i.max(0) as usize).cloned())
                .unwrap_or_else(|| i.to_string())
        };
        let mut images = Vec::new();
        let mut captions = Vec::new();
        for (input, truth, pred, confidence, index) in &self.state.misclassified {
            if let Some(img) = self.as_image(input) {
                images.push(img);
                captions.push(json!({
                    "index": index, "label": label(*truth), "predicted": label(*pred),
                    "confidence": confidence,
                }));
            }
        }
        let mut pngs: Vec<(&str, Vec<u8>)> = Vec::new();
        if !images.is_empty() {
            pngs.push(("misclassified", grid_png(&images, 8, 3)?));
        }
        if let Some(filters) = self.first_conv_filters()? {
            pngs.push(("filters", grid_png(&filters, 8, 6)?));
        }
        if let Some(maps) = self.feature_maps()? {
            pngs.push(("feature_maps", grid_png(&maps, 8, 3)?));
        }
        if !captions.is_empty()
            && let Some(logs) = &self.logs
        {
            logs.dir
                .write_json("images/misclassified.json", &captions)?;
        }
        let step = self.state.step;
        for (name, png) in &pngs {
            self.write_run_file(&format!("images/{name}.png"), png)?;
            if let Some(Some(events)) = self.logs.as_mut().map(|l| l.events.as_mut()) {
                let (w, h) = png_size(png)?;
                events.add_image_png(name, png, w, h, 3, step)?;
            }
        }
        Ok(())
    }

    /// The first four-dimensional weight (`[out, in, kh, kw]`), one picture per output
    /// channel (at most 64).
    fn first_conv_filters(&self) -> Result<Option<Vec<Tensor>>> {
        let Some((_, p)) = self
            .model
            .module()
            .named_parameters()
            .into_iter()
            .find(|(n, p)| n.ends_with("weight") && p.tensor().shape().len() == 4)
        else {
            return Ok(None);
        };
        let w = p.tensor().detach();
        let w = w.narrow(0, 0, w.shape()[0].min(64))?;
        Ok(Some(filter_tiles(&w)?))
    }

    /// The first convolution's output channels for one validation example.
    fn feature_maps(&mut self) -> Result<Option<Vec<Tensor>>> {
        let (Some(probe), Task::Classification) = (&self.state.probe, self.settings.task) else {
            return Ok(None);
        };
        let captured: Rc<RefCell<Option<Tensor>>> = Rc::default();
        let sink = captured.clone();
        self.model.module().eval();
        let run = hooks::with_forward_hook(
            move |m: &dyn Module, out: &Tensor| {
                if sink.borrow().is_none()
                    && m.type_name().contains("Conv")
                    && out.shape().len() == 4
                {
                    *sink.borrow_mut() = Some(out.detach().copy());
                }
            },
            || no_grad(|| self.model.step(probe)),
        );
        self.model.module().train();
        run?;
        let Some(maps) = captured.borrow_mut().take() else {
            return Ok(None);
        };
        let maps = maps.narrow(1, 0, maps.shape()[1].min(64))?;
        Ok(Some(feature_map_tiles(&maps)?))
    }
}

/// A step's loss, learning rate, monitor figures and histograms as TensorBoard events.
pub(super) fn log_step_events(
    events: &mut EventWriter,
    step: u64,
    loss: f64,
    lr: f64,
    record: Option<&MonitorRecord>,
    histograms: &[HistogramRecord],
) -> Result<()> {
    if let Some(r) = record {
        events.add_scalar("loss/step", loss, step)?;
        events.add_scalar("lr/step", lr, step)?;
        events.add_scalar("gradients/global_norm", r.global_grad_norm, step)?;
        for p in &r.params {
            events.add_scalar(&format!("grad_norm/{}", p.name), p.grad_norm, step)?;
            events.add_scalar(&format!("weight_norm/{}", p.name), p.weight_norm, step)?;
            if let Some(u) = p.update_ratio {
                events.add_scalar(&format!("update_ratio/{}", p.name), u, step)?;
            }
        }
        for a in &r.activations {
            events.add_scalar(&format!("activation_mean/{}", a.name), a.mean, step)?;
            events.add_scalar(&format!("activation_std/{}", a.name), a.std, step)?;
            if let Some(d) = a.dead_fraction {
                events.add_scalar(&format!("dead_fraction/{}", a.name), d, step)?;
            }
            if let Some(s) = a.saturated_fraction {
                events.add_scalar(&format!("saturated_fraction/{}", a.name), s, step)?;
            }
        }
    }
    for h in histograms {
        let kind = match h.kind {
            crate::records::HistogramKind::Weight => "weights",
            crate::records::HistogramKind::Gradient => "gradients",
            crate::records::HistogramKind::Activation => "activations",
        };
        events.add_histogram(&format!("{kind}/{}", h.name), h, step)?;
    }
    Ok(())
}

/// An epoch's figures as TensorBoard scalars: `loss/train` and `loss/val` side by side.
pub(super) fn log_epoch_events(events: &mut EventWriter, record: &EpochRecord) -> Result<()> {
    for (key, &value) in &record.metrics {
        let tag = match key.split_once('_') {
            Some((split @ ("train" | "val"), metric)) => format!("{metric}/{split}"),
            _ => key.clone(),
        };
        events.add_scalar(&tag, value, record.epoch)?;
    }
    events.add_scalar("lr/epoch", record.lr, record.epoch)?;
    events.add_scalar("samples_per_sec", record.samples_per_sec, record.epoch)?;
    events.flush()
}
