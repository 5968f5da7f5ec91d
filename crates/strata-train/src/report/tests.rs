//! Building reports from synthetic run directories.

use super::*;
use crate::records::*;
use base64::Engine;
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;
use strata_core::Tensor;

/// A fresh empty directory under the system temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-report-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn jsonl<T: serde::Serialize>(items: &[T]) -> String {
    items
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect()
}

const WARNING_TEXT: &str = "layer 1 (ReLU): 62% of units dead in 3 consecutive checks";

/// A run of 5 epochs × 10 steps with everything the trainer can write.
fn write_synthetic_run(dir: &Path) {
    let meta = json!({
        "name": "synthetic-mlp", "started": "2025-01-02T03:04:05Z", "finished": "2025-01-02T03:05:10Z",
        "seconds": 65.2, "seed": 42, "threads": 2, "strata_version": "0.1.0",
        "cpu": "Synthetic CPU @ 3.0GHz", "host": "testhost", "command": "cargo run --example mlp",
        "model_type": "Sequential", "num_parameters": 101770, "train_examples": 60000,
        "val_examples": 10000, "task": "classification", "main_metric": "val_accuracy",
        "stopped": "completed 5 epochs", "epochs": 5, "extra_key": [1, 2]
    });
    fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
    let config =
        json!({"lr": 0.01, "batch_size": 64, "optimizer": {"kind": "sgd", "momentum": 0.9}});
    fs::write(dir.join("config.json"), config.to_string()).unwrap();
    fs::write(
        dir.join("summary.txt"),
        "Layer    Output    Params\n0 Linear [64, 128]  100480\n<total>            101770\n",
    )
    .unwrap();

    let mut records = Vec::new();
    for epoch in 1..=5u64 {
        for s in 1..=10u64 {
            let step = (epoch - 1) * 10 + s;
            let lr = 0.01 * 0.5f64.powi((step / 20) as i32);
            records.push(Record::Step(StepRecord {
                step,
                epoch,
                loss: 2.3 / (1.0 + step as f64 * 0.1),
                lr,
            }));
            if step % 10 == 0 {
                let t = step as f64;
                let params = ["0.weight", "0.bias", "2.weight", "2.bias"]
                    .iter()
                    .enumerate()
                    .map(|(i, name)| ParamStats {
                        name: name.to_string(),
                        grad_norm: 0.5 / (i as f64 + 1.0) / (1.0 + t * 0.05),
                        weight_norm: 3.0 + i as f64,
                        update_ratio: Some(1e-3 * (i as f64 + 1.0) / (1.0 + t * 0.02)),
                    })
                    .collect();
                let activations = vec![
                    ActivationStats {
                        name: "0".into(),
                        layer_type: "Linear".into(),
                        mean: 0.1 * t.sqrt(),
                        std: 1.0 + 0.01 * t,
                        dead_fraction: None,
                        saturated_fraction: None,
                    },
                    ActivationStats {
                        name: "1".into(),
                        layer_type: "ReLU".into(),
                        mean: 0.4,
                        std: 0.6,
                        dead_fraction: Some(0.1 + 0.01 * t),
                        saturated_fraction: None,
                    },
                    ActivationStats {
                        name: "3".into(),
                        layer_type: "Sigmoid".into(),
                        mean: 0.5,
                        std: 0.2,
                        dead_fraction: None,
                        saturated_fraction: Some(0.002 * t),
                    },
                ];
                records.push(Record::Monitor(MonitorRecord {
                    step,
                    epoch,
                    global_grad_norm: 0.8 / (1.0 + t * 0.05),
                    params,
                    activations,
                }));
            }
        }
        let e = epoch as f64;
        let metrics = BTreeMap::from([
            ("train_loss".to_string(), 2.0 / e),
            ("val_loss".to_string(), 2.1 / e + 0.02 * e),
            ("train_accuracy".to_string(), 1.0 - 0.5 / e),
            ("val_accuracy".to_string(), 0.98 - 0.5 / e),
        ]);
        records.push(Record::Epoch(EpochRecord {
            epoch,
            step: epoch * 10,
            lr: 0.01,
            seconds: 13.0 * e,
            samples_per_sec: 4600.0,
            metrics,
        }));
    }
    fs::write(dir.join("metrics.jsonl"), jsonl(&records)).unwrap();

    let hist = HistogramRecord {
        step: 50,
        epoch: 5,
        name: "0.weight".into(),
        kind: HistogramKind::Weight,
        min: -0.3,
        max: 0.3,
        num: 100.0,
        sum: 0.0,
        sum_squares: 3.0,
        bucket_limits: vec![-0.2, -0.1, 0.0, 0.1, 0.2, 1e308],
        counts: vec![5.0, 15.0, 30.0, 30.0, 15.0, 5.0],
    };
    fs::write(dir.join("histograms.jsonl"), jsonl(&[hist])).unwrap();
    let warning = Warning {
        kind: WarningKind::DeadRelu,
        step: 30,
        epoch: 3,
        subject: Some("1".into()),
        message: WARNING_TEXT.into(),
    };
    fs::write(
        dir.join("warnings.json"),
        serde_json::to_string(&[warning]).unwrap(),
    )
    .unwrap();
    let confusion = json!({"split": "val", "labels": ["cat", "dog", "bird"],
        "matrix": [[50, 3, 2], [4, 40, 6], [1, 2, 42]]});
    fs::write(dir.join("confusion.json"), confusion.to_string()).unwrap();

    fs::create_dir_all(dir.join("images")).unwrap();
    let tiles: Vec<Tensor> = (0..6)
        .map(|k| {
            Tensor::from_vec(
                (0..64).map(|i| ((i * (k + 1)) % 17) as f32).collect(),
                &[8, 8],
            )
            .unwrap()
        })
        .collect();
    fs::write(
        dir.join("images/misclassified.png"),
        grid_png(&tiles, 3, 4).unwrap(),
    )
    .unwrap();
    let captions: Vec<_> = (0..6)
        .map(|k| json!({"index": 100 + k, "label": "dog", "predicted": "cat", "confidence": 0.5 + 0.05 * k as f64}))
        .collect();
    fs::write(
        dir.join("images/misclassified.json"),
        serde_json::to_string(&captions).unwrap(),
    )
    .unwrap();
    let w = Tensor::from_vec(
        (0..8 * 3 * 5 * 5)
            .map(|i| ((i * 37) % 23) as f32 - 11.0)
            .collect(),
        &[8, 3, 5, 5],
    )
    .unwrap();
    fs::write(
        dir.join("images/filters.png"),
        grid_png(&filter_tiles(&w).unwrap(), 8, 6).unwrap(),
    )
    .unwrap();
}

