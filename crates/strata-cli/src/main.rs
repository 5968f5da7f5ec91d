//! `strata`: train, evaluate and inspect models described in TOML config files.
//!
//! Exit codes: 0 success, 1 a failure while running, 2 a usage or config error (nothing
//! ran).

mod bench;
mod build;
mod commands;
mod config;
mod data;
mod error;
mod experiment;
mod generate;
mod predict;
mod run;
mod sequence;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "Train, evaluate and inspect neural networks described in TOML configs",
    after_help = "Example:\n  strata train configs/mnist-mlp.toml --epochs 2\n  strata summary configs/mnist-cnn.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Trains the model of a config and writes its run directory (metrics, checkpoints,
    /// model.safetensors, TensorBoard events, report.html).
    #[command(
        after_help = "Example:\n  strata train configs/mnist-mlp.toml --epochs 2 --set optimizer.lr=3e-4"
    )]
    Train {
        /// The config file (TOML).
        config: PathBuf,
        /// Where run directories go (default: the config's output.dir, `runs`).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Epochs (overrides training.epochs).
        #[arg(long)]
        epochs: Option<u64>,
        /// Seed for initialisation, shuffling and dropout (overrides training.seed).
        #[arg(long)]
        seed: Option<u64>,
        /// The data set's path (overrides data.path).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Keep only the first N training examples (a quick run).
        #[arg(long, value_name = "N")]
        train_limit: Option<usize>,
        /// Kernel threads (default: all cores).
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// Continue from a checkpoint of an earlier run (checkpoints/last.safetensors).
        #[arg(long, value_name = "CKPT")]
        resume: Option<PathBuf>,
        /// Data-parallel training, one rank per process under mpirun (`mpirun -n 4 strata
        /// train CONFIG --distributed`): each rank takes training.batch_size examples of
        /// every global batch. Needs a strata built with `--features mpi`.
        #[arg(long)]
        distributed: bool,
        #[command(flatten)]
        set: Overrides,
    },
    /// Evaluates saved weights on the config's test data.
    #[command(
        after_help = "Example:\n  strata eval configs/mnist-mlp.toml --weights runs/mnist-mlp-20261202-053000/model.safetensors"
    )]
    Eval {
        config: PathBuf,
        /// Weights written by `strata train` (model.safetensors).
        #[arg(long)]
        weights: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        set: Overrides,
    },
    /// Prints the top classes with their probabilities for images (PNG/JPEG) or the rows
    /// of CSV files, with saved weights.
    #[command(
        after_help = "Example:\n  strata predict configs/mnist-mlp.toml --weights runs/mnist-mlp-20261202-053000/model.safetensors digit.png"
    )]
    Predict {
        config: PathBuf,
        #[arg(long)]
        weights: PathBuf,
        /// How many classes to show per input.
        #[arg(long, default_value_t = 3)]
        top: usize,
        /// Images (28x28 for MNIST configs, 32x32 for CIFAR-10, any size for image
        /// folders) or CSV files of feature rows.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
    /// Writes text with a character-level language model (a `text` config) and saved
    /// weights, one character at a time.
    #[command(
        after_help = "Example:\n  strata generate configs/shakespeare-lstm.toml --weights runs/shakespeare-lstm-20261202-090000/model.safetensors --prompt 'ROMEO:' --length 400 --temperature 0.8"
    )]
    Generate {
        config: PathBuf,
        #[arg(long)]
        weights: PathBuf,
        /// The text's path (overrides data.path; it defines the characters).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Text to start from (every character must occur in the training text).
        #[arg(long, default_value = "")]
        prompt: String,
        /// Characters to write after the prompt.
        #[arg(long, default_value_t = 500)]
        length: usize,
        /// Below 1 sharpens the model's distribution, above 1 flattens it; 0 is greedy.
        #[arg(long, default_value_t = 0.8)]
        temperature: f64,
        /// Draw only among the K most likely characters.
        #[arg(long, value_name = "K")]
        top_k: Option<usize>,
        /// Draw only among the most likely characters that together reach probability P.
        #[arg(long, value_name = "P")]
        top_p: Option<f64>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Prints the model's layers with their output shapes and parameter counts.
    #[command(after_help = "Example:\n  strata summary configs/mnist-cnn.toml")]
    Summary {
        config: PathBuf,
        #[command(flatten)]
        set: Overrides,
    },
    /// Writes the computational graph of one forward pass and loss as Graphviz DOT (and SVG
    /// when `dot` is installed).
    #[command(after_help = "Example:\n  strata graph configs/mnist-mlp.toml --out graph.dot")]
    Graph {
        config: PathBuf,
        #[arg(long, default_value = "graph.dot")]
        out: PathBuf,
        #[command(flatten)]
        set: Overrides,
    },
    /// Rebuilds a run directory's report.html from its files.
    #[command(after_help = "Example:\n  strata report runs/mnist-mlp-20261202-053000")]
    Report { run_dir: PathBuf },
    /// Runs one of the lesson's experiments: measurements, plots, summary.md, checks.
    #[command(
        after_help = "Example:\n  strata experiment --list\n  strata experiment vanishing-gradients --quick"
    )]
    Experiment(experiment::ExperimentArgs),
    /// Measures the benchmark workloads (training, products, latency, per-op overhead,
    /// memory), each in a fresh process.
    #[command(after_help = "Example:\n  strata bench --workload W1,W5 --threads 2 --json")]
    Bench(bench::BenchArgs),
}

/// `--set KEY=VALUE`, shared by the commands that read a config.
#[derive(clap::Args)]
struct Overrides {
    /// Override a config key, checked like the file: `--set optimizer.lr=3e-4`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Train {
            config,
            out,
            epochs,
            seed,
            data,
            train_limit,
            threads,
            resume,
            distributed,
            set,
        } => {
            if let Some(n) = threads {
                // Read once, when the kernels' threads start: set before any tensor work.
                // SAFETY: no other thread exists yet (only argument parsing has run), so
                // none can read the environment while it changes.
                unsafe { std::env::set_var("STRATA_NUM_THREADS", n.to_string()) };
            }
            commands::train(commands::TrainArgs {
                config,
                out,
                epochs,
                seed,
                data,
                train_limit,
                resume,
                distributed,
                set: set.set,
            })
        }
        Command::Eval {
            config,
            weights,
            data,
            set,
        } => commands::eval(&config, &weights, data.as_deref(), &set.set),
        Command::Predict {
            config,
            weights,
            top,
            inputs,
        } => predict::predict(&config, &weights, &inputs, top),
        Command::Generate {
            config,
            weights,
            data,
            prompt,
            length,
            temperature,
            top_k,
            top_p,
            seed,
        } => generate::generate(generate::GenerateArgs {
            config,
            weights,
            data,
            prompt,
            length,
            temperature,
            top_k,
            top_p,
            seed,
        }),
        Command::Summary { config, set } => commands::summary(&config, &set.set),
        Command::Graph { config, out, set } => commands::graph(&config, &out, &set.set),
        Command::Report { run_dir } => commands::report(&run_dir),
        Command::Experiment(args) => experiment::run(args),
        Command::Bench(args) => bench::bench(args),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
