//! Building the experiments' charts on strata-train's SVG charts.

use crate::heatmap::Heatmap;
use crate::outcome::{Figure, Measured, Plot};
use strata_train::report::svg::{Chart, Guide, Series};

/// A line chart of `series` (each drawn under its name), saved as `plots/<stem>.png`.
pub fn lines(stem: &str, title: &str, x: &str, y: &str, log_y: bool, series: &[&Measured]) -> Plot {
    let mut chart = Chart::lines(title, x, y);
    chart.log_y = log_y;
    chart.integer_x = series
        .iter()
        .all(|s| s.points.iter().all(|p| p.0.fract() == 0.0));
    let names = legend_names(series);
    chart.series = series
        .iter()
        .zip(names)
        .map(|(s, name)| Series {
            name,
            points: s.points.clone(),
        })
        .collect();
    Plot {
        stem: stem.to_string(),
        figure: Figure::Chart(chart),
    }
}

/// The series' names without the `/`-separated parts they all share
/// (`init/relu-he/depth-20` → `relu-he` when every series is `init/…/depth-20`).
fn legend_names(series: &[&Measured]) -> Vec<String> {
    let parts: Vec<Vec<&str>> = series.iter().map(|s| s.name.split('/').collect()).collect();
    let shared = |i: usize| {
        series.len() > 1
            && parts
                .iter()
                .all(|p| p.len() == parts[0].len() && p[i] == parts[0][i])
    };
    parts
        .iter()
        .map(|p| {
            let kept: Vec<&str> = (0..p.len()).filter(|&i| !shared(i)).map(|i| p[i]).collect();
            if kept.is_empty() {
                p.join("/")
            } else {
                kept.join("/")
            }
        })
        .collect()
}

/// The same chart with a dashed horizontal guide (a threshold, a baseline).
/// A heatmap drawn as such has no y axis for a guide: it is returned unchanged.
pub fn with_guide(mut plot: Plot, y: f64, label: &str) -> Plot {
    if let Figure::Chart(chart) = &mut plot.figure {
        chart.guides.push(Guide {
            y,
            label: label.to_string(),
            color: "#c0392b",
            dashed: true,
        });
    }
    plot
}

/// A heatmap of `rows` (row 0 at the top), saved as `plots/<stem>.png`.
pub fn heatmap(stem: &str, title: &str, x: &str, y: &str, rows: Vec<Vec<f64>>) -> Plot {
    Plot {
        stem: stem.to_string(),
        figure: Figure::Heatmap(Heatmap {
            title: title.to_string(),
            x_label: x.to_string(),
            y_label: y.to_string(),
            rows,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legends_drop_shared_parts() {
        let a = Measured::new("init/relu-he/depth-20", "x", "y", vec![]);
        let b = Measured::new("init/sigmoid/depth-20", "x", "y", vec![]);
        assert_eq!(legend_names(&[&a, &b]), ["relu-he", "sigmoid"]);
        assert_eq!(legend_names(&[&a]), ["init/relu-he/depth-20"]);
    }
}
