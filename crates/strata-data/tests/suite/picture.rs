//! Our PNG/JPEG decoders and resize filter checked against the `image` crate's, on
//! pictures of many sizes and colour types.

use std::path::Path;
use strata_core::Generator;
use strata_data::Picture;

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut g = Generator::new(seed);
    (0..len).map(|_| (g.next_u64() >> 56) as u8).collect()
}

fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format)
        .unwrap();
    out
}

#[test]
fn decoding_matches_image_for_every_colour_type() {
    use image::DynamicImage as D;
    let (w, h) = (13u32, 7u32);
    let n = (w * h) as usize;
    let pictures = [
        D::ImageLuma8(image::GrayImage::from_raw(w, h, noise(n, 1)).unwrap()),
        D::ImageLumaA8(image::GrayAlphaImage::from_raw(w, h, noise(2 * n, 2)).unwrap()),
        D::ImageRgb8(image::RgbImage::from_raw(w, h, noise(3 * n, 3)).unwrap()),
        D::ImageRgba8(image::RgbaImage::from_raw(w, h, noise(4 * n, 4)).unwrap()),
        D::ImageRgb16(
            image::ImageBuffer::from_raw(
                w,
                h,
                noise(6 * n, 5)
                    .chunks(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            )
            .unwrap(),
        ),
    ];
    for (k, img) in pictures.into_iter().enumerate() {
        for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
            if format == image::ImageFormat::Jpeg && !matches!(k, 0 | 2) {
                continue; // JPEG holds 8-bit grey and RGB only
            }
            let bytes = encode(img.clone(), format);
            let ours = Picture::decode(&bytes, Path::new("p")).unwrap();
            let theirs = image::load_from_memory(&bytes).unwrap();
            assert_eq!((ours.width(), ours.height()), (w as usize, h as usize));
            let grey = img.color().channel_count() <= 2;
            assert_eq!(ours.channels(), if grey { 1 } else { 3 }, "{k} {format:?}");
            let expect = if grey {
                theirs.to_luma8().into_raw()
            } else {
                theirs.to_rgb8().into_raw()
            };
            assert_eq!(ours.pixels(), &expect[..], "picture {k} as {format:?}");
            // The grey view agrees with image's luma, which weighs in f32: a value within
            // rounding of a half may land one apart.
            let luma = theirs.to_luma8().into_raw();
            let grey = ours.into_grey();
            let off = grey
                .pixels()
                .iter()
                .zip(&luma)
                .map(|(&a, &b)| a.abs_diff(b));
            assert!(off.max() <= Some(1), "picture {k} as {format:?}: grey");
        }
    }
}

#[test]
fn resizing_matches_image_triangle_filter() {
    for (from, to) in [
        ((28, 28), (14, 20)),
        ((13, 7), (40, 9)),
        ((64, 48), (5, 3)),
        ((3, 50), (17, 1)),
        ((1, 1), (4, 6)),
    ] {
        for channels in [1usize, 3] {
            let pixels = noise(from.0 * from.1 * channels, (from.0 * 31 + to.1) as u64);
            let ours = Picture::new(from.0, from.1, channels, pixels.clone())
                .unwrap()
                .resize(to.0, to.1)
                .unwrap();
            let (w, h) = (from.0 as u32, from.1 as u32);
            let img = if channels == 1 {
                image::DynamicImage::ImageLuma8(image::GrayImage::from_raw(w, h, pixels).unwrap())
            } else {
                image::DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, pixels).unwrap())
            };
            let theirs = img
                .resize_exact(
                    to.0 as u32,
                    to.1 as u32,
                    image::imageops::FilterType::Triangle,
                )
                .into_bytes();
            assert_eq!(ours.pixels().len(), theirs.len());
            // Both filter rows then columns in f32; only the last rounding may differ.
            let worst = ours
                .pixels()
                .iter()
                .zip(&theirs)
                .map(|(&a, &b)| a.abs_diff(b))
                .max()
                .unwrap();
            assert!(worst <= 1, "{from:?} -> {to:?} x{channels}: off by {worst}");
        }
    }
}
