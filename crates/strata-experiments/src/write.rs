//! Writing an outcome: `results.json`, `summary.md`, `plots/*.png` and `report.html`.

use crate::outcome::{Check, Measured, Outcome};
use crate::{ExperimentError, Result};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;
use strata_train::report::png::Rasteriser;

/// The schema of `results.json`.
#[derive(Serialize)]
struct Results<'a> {
    experiment: &'a str,
    title: &'a str,
    seconds: f64,
    settings: &'a serde_json::Value,
    series: &'a [Measured],
    checks: &'a [Check],
}

/// Writes every file of `outcome` into `dir` (created if missing).
pub fn write_all(outcome: &Outcome, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir.join("plots")).map_err(|e| ExperimentError::io(dir, e))?;
    let results = Results {
        experiment: &outcome.name,
        title: &outcome.title,
        seconds: outcome.seconds,
        settings: &outcome.settings,
        series: &outcome.series,
        checks: &outcome.checks,
    };
    write(
        &dir.join("results.json"),
        serde_json::to_string_pretty(&results)?.as_bytes(),
    )?;
    let summary = summary_md(outcome);
    write(&dir.join("summary.md"), summary.as_bytes())?;
    let rasteriser = Rasteriser::new();
    for plot in &outcome.plots {
        let path = dir.join("plots").join(format!("{}.png", plot.stem));
        let png = rasteriser.png(&plot.figure.render(), &path.display().to_string())?;
        write(&path, &png)?;
    }
    write(
        &dir.join("report.html"),
        report_html(outcome, &summary).as_bytes(),
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).map_err(|e| ExperimentError::io(path, e))
}

/// The summary: the experiment's findings, then every check with whether it held.
pub fn summary_md(outcome: &Outcome) -> String {
    let mut s = format!("# {}\n\n{}\n\n", outcome.name, outcome.title);
    s.push_str(outcome.findings.trim_end());
    s.push_str("\n\n## Checks\n\n");
    for c in &outcome.checks {
        let _ = writeln!(
            s,
            "- {}: {} {} {} — **{}**",
            c.name,
            number(c.measured),
            c.op.symbol(),
            number(c.threshold),
            if c.holds { "holds" } else { "fails" }
        );
    }
    let held = outcome.checks.iter().filter(|c| c.holds).count();
    let _ = writeln!(
        s,
        "\n{held} of {} checks hold. Seed {}, {:.1} s.",
        outcome.checks.len(),
        outcome.settings["seed"],
        outcome.seconds
    );
    s
}

/// A number in a short readable form: 4 significant digits, scientific when tiny or huge.
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let a = x.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// One self-contained page: the summary (a small Markdown subset) and every chart inline.
fn report_html(outcome: &Outcome, summary: &str) -> String {
    let mut body = markdown_html(summary);
    for plot in &outcome.plots {
        let _ = writeln!(body, "<figure>{}</figure>", plot.figure.render());
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.45}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}\
         figure{{margin:1em 0}}</style></head><body>\n{}</body></html>\n",
        esc(&outcome.name),
        body
    )
}

/// Headings, bullet lists, pipe tables, `**bold**` and paragraphs: all the summaries use.
fn markdown_html(md: &str) -> String {
    let mut out = String::new();
    let mut list = false;
    let mut table = false;
    for line in md.lines() {
        let t = line.trim();
        if list && !t.starts_with("- ") {
            out.push_str("</ul>\n");
            list = false;
        }
        if table && !t.starts_with('|') {
            out.push_str("</table>\n");
            table = false;
        }
        if let Some(h) = t.strip_prefix("## ") {
            let _ = writeln!(out, "<h2>{}</h2>", inline(h));
        } else if let Some(h) = t.strip_prefix("# ") {
            let _ = writeln!(out, "<h1>{}</h1>", inline(h));
        } else if let Some(item) = t.strip_prefix("- ") {
            if !list {
                out.push_str("<ul>\n");
                list = true;
            }
            let _ = writeln!(out, "<li>{}</li>", inline(item));
        } else if t.starts_with('|') {
            if t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ')) {
                continue; // the header separator row
            }
            if !table {
                out.push_str("<table>\n");
                table = true;
            }
            let cells: Vec<String> = t
                .trim_matches('|')
                .split('|')
                .map(|c| format!("<td>{}</td>", inline(c.trim())))
                .collect();
            let _ = writeln!(out, "<tr>{}</tr>", cells.concat());
        } else if !t.is_empty() {
            let _ = writeln!(out, "<p>{}</p>", inline(t));
        }
    }
    if list {
        out.push_str("</ul>\n");
    }
    if table {
        out.push_str("</table>\n");
    }
    out
}

fn inline(text: &str) -> String {
    let escaped = esc(text);
    let mut out = String::new();
    for (i, part) in escaped.split("**").enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<strong>{part}</strong>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(12.0), "12");
        assert_eq!(number(0.00012345), "1.234e-4");
    }

    #[test]
    fn markdown_subset_becomes_html() {
        let html = markdown_html("# T\n\n- a **b** <c>\n\n| x | y |\n|---|---|\n| 1 | 2 |\n");
        assert!(html.contains("<h1>T</h1>"), "{html}");
        assert!(
            html.contains("<li>a <strong>b</strong> &lt;c&gt;</li>"),
            "{html}"
        );
        assert!(
            html.contains("<tr><td>1</td><td>2</td></tr>\n</table>"),
            "{html}"
        );
    }
}
