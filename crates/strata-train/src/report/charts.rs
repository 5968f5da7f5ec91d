//! Which charts a run gets, built from its records: training curves, training health and
//! the latest histograms. Charts without data are left out.

use super::read::RunData;
use super::svg::{Bar, Chart, Guide, Series};
use crate::records::{HistogramKind, HistogramRecord};
use std::collections::BTreeMap;

/// The report section a chart belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Curves,
    Health,
    Histograms,
}

/// A chart with the stem of its PNG file (`plots/<stem>.png`).
#[derive(Clone, Debug)]
pub struct NamedChart {
    pub stem: String,
    pub section: Section,
    pub chart: Chart,
}

/// Every chart the run's data supports, in report order.
pub fn all(run: &RunData) -> Vec<NamedChart> {
    let mut out = Vec::new();
    let mut add = |stem: String, section, chart: Chart| {
        if chart.has_data() {
            out.push(NamedChart {
                stem,
                section,
                chart,
            });
        }
    };
    for (metric, chart) in epoch_charts(run) {
        let stem = if metric == "loss" {
            "loss".to_string()
        } else {
            format!("metric_{metric}")
        };
        add(stem, Section::Curves, chart);
    }
    add("step_loss".into(), Section::Curves, step_loss(run));
    add("learning_rate".into(), Section::Curves, learning_rate(run));
    for (stem, chart) in health(run) {
        add(stem.to_string(), Section::Health, chart);
    }
    for (stem, chart) in histograms(run) {
        add(stem, Section::Histograms, chart);
    }
    out
}

/// One chart per metric (loss first), with a series per split (`train`, `val`, `test`).
fn epoch_charts(run: &RunData) -> Vec<(String, Chart)> {
    let mut by_metric: BTreeMap<String, BTreeMap<String, Vec<(f64, f64)>>> = BTreeMap::new();
    for e in &run.epochs {
        for (key, &v) in &e.metrics {
            let (split, metric) = split_key(key);
            by_metric
                .entry(metric.to_string())
                .or_default()
                .entry(split.to_string())
                .or_default()
                .push((e.epoch as f64, v));
        }
    }
    let mut metrics: Vec<String> = by_metric.keys().cloned().collect();
    metrics.sort_by_key(|m| (m != "loss", m.clone()));
    metrics
        .into_iter()
        .map(|metric| {
            let title = capitalise(&metric.replace('_', " "));
            let mut chart = Chart::lines(&title, "epoch", &metric);
            let mut splits: Vec<_> = by_metric
                .remove(&metric)
                .unwrap_or_default()
                .into_iter()
                .collect();
            splits.sort_by_key(|(s, _)| split_order(s));
            for (split, points) in splits {
                chart.series.push(Series {
                    name: split,
                    points,
                });
            }
            (metric, chart)
        })
        .collect()
}

/// `("val", "accuracy")` from `"val_accuracy"`; keys without a split prefix are their own.
fn split_key(key: &str) -> (&str, &str) {
    for split in ["train", "val", "test"] {
        if let Some(rest) = key.strip_prefix(split).and_then(|r| r.strip_prefix('_'))
            && !rest.is_empty()
        {
            return (split, rest);
        }
    }
    (key, key)
}

fn split_order(split: &str) -> (usize, String) {
    let rank = ["train", "val", "test"]
        .iter()
        .position(|s| *s == split)
        .unwrap_or(3);
    (rank, split.to_string())
}

fn step_loss(run: &RunData) -> Chart {
    let mut chart = Chart::lines("Loss per step", "step", "loss");
    let points = run.steps.iter().map(|s| (s.step as f64, s.loss)).collect();
    chart.series.push(Series {
        name: "train (step)".into(),
        points,
    });
    chart
}

/// By step when step records exist (they see schedules within an epoch), else by epoch.
fn learning_rate(run: &RunData) -> Chart {
    let (x_label, points): (&str, Vec<(f64, f64)>) = if run.steps.is_empty() {
        (
            "epoch",
            run.epochs.iter().map(|e| (e.epoch as f64, e.lr)).collect(),
        )
    } else {
        (
            "step",
            run.steps.iter().map(|s| (s.step as f64, s.lr)).collect(),
        )
    };
    let mut chart = Chart::lines("Learning rate", x_label, "learning rate");
    chart.log_y = spans_decades(points.iter().map(|p| p.1), 20.0);
    chart.series.push(Series {
        name: "lr".into(),
        points,
    });
    chart
}

/// True when the finite values are all positive and max/min exceeds `ratio`.
fn spans_decades(values: impl Iterator<Item = f64>, ratio: f64) -> bool {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values.filter(|v| v.is_finite()) {
        if v <= 0.0 {
            return false;
        }
        (lo, hi) = (lo.min(v), hi.max(v));
    }
    hi / lo > ratio
}

/// Series keyed by parameter or layer name in first-seen order, over monitored steps.
#[derive(Default)]
struct ByName {
    order: Vec<String>,
    points: BTreeMap<String, Vec<(f64, f64)>>,
}

impl ByName {
    fn push(&mut self, name: &str, step: u64, value: Option<f64>) {
        let Some(v) = value else { return };
        if !self.points.contains_key(name) {
            self.order.push(name.to_string());
        }
        self.points
            .entry(name.to_string())
            .or_default()
            .push((step as f64, v));
    }

    fn into_chart(mut self, mut chart: Chart) -> Chart {
        for name in self.order {
            let points = self.points.remove(&name).unwrap_or_default();
            chart.series.push(Series { name, points });
        }
        chart
    }
}

