//! The `strata` command on text (a character LSTM that learns a repeating sentence and
//! writes it back with `generate`), image folders, CIFAR-10 files, augmentation, and
//! damaged data files.

use crate::common;

use common::*;
use std::path::Path;

/// A small character-level config over `text_path`.
fn text_config(dir: &Path, text_path: &Path) -> String {
    let config = format!(
        r#"
[data]
dataset = "text"
path = "{}"
validation = 0.2

[model]
input = [16]
layers = [
  {{ type = "embedding", dim = 8 }},
  {{ type = "lstm", hidden = 32, output = "sequence" }},
  {{ type = "linear" }},
]

[optimizer]
lr = 0.01

[training]
epochs = 8
batch_size = 16
monitor_every = 0
"#,
        text_path.display()
    );
    let path = dir.join("text.toml");
    std::fs::write(&path, config).unwrap();
    path.display().to_string()
}

/// The text the sentence tests train on, over and over.
const SENTENCE: &str = "the cat sat on the mat. ";

/// Greedy generation after `prompt` (a piece of [`SENTENCE`]) continues the sentence
/// exactly for 40 characters.
fn writes_the_sentence_back(config: &str, weights: &str, prompt: &str) {
    let o = strata(&[
        "generate",
        config,
        "--weights",
        weights,
        "--prompt",
        prompt,
        "--length",
        "40",
        "--temperature",
        "0",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let want: String = SENTENCE
        .repeat(4)
        .chars()
        .skip(prompt.len() % SENTENCE.len())
        .take(40)
        .collect();
    assert_eq!(o.stdout.trim_end_matches('\n'), format!("{prompt}{want}"));
}

fn figure(line: &str, key: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .unwrap_or_else(|| panic!("{key} not in {line}"))
        .parse()
        .unwrap()
}

/// Windows of 5 characters are too short to tell where in "the cat sat on the mat. " a
/// window starts; the state carried from window to window tells it. A stateful LSTM,
/// trained and evaluated on the text read as streams, reaches a small fraction of the
/// window-by-window loss and, reading one character at a time, writes the sentence back.
#[test]
fn a_stateful_lstm_reads_past_its_window() {
    let dir = temp("stateful");
    let text_path = dir.join("text.txt");
    std::fs::write(&text_path, SENTENCE.repeat(300)).unwrap();
    let base = std::fs::read_to_string(text_config(&dir, &text_path)).unwrap();
    let config = |stateful: bool| {
        let text = base.replace("input = [16]", "input = [5]").replace(
            "output = \"sequence\" }",
            &format!("output = \"sequence\", stateful = {stateful} }}"),
        );
        let path = dir.join(format!("stateful-{stateful}.toml"));
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let out = dir.join("runs");
    let train = |config: &str| {
        let o = strata(&["train", config, "--out", out.to_str().unwrap()]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        let line = o.stdout.lines().find(|l| l.starts_with("final: ")).unwrap();
        (figure(line, "val_loss="), run_dir(&o.stdout))
    };
    let (window_loss, _) = train(&config(false));
    let stateful = config(true);
    let (stream_loss, run) = train(&stateful);
    assert!(window_loss > 0.1, "window by window: {window_loss}");
    assert!(
        stream_loss < 0.3 * window_loss,
        "{stream_loss} against {window_loss}"
    );

    let weights = run.join("model.safetensors");
    writes_the_sentence_back(&stateful, weights.to_str().unwrap(), "the cat");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_character_lstm_learns_a_sentence_and_generates_it() {
    let dir = temp("text");
    let text_path = dir.join("text.txt");
    std::fs::write(&text_path, SENTENCE.repeat(300)).unwrap();
    let config = text_config(&dir, &text_path);
    let o = strata(&["summary", &config]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // 11 distinct characters: the embedding and the last linear layer take their size.
    assert!(o.stdout.contains("Embedding  [1, 16, 8]"), "{}", o.stdout);
    assert!(o.stdout.contains("[1, 16, 11]"), "{}", o.stdout);

    let out = dir.join("runs");
    let o = strata(&["train", &config, "--out", out.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.lines().find(|l| l.starts_with("final: ")).unwrap();
    let (loss, bpc) = (figure(line, "val_loss="), figure(line, "val_bpc="));
    // Bits per character are the loss in nats over ln 2; a uniform guess is ln 11 = 2.4.
    assert!((bpc - loss / std::f64::consts::LN_2).abs() < 1e-3, "{line}");
    assert!(loss < 0.5, "{line}");
    let meta = std::fs::read_to_string(run_dir(&o.stdout).join("meta.json")).unwrap();
    assert!(meta.contains("\"task\": \"language\""), "{meta}");

    // Greedy generation continues the sentence exactly.
    let weights = run_dir(&o.stdout).join("model.safetensors");
    let w = weights.to_str().unwrap();
    writes_the_sentence_back(&config, w, "the cat sat on the mat. the cat");
    // Sampling is seeded: the same seed writes the same text.
    let sample = |seed: &str| {
        strata(&[
            "generate",
            &config,
            "--weights",
            w,
            "--length",
            "30",
            "--seed",
            seed,
        ])
        .stdout
    };
    assert_eq!(sample("3"), sample("3"));

    // Characters the text never had, a non-text config and bad sampling settings are
    // usage errors; missing weights a run-time one.
    let o = strata(&["generate", &config, "--weights", w, "--prompt", "dog!"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("character 'd'"), "{}", o.stderr);
    let o = strata(&["generate", "configs/mnist-mlp.toml", "--weights", w]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("needs a text"), "{}", o.stderr);
    let o = strata(&["generate", &config, "--weights", w, "--top-p", "2"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("top_p must be in (0, 1]"), "{}", o.stderr);
    let o = strata(&["generate", &config, "--weights", "no/such.safetensors"]);
    assert_eq!(o.code, 1);
    let o = strata(&["predict", &config, "--weights", w, "x.png"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("use `strata generate`"), "{}", o.stderr);

    // A text too short for one window is named.
    std::fs::write(&text_path, "tiny").unwrap();
    let o = strata(&["train", &config]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("cannot hold a window of 16"),
        "{}",
        o.stderr
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Writes a `size × size` RGB PNG of one colour.
fn png(path: &Path, size: u32, rgb: [u8; 3]) {
    let n = (size * size) as usize;
    let img = strata_data::Picture::new(size as usize, size as usize, 3, rgb.repeat(n)).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, img.encode_png().unwrap()).unwrap();
}

#[test]
fn an_image_folder_trains_and_predicts_resized_images() {
    let dir = temp("folder");
    let root = dir.join("shades");
    for (split, count) in [("train", 24), ("test", 6)] {
        for i in 0..count {
            // Sizes vary: every image is resized to the model's input.
            let size = 6 + (i % 5) as u32;
            let v = (i * 3) as u8;
            png(
                &root.join(split).join("dark").join(format!("{i}.png")),
                size,
                [v, v, v + 10],
            );
            let b = 250 - v;
            png(
                &root.join(split).join("light").join(format!("{i}.png")),
                size,
                [b, b, b - 10],
            );
        }
    }
    let config = dir.join("folder.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[data]
dataset = "image_folder"
path = "{}"
validation = 0.25
[data.augment]
flip = true
[model]
input = [3, 8, 8]
layers = [{{ type = "flatten" }}, {{ type = "linear", out = 8, activation = "relu" }}, {{ type = "linear" }}]
[optimizer]
lr = 0.01
[training]
epochs = 15
batch_size = 8
monitor_every = 0
"#,
            root.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let o = strata(&["train", config, "--out", dir.join("runs").to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.lines().find(|l| l.starts_with("final: ")).unwrap();
    assert_eq!(figure(line, "test_accuracy="), 1.0, "{line}");
    let confusion = std::fs::read_to_string(run_dir(&o.stdout).join("confusion.json")).unwrap();
    assert!(
        confusion.contains("\"dark\"") && confusion.contains("\"light\""),
        "{confusion}"
    );

    let weights = run_dir(&o.stdout).join("model.safetensors");
    let query = dir.join("query.png");
    png(&query, 40, [240, 240, 235]);
    let o = strata(&[
        "predict",
        config,
        "--weights",
        weights.to_str().unwrap(),
        query.to_str().unwrap(),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("query.png: light ("), "{}", o.stdout);
    std::fs::remove_dir_all(&dir).ok();
}

/// CIFAR-10's binary layout: per record one label byte and 3072 pixel bytes.
fn cifar_file(path: &Path, records: usize, seed: u8) {
    let mut bytes = Vec::new();
    for r in 0..records {
        bytes.push((r % 10) as u8);
        bytes.extend((0..3072).map(|i| (i as u8).wrapping_mul(seed).wrapping_add(r as u8)));
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn cifar10_files_train_and_damaged_ones_are_named() {
    let dir = temp("cifar");
    let data = dir.join("cifar");
    std::fs::create_dir_all(&data).unwrap();
    for i in 1..=5 {
        cifar_file(&data.join(format!("data_batch_{i}.bin")), 20, i as u8);
    }
    cifar_file(&data.join("test_batch.bin"), 10, 9);
    let config = dir.join("cifar.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[data]
dataset = "cifar10"
path = "{}"
validation = 20
normalize = {{ mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25] }}
[data.augment]
crop = {{ padding = 4 }}
flip = true
[model]
input = [3, 32, 32]
layers = [
  {{ type = "conv2d", out = 4, kernel = 3, stride = 2, activation = "relu" }},
  {{ type = "flatten" }},
  {{ type = "linear" }},
]
[training]
epochs = 1
batch_size = 25
monitor_every = 0
"#,
            data.display()
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let o = strata(&["train", config, "--out", dir.join("runs").to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let line = o.stdout.lines().find(|l| l.starts_with("final: ")).unwrap();
    let accuracy = figure(line, "test_accuracy=");
    assert!((0.0..=1.0).contains(&accuracy), "{line}");
    let confusion = std::fs::read_to_string(run_dir(&o.stdout).join("confusion.json")).unwrap();
    assert!(confusion.contains("\"airplane\"") && confusion.contains("\"truck\""));

    // A batch cut in the middle of a record fails at run time, naming the file.
    let bytes = std::fs::read(data.join("data_batch_3.bin")).unwrap();
    std::fs::write(data.join("data_batch_3.bin"), &bytes[..5000]).unwrap();
    let o = strata(&["train", config]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("data_batch_3.bin"), "{}", o.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

/// Raw (not gzipped) MNIST files: `n` 28×28 images and their labels.
fn mnist_files(dir: &Path, prefix: &str, labels: &[u8], label_magic: u32) {
    let n = labels.len() as u32;
    let mut images = 2051u32.to_be_bytes().to_vec();
    for v in [n, 28, 28] {
        images.extend(v.to_be_bytes());
    }
    images.extend((0..n as usize * 784).map(|i| (i % 251) as u8));
    std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
    let mut l = label_magic.to_be_bytes().to_vec();
    l.extend(n.to_be_bytes());
    l.extend(labels);
    std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), l).unwrap();
}

#[test]
fn damaged_mnist_files_and_bad_augmentation_are_named() {
    let dir = temp("damaged");
    let data = dir.join("mnist");
    std::fs::create_dir_all(&data).unwrap();
    let train = |extra: &[&str]| {
        let mut args = vec![
            "train",
            "configs/mnist-mlp.toml",
            "--data",
            data.to_str().unwrap(),
            "--epochs",
            "1",
        ];
        args.extend(extra);
        strata(&args)
    };
    // A label of 12 for a 10-class data set.
    mnist_files(&data, "train", &[1, 12, 3], 2049);
    mnist_files(&data, "t10k", &[0, 1], 2049);
    let o = train(&[]);
    assert_eq!(o.code, 1);
    assert!(
        o.stderr.contains("label 12 is out of range"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("train-labels-idx1-ubyte"), "{}", o.stderr);
    // A wrong magic number.
    mnist_files(&data, "train", &[1, 2, 3], 0x0100_0801);
    let o = train(&[]);
    assert_eq!(o.code, 1);
    assert!(o.stderr.contains("train-labels-idx1-ubyte"), "{}", o.stderr);
    assert!(
        o.stderr
            .contains("not an IDX file: magic number 0x01000801"),
        "{}",
        o.stderr
    );
    // Good files train, augmented.
    mnist_files(&data, "train", &[1, 2, 3, 4], 2049);
    let o = train(&[
        "--out",
        dir.join("runs").to_str().unwrap(),
        "--set",
        "data.validation=1",
        "--set",
        "data.augment.affine.degrees=15",
        "--set",
        "data.augment.erasing.p=0.5",
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);

    // Augmentation settings are checked like every key.
    let o = train(&["--set", "data.augment.affine.degress=15"]);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr
            .contains("data.augment.affine.degress: unknown field"),
        "{}",
        o.stderr
    );
    let o = train(&["--set", "data.augment.erasing.p=1.5"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("data.augment.erasing.p"), "{}", o.stderr);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_shipped_config_reads_and_builds() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let o = strata(&["summary", path.to_str().unwrap()]);
            assert_eq!(o.code, 0, "{}: {}", path.display(), o.stderr);
            assert!(o.stdout.contains("Total params:"), "{}", o.stdout);
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    for want in [
        "mnist-mlp",
        "mnist-cnn",
        "mnist-cnn-augment",
        "shakespeare-lstm",
        "co2-gru",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }
}
