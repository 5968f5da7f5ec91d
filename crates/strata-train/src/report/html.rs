//! Assembling the report page: one self-contained HTML file (inline CSS, inline SVG,
//! PNG data URIs) that works offline.

use super::charts::{NamedChart, Section};
use super::confusion;
use super::format::{duration, num, thousands, value_text};
use super::read::RunData;
use super::svg::esc;
use base64::Engine;
use serde_json::Value;
use std::fmt::Write;

const STYLE: &str = include_str!("report.css");

/// The keys of `meta.json` shown first, in this order, with their labels.
const META_ROWS: [(&str, &str); 18] = [
    ("name", "Name"),
    ("task", "Task"),
    ("model_type", "Model"),
    ("num_parameters", "Parameters"),
    ("started", "Started"),
    ("finished", "Finished"),
    ("seconds", "Duration"),
    ("epochs", "Epochs"),
    ("stopped", "Stopped because"),
    ("main_metric", "Main metric"),
    ("train_examples", "Training examples"),
    ("val_examples", "Validation examples"),
    ("seed", "Seed"),
    ("threads", "Threads"),
    ("strata_version", "Strata version"),
    ("cpu", "CPU"),
    ("host", "Host"),
    ("command", "Command"),
];

/// The whole page for `run` with its `charts`.
pub fn page(run: &RunData, charts: &[NamedChart]) -> String {
    let name = run.meta_str("name").unwrap_or("training run");
    let mut body = String::new();
    let mut nav: Vec<(&str, &str)> = Vec::new();
    let mut section = |id: &'static str, title: &'static str, content: String| {
        let _ = write!(
            body,
            r#"<section id="{id}"><h2>{title}</h2>{content}</section>"#
        );
        nav.push((id, title));
    };
    section("run", "Run", run_section(run));
    section(
        "curves",
        "Training curves",
        chart_grid(charts, Section::Curves, "grid"),
    );
    let health = chart_grid(charts, Section::Health, "grid");
    section(
        "health",
        "Training health",
        if health.is_empty() {
            not_recorded("training-health monitors were off")
        } else {
            health
        },
    );
    section("warnings", "Warnings", warnings(run));
    if let Some(c) = &run.confusion {
        section("confusion", "Confusion matrix", confusion::html(c));
    }
    if let Some(png) = &run.images.misclassified {
        section(
            "misclassified",
            "Misclassified examples",
            misclassified(run, png),
        );
    }
    if run.images.filters.is_some() || run.images.feature_maps.is_some() {
        section(
            "filters",
            "First-layer filters and feature maps",
            filters(run),
        );
    }
    if let Some(summary) = &run.summary {
        section(
            "summary",
            "Model summary",
            format!("<pre>{}</pre>", esc(summary)),
        );
    }
    let hist = chart_grid(charts, Section::Histograms, "grid small");
    if !hist.is_empty() {
        let intro = "<p>The latest histogram of each parameter and layer.</p>";
        section("histograms", "Histograms", format!("{intro}{hist}"));
    }
    let links: String = nav
        .iter()
        .map(|(id, title)| format!(r##"<a href="#{id}">{title}</a>"##))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Strata report</title><style>{STYLE}</style></head><body>\
         <header><h1>{title}</h1><p class=\"sub\">{sub}</p><nav>{links}</nav></header>\
         <main>{body}</main><footer>Built by strata-train {version} from the files of the run \
         directory alone; the charts are also in <code>plots/</code>.</footer></body></html>\n",
        title = esc(name),
        sub = esc(&subtitle(run)),
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// "12 epochs in 3 min 04 s · stopped: early stopping · val_accuracy 0.9812".
fn subtitle(run: &RunData) -> String {
    let mut parts = Vec::new();
    let epochs = run.epochs.last().map(|e| e.epoch);
    let seconds = run.meta.get("seconds").and_then(Value::as_f64);
    match (epochs, seconds) {
        (Some(e), Some(s)) => parts.push(format!("{e} epochs in {}", duration(s))),
        (Some(e), None) => parts.push(format!("{e} epochs")),
        _ => parts.push("no epoch finished".to_string()),
    }
    if let Some(s) = run.meta_str("stopped") {
        parts.push(format!("stopped: {s}"));
    }
    if let (Some(key), Some(last)) = (run.meta_str("main_metric"), run.epochs.last())
        && let Some(v) = last.metrics.get(key)
    {
        parts.push(format!("{key} {}", num(*v)));
    }
    parts.join(" · ")
}

fn run_section(run: &RunData) -> String {
    let mut s = String::from(r#"<div class="columns"><div>"#);
    let mut rows: Vec<(String, String)> = Vec::new();
    for (key, label) in META_ROWS {
        if let Some(v) = run.meta.get(key) {
            let text = match (key, v) {
                ("seconds", Value::Number(n)) => n.as_f64().map_or_else(String::new, duration),
                ("num_parameters", Value::Number(n)) => n.as_u64().map_or(n.to_string(), thousands),
                _ => value_text(v),
            };
            rows.push((label.to_string(), text));
        }
    }
    for (key, v) in &run.meta {
        if !META_ROWS.iter().any(|(k, _)| k == key) {
            rows.push((key.clone(), value_text(v)));
        }
    }
    if rows.is_empty() {
        s.push_str(&not_recorded("no meta.json"));
    } else {
        s.push_str(&kv_table(&rows));
    }
    s.push_str("</div><div>");
    s.push_str(&last_epoch(run));
    s.push_str("<h3>Configuration</h3>");
    let config: Vec<(String, String)> = run
        .config
        .iter()
        .map(|(k, v)| (k.clone(), value_text(v)))
        .collect();
    s.push_str(&if config.is_empty() {
        not_recorded("no config.json")
    } else {
        kv_table(&config)
    });
    s.push_str("</div></div>");
    s
}

/// The last epoch's metrics with the best value of each over the run.
fn last_epoch(run: &RunData) -> String {
    let Some(last) = run.epochs.last() else {
        return not_recorded("no epoch finished");
    };
    let mut s = format!(
        r#"<h3>Epoch {} (last)</h3><table class="data"><tr><th>metric</th><th>last</th><th>best</th><th>at epoch</th></tr>"#,
        last.epoch
    );
    for (key, &v) in &last.metrics {
        let lower = lower_is_better(key);
        let best = run
            .epochs
            .iter()
            .filter_map(|e| {
                e.metrics
                    .get(key)
                    .filter(|v| v.is_finite())
                    .map(|&v| (v, e.epoch))
            })
            .reduce(|a, b| {
                if (b.0 < a.0) == lower && b.0 != a.0 {
                    b
                } else {
                    a
                }
            });
        let (best, at) = best.map_or(("–".to_string(), "–".to_string()), |(v, e)| {
            (num(v), e.to_string())
        });
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{best}</td><td>{at}</td></tr>",
            esc(key),
            num(v)
        );
    }
    s.push_str("</table>");
    s
}

fn lower_is_better(key: &str) -> bool {
    ["loss", "mse", "mae", "rmse", "perplexity", "bpc", "error"]
        .iter()
        .any(|k| key.contains(k))
}

fn chart_grid(charts: &[NamedChart], section: Section, class: &str) -> String {
    let figures: String = charts
        .iter()
        .filter(|c| c.section == section)
        .map(|c| {
            format!(
                r#"<figure id="plot-{stem}">{svg}<figcaption><a href="plots/{stem}.png">plots/{stem}.png</a></figcaption></figure>"#,
                stem = c.stem,
                svg = c.chart.render()
            )
        })
        .collect();
    if figures.is_empty() {
        figures
    } else {
        format!(r#"<div class="{class}">{figures}</div>"#)
    }
}

fn warnings(run: &RunData) -> String {
    let Some(list) = &run.warnings else {
        return not_recorded("no warnings.json");
    };
    if list.is_empty() {
        return "<p>No warnings were raised.</p>".to_string();
    }
    let mut s = String::from(
        r#"<div class="scroll"><table class="data warnings"><tr><th>kind</th><th>step</th><th>epoch</th><th>subject</th><th>message</th></tr>"#,
    );
    for w in list {
        let kind = serde_json::to_value(w.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = write!(
            s,
            "<tr><td><span class=\"tag\">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&kind.replace('_', " ")),
            w.step,
            w.epoch,
            esc(w.subject.as_deref().unwrap_or("–")),
            esc(&w.message)
        );
    }
    s.push_str("</table></div>");
    s
}

fn misclassified(run: &RunData, png: &[u8]) -> String {
    let mut s = format!(
        r#"<img class="pixelated" alt="misclassified examples"{} src="{}">"#,
        display_width(png),
        data_uri(png)
    );
    if !run.images.captions.is_empty() {
        s.push_str(r#"<ol class="captions">"#);
        for c in &run.images.captions {
            let _ = write!(
                s,
                "<li>example {}: <b>{}</b> predicted as <b>{}</b> ({:.0}%)</li>",
                c.index,
                esc(&c.label),
                esc(&c.predicted),
                c.confidence * 100.0
            );
        }
        s.push_str("</ol><p class=\"note\">Captions in grid order, row by row.</p>");
    }
    s
}

fn filters(run: &RunData) -> String {
    let mut s = String::from(r#"<div class="images">"#);
    for (png, caption) in [
        (
            &run.images.filters,
            "Filters of the first convolution, one tile per output channel",
        ),
        (
            &run.images.feature_maps,
            "Its feature maps for one example, one tile per channel",
        ),
    ] {
        if let Some(png) = png {
            let _ = write!(
                s,
                r#"<figure><img class="pixelated" alt="{caption}"{} src="{}"><figcaption>{caption}</figcaption></figure>"#,
                display_width(png),
                data_uri(png)
            );
        }
    }
    s.push_str("</div>");
    s
}

/// A `width` attribute showing a small PNG (tiles of a few pixels) at a whole multiple of
/// its size, up to about 560 pixels wide; nothing for large or unreadable PNGs.
fn display_width(png: &[u8]) -> String {
    // The width is the first field of the IHDR chunk, which PNG requires to come first.
    let Some(bytes) = png.get(16..20).filter(|_| png.get(12..16) == Some(b"IHDR")) else {
        return String::new();
    };
    let w = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let k = (560 / w.max(1)).min(8);
    if k > 1 {
        format!(r#" width="{}""#, w * k)
    } else {
        String::new()
    }
}

fn data_uri(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

fn kv_table(rows: &[(String, String)]) -> String {
    let mut s = String::from(r#"<table class="kv">"#);
    for (k, v) in rows {
        let _ = write!(s, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    s.push_str("</table>");
    s
}

fn not_recorded(why: &str) -> String {
    format!(r#"<p class="none">Not recorded ({}).</p>"#, esc(why))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_is_better_for_losses_and_errors() {
        assert!(lower_is_better("val_loss") && lower_is_better("val_perplexity"));
        assert!(!lower_is_better("val_accuracy") && !lower_is_better("val_r2"));
    }
}
