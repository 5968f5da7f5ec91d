//! The charts' `<text>` elements turned into `<path>` outlines of the bundled font before
//! rasterising. Our charts use one font, one line per element and no shaping beyond
//! left-to-right advances, so laying the glyphs out here spares the build a text stack
//! (font database, shaper, font readers), which cost more compile time than the rest of
//! the report together.
//!
//! Handled: `x`, `y`, `font-size` (on the element or the root `<svg>`), `text-anchor`
//! (`start`, `middle`, `end`), and `fill`, `fill-opacity` and `transform`, which pass to
//! the path unchanged; the XML entities of escaped labels.

use std::fmt::Write;
use ttf_parser::{Face, OutlineBuilder};

/// SVG's initial font size, for charts that set none.
const DEFAULT_FONT_SIZE: f32 = 12.0;

/// Attributes copied from a `<text>` onto its `<path>`.
const PASSED_ON: [&str; 3] = ["fill", "fill-opacity", "transform"];

/// Lays out text in one font face.
pub(crate) struct Outliner<'a> {
    face: Face<'a>,
}

impl<'a> Outliner<'a> {
    /// `None` when `font` is not a font file ttf-parser can read.
    pub(crate) fn new(font: &'a [u8]) -> Option<Outliner<'a>> {
        Face::parse(font, 0).ok().map(|face| Outliner { face })
    }

    /// `svg` with every `<text …>label</text>` replaced by a `<path>` drawing `label`.
    /// Text the scanner cannot read (an unclosed element) is left as it is, and so is
    /// not drawn.
    pub(crate) fn outline_texts(&self, svg: &str) -> String {
        let root_size = svg
            .find("<svg")
            .and_then(|at| tag_end(svg, at).map(|end| &svg[at..end]))
            .and_then(|tag| number_attr(tag, "font-size"))
            .unwrap_or(DEFAULT_FONT_SIZE);
        let mut out = String::with_capacity(svg.len());
        let mut rest = svg;
        while let Some(at) = rest.find("<text") {
            let Some(element) = TextElement::parse(&rest[at..]) else {
                break;
            };
            out.push_str(&rest[..at]);
            self.write_path(&mut out, &element, root_size);
            rest = &rest[at + element.len..];
        }
        out.push_str(rest);
        out
    }

    /// The advance width of `label` at `size` in SVG units.
    pub(crate) fn width(&self, label: &str, size: f32) -> f32 {
        let scale = size / f32::from(self.face.units_per_em());
        label
            .chars()
            .map(|c| self.advance(self.glyph(c)) * scale)
            .sum()
    }

    fn glyph(&self, c: char) -> ttf_parser::GlyphId {
        // A character outside the bundled subset shows as the font's missing-glyph box.
        self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0))
    }

    fn advance(&self, glyph: ttf_parser::GlyphId) -> f32 {
        f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0))
    }

    fn write_path(&self, out: &mut String, element: &TextElement, root_size: f32) {
        let tag = element.tag;
        let size = number_attr(tag, "font-size").unwrap_or(root_size);
        let label = unescape(element.content);
        let width = self.width(&label, size);
        let x = number_attr(tag, "x").unwrap_or(0.0);
        let left = match text_attr(tag, "text-anchor") {
            Some("middle") => x - width / 2.0,
            Some("end") => x - width,
            _ => x,
        };
        let mut pen = PathPen {
            d: String::new(),
            scale: size / f32::from(self.face.units_per_em()),
            x: left,
            y: number_attr(tag, "y").unwrap_or(0.0),
        };
        for c in label.chars() {
            let glyph = self.glyph(c);
            // A glyph without an outline (a space) only advances the pen.
            let _ = self.face.outline_glyph(glyph, &mut pen);
            pen.x += self.advance(glyph) * pen.scale;
        }
        out.push_str("<path d=\"");
        out.push_str(pen.d.trim_end());
        out.push('"');
        for name in PASSED_ON {
            if let Some(value) = text_attr(tag, name) {
                let _ = write!(out, " {name}=\"{value}\"");
            }
        }
        out.push_str("/>");
    }
}

/// One `<text>` element: its opening tag, its content and its length in the SVG.
struct TextElement<'s> {
    tag: &'s str,
    content: &'s str,
    len: usize,
}

impl<'s> TextElement<'s> {
    /// The element at the start of `s` (which begins with `<text`).
    fn parse(s: &'s str) -> Option<TextElement<'s>> {
        let open_end = tag_end(s, 0)?;
        let close = s[open_end..].find("</text>")? + open_end;
        Some(TextElement {
            tag: &s[..open_end],
            content: &s[open_end..close],
            len: close + "</text>".len(),
        })
    }
}

/// The index just past the `>` that ends the tag starting at `at` (attribute values in
/// our charts never contain `>`).
fn tag_end(s: &str, at: usize) -> Option<usize> {
    s[at..].find('>').map(|i| at + i + 1)
}

/// The value of attribute `name` in an opening tag.
fn text_attr<'s>(tag: &'s str, name: &str) -> Option<&'s str> {
    let pattern = format!(" {name}=\"");
    let start = tag.find(&pattern)? + pattern.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

fn number_attr(tag: &str, name: &str) -> Option<f32> {
    text_attr(tag, name)?.trim_end_matches("px").parse().ok()
}

