//! A run writes every file it promises: metadata, hyper-parameters, the model summary,
//! metrics (JSON lines with monitor records, CSV), histograms, warnings, the confusion
//! matrix, pictures of misclassified examples, filters and feature maps, checkpoints,
//! the final weights, TensorBoard events, the graph and the report.

use crate::common::*;
use std::collections::BTreeSet;
use strata_core::{Generator, Tensor};
use strata_data::{DataLoader, TensorDataset};
use strata_nn::{loss::cross_entropy, Adam, Conv2d, Flatten, Linear, ModuleExt, ReLU, Sequential};
use strata_train::records::Record;
use strata_train::tensorboard::{proto, read_events};
use strata_train::{metrics::classification_metrics, MonitorConfig, RunTarget, Trainer};

/// 8x8 images with one bright 2x2 spot; the label is the quadrant it lies in.
fn spots(n: usize, seed: u64) -> TensorDataset {
    let mut g = Generator::new(seed);
    let mut xs = vec![0.0f32; n * 64];
    let mut ys = Vec::with_capacity(n);
    for i in 0..n {
        let (r, c) = (g.below(7) as usize, g.below(7) as usize);
        for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            xs[i * 64 + (r + dr) * 8 + c + dc] = 1.0;
        }
        for v in &mut xs[i * 64..(i + 1) * 64] {
            *v += 0.1 * g.normal() as f32;
        }
        ys.push((2 * usize::from(r >= 4) + usize::from(c >= 4)) as i64);
    }
    TensorDataset::new(
        Tensor::from_vec(xs, &[n, 1, 8, 8]).unwrap(),
        Tensor::from_vec(ys, &[n]).unwrap(),
    )
    .unwrap()
}

