//! Every parser on the real files in the repository's `data/` folder, checked against values
//! computed independently (Python's gzip/csv modules) when the files were added.

use crate::common;
use common::data;
use strata_data::*;

#[test]
fn mnist_both_splits_load_with_known_labels_and_pixels() {
    let train = Mnist::load(data("mnist"), Split::Train).unwrap();
    let test = Mnist::load(data("mnist"), Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.image_size(), (28, 28));
    assert_eq!(&train.labels()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(&test.labels()[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
    let mut counts = [0usize; 10];
    train.labels().iter().for_each(|&l| counts[l as usize] += 1);
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    // Byte sums of individual images, from Python.
    let sum = |m: &Mnist, i: usize| m.pixels(i).unwrap().iter().map(|&b| b as u64).sum::<u64>();
    assert_eq!(
        (sum(&train, 0), sum(&train, 59_999), sum(&test, 0)),
        (27_525, 20_920, 18_454)
    );
    let ex = train.get(0).unwrap();
    assert_eq!(ex.input.shape(), &[1, 28, 28]);
    assert_eq!(ex.target.to_vec::<i64>().unwrap(), vec![5]);
    let x = ex.input.to_vec::<f32>().unwrap();
    assert!((x.iter().sum::<f32>() - 27_525.0 / 255.0).abs() < 1e-3);
    assert_eq!(x.iter().cloned().fold(0.0, f32::max), 1.0);
    assert_eq!(x.iter().filter(|&&v| v > 0.0).count(), 166);
    assert_eq!(
        train.clone().flattened().get(0).unwrap().input.shape(),
        &[784]
    );
    let (xs, ys) = test.to_tensors().unwrap();
    assert_eq!(xs.shape(), &[10_000, 1, 28, 28]);
    assert_eq!(ys.to_vec::<i64>().unwrap()[..3], [7, 2, 1]);
    assert!(matches!(
        train.get(60_000),
        Err(DataError::Index {
            index: 60_000,
            len: 60_000
        })
    ));
}

#[test]
fn idx_files_load_as_arrays() {
    let images = IdxArray::load(data("mnist/t10k-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(images.dims(), &[10_000, 28, 28]);
    assert_eq!(images.data().type_name(), "u8");
    let labels = IdxArray::load(data("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(
        labels.to_tensor_i64().unwrap().to_vec::<i64>().unwrap()[..4],
        [7, 2, 1, 0]
    );
}

fn sklearn() -> CsvOptions {
    // scikit-learn's tables start with a summary line "n_samples,n_features,names...".
    CsvOptions::new().skip_lines(1).header(Header::Absent)
}

#[test]
fn sklearn_tables_load_with_known_statistics() {
    let iris = CsvDataset::load(data("tabular/iris.csv"), &sklearn()).unwrap();
    assert_eq!(
        (iris.len(), iris.num_features(), iris.num_classes()),
        (150, 4, 3)
    );
    let s = iris.stats();
    assert!((s.mean[0] - 5.843_333).abs() < 1e-5 && (s.std[0] - 0.825_301_3).abs() < 1e-5);
    assert_eq!(
        iris.get(0).unwrap().input.to_vec::<f32>().unwrap(),
        vec![5.1, 3.5, 1.4, 0.2]
    );
    let z = iris.clone().standardize(&s).unwrap();
    let zs = z.stats();
    assert!(zs.mean.iter().all(|m| m.abs() < 1e-5), "{:?}", zs.mean);
    assert!(
        zs.std.iter().all(|s| (s - 1.0).abs() < 1e-4),
        "{:?}",
        zs.std
    );

    let wine = CsvDataset::load(data("tabular/wine_data.csv"), &sklearn()).unwrap();
    assert_eq!(
        (wine.len(), wine.num_features(), wine.num_classes()),
        (178, 13, 3)
    );
    assert!((wine.stats().mean[0] - 13.000_618).abs() < 1e-4);
    let cancer = CsvDataset::load(data("tabular/breast_cancer.csv"), &sklearn()).unwrap();
    assert_eq!(
        (cancer.len(), cancer.num_features(), cancer.num_classes()),
        (569, 30, 2)
    );
    assert!((cancer.stats().std[0] - 3.520_950_8).abs() < 1e-4);
    // digits.csv.gz: gzip, no header, 64 pixel values and a label.
    let digits = CsvDataset::load(data("tabular/digits.csv.gz"), &CsvOptions::new()).unwrap();
    assert_eq!(
        (digits.len(), digits.num_features(), digits.num_classes()),
        (1797, 64, 10)
    );
    let first = digits.get(0).unwrap();
    assert_eq!(
        first.input.to_vec::<f32>().unwrap().iter().sum::<f32>(),
        294.0
    );
    assert_eq!(first.target.to_vec::<i64>().unwrap(), vec![0]);
    // Without skipping the summary line, wine's rows do not match it, and the error says where.
    let e = CsvDataset::load(data("tabular/wine_data.csv"), &CsvOptions::new()).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("wine_data.csv: line 2: expected 5 field(s) like line 1, found 14"),
        "{e}"
    );
}

#[test]
fn shakespeare_encodes_round_trips_and_windows() {
    let text = CharText::load(data("shakespeare/shakespeare.txt")).unwrap();
    assert_eq!(text.len(), 1_151_361);
    assert_eq!(text.vocab().len(), 76);
    assert_eq!(text.vocab().chars()[..3], ['\n', ' ', '!']);
    let head: String = text.text().chars().take(1000).collect();
    assert!(head.starts_with("HAMLET, PRINCE OF DENMARK"));
    assert_eq!(text.vocab().decode(&text.ids()[..1000]).unwrap(), head);
    let (train, val) = text.windows(100, 100, 0.1).unwrap();
    // 1,036,225 training characters: windows start every 100 while start + 101 <= 1,036,225.
    assert_eq!(train.len(), (1_036_225 - 101) / 100 + 1);
    assert_eq!(val.len(), (115_136 - 101) / 100 + 1);
    let ex = train.get(3).unwrap();
    let (x, y) = (
        ex.input.to_vec::<i64>().unwrap(),
        ex.target.to_vec::<i64>().unwrap(),
    );
    assert_eq!(x[1..], y[..99]);
    assert_eq!(text.vocab().decode(&x).unwrap(), text.text()[300..400]);
}

#[test]
fn co2_missing_values_follow_the_policy() {
    let path = data("timeseries/co2.csv");
    let col = Column::name("co2");
    let e = TimeSeries::load_csv(&path, &col, Missing::Error)
        .unwrap_err()
        .to_string();
    assert!(
        e.ends_with("co2.csv: line 8: column 2 (\"co2\"): missing value"),
        "{e}"
    );
    let dropped = TimeSeries::load_csv(&path, &col, Missing::Drop).unwrap();
    assert_eq!(dropped.len(), 2284 - 59);
    let filled = TimeSeries::load_csv(&path, &col, Missing::Interpolate).unwrap();
    assert_eq!(filled.len(), 2284);
    let v = filled.values();
    assert_eq!((v[0], v[7]), (316.1, 317.5));
    assert!((v[6] - (v[5] + v[7]) / 2.0).abs() < 1e-4);
    let ff = TimeSeries::load_csv(&path, &col, Missing::ForwardFill).unwrap();
    assert_eq!(ff.values()[6], ff.values()[5]);
    let (train, test) = filled.split_at(2000).unwrap();
    let stats = train.stats();
    let w = test.standardize(stats).windows(52, 4, 1).unwrap();
    assert_eq!(w.len(), 284 - 56 + 1);
    let ex = w.get(0).unwrap();
    let back = stats.unstandardize(ex.target.to_vec::<f32>().unwrap()[0]);
    assert!((back - v[2052]).abs() < 1e-3);
}

#[test]
fn sunspots_by_quoted_column_name() {
    let s = TimeSeries::load_csv(
        data("timeseries/sunspots.csv"),
        &Column::name("SUNACTIVITY"),
        Missing::Error,
    )
    .unwrap();
    assert_eq!(s.len(), 309);
    assert_eq!((s.values()[0], s.values()[308]), (5.0, 2.9));
    let by_index = TimeSeries::load_csv(
        data("timeseries/sunspots.csv"),
        &Column::Index(-1),
        Missing::Error,
    )
    .unwrap();
    assert_eq!(by_index, s);
    let w = s.windows(20, 1, 1).unwrap();
    assert_eq!(w.len(), 309 - 21 + 1);
}
