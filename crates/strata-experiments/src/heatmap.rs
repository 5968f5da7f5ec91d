//! A heatmap: a matrix drawn as shaded cells with a colour bar, as SVG in the same style
//! as strata-train's line charts (the experiments' attention weights need one; the line
//! charts cannot show a matrix).

use std::fmt::Write;
use strata_train::report::svg::{esc, FONT_FAMILY};

const LEFT: f64 = 64.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
/// The longest side of the cell area in pixels.
const AREA: f64 = 400.0;
const BAR_GAP: f64 = 18.0;
const BAR_WIDTH: f64 = 14.0;
const BAR_LABELS: f64 = 56.0;
/// Colour stops from the lowest to the highest value (light to dark blue).
const STOPS: [(f64, [u8; 3]); 3] = [
    (0.0, [255, 255, 255]),
    (0.5, [107, 174, 214]),
    (1.0, [8, 48, 107]),
];

/// A matrix of values (`rows[i][j]`, row 0 at the top) shaded from white at `min(0,
/// smallest)` to dark blue at the largest value; non-finite cells are grey.
///
/// ```
/// use strata_experiments::heatmap::Heatmap;
/// let map = Heatmap {
///     title: "weights".into(),
///     x_label: "source".into(),
///     y_label: "output".into(),
///     rows: vec![vec![0.0, 1.0], vec![1.0, 0.0]],
/// };
/// let svg = map.render();
/// assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
/// assert_eq!(svg.matches(r#"class="cell""#).count(), 4);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Heatmap {
    pub title: String,
    /// Under the columns.
    pub x_label: String,
    /// Beside the rows.
    pub y_label: String,
    /// Rows top to bottom; a shorter row leaves its last cells empty.
    pub rows: Vec<Vec<f64>>,
}

impl Heatmap {
    /// The value range of the shading: from `min(0, smallest)` to the largest finite
    /// value (`(0, 1)` when there is none or all are equal).
    pub fn range(&self) -> (f64, f64) {
        let finite = self
            .rows
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        if hi > lo {
            (lo, hi)
        } else {
            (lo, lo + 1.0)
        }
    }

    /// The heatmap as a standalone `<svg>` element, like `Chart::render`.
    pub fn render(&self) -> String {
        let n_rows = self.rows.len().max(1);
        let n_cols = self.rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let cell = (AREA / n_rows.max(n_cols) as f64).min(40.0);
        let (pw, ph) = (cell * n_cols as f64, cell * n_rows as f64);
        let w = LEFT + pw + BAR_GAP + BAR_WIDTH + BAR_LABELS;
        let h = TOP + ph + BOTTOM;
        let (lo, hi) = self.range();
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="{FONT_FAMILY}" font-size="11" role="img"><title>{}</title>"#,
            esc(&self.title)
        );
        let _ = write!(
            s,
            r##"<rect width="{w}" height="{h}" fill="#ffffff"/><text x="{LEFT}" y="20" font-size="14" fill="#222">{}</text>"##,
            esc(&self.title)
        );
        for (i, row) in self.rows.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let fill = if v.is_finite() {
                    colour((v - lo) / (hi - lo))
                } else {
                    "#bbbbbb".to_string()
                };
                let _ = write!(
                    s,
                    r#"<rect class="cell" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{fill}"/>"#,
                    LEFT + j as f64 * cell,
                    TOP + i as f64 * cell,
                    cell + 0.05,
                    cell + 0.05
                );
            }
        }
        let _ = write!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>"##
        );
        let step = tick_step(n_cols.max(n_rows));
        for j in (0..n_cols).step_by(step) {
            let x = LEFT + (j as f64 + 0.5) * cell;
            let _ = write!(
                s,
                r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#444">{j}</text>"##,
                TOP + ph + 15.0
            );
        }
        for i in (0..n_rows).step_by(step) {
            let y = TOP + (i as f64 + 0.5) * cell + 4.0;
            let _ = write!(
                s,
                r##"<text x="{}" y="{y:.1}" text-anchor="end" fill="#444">{i}</text>"##,
                LEFT - 6.0
            );
        }
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#222">{}</text>"##,
            LEFT + pw / 2.0,
            h - 12.0,
            esc(&self.x_label)
        );
        let cy = TOP + ph / 2.0;
        let _ = write!(
            s,
            r##"<text x="14" y="{cy:.1}" text-anchor="middle" fill="#222" transform="rotate(-90 14 {cy:.1})">{}</text>"##,
            esc(&self.y_label)
        );
        self.colour_bar(&mut s, LEFT + pw + BAR_GAP, ph, (lo, hi));
        s.push_str("</svg>");
        s
    }

    /// The colour bar: the highest value at the top, labelled at both ends.
    fn colour_bar(&self, s: &mut String, x: f64, height: f64, (lo, hi): (f64, f64)) {
        const BANDS: usize = 32;
        let band = height / BANDS as f64;
        for k in 0..BANDS {
            let t = 1.0 - (k as f64 + 0.5) / BANDS as f64;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{:.2}" width="{BAR_WIDTH}" height="{:.2}" fill="{}"/>"#,
                TOP + k as f64 * band,
                band + 0.05,
                colour(t)
            );
        }
        let lx = x + BAR_WIDTH + 4.0;
        for (y, v) in [(TOP + 8.0, hi), (TOP + height, lo)] {
            let _ = write!(
                s,
                r##"<text x="{lx:.1}" y="{y:.1}" fill="#444">{}</text>"##,
                crate::write::number(v)
            );
        }
    }
}

