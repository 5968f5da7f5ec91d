//! Rasterising the report's SVG charts to PNG with resvg, with a bundled font so that the
//! pictures need no system font library and look the same on every machine. The labels
//! become outlines first (`glyphs.rs`), so resvg needs no text support.

use super::glyphs::Outliner;
use crate::{Result, TrainError};
use resvg::{tiny_skia, usvg};

/// DejaVu Sans reduced to Latin, Greek and a few symbols (27 KB; see
/// `assets/DejaVuSans-LICENSE.txt`).
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

/// Pixels per SVG unit: the PNGs are drawn at twice the SVG size to stay sharp on
/// high-density screens and in slides.
pub const PNG_SCALE: u32 = 2;

/// Renders SVG charts to PNG; holds the parsed font between charts.
pub struct Rasteriser {
    options: usvg::Options<'static>,
    outliner: Option<Outliner<'static>>,
}

impl Rasteriser {
    /// A rasteriser that draws every label in the bundled DejaVu Sans, whatever font
    /// family the chart names.
    pub fn new() -> Rasteriser {
        Rasteriser {
            options: usvg::Options::default(),
            // The bundled font always parses (tested); were it not to, labels go undrawn.
            outliner: Outliner::new(FONT),
        }
    }

    /// `svg` (an `<svg>` element with a width and height, as [`super::svg::Chart::render`]
    /// makes) as PNG bytes of [`PNG_SCALE`] times its size; `name` names it in errors.
    pub fn png(&self, svg: &str, name: &str) -> Result<Vec<u8>> {
        let fail = |reason: String| TrainError::file(name, reason);
        // Inline SVG in HTML needs no namespace; a standalone SVG document does.
        let svg = match &self.outliner {
            Some(outliner) => outliner.outline_texts(svg),
            None => svg.to_string(),
        };
        let svg = if svg.contains("xmlns=") {
            svg
        } else {
            svg.replacen("<svg ", "<svg xmlns=\"http://www.w3.org/2000/svg\" ", 1)
        };
        let tree = usvg::Tree::from_str(&svg, &self.options)
            .map_err(|e| fail(format!("cannot parse the chart's SVG: {e}")))?;
        let size = tree.size();
        let scale = PNG_SCALE as f32;
        let (w, h) = (
            (size.width() * scale).ceil() as u32,
            (size.height() * scale).ceil() as u32,
        );
        let mut pixmap = tiny_skia::Pixmap::new(w, h)
            .ok_or_else(|| fail(format!("cannot allocate a {w}×{h} image")))?;
        pixmap.fill(tiny_skia::Color::WHITE);
        resvg::render(
            &tree,
            tiny_skia::Transform::from_scale(scale, scale),
            &mut pixmap.as_mut(),
        );
        pixmap
            .encode_png()
            .map_err(|e| fail(format!("cannot encode the PNG: {e}")))
    }
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
            img.to_grey().pixels().iter().filter(|&&v| v < 128).count()
        };
        assert_eq!(dark(r.png(blank, "blank").unwrap()), 0);
        // Four glyphs at 28 px cover a good few hundred dark pixels.
        let n = dark(r.png(text, "text").unwrap());
        assert!(n > 150, "{n} dark pixels");
        let err = r.png("<svg", "broken.png").unwrap_err().to_string();
        assert!(err.starts_with("broken.png: cannot parse"), "{err}");
    }
}
