//! `strata generate`: text from a character-level language model, one character at a time.

use crate::commands::{config_with, model};
use crate::config::DatasetKind;
use crate::error::CliError;
use std::io::Write;
use std::path::PathBuf;
use strata_core::{Generator, Tensor};
use strata_nn::sampling::Sampler;
use strata_nn::Forward;

/// `strata generate` options.
pub struct GenerateArgs {
    pub config: PathBuf,
    pub weights: PathBuf,
    pub data: Option<PathBuf>,
    pub prompt: String,
    pub length: usize,
    pub temperature: f64,
    pub top_k: Option<usize>,
    pub top_p: Option<f64>,
    pub seed: u64,
}

/// Prints the prompt and `length` characters drawn after it. Each character is drawn from
/// the model's prediction after the last `model.input[0]` characters: the window it was
/// trained on, read from a fresh state as in training.
pub fn generate(args: GenerateArgs) -> Result<(), CliError> {
    let config = config_with(&args.config, &[], None, None)?;
    if config.data.dataset != DatasetKind::Text {
        return Err(CliError::usage(format!(
            "generate: {} reads `dataset = \"{}\"`; generate needs a text (language model) config",
            args.config.display(),
            config.data.dataset.name()
        )));
    }
    let sampler = Sampler::new()
        .temperature(args.temperature)
        .and_then(|s| args.top_k.map_or(Ok(s), |k| s.top_k(k)))
        .and_then(|s| args.top_p.map_or(Ok(s), |p| s.top_p(p)))
        .map_err(|e| CliError::usage(format!("generate: {e}")))?;
    let vocab = crate::data::vocab(&config, args.data.as_deref())?;
    let model = model(&config, args.data.as_deref())?;
    strata_nn::checkpoint::load_safetensors(&model, &args.weights, true)?;
    strata_nn::ModuleExt::eval(&model);
    let window = config.model.input.first().copied().unwrap_or(1).max(1);
    let mut ids = if args.prompt.is_empty() {
        // No prompt: start from a line break, as a fresh paragraph would.
        vec![vocab.id('\n').unwrap_or(0)]
    } else {
        vocab
            .encode(&args.prompt)
            .map_err(|e| CliError::usage(format!("generate: --prompt: {e}")))?
    };
    let mut rng = Generator::new(args.seed);
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", args.prompt);
    // A stateful model carries its state from call to call (the batch of one never
    // changes): it reads the prompt once, then each new character alone.
    let stateful = config.model.stateful();
    for i in 0..args.length {
        let context = match (stateful, i) {
            (true, 0) => &ids[..],
            (true, _) => &ids[ids.len() - 1..],
            (false, _) => &ids[ids.len().saturating_sub(window)..],
        };
        let next = next_char(&model, context, &sampler, &mut rng)?;
        ids.push(next);
        let text = vocab.decode(&[next])?;
        // A closed pipe (`| head`) ends the output, not the program with an error.
        if write!(out, "{text}").and_then(|_| out.flush()).is_err() {
            return Ok(());
        }
    }
    let _ = writeln!(out);
    Ok(())
}

/// The next character after `context`, drawn from the model's last-step prediction.
fn next_char(
    model: &dyn Forward,
    context: &[i64],
    sampler: &Sampler,
    rng: &mut Generator,
) -> Result<i64, CliError> {
    let x = Tensor::from_slice(context, &[1, context.len()])?;
    let logits = strata_core::no_grad(|| model.forward(&x))?;
    let last = match logits.shape() {
        &[1, t, _] => logits.select(0, 0)?.select(0, t - 1)?,
        other => {
            return Err(CliError::Runtime(format!(
                "generate: the model gives {other:?} for a window; a language model gives \
                 [1, steps, vocabulary] (end it with a linear layer after a recurrent layer \
                 with output = \"sequence\")"
            )))
        }
    };
    Ok(sampler.sample(&last, rng)?[0])
}
