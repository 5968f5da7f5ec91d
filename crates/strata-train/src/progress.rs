//! Progress: a bar per epoch with the loss, the main metric, samples/s and the ETA when
//! standard output is a terminal; plain log lines otherwise (and so in CI).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// How the trainer reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar on a terminal, lines otherwise.
    Auto,
    /// One line per epoch (and the run's start and end).
    Lines,
    /// Nothing but errors and warnings.
    Quiet,
}

/// The progress display of one epoch.
pub(crate) struct EpochProgress {
    bar: Option<ProgressBar>,
    started: Instant,
    examples: usize,
}

impl EpochProgress {
    pub(crate) fn start(mode: ProgressMode, epoch: u64, epochs: u64, batches: usize) -> Self {
        let bar = (mode == ProgressMode::Auto && std::io::stdout().is_terminal()).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(batches as u64), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template(
                "epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("{epoch}/{epochs}"));
            bar
        });
        EpochProgress {
            bar,
            started: Instant::now(),
            examples: 0,
        }
    }

    /// True when a bar is drawn (so figures for it are worth computing).
    pub(crate) fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// After each batch: the running loss and main metric.
    pub(crate) fn batch(&mut self, examples: usize, loss: f64, metric: Option<(&str, f64)>) {
        self.examples += examples;
        if let Some(bar) = &self.bar {
            let rate = self.examples as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            let metric = metric
                .map(|(k, v)| format!(" {k}={v:.4}"))
                .unwrap_or_default();
            bar.set_message(format!("loss={loss:.4}{metric} {rate:.0} samples/s"));
            bar.inc(1);
        }
    }

    /// Clears the bar; the caller prints the epoch's line.
    pub(crate) fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
