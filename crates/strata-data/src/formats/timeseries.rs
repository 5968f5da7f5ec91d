//! [`TimeSeries`]: one numeric column of a CSV file, cut into sliding windows for forecasting.

use super::csv_records::{number, read_records, resolve, Column, Header};
use crate::{check_index, DataError, Dataset, Example, Result};
use std::path::Path;
use std::sync::Arc;
use strata_core::Tensor;

/// What to do with missing values (empty fields, `NA`, `NaN`, `null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// A missing value is an error naming its line.
    Error,
    /// Leave missing rows out (the series gets shorter and loses its even spacing).
    Drop,
    /// Fill each gap on a straight line between its neighbours; leading and trailing gaps
    /// take the nearest value.
    Interpolate,
    /// Repeat the last value before the gap (leading gaps take the first value).
    ForwardFill,
}

fn is_missing(field: &str) -> bool {
    field.is_empty()
        || ["na", "nan", "null", "none", "?"]
            .iter()
            .any(|m| field.eq_ignore_ascii_case(m))
}

/// A univariate series of f32 values.
///
/// ```
/// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
/// use strata_data::{Column, Dataset, Missing, TimeSeries};
/// let co2 = TimeSeries::load_csv("data/timeseries/co2.csv", &Column::name("co2"), Missing::Interpolate)?;
/// assert_eq!(co2.len(), 2284);
/// let (train, test) = co2.split_at(2000)?;
/// let stats = train.stats();
/// let windows = train.standardize(stats).windows(52, 4, 1)?;
/// let ex = windows.get(0)?;
/// assert_eq!((ex.input.shape(), ex.target.shape()), (&[52, 1][..], &[4][..]));
/// # let _ = test;
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TimeSeries {
    values: Vec<f32>,
}

/// Mean and population standard deviation of a series.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesStats {
    /// The mean.
    pub mean: f32,
    /// The standard deviation (1 for a constant series).
    pub std: f32,
}

impl SeriesStats {
    /// Undoes standardisation: `z * std + mean` (for reading forecasts).
    ///
    /// ```
    /// let s = strata_data::SeriesStats { mean: 10.0, std: 2.0 };
    /// assert_eq!(s.unstandardize(1.5), 13.0);
    /// ```
    pub fn unstandardize(&self, z: f32) -> f32 {
        z * self.std + self.mean
    }
}

