//! [`CsvDataset`]: a table of numeric features and a label column.

use super::csv_records::{number, read_records, resolve, Column, Header};
use crate::{check_index, DataError, Dataset, Example, Result};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use strata_core::Tensor;

/// What the label column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Class labels, as i64 targets. Labels that are all non-negative integers are the class
    /// indices; otherwise the distinct labels, sorted, are numbered from 0.
    Class,
    /// A number to predict, as an f32 target.
    Regression,
}

/// How to read a CSV table.
///
/// ```
/// use strata_data::{Column, CsvOptions, Header};
/// // scikit-learn's iris.csv: a summary line to skip, no header, the label last.
/// let iris = CsvOptions::new().skip_lines(1).header(Header::Absent);
/// // A file with a header and a named label column, separated by semicolons.
/// let wine = CsvOptions::new().label(Column::name("quality")).delimiter(b';');
/// # let _ = (iris, wine);
/// ```
#[derive(Clone, Debug)]
pub struct CsvOptions {
    label: Column,
    header: Header,
    delimiter: u8,
    skip_lines: usize,
    target: Target,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions::new()
    }
}

impl CsvOptions {
    /// Label in the last column, header detected, comma-separated, class labels.
    pub fn new() -> Self {
        CsvOptions {
            label: Column::Index(-1),
            header: Header::Auto,
            delimiter: b',',
            skip_lines: 0,
            target: Target::Class,
        }
    }

    /// The label column (default: the last).
    pub fn label(mut self, column: Column) -> Self {
        self.label = column;
        self
    }

    /// Whether there is a header line (default: detected).
    pub fn header(mut self, header: Header) -> Self {
        self.header = header;
        self
    }

    /// The field separator (default `,`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// Lines to skip before the header or data (default 0).
    pub fn skip_lines(mut self, lines: usize) -> Self {
        self.skip_lines = lines;
        self
    }

    /// What the label column holds (default [`Target::Class`]).
    pub fn target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }
}

/// Per-feature mean and standard deviation, for standardising features.
///
/// ```
/// use strata_data::FeatureStats;
/// let s = FeatureStats { mean: vec![1.0], std: vec![2.0] };
/// let mut row = [5.0];
/// s.apply(&mut row)?;
/// assert_eq!(row, [2.0]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureStats {
    /// The mean of each feature.
    pub mean: Vec<f32>,
    /// The population standard deviation of each feature (1 where it is 0, so that constant
    /// features pass through centred, as scikit-learn's `StandardScaler` does).
    pub std: Vec<f32>,
}

impl FeatureStats {
    /// Standardises one row of features in place: `(x - mean) / std`.
    pub fn apply(&self, row: &mut [f32]) -> Result<()> {
        if row.len() != self.mean.len() {
            return Err(DataError::invalid(
                "FeatureStats::apply",
                format!(
                    "{} feature(s) but statistics for {}",
                    row.len(),
                    self.mean.len()
                ),
            ));
        }
        for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
            *x = (*x - m) / s;
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum Targets {
    Class(Vec<i64>),
    Regression(Vec<f32>),
}

/// Rows of numeric features (f32 `[F]`) with a class (i64) or regression (f32) target.
///
/// ```
/// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
/// use strata_data::{CsvDataset, CsvOptions, Dataset, Header};
/// let iris = CsvDataset::load("data/tabular/iris.csv", &CsvOptions::new().skip_lines(1).header(Header::Absent))?;
/// assert_eq!((iris.len(), iris.num_features(), iris.num_classes()), (150, 4, 3));
/// let stats = iris.stats();
/// let iris = iris.standardize(&stats)?;
/// assert_eq!(iris.get(0)?.input.shape(), &[4]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CsvDataset {
    features: Arc<Vec<f32>>,
    targets: Arc<Targets>,
    feature_names: Vec<String>,
    class_names: Option<Vec<String>>,
    width: usize,
}

impl CsvDataset {
    /// Reads the CSV file at `path` (raw or gzip).
    pub fn load(path: impl AsRef<Path>, options: &CsvOptions) -> Result<CsvDataset> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        CsvDataset::parse(&bytes, options, path)
    }

