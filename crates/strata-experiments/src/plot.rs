//! Building the experiments' charts on strata-train's SVG charts.

use crate::outcome::{Measured, Plot};
use strata_train::report::svg::{Chart, Guide, Series};

/// A line chart of `series` (each drawn under its name), saved as `plots/<stem>.png`.
pub fn lines(stem: &str, title: &str, x: &str, y: &str, log_y: bool, series: &[&Measured]) -> Plot {
    let mut chart = Chart::lines(title, x, y);
    chart.log_y = log_y;
    chart.integer_x = series
        .iter()
        .all(|s| s.points.iter().all(|p| p.0.fract() == 0.0));
    chart.series = series
        .iter()
        .map(|s| Series {
            name: s.name.clone(),
            points: s.points.clone(),
        })
        .collect();
    Plot {
        stem: stem.to_string(),
        chart,
    }
}

/// The same chart with a dashed horizontal guide (a threshold, a baseline).
pub fn with_guide(mut plot: Plot, y: f64, label: &str) -> Plot {
    plot.chart.guides.push(Guide {
        y,
        label: label.to_string(),
        color: "#c0392b",
        dashed: true,
    });
    plot
}
