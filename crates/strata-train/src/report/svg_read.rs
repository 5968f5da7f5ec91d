//! Reading back the SVG our charts write, to rasterise it (`png.rs`).
//!
//! The charts use a handful of elements and attributes (`svg.rs`, `legend.rs`; their
//! labels become `<path>` outlines in `glyphs.rs` first), so a reader of exactly that
//! vocabulary replaces a general SVG library, which cost the release build about 35 s of
//! CPU. Anything outside it is an error that names it, so a chart that starts using a new
//! element fails its tests instead of losing the element in the PNG.
//!
//! Read: `<svg>` (`width`, `height`, `viewBox`); `<rect>` (`x`, `y`, `width`, `height`,
//! `rx`), `<line>`, `<polyline>`, `<circle>` and `<path>` (`M L H V Q C Z`, absolute and
//! relative); `fill`, `fill-opacity`, `stroke`, `stroke-width`, `stroke-dasharray`,
//! `stroke-linejoin` and `transform` (`translate`, `scale`, `rotate`). `<title>` and
//! `<text>` (undrawn when the font is missing) are skipped; other attributes are ignored.

/// An RGB colour.
pub(crate) type Rgb = [u8; 3];

/// One segment of a path, in absolute coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Segment {
    Move(f32, f32),
    Line(f32, f32),
    Quad(f32, f32, f32, f32),
    Cubic(f32, f32, f32, f32, f32, f32),
    Close,
}

/// How a shape is painted.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Style {
    pub fill: Option<Rgb>,
    pub fill_opacity: f32,
    pub stroke: Option<Rgb>,
    pub stroke_width: f32,
    pub dash: Option<Vec<f32>>,
    pub round_join: bool,
    /// The affine map `[a, b, c, d, e, f]`: (x, y) → (a·x + c·y + e, b·x + d·y + f).
    pub transform: [f32; 6],
}

/// A shape as a path, with its paint.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Shape {
    pub path: Vec<Segment>,
    pub style: Style,
}

/// A whole chart: its size in pixels, the map from its `viewBox` to them, and its shapes
/// in drawing order.
#[derive(Debug)]
pub(crate) struct Document {
    pub width: f32,
    pub height: f32,
    pub view: [f32; 6],
    pub shapes: Vec<Shape>,
}

const IDENTITY: [f32; 6] = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// Reads `svg`; the error says what it could not read.
pub(crate) fn read(svg: &str) -> Result<Document, String> {
    let mut doc: Option<Document> = None;
    let mut rest = svg;
    while let Some(at) = rest.find('<') {
        rest = &rest[at..];
        // Closing tags, comments and declarations carry nothing to draw.
        if rest.starts_with("</") || rest.starts_with("<!") || rest.starts_with("<?") {
            rest = skip_past(rest, ">")?;
            continue;
        }
        let end = rest.find('>').ok_or("an unclosed tag")?;
        let tag = &rest[1..end];
        let self_closed = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name_len = tag.find(char::is_whitespace).unwrap_or(tag.len());
        let (name, attr) = (&tag[..name_len], Attrs::read(&tag[name_len..])?);
        rest = &rest[end + 1..];
        if matches!(name, "title" | "text") && !self_closed {
            rest = skip_past(rest, &format!("</{name}>"))?;
            continue;
        }
        if name == "svg" {
            doc = Some(root(&attr)?);
            continue;
        }
        let Some(doc) = doc.as_mut() else {
            return Err(format!("<{name}> before the <svg> element"));
        };
        let path = shape(name, &attr)?;
        doc.shapes.push(Shape {
            path,
            style: style(name, &attr)?,
        });
    }
    doc.ok_or_else(|| "no <svg> element".to_string())
}

/// `s` after the first `marker`.
fn skip_past<'s>(s: &'s str, marker: &str) -> Result<&'s str, String> {
    let at = s
        .find(marker)
        .ok_or_else(|| format!("no {marker} to close an element"))?;
    Ok(&s[at + marker.len()..])
}

/// The `name="value"` pairs of one tag.
struct Attrs<'s>(Vec<(&'s str, &'s str)>);

