//! A small SVG chart renderer: line charts (linear or log y, several series, legend,
//! horizontal guide lines) and bar charts for histograms. The same SVG is inlined in
//! the HTML report and rasterised to `plots/*.png`.

use super::legend;
use super::scale::{log_ticks, nice_ticks, tick_label, Scale, Ticks};
use std::fmt::Write;

/// Colours of series in order (Tableau 10): distinguishable and colour-blind friendly.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

/// The font of every chart text; the PNG renderer loads a bundled DejaVu Sans.
pub const FONT_FAMILY: &str = "DejaVu Sans, Verdana, Arial, sans-serif";

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 72.0;
const RIGHT: f64 = 18.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 46.0;
/// Series with at most this many points also get a dot per point (epochs, mostly), so
/// that a run of one or two epochs still shows.
const MAX_MARKED_POINTS: usize = 15;

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The legend entry.
    pub name: String,
    /// `(x, y)` pairs in x order; non-finite y values (and `y <= 0` on a log axis) break
    /// the line.
    pub points: Vec<(f64, f64)>,
}

/// A horizontal reference line.
#[derive(Clone, Debug, PartialEq)]
pub struct Guide {
    /// Where it is drawn; the y axis always shows it.
    pub y: f64,
    /// Written at its right end.
    pub label: String,
    /// A CSS colour (`"#c0392b"`).
    pub color: &'static str,
    pub dashed: bool,
}

/// A histogram bar covering `[x0, x1]` with height `count`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bar {
    pub x0: f64,
    pub x1: f64,
    pub count: f64,
}

/// A chart: line series and/or bars, with titles and axes.
///
/// ```
/// use strata_train::report::svg::{Chart, Series};
/// let mut chart = Chart::lines("Loss", "epoch", "loss");
/// chart.series.push(Series { name: "train".into(), points: vec![(1.0, 0.9), (2.0, 0.5)] });
/// chart.series.push(Series { name: "val".into(), points: vec![(1.0, 1.0), (2.0, 0.7)] });
/// let svg = chart.render();
/// assert!(svg.starts_with("<svg ") && svg.contains("<polyline") && svg.contains(">val<"));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chart {
    /// Drawn above the plot.
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// A logarithmic y axis (values `<= 0` are not drawn).
    pub log_y: bool,
    /// X values are counts (epochs, steps): ticks without fractions.
    pub integer_x: bool,
    /// Lines, coloured in [`PALETTE`] order (dashed after the tenth).
    pub series: Vec<Series>,
    /// Horizontal reference lines.
    pub guides: Vec<Guide>,
    /// Histogram bars, drawn under the lines.
    pub bars: Vec<Bar>,
    /// Values the y axis shows even without data there (`[0, 1]` for fractions).
    pub y_include: Vec<f64>,
    /// Overrides the default size (560 × 300 plus the legend).
    pub size: Option<(f64, f64)>,
}

