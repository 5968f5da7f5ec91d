//! Rasterising the report's SVG charts to PNG with tiny-skia, with a bundled font so that
//! the pictures need no system font library and look the same on every machine. The labels
//! become outlines first (`glyphs.rs`), then `svg_read.rs` reads the chart's shapes back.

use super::glyphs::Outliner;
use super::svg_read::{self, Segment, Shape};
use crate::{Result, TrainError};
use tiny_skia::{FillRule, LineJoin, Paint, PathBuilder, Pixmap, Stroke, StrokeDash, Transform};

/// DejaVu Sans reduced to Latin, Greek and a few symbols (27 KB; see
/// `assets/DejaVuSans-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

/// Pixels per SVG unit: the PNGs are drawn at twice the SVG size to stay sharp on
/// high-density screens and in slides.
pub const PNG_SCALE: u32 = 2;

/// Renders SVG charts to PNG; holds the parsed font between charts.
pub struct Rasteriser {
    outliner: Option<Outliner<'static>>,
}

impl Rasteriser {
    /// A rasteriser that draws every label in the bundled DejaVu Sans, whatever font
    /// family the chart names.
    pub fn new() -> Rasteriser {
        Rasteriser {
            // The bundled font always parses (tested); were it not to, labels go undrawn.
            outliner: Outliner::new(FONT),
        }
    }

    /// `svg` (an `<svg>` element with a width and height, as [`super::svg::Chart::render`]
    /// makes) as an RGB PNG of [`PNG_SCALE`] times its size on white; `name` names it in
    /// errors.
    pub fn png(&self, svg: &str, name: &str) -> Result<Vec<u8>> {
        let fail = |reason: String| TrainError::file(name, reason);
        let svg = match &self.outliner {
            Some(outliner) => outliner.outline_texts(svg),
            None => svg.to_string(),
        };
        let doc =
            svg_read::read(&svg).map_err(|e| fail(format!("cannot read the chart's SVG: {e}")))?;
        let scale = PNG_SCALE as f32;
        let (w, h) = (
            (doc.width * scale).ceil() as u32,
            (doc.height * scale).ceil() as u32,
        );
        let mut pixmap =
            Pixmap::new(w, h).ok_or_else(|| fail(format!("cannot allocate a {w}×{h} image")))?;
        pixmap.fill(tiny_skia::Color::WHITE);
        let view = svg_read::compose([scale, 0.0, 0.0, scale, 0.0, 0.0], doc.view);
        for shape in &doc.shapes {
            draw(&mut pixmap, shape, view);
        }
        // Opaque on white, so the premultiplied RGBA pixels are plain RGB.
        let rgb: Vec<u8> = pixmap
            .data()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        strata_data::Picture::new(w as usize, h as usize, 3, rgb)
            .and_then(|p| p.encode_png())
            .map_err(|e| fail(format!("cannot encode the PNG: {e}")))
    }
}

/// Fills, then strokes, one shape; a shape with no area or length draws nothing.
fn draw(pixmap: &mut Pixmap, shape: &Shape, view: [f32; 6]) {
    let Some(path) = tiny_path(&shape.path) else {
        return;
    };
    let [a, b, c, d, e, f] = svg_read::compose(view, shape.style.transform);
    let transform = Transform::from_row(a, b, c, d, e, f);
    let style = &shape.style;
    let mut paint = Paint {
        anti_alias: true,
        ..Paint::default()
    };
    if let Some([r, g, b]) = style.fill {
        let alpha = (style.fill_opacity * 255.0).round() as u8;
        paint.set_color_rgba8(r, g, b, alpha);
        pixmap.fill_path(&path, &paint, FillRule::Winding, transform, None);
    }
    if let Some([r, g, b]) = style.stroke {
        paint.set_color_rgba8(r, g, b, 255);
        // SVG repeats an odd dash list to make it even.
        let dash = style.dash.as_ref().and_then(|d| {
            let even = if d.len() % 2 == 1 {
                d.repeat(2)
            } else {
                d.clone()
            };
            StrokeDash::new(even, 0.0)
        });
        let stroke = Stroke {
            width: style.stroke_width,
            line_join: if style.round_join {
                LineJoin::Round
            } else {
                LineJoin::Miter
            },
            dash,
            ..Stroke::default()
        };
        pixmap.stroke_path(&path, &paint, &stroke, transform, None);
    }
}

/// The shape's outline as a tiny-skia path; `None` when it is empty.
fn tiny_path(segments: &[Segment]) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    for s in segments {
        match *s {
            Segment::Move(x, y) => pb.move_to(x, y),
            Segment::Line(x, y) => pb.line_to(x, y),
            Segment::Quad(x1, y1, x, y) => pb.quad_to(x1, y1, x, y),
            Segment::Cubic(x1, y1, x2, y2, x, y) => pb.cubic_to(x1, y1, x2, y2, x, y),
            Segment::Close => pb.close(),
        }
    }
    pb.finish()
}

impl Default for Rasteriser {
    fn default() -> Self {
        Rasteriser::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_drawn_with_the_bundled_font() {
        let r = Rasteriser::new();
        assert!(r.outliner.is_some(), "the bundled font parses");
        let blank = r#"<svg viewBox="0 0 60 20" width="60" height="20"></svg>"#;
        let text = r##"<svg viewBox="0 0 60 20" width="60" height="20" font-family="sans-serif"><text x="2" y="15" font-size="14" fill="#000">Loss</text></svg>"##;
        let dark = |png: Vec<u8>| {
            let img = strata_data::Picture::decode(&png, "chart.png".as_ref()).unwrap();
            assert_eq!((img.width(), img.height()), (120, 40));
            img.into_grey()
                .pixels()
                .iter()
                .filter(|&&v| v < 128)
                .count()
        };
        assert_eq!(dark(r.png(blank, "blank").unwrap()), 0);
        // Four glyphs at 28 px cover a good few hundred dark pixels.
        let n = dark(r.png(text, "text").unwrap());
        assert!(n > 150, "{n} dark pixels");
        let err = r.png("<svg", "broken.png").unwrap_err().to_string();
        assert!(err.starts_with("broken.png: cannot read"), "{err}");
    }
}