impl<'s> Attrs<'s> {
    /// Reads the attributes in `s`, the tag after its name (single quotes also accepted).
    fn read(mut s: &'s str) -> Result<Attrs<'s>, String> {
        let mut out = Vec::new();
        loop {
            s = s.trim_start();
            if s.is_empty() {
                return Ok(Attrs(out));
            }
            let eq = s
                .find('=')
                .ok_or_else(|| format!("an attribute without a value: {s}"))?;
            let name = s[..eq].trim();
            let value = s[eq + 1..].trim_start();
            let quote = value
                .chars()
                .next()
                .filter(|c| *c == '"' || *c == '\'')
                .ok_or_else(|| format!("attribute {name}: the value is not quoted"))?;
            let close = value[1..]
                .find(quote)
                .ok_or_else(|| format!("attribute {name}: the quote is not closed"))?;
            out.push((name, &value[1..1 + close]));
            s = &value[close + 2..];
        }
    }

    fn get(&self, key: &str) -> Option<&'s str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// Attribute `key` as a number, `default` when absent.
    fn number(&self, key: &str, default: f32) -> Result<f32, String> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .trim_end_matches("px")
                .parse()
                .map_err(|_| format!("{key}=\"{v}\" is not a number")),
        }
    }
}

/// The numbers of a list such as `points`, a `viewBox` or path data: separated by spaces
/// or commas, or by nothing before a sign (`1-2` is 1 and −2), as SVG allows.
fn numbers(s: &str) -> Result<Vec<f32>, String> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b',' || bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if bytes[i] == b'+' || bytes[i] == b'-' {
            i += 1;
        }
        let mut seen_dot = false;
        while i < bytes.len() {
            match bytes[i] {
                b'0'..=b'9' => {}
                b'.' if !seen_dot => seen_dot = true,
                b'e' | b'E' => {
                    // An exponent, with its own sign.
                    if i + 1 < bytes.len() && (bytes[i + 1] == b'-' || bytes[i + 1] == b'+') {
                        i += 1;
                    }
                }
                _ => break,
            }
            i += 1;
        }
        // Only ASCII was passed over, so `i` is on a character boundary.
        let token = &s[start..i];
        if token.is_empty() {
            let c = s[start..].chars().next().unwrap_or(' ');
            return Err(format!("{c:?} in a list of numbers"));
        }
        let value: f32 = token
            .parse()
            .map_err(|_| format!("\"{token}\" is not a number"))?;
        out.push(value);
    }
    Ok(out)
}

fn root(attr: &Attrs) -> Result<Document, String> {
    let view_box = attr.get("viewBox").map(numbers).transpose()?;
    let (vw, vh) = match view_box.as_deref() {
        Some([_, _, w, h]) => (*w, *h),
        Some(other) => return Err(format!("viewBox needs 4 numbers, got {}", other.len())),
        None => (f32::NAN, f32::NAN),
    };
    let width = attr.number("width", vw)?;
    let height = attr.number("height", vh)?;
    if !(width > 0.0 && height > 0.0 && width.is_finite() && height.is_finite()) {
        return Err(format!("the chart's size {width}x{height} is not positive"));
    }
    let view = match view_box.as_deref() {
        Some([x, y, w, h]) if *w > 0.0 && *h > 0.0 => {
            let (sx, sy) = (width / w, height / h);
            [sx, 0.0, 0.0, sy, -x * sx, -y * sy]
        }
        Some(_) => return Err("the viewBox's size is not positive".to_string()),
        None => IDENTITY,
    };
    Ok(Document {
        width,
        height,
        view,
        shapes: Vec::new(),
    })
}

/// The outline of element `name`.
fn shape(name: &str, attr: &Attrs) -> Result<Vec<Segment>, String> {
    use Segment::*;
    let n = |key: &str| attr.number(key, 0.0);
    Ok(match name {
        "rect" => rect(n("x")?, n("y")?, n("width")?, n("height")?, n("rx")?),
        "line" => vec![Move(n("x1")?, n("y1")?), Line(n("x2")?, n("y2")?)],
        "polyline" | "polygon" => {
            let v = numbers(attr.get("points").unwrap_or(""))?;
            let mut path: Vec<Segment> = v
                .chunks_exact(2)
                .enumerate()
                .map(|(i, p)| {
                    if i == 0 {
                        Move(p[0], p[1])
                    } else {
                        Line(p[0], p[1])
                    }
                })
                .collect();
            if name == "polygon" {
                path.push(Close);
            }
            path
        }
        "circle" => {
            let (cx, cy, r) = (n("cx")?, n("cy")?, n("r")?);
            // Four cubic quarter-arcs; 4(√2 − 1)/3 ≈ 0.5523 is the usual control-point distance.
            let k = 0.552_284_8 * r;
            vec![
                Move(cx + r, cy),
                Cubic(cx + r, cy + k, cx + k, cy + r, cx, cy + r),
                Cubic(cx - k, cy + r, cx - r, cy + k, cx - r, cy),
                Cubic(cx - r, cy - k, cx - k, cy - r, cx, cy - r),
                Cubic(cx + k, cy - r, cx + r, cy - k, cx + r, cy),
                Close,
            ]
        }
        "path" => path_data(attr.get("d").unwrap_or(""))?,
        other => return Err(format!("<{other}> is not an element the charts use")),
    })
}