impl Chart {
    /// An empty line chart over integer x values (epochs or steps).
    pub fn lines(title: &str, x_label: &str, y_label: &str) -> Chart {
        Chart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            integer_x: true,
            ..Chart::default()
        }
    }

    /// True when some point or bar can be drawn.
    pub fn has_data(&self) -> bool {
        self.series
            .iter()
            .any(|s| s.points.iter().any(|&(x, y)| self.drawable(x, y)))
            || self.bars.iter().any(|b| b.count.is_finite())
    }

    fn drawable(&self, x: f64, y: f64) -> bool {
        x.is_finite() && y.is_finite() && (!self.log_y || y > 0.0)
    }

    /// The width and height of the SVG in pixels (legend included).
    pub fn dimensions(&self) -> (f64, f64) {
        let (w, h) = self.size.unwrap_or((WIDTH, HEIGHT));
        (
            w,
            h + legend::height(&legend::layout(&self.series, LEFT, w - RIGHT)),
        )
    }

    /// The chart as a standalone `<svg>` element (without `xmlns`, which inline SVG in
    /// HTML does not need; the PNG renderer adds it).
    pub fn render(&self) -> String {
        let (w, h) = self.dimensions();
        let base_h = self.size.map_or(HEIGHT, |s| s.1);
        let (x_ticks, y_ticks) = self.ticks();
        let xs = Scale {
            lo: x_ticks.lo,
            hi: x_ticks.hi,
            log: false,
            px0: LEFT,
            px1: w - RIGHT,
        };
        let ys = Scale {
            lo: y_ticks.lo,
            hi: y_ticks.hi,
            log: self.log_y,
            px0: base_h - BOTTOM,
            px1: TOP,
        };
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="{FONT_FAMILY}" font-size="11" role="img"><title>{}</title>"#,
            esc(&self.title)
        );
        let _ = write!(s, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##);
        let _ = write!(
            s,
            r##"<text x="{}" y="20" font-size="14" fill="#222">{}</text>"##,
            LEFT,
            esc(&self.title)
        );
        self.axes(&mut s, &xs, &ys, &x_ticks, &y_ticks, base_h);
        self.draw_bars(&mut s, &xs, &ys);
        // Guides under the lines: a label may be crossed, but data is never hidden.
        self.draw_guides(&mut s, &xs, &ys);
        self.draw_series(&mut s, &xs, &ys);
        if !self.has_data() {
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">no finite values</text>"##,
                (LEFT + w - RIGHT) / 2.0,
                (TOP + base_h - BOTTOM) / 2.0
            );
        }
        legend::draw(
            &mut s,
            &legend::layout(&self.series, LEFT, w - RIGHT),
            base_h,
        );
        s.push_str("</svg>");
        s
    }

    fn ticks(&self) -> (Ticks, Ticks) {
        let (mut x0, mut x1) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut see = |x: f64, y: f64| {
            if x.is_finite() {
                (x0, x1) = (x0.min(x), x1.max(x));
            }
            if y.is_finite() && (!self.log_y || y > 0.0) {
                (y0, y1) = (y0.min(y), y1.max(y));
            }
        };
        for s in &self.series {
            for &(x, y) in &s.points {
                if self.drawable(x, y) {
                    see(x, y);
                }
            }
        }
        for b in self.bars.iter().filter(|b| b.count.is_finite()) {
            see(b.x0, b.count);
            see(b.x1, 0.0);
        }
        for &y in self.guides.iter().map(|g| &g.y).chain(&self.y_include) {
            see(f64::NAN, y);
        }
        let x = nice_ticks(x0, x1, 6, self.integer_x && self.bars.is_empty());
        let y = if self.log_y {
            log_ticks(y0, y1)
        } else {
            nice_ticks(y0, y1, 5, false)
        };
        (x, y)
    }

    fn axes(&self, s: &mut String, xs: &Scale, ys: &Scale, xt: &Ticks, yt: &Ticks, h: f64) {
        let (left, right, top, bottom) = (xs.px0, xs.px1, ys.px1, ys.px0);
        for &v in &yt.values {
            if let Some(y) = ys.map(v) {
                let _ = write!(
                    s,
                    r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e6e6e6"/><text x="{}" y="{:.1}" text-anchor="end" fill="#444">{}</text>"##,
                    left - 6.0,
                    y + 4.0,
                    tick_label(v, yt.step)
                );
            }
        }
        for &v in &xt.values {
            if let Some(x) = xs.map(v) {
                let _ = write!(
                    s,
                    r##"<line x1="{x:.1}" y1="{bottom}" x2="{x:.1}" y2="{}" stroke="#888"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#444">{}</text>"##,
                    bottom + 4.0,
                    bottom + 17.0,
                    tick_label(v, xt.step)
                );
            }
        }
        let _ = write!(
            s,
            r##"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="#888"/>"##,
            right - left,
            bottom - top
        );
        let _ = write!(
            s,
            r##"<text x="{:.1}" y="{}" text-anchor="middle" fill="#222">{}</text>"##,
            (left + right) / 2.0,
            h - 12.0,
            esc(&self.x_label)
        );
        let cy = (top + bottom) / 2.0;
        let _ = write!(
            s,
            r##"<text x="14" y="{cy:.1}" text-anchor="middle" fill="#222" transform="rotate(-90 14 {cy:.1})">{}</text>"##,
            esc(&self.y_label)
        );
    }

    fn draw_bars(&self, s: &mut String, xs: &Scale, ys: &Scale) {
        let base = ys.map(0.0).unwrap_or(ys.px0);
        for b in &self.bars {
            if let (Some(x0), Some(x1), Some(y)) = (xs.map(b.x0), xs.map(b.x1), ys.map(b.count)) {
                let _ = write!(
                    s,
                    r##"<rect x="{:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="{}" stroke="#ffffff" stroke-width="0.3"/>"##,
                    x0.min(x1),
                    (x1 - x0).abs().max(0.5),
                    (base - y).max(0.0),
                    PALETTE[0]
                );
            }
        }
    }

    fn draw_guides(&self, s: &mut String, xs: &Scale, ys: &Scale) {
        for g in &self.guides {
            let Some(y) = ys.map(g.y) else { continue };
            let dash = if g.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let label_w = text_width(&g.label, 10.0) + 6.0;
            let _ = write!(
                s,
                r##"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}" stroke-width="1.2"{dash}/><rect x="{:.1}" y="{:.1}" width="{label_w:.1}" height="13" rx="2" fill="#ffffff" fill-opacity="0.85"/><text x="{}" y="{:.1}" text-anchor="end" fill="{}" font-size="10">{}</text>"##,
                xs.px0,
                xs.px1,
                g.color,
                xs.px1 - 2.0 - label_w,
                y - 15.0,
                xs.px1 - 5.0,
                y - 5.0,
                g.color,
                esc(&g.label)
            );
        }
    }

    fn draw_series(&self, s: &mut String, xs: &Scale, ys: &Scale) {
        for (i, series) in self.series.iter().enumerate() {
            let (color, dash) = legend::style(i);
            let mut segments: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for &(x, y) in &series.points {
                match (xs.map(x), ys.map(y)) {
                    (Some(px), Some(py)) => {
                        if let Some(seg) = segments.last_mut() {
                            seg.push((px, py));
                        }
                    }
                    _ => segments.push(Vec::new()),
                }
            }
            for seg in segments.iter().filter(|v| v.len() > 1) {
                let pts: Vec<String> = seg.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.8" stroke-linejoin="round"{dash}/>"#,
                    pts.join(" ")
                );
            }
            let drawn: usize = segments.iter().map(Vec::len).sum();
            for seg in &segments {
                // A point between two gaps has no line: it needs its dot.
                if drawn <= MAX_MARKED_POINTS || seg.len() == 1 {
                    for (x, y) in seg {
                        let _ = write!(
                            s,
                            r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.6" fill="{color}"/>"#
                        );
                    }
                }
            }
        }
    }
}

