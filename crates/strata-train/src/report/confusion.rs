//! The confusion matrix section: the matrix as a coloured table and the per-class
//! precision, recall and F1 computed from it.

use super::format::num;
use super::read::Confusion;
use super::svg::esc;
use std::fmt::Write;

/// Matrices with more classes than this show only the per-class table.
const MAX_MATRIX_CLASSES: usize = 40;

/// Precision, recall and F1 of one class (NaN where undefined: no predictions of the
/// class for precision, no examples of it for recall).
#[derive(Clone, Debug, PartialEq)]
pub struct ClassScores {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Examples whose true class this is.
    pub support: u64,
}

/// The scores of every class of `c` (rows are true classes, columns predictions).
pub fn class_scores(c: &Confusion) -> Vec<ClassScores> {
    let n = c.labels.len();
    (0..n)
        .map(|k| {
            let tp = c.matrix[k][k] as f64;
            let support: u64 = c.matrix[k].iter().sum();
            let predicted: u64 = c.matrix.iter().map(|row| row[k]).sum();
            let precision = tp / predicted as f64;
            let recall = tp / support as f64;
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else if precision == 0.0 || recall == 0.0 {
                0.0
            } else {
                f64::NAN
            };
            ClassScores {
                label: c.labels[k].clone(),
                precision,
                recall,
                f1,
                support,
            }
        })
        .collect()
}

/// The fraction of examples on the diagonal.
pub fn accuracy(c: &Confusion) -> f64 {
    let total: u64 = c.matrix.iter().flatten().sum();
    let correct: u64 = (0..c.labels.len()).map(|k| c.matrix[k][k]).sum();
    correct as f64 / total as f64
}

/// The section's HTML: the matrix (rows true, columns predicted; cells shaded by their
/// share of the row, blue on the diagonal, red off it) and the per-class table.
pub fn html(c: &Confusion) -> String {
    let mut s = String::new();
    let split = if c.split.is_empty() {
        "evaluation"
    } else {
        c.split.as_str()
    };
    let _ = write!(
        s,
        "<p>On the {} split: accuracy {} over {} examples. Rows are true classes, columns \
         predictions; shading is the share of the row.</p>",
        esc(split),
        num(accuracy(c)),
        c.matrix.iter().flatten().sum::<u64>()
    );
    if c.labels.len() <= MAX_MATRIX_CLASSES {
        s.push_str(r#"<div class="scroll"><table class="confusion"><tr><th class="corner">true \ predicted</th>"#);
        for l in &c.labels {
            let _ = write!(s, "<th>{}</th>", esc(l));
        }
        s.push_str("</tr>");
        for (i, row) in c.matrix.iter().enumerate() {
            let total: u64 = row.iter().sum();
            let _ = write!(s, "<tr><th>{}</th>", esc(&c.labels[i]));
            for (j, &v) in row.iter().enumerate() {
                let share = if total > 0 {
                    v as f64 / total as f64
                } else {
                    0.0
                };
                let _ = write!(
                    s,
                    r#"<td style="background:{};color:{}" title="{:.1}% of true {}">{v}</td>"#,
                    shade(share, i == j),
                    if share > 0.55 { "#fff" } else { "#222" },
                    share * 100.0,
                    esc(&c.labels[i])
                );
            }
            s.push_str("</tr>");
        }
        s.push_str("</table></div>");
    } else {
        let _ = write!(
            s,
            "<p>{} classes are too many for a readable matrix; the per-class scores follow.</p>",
            c.labels.len()
        );
    }
    s.push_str(
        r#"<h3>Per class</h3><div class="scroll"><table class="data"><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"#,
    );
    let scores = class_scores(c);
    for k in &scores {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&k.label),
            num(k.precision),
            num(k.recall),
            num(k.f1),
            k.support
        );
    }
    let mean = |f: fn(&ClassScores) -> f64| {
        let v: Vec<f64> = scores.iter().map(f).filter(|v| v.is_finite()).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    let _ = write!(
        s,
        "<tr class=\"total\"><td>macro average</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table></div>",
        num(mean(|k| k.precision)),
        num(mean(|k| k.recall)),
        num(mean(|k| k.f1)),
        scores.iter().map(|k| k.support).sum::<u64>()
    );
    s
}

/// White blended towards blue (correct) or red (errors) by `share`.
fn shade(share: f64, diagonal: bool) -> String {
    let (r, g, b) = if diagonal {
        (33.0, 102.0, 172.0)
    } else {
        (203.0, 24.0, 29.0)
    };
    let t = share.clamp(0.0, 1.0).sqrt(); // sqrt: small error rates stay visible
    let mix = |c: f64| (255.0 + (c - 255.0) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(r), mix(g), mix(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_by_hand() {
        // True a: 3 right, 1 as b. True b: 2 as a, 2 right. True c: none; c predicted never.
        let c = Confusion {
            split: "val".into(),
            labels: vec!["a".into(), "b".into(), "c".into()],
            matrix: vec![vec![3, 1, 0], vec![2, 2, 0], vec![0, 0, 0]],
        };
        let s = class_scores(&c);
        // a: precision 3/5, recall 3/4, F1 = 2·0.6·0.75/1.35 = 2/3.
        assert!((s[0].precision - 0.6).abs() < 1e-12);
        assert!((s[0].recall - 0.75).abs() < 1e-12);
        assert!((s[0].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s[0].support, 4);
        // b: precision 2/3, recall 1/2, F1 = 4/7.
        assert!((s[1].f1 - 4.0 / 7.0).abs() < 1e-12);
        // c: undefined everywhere.
        assert!(s[2].precision.is_nan() && s[2].recall.is_nan() && s[2].f1.is_nan());
        assert!((accuracy(&c) - 5.0 / 8.0).abs() < 1e-12);
        let html = html(&c);
        assert!(html.contains("accuracy 0.625 over 8 examples"), "{html}");
        // The diagonal cell of a (3 of 4) is blue, the error cell (1 of 4) red.
        assert!(html.contains(&format!("background:{}", shade(0.75, true))));
        assert!(html.contains(&format!("background:{}", shade(0.25, false))));
        assert_eq!(shade(0.0, true), "#ffffff");
        assert_eq!(shade(1.0, false), "#cb181d");
    }
}