/// A rectangle, its corners rounded by `rx` (clamped to half the shorter side).
fn rect(x: f32, y: f32, w: f32, h: f32, rx: f32) -> Vec<Segment> {
    use Segment::*;
    let r = rx.min(w / 2.0).min(h / 2.0).max(0.0);
    let (x1, y1) = (x + w, y + h);
    if r == 0.0 {
        return vec![Move(x, y), Line(x1, y), Line(x1, y1), Line(x, y1), Close];
    }
    vec![
        Move(x + r, y),
        Line(x1 - r, y),
        Quad(x1, y, x1, y + r),
        Line(x1, y1 - r),
        Quad(x1, y1, x1 - r, y1),
        Line(x + r, y1),
        Quad(x, y1, x, y1 - r),
        Line(x, y + r),
        Quad(x, y, x + r, y),
        Close,
    ]
}

/// The commands of a `d` attribute, made absolute.
fn path_data(d: &str) -> Result<Vec<Segment>, String> {
    use Segment::*;
    let mut out = Vec::new();
    let (mut x, mut y, mut start) = (0.0f32, 0.0f32, (0.0f32, 0.0f32));
    let mut rest = d.trim_start();
    while let Some(cmd) = rest.chars().next() {
        let args_end = rest[1..]
            .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
            .map_or(rest.len(), |i| i + 1);
        let args = numbers(&rest[1..args_end])?;
        rest = rest[args_end..].trim_start();
        let arity = match cmd.to_ascii_uppercase() {
            'M' | 'L' => 2,
            'H' | 'V' => 1,
            'Q' => 4,
            'C' => 6,
            'Z' => 0,
            _ => return Err(format!("path command {cmd} is not one the charts use")),
        };
        if arity == 0 {
            out.push(Close);
            (x, y) = start;
            continue;
        }
        if args.is_empty() || args.len() % arity != 0 {
            return Err(format!("path command {cmd} has {} numbers", args.len()));
        }
        let rel = cmd.is_ascii_lowercase();
        for (i, a) in args.chunks_exact(arity).enumerate() {
            let (ox, oy) = if rel { (x, y) } else { (0.0, 0.0) };
            let segment = match cmd.to_ascii_uppercase() {
                // Pairs after a move's first are lines, as SVG says.
                'M' if i == 0 => Move(ox + a[0], oy + a[1]),
                'M' | 'L' => Line(ox + a[0], oy + a[1]),
                'H' => Line(ox + a[0], y),
                'V' => Line(x, oy + a[0]),
                'Q' => Quad(ox + a[0], oy + a[1], ox + a[2], oy + a[3]),
                _ => Cubic(
                    ox + a[0],
                    oy + a[1],
                    ox + a[2],
                    oy + a[3],
                    ox + a[4],
                    oy + a[5],
                ),
            };
            (x, y) = match segment {
                Move(px, py) | Line(px, py) | Quad(_, _, px, py) | Cubic(_, _, _, _, px, py) => {
                    (px, py)
                }
                Close => (x, y),
            };
            if let Move(px, py) = segment {
                start = (px, py);
            }
            out.push(segment);
        }
    }
    Ok(out)
}

fn style(name: &str, attr: &Attrs) -> Result<Style, String> {
    // SVG fills shapes black unless told otherwise; lines have nothing to fill.
    let fill = match attr.get("fill") {
        Some(v) => paint(v)?,
        None if name == "line" => None,
        None => Some([0, 0, 0]),
    };
    let dash = match attr.get("stroke-dasharray") {
        None | Some("none") => None,
        Some(v) => {
            let d = numbers(v)?;
            if d.iter().any(|x| *x < 0.0) || d.iter().sum::<f32>() <= 0.0 {
                return Err(format!("stroke-dasharray=\"{v}\" is not a dash pattern"));
            }
            Some(d)
        }
    };
    Ok(Style {
        fill,
        fill_opacity: attr.number("fill-opacity", 1.0)?.clamp(0.0, 1.0),
        stroke: attr.get("stroke").map(paint).transpose()?.flatten(),
        stroke_width: attr.number("stroke-width", 1.0)?,
        dash,
        round_join: attr.get("stroke-linejoin") == Some("round"),
        transform: attr
            .get("transform")
            .map(transform)
            .transpose()?
            .unwrap_or(IDENTITY),
    })
}