/// Every `data:image/png;base64,...` payload of `html`, decoded.
fn data_uris(html: &str) -> Vec<Vec<u8>> {
    html.split("data:image/png;base64,")
        .skip(1)
        .map(|rest| {
            let end = rest.find('"').unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(&rest[..end])
                .unwrap()
        })
        .collect()
}

#[test]
fn a_full_run_gets_every_section_offline() {
    let dir = temp_dir("full");
    write_synthetic_run(&dir);
    let path = build(&dir).unwrap();
    assert_eq!(path, dir.join("report.html"));
    assert!(!dir.join("report.html.tmp").exists());
    let html = fs::read_to_string(&path).unwrap();
    for title in [
        "<h2>Run</h2>",
        "<h2>Training curves</h2>",
        "<h2>Training health</h2>",
        "<h2>Warnings</h2>",
        "<h2>Confusion matrix</h2>",
        "<h2>Misclassified examples</h2>",
        "<h2>First-layer filters and feature maps</h2>",
        "<h2>Model summary</h2>",
        "<h2>Histograms</h2>",
    ] {
        assert!(html.contains(title), "missing {title}");
    }
    assert!(html.contains(WARNING_TEXT));
    assert!(html.contains("<title>synthetic-mlp · Strata report</title>"));
    assert!(html.contains("1 min 05 s") && html.contains("101,770"));
    // The summary is escaped inside <pre>.
    assert!(html.contains("&lt;total&gt;"));
    // Offline: no URL anywhere, no external stylesheet or script.
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<link") && !html.contains("<script"));
    // The two images come back as the PNGs that were written.
    let uris = data_uris(&html);
    assert_eq!(uris.len(), 2);
    assert_eq!(
        uris[0],
        fs::read(dir.join("images/misclassified.png")).unwrap()
    );
    let grid = strata_data::Picture::decode(&uris[0], "grid.png".as_ref()).unwrap();
    assert_eq!((grid.width(), grid.height()), (3 * 32 + 2, 2 * 32 + 1));
    assert_eq!(uris[1], fs::read(dir.join("images/filters.png")).unwrap());

    let mut plots: Vec<String> = fs::read_dir(dir.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    plots.sort();
    let expected = [
        "activation_mean",
        "activation_std",
        "dead_fraction",
        "global_grad_norm",
        "gradient_flow",
        "hist_weight_0_weight",
        "learning_rate",
        "loss",
        "metric_accuracy",
        "saturated_fraction",
        "step_loss",
        "update_ratios",
    ];
    assert_eq!(plots, expected.map(|s| format!("{s}.png")));
    for stem in expected {
        assert!(
            html.contains(&format!(r#"<a href="plots/{stem}.png">"#)),
            "{stem} not linked"
        );
    }
    // Loss: two series (one legend row of 17 px and an 8 px margin) on 560 × 300, drawn
    // at scale 2.
    let loss = png_at(&dir, "plots/loss.png");
    assert_eq!((loss.width(), loss.height()), (1120, 650));
    // A single series gets no legend; a histogram is 380 × 230.
    let step = png_at(&dir, "plots/step_loss.png");
    assert_eq!((step.width(), step.height()), (1120, 600));
    let hist = png_at(&dir, "plots/hist_weight_0_weight.png");
    assert_eq!((hist.width(), hist.height()), (760, 460));
    // Rebuilding replaces the files in place.
    assert_eq!(build(&dir).unwrap(), path);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn metrics_alone_make_a_report_that_says_what_is_missing() {
    let dir = temp_dir("minimal");
    let epoch = Record::Epoch(EpochRecord {
        epoch: 1,
        step: 3,
        lr: 0.1,
        seconds: 0.5,
        samples_per_sec: 10.0,
        metrics: BTreeMap::from([("train_loss".to_string(), 0.7)]),
    });
    fs::write(dir.join("metrics.jsonl"), jsonl(&[epoch])).unwrap();
    let html = fs::read_to_string(build(&dir).unwrap()).unwrap();
    assert!(html.contains("Not recorded (training-health monitors were off)"));
    assert!(html.contains("Not recorded (no warnings.json)"));
    assert!(html.contains("Not recorded (no meta.json)"));
    assert!(!html.contains("Confusion matrix") && !html.contains("Histograms"));
    assert!(data_uris(&html).is_empty());
    assert!(dir.join("plots/loss.png").is_file());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_or_malformed_files_are_errors_naming_them() {
    let dir = temp_dir("errors");
    let err = build(&dir).unwrap_err().to_string();
    let metrics = dir.join("metrics.jsonl");
    assert!(err.starts_with(&metrics.display().to_string()), "{err}");
    assert!(!dir.join("report.html").exists());

    let good = r#"{"kind":"step","step":1,"epoch":1,"loss":0.5,"lr":0.1}"#;
    fs::write(
        &metrics,
        format!("{good}\n\n{good}\n{{\"kind\":\"step\",\"step\":\n"),
    )
    .unwrap();
    let err = build(&dir).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: line 4:", metrics.display())),
        "{err}"
    );

    fs::write(&metrics, format!("{good}\n")).unwrap();
    fs::write(
        dir.join("confusion.json"),
        r#"{"labels": ["a", "b"], "matrix": [[1, 2]]}"#,
    )
    .unwrap();
    let err = build(&dir).unwrap_err().to_string();
    assert!(
        err.contains("confusion.json") && err.contains("2 × 2"),
        "{err}"
    );
    fs::write(dir.join("confusion.json"), "[1,").unwrap();
    let err = build(&dir).unwrap_err().to_string();
    assert!(err.contains("confusion.json"), "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// Writes the synthetic run to `$STRATA_REPORT_DEMO` (default: the temp dir) and builds
/// its report, for `scripts/screenshot_report.sh`.
#[test]
#[ignore = "writes a demo run directory for screenshots"]
fn demo_run_directory() {
    let dir = std::env::var_os("STRATA_REPORT_DEMO")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("strata-report-demo"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    write_synthetic_run(&dir);
    println!("{}", build(&dir).unwrap().display());
}

/// Builds the report of the run directory `$STRATA_REPORT_DIR` (to look at a real or
/// hand-made run).
#[test]
#[ignore = "needs STRATA_REPORT_DIR"]
fn build_existing_run_directory() {
    let dir = std::env::var_os("STRATA_REPORT_DIR").expect("set STRATA_REPORT_DIR");
    println!("{}", build(Path::new(&dir)).unwrap().display());
}

/// The PNG at `name` under `dir`, decoded.
fn png_at(dir: &std::path::Path, name: &str) -> strata_data::Picture {
    let path = dir.join(name);
    strata_data::Picture::decode(&fs::read(&path).unwrap(), &path).unwrap()
}
