//! `strata experiment`: runs one of the lesson's experiments (strata-experiments) and
//! prints its checks and where its files went.

use crate::error::CliError;
use std::path::PathBuf;
use strata_experiments::{Options, ALL};

/// The arguments of `strata experiment`.
#[derive(clap::Args)]
pub struct ExperimentArgs {
    /// The experiment to run (`--list` shows them).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// Print the experiments' names, one per line.
    #[arg(long, conflicts_with = "name")]
    list: bool,
    /// Where its files go (default: runs/experiments/NAME).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Seed for initialisation, data order and synthetic data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A reduced run (seconds instead of minutes), as the tests use.
    #[arg(long)]
    quick: bool,
    /// The MNIST directory.
    #[arg(long, default_value = "data/mnist")]
    data: PathBuf,
}

/// Lists the experiments or runs one; failing checks are findings, not errors (exit 0).
pub fn run(args: ExperimentArgs) -> Result<(), CliError> {
    let Some(name) = args.name.filter(|_| !args.list) else {
        for e in ALL {
            println!("{}", e.name);
        }
        return Ok(());
    };
    let out = args
        .out
        .unwrap_or_else(|| PathBuf::from("runs/experiments").join(&name));
    let options = Options::new(&out)
        .seed(args.seed)
        .quick(args.quick)
        .mnist_dir(args.data);
    let outcome = strata_experiments::run(&name, &options)?;
    for c in &outcome.checks {
        println!(
            "{}: {}: {} {} {}",
            if c.holds { "holds" } else { "FAILS" },
            c.name,
            strata_experiments::write::number(c.measured),
            c.op.symbol(),
            strata_experiments::write::number(c.threshold)
        );
    }
    let held = outcome.checks.iter().filter(|c| c.holds).count();
    println!(
        "{held} of {} checks hold ({:.1} s)",
        outcome.checks.len(),
        outcome.seconds
    );
    println!("summary: {}", out.join("summary.md").display());
    println!("report: {}", out.join("report.html").display());
    Ok(())
}
