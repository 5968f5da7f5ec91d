//! Progress: a bar per epoch with the loss, the main metric, samples/s and the ETA when
//! standard output is a terminal; plain log lines otherwise (and so in CI).

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

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

/// Redraws at most this often: drawing after each of thousands of small batches would
/// cost more than the batches.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

/// Width of the bar itself, in characters.
const BAR_WIDTH: usize = 30;

/// The bar of one epoch on a terminal.
struct Bar {
    prefix: String,
    batches: usize,
    done: usize,
    message: String,
    drawn: Option<Instant>,
}

/// The progress display of one epoch.
pub(crate) struct EpochProgress {
    bar: Option<Bar>,
    started: Instant,
    examples: usize,
}

impl EpochProgress {
    pub(crate) fn start(mode: ProgressMode, epoch: u64, epochs: u64, batches: usize) -> Self {
        let bar = (mode == ProgressMode::Auto && std::io::stdout().is_terminal()).then(|| Bar {
            prefix: format!("{epoch}/{epochs}"),
            batches,
            done: 0,
            message: String::new(),
            drawn: None,
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
        let elapsed = self.started.elapsed().as_secs_f64();
        if let Some(bar) = &mut self.bar {
            bar.done += 1;
            if bar.drawn.is_some_and(|t| t.elapsed() < REDRAW_EVERY) && bar.done < bar.batches {
                return;
            }
            let rate = self.examples as f64 / elapsed.max(1e-9);
            let metric = metric
                .map(|(k, v)| format!(" {k}={v:.4}"))
                .unwrap_or_default();
            bar.message = format!("loss={loss:.4}{metric} {rate:.0} samples/s");
            let line = bar.line(elapsed);
            draw(&line);
            bar.drawn = Some(Instant::now());
        }
    }

    /// Clears the bar; the caller prints the epoch's line.
    pub(crate) fn finish(self) {
        if self.bar.is_some() {
            draw("");
        }
    }
}

impl Bar {
    /// `epoch 3/10 [=========>          ] 120/469 loss=… eta 12s`.
    fn line(&self, elapsed: f64) -> String {
        let filled = (BAR_WIDTH * self.done)
            .checked_div(self.batches)
            .unwrap_or(BAR_WIDTH)
            .min(BAR_WIDTH);
        let head = if filled < BAR_WIDTH { ">" } else { "" };
        let bar = format!("{}{head}", "=".repeat(filled));
        let eta = if self.done == 0 {
            f64::NAN
        } else {
            elapsed / self.done as f64 * self.batches.saturating_sub(self.done) as f64
        };
        format!(
            "epoch {} [{bar:<BAR_WIDTH$}] {}/{} {} eta {}",
            self.prefix,
            self.done,
            self.batches,
            self.message,
            human_seconds(eta)
        )
    }
}

/// `45s`, `3m05s`, `1h02m`; `?` when unknown.
fn human_seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".to_string();
    }
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Replaces the terminal's current line with `line`, cut to the terminal's width so that
/// it never wraps (a wrapped line could not be redrawn in place).
fn draw(line: &str) {
    let width = terminal_width().saturating_sub(1);
    let cut: String = line.chars().take(width).collect();
    let mut out = std::io::stdout().lock();
    // Carriage return, then erase the line: the bar redraws over itself.
    let _ = write!(out, "\r\x1b[2K{cut}");
    let _ = out.flush();
}

/// Columns of the terminal on standard output: what the terminal reports, else
/// `COLUMNS`, else 80.
fn terminal_width() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: TIOCGWINSZ only writes a `winsize` into the struct it is given.
        let mut size: libc::winsize = unsafe { std::mem::zeroed() };
        if unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) } == 0
            && size.ws_col > 0
        {
            return size.ws_col as usize;
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
        .unwrap_or(80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_line_fills_in_proportion_and_counts_down() {
        let mut bar = Bar {
            prefix: "2/5".into(),
            batches: 10,
            done: 4,
            message: "loss=0.5000".into(),
            drawn: None,
        };
        // 4 of 10 batches in 8 s: 12 of 30 characters, 2 s per batch, 12 s to go.
        let expected = format!(
            "epoch 2/5 [{}>{}] 4/10 loss=0.5000 eta 12s",
            "=".repeat(12),
            " ".repeat(17)
        );
        assert_eq!(bar.line(8.0), expected);
        bar.done = 10;
        assert_eq!(
            bar.line(20.0),
            format!("epoch 2/5 [{}] 10/10 loss=0.5000 eta 0s", "=".repeat(30))
        );
        bar.done = 0;
        assert!(bar.line(0.0).ends_with("eta ?"));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human_seconds(44.6), "45s");
        assert_eq!(human_seconds(185.0), "3m05s");
        assert_eq!(human_seconds(3720.0), "1h02m");
        assert_eq!(human_seconds(f64::NAN), "?");
    }
}
