//! One measured figure and its line of output, in the shape `bench/pytorch_bench.py --json`
//! prints, so the two frameworks' lines pair up by workload name.

use serde_json::Value;

/// One figure: a workload's median over its repeats, or a single value (a ceiling, memory).
///
/// ```
/// use strata_bench::Measurement;
/// let m = Measurement::new("W1", 38875.0, "samples/s").with_repeats(vec![38000.0, 38875.0, 39000.0]);
/// assert_eq!(
///     m.to_json("strata"),
///     r#"{"fw": "strata", "workload": "W1", "value": 38875.0, "unit": "samples/s", "repeats": [38000.0, 38875.0, 39000.0]}"#
/// );
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    pub workload: String,
    pub value: f64,
    pub unit: String,
    pub repeats: Option<Vec<f64>>,
    /// Process CPU time over wall time while timing (2.0: both cores busy).
    pub cpu_util: Option<f64>,
    /// Further named numbers (a latency's percentiles), printed after the others.
    pub extra: Vec<(String, f64)>,
}

impl Measurement {
    /// A figure with no repeats, CPU use or extras.
    pub fn new(workload: impl Into<String>, value: f64, unit: impl Into<String>) -> Measurement {
        Measurement {
            workload: workload.into(),
            value,
            unit: unit.into(),
            repeats: None,
            cpu_util: None,
            extra: Vec::new(),
        }
    }

    /// The median of `repeats` as the value, with the repeats kept.
    pub fn median_of(workload: impl Into<String>, repeats: Vec<f64>, unit: &str) -> Measurement {
        Measurement::new(workload, median(&repeats), unit).with_repeats(repeats)
    }

    pub fn with_repeats(mut self, repeats: Vec<f64>) -> Measurement {
        self.repeats = Some(repeats);
        self
    }

    pub fn with_cpu_util(mut self, util: f64) -> Measurement {
        self.cpu_util = Some(util);
        self
    }

    pub fn with_extra(mut self, key: &str, value: f64) -> Measurement {
        self.extra.push((key.to_string(), value));
        self
    }

    /// One JSON object on one line, keys in PyTorch's order and numbers rounded to two
    /// decimals as its script does (`json.dumps` separators, floats always with a point).
    pub fn to_json(&self, fw: &str) -> String {
        let mut s = format!(
            "{{\"fw\": {}, \"workload\": {}, \"value\": {}, \"unit\": {}",
            Value::from(fw),
            Value::from(self.workload.as_str()),
            number(self.value),
            Value::from(self.unit.as_str())
        );
        if let Some(r) = &self.repeats {
            let items: Vec<String> = r.iter().map(|&v| number(v)).collect();
            s += &format!(", \"repeats\": [{}]", items.join(", "));
        }
        if let Some(u) = self.cpu_util {
            s += &format!(", \"cpu_util\": {}", number(u));
        }
        for (k, v) in &self.extra {
            s += &format!(", {}: {}", Value::from(k.as_str()), number(*v));
        }
        s + "}"
    }

    /// The human-readable line, as PyTorch's script prints without `--json`.
    pub fn to_text(&self, fw: &str) -> String {
        let mut s = format!(
            "{fw:<8} {:<20} {:>12.1} {}",
            self.workload, self.value, self.unit
        );
        if let Some(r) = &self.repeats {
            let items: Vec<String> = r.iter().map(|v| format!("{v:.1}")).collect();
            s += &format!("  repeats {}", items.join(", "));
        }
        if let Some(u) = self.cpu_util {
            s += &format!("  cpu {u:.2}");
        }
        for (k, v) in &self.extra {
            s += &format!("  {k} {v}");
        }
        s
    }

    /// Reads back a line written by [`Measurement::to_json`] (the `fw` key is ignored).
    /// `None` when the line is not such an object.
    pub fn from_json(line: &str) -> Option<Measurement> {
        let Value::Object(map) = serde_json::from_str::<Value>(line).ok()? else {
            return None;
        };
        let mut m = Measurement::new(
            map.get("workload")?.as_str()?,
            map.get("value")?.as_f64()?,
            map.get("unit")?.as_str()?,
        );
        if let Some(r) = map.get("repeats") {
            let values = r.as_array()?.iter().map(Value::as_f64);
            m.repeats = Some(values.collect::<Option<Vec<f64>>>()?);
        }
        m.cpu_util = map.get("cpu_util").and_then(Value::as_f64);
        for (k, v) in &map {
            if !["fw", "workload", "value", "unit", "repeats", "cpu_util"].contains(&k.as_str()) {
                m.extra.push((k.clone(), v.as_f64()?));
            }
        }
        Some(m)
    }
}

/// The median (the mean of the two middle values for an even count); 0 for no values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// `round(v, 2)` printed as Python prints a float: `12.0`, not `12`.
fn number(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    if !r.is_finite() {
        // JSON has no NaN; Python would print `NaN`, which no JSON reader takes either.
        return "null".to_string();
    }
    if r == r.trunc() && r.abs() < 1e16 {
        format!("{r:.1}")
    } else {
        format!("{r}")
    }
}