/// The shade of `t` in [0, 1] (clamped), interpolated between the colour stops.
fn colour(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let k = STOPS.iter().rposition(|s| s.0 <= t).unwrap_or(0).min(1);
    let ((t0, c0), (t1, c1)) = (STOPS[k], STOPS[k + 1]);
    let f = (t - t0) / (t1 - t0);
    let mix = |a: u8, b: u8| (f64::from(a) + f * (f64::from(b) - f64::from(a))).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(c0[0], c1[0]),
        mix(c0[1], c1[1]),
        mix(c0[2], c1[2])
    )
}

/// Every how many rows and columns to write an index: at most about ten labels.
fn tick_step(n: usize) -> usize {
    [1, 2, 5, 10, 20, 50, 100]
        .into_iter()
        .find(|&k| n.div_ceil(k) <= 10)
        .unwrap_or(n.div_ceil(10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shades_run_from_white_to_dark_blue() {
        assert_eq!(colour(0.0), "#ffffff");
        assert_eq!(colour(0.5), "#6baed6");
        assert_eq!(colour(1.0), "#08306b");
        assert_eq!(colour(2.0), "#08306b");
        // Half way between white and the middle stop.
        assert_eq!(colour(0.25), "#b5d7eb");
    }

    #[test]
    fn ticks_stay_few() {
        assert_eq!(tick_step(5), 1);
        assert_eq!(tick_step(10), 1);
        assert_eq!(tick_step(20), 2);
        assert_eq!(tick_step(40), 5);
        assert_eq!(tick_step(1000), 100);
    }

    #[test]
    fn cells_are_shaded_by_value_and_labelled() {
        let map = Heatmap {
            title: "A <b>".into(),
            x_label: "source".into(),
            y_label: "output".into(),
            rows: vec![vec![0.0, 0.5, f64::NAN], vec![1.0, 0.25, 0.0]],
        };
        assert_eq!(map.range(), (0.0, 1.0));
        let svg = map.render();
        assert!(svg.contains("A &lt;b&gt;"), "{svg}");
        assert_eq!(svg.matches(r#"class="cell""#).count(), 6);
        // Cells in row-major order: white, middle, grey (NaN), dark, quarter, white.
        let fills: Vec<&str> = svg
            .split(r#"class="cell""#)
            .skip(1)
            .map(|c| {
                c.split("fill=\"")
                    .nth(1)
                    .unwrap_or("")
                    .get(..7)
                    .unwrap_or("")
            })
            .collect();
        assert_eq!(
            fills,
            ["#ffffff", "#6baed6", "#bbbbbb", "#08306b", "#b5d7eb", "#ffffff"]
        );
        // Column indices 0..3 under the cells, the colour bar labelled 1 and 0.
        for label in [">0</text>", ">1</text>", ">2</text>"] {
            assert!(svg.contains(label), "{label}");
        }
        let constant = Heatmap {
            rows: vec![vec![0.3, 0.3]],
            ..map
        };
        assert_eq!(constant.range(), (0.0, 0.3));
    }
}
