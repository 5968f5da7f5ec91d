//! What an experiment hands back: its settings, measured series, plots and checks.

use crate::heatmap::Heatmap;
use serde::Serialize;
use strata_train::report::svg::Chart;

/// The comparison a [`Check`] makes between its measured value and its threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
}

impl Op {
    /// The symbol written in `results.json` and `summary.md`.
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn holds(self, measured: f64, threshold: f64) -> bool {
        // NaN compares false everywhere, so a diverged measurement never holds.
        match self {
            Op::Lt => measured < threshold,
            Op::Le => measured <= threshold,
            Op::Gt => measured > threshold,
            Op::Ge => measured >= threshold,
        }
    }
}

/// One claim of the lesson tested against a measurement.
///
/// ```
/// use strata_experiments::{Check, Op};
/// let c = Check::new("first/last gradient norm, 20-layer sigmoid", 0.003, Op::Lt, 0.01);
/// assert!(c.holds);
/// assert!(!Check::new("diverged", f64::NAN, Op::Lt, 1.0).holds);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    /// Written as `null` in JSON when not finite.
    pub measured: f64,
    pub op: Op,
    pub threshold: f64,
    pub holds: bool,
}

impl Check {
    pub fn new(name: impl Into<String>, measured: f64, op: Op, threshold: f64) -> Check {
        Check {
            name: name.into(),
            measured,
            op,
            threshold,
            holds: op.holds(measured, threshold),
        }
    }
}

/// A named measured series of `(x, y)` points (y per layer, per step, per learning rate).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Measured {
    pub name: String,
    pub x: String,
    pub y: String,
    pub points: Vec<(f64, f64)>,
}

impl Measured {
    pub fn new(name: impl Into<String>, x: &str, y: &str, points: Vec<(f64, f64)>) -> Measured {
        Measured {
            name: name.into(),
            x: x.to_string(),
            y: y.to_string(),
            points,
        }
    }

    /// The y value at `x`, if measured.
    pub fn at(&self, x: f64) -> Option<f64> {
        self.points.iter().find(|p| p.0 == x).map(|p| p.1)
    }
}

/// What a [`Plot`] draws: a line or bar chart, or a heatmap of a matrix.
#[derive(Clone, Debug)]
pub enum Figure {
    Chart(Chart),
    Heatmap(Heatmap),
}

impl Figure {
    /// The figure as a standalone `<svg>` element.
    ///
    /// ```
    /// use strata_experiments::{heatmap::Heatmap, Figure};
    /// let map = Heatmap { title: "w".into(), x_label: "s".into(), y_label: "t".into(), rows: vec![vec![1.0]] };
    /// assert!(Figure::Heatmap(map).render().starts_with("<svg "));
    /// ```
    pub fn render(&self) -> String {
        match self {
            Figure::Chart(c) => c.render(),
            Figure::Heatmap(h) => h.render(),
        }
    }
}

/// A figure saved as `plots/<stem>.png` and shown in `report.html`.
#[derive(Clone, Debug)]
pub struct Plot {
    pub stem: String,
    pub figure: Figure,
}

/// Everything one run of an experiment measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The experiment's name (`vanishing-gradients`).
    pub name: String,
    /// One line: the claim under test.
    pub title: String,
    /// The run's settings (seed, sizes, steps, learning rates), written to `results.json`.
    pub settings: serde_json::Value,
    pub series: Vec<Measured>,
    pub plots: Vec<Plot>,
    /// Markdown: what was measured, the numbers and what they mean; the checks are added
    /// by the writer.
    pub findings: String,
    pub checks: Vec<Check>,
    /// Wall-clock seconds of the run (filled in by [`crate::run`]).
    pub seconds: f64,
}

impl Outcome {
    /// The measured series called `name`.
    pub fn series(&self, name: &str) -> Option<&Measured> {
        self.series.iter().find(|s| s.name == name)
    }

    /// The check called `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// True when every check holds.
    pub fn all_hold(&self) -> bool {
        self.checks.iter().all(|c| c.holds)
    }
}