impl TimeSeries {
    /// Reads `column` of the CSV file at `path` (raw or gzip; header detected).
    pub fn load_csv(
        path: impl AsRef<Path>,
        column: &Column,
        missing: Missing,
    ) -> Result<TimeSeries> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        TimeSeries::parse_csv(&bytes, column, missing, path)
    }

    /// Parses CSV bytes. `path` names the source in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_data::{Column, Missing, TimeSeries};
    /// let csv = b"t,v\n1,10\n2,\n3,30\n";
    /// let s = TimeSeries::parse_csv(csv, &Column::Index(1), Missing::Interpolate, Path::new("s.csv"))?;
    /// assert_eq!(s.values(), &[10.0, 20.0, 30.0]);
    /// let err = TimeSeries::parse_csv(csv, &Column::Index(1), Missing::Error, Path::new("s.csv")).unwrap_err();
    /// assert_eq!(err.to_string(), "s.csv: line 3: column 2 (\"v\"): missing value");
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn parse_csv(
        bytes: &[u8],
        column: &Column,
        missing: Missing,
        path: &Path,
    ) -> Result<TimeSeries> {
        let header = match column {
            Column::Name(_) => Header::Present,
            Column::Index(_) => Header::Auto,
        };
        let records = read_records(bytes, path, b',', 0, header, |fields| {
            fields.iter().any(|f| !is_missing(f) && number(f).is_none())
        })?;
        if records.rows.is_empty() {
            return Err(DataError::format(path, "no data rows"));
        }
        let col = resolve(column, &records.names, path)?;
        let mut raw: Vec<Option<f32>> = Vec::with_capacity(records.rows.len());
        for (line, fields) in &records.rows {
            let field = &fields[col];
            let where_ = format!("column {} ({:?})", col + 1, records.names[col]);
            if is_missing(field) {
                if missing == Missing::Error {
                    return Err(DataError::line(
                        path,
                        *line,
                        format!("{where_}: missing value"),
                    ));
                }
                raw.push(None);
                continue;
            }
            let v = number(field).ok_or_else(|| {
                DataError::line(
                    path,
                    *line,
                    format!("{where_}: {field:?} is not a finite number"),
                )
            })?;
            raw.push(Some(v as f32));
        }
        let values = fill(&raw, missing).ok_or_else(|| {
            DataError::format(
                path,
                format!("column {} has no values, only missing ones", col + 1),
            )
        })?;
        Ok(TimeSeries { values })
    }

    /// A series from values (each must be finite).
    ///
    /// ```
    /// use strata_data::TimeSeries;
    /// assert_eq!(TimeSeries::from_values(vec![1.0, 2.0])?.len(), 2);
    /// assert!(TimeSeries::from_values(vec![f32::NAN]).is_err());
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn from_values(values: Vec<f32>) -> Result<TimeSeries> {
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(DataError::invalid(
                "TimeSeries::from_values",
                format!("value {} at position {i} is not finite", values[i]),
            ));
        }
        Ok(TimeSeries { values })
    }

    /// The values.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The first `index` values and the rest (a split in time, for train and test).
    pub fn split_at(&self, index: usize) -> Result<(TimeSeries, TimeSeries)> {
        if index > self.len() {
            return Err(DataError::invalid(
                "TimeSeries::split_at",
                format!(
                    "index {index} is past the end of a series of {}",
                    self.len()
                ),
            ));
        }
        let (a, b) = self.values.split_at(index);
        Ok((
            TimeSeries { values: a.to_vec() },
            TimeSeries { values: b.to_vec() },
        ))
    }

    /// Mean and population standard deviation.
    pub fn stats(&self) -> SeriesStats {
        let n = self.values.len().max(1) as f64;
        let mean = self.values.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = self
            .values
            .iter()
            .map(|&v| (v as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = var.sqrt();
        SeriesStats {
            mean: mean as f32,
            std: if std > 0.0 { std as f32 } else { 1.0 },
        }
    }

    /// `(v - mean) / std` for every value (use the training part's statistics for the test
    /// part too).
    pub fn standardize(&self, stats: SeriesStats) -> TimeSeries {
        TimeSeries {
            values: self
                .values
                .iter()
                .map(|&v| (v - stats.mean) / stats.std)
                .collect(),
        }
    }

    /// Sliding windows for forecasting: example `k` has input the `input_len` values from
    /// `p = k * stride` as `[input_len, 1]` (time steps × one feature, for recurrent nets)
    /// and target the next `horizon` values as `[horizon]`.
    pub fn windows(
        &self,
        input_len: usize,
        horizon: usize,
        stride: usize,
    ) -> Result<SeriesWindows> {
        SeriesWindows::new(Arc::new(self.values.clone()), input_len, horizon, stride)
    }
}

/// Resolves gaps; `None` when every value is missing.
fn fill(raw: &[Option<f32>], missing: Missing) -> Option<Vec<f32>> {
    let first = raw.iter().flatten().next().copied()?;
    Some(match missing {
        Missing::Error | Missing::Drop => raw.iter().flatten().copied().collect(),
        Missing::ForwardFill => {
            let mut last = first;
            raw.iter()
                .map(|v| {
                    if let Some(v) = v {
                        last = *v;
                    }
                    last
                })
                .collect()
        }
        Missing::Interpolate => {
            let known: Vec<(usize, f32)> = raw
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| (i, v)))
                .collect();
            let mut out = Vec::with_capacity(raw.len());
            let mut k = 0; // known[k] is the first known point at or after i
            for i in 0..raw.len() {
                while k < known.len() && known[k].0 < i {
                    k += 1;
                }
                let v = match (k.checked_sub(1).map(|j| known[j]), known.get(k)) {
                    (_, Some(&(j, v))) if j == i => v,
                    (Some((i0, v0)), Some(&(i1, v1))) => {
                        let t = (i - i0) as f32 / (i1 - i0) as f32;
                        v0 + t * (v1 - v0)
                    }
                    (Some((_, v0)), None) => v0,
                    (None, Some(&(_, v1))) => v1,
                    (None, None) => first,
                };
                out.push(v);
            }
            out
        }
    })
}