    /// Parses CSV bytes (raw or gzip). `path` names the source in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_data::{CsvDataset, CsvOptions, Dataset};
    /// let text = b"x,y,label\n1,2,cat\n3,4,dog\n5,6,cat\n";
    /// let ds = CsvDataset::parse(text, &CsvOptions::new(), Path::new("pets.csv"))?;
    /// assert_eq!(ds.class_names(), Some(&["cat".to_string(), "dog".to_string()][..]));
    /// assert_eq!(ds.get(1)?.target.item()?, 1.0);
    /// let err = CsvDataset::parse(b"x,label\n1,0\nfoo,1\n", &CsvOptions::new(), Path::new("t.csv")).unwrap_err();
    /// assert_eq!(err.to_string(), "t.csv: line 3: column 1 (\"x\"): \"foo\" is not a finite number");
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn parse(bytes: &[u8], options: &CsvOptions, path: &Path) -> Result<CsvDataset> {
        let header = match (&options.label, options.header) {
            (Column::Name(_), Header::Auto) => Header::Present,
            (_, h) => h,
        };
        let label_index = |width: usize| -> Option<usize> {
            match options.label {
                Column::Index(i) if i < 0 => (width as i64 + i).try_into().ok(),
                Column::Index(i) => Some(i as usize),
                Column::Name(_) => None,
            }
        };
        let records = read_records(
            bytes,
            path,
            options.delimiter,
            options.skip_lines,
            header,
            |fields| {
                let label = label_index(fields.len());
                fields
                    .iter()
                    .enumerate()
                    .any(|(i, f)| Some(i) != label && number(f).is_none())
            },
        )?;
        if records.rows.is_empty() {
            return Err(DataError::format(path, "no data rows"));
        }
        let label = resolve(&options.label, &records.names, path)?;
        let width = records.names.len() - 1;
        let feature_names: Vec<String> = records
            .names
            .iter()
            .enumerate()
            .filter(|&(i, _)| i != label)
            .map(|(_, n)| n.clone())
            .collect();
        let mut features = Vec::with_capacity(records.rows.len() * width);
        for (line, fields) in &records.rows {
            for (i, field) in fields.iter().enumerate() {
                if i == label {
                    continue;
                }
                let v = number(field).ok_or_else(|| {
                    let what = if field.is_empty() {
                        "is empty (a missing value)".to_string()
                    } else {
                        format!("{field:?} is not a finite number")
                    };
                    DataError::line(
                        path,
                        *line,
                        format!("column {} ({:?}): {what}", i + 1, records.names[i]),
                    )
                })?;
                features.push(v as f32);
            }
        }
        let labels = records
            .rows
            .iter()
            .map(|(line, f)| (*line, f[label].as_str()));
        let (targets, class_names) = match options.target {
            Target::Regression => {
                let mut out = Vec::with_capacity(records.rows.len());
                for (line, field) in labels {
                    let v = number(field).ok_or_else(|| {
                        DataError::line(
                            path,
                            line,
                            format!("label {field:?} is not a finite number"),
                        )
                    })?;
                    out.push(v as f32);
                }
                (Targets::Regression(out), None)
            }
            Target::Class => {
                let labels: Vec<(u64, &str)> = labels.collect();
                let ints: Option<Vec<i64>> = labels
                    .iter()
                    .map(|(_, f)| f.parse::<i64>().ok().filter(|&v| v >= 0))
                    .collect();
                match ints {
                    Some(ints) => (Targets::Class(ints), None),
                    None => {
                        let names: Vec<String> = labels
                            .iter()
                            .map(|(_, f)| f.to_string())
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect();
                        if let Some((line, _)) = labels.iter().find(|(_, f)| f.is_empty()) {
                            return Err(DataError::line(path, *line, "the label is empty"));
                        }
                        let ids = labels
                            .iter()
                            .map(|(_, f)| {
                                names.binary_search_by(|n| n.as_str().cmp(f)).unwrap_or(0) as i64
                            })
                            .collect();
                        (Targets::Class(ids), Some(names))
                    }
                }
            }
        };
        Ok(CsvDataset {
            features: Arc::new(features),
            targets: Arc::new(targets),
            feature_names,
            class_names,
            width,
        })
    }

    /// The number of feature columns.
    pub fn num_features(&self) -> usize {
        self.width
    }

