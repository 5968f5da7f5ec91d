//! Damaged files on disk: each error names the file (and the line or record) and says what is
//! wrong.

use crate::common;
use common::{data, gunzip, gzip, scratch};
use std::fs;
use strata_data::*;

fn mnist_copy(dir: &std::path::Path) -> (Vec<u8>, Vec<u8>) {
    let images = gunzip(&fs::read(data("mnist/t10k-images-idx3-ubyte.gz")).unwrap());
    let labels = gunzip(&fs::read(data("mnist/t10k-labels-idx1-ubyte.gz")).unwrap());
    fs::write(dir.join("t10k-images-idx3-ubyte"), &images).unwrap();
    fs::write(dir.join("t10k-labels-idx1-ubyte"), &labels).unwrap();
    (images, labels)
}

#[test]
fn mnist_raw_files_load_and_damage_is_reported() {
    let dir = scratch("mnist_damage");
    let (images, labels) = mnist_copy(&dir);
    // Raw (not gzip) files load the same as the gzip ones.
    let raw = Mnist::load(&dir, Split::Test).unwrap();
    assert_eq!(
        raw.labels(),
        Mnist::load(data("mnist"), Split::Test).unwrap().labels()
    );
    let images_path = dir.join("t10k-images-idx3-ubyte");
    let labels_path = dir.join("t10k-labels-idx1-ubyte");
    let load = || Mnist::load(&dir, Split::Test).unwrap_err().to_string();

    // Truncated image file.
    fs::write(&images_path, &images[..images.len() - 100]).unwrap();
    let e = load();
    assert!(e.starts_with(&images_path.display().to_string()), "{e}");
    assert!(e.contains("truncated: dimensions [10000, 28, 28] of u8 need 7840000 data bytes after the 16-byte header, but only 7839900 follow"), "{e}");

    // Wrong magic number (a label file where the images should be).
    fs::write(&images_path, &labels).unwrap();
    let e = load();
    assert!(
        e.contains("expected u8 images [N, rows, cols], found u8 [10000]"),
        "{e}"
    );
    let mut bad = images.clone();
    bad[0] = 0x1f;
    bad[1] = 0x00;
    fs::write(&images_path, &bad).unwrap();
    assert!(load().contains("not an IDX file: magic number 0x1F000803"));

    // Label/image count mismatch: 9,999 labels.
    fs::write(&images_path, &images).unwrap();
    let mut short = labels[..labels.len() - 1].to_vec();
    short[4..8].copy_from_slice(&9999u32.to_be_bytes());
    fs::write(&labels_path, &short).unwrap();
    let e = load();
    assert!(
        e.ends_with("t10k-labels-idx1-ubyte: 10000 image(s) but 9999 label(s)"),
        "{e}"
    );
    assert!(e.starts_with(&images_path.display().to_string()));

    // A label out of range names its record.
    let mut wrong = labels.clone();
    wrong[8 + 1234] = 10;
    fs::write(&labels_path, &wrong).unwrap();
    let e = load();
    assert_eq!(
        e,
        format!(
            "{}: record 1234: label 10 is out of range (expected 0 to 9)",
            labels_path.display()
        )
    );

    // A gzip file cut short.
    fs::remove_file(&labels_path).unwrap();
    let gz = gzip(&labels);
    fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    let e = load();
    assert!(
        e.contains("t10k-labels-idx1-ubyte.gz: the gzip stream ends early (truncated file?)"),
        "{e}"
    );

    // A missing file.
    let e = Mnist::load(&dir, Split::Train).unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte.gz: cannot read: no such file"),
        "{e}"
    );
}

#[test]
fn cifar_batches_load_from_a_folder_and_damage_is_reported() {
    let dir = scratch("cifar");
    let record = |label: u8, fill: u8| {
        let mut r = vec![label];
        r.extend(std::iter::repeat_n(fill, 3072));
        r
    };
    for i in 1..=5u8 {
        let bytes: Vec<u8> = (0..4).flat_map(|k| record(k + i, 10 * i + k)).collect();
        fs::write(dir.join(format!("data_batch_{i}.bin")), bytes).unwrap();
    }
    fs::write(dir.join("test_batch.bin"), record(9, 255)).unwrap();
    let train = Cifar::load(&dir, CifarKind::Cifar10, Split::Train).unwrap();
    assert_eq!(train.len(), 20);
    assert_eq!(&train.labels()[..5], &[1, 2, 3, 4, 2]);
    let ex = train.get(5).unwrap(); // batch 2, record 1: fill 21
    assert_eq!(ex.input.shape(), &[3, 32, 32]);
    assert!(ex
        .input
        .to_vec::<f32>()
        .unwrap()
        .iter()
        .all(|&v| v == 21.0 / 255.0));
    let test = Cifar::load(&dir, CifarKind::Cifar10, Split::Test).unwrap();
    assert_eq!(
        test.get(0).unwrap().target.to_vec::<i64>().unwrap(),
        vec![9]
    );

    // Truncated last record.
    let path = dir.join("data_batch_3.bin");
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let e = Cifar::load(&dir, CifarKind::Cifar10, Split::Train)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("{}: length 12282 is not a multiple of the 3073-byte record (1 label byte(s) + 3072 pixel bytes): record 3 is truncated to 3063 byte(s)", path.display())
    );
    // CIFAR-100 names missing.
    let e = Cifar::load(&dir, CifarKind::Cifar100Fine, Split::Train)
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.bin: cannot read"), "{e}");
}

#[test]
fn ragged_and_non_numeric_csv_rows_name_the_line() {
    let dir = scratch("csv");
    let path = dir.join("t.csv");
    fs::write(&path, "a,b,label\n1,2,0\n3,4,1\n5,6\n").unwrap();
    let e = CsvDataset::load(&path, &CsvOptions::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: line 4: expected 3 field(s) like line 1, found 2",
            path.display()
        )
    );
    fs::write(&path, "a,b,label\r\n1,2,0\r\n\r\n3,x,1\r\n").unwrap();
    let e = CsvDataset::load(&path, &CsvOptions::new())
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{}: line 4: column 2 (\"b\"): \"x\" is not a finite number",
            path.display()
        )
    );
    let e = TimeSeries::load_csv(&path, &Column::name("nope"), Missing::Error)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column named \"nope\""), "{e}");
}

#[test]
fn text_that_is_not_utf8_names_the_offset() {
    let dir = scratch("text");
    let path = dir.join("t.txt");
    fs::write(&path, b"To be, or not\xc3 to be").unwrap();
    let e = CharText::load(&path).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("{}: not valid UTF-8 at byte offset 13", path.display())
    );
}
