//! The legend under a chart: a line swatch and the name of each series, wrapped into rows
//! below the x axis label.

use super::svg::{esc, text_width, Series, PALETTE};
use std::fmt::Write;

/// The height of one legend row.
pub const ROW: f64 = 17.0;
/// Legends longer than this end with "+N more" (the lines are all drawn).
const MAX_ENTRIES: usize = 20;

/// One entry: `series` is the series' index, or `None` for the "+N more" note.
pub struct Entry {
    series: Option<usize>,
    label: String,
    x: f64,
    row: usize,
}

/// The entries of `series` laid out between `left` and `right`; none for a single series,
/// which the chart's title names.
pub fn layout(series: &[Series], left: f64, right: f64) -> Vec<Entry> {
    if series.len() < 2 {
        return Vec::new();
    }
    let mut labels: Vec<(Option<usize>, String)> = series
        .iter()
        .enumerate()
        .take(MAX_ENTRIES)
        .map(|(i, s)| (Some(i), s.name.clone()))
        .collect();
    if series.len() > MAX_ENTRIES {
        labels.push((None, format!("+{} more", series.len() - MAX_ENTRIES)));
    }
    // Equal columns, filled row by row: a grid reads better than ragged rows. Two
    // columns at least for long legends, shortening names that do not fit.
    let widest = labels
        .iter()
        .map(|(_, l)| entry_width(l))
        .fold(0.0, f64::max);
    let avail = right - left;
    let mut columns = ((avail / widest).floor() as usize).clamp(1, labels.len());
    if columns == 1 && labels.len() > 6 {
        columns = 2;
    }
    // Columns as wide as the widest entry, unless names must be shortened to fit.
    let column_width = widest.min(avail / columns as f64);
    let max_chars = ((column_width - SWATCH) / CHAR_WIDTH).floor().max(8.0) as usize;
    labels
        .into_iter()
        .enumerate()
        .map(|(k, (series, label))| Entry {
            series,
            label: shorten(&label, max_chars),
            x: left + (k % columns) as f64 * column_width,
            row: k / columns,
        })
        .collect()
}

/// Swatch, gap and trailing space around an entry's text.
const SWATCH: f64 = 34.0;
/// The width of a character of the 11-px legend text (generous).
const CHAR_WIDTH: f64 = 11.0 * 0.62;

fn entry_width(label: &str) -> f64 {
    SWATCH + text_width(label, 11.0)
}

/// `text` shortened to at most `max` characters: the leading segments of a dotted name
/// abbreviated to their first letter (`e.l.0.attention.weight`), as the end of a
/// parameter name says most, then cut at the front (`…ention.weight`) if still too long.
fn shorten(text: &str, max: usize) -> String {
    let len = |s: &str| s.chars().count();
    if len(text) <= max {
        return text.to_string();
    }
    let mut parts: Vec<String> = text.split('.').map(str::to_string).collect();
    for i in 0..parts.len().saturating_sub(1) {
        if len(&parts.join(".")) <= max {
            break;
        }
        // Indices stay: they tell layers apart.
        if !parts[i].chars().all(|c| c.is_ascii_digit()) {
            parts[i] = parts[i].chars().take(1).collect();
        }
    }
    let joined = parts.join(".");
    let chars: Vec<char> = joined.chars().collect();
    if chars.len() <= max {
        return joined;
    }
    let mut out = String::from("…");
    out.extend(&chars[chars.len() - (max - 1)..]);
    out
}

/// The height the legend adds below the chart: its rows and a margin.
pub fn height(entries: &[Entry]) -> f64 {
    entries
        .last()
        .map_or(0.0, |e| (e.row + 1) as f64 * ROW + 8.0)
}

/// Draws `entries` below a chart of height `base_h` (without legend).
pub fn draw(s: &mut String, entries: &[Entry], base_h: f64) {
    for e in entries {
        let y = base_h + 6.0 + e.row as f64 * ROW;
        let label = esc(&e.label);
        let Some(i) = e.series else {
            let _ = write!(
                s,
                r##"<text x="{}" y="{y}" fill="#666">{label}</text>"##,
                e.x
            );
            continue;
        };
        let (color, dash) = style(i);
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{color}" stroke-width="2.5"{dash}/><text x="{}" y="{y}" fill="#333">{label}</text>"##,
            e.x,
            y - 4.0,
            e.x + 20.0,
            y - 4.0,
            e.x + 24.0,
        );
    }
}

/// The colour and dash pattern of series `i`: the palette, then the palette dashed, then
/// dotted.
pub fn style(i: usize) -> (&'static str, &'static str) {
    let dash = match (i / PALETTE.len()) % 3 {
        0 => "",
        1 => r#" stroke-dasharray="7 3""#,
        _ => r#" stroke-dasharray="2 2""#,
    };
    (PALETTE[i % PALETTE.len()], dash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(names: &[&str]) -> Vec<Series> {
        names
            .iter()
            .map(|n| Series {
                name: n.to_string(),
                points: vec![],
            })
            .collect()
    }

    #[test]
    fn entries_fill_equal_columns_row_by_row() {
        // Short names: as many columns as the widest entry allows (34 + 2·6.82 ≈ 47.6 px
        // in 400 px: 8 columns).
        let e = layout(
            &series(&["a1", "b2", "c3", "d4", "e5", "f6", "g7", "h8", "i9"]),
            0.0,
            400.0,
        );
        assert!((e[7].x - 7.0 * (SWATCH + 2.0 * CHAR_WIDTH)).abs() < 1e-9);
        assert_eq!(e[7].row, 0);
        assert_eq!((e[8].x, e[8].row), (0.0, 1));
        assert!((height(&e) - (2.0 * ROW + 8.0)).abs() < 1e-9);
        // One series: no legend.
        assert!(layout(&series(&["x"]), 0.0, 400.0).is_empty());
    }

    #[test]
    fn long_legends_get_two_columns_of_shortened_names() {
        let long = "encoder.layers.0.attention.output.weight";
        let names = vec![long; 7];
        let e = layout(&series(&names), 0.0, 300.0);
        // 150-px columns hold (150 - 34) / 6.82 = 17 characters.
        assert_eq!(e[1].x, 150.0);
        assert_eq!(e[0].label, "e.l.0.a.o.weight");
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(
            shorten("encoder.layers.11.attention.weight", 30),
            "e.layers.11.attention.weight"
        );
        assert_eq!(shorten("a_very_long_layer_name", 10), "…ayer_name");
    }
}
