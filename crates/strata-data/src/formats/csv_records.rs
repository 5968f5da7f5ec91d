//! Reading CSV into numbered records, detecting a header and resolving a column.

use crate::io::gunzip_if_gzip;
use crate::{DataError, Result};
use std::path::Path;

/// Which column of a CSV file.
///
/// ```
/// use strata_data::Column;
/// let by_name = Column::name("species");
/// let last = Column::Index(-1);
/// assert_eq!(by_name, Column::Name("species".into()));
/// assert_ne!(last, Column::Index(0));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Column {
    /// By position; negative counts from the end (`-1` is the last column).
    Index(i64),
    /// By its name in the header line.
    Name(String),
}

impl Column {
    /// The column named `name`.
    pub fn name(name: impl Into<String>) -> Column {
        Column::Name(name.into())
    }
}

/// Whether the first line (after any skipped lines) names the columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Header {
    /// A header if some field of the first line (other than the label) is not a number.
    Auto,
    /// The first line is a header.
    Present,
    /// There is no header; columns are named by position.
    Absent,
}

/// The parsed records of a CSV file with their line numbers and the column names.
#[derive(Debug)]
pub(crate) struct Records {
    pub names: Vec<String>,
    /// (line number from 1, fields).
    pub rows: Vec<(u64, Vec<String>)>,
}

/// Reads `bytes` (raw or gzip) as CSV after skipping `skip_lines` lines; every row must have
/// as many fields as the first. `is_header` decides `Header::Auto` from the first row.
pub(crate) fn read_records(
    bytes: &[u8],
    path: &Path,
    delimiter: u8,
    skip_lines: usize,
    header: Header,
    is_header: impl Fn(&[String]) -> bool,
) -> Result<Records> {
    let bytes = gunzip_if_gzip(bytes, path)?;
    let mut start = 0;
    for _ in 0..skip_lines {
        match bytes[start..].iter().position(|&b| b == b'\n') {
            Some(i) => start += i + 1,
            None => start = bytes.len(),
        }
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(&bytes[start..]);
    let body = &bytes[start..];
    // Line numbers from byte offsets (the csv crate's own line count skips blank lines).
    let mut counted_to = 0usize;
    let mut line_of_offset = skip_lines as u64 + 1;
    let mut line_at = |offset: usize| -> u64 {
        // A record's position is where reading began, before any blank lines it skipped.
        let mut offset = offset.min(body.len());
        while offset < body.len() && matches!(body[offset], b'\n' | b'\r') {
            offset += 1;
        }
        if offset > counted_to {
            line_of_offset += body[counted_to..offset]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            counted_to = offset;
        }
        line_of_offset
    };
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line()) + skip_lines as u64;
            DataError::line(path, line, format!("cannot parse CSV: {e}"))
        })?;
        let line = line_at(record.position().map_or(0, |p| p.byte() as usize));
        let mut fields = Vec::with_capacity(record.len());
        for (col, field) in record.iter().enumerate() {
            let text = std::str::from_utf8(field).map_err(|_| {
                DataError::line(path, line, format!("field {} is not valid UTF-8", col + 1))
            })?;
            fields.push(text.trim().to_string());
        }
        if fields.len() == 1 && fields[0].is_empty() {
            continue; // a blank line
        }
        if let Some((first_line, first)) = rows.first() {
            let first: &Vec<String> = first;
            if fields.len() != first.len() {
                return Err(DataError::line(
                    path,
                    line,
                    format!(
                        "expected {} field(s) like line {first_line}, found {}",
                        first.len(),
                        fields.len()
                    ),
                ));
            }
        }
        rows.push((line, fields));
    }
    let has_header = match header {
        Header::Present => true,
        Header::Absent => false,
        Header::Auto => rows.first().is_some_and(|(_, f)| is_header(f)),
    };
    let names = if has_header && !rows.is_empty() {
        rows.remove(0).1
    } else {
        let width = rows.first().map_or(0, |(_, f)| f.len());
        (0..width).map(|i| format!("column {}", i + 1)).collect()
    };
    Ok(Records { names, rows })
}

/// The position of `column` among `names`.
pub(crate) fn resolve(column: &Column, names: &[String], path: &Path) -> Result<usize> {
    match column {
        Column::Index(i) => {
            let n = names.len() as i64;
            let k = if *i < 0 { n + i } else { *i };
            if k < 0 || k >= n {
                return Err(DataError::format(
                    path,
                    format!("column index {i} is out of range for {n} column(s)"),
                ));
            }
            Ok(k as usize)
        }
        Column::Name(name) => names.iter().position(|n| n == name).ok_or_else(|| {
            DataError::format(
                path,
                format!("no column named {name:?} (the header has {names:?})"),
            )
        }),
    }
}

/// A finite number, or `None`.
pub(crate) fn number(field: &str) -> Option<f64> {
    field.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_header(f: &[String]) -> bool {
        f.iter().any(|x| number(x).is_none())
    }

    #[test]
    fn headers_quotes_blank_lines_and_ragged_rows() {
        let p = Path::new("t.csv");
        let text = b"\"YEAR\",\"SUN\"\n1700,5\n\n1701,11\n";
        let r = read_records(text, p, b',', 0, Header::Auto, numeric_header).unwrap();
        assert_eq!(r.names, vec!["YEAR", "SUN"]);
        assert_eq!(
            r.rows,
            vec![
                (2, vec!["1700".into(), "5".into()]),
                (4, vec!["1701".into(), "11".into()])
            ]
        );
        let r = read_records(b"1,2\n3,4\n", p, b',', 0, Header::Auto, numeric_header).unwrap();
        assert_eq!(r.names, vec!["column 1", "column 2"]);
        assert_eq!(r.rows.len(), 2);
        let r = read_records(
            b"junk line\n1;2\n",
            p,
            b';',
            1,
            Header::Absent,
            numeric_header,
        )
        .unwrap();
        assert_eq!(r.rows, vec![(2, vec!["1".into(), "2".into()])]);
        let e = read_records(b"a,b\n1,2\n3\n", p, b',', 0, Header::Auto, numeric_header)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "t.csv: line 3: expected 2 field(s) like line 1, found 1");
        let e = read_records(b"a,b\n1,\xff\n", p, b',', 0, Header::Auto, numeric_header)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "t.csv: line 2: field 2 is not valid UTF-8");
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(resolve(&Column::Index(-1), &names, p).unwrap(), 1);
        assert!(resolve(&Column::Index(2), &names, p).is_err());
        assert!(resolve(&Column::Index(-3), &names, p).is_err());
        assert_eq!(resolve(&Column::name("a"), &names, p).unwrap(), 0);
        assert!(resolve(&Column::name("c"), &names, p)
            .unwrap_err()
            .to_string()
            .contains("no column named \"c\""));
    }
}