/// A paint: `none`, `#rgb`, `#rrggbb` or one of a few colour names.
fn paint(v: &str) -> Result<Option<Rgb>, String> {
    let hex = |s: &str| u8::from_str_radix(s, 16).ok();
    let rgb = match v.trim() {
        "none" => return Ok(None),
        "black" => Some([0, 0, 0]),
        "white" => Some([255, 255, 255]),
        "red" => Some([255, 0, 0]),
        "green" => Some([0, 128, 0]),
        "blue" => Some([0, 0, 255]),
        "gray" | "grey" => Some([128, 128, 128]),
        s if s.len() == 7 && s.starts_with('#') => {
            (|| Some([hex(&s[1..3])?, hex(&s[3..5])?, hex(&s[5..7])?]))()
        }
        s if s.len() == 4 && s.starts_with('#') => (|| {
            let d = |i: usize| hex(&s[i..i + 1]).map(|v| v * 17);
            Some([d(1)?, d(2)?, d(3)?])
        })(),
        _ => None,
    };
    rgb.map(Some)
        .ok_or_else(|| format!("colour \"{v}\" is not #rgb, #rrggbb or a basic colour name"))
}

/// A `transform` list, composed left to right as SVG does.
fn transform(v: &str) -> Result<[f32; 6], String> {
    let mut m = IDENTITY;
    let mut rest = v.trim();
    while !rest.is_empty() {
        let open = rest
            .find('(')
            .ok_or_else(|| format!("transform \"{v}\" has no ("))?;
        let close = rest
            .find(')')
            .ok_or_else(|| format!("transform \"{v}\" has no )"))?;
        let name = rest[..open].trim().trim_start_matches(',').trim();
        let a = numbers(&rest[open + 1..close])?;
        let t = match (name, a.as_slice()) {
            ("translate", [x]) => [1.0, 0.0, 0.0, 1.0, *x, 0.0],
            ("translate", [x, y]) => [1.0, 0.0, 0.0, 1.0, *x, *y],
            ("scale", [s]) => [*s, 0.0, 0.0, *s, 0.0, 0.0],
            ("scale", [sx, sy]) => [*sx, 0.0, 0.0, *sy, 0.0, 0.0],
            ("rotate", [deg, rest @ ..]) if rest.is_empty() || rest.len() == 2 => {
                let (s, c) = deg.to_radians().sin_cos();
                let (cx, cy) = if rest.is_empty() {
                    (0.0, 0.0)
                } else {
                    (rest[0], rest[1])
                };
                // Rotation about (cx, cy): translate, rotate, translate back.
                [c, s, -s, c, cx - c * cx + s * cy, cy - s * cx - c * cy]
            }
            _ => {
                return Err(format!(
                    "transform {name}({}) is not one the charts use",
                    &rest[open + 1..close]
                ))
            }
        };
        m = compose(m, t);
        rest = rest[close + 1..].trim_start();
    }
    Ok(m)
}

/// `outer ∘ inner`: apply `inner` first.
pub(crate) fn compose(outer: [f32; 6], inner: [f32; 6]) -> [f32; 6] {
    let [a, b, c, d, e, f] = outer;
    let [a2, b2, c2, d2, e2, f2] = inner;
    [
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    ]
}

#[cfg(test)]
mod tests {
    use super::Segment::*;
    use super::*;

