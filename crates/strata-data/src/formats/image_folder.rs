//! [`ImageFolder`]: one subfolder per class, PNG or JPEG files inside, resized on load.

use super::Picture;
use super::U8_TO_UNIT;
use crate::{check_index, DataError, Dataset, Example, Result};
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use strata_core::Tensor;

/// Images in class folders (`root/cat/001.png`, `root/dog/a.jpg`, ...), like torchvision's
/// `ImageFolder`: classes are the subfolder names in sorted order, files are found
/// recursively in sorted order, and each image is decoded, converted to RGB (or grey) and
/// resized to `height × width` (bilinear) when it is read, so decoding happens on the data
/// loader's worker threads. Inputs are f32 `[C, height, width]` in `[0, 1]`; targets are
/// i64 class indices.
///
/// ```no_run
/// use strata_data::{Dataset, ImageFolder};
/// let pets = ImageFolder::load("data/pets", 64, 64)?;
/// println!("{} images of {:?}", pets.len(), pets.classes());
/// let ex = pets.get(0)?;
/// assert_eq!(ex.input.shape(), &[3, 64, 64]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ImageFolder {
    classes: Vec<String>,
    samples: Arc<Vec<(PathBuf, usize)>>,
    height: usize,
    width: usize,
    grey: bool,
    /// Decoded pixels of every sample, `[N, C, H, W]` u8, after [`ImageFolder::preload`].
    cache: Option<Arc<Vec<u8>>>,
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
}

/// Sorted entries of a folder.
fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))? {
        out.push(entry.map_err(|e| DataError::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

/// Image files under `dir`, recursively, in sorted order.
fn images_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for path in entries(dir)? {
        if path.is_dir() {
            images_under(&path, out)?;
        } else if is_image(&path) {
            out.push(path);
        }
    }
    Ok(())
}

impl ImageFolder {
    /// Scans `root` for class folders and their images (nothing is decoded yet). Errors when
    /// there are no class folders or a class has no images.
    pub fn load(root: impl AsRef<Path>, height: usize, width: usize) -> Result<ImageFolder> {
        let root = root.as_ref();
        if height == 0 || width == 0 {
            return Err(DataError::invalid(
                "ImageFolder::load",
                format!("image size {height}x{width} must be positive"),
            ));
        }
        let mut classes = Vec::new();
        let mut samples = Vec::new();
        for dir in entries(root)?.into_iter().filter(|p| p.is_dir()) {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut files = Vec::new();
            images_under(&dir, &mut files)?;
            if files.is_empty() {
                return Err(DataError::format(
                    &dir,
                    "class folder has no .png, .jpg or .jpeg files",
                ));
            }
            let class = classes.len();
            samples.extend(files.into_iter().map(|f| (f, class)));
            classes.push(name);
        }
        if classes.is_empty() {
            return Err(DataError::format(
                root,
                "no class subfolders (expected root/<class>/<image>.png)",
            ));
        }
        Ok(ImageFolder {
            classes,
            samples: Arc::new(samples),
            height,
            width,
            grey: false,
            cache: None,
        })
    }

    /// Converts images to one grey channel (`[1, H, W]`) instead of RGB.
    pub fn grayscale(mut self) -> Self {
        self.grey = true;
        self.cache = None;
        self
    }

    /// The class names; class `i` is `classes()[i]`.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Every (file, class index) pair, in dataset order.
    pub fn samples(&self) -> &[(PathBuf, usize)] {
        &self.samples
    }

    fn channels(&self) -> usize {
        if self.grey {
            1
        } else {
            3
        }
    }

    /// Decodes every image now, in parallel, and keeps the resized pixels in memory (a
    /// `C × H × W` byte image each). The first unreadable file is the error.
    pub fn preload(mut self) -> Result<Self> {
        // Size rayon's pool by STRATA_NUM_THREADS before it first runs (see Mnist::from_files).
        strata_core::size_thread_pool();
        let decoded: Vec<Vec<u8>> = self
            .samples
            .par_iter()
            .map(|(path, _)| {
                let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
                decode_pixels(&bytes, path, self.height, self.width, self.grey)
            })
            .collect::<Result<_>>()?;
        self.cache = Some(Arc::new(decoded.concat()));
        Ok(self)
    }

    fn pixels_of(&self, index: usize) -> Result<std::borrow::Cow<'_, [u8]>> {
        let size = self.channels() * self.height * self.width;
        if let Some(cache) = &self.cache {
            return Ok(std::borrow::Cow::Borrowed(
                &cache[index * size..(index + 1) * size],
            ));
        }
        let path = &self.samples[index].0;
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        Ok(std::borrow::Cow::Owned(decode_pixels(
            &bytes,
            path,
            self.height,
            self.width,
            self.grey,
        )?))
    }
}

/// Decodes PNG or JPEG bytes into a planar `[C, height, width]` byte image (RGB, or grey
/// when `grey`), resizing bilinearly when the size differs. `path` names the file in errors.
fn decode_pixels(
    bytes: &[u8],
    path: &Path,
    height: usize,
    width: usize,
    grey: bool,
) -> Result<Vec<u8>> {
    if height == 0 || width == 0 || height > u32::MAX as usize || width > u32::MAX as usize {
        return Err(DataError::invalid(
            "decode_image",
            format!("image size {height}x{width} must be positive and fit in u32"),
        ));
    }
    let picture = Picture::decode(bytes, path)?;
    // Resize the fewer channels: grey before resizing, RGB after.
    let picture = if grey {
        picture.into_grey().resize(width, height)?
    } else {
        picture.resize(width, height)?.into_rgb()
    };
    Ok(picture.into_planar())
}

/// Decodes one PNG or JPEG image into an f32 tensor `[C, height, width]` in `[0, 1]` (C is 3,
/// or 1 when `grey`), resized bilinearly. `path` names the source in errors.
///
/// ```
/// use std::path::Path;
/// let err = strata_data::decode_image(b"not an image", Path::new("x.png"), 8, 8, false).unwrap_err();
/// assert!(err.to_string().starts_with("x.png: cannot decode image"));
/// ```
pub fn decode_image(
    bytes: &[u8],
    path: &Path,
    height: usize,
    width: usize,
    grey: bool,
) -> Result<Tensor> {
    let pixels = decode_pixels(bytes, path, height, width, grey)?;
    let c = if grey { 1 } else { 3 };
    let x: Vec<f32> = pixels.iter().map(|&p| U8_TO_UNIT[p as usize]).collect();
    Ok(Tensor::from_vec(x, &[c, height, width])?)
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> Result<Example> {
        check_index(index, self.len())?;
        let pixels = self.pixels_of(index)?;
        let x: Vec<f32> = pixels.iter().map(|&p| U8_TO_UNIT[p as usize]).collect();
        Ok(Example::new(
            Tensor::from_vec(x, &[self.channels(), self.height, self.width])?,
            Tensor::scalar(self.samples[index].1 as i64),
        ))
    }
}
