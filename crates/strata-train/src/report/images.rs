//! Image grids for the run directory's `images/`: misclassified examples, first-layer
//! filters and feature maps, each tile min-max normalised on its own.

use crate::{Result, TrainError};
use strata_core::Tensor;
use strata_data::Picture;

/// The colour of the 1-px lines between tiles and of unused cells of the last row.
pub const SEPARATOR: [u8; 3] = [96, 112, 160];

/// `images` (each `[C, H, W]` with C = 1 or 3, or `[H, W]`; f32 or f64) laid out
/// `columns` to a row, separated by 1-px lines, each pixel repeated `scale` × `scale`
/// times, as an RGB PNG. Every image is min-max normalised on its own (all its channels
/// together; a constant image is black, non-finite values are black).
///
/// The PNG is `cols·W·scale + cols − 1` pixels wide and `rows·H·scale + rows − 1` high,
/// with `cols = min(columns, n)` and `rows = ⌈n / cols⌉`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::report::images::grid_png;
/// let tiles: Vec<Tensor> = (0..3).map(|_| Tensor::zeros(&[1, 4, 5])).collect();
/// let png = grid_png(&tiles, 2, 2)?;
/// let img = strata_data::Picture::decode(&png, "grid.png".as_ref())?;
/// assert_eq!((img.width(), img.height()), (2 * 5 * 2 + 1, 2 * 4 * 2 + 1));
/// # Ok::<(), strata_train::TrainError>(())
/// ```
pub fn grid_png(images: &[Tensor], columns: usize, scale: u32) -> Result<Vec<u8>> {
    let what = "image grid";
    let first = images
        .first()
        .ok_or_else(|| TrainError::config(what, "no images"))?;
    if columns == 0 || scale == 0 {
        return Err(TrainError::config(
            what,
            format!("columns and scale must be at least 1, got {columns} and {scale}"),
        ));
    }
    let (c, h, w) = chw(first, 0)?;
    let mut tiles = Vec::with_capacity(images.len());
    for (i, img) in images.iter().enumerate() {
        let dims = chw(img, i)?;
        if dims != (c, h, w) {
            return Err(TrainError::config(
                what,
                format!(
                    "image {i} has shape {:?}, image 0 has {:?}; all must match",
                    img.shape(),
                    first.shape()
                ),
            ));
        }
        tiles.push(normalise(&img.to_vec_f64()));
    }
    let s = scale as usize;
    let cols = columns.min(images.len());
    let rows = images.len().div_ceil(cols);
    let (tw, th) = (w * s, h * s);
    let width = cols * tw + cols - 1;
    let height = rows * th + rows - 1;
    let mut rgb: Vec<u8> = SEPARATOR.repeat(width * height);
    for (k, tile) in tiles.iter().enumerate() {
        let (x0, y0) = ((k % cols) * (tw + 1), (k / cols) * (th + 1));
        for y in 0..th {
            for x in 0..tw {
                let (sy, sx) = (y / s, x / s);
                let o = ((y0 + y) * width + x0 + x) * 3;
                for ch in 0..3 {
                    // Grayscale repeats its one channel.
                    let plane = if c == 3 { ch } else { 0 };
                    rgb[o + ch] = tile[(plane * h + sy) * w + sx];
                }
            }
        }
    }
    encode_rgb(rgb, width as u32, height as u32)
}

/// One tile per output channel of a convolution weight `[out, in, kh, kw]`: the RGB
/// filter when `in == 3`, else input channel 0 — ready for [`grid_png`].
pub fn filter_tiles(weight: &Tensor) -> Result<Vec<Tensor>> {
    let &[out, inp, kh, kw] = weight.shape() else {
        return Err(TrainError::config(
            "filter_tiles",
            format!(
                "expected a [out, in, kh, kw] weight, got shape {:?}",
                weight.shape()
            ),
        ));
    };
    let values = weight.to_vec_f64();
    let channels = if inp == 3 { 3 } else { 1 };
    let plane = kh * kw;
    let mut tiles = Vec::with_capacity(out);
    for o in 0..out {
        let start = o * inp * plane;
        let tile = values[start..start + channels * plane].to_vec();
        tiles.push(Tensor::from_vec(tile, &[channels, kh, kw])?);
    }
    Ok(tiles)
}

/// One grayscale tile per channel of one example's feature maps, `[C, H, W]` or
/// `[1, C, H, W]` — ready for [`grid_png`].
pub fn feature_map_tiles(maps: &Tensor) -> Result<Vec<Tensor>> {
    let (c, h, w) = match *maps.shape() {
        [c, h, w] | [1, c, h, w] => (c, h, w),
        _ => {
            return Err(TrainError::config(
                "feature_map_tiles",
                format!(
                    "expected [C, H, W] or [1, C, H, W], got shape {:?}",
                    maps.shape()
                ),
            ))
        }
    };
    let values = maps.to_vec_f64();
    (0..c)
        .map(|k| {
            Ok(Tensor::from_vec(
                values[k * h * w..(k + 1) * h * w].to_vec(),
                &[h, w],
            )?)
        })
        .collect()
}

