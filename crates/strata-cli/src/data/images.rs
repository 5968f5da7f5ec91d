//! Image data sets (MNIST, CIFAR-10, class folders) and what happens to each image on its
//! way to the model: augmentation (training images only), normalisation, flattening.

use super::{chosen, Parts, Shared};
use crate::config::{AugmentConfig, Config, DatasetKind};
use crate::error::CliError;
use std::path::Path;
use std::sync::Arc;
use strata_data::transforms::{
    ColorJitter, Compose, Flatten, GaussianNoise, Normalize, RandomAffine, RandomCrop,
    RandomErasing, RandomHorizontalFlip,
};
use strata_data::{Cifar, CifarKind, ImageFolder, Mnist, Split, Subset};

/// The image shape a data set gives, `[C, H, W]`, and whether the model takes it flat.
fn image_shape(
    config: &Config,
    natural: Option<[usize; 3]>,
) -> Result<([usize; 3], bool), CliError> {
    let input = config.model.input.as_slice();
    match (natural, input) {
        (Some(n), [c, h, w]) if [*c, *h, *w] == n => Ok((n, false)),
        (Some(n), [f]) if *f == n.iter().product::<usize>() => Ok((n, true)),
        (Some(n), other) => Err(CliError::usage(format!(
            "model.input: {} gives {n:?} images or [{}] flattened, got {other:?}",
            match config.data.dataset {
                DatasetKind::Cifar10 => "CIFAR-10",
                _ => "MNIST",
            },
            n.iter().product::<usize>()
        ))),
        // Class folders are resized to whatever the model takes, 1 or 3 channels.
        (None, &[c @ (1 | 3), h, w]) if h > 0 && w > 0 => Ok(([c, h, w], false)),
        (None, other) => Err(CliError::usage(format!(
            "model.input: image folders are resized to the model's [channels (1 or 3), height, width], got {other:?}"
        ))),
    }
}

/// Training and test images of `config`, augmented and normalised.
pub fn load(config: &Config, path: &Path) -> Result<Parts, CliError> {
    let (train, test, class_names, natural): (Shared, Shared, Vec<String>, _) =
        match config.data.dataset {
            DatasetKind::Mnist => {
                let (train, test) = mnist(config, path)?;
                let names = (0..10).map(|d| d.to_string()).collect();
                (train, test, names, Some([1, 28, 28]))
            }
            DatasetKind::Cifar10 => {
                let kind = CifarKind::Cifar10;
                let names = CIFAR10.iter().map(|s| s.to_string()).collect();
                (
                    Box::new(Cifar::load(path, kind, Split::Train)?),
                    Box::new(Cifar::load(path, kind, Split::Test)?),
                    names,
                    Some([3, 32, 32]),
                )
            }
            _ => {
                let ([c, h, w], _) = image_shape(config, None)?;
                let (train, test, names) = folders(config, path, c, h, w)?;
                (train, test, names, None)
            }
        };
    let (shape, flat) = image_shape(config, natural)?;
    let train_steps = steps(config, shape, flat, true)?;
    let test_steps = steps(config, shape, flat, false)?;
    Ok(Parts {
        train,
        test,
        num_classes: class_names.len(),
        class_names: Some(class_names),
        image_shape: Some(shape.to_vec()),
        train_transform: train_steps,
        eval_transform: test_steps,
    })
}

/// CIFAR-10's class names, in label order.
pub const CIFAR10: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// MNIST's splits, keeping `data.classes` and at most `data.per_class` training examples
/// of each class.
fn mnist(config: &Config, path: &Path) -> Result<(Shared, Shared), CliError> {
    let classes = config.data.classes.clone();
    let split = |s: Split| -> Result<Shared, CliError> {
        let ds = Mnist::load(path, s)?;
        let per_class = (s == Split::Train)
            .then_some(config.data.per_class)
            .flatten();
        Ok(match chosen(ds.labels(), classes.as_deref(), per_class) {
            None => Box::new(ds),
            Some(idx) if idx.is_empty() => {
                return Err(CliError::usage(format!(
                    "data.classes: no {s:?} example has one of the classes {:?}",
                    classes.as_deref().unwrap_or_default()
                )))
            }
            Some(idx) => Box::new(Subset::new(Arc::new(ds), idx)?),
        })
    };
    Ok((split(Split::Train)?, split(Split::Test)?))
}

/// Class folders: `path/train` and `path/test` when both exist, else one folder split
/// with `data.test_fraction` (seeded).
fn folders(
    config: &Config,
    path: &Path,
    channels: usize,
    h: usize,
    w: usize,
) -> Result<(Shared, Shared, Vec<String>), CliError> {
    let open = |p: &Path| -> Result<ImageFolder, CliError> {
        let f = ImageFolder::load(p, h, w)?;
        Ok(if channels == 1 { f.grayscale() } else { f })
    };
    let (train, test) = (path.join("train"), path.join("test"));
    if train.is_dir() && test.is_dir() {
        let (train, test) = (open(&train)?, open(&test)?);
        if train.classes() != test.classes() {
            return Err(CliError::Runtime(format!(
                "{}: train/ has classes {:?} but test/ has {:?}",
                path.display(),
                train.classes(),
                test.classes()
            )));
        }
        let names = train.classes().to_vec();
        return Ok((Box::new(train), Box::new(test), names));
    }
    let all = open(path)?;
    let names = all.classes().to_vec();
    let fraction = config.data.test_fraction.unwrap_or(0.2);
    let (train, test) = strata_data::train_val_split(all, fraction, config.training.seed)?;
    Ok((Box::new(train), Box::new(test), names))
}