    #[test]
    fn reads_the_charts_vocabulary() {
        let svg = r##"<svg viewBox="0 0 100 50" width="200" height="100" font-size="11"><title>a &lt; b</title><rect width="100" height="50" fill="#ffffff"/><line x1="1" y1="2" x2="3" y2="4" stroke="#e6e6e6"/><polyline points="0,0 10,5 20,0" fill="none" stroke="#4e79a7" stroke-width="1.8" stroke-linejoin="round" stroke-dasharray="6 4"/><circle cx="5" cy="6" r="2" fill="#f00"/><path d="M1 2 L3 4 Q5 6 7 8 Z" fill="#222" transform="rotate(-90 14 60)"/><text x="1" y="2">undrawn</text></svg>"##;
        let doc = read(svg).unwrap();
        assert_eq!((doc.width, doc.height), (200.0, 100.0));
        assert_eq!(doc.view, [2.0, 0.0, 0.0, 2.0, 0.0, 0.0]);
        assert_eq!(doc.shapes.len(), 5);
        let [bg, line, poly, circle, path] = &doc.shapes[..] else {
            unreachable!()
        };
        assert_eq!(bg.style.fill, Some([255, 255, 255]));
        assert_eq!(bg.path.len(), 5);
        assert_eq!(line.path, vec![Move(1.0, 2.0), Line(3.0, 4.0)]);
        assert_eq!(
            (line.style.fill, line.style.stroke),
            (None, Some([230, 230, 230]))
        );
        assert_eq!(
            poly.path,
            vec![Move(0.0, 0.0), Line(10.0, 5.0), Line(20.0, 0.0)]
        );
        assert_eq!(poly.style.dash, Some(vec![6.0, 4.0]));
        assert!(poly.style.round_join && poly.style.fill.is_none());
        assert_eq!(circle.style.fill, Some([255, 0, 0]));
        assert_eq!(circle.path[0], Move(7.0, 6.0));
        assert_eq!(
            path.path,
            vec![
                Move(1.0, 2.0),
                Line(3.0, 4.0),
                Quad(5.0, 6.0, 7.0, 8.0),
                Close
            ]
        );
        // rotate(-90 14 60) takes (14, 60) to itself and (15, 60) to (14, 59).
        let t = path.style.transform;
        let at = |x: f32, y: f32| (t[0] * x + t[2] * y + t[4], t[1] * x + t[3] * y + t[5]);
        let (x, y) = at(15.0, 60.0);
        assert!(
            (x - 14.0).abs() < 1e-4 && (y - 59.0).abs() < 1e-4,
            "{x} {y}"
        );
        let (x, y) = at(14.0, 60.0);
        assert!((x - 14.0).abs() < 1e-4 && (y - 60.0).abs() < 1e-4);
    }

    #[test]
    fn relative_paths_and_transform_lists() {
        let p = path_data("m1 1 2 0 h3 v-1 l-1-1 z M0 0 c1 1 2 2 3 3").unwrap();
        assert_eq!(
            p,
            vec![
                Move(1.0, 1.0),
                Line(3.0, 1.0),
                Line(6.0, 1.0),
                Line(6.0, 0.0),
                Line(5.0, -1.0),
                Close,
                Move(0.0, 0.0),
                Cubic(1.0, 1.0, 2.0, 2.0, 3.0, 3.0),
            ]
        );
        // translate then scale: (1, 1) → scale → (2, 3) → translate → (12, 23).
        let t = transform("translate(10 20) scale(2, 3)").unwrap();
        assert_eq!((t[0] + t[2] + t[4], t[1] + t[3] + t[5]), (12.0, 23.0));
        assert_eq!(
            rect(0.0, 0.0, 10.0, 4.0, 5.0)[2],
            Quad(10.0, 0.0, 10.0, 2.0)
        );
    }

    #[test]
    fn what_it_cannot_read_is_named() {
        let err = |svg: &str| read(svg).unwrap_err();
        assert_eq!(
            err(r#"<svg width="10" height="10"><ellipse/></svg>"#),
            "<ellipse> is not an element the charts use"
        );
        assert_eq!(err(r#"<rect/>"#), "<rect> before the <svg> element");
        assert_eq!(
            err(r#"<svg width="10" height="0"></svg>"#),
            "the chart's size 10x0 is not positive"
        );
        assert!(err(r#"<svg width="10" height="10"><rect fill="teal"/></svg>"#).contains("teal"));
        assert!(err(r#"<svg width="10" height="10"><path d="M1 2 A3 4"/></svg>"#).contains("A"));
        assert!(err(r#"<svg width="10" height="10"><rect x="one"/></svg>"#).contains("x=\"one\""));
        assert!(err(r#"<svg width="10" height="10"><rect x=1/></svg>"#).contains("not quoted"));
        assert_eq!(err("<svg"), "an unclosed tag");
        assert!(
            err(r#"<svg width="10" height="10"><polyline points="1 é"/></svg>"#).contains("'é'")
        );
        assert!(
            err(r#"<svg width="10" height="10"><polyline points="1 - 2"/></svg>"#)
                .contains("\"-\"")
        );
        assert_eq!(err("just text"), "no <svg> element");
    }
}
