//! 8-bit pictures in and out of PNG and JPEG files: what data loaders decode, `strata
//! predict` reads and the training report writes.
//!
//! Decoding goes straight to the `png` and `zune-jpeg` decoders rather than through a
//! general image library: Strata needs two formats, grey or RGB, and one resize filter
//! (`resize.rs`), and the general library's colour management and pixel-type generics cost
//! the release build about 50 s of CPU.

use crate::{DataError, Result};
use std::io::Cursor;
use std::path::Path;

/// Rec. 709 luma weights out of 10 000, with which image libraries turn RGB into grey.
const LUMA: [u32; 3] = [2126, 7152, 722];

/// An 8-bit picture: `channels` is 1 (grey) or 3 (RGB), pixels interleaved row by row.
///
/// ```
/// use std::path::Path;
/// use strata_data::Picture;
/// let pic = Picture::new(2, 1, 3, vec![255, 0, 0, 0, 0, 255])?;
/// let png = pic.encode_png()?;
/// let back = Picture::decode(&png, Path::new("red_blue.png"))?;
/// assert_eq!(back, pic);
/// assert_eq!(back.into_grey().pixels(), &[54, 18]);
/// let err = Picture::decode(b"GIF89a", Path::new("cat.gif")).unwrap_err();
/// assert_eq!(err.to_string(), "cat.gif: cannot decode image: not a PNG or JPEG file");
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    width: usize,
    height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

impl Picture {
    /// A picture from interleaved pixels. Errors when `channels` is not 1 or 3, a side is
    /// zero, or `pixels` does not hold `width × height × channels` bytes.
    pub fn new(width: usize, height: usize, channels: usize, pixels: Vec<u8>) -> Result<Picture> {
        let invalid = |reason: String| Err(DataError::invalid("picture", reason));
        if channels != 1 && channels != 3 {
            return invalid(format!("channels must be 1 or 3, got {channels}"));
        }
        if width == 0 || height == 0 {
            return invalid(format!("size {width}x{height} must be positive"));
        }
        let expected = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(channels));
        if expected != Some(pixels.len()) {
            return invalid(format!(
                "{} bytes do not make a {width}x{height} picture of {channels} channel(s)",
                pixels.len()
            ));
        }
        Ok(Picture {
            width,
            height,
            channels,
            pixels,
        })
    }

    /// Decodes a PNG or JPEG file (told apart by their signatures). Grey pictures stay grey,
    /// colour ones become RGB; alpha is dropped, palettes expanded and 16-bit samples
    /// rounded to 8 bits. `path` names the file in errors.
    pub fn decode(bytes: &[u8], path: &Path) -> Result<Picture> {
        let fail = |detail: String| DataError::Image {
            path: path.to_path_buf(),
            detail,
        };
        let decoded = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            decode_png(bytes)
        } else if bytes.starts_with(&[0xFF, 0xD8]) {
            decode_jpeg(bytes)
        } else {
            Err("not a PNG or JPEG file".to_string())
        };
        let (width, height, samples_per_pixel, samples) = decoded.map_err(fail)?;
        let pixels = drop_alpha(samples, samples_per_pixel);
        let channels = if samples_per_pixel <= 2 { 1 } else { 3 };
        Picture::new(width, height, channels, pixels).map_err(|e| fail(e.to_string()))
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// 1 for grey, 3 for RGB.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The interleaved pixels, row by row.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// The pixels channel by channel (`[C, H, W]`, as tensors hold images); a grey
    /// picture's pixels are that already and come back without a copy.
    pub fn into_planar(self) -> Vec<u8> {
        if self.channels == 1 {
            return self.pixels;
        }
        let plane = self.width * self.height;
        let mut out = vec![0u8; self.pixels.len()];
        for (i, px) in self.pixels.chunks_exact(self.channels).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                out[c * plane + i] = v;
            }
        }
        out
    }

    /// The picture in grey: RGB becomes Rec. 709 luma, `(2126 R + 7152 G + 722 B) / 10000`
    /// rounded to the nearest value.
    pub fn into_grey(self) -> Picture {
        if self.channels == 1 {
            return self;
        }
        let pixels = self
            .pixels
            .chunks_exact(3)
            .map(|p| {
                let luma: u32 = p.iter().zip(LUMA).map(|(&v, w)| v as u32 * w).sum();
                ((luma + 5_000) / 10_000) as u8
            })
            .collect();
        Picture {
            channels: 1,
            pixels,
            ..self
        }
    }

    /// The picture in RGB: a grey value repeats in all three channels.
    pub fn into_rgb(self) -> Picture {
        if self.channels == 3 {
            return self;
        }
        let pixels = self.pixels.iter().flat_map(|&v| [v, v, v]).collect();
        Picture {
            channels: 3,
            pixels,
            ..self
        }
    }

    /// The picture resized to `width × height` with a triangle (bilinear) filter that
    /// widens when shrinking, so every source pixel counts. Errors when a side is zero.
    pub fn resize(self, width: usize, height: usize) -> Result<Picture> {
        if width == 0 || height == 0 {
            return Err(DataError::invalid(
                "resize",
                format!("size {width}x{height} must be positive"),
            ));
        }
        if (width, height) == (self.width, self.height) {
            return Ok(self);
        }
        let pixels = super::resize::triangle(
            &self.pixels,
            (self.width, self.height),
            (width, height),
            self.channels,
        );
        Ok(Picture {
            width,
            height,
            channels: self.channels,
            pixels,
        })
    }

    /// The picture as a PNG file (8-bit grey or RGB).
    pub fn encode_png(&self) -> Result<Vec<u8>> {
        let fail = |e: png::EncodingError| DataError::invalid("encode PNG", e.to_string());
        let (width, height) = match (u32::try_from(self.width), u32::try_from(self.height)) {
            (Ok(w), Ok(h)) => (w, h),
            _ => {
                return Err(DataError::invalid(
                    "encode PNG",
                    format!("{}x{} is too large for PNG", self.width, self.height),
                ))
            }
        };
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(if self.channels == 1 {
            png::ColorType::Grayscale
        } else {
            png::ColorType::Rgb
        });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(&self.pixels).map_err(fail)?;
        writer.finish().map_err(fail)?;
        Ok(out)
    }
}