/// The transforms of one image: augmentation (training only), normalisation, flattening.
fn steps(
    config: &Config,
    [c, h, w]: [usize; 3],
    flat: bool,
    training: bool,
) -> Result<Option<Arc<Compose>>, CliError> {
    let mut t = Compose::new();
    let mut any = false;
    if let (true, Some(a)) = (training, &config.data.augment) {
        t = augment(t, a, h, w)?;
        any = true;
    }
    if let Some(n) = &config.data.normalize {
        let fits = |v: &[f32]| v.len() == 1 || v.len() == c;
        if !fits(&n.mean) || !fits(&n.std) {
            return Err(CliError::usage(format!(
                "data.normalize: the images have {c} channel(s): give 1 or {c} means and stds, got mean {:?} std {:?}",
                n.mean, n.std
            )));
        }
        let normalize = Normalize::new(&n.mean, &n.std)
            .map_err(|e| CliError::usage(format!("data.normalize: {e}")))?;
        t = t.then(normalize);
        any = true;
    }
    if flat {
        t = t.then(Flatten);
        any = true;
    }
    Ok(any.then(|| Arc::new(t)))
}

/// Appends the configured augmentations; bad settings are the config's errors.
fn augment(mut t: Compose, a: &AugmentConfig, h: usize, w: usize) -> Result<Compose, CliError> {
    let bad = |key: &str| {
        let key = key.to_string();
        move |e: strata_data::DataError| CliError::usage(format!("data.augment.{key}: {e}"))
    };
    if let Some(af) = &a.affine {
        let mut affine = RandomAffine::new()
            .rotate(-af.degrees, af.degrees)
            .map_err(bad("affine.degrees"))?
            .translate(af.translate, af.translate)
            .map_err(bad("affine.translate"))?
            .shear(-af.shear, af.shear)
            .map_err(bad("affine.shear"))?;
        if let Some([lo, hi]) = af.scale {
            affine = affine.scale(lo, hi).map_err(bad("affine.scale"))?;
        }
        t = t.then(affine);
    }
    if let Some(crop) = &a.crop {
        t = t.then(RandomCrop::rect(h, w, crop.padding));
    }
    if a.flip {
        t = t.then(RandomHorizontalFlip::new(0.5).map_err(bad("flip"))?);
    }
    if let Some(cj) = &a.color {
        t = t.then(ColorJitter::new(cj.brightness, cj.contrast).map_err(bad("color"))?);
    }
    if let Some(std) = a.noise {
        t = t.then(GaussianNoise::new(std).map_err(bad("noise"))?);
    }
    if let Some(er) = &a.erasing {
        let mut erasing = RandomErasing::new(er.p)
            .map_err(bad("erasing.p"))?
            .value(er.value);
        if let Some([lo, hi]) = er.scale {
            erasing = erasing.scale(lo, hi).map_err(bad("erasing.scale"))?;
        }
        t = t.then(erasing);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use strata_core::{Generator, Tensor};
    use strata_data::transforms::Transform;

    #[test]
    fn training_images_are_augmented_and_held_out_ones_only_normalised() {
        let config = parse(
            r#"
[data]
dataset = "mnist"
path = "x"
normalize = { mean = [0.5], std = [0.25] }
[data.augment]
affine = { degrees = 30, translate = 0.2 }
erasing = { p = 1.0 }
[model]
input = [784]
layers = [{ type = "linear", out = 10 }]
"#,
            "c.toml",
            &[],
        )
        .unwrap();
        let (shape, flat) = image_shape(&config, Some([1, 28, 28])).unwrap();
        assert!(flat);
        let train = steps(&config, shape, flat, true).unwrap().unwrap();
        let eval = steps(&config, shape, flat, false).unwrap().unwrap();
        // A bright square in the middle of a dark image.
        let mut pixels = vec![0f32; 784];
        for r in 10..18 {
            for c in 10..18 {
                pixels[r * 28 + c] = 1.0;
            }
        }
        let image = Tensor::from_vec(pixels.clone(), &[1, 28, 28]).unwrap();
        let held_out = eval.apply(&image, &mut Generator::new(0)).unwrap();
        let want: Vec<f32> = pixels.iter().map(|p| (p - 0.5) / 0.25).collect();
        assert_eq!(held_out.shape(), &[784]);
        assert_eq!(held_out.to_vec::<f32>().unwrap(), want);
        let a = train.apply(&image, &mut Generator::new(1)).unwrap();
        let b = train.apply(&image, &mut Generator::new(2)).unwrap();
        assert_eq!(a.shape(), &[784]);
        let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
        assert_ne!(a, want);
        assert_ne!(a, b);
        // Same generator, same augmentation.
        let again = train.apply(&image, &mut Generator::new(1)).unwrap();
        assert_eq!(again.to_vec::<f32>().unwrap(), a);
    }
}