fn health(run: &RunData) -> Vec<(&'static str, Chart)> {
    let (mut grad, mut ratio) = (ByName::default(), ByName::default());
    let (mut mean, mut std) = (ByName::default(), ByName::default());
    let (mut dead, mut sat) = (ByName::default(), ByName::default());
    let mut global = Vec::new();
    for m in &run.monitors {
        global.push((m.step as f64, m.global_grad_norm));
        for p in &m.params {
            grad.push(&p.name, m.step, Some(p.grad_norm));
            ratio.push(&p.name, m.step, p.update_ratio);
        }
        for a in &m.activations {
            let name = format!("{} ({})", a.name, a.layer_type);
            mean.push(&name, m.step, Some(a.mean));
            std.push(&name, m.step, Some(a.std));
            dead.push(&name, m.step, a.dead_fraction);
            sat.push(&name, m.step, a.saturated_fraction);
        }
    }
    let log = |mut c: Chart| {
        c.log_y = true;
        c
    };
    let fraction = |mut c: Chart| {
        c.y_include = vec![0.0, 1.0];
        c
    };
    let mut global_chart = log(Chart::lines(
        "Global gradient norm",
        "step",
        "‖g‖ (all parameters)",
    ));
    global_chart.series.push(Series {
        name: "global".into(),
        points: global,
    });
    let mut ratio_chart =
        log(ratio.into_chart(Chart::lines("Update / weight ratio", "step", "‖Δw‖ / ‖w‖")));
    ratio_chart.guides = vec![
        guide(1e-1, "1e-1: too large", "#c0392b", true),
        guide(1e-3, "1e-3: typical", "#2e8b57", false),
        guide(1e-5, "1e-5: too small", "#c0392b", true),
    ];
    vec![
        (
            "gradient_flow",
            log(grad.into_chart(Chart::lines("Gradient norm per parameter", "step", "‖g‖"))),
        ),
        ("global_grad_norm", global_chart),
        ("update_ratios", ratio_chart),
        (
            "activation_mean",
            mean.into_chart(Chart::lines("Activation mean per layer", "step", "mean")),
        ),
        (
            "activation_std",
            std.into_chart(Chart::lines("Activation std per layer", "step", "std")),
        ),
        (
            "dead_fraction",
            fraction(dead.into_chart(Chart::lines(
                "Dead units per layer (ReLU family)",
                "step",
                "fraction dead",
            ))),
        ),
        (
            "saturated_fraction",
            fraction(sat.into_chart(Chart::lines(
                "Saturated outputs per layer (sigmoid, tanh)",
                "step",
                "fraction saturated",
            ))),
        ),
    ]
}

fn guide(y: f64, label: &str, color: &'static str, dashed: bool) -> Guide {
    Guide {
        y,
        label: label.to_string(),
        color,
        dashed,
    }
}

/// The latest histogram of each (kind, name) as a small bar chart.
fn histograms(run: &RunData) -> Vec<(String, Chart)> {
    let mut latest: Vec<&HistogramRecord> = Vec::new();
    for h in &run.histograms {
        match latest
            .iter_mut()
            .find(|l| l.kind == h.kind && l.name == h.name)
        {
            Some(l) if h.step >= l.step => *l = h,
            Some(_) => {}
            None => latest.push(h),
        }
    }
    latest
        .into_iter()
        .map(|h| {
            let kind = match h.kind {
                HistogramKind::Weight => "weight",
                HistogramKind::Gradient => "gradient",
                HistogramKind::Activation => "activation",
            };
            let title = format!("{} {kind} (step {})", h.name, h.step);
            let mut chart = Chart::lines(&title, "value", "count");
            chart.integer_x = false;
            chart.size = Some((380.0, 230.0));
            chart.bars = bars(h);
            (format!("hist_{kind}_{}", file_stem(&h.name)), chart)
        })
        .collect()
}

/// Bucket `i` spans `(limits[i-1], limits[i]]`; the first starts at the minimum and the
/// open-ended last bucket (limit ±1e308 in TensorBoard's layout) ends at the maximum.
fn bars(h: &HistogramRecord) -> Vec<Bar> {
    let mut out = Vec::new();
    let mut left = h.min;
    for (&limit, &count) in h.bucket_limits.iter().zip(&h.counts) {
        let right = limit.min(h.max.max(left));
        if count > 0.0 && right >= left {
            out.push(Bar {
                x0: left,
                x1: right,
                count,
            });
        }
        left = limit.max(left);
    }
    out
}

/// `"top5 accuracy"` as `"Top5 accuracy"`.
fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

/// `name` with everything but ASCII letters, digits, `-` and `_` replaced by `_`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_split_and_metric() {
        assert_eq!(split_key("val_top5_accuracy"), ("val", "top5_accuracy"));
        assert_eq!(split_key("train_loss"), ("train", "loss"));
        assert_eq!(split_key("validation"), ("validation", "validation"));
        assert_eq!(split_key("val_"), ("val_", "val_"));
        assert_eq!(file_stem("encoder.0/weight"), "encoder_0_weight");
    }

    #[test]
    fn histogram_buckets_become_bars() {
        let h = HistogramRecord {
            step: 1,
            epoch: 1,
            name: "w".into(),
            kind: HistogramKind::Weight,
            min: -1.0,
            max: 1.5,
            num: 6.0,
            sum: 0.0,
            sum_squares: 0.0,
            bucket_limits: vec![0.0, 1.0, 1e308],
            counts: vec![2.0, 0.0, 4.0],
        };
        let b = bars(&h);
        assert_eq!(
            b,
            vec![
                Bar {
                    x0: -1.0,
                    x1: 0.0,
                    count: 2.0
                },
                Bar {
                    x0: 1.0,
                    x1: 1.5,
                    count: 4.0
                }
            ]
        );
    }
}