/// A generous estimate of the width of `text` in DejaVu Sans at `size` pixels.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

/// `text` escaped for XML and HTML text and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(f64, f64)>, log_y: bool) -> Chart {
        let mut c = Chart::lines("Loss <train>", "epoch", "loss");
        c.log_y = log_y;
        c.series.push(Series {
            name: "train".into(),
            points,
        });
        c
    }

    #[test]
    fn escapes_text_and_draws_each_segment() {
        // The NaN splits the line in two polylines of two points.
        let c = chart(
            vec![
                (1.0, 1.0),
                (2.0, 0.5),
                (3.0, f64::NAN),
                (4.0, 0.3),
                (5.0, 0.2),
            ],
            false,
        );
        let svg = c.render();
        assert!(svg.contains("Loss &lt;train&gt;"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        // Long series get no dots, except a point isolated between gaps.
        let mut points: Vec<(f64, f64)> = (0..30).map(|i| (i as f64, 1.0 + i as f64)).collect();
        points[10].1 = f64::NAN;
        points[12].1 = f64::NAN;
        let svg = chart(points, false).render();
        assert_eq!(svg.matches("<circle").count(), 1);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
    }

    #[test]
    fn log_charts_skip_non_positive_values_and_place_guides() {
        let mut c = chart(vec![(1.0, 0.0), (2.0, 1e-4), (3.0, 1e-2)], true);
        c.guides.push(Guide {
            y: 1e-3,
            label: "1e-3".into(),
            color: "#2a2",
            dashed: false,
        });
        assert!(c.has_data());
        let svg = c.render();
        // Two decades, 1e-4 to 1e-2: ticks at 1, 2 and 5 times each power.
        for label in [">1e-4<", ">2e-4<", ">5e-4<", ">0.001<", ">0.005<", ">0.01<"] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        assert_eq!(svg.matches("<circle").count(), 2);
        // The guide sits half way between the grid lines of 1e-4 and 1e-2.
        let (_, h) = c.dimensions();
        let mid = (TOP + (h - BOTTOM)) / 2.0;
        assert!(svg.contains(&format!(r#"y1="{mid:.1}""#)), "{mid} in {svg}");
        let empty = chart(vec![(1.0, -1.0)], true);
        assert!(!empty.has_data());
        assert!(empty.render().contains("no finite values"));
    }

    #[test]
    fn legends_wrap_and_grow_the_chart() {
        let mut c = Chart::lines("Gradient norms", "step", "norm");
        for i in 0..25 {
            c.series.push(Series {
                name: format!("layer{i}.weight"),
                points: vec![(1.0, 1.0)],
            });
        }
        let (w, h) = c.dimensions();
        assert_eq!(w, WIDTH);
        assert!(h > HEIGHT + 3.0 * legend::ROW, "{h}");
        let svg = c.render();
        assert!(svg.contains("+5 more"));
        assert!(svg.contains("layer19.weight") && !svg.contains("layer20.weight"));
        // A single series needs no legend.
        let one = chart(vec![(1.0, 1.0)], false);
        assert_eq!(one.dimensions(), (WIDTH, HEIGHT));
    }
}
