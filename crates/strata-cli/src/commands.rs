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

pub fn train(args: TrainArgs) -> Result<(), CliError> {
    let started = Instant::now();
    let config = config_with(&args.config, &args.set, args.epochs, args.seed)?;
    let model = model(&config)?;
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
    println!(
        "final: {} epochs={} seconds={:.1}",
        figures("test", &test),
        history.last().map_or(0, |r| r.epoch),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `test_accuracy=0.9871 test_loss=0.0432` (the headline figures first).
fn figures(prefix: &str, values: &std::collections::BTreeMap<String, f64>) -> String {
    let order = ["accuracy", "loss", "mse", "mae", "r2"];
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
