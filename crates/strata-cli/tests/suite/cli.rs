//! The `strata` command end to end: every subcommand, a short training run that writes
//! every file, `--set` overrides, and bad input giving a clear error and the right exit
//! code (2: usage or config, 1: at run time), never a panic.

use std::path::Path;

use crate::common;

use common::*;

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        "train", "eval", "predict", "generate", "summary", "graph", "report",
    ] {
        let o = strata(&[cmd, "--help"]);
        assert_eq!(o.code, 0, "{cmd}");
        assert!(
            o.stdout.contains("Example:\n  strata"),
            "{cmd}: {}",
            o.stdout
        );
    }
    let o = strata(&["fly"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("unrecognized subcommand"), "{}", o.stderr);
}

#[test]
fn a_short_mnist_run_writes_every_file_and_its_weights_evaluate_the_same() {
    let out = temp("train");
    let o = strata(&[
        "train",
        "configs/mnist-mlp.toml",
        "--epochs",
        "1",
        "--train-limit",
        "1024",
        "--set",
        "data.validation=256",
        "--set",
        "optimizer.lr=2e-3",
        "--set",
        "training.batch_size=32",
        "--set",
        "schedule.name=none",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let dir = run_dir(&o.stdout);
    assert!(dir.starts_with(&out) || dir.to_string_lossy().contains(out.to_str().unwrap()));
    let final_line = o.stdout.lines().find(|l| l.starts_with("final: ")).unwrap();
    assert!(
        final_line.contains("test_accuracy=") && final_line.contains("epochs=1"),
        "{final_line}"
    );
    let acc: f64 = final_line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("test_accuracy="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        acc > 0.7,
        "768 images for an epoch reach well above chance: {acc}"
    );
    for file in [
        "config.toml",
        "config.json",
        "meta.json",
        "metrics.jsonl",
        "metrics.csv",
        "summary.txt",
        "warnings.json",
        "model.safetensors",
        "checkpoints/last.safetensors",
        "report.html",
        "graph.dot",
    ] {
        assert!(
            dir.join(file).exists(),
            "{file} missing in {}",
            dir.display()
        );
    }
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["optimizer"]["lr"], 2e-3, "--set reached the run");
    assert_eq!(config["schedule"]["name"], "none");
    assert!(std::fs::read_dir(&dir).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("events.out.tfevents.")));

    let weights = dir.join("model.safetensors");
    let o = strata(&[
        "eval",
        "configs/mnist-mlp.toml",
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.trim();
    assert!(
        final_line.contains(line.split_whitespace().next().unwrap()),
        "{line} vs {final_line}"
    );

    std::fs::remove_file(dir.join("report.html")).unwrap();
    let o = strata(&["report", dir.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(dir.join("report.html").exists());

    // predict: a test digit as a PNG, then an image of the wrong size.
    let test =
        strata_data::Mnist::load(Path::new(ROOT).join("data/mnist"), strata_data::Split::Test)
            .unwrap();
    let png = out.join("digit.png");
    let digit = strata_data::Picture::new(28, 28, 1, test.pixels(0).unwrap().to_vec()).unwrap();
    std::fs::write(&png, digit.encode_png().unwrap()).unwrap();
    let o = strata(&[
        "predict",
        "configs/mnist-mlp.toml",
        "--weights",
        weights.to_str().unwrap(),
        png.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.trim();
    assert!(line.starts_with(&format!("{}: ", png.display())), "{line}");
    let probs: Vec<f64> = line
        .split('(')
        .skip(1)
        .map(|p| p[..p.find(')').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(probs.len(), 3);
    assert!(
        probs.windows(2).all(|w| w[0] >= w[1]) && probs.iter().sum::<f64>() <= 1.0 + 1e-9,
        "{line}"
    );
    let big = out.join("big.png");
    let black = strata_data::Picture::new(32, 32, 1, vec![0; 32 * 32]).unwrap();
    std::fs::write(&big, black.encode_png().unwrap()).unwrap();
    let o = strata(&[
        "predict",
        "configs/mnist-mlp.toml",
        "--weights",
        weights.to_str().unwrap(),
        big.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr
            .contains("the image is 32x32 pixels; the model takes 28x28"),
        "{}",
        o.stderr
    );

    // Damaged and foreign weights are errors at run time.
    let bytes = std::fs::read(&weights).unwrap();
    let cut = out.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = strata(&[
        "eval",
        "configs/mnist-mlp.toml",
        "--weights",
        cut.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("cut.safetensors"), "{}", o.stderr);
    let o = strata(&[
        "eval",
        "configs/mnist-cnn.toml",
        "--weights",
        weights.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("0.weight"), "{}", o.stderr);
    let o = strata(&[
        "eval",
        "configs/mnist-mlp.toml",
        "--weights",
        "no/such.safetensors",
    ]);
    assert_eq!(o.code, 1);
    std::fs::remove_dir_all(&out).ok();
}

#[test]
fn summary_graph_and_a_tabular_run() {
    let o = strata(&["summary", "configs/mnist-cnn.toml"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("Conv2d") && o.stdout.contains("421,642"),
        "{}",
        o.stdout
    );
    let dir = temp("graph");
    let dot = dir.join("g.dot");
    let o = strata(&[
        "graph",
        "configs/mnist-mlp.toml",
        "--out",
        dot.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(std::fs::read_to_string(&dot).unwrap().contains("0.weight"));
    let o = strata(&[
        "train",
        "configs/iris.toml",
        "--epochs",
        "30",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.lines().find(|l| l.starts_with("final: ")).unwrap();
    let acc: f64 = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("test_accuracy="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc >= 0.8, "{line}");
    // predict on CSV rows: one line of top classes per row; a short row is an error.
    let weights = run_dir(&o.stdout).join("model.safetensors");
    let rows = dir.join("rows.csv");
    std::fs::write(&rows, "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n").unwrap();
    let o = strata(&[
        "predict",
        "configs/iris.toml",
        "--weights",
        weights.to_str().unwrap(),
        "--top",
        "1",
        rows.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", o.stdout);
    assert!(
        lines[0].contains(":1: setosa ("),
        "a textbook setosa: {}",
        lines[0]
    );
    assert!(
        lines[1].contains(":2: virginica ("),
        "a textbook virginica: {}",
        lines[1]
    );
    std::fs::write(&rows, "5.1,3.5\n").unwrap();
    let o = strata(&[
        "predict",
        "configs/iris.toml",
        "--weights",
        weights.to_str().unwrap(),
        rows.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("line 1: 2 value(s), the model takes 4"),
        "{}",
        o.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_gru_forecasts_the_co2_series_against_the_last_value_baseline() {
    let dir = temp("co2");
    let o = strata(&[
        "train",
        "configs/co2-gru.toml",
        "--epochs",
        "3",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.lines().find(|l| l.starts_with("final: ")).unwrap();
    let value = |key: &str| -> f64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (mse, baseline) = (value("test_mse="), value("baseline_mse="));
    assert!(mse.is_finite() && mse > 0.0 && baseline > 0.0, "{line}");
    assert!(
        line.contains("test_mae=") && line.contains("test_r2="),
        "{line}"
    );
    let names = std::fs::read_to_string(run_dir(&o.stdout).join("summary.txt")).unwrap();
    assert!(names.contains("GRU"), "{names}");
    let path = variant(
        &dir,
        "configs/co2-gru.toml",
        "input = [52, 1]",
        "input = [52]",
    );
    let o = strata(&["train", &path]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("model.layers[0] (gru): expects a sequence [time, features], got [52]"),
        "{}",
        o.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_configs_are_usage_errors_that_name_the_key() {
    let dir = temp("bad");
    let cases = [
        (
            "activation = \"relu\"",
            "activation = \"rleu\"",
            "model.layers[0].activation: unknown variant `rleu`",
        ),
        (
            "lr = 1e-3",
            "lr = 1e-3\nlearnin_rate = 1",
            "optimizer.learnin_rate: unknown field `learnin_rate`",
        ),
        (
            "epochs = 10",
            "epochs = \"ten\"",
            "training.epochs: invalid type: string \"ten\"",
        ),
        (
            "out = 512",
            "out = 1000000000000",
            "784 × 1000000000000 weights are too many to allocate",
        ),
        (
            "{ type = \"linear\", out = 512, activation = \"relu\" },",
            "{ type = \"conv2d\", out = 4, kernel = 3 },",
            "model.layers[0] (conv2d): expects an image",
        ),
        (
            "input = [784]",
            "input = [785]",
            "model.input: MNIST gives [1, 28, 28] images or [784] flattened, got [785]",
        ),
    ];
    for (from, to, expected) in cases {
        let path = variant(&dir, "configs/mnist-mlp.toml", from, to);
        let o = strata(&["train", &path]);
        assert_eq!(o.code, 2, "{to}: {}", o.stderr);
        assert!(o.stderr.contains(expected), "{to}: {}", o.stderr);
    }
    let path = variant(
        &dir,
        "configs/mnist-mlp.toml",
        "activation = \"relu\"",
        "activation = \"rleu\"",
    );
    let o = strata(&["summary", &path]);
    assert!(o.stderr.contains("(line 12, column 46)"), "{}", o.stderr);
    let o = strata(&[
        "train",
        "configs/mnist-mlp.toml",
        "--set",
        "optimizer.lrr=1",
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("optimizer.lrr: unknown field") && o.stderr.contains("after --set"),
        "{}",
        o.stderr
    );
    let o = strata(&["train", "no/such.toml"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("no/such.toml: cannot read"),
        "{}",
        o.stderr
    );
    // Data that is missing or damaged fails at run time, naming the file.
    let o = strata(&["train", "configs/mnist-mlp.toml", "--data", "no/such/dir"]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("no/such/dir"), "{}", o.stderr);
    let broken = dir.join("mnist");
    std::fs::create_dir_all(&broken).unwrap();
    for f in std::fs::read_dir(Path::new(ROOT).join("data/mnist")).unwrap() {
        let f = f.unwrap();
        let bytes = std::fs::read(f.path()).unwrap();
        std::fs::write(broken.join(f.file_name()), &bytes[..bytes.len().min(100)]).unwrap();
    }
    let o = strata(&[
        "train",
        "configs/mnist-mlp.toml",
        "--data",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains(broken.to_str().unwrap()), "{}", o.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn transfer_learning_loads_renamed_weights_and_freezes_by_prefix() {
    let dir = temp("transfer");
    let o = strata(&[
        "train",
        "configs/transfer-pretrain.toml",
        "--epochs",
        "1",
        "--train-limit",
        "600",
        "--set",
        "data.validation=100",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let weights = run_dir(&o.stdout).join("model.safetensors");
    let init = format!("model.init_from={:?}", weights.to_str().unwrap());
    let o = strata(&[
        "train",
        "configs/transfer-finetune.toml",
        "--epochs",
        "1",
        "--set",
        &init,
        "--set",
        "model.init_prefixes=[\"0.\", \"3.\"]",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stdout.contains("init: 4 tensor(s) from")
            && o.stdout.contains("0.weight, 0.bias, 3.weight, 3.bias"),
        "{}",
        o.stdout
    );
    // The frozen convolution is exactly the pretrained one after fine-tuning.
    let tuned = run_dir(&o.stdout).join("model.safetensors");
    let read = |p: &Path| strata_nn::checkpoint::read_safetensors(p).unwrap();
    let (before, after) = (read(&weights), read(&tuned));
    let get = |v: &[(String, strata_core::Tensor)], n: &str| {
        v.iter()
            .find(|(k, _)| k == n)
            .unwrap()
            .1
            .to_vec::<f32>()
            .unwrap()
    };
    assert_eq!(get(&before, "0.weight"), get(&after, "0.weight"));
    assert_ne!(
        get(&before, "9.weight"),
        get(&after, "9.weight"),
        "the classifier was not loaded and trains"
    );
    // Only classes 5-9 were seen: 50 of each.
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(run_dir(&o.stdout).join("meta.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["train_examples"], 250);
    let o = strata(&[
        "train",
        "configs/transfer-finetune.toml",
        "--set",
        "model.freeze=[\"12.\"]",
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("model.freeze: no parameter's name starts with \"12.\""),
        "{}",
        o.stderr
    );
    let o = strata(&[
        "train",
        "configs/mnist-mlp.toml",
        "--epochs",
        "1",
        "--set",
        &init,
    ]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("model.init_from") && o.stderr.contains("0.weight"),
        "{}",
        o.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}