#[test]
fn a_run_writes_every_file_and_they_read_back() {
    let _serial = serial();
    let dir = temp_dir("run");
    strata_core::manual_seed(1);
    let model = Sequential::new()
        .push(Conv2d::new(1, 4, 3).unwrap())
        .push(ReLU::new())
        .push(Flatten::new())
        .push(Linear::new(4 * 6 * 6, 4).unwrap());
    let opt = Adam::new(model.parameters(), 1e-2).unwrap();
    let train = DataLoader::new(spots(256, 1)).batch_size(32).shuffle(1);
    let val = DataLoader::new(spots(96, 2)).batch_size(48);
    let monitor = MonitorConfig {
        every_steps: 4,
        histogram_every_steps: 8,
        ..MonitorConfig::default()
    };
    let mut t = Trainer::new(model, opt, cross_entropy)
        .metrics(classification_metrics(4))
        .monitor(Some(monitor))
        .class_names(vec![
            "top-left".into(),
            "top-right".into(),
            "bottom-left".into(),
            "bottom-right".into(),
        ])
        .hparams(serde_json::json!({"lr": 1e-2, "note": "spots"}))
        .progress(strata_train::ProgressMode::Quiet)
        .log_every_steps(2)
        .run_target(RunTarget::At(dir.clone()))
        .seed(1);
    let history = t.fit(&train, Some(&val), 3).unwrap();
    assert_eq!(history.len(), 3);
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    };

    let meta: serde_json::Value = serde_json::from_str(&read("meta.json")).unwrap();
    assert_eq!(meta["seed"], 1);
    assert_eq!(meta["epochs"], 3);
    assert_eq!(meta["steps"], 24);
    assert_eq!(meta["task"], "classification");
    assert_eq!(meta["main_metric"], "val_accuracy");
    assert_eq!(meta["num_parameters"], 4 * 9 + 4 + 144 * 4 + 4);
    assert!(meta["finished"].is_string() && meta["threads"].as_u64().unwrap() >= 1);
    let config: serde_json::Value = serde_json::from_str(&read("config.json")).unwrap();
    assert_eq!(config["note"], "spots");
    assert!(read("summary.txt").contains("Conv2d"));

    // metrics.jsonl: epochs, steps every 2, monitor records every 4 steps (and step 1).
    let records: Vec<Record> = read("metrics.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let epochs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Epoch(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(epochs.len(), 3);
    assert_eq!(epochs[2].metrics, history[2].metrics);
    let steps = records
        .iter()
        .filter(|r| matches!(r, Record::Step(_)))
        .count();
    assert_eq!(steps, 12);
    let monitors: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Monitor(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(
        monitors.iter().map(|m| m.step).collect::<Vec<_>>(),
        vec![1, 4, 8, 12, 16, 20, 24]
    );
    let names: Vec<&str> = monitors[0].params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
    assert!(monitors[1].params[0].update_ratio.unwrap() > 0.0);
    assert!(monitors[0]
        .activations
        .iter()
        .any(|a| a.layer_type == "ReLU" && a.dead_fraction.is_some()));

    let csv = read("metrics.csv");
    assert!(csv.starts_with("epoch,step,lr,seconds,samples_per_sec,"));
    assert_eq!(csv.lines().count(), 4);
    assert!(read("histograms.jsonl").lines().count() >= 3 * 4);
    let warnings: Vec<serde_json::Value> = serde_json::from_str(&read("warnings.json")).unwrap();
    let _ = warnings;

    let confusion: serde_json::Value = serde_json::from_str(&read("confusion.json")).unwrap();
    assert_eq!(confusion["labels"][3], "bottom-right");
    let total: u64 = confusion["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 96, "the last validation's 96 examples");

    for png in ["images/filters.png", "images/feature_maps.png"] {
        let bytes = std::fs::read(dir.join(png)).unwrap();
        let img = strata_data::Picture::decode(&bytes, png.as_ref())
            .unwrap_or_else(|e| panic!("{png}: {e}"));
        assert!(img.width() > 8 && img.height() > 8, "{png}");
    }
    if dir.join("images/misclassified.png").exists() {
        let captions: Vec<serde_json::Value> =
            serde_json::from_str(&read("images/misclassified.json")).unwrap();
        assert!(!captions.is_empty() && captions[0]["label"] != captions[0]["predicted"]);
    }

    // Checkpoints and final weights.
    let last =
        strata_nn::checkpoint::TrainingCheckpoint::load(dir.join("checkpoints/last.safetensors"))
            .unwrap();
    assert_eq!((last.epoch, last.step), (3, 24));
    assert!(dir.join("checkpoints/best.safetensors").exists());
    strata_core::manual_seed(77);
    let fresh = Sequential::new()
        .push(Conv2d::new(1, 4, 3).unwrap())
        .push(ReLU::new())
        .push(Flatten::new())
        .push(Linear::new(4 * 6 * 6, 4).unwrap());
    strata_nn::checkpoint::load_safetensors(&fresh, dir.join("model.safetensors"), true).unwrap();
    assert_eq!(weights_bits(&fresh), weights_bits(t.model()));

    // TensorBoard events: scalars per epoch and step, histograms, images.
    let events_file = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .expect("an event file");
    let mut tags = BTreeSet::new();
    let mut val_acc = Vec::new();
    for ev in read_events(&events_file).unwrap() {
        if let Some(proto::What::Summary(s)) = ev.what {
            for v in s.value {
                if v.tag == "accuracy/val"
                    && let Some(proto::Value::SimpleValue(x)) = v.value
                {
                    val_acc.push((ev.step, x));
                }
                tags.insert(v.tag);
            }
        }
    }
    for tag in [
        "loss/train",
        "loss/val",
        "accuracy/val",
        "lr/epoch",
        "grad_norm/0.weight",
        "update_ratio/3.weight",
        "weights/0.weight",
        "gradients/3.weight",
        "filters",
    ] {
        assert!(
            tags.contains(tag),
            "missing TensorBoard tag {tag}: {tags:?}"
        );
    }
    assert_eq!(val_acc.len(), 3);
    assert_eq!(val_acc[2], (3, history[2].metrics["val_accuracy"] as f32));

    assert!(read("graph.dot").contains("0.weight"));
    let report = read("report.html");
    assert!(
        report.contains("<html") && report.contains("val_accuracy") || report.contains("accuracy")
    );
    std::fs::remove_dir_all(&dir).ok();
}