/// Replaces XML's predefined entities and numeric character references.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';') else { break };
        let entity = &rest[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Writes a glyph's outline as SVG path commands, from font units (y up, origin on the
/// baseline) to the chart's coordinates (y down, origin at the pen).
struct PathPen {
    d: String,
    scale: f32,
    x: f32,
    y: f32,
}

impl PathPen {
    fn point(&mut self, x: f32, y: f32) {
        let _ = write!(
            self.d,
            "{:.2} {:.2} ",
            self.x + x * self.scale,
            self.y - y * self.scale
        );
    }
}

impl OutlineBuilder for PathPen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.d.push('M');
        self.point(x, y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        self.d.push('L');
        self.point(x, y);
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.d.push('Q');
        self.point(x1, y1);
        self.point(x, y);
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        self.d.push('C');
        self.point(x1, y1);
        self.point(x2, y2);
        self.point(x, y);
    }

    fn close(&mut self) {
        self.d.push_str("Z ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans-subset.ttf");

    /// The x extent of the path's coordinates.
    fn x_range(path: &str) -> (f32, f32) {
        let d = text_attr(path, "d").unwrap();
        let xs: Vec<f32> = d
            .split(|c: char| c.is_ascii_alphabetic())
            .flat_map(|cmd| {
                let v: Vec<f32> = cmd.split_whitespace().map(|n| n.parse().unwrap()).collect();
                v.chunks(2).map(|p| p[0]).collect::<Vec<_>>()
            })
            .collect();
        let lo = xs.iter().cloned().fold(f32::INFINITY, f32::min);
        let hi = xs.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        (lo, hi)
    }

    #[test]
    fn anchors_place_the_label_start_centre_or_end_at_x() {
        let o = Outliner::new(FONT).unwrap();
        let width = o.width("Loss", 20.0);
        // DejaVu Sans's advances (read with fontTools): L 1141, o 1253, s 1067 units of
        // 2048 per em.
        let expected = (1141.0 + 1253.0 + 1067.0 * 2.0) / 2048.0 * 20.0;
        assert!((width - expected).abs() < 1e-3, "{width} vs {expected}");
        for (anchor, left) in [
            ("start", 100.0),
            ("middle", 100.0 - width / 2.0),
            ("end", 100.0 - width),
        ] {
            let svg = format!(
                r#"<svg font-size="20"><text x="100" y="50" text-anchor="{anchor}">Loss</text></svg>"#
            );
            let out = o.outline_texts(&svg);
            assert!(!out.contains("<text"), "{out}");
            let (lo, hi) = x_range(&out);
            // Ink sits within the advance box, a little inside its edges.
            assert!(
                lo >= left - 0.5 && lo < left + 3.0,
                "{anchor}: ink from {lo}, box from {left}"
            );
            assert!(
                hi <= left + width + 0.5 && hi > left + width - 4.0,
                "{anchor}: ink to {hi}"
            );
        }
    }

    #[test]
    fn size_attributes_and_entities_carry_over() {
        let o = Outliner::new(FONT).unwrap();
        let svg = r##"<svg font-size="11"><title>a &lt; b</title><text x="14" y="60" fill="#222" transform="rotate(-90 14 60)">a &lt; b &amp; &#946;</text><text x="0" y="9" font-size="22">a</text></svg>"##;
        let out = o.outline_texts(svg);
        assert!(
            out.starts_with(r#"<svg font-size="11"><title>a &lt; b</title><path d="M"#),
            "{out}"
        );
        assert!(
            out.contains(r##" fill="#222" transform="rotate(-90 14 60)"/>"##),
            "{out}"
        );
        assert!(out.ends_with("/></svg>"), "{out}");
        // "a < b & β" at 11 px: five glyphs with ink plus four spaces of advance.
        let first = &out[out.find("<path").unwrap()..out.find("/>").unwrap()];
        let (lo, hi) = x_range(first);
        let width = o.width("a < b & β", 11.0);
        assert!(
            hi - lo > width - 2.0 && hi - lo <= width,
            "{lo}..{hi} vs {width}"
        );
        // The second label's own size wins over the root's: an "a" twice as wide.
        let second = &out[out.rfind("<path").unwrap()..];
        let (lo2, hi2) = x_range(second);
        let (lo1, hi1) = x_range(&o.outline_texts(r#"<text x="0" y="9">a</text>"#));
        assert!(((hi2 - lo2) / (hi1 - lo1) - 22.0 / DEFAULT_FONT_SIZE).abs() < 0.02);
    }

    #[test]
    fn unescape_leaves_unknown_entities_and_bare_ampersands() {
        assert_eq!(
            unescape("R&amp;D &#x3bb; &#955; &bogus; a & b"),
            "R&D λ λ &bogus; a & b"
        );
    }

    #[test]
    fn the_labels_characters_are_in_the_bundled_font() {
        // Every non-ASCII character the charts' labels use (grep the experiments and the
        // report for them), plus the other symbols the subset promises.
        let face = Face::parse(FONT, 0).unwrap();
        for c in "‖∂L/∂W‖ –—×·…λβσ é Δ Σ ± ° ≥ ≤ ≈ ≠ ∞ ∇ ∑ √ ² ₁ → ←".chars()
        {
            assert!(
                face.glyph_index(c).is_some(),
                "{c:?} (U+{:04X}) is not in the font",
                c as u32
            );
        }
    }
}
