//! Writes a picture grid of augmented MNIST digits so a person can check the augmentation.
//!
//! ```sh
//! cargo run --release -p strata-data --example augment_grid [output.png]
//! ```
//!
//! Columns are eight test digits. Row 1 is the digit as stored; each following row applies
//! one transform alone (with a different random draw per cell; flip and erasing with
//! probability 1 so that their effect shows), and the last two rows apply the whole training
//! set of transforms.

use std::path::PathBuf;
use strata_core::Tensor;
use strata_data::transforms::*;
use strata_data::{sample_generator, DataError, Dataset, Mnist, Picture, Split};

/// Cell size in output pixels (each digit pixel becomes SCALE × SCALE) and the gap between cells.
const SCALE: usize = 3;
const GAP: usize = 4;

fn main() -> Result<(), DataError> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/augment_grid.png"));
    let test = Mnist::load(root.join("data/mnist"), Split::Test)?;

    let rows: Vec<(&str, Box<dyn Transform>)> = vec![
        ("original", Box::new(Compose::new())),
        (
            "RandomCrop(28, padding 4)",
            Box::new(RandomCrop::new(28, 4)),
        ),
        (
            "RandomHorizontalFlip(p 1)",
            Box::new(RandomHorizontalFlip::new(1.0)?),
        ),
        (
            "RandomRotation(30 degrees)",
            Box::new(RandomRotation::new(30.0)?),
        ),
        (
            "RandomAffine(translate 0.15, scale 0.75-1.25, shear 20)",
            Box::new(
                RandomAffine::new()
                    .translate(0.15, 0.15)?
                    .scale(0.75, 1.25)?
                    .shear(-20.0, 20.0)?,
            ),
        ),
        (
            "ColorJitter(brightness 0.6, contrast 0.6)",
            Box::new(ColorJitter::new(0.6, 0.6)?),
        ),
        ("GaussianNoise(0.15)", Box::new(GaussianNoise::new(0.15)?)),
        (
            "RandomErasing(p 1, value 0.5)",
            Box::new(RandomErasing::new(1.0)?.value(0.5)),
        ),
        ("training set (draw 1)", Box::new(training_set()?)),
        ("training set (draw 2)", Box::new(training_set()?)),
    ];
    let digits = [0usize, 1, 2, 3, 4, 7, 8, 11];

    let cell = 28 * SCALE;
    let width = digits.len() * (cell + GAP) + GAP;
    let height = rows.len() * (cell + GAP) + GAP;
    // Grey pixels, row by row; 96 is the background between the cells.
    let mut canvas = Canvas {
        width,
        pixels: vec![96u8; width * height],
    };
    for (r, (name, transform)) in rows.iter().enumerate() {
        println!("row {:2}: {name}", r + 1);
        for (c, &d) in digits.iter().enumerate() {
            let digit = test.get(d)?.input;
            // A distinct, reproducible draw per cell (as the loader would give per sample).
            let mut rng = sample_generator(2024, r as u64, c as u64);
            let img = transform.apply(&digit, &mut rng)?;
            paint(
                &mut canvas,
                &img,
                GAP + c * (cell + GAP),
                GAP + r * (cell + GAP),
            )?;
        }
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DataError::Io {
            path: dir.into(),
            source: e,
        })?;
    }
    let png = Picture::new(width, height, 1, canvas.pixels)?.encode_png()?;
    std::fs::write(&out, png).map_err(|e| DataError::Io {
        path: out.clone(),
        source: e,
    })?;
    let shown = out.canonicalize().unwrap_or(out);
    println!("wrote {}", shown.display());
    Ok(())
}

/// The augmentation used for training (and in the pipeline benchmark), without `Normalize`
/// so that the result can be shown as an image.
fn training_set() -> Result<Compose, DataError> {
    Ok(Compose::new()
        .then(RandomCrop::new(28, 2))
        .then(
            RandomAffine::new()
                .rotate(-15.0, 15.0)?
                .translate(0.1, 0.1)?
                .scale(0.9, 1.1)?,
        )
        .then(ColorJitter::new(0.3, 0.3)?)
        .then(GaussianNoise::new(0.05)?)
        .then(RandomErasing::new(0.5)?.scale(0.02, 0.15)?))
}

/// A grey picture being drawn: `width` pixels to a row.
struct Canvas {
    width: usize,
    pixels: Vec<u8>,
}

/// Draws a `[1, 28, 28]` image in [0, 1] at (x0, y0), each pixel as a SCALE × SCALE block.
fn paint(canvas: &mut Canvas, img: &Tensor, x0: usize, y0: usize) -> Result<(), DataError> {
    let v = img.contiguous().to_vec::<f32>()?;
    for y in 0..28 * SCALE {
        for x in 0..28 * SCALE {
            let p = v[(y / SCALE) * 28 + x / SCALE].clamp(0.0, 1.0);
            canvas.pixels[(y0 + y) * canvas.width + x0 + x] = (p * 255.0).round() as u8;
        }
    }
    Ok(())
}
