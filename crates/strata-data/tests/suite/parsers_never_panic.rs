//! Every parser, fed random bytes, truncated files and files with flipped bytes, returns
//! `Ok` or `Err` and never panics.

use crate::common;
use common::{data, gzip};
use proptest::prelude::*;
use std::path::Path;
use strata_data::*;

fn p() -> &'static Path {
    Path::new("fuzz.bin")
}

/// Feeds `bytes` to every parser.
fn parse_everything(bytes: &[u8]) {
    let _ = IdxArray::parse(bytes, p());
    for kind in [
        CifarKind::Cifar10,
        CifarKind::Cifar100Fine,
        CifarKind::Cifar100Coarse,
    ] {
        let _ = Cifar::parse(bytes, kind, p());
    }
    for options in [
        CsvOptions::new(),
        CsvOptions::new().skip_lines(1).header(Header::Absent),
        CsvOptions::new()
            .label(Column::name("label"))
            .target(Target::Regression),
        CsvOptions::new().label(Column::Index(0)).delimiter(b';'),
    ] {
        if let Ok(ds) = CsvDataset::parse(bytes, &options, p()) {
            let stats = ds.stats();
            if let Ok(ds) = ds.standardize(&stats) {
                for i in 0..ds.len().min(3) {
                    ds.get(i).unwrap();
                }
            }
        }
    }
    if let Ok(text) = CharText::parse(bytes, p()) {
        let _ = text.windows(4, 3, 0.5);
        let _ = text.vocab().decode(text.ids());
    }
    for col in [Column::Index(-1), Column::Index(1), Column::name("v")] {
        for missing in [
            Missing::Error,
            Missing::Drop,
            Missing::Interpolate,
            Missing::ForwardFill,
        ] {
            if let Ok(s) = TimeSeries::parse_csv(bytes, &col, missing, p()) {
                let _ = s.windows(2, 1, 1);
            }
        }
    }
    let _ = decode_image(bytes, p(), 8, 8, false);
    let _ = decode_image(bytes, p(), 5, 3, true);
}

/// Small valid files of every format, to truncate and damage.
fn seeds() -> Vec<Vec<u8>> {
    let idx = IdxArray::new(vec![3, 2, 2], IdxData::U8((0..12).collect()))
        .unwrap()
        .to_bytes();
    let idx_f64 = IdxArray::new(vec![2], IdxData::F64(vec![1.5, -2.0]))
        .unwrap()
        .to_bytes();
    let mut cifar = vec![3u8];
    cifar.extend(std::iter::repeat_n(7u8, 3072));
    let mut cifar100 = vec![3u8, 55];
    cifar100.extend(std::iter::repeat_n(9u8, 3072));
    let csv = b"a,b,label\n1,2,0\n3.5,-4,1\n,,\n5,6,cat\n".to_vec();
    let series = b"t,v\n1,10\n2,\n3,NA\n4,40\n".to_vec();
    let text = "Now is the winter of our discontent — ünïcode"
        .as_bytes()
        .to_vec();
    let mut png = Vec::new();
    image::GrayImage::from_raw(4, 3, (0..12).map(|v| v * 20).collect())
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut jpeg = Vec::new();
    image::RgbImage::from_raw(8, 8, (0..192).map(|v| v as u8).collect())
        .unwrap()
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let mnist_head = std::fs::read(data("mnist/t10k-labels-idx1-ubyte.gz")).unwrap();
    vec![
        gzip(&idx),
        idx,
        idx_f64,
        cifar.clone(),
        gzip(&cifar),
        cifar100,
        csv.clone(),
        gzip(&csv),
        series,
        text,
        png,
        jpeg,
        mnist_head,
    ]
}

#[test]
fn seeds_are_valid_where_they_should_be() {
    let s = seeds();
    assert_eq!(IdxArray::parse(&s[0], p()).unwrap().dims(), &[3, 2, 2]);
    assert_eq!(
        Cifar::parse(&s[4], CifarKind::Cifar10, p()).unwrap().len(),
        1
    );
    assert!(decode_image(&s[10], p(), 3, 4, true).is_ok());
    assert!(decode_image(&s[11], p(), 8, 8, false).is_ok());
    assert_eq!(IdxArray::parse(&s[12], p()).unwrap().dims(), &[10_000]);
}

#[test]
fn inputs_found_by_cargo_fuzz() {
    // An empty u8 array [6432249, ..., 0, ...] whose other dimensions overflowed the strides
    // of the tensor built from it (a panic in strata-core's `contiguous_strides`).
    let crash = [
        0x0, 0x0, 0x8, 0x8, 0x0, 0x62, 0x24, 0x39, 0x8e, 0x44, 0x1, 0x0, 0x0, 0x0, 0x0, 0x0, 0xff,
        0xec, 0x5c, 0x7e, 0x49, 0xff, 0x0, 0x8, 0x0, 0x0, 0x0, 0x2, 0x3, 0x99, 0x9a, 0x5b, 0x62,
        0x5c, 0x38, 0x93,
    ];
    let e = IdxArray::parse(&crash, p()).unwrap_err().to_string();
    assert!(e.contains("are too large"), "{e}");
    parse_everything(&crash);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        parse_everything(&bytes);
    }

    #[test]
    fn random_bytes_after_a_valid_header(kind in 0usize..4, tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let heads: [&[u8]; 4] = [&[0, 0, 8, 3], &[0, 0, 0x0E, 1, 0, 0, 0, 2], &[0x1f, 0x8b, 8, 0], b"\x89PNG\r\n\x1a\n"];
        let mut bytes = heads[kind].to_vec();
        bytes.extend(tail);
        parse_everything(&bytes);
    }

    #[test]
    fn truncated_valid_files(which in 0usize..13, cut in any::<proptest::sample::Index>()) {
        let seed = &seeds()[which];
        let keep = cut.index(seed.len() + 1);
        parse_everything(&seed[..keep.min(seed.len())]);
    }

    #[test]
    fn damaged_valid_files(which in 0usize..13, flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..6)) {
        let mut seed = seeds()[which].clone();
        if seed.len() > 4096 { seed.truncate(4096); }
        for (at, value) in flips {
            let i = at.index(seed.len());
            seed[i] = value;
        }
        parse_everything(&seed);
    }
}