    /// The feature column names (from the header, else `column 1`, `column 2`, ...).
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }

    /// The class names when the labels were text (index `i` is class `i`).
    pub fn class_names(&self) -> Option<&[String]> {
        self.class_names.as_deref()
    }

    /// The number of classes (largest label + 1), or 0 for a regression target.
    pub fn num_classes(&self) -> usize {
        match &*self.targets {
            Targets::Class(v) => v.iter().max().map_or(0, |&m| m as usize + 1),
            Targets::Regression(_) => 0,
        }
    }

    /// The mean and population standard deviation of each feature over all rows.
    pub fn stats(&self) -> FeatureStats {
        let (n, w) = (self.len(), self.width);
        let mut mean = vec![0.0f64; w];
        let mut sq = vec![0.0f64; w];
        for row in self.features.chunks_exact(w.max(1)) {
            for j in 0..w {
                mean[j] += row[j] as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
        for row in self.features.chunks_exact(w.max(1)) {
            for j in 0..w {
                sq[j] += (row[j] as f64 - mean[j]).powi(2);
            }
        }
        let std = sq
            .iter()
            .map(|&s| {
                let sd = (s / n.max(1) as f64).sqrt();
                if sd > 0.0 {
                    sd as f32
                } else {
                    1.0
                }
            })
            .collect();
        FeatureStats {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            std,
        }
    }

    /// The same rows with features standardised by `stats` (use the training set's statistics
    /// for the validation and test sets too).
    pub fn standardize(mut self, stats: &FeatureStats) -> Result<CsvDataset> {
        let mut features = self.features.to_vec();
        for row in features.chunks_exact_mut(self.width.max(1)) {
            stats.apply(row)?;
        }
        self.features = Arc::new(features);
        Ok(self)
    }

    /// All features as one f32 tensor `[N, F]`.
    pub fn features_tensor(&self) -> Result<Tensor> {
        Ok(Tensor::from_vec(
            self.features.to_vec(),
            &[self.len(), self.width],
        )?)
    }

    /// All targets as one tensor `[N]` (i64 classes or f32 values).
    pub fn targets_tensor(&self) -> Result<Tensor> {
        Ok(match &*self.targets {
            Targets::Class(v) => Tensor::from_vec(v.clone(), &[v.len()])?,
            Targets::Regression(v) => Tensor::from_vec(v.clone(), &[v.len()])?,
        })
    }
}

impl Dataset for CsvDataset {
    fn len(&self) -> usize {
        match &*self.targets {
            Targets::Class(v) => v.len(),
            Targets::Regression(v) => v.len(),
        }
    }

    fn get(&self, index: usize) -> Result<Example> {
        check_index(index, self.len())?;
        let row = &self.features[index * self.width..(index + 1) * self.width];
        let target = match &*self.targets {
            Targets::Class(v) => Tensor::scalar(v[index]),
            Targets::Regression(v) => Tensor::scalar(v[index]),
        };
        Ok(Example::new(
            Tensor::from_slice(row, &[self.width])?,
            target,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.csv")
    }

    #[test]
    fn label_by_name_or_index_and_regression() {
        let text = b"a,target,b\n1,0,2\n3,2,4\n";
        let by_name =
            CsvDataset::parse(text, &CsvOptions::new().label(Column::name("target")), p()).unwrap();
        assert_eq!(by_name.feature_names(), &["a", "b"]);
        assert_eq!(by_name.num_classes(), 3);
        let ex = by_name.get(1).unwrap();
        assert_eq!(ex.input.to_vec::<f32>().unwrap(), vec![3.0, 4.0]);
        assert_eq!(ex.target.to_vec::<i64>().unwrap(), vec![2]);
        let by_index =
            CsvDataset::parse(text, &CsvOptions::new().label(Column::Index(1)), p()).unwrap();
        assert_eq!(
            by_index.targets_tensor().unwrap().to_vec::<i64>().unwrap(),
            vec![0, 2]
        );
        let reg = CsvDataset::parse(
            b"1.5,2.5\n3,-4.25\n",
            &CsvOptions::new().target(Target::Regression),
            p(),
        )
        .unwrap();
        assert_eq!(reg.feature_names(), &["column 1"]);
        assert_eq!(
            reg.get(1).unwrap().target.to_vec::<f32>().unwrap(),
            vec![-4.25]
        );
        assert_eq!(reg.num_classes(), 0);
    }

    #[test]
    fn stats_standardize_to_zero_mean_unit_std() {
        let ds = CsvDataset::parse(b"1,10,0\n2,10,1\n3,10,0\n", &CsvOptions::new(), p()).unwrap();
        let s = ds.stats();
        assert_eq!(s.mean, vec![2.0, 10.0]);
        assert!((s.std[0] - (2.0f32 / 3.0).sqrt()).abs() < 1e-6);
        assert_eq!(s.std[1], 1.0); // constant column
        let z = ds
            .standardize(&s)
            .unwrap()
            .features_tensor()
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!((z[0] + 1.2247449).abs() < 1e-5 && z[1] == 0.0 && z[2] == 0.0);
        let bad = FeatureStats {
            mean: vec![0.0],
            std: vec![1.0],
        };
        let ds = CsvDataset::parse(b"1,10,0\n", &CsvOptions::new(), p()).unwrap();
        assert!(ds.standardize(&bad).is_err());
    }

    #[test]
    fn bad_rows_name_the_line_and_column() {
        let err = |t: &[u8], o: &CsvOptions| CsvDataset::parse(t, o, p()).unwrap_err().to_string();
        let o = CsvOptions::new();
        assert_eq!(
            err(b"1,2,0\n3,,1\n", &o),
            "t.csv: line 2: column 2 (\"column 2\"): is empty (a missing value)"
        );
        assert_eq!(
            err(b"1,2,0\n3,4\n", &o),
            "t.csv: line 2: expected 3 field(s) like line 1, found 2"
        );
        assert_eq!(
            err(b"1,2,0\n3,inf,1\n", &o),
            "t.csv: line 2: column 2 (\"column 2\"): \"inf\" is not a finite number"
        );
        assert_eq!(err(b"a,b\n", &o), "t.csv: no data rows");
        assert_eq!(err(b"", &o), "t.csv: no data rows");
        assert!(
            err(b"a,b\n1,2\n", &CsvOptions::new().label(Column::name("c")))
                .contains("no column named")
        );
        assert_eq!(
            err(
                b"1,x\n",
                &CsvOptions::new()
                    .target(Target::Regression)
                    .header(Header::Absent)
            ),
            "t.csv: line 1: label \"x\" is not a finite number"
        );
        assert_eq!(
            err(b"1,a\n2,\n", &CsvOptions::new().header(Header::Absent)),
            "t.csv: line 2: the label is empty"
        );
    }
}