/// `(C, H, W)` of image `index`, checking the shape and dtype.
fn chw(img: &Tensor, index: usize) -> Result<(usize, usize, usize)> {
    let bad = |reason: String| TrainError::config("image grid", format!("image {index}: {reason}"));
    if !img.dtype().is_float() {
        return Err(bad(format!(
            "expected f32 or f64 values, got {:?}",
            img.dtype()
        )));
    }
    let dims = match *img.shape() {
        [h, w] => (1, h, w),
        [c @ (1 | 3), h, w] => (c, h, w),
        _ => {
            return Err(bad(format!(
                "expected shape [C, H, W] with C = 1 or 3, or [H, W], got {:?}",
                img.shape()
            )))
        }
    };
    if dims.1 == 0 || dims.2 == 0 {
        return Err(bad(format!("empty image of shape {:?}", img.shape())));
    }
    Ok(dims)
}

/// Values mapped linearly from `[min, max]` to `0..=255`.
fn normalise(values: &[f64]) -> Vec<u8> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let range = hi - lo;
    values
        .iter()
        .map(|&v| {
            if v.is_finite() && range > 0.0 {
                ((v - lo) / range * 255.0).round() as u8
            } else {
                0
            }
        })
        .collect()
}

/// The width and height in a PNG's header (the IHDR chunk right after the signature), read
/// without decoding the image: what a TensorBoard image summary states beside the bytes.
pub(crate) fn png_size(png: &[u8]) -> Result<(u32, u32)> {
    let header = png
        .get(..24)
        .filter(|h| h.starts_with(b"\x89PNG\r\n\x1a\n") && &h[12..16] == b"IHDR");
    let Some(h) = header else {
        return Err(TrainError::config(
            "PNG",
            format!("no PNG header in {} bytes", png.len()),
        ));
    };
    let be = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    Ok((be(16), be(20)))
}

