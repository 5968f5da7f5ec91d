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
    pub distributed: bool,
    pub set: Vec<String>,
}

/// Reads the config with the command line's overrides folded into `--set` ones, so they
/// are checked like the file.
pub fn config_with(
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

/// The model of a config, initialised from its seed; its class count (or vocabulary)
/// read from the data at `data` (default: the config's path).
pub fn model(config: &Config, data: Option<&Path>) -> Result<Sequential, CliError> {
    let classes = data::num_classes(config, data)?;
    strata_core::manual_seed(config.training.seed);
    Ok(build(&config.model, classes)?.0)
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
    if !args.distributed {
        return train_with(args, None);
    }
    #[cfg(feature = "mpi")]
    {
        let mpi = strata_distributed::Mpi::init().map_err(CliError::Runtime)?;
        let result = train_with(args, Some(&mpi));
        // A failing rank ends the whole job, naming itself, instead of leaving the others
        // waiting in their next all-reduce.
        if let Err(e) = &result {
            mpi.abort(&e.to_string(), e.exit_code());
        }
        result
    }
    #[cfg(not(feature = "mpi"))]
    Err(CliError::usage(
        "--distributed: this strata was built without MPI; build it with `cargo build --release \
         --features mpi` (needs libopenmpi-dev, openmpi-bin and libclang-dev) and launch it with \
         `mpirun -n N strata train CONFIG --distributed`",
    ))
}

#[cfg(feature = "mpi")]
type Mpi = strata_distributed::Mpi;
#[cfg(not(feature = "mpi"))]
type Mpi = ();

fn train_with(args: TrainArgs, mpi: Option<&Mpi>) -> Result<(), CliError> {
    let started = Instant::now();
    let config = config_with(&args.config, &args.set, args.epochs, args.seed)?;
    let model = model(&config, args.data.as_deref())?;
    init_and_freeze(&config, &model)?;
    #[cfg(feature = "mpi")]
    let shard = mpi.map(|m| strata_data::Shard {
        rank: m.rank(),
        world: m.world(),
    });
    #[cfg(not(feature = "mpi"))]
    let shard = mpi.and(None);
    let data = data::load(&config, args.data.as_deref(), args.train_limit, shard)?;
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from(&config.output.dir));
    let name = run_name(&config, &args.config);
    let mut trainer = run::trainer(&config, model, &data, &name, out).map_err(as_config_error)?;
    #[cfg(feature = "mpi")]
    if let Some(m) = mpi {
        trainer = trainer.data_parallel(m.group());
        if config.training.sync_batch_norm {
            trainer = trainer.sync_batch_norm()?;
        }
    }
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
    let (split, held_out) = held_out(&mut trainer, &data)?;
    let baseline = data
        .baseline_mse
        .map(|b| format!(" baseline_mse={b:.4}"))
        .unwrap_or_default();
    let (rank, world) = trainer.rank();
    if rank == 0 {
        let ranks = if world > 1 {
            format!(" ranks={world}")
        } else {
            String::new()
        };
        println!(
            "final: {}{baseline} epochs={}{ranks} seconds={:.1}",
            figures(split, &held_out),
            history.last().map_or(0, |r| r.epoch),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The figures on held-out data: the test part, or the validation part of data without
/// one (a text).
fn held_out(
    trainer: &mut strata_train::Trainer<Sequential>,
    data: &data::Data,
) -> Result<(&'static str, std::collections::BTreeMap<String, f64>), CliError> {
    Ok(match (&data.test, &data.val) {
        (Some(test), _) => ("test", trainer.evaluate(&**test)?),
        (None, Some(val)) => ("val", trainer.evaluate(&**val)?),
        (None, None) => ("train", trainer.evaluate(&*data.train)?),
    })
}

/// `test_accuracy=0.9871 test_loss=0.0432` (the headline figures first).
fn figures(prefix: &str, values: &std::collections::BTreeMap<String, f64>) -> String {
    let order = ["accuracy", "mse", "mae", "r2", "loss", "bpc", "perplexity"];
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
    let model = model(&config, data_path)?;
    strata_nn::checkpoint::load_safetensors(&model, weights, true)?;
    let data = data::load(&config, data_path, None, None)?;
    let mut trainer = run::trainer(&config, model, &data, "eval", PathBuf::new())
        .map_err(as_config_error)?
        .run_target(RunTarget::Nowhere)
        .progress(ProgressMode::Quiet);
    let (split, held_out) = held_out(&mut trainer, &data)?;
    println!("{}", figures(split, &held_out));
    Ok(())
}

/// One input of the config's shape, batch of 1: token ids (zeros) for a model that
/// starts with an embedding, else zeros.
fn sample_input(config: &Config) -> Tensor {
    let mut shape = vec![1];
    shape.extend(&config.model.input);
    match config.model.layers.first() {
        Some(crate::config::LayerSpec::Embedding { .. }) => {
            Tensor::zeros_dtype(&shape, strata_core::DType::I64)
        }
        _ => Tensor::zeros(&shape),
    }
}

pub fn summary(config_path: &Path, set: &[String]) -> Result<(), CliError> {
    let config = config_with(config_path, set, None, None)?;
    let model = model(&config, None)?;
    println!(
        "{}",
        strata_nn::summary_with_input(&model, &sample_input(&config))?
    );
    Ok(())
}

pub fn graph(config_path: &Path, out: &Path, set: &[String]) -> Result<(), CliError> {
    use crate::config::LossKind;
    let config = config_with(config_path, set, None, None)?;
    let model = model(&config, None)?;
    let logits = strata_nn::Forward::forward(&model, &sample_input(&config))?;
    // The config's loss against a target of zeros: its graph is the training step's.
    let loss = match config.loss.name {
        LossKind::Mse => strata_nn::loss::mse_loss(&logits, &Tensor::zeros(logits.shape()))?,
        LossKind::L1 => strata_nn::loss::l1_loss(&logits, &Tensor::zeros(logits.shape()))?,
        LossKind::CrossEntropy => {
            let classes = logits.shape().last().copied().unwrap_or(1).max(1);
            let n = logits.numel() / classes;
            let y = Tensor::zeros_dtype(&[n], strata_core::DType::I64);
            strata_nn::loss::cross_entropy(&logits.reshape(&[n, classes])?, &y)?
        }
    };
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