/// `(width, height, samples per pixel, 8-bit samples)` of a PNG.
fn decode_png(bytes: &[u8]) -> std::result::Result<(usize, usize, usize, Vec<u8>), String> {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    // Palettes and low bit depths become 8-bit grey or RGB(A); 16 bits stay, to be rounded.
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader
        .output_buffer_size()
        .ok_or("the picture is too large to decode")?;
    let mut buf = vec![0u8; size];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    buf.truncate(info.buffer_size());
    let samples = info.color_type.samples();
    let buf = match info.bit_depth {
        png::BitDepth::Eight => buf,
        // Big-endian 16-bit samples, rounded to the nearest 8-bit value.
        png::BitDepth::Sixteen => buf
            .chunks_exact(2)
            .map(|b| ((u16::from_be_bytes([b[0], b[1]]) as u32 + 128) / 257) as u8)
            .collect(),
        depth => return Err(format!("unexpected bit depth {depth:?} after expansion")),
    };
    Ok((info.width as usize, info.height as usize, samples, buf))
}

/// `(width, height, samples per pixel, samples)` of a JPEG: grey or RGB.
fn decode_jpeg(bytes: &[u8]) -> std::result::Result<(usize, usize, usize, Vec<u8>), String> {
    use zune_core::colorspace::ColorSpace;
    use zune_core::options::DecoderOptions;
    let options = DecoderOptions::default().set_strict_mode(false);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(
        zune_core::bytestream::ZCursor::new(bytes),
        options,
    );
    decoder.decode_headers().map_err(|e| e.to_string())?;
    let grey = matches!(
        decoder.input_colorspace(),
        Some(ColorSpace::Luma | ColorSpace::LumaA)
    );
    let (out, samples) = if grey {
        (ColorSpace::Luma, 1)
    } else {
        (ColorSpace::RGB, 3)
    };
    decoder.set_options(options.jpeg_set_out_colorspace(out));
    let pixels = decoder.decode().map_err(|e| e.to_string())?;
    let (width, height) = decoder
        .dimensions()
        .ok_or("the JPEG headers name no size")?;
    Ok((width, height, samples, pixels))
}

