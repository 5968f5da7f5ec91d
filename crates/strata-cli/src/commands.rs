//! What each subcommand does.

use crate::build::build;
use crate::config::{load, Config};
use crate::data;
use crate::error::CliError;
use crate::run;
use std::path::{Path, PathBuf};
use std::time::Instant;
use strata_core::Tensor;
use strata_nn::Sequential;
use strata_train::{ProgressMode, RunTarget};

/// `strata train` options beyond the config.
pub struct TrainArgs {
    pub config: PathBuf,
    pub out: Option<PathBuf>,
    pub epochs: Option<u64>,
    pub seed: Option<u64>,
    pub data: Option<PathBuf>,
    pub train_limit: Option<usize>,
    pub resume: Option<PathBuf>,
    pub set: Vec<String>,
}

/// Reads the config with the command line's overrides folded into `--set` ones, so they
/// are checked like the file.
fn config_with(
    path: &Path,
    set: &[String],
    epochs: Option<u64>,
    seed: Option<u64>,
) -> Result<Config, CliError> {
    let mut overrides = set.to_vec();
    if let Some(e) = epochs {
        overrides.push(format!("training.epochs={e}"));
    }
    if let Some(s) = seed {
        overrides.push(format!("training.seed={s}"));
    }
    Ok(load(path, &overrides)?)
}

/// The model of a config, initialised from its seed.
fn model(config: &Config) -> Result<Sequential, CliError> {
    strata_core::manual_seed(config.training.seed);
    Ok(build(&config.model)?.0)
}

fn run_name(config: &Config, path: &Path) -> String {
    config.output.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into())
    })
}

/// Transfer learning: starts `model` from `model.init_from` (only `init_prefixes`,
/// renamed) and freezes `model.freeze`.
fn init_and_freeze(config: &Config, model: &Sequential) -> Result<(), CliError> {
    use strata_nn::checkpoint::{load_weights, read_safetensors, rename_prefix};
    use strata_nn::ModuleExt;
    if let Some(path) = &config.model.init_from {
        let all = read_safetensors(path)?;
        let entries = if config.model.init_prefixes.is_empty() {
            all
        } else {
            let mut picked = Vec::new();
            for p in &config.model.init_prefixes {
                let (from, to) = p.split_once('=').unwrap_or((p.as_str(), p.as_str()));
                picked.extend(rename_prefix(&all, from, to));
            }
            picked
        };
        let report = load_weights(model, &entries, false)?;
        if !report.problems.mismatched.is_empty() {
            return Err(CliError::usage(format!(
                "model.init_from: {path}: {}",
                report.problems
            )));
        }
        println!(
            "init: {} tensor(s) from {path}: {}",
            report.loaded.len(),
            report.loaded.join(", ")
        );
    }
    for prefix in &config.model.freeze {
        let name = prefix.trim_end_matches('.');
        if model.set_trainable_prefix(name, false) == 0 {
            return Err(CliError::usage(format!(
                "model.freeze: no parameter's name starts with {prefix:?}"
            )));
        }
    }
    Ok(())
}