/// Sliding (input, horizon) windows over a series (see [`TimeSeries::windows`]).
///
/// ```
/// use strata_data::{Dataset, TimeSeries};
/// let s = TimeSeries::from_values((0..10).map(|v| v as f32).collect())?;
/// let w = s.windows(3, 2, 1)?;
/// assert_eq!(w.len(), 6); // starts 0..=5
/// let ex = w.get(5)?;
/// assert_eq!(ex.input.to_vec::<f32>()?, vec![5.0, 6.0, 7.0]);
/// assert_eq!(ex.target.to_vec::<f32>()?, vec![8.0, 9.0]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SeriesWindows {
    values: Arc<Vec<f32>>,
    input_len: usize,
    horizon: usize,
    stride: usize,
    count: usize,
}

impl SeriesWindows {
    /// Windows over `values`; errors when a length is zero or the series is too short.
    pub fn new(
        values: Arc<Vec<f32>>,
        input_len: usize,
        horizon: usize,
        stride: usize,
    ) -> Result<SeriesWindows> {
        if input_len == 0 || horizon == 0 || stride == 0 {
            return Err(DataError::invalid(
                "TimeSeries::windows",
                format!("input_len ({input_len}), horizon ({horizon}) and stride ({stride}) must be positive"),
            ));
        }
        let span = input_len.saturating_add(horizon);
        if values.len() < span {
            return Err(DataError::invalid(
                "TimeSeries::windows",
                format!(
                    "a series of {} value(s) is too short for a window of {input_len} inputs and {horizon} targets",
                    values.len()
                ),
            ));
        }
        let count = (values.len() - span) / stride + 1;
        Ok(SeriesWindows {
            values,
            input_len,
            horizon,
            stride,
            count,
        })
    }
}

impl Dataset for SeriesWindows {
    fn len(&self) -> usize {
        self.count
    }

    fn get(&self, index: usize) -> Result<Example> {
        check_index(index, self.count)?;
        let p = index * self.stride;
        let (input, target) =
            self.values[p..p + self.input_len + self.horizon].split_at(self.input_len);
        Ok(Example::new(
            Tensor::from_slice(input, &[self.input_len, 1])?,
            Tensor::from_slice(target, &[self.horizon])?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_value_policies() {
        let raw = [None, Some(1.0), None, None, Some(4.0), None];
        assert_eq!(fill(&raw, Missing::Drop).unwrap(), vec![1.0, 4.0]);
        assert_eq!(
            fill(&raw, Missing::ForwardFill).unwrap(),
            vec![1.0, 1.0, 1.0, 1.0, 4.0, 4.0]
        );
        assert_eq!(
            fill(&raw, Missing::Interpolate).unwrap(),
            vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
        );
        assert_eq!(fill(&[None, None], Missing::Interpolate), None);
        let p = Path::new("s.csv");
        let e = TimeSeries::parse_csv(b"v\nNA\n", &Column::Index(0), Missing::Drop, p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.csv: column 1 has no values, only missing ones"
        );
        let e =
            TimeSeries::parse_csv(b"v\n1\nabc\n", &Column::Index(0), Missing::Drop, p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "s.csv: line 3: column 1 (\"v\"): \"abc\" is not a finite number"
        );
        let s = TimeSeries::parse_csv(b"1\n2\n", &Column::Index(0), Missing::Error, p).unwrap();
        assert_eq!(s.values(), &[1.0, 2.0]);
    }

    #[test]
    fn windows_and_stats() {
        let s = TimeSeries::from_values(vec![1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let st = s.stats();
        assert_eq!(st.mean, 3.0);
        assert!((st.std - 2.0f32.sqrt()).abs() < 1e-6);
        let z = s.standardize(st);
        assert!((z.values()[4] - 2.0f32.sqrt()).abs() < 1e-6);
        assert_eq!(st.unstandardize(z.values()[4]), 5.0);
        let w = s.windows(2, 1, 2).unwrap();
        assert_eq!(w.len(), 2); // starts 0 and 2
        assert!(s.windows(5, 1, 1).is_err());
        assert!(s.windows(0, 1, 1).is_err());
        assert_eq!(s.windows(4, 1, 1).unwrap().len(), 1);
        let (a, b) = s.split_at(2).unwrap();
        assert_eq!((a.len(), b.len()), (2, 3));
        assert!(s.split_at(6).is_err());
    }
}