/// Grey-alpha and RGBA samples without their alpha; grey and RGB unchanged.
fn drop_alpha(samples: Vec<u8>, per_pixel: usize) -> Vec<u8> {
    match per_pixel {
        2 | 4 => samples
            .chunks_exact(per_pixel)
            .flat_map(|p| p[..per_pixel - 1].iter().copied())
            .collect(),
        _ => samples,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_of(
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn png_colour_types_come_out_grey_or_rgb() {
        use png::{BitDepth, ColorType};
        let path = Path::new("t.png");
        let rgba = png_of(
            2,
            1,
            ColorType::Rgba,
            BitDepth::Eight,
            &[1, 2, 3, 0, 4, 5, 6, 255],
        );
        let pic = Picture::decode(&rgba, path).unwrap();
        assert_eq!((pic.channels(), pic.pixels()), (3, &[1, 2, 3, 4, 5, 6][..]));
        let grey_alpha = png_of(
            2,
            1,
            ColorType::GrayscaleAlpha,
            BitDepth::Eight,
            &[9, 0, 200, 7],
        );
        let pic = Picture::decode(&grey_alpha, path).unwrap();
        assert_eq!((pic.channels(), pic.pixels()), (1, &[9, 200][..]));
        // 16-bit: 0x8080 = 32896 = 128 × 257 exactly; 0x00FF rounds to 1; 0xFFFF to 255.
        let deep = png_of(
            3,
            1,
            ColorType::Grayscale,
            BitDepth::Sixteen,
            &[0x80, 0x80, 0, 0xFF, 0xFF, 0xFF],
        );
        assert_eq!(
            Picture::decode(&deep, path).unwrap().pixels(),
            &[128, 1, 255]
        );
        // 1-bit grey expands to 0 and 255.
        let bits = png_of(3, 1, ColorType::Grayscale, BitDepth::One, &[0b1010_0000]);
        assert_eq!(
            Picture::decode(&bits, path).unwrap().pixels(),
            &[255, 0, 255]
        );
    }

    #[test]
    fn broken_files_name_themselves() {
        let pic = Picture::new(3, 2, 1, (0..6).collect()).unwrap();
        let png = pic.encode_png().unwrap();
        for cut in [10, 40, png.len() - 5] {
            let err = Picture::decode(&png[..cut], Path::new("cut.png")).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("cut.png: cannot decode image: "),
                "{err}"
            );
        }
        let err = Picture::decode(&[0xFF, 0xD8, 0xFF], Path::new("bad.jpg")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.jpg: cannot decode image: "),
            "{err}"
        );
        let err = Picture::new(2, 2, 3, vec![0; 11]).unwrap_err().to_string();
        assert_eq!(
            err,
            "picture: 11 bytes do not make a 2x2 picture of 3 channel(s)"
        );
        assert!(Picture::new(2, 2, 2, vec![0; 8]).is_err());
        assert!(Picture::new(0, 2, 1, vec![]).is_err());
    }

    #[test]
    fn grey_rgb_and_planar_views() {
        let pic = Picture::new(2, 1, 3, vec![10, 20, 30, 255, 255, 255]).unwrap();
        // (2126·10 + 7152·20 + 722·30) / 10000 = 18.596 → 19.
        assert_eq!(pic.clone().into_grey().pixels(), &[19, 255]);
        assert_eq!(pic.into_planar(), vec![10, 255, 20, 255, 30, 255]);
        let grey = Picture::new(2, 1, 1, vec![7, 9]).unwrap();
        assert_eq!(grey.clone().into_rgb().pixels(), &[7, 7, 7, 9, 9, 9]);
        assert_eq!(grey.clone().into_rgb().into_grey(), grey);
    }
}