pub fn train(args: TrainArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let config = config_with(&args.config, &args.set, args.epochs, args.seed)?;
    let model = model(&config)?;
    init_and_freeze(&config, &model)?;
    let data = data::load(&config, args.data.as_deref(), args.train_limit)?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(&config.output.dir));
    let name = run_name(&config, &args.config);
    let mut trainer = run::trainer(&config, model, &data, &name, out).map_err(as_config_error)?;
    if let Some(ckpt) = &args.resume {
        trainer.resume(ckpt)?;
    }
    let history = trainer.fit(&*data.train, data.val.as_deref(), config.training.epochs)?;
    if let Some(dir) = trainer.run_path() {
        let text = std::fs::read_to_string(&args.config).unwrap_or_default();
        std::fs::write(dir.join("config.toml"), text).map_err(|e| {
            CliError::Runtime(format!("{}: {e}", dir.join("config.toml").display()))
        })?;
    }
    let test = trainer.evaluate(&*data.test)?;
    let baseline = data
        .baseline_mse
        .map(|b| format!(" baseline_mse={b:.4}"))
        .unwrap_or_default();
    println!(
        "final: {}{baseline} epochs={} seconds={:.1}",
        figures("test", &test),
        history.last().map_or(0, |r| r.epoch),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `test_accuracy=0.9871 test_loss=0.0432` (the headline figures first).
fn figures(prefix: &str, values: &std::collections::BTreeMap<String, f64>) -> String {
    let order = ["accuracy", "mse", "mae", "r2", "loss"];
    let mut keys: Vec<&String> = values
        .keys()
        .filter(|k| order.contains(&k.as_str()))
        .collect();
    keys.sort_by_key(|k| order.iter().position(|o| o == k));
    keys.iter()
        .map(|k| format!("{prefix}_{k}={:.4}", values[*k]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Errors while putting a config's trainer together are the config's.
fn as_config_error(e: CliError) -> CliError {
    match e {
        CliError::Nn(e) => CliError::Usage(e.to_string()),
        CliError::Train(e) => CliError::Usage(e.to_string()),
        other => other,
    }
}

pub fn eval(
    config_path: &Path,
    weights: &Path,
    data_path: Option<&Path>,
    set: &[String],
) -> Result<(), CliError> {
    let config = config_with(config_path, set, None, None)?;
    let model = model(&config)?;
    strata_nn::checkpoint::load_safetensors(&model, weights, true)?;
    let data = data::load(&config, data_path, None)?;
    let mut trainer = run::trainer(&config, model, &data, "eval", PathBuf::new())
        .map_err(as_config_error)?
        .run_target(RunTarget::Nowhere)
        .progress(ProgressMode::Quiet);
    let test = trainer.evaluate(&*data.test)?;
    println!("{}", figures("test", &test));
    Ok(())
}

/// Top classes with probabilities for images (PNG/JPEG) or the rows of CSV files.
pub fn predict(
    config_path: &Path,
    weights: &Path,
    inputs: &[PathBuf],
    top: usize,
) -> Result<(), CliError> {
    let config = config_with(config_path, &[], None, None)?;
    let model = model(&config)?;
    strata_nn::checkpoint::load_safetensors(&model, weights, true)?;
    strata_nn::ModuleExt::eval(&model);
    let names: Vec<String> =
        match config.data.dataset {
            crate::config::DatasetKind::Mnist => (0..10).map(|d| d.to_string()).collect(),
            crate::config::DatasetKind::Csv => {
                crate::data::csv_class_names(Path::new(&config.data.path))?
            }
            crate::config::DatasetKind::Timeseries => return Err(CliError::usage(
                "predict: a time-series config forecasts values, not classes; use `strata eval`",
            )),
        };
    for input in inputs {
        let is_csv = input
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let rows = if is_csv {
            csv_rows(&config, input)?
        } else {
            vec![(input.display().to_string(), image_input(&config, input)?)]
        };
        for (label, x) in rows {
            let logits = strata_core::no_grad(|| strata_nn::Forward::forward(&model, &x))?;
            let probs = logits.softmax(1)?.to_vec_f64();
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
            let best: Vec<String> = order
                .iter()
                .take(top.max(1))
                .map(|&c| {
                    format!(
                        "{} ({:.3})",
                        names.get(c).cloned().unwrap_or_else(|| c.to_string()),
                        probs[c]
                    )
                })
                .collect();
            println!("{label}: {}", best.join(", "));
        }
    }
    Ok(())
}

/// An image file as the model's input `[1, ...input]`, pixels in [0, 1] normalised as in
/// training. Its size must be the model's.
fn image_input(config: &Config, path: &Path) -> Result<Tensor, CliError> {
    let img = image::open(path)
        .map_err(|e| CliError::Runtime(format!("{}: cannot decode image: {e}", path.display())))?;
    let grey = img.to_luma8();
    let (w, h) = grey.dimensions();
    if (w, h) != (28, 28) {
        return Err(CliError::Runtime(format!(
            "{}: the image is {w}x{h} pixels; the model takes 28x28 greyscale images",
            path.display()
        )));
    }
    let mut values: Vec<f32> = grey.pixels().map(|p| p.0[0] as f32 / 255.0).collect();
    if let Some(n) = &config.data.normalize {
        let (m, s) = (
            n.mean.first().copied().unwrap_or(0.0),
            n.std.first().copied().unwrap_or(1.0),
        );
        values.iter_mut().for_each(|v| *v = (*v - m) / s);
    }
    let mut shape = vec![1];
    shape.extend(&config.model.input);
    Ok(Tensor::from_vec(values, &shape)?)
}

/// Each line of a CSV file of features as one input row, standardised as in training.
fn csv_rows(config: &Config, path: &Path) -> Result<Vec<(String, Tensor)>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Runtime(format!("{}: cannot read: {e}", path.display())))?;
    let stats = crate::data::csv_stats(config, Path::new(&config.data.path))?;
    let width: usize = config.model.input.iter().product();
    let mut rows = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut values = line
            .split(',')
            .map(|v| v.trim().parse::<f32>())
            .collect::<Result<Vec<f32>, _>>()
            .map_err(|e| CliError::Runtime(format!("{}: line {}: {e}", path.display(), i + 1)))?;
        if values.len() != width {
            return Err(CliError::Runtime(format!(
                "{}: line {}: {} value(s), the model takes {width}",
                path.display(),
                i + 1,
                values.len()
            )));
        }
        if let Some(s) = &stats {
            s.apply(&mut values)?;
        }
        rows.push((
            format!("{}:{}", path.display(), i + 1),
            Tensor::from_vec(values, &[1, width])?,
        ));
    }
    Ok(rows)
}

pub fn summary(config_path: &Path, set: &[String]) -> Result<(), CliError> {
    let config = config_with(config_path, set, None, None)?;
    let model = model(&config)?;
    let mut shape = vec![1];
    shape.extend(&config.model.input);
    println!("{}", strata_nn::summary(&model, &shape)?);
    Ok(())
}

pub fn graph(config_path: &Path, out: &Path, set: &[String]) -> Result<(), CliError> {
    let config = config_with(config_path, set, None, None)?;
    let model = model(&config)?;
    let mut shape = vec![1];
    shape.extend(&config.model.input);
    let x = Tensor::zeros(&shape);
    let y = Tensor::zeros_dtype(&[1], strata_core::DType::I64);
    let logits = strata_nn::Forward::forward(&model, &x)?;
    let loss = strata_nn::loss::cross_entropy(&logits, &y)?;
    let names: Vec<(String, Tensor)> = strata_nn::ModuleExt::named_parameters(&model)
        .into_iter()
        .map(|(n, p)| (n, p.tensor().clone()))
        .collect();
    let svg = strata_train::graph::write_graph(&loss, &names, out)?;
    println!("graph: {}", out.display());
    if let Some(svg) = svg {
        println!("svg: {}", svg.display());
    }
    Ok(())
}

pub fn report(run_dir: &Path) -> Result<(), CliError> {
    let path = strata_train::report::build(run_dir)?;
    println!("report: {}", path.display());
    Ok(())
}
