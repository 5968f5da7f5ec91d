//! Round trips through `EventWriter` and `read_events`, corruption detection, and a sample
//! run for `scripts/check_tensorboard.py`.

use super::proto::{Event, Value, What};
use super::*;
use crate::records::{HistogramKind, HistogramRecord};
use std::path::PathBuf;

/// A fresh directory under the system temp dir, unique per test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-tb-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn histogram() -> HistogramRecord {
    // Values -1, 0.5, 0.5, 2: buckets (-inf, 0], (0, 1], (1, 2].
    HistogramRecord {
        step: 3,
        epoch: 1,
        name: "0.weight".into(),
        kind: HistogramKind::Weight,
        min: -1.0,
        max: 2.0,
        num: 4.0,
        sum: 2.0,
        sum_squares: 1.0 + 0.25 + 0.25 + 4.0,
        bucket_limits: vec![0.0, 1.0, 2.0],
        counts: vec![1.0, 2.0, 1.0],
    }
}

/// A 3×2 RGB PNG whose pixel (x, y) is (40x, 100y, 7).
fn png() -> Vec<u8> {
    let rgb = (0..2u8)
        .flat_map(|y| (0..3u8).flat_map(move |x| [40 * x, 100 * y, 7]))
        .collect();
    let img = strata_data::Picture::new(3, 2, 3, rgb).unwrap();
    img.encode_png().unwrap()
}

fn write_sample(dir: &std::path::Path) -> PathBuf {
    let mut tb = EventWriter::create(dir).unwrap();
    for step in 1..=3u64 {
        tb.add_scalar("train/loss", 1.0 / step as f64, step)
            .unwrap();
    }
    tb.add_scalar("val/accuracy", 0.875, 3).unwrap();
    tb.add_histogram("weights/0.weight", &histogram(), 3)
        .unwrap();
    tb.add_image_png("images/sample", &png(), 3, 2, 3, 3)
        .unwrap();
    tb.flush().unwrap();
    tb.path().to_path_buf()
}

fn only_value(event: &Event) -> (&str, &Value) {
    let Some(What::Summary(s)) = &event.what else {
        panic!("not a summary: {event:?}")
    };
    assert_eq!(s.value.len(), 1);
    (&s.value[0].tag, s.value[0].value.as_ref().unwrap())
}

#[test]
fn scalars_histograms_and_images_round_trip() {
    let dir = temp_dir("round-trip");
    let path = write_sample(&dir);
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("events.out.tfevents."), "{name}");

    let events = read_events(&path).unwrap();
    assert_eq!(events.len(), 7);
    assert_eq!(
        events[0].what,
        Some(What::FileVersion("brain.Event:2".into()))
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(events.iter().all(|e| (now - e.wall_time).abs() < 600.0));

    let steps: Vec<i64> = events[1..].iter().map(|e| e.step).collect();
    assert_eq!(steps, [1, 2, 3, 3, 3, 3]);
    let (tag, value) = only_value(&events[2]);
    assert_eq!((tag, value), ("train/loss", &Value::SimpleValue(0.5)));
    let (tag, value) = only_value(&events[4]);
    assert_eq!((tag, value), ("val/accuracy", &Value::SimpleValue(0.875)));

    let (tag, Value::Histo(h)) = only_value(&events[5]) else {
        panic!("no histogram")
    };
    assert_eq!(tag, "weights/0.weight");
    let (min, max, num, sum, sq) = (h.min, h.max, h.num, h.sum, h.sum_squares);
    assert_eq!((min, max, num, sum, sq), (-1.0, 2.0, 4.0, 2.0, 5.5));
    assert_eq!(h.bucket_limit, [0.0, 1.0, 2.0]);
    assert_eq!(h.bucket, [1.0, 2.0, 1.0]);

    let (tag, Value::Image(img)) = only_value(&events[6]) else {
        panic!("no image")
    };
    assert_eq!(tag, "images/sample");
    assert_eq!((img.width, img.height, img.colorspace), (3, 2, 3));
    let decoded =
        strata_data::Picture::decode(&img.encoded_image_string, "sample.png".as_ref()).unwrap();
    // Pixel (2, 1): the last of the six.
    assert_eq!(decoded.pixels()[15..], [80, 100, 7]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_writers_in_one_second_get_two_files() {
    let dir = temp_dir("two-writers");
    let a = EventWriter::create(&dir).unwrap();
    let b = EventWriter::create(&dir).unwrap();
    assert_ne!(a.path(), b.path());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn invalid_histograms_and_images_are_refused() {
    let dir = temp_dir("invalid");
    let mut tb = EventWriter::create(&dir).unwrap();
    let mut h = histogram();
    h.counts.pop();
    let err = tb.add_histogram("h", &h, 1).unwrap_err();
    assert_eq!(err.to_string(), "histogram h: 3 bucket limits but 2 counts");
    let err = tb.add_image_png("i", b"GIF89a", 1, 1, 3, 1).unwrap_err();
    assert_eq!(err.to_string(), "image i: the bytes are not a PNG file");
    let err = tb.add_image_png("i", &png(), 3, 2, 5, 1).unwrap_err();
    assert_eq!(err.to_string(), "image i: 5 channels, not 1 to 4");
    tb.flush().unwrap();
    // Nothing but the file version was written.
    assert_eq!(read_events(tb.path()).unwrap().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_flipped_byte_or_a_truncated_file_is_an_error_naming_path_and_offset() {
    let dir = temp_dir("corrupt");
    let path = write_sample(&dir);
    let bytes = std::fs::read(&path).unwrap();
    let records = read_records(&path).unwrap();
    // The offset of the last record (the image).
    let last = bytes.len() - (12 + records[6].len() + 4);

    let mut flipped = bytes.clone();
    flipped[last + 20] ^= 0x10;
    std::fs::write(&path, &flipped).unwrap();
    let err = read_records(&path).unwrap_err().to_string();
    let expected = format!(
        "{}: bad data CRC of the record at byte {last}",
        path.display()
    );
    assert_eq!(err, expected);

    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = read_events(&path).unwrap_err().to_string();
    let expected = format!("{}: truncated record at byte {last}", path.display());
    assert!(err.starts_with(&expected), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a sample run into `$STRATA_TB_DIR` for `scripts/check_tensorboard.py`:
/// `STRATA_TB_DIR=/tmp/tbrun cargo test -p strata-train --lib tensorboard -- --ignored`.
#[test]
#[ignore = "writes into $STRATA_TB_DIR for scripts/check_tensorboard.py"]
fn write_sample_run_for_tensorboard_check() {
    let dir = PathBuf::from(std::env::var("STRATA_TB_DIR").expect("set STRATA_TB_DIR"));
    let path = write_sample(&dir);
    println!("wrote {}", path.display());
}