fn encode_rgb(rgb: Vec<u8>, width: u32, height: u32) -> Result<Vec<u8>> {
    let fail = |e: strata_data::DataError| TrainError::config("image grid", e.to_string());
    Picture::new(width as usize, height as usize, 3, rgb)
        .and_then(|p| p.encode_png())
        .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> Picture {
        let img = Picture::decode(png, "grid.png".as_ref()).unwrap();
        assert_eq!(img.channels(), 3);
        img
    }

    fn rgb_at(img: &Picture, x: usize, y: usize) -> [u8; 3] {
        let i = 3 * (y * img.width() + x);
        [img.pixels()[i], img.pixels()[i + 1], img.pixels()[i + 2]]
    }

    #[test]
    fn png_size_reads_the_header_of_every_grid() {
        for (n, columns, scale) in [(1, 1, 1), (3, 2, 2), (7, 3, 4), (64, 8, 6)] {
            let tiles: Vec<Tensor> = (0..n).map(|_| Tensor::zeros(&[1, 5, 3])).collect();
            let png = grid_png(&tiles, columns, scale).unwrap();
            let img = decode(&png);
            let want = (img.width() as u32, img.height() as u32);
            assert_eq!(
                png_size(&png).unwrap(),
                want,
                "{n} tiles, {columns} columns"
            );
            let cut = png_size(&png[..23]).unwrap_err().to_string();
            assert!(cut.contains("no PNG header in 23 bytes"), "{cut}");
        }
        assert!(png_size(b"GIF89a and then some more bytes to pass 24").is_err());
    }

    #[test]
    fn two_by_two_grid_by_hand() {
        // Three 2×2 images in a 2-column grid at scale 2: 2 rows.
        // Image 0: [[0, 1], [2, 3]] → 0, 85, 170, 255.
        // Image 1: constant (f64) → black. Image 2: [[-1, 1], [1, -1]].
        let a = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0], &[2, 2]).unwrap();
        let b = Tensor::from_vec(vec![5.0f64; 4], &[2, 2]).unwrap();
        let d = Tensor::from_vec(vec![-1.0f32, 1.0, 1.0, -1.0], &[2, 2]).unwrap();
        let img = decode(&grid_png(&[a, b, d], 2, 2).unwrap());
        // 2 tiles of 4 px plus one separator: 9 × 9.
        assert_eq!((img.width(), img.height()), (9, 9));
        let px = |x: usize, y: usize| rgb_at(&img, x, y);
        // Image 0, nearest-neighbour upscaled: its (0,1) value fills x 2..4, y 0..2.
        assert_eq!(px(0, 0), [0, 0, 0]);
        assert_eq!(px(1, 1), [0, 0, 0]);
        assert_eq!(px(2, 0), [85, 85, 85]);
        assert_eq!(px(3, 1), [85, 85, 85]);
        assert_eq!(px(0, 2), [170, 170, 170]);
        assert_eq!(px(3, 3), [255, 255, 255]);
        // Separators: column 4 and row 4.
        for i in 0..9 {
            assert_eq!(px(4, i), SEPARATOR, "column 4, y {i}");
            assert_eq!(px(i, 4), SEPARATOR, "row 4, x {i}");
        }
        // Image 1 (constant): black, at x 5..9, y 0..4.
        assert_eq!(px(5, 0), [0, 0, 0]);
        assert_eq!(px(8, 3), [0, 0, 0]);
        // Image 2 at x 0..4, y 5..9.
        assert_eq!(px(0, 5), [0, 0, 0]);
        assert_eq!(px(2, 5), [255, 255, 255]);
        assert_eq!(px(1, 7), [255, 255, 255]);
        assert_eq!(px(3, 8), [0, 0, 0]);
        // The unused cell keeps the separator colour.
        assert_eq!(px(6, 6), SEPARATOR);
    }

    #[test]
    fn rgb_tiles_keep_their_channels() {
        // Red 0..3 ramp, green constant 0, blue = 3: normalised over all channels.
        let v = vec![
            0.0f32, 1.0, 2.0, 3.0, 0.0, 0.0, 0.0, 0.0, 3.0, 3.0, 3.0, 3.0,
        ];
        let t = Tensor::from_vec(v, &[3, 2, 2]).unwrap();
        let img = decode(&grid_png(&[t], 4, 1).unwrap());
        assert_eq!((img.width(), img.height()), (2, 2));
        assert_eq!(rgb_at(&img, 0, 0), [0, 0, 255]);
        assert_eq!(rgb_at(&img, 1, 0), [85, 0, 255]);
        assert_eq!(rgb_at(&img, 1, 1), [255, 0, 255]);
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(grid_png(&[], 2, 1)
            .unwrap_err()
            .to_string()
            .contains("no images"));
        let a = Tensor::zeros(&[2, 2]);
        let b = Tensor::zeros(&[3, 2]);
        let err = grid_png(&[a.clone(), b], 2, 1).unwrap_err().to_string();
        assert!(err.contains("image 1 has shape [3, 2]"), "{err}");
        // Grayscale and RGB do not mix.
        let err = grid_png(&[a.clone(), Tensor::zeros(&[3, 2, 2])], 2, 1).unwrap_err();
        assert!(
            err.to_string().contains("image 1 has shape [3, 2, 2]"),
            "{err}"
        );
        assert!(grid_png(&[a.clone()], 0, 1).is_err());
        let two_channels = Tensor::zeros(&[2, 2, 2]);
        let err = grid_png(&[two_channels], 1, 1).unwrap_err().to_string();
        assert!(err.contains("C = 1 or 3"), "{err}");
        let ints = Tensor::from_vec(vec![1i64; 4], &[2, 2]).unwrap();
        assert!(grid_png(&[ints], 1, 1)
            .unwrap_err()
            .to_string()
            .contains("f32 or f64"));
    }

    #[test]
    fn filters_and_feature_maps_become_tiles() {
        // 2 filters over 3 input channels of 1×2: RGB tiles of the filter's own values.
        let w = Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[2, 3, 1, 2]).unwrap();
        let tiles = filter_tiles(&w).unwrap();
        assert_eq!(tiles.len(), 2);
        assert_eq!(tiles[1].shape(), &[3, 1, 2]);
        assert_eq!(tiles[1].to_vec_f64(), vec![6.0, 7.0, 8.0, 9.0, 10.0, 11.0]);
        // 2 input channels: channel 0 only.
        let w = Tensor::from_vec((0..8).map(|v| v as f32).collect(), &[2, 2, 1, 2]).unwrap();
        let tiles = filter_tiles(&w).unwrap();
        assert_eq!(tiles[1].to_vec_f64(), vec![4.0, 5.0]);
        let maps = Tensor::from_vec((0..8).map(|v| v as f32).collect(), &[1, 2, 2, 2]).unwrap();
        let tiles = feature_map_tiles(&maps).unwrap();
        assert_eq!(tiles.len(), 2);
        assert_eq!(tiles[1].to_vec_f64(), vec![4.0, 5.0, 6.0, 7.0]);
        assert!(filter_tiles(&Tensor::zeros(&[2, 2])).is_err());
        assert!(feature_map_tiles(&Tensor::zeros(&[2, 2, 2, 2])).is_err());
    }
}
