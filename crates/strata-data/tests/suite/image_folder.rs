//! Image folders built from real MNIST digits written as PNG and JPEG files.

use crate::common;
use common::{data, scratch};
use std::fs;
use strata_data::*;

/// Writes test digits 0..count of classes 7 and 2 as PNG (and one JPEG) into class folders.
fn digits_folder(name: &str) -> (std::path::PathBuf, Mnist) {
    let dir = scratch(name);
    let mnist = Mnist::load(data("mnist"), Split::Test).unwrap();
    for class in ["2", "7"] {
        fs::create_dir_all(dir.join(class)).unwrap();
    }
    // Test digits 0 (a 7), 1 (a 2), 17 (a 7), 35 (a 2).
    for (i, index) in [0usize, 1, 17, 35].into_iter().enumerate() {
        let label = mnist.labels()[index];
        let img =
            image::GrayImage::from_raw(28, 28, mnist.pixels(index).unwrap().to_vec()).unwrap();
        let path = dir.join(label.to_string()).join(format!("{i}_{index}.png"));
        img.save(&path).unwrap();
    }
    // A JPEG and a non-image file (ignored) in class 7; a nested folder with a PNG.
    let jpeg = image::GrayImage::from_raw(28, 28, mnist.pixels(0).unwrap().to_vec()).unwrap();
    jpeg.save(dir.join("7").join("z.JPG")).unwrap();
    fs::write(dir.join("7").join("notes.txt"), "not an image").unwrap();
    fs::create_dir_all(dir.join("2").join("more")).unwrap();
    let nested = image::GrayImage::from_raw(28, 28, mnist.pixels(1).unwrap().to_vec()).unwrap();
    nested
        .save(dir.join("2").join("more").join("n.png"))
        .unwrap();
    (dir, mnist)
}

#[test]
fn png_digits_come_back_exactly_and_jpeg_closely() {
    let (dir, mnist) = digits_folder("image_folder_exact");
    let folder = ImageFolder::load(&dir, 28, 28).unwrap().grayscale();
    assert_eq!(folder.classes(), &["2", "7"]);
    assert_eq!(folder.len(), 6);
    let names: Vec<String> = folder
        .samples()
        .iter()
        .map(|(p, c)| format!("{c}:{}", p.strip_prefix(&dir).unwrap().display()))
        .collect();
    assert_eq!(
        names,
        [
            "0:2/1_1.png",
            "0:2/3_35.png",
            "0:2/more/n.png",
            "1:7/0_0.png",
            "1:7/2_17.png",
            "1:7/z.JPG"
        ]
    );
    let expect = |i: usize| mnist.get(i).unwrap().input.to_vec::<f32>().unwrap();
    let got = |k: usize| folder.get(k).unwrap();
    assert_eq!(got(0).input.to_vec::<f32>().unwrap(), expect(1));
    assert_eq!(got(0).target.to_vec::<i64>().unwrap(), vec![0]);
    assert_eq!(got(4).input.to_vec::<f32>().unwrap(), expect(17));
    assert_eq!(got(4).target.to_vec::<i64>().unwrap(), vec![1]);
    // JPEG is lossy: close on average.
    let (a, b) = (got(5).input.to_vec::<f32>().unwrap(), expect(0));
    let mean_err: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / 784.0;
    assert!(mean_err < 0.03, "{mean_err}");
    // RGB: three equal channels; preloading gives the same tensors.
    let rgb = ImageFolder::load(&dir, 28, 28).unwrap().preload().unwrap();
    let x = rgb.get(0).unwrap().input;
    assert_eq!(x.shape(), &[3, 28, 28]);
    let v = x.to_vec::<f32>().unwrap();
    assert!(v[..784] == v[784..1568] && v[..784] == v[1568..]);
    assert_eq!(v[..784], expect(1)[..]);
}

#[test]
fn resizing_and_loading_through_a_data_loader() {
    let (dir, _) = digits_folder("image_folder_resize");
    let folder = ImageFolder::load(&dir, 14, 20).unwrap().grayscale();
    let loader = DataLoader::new(folder).batch_size(4).workers(2);
    let batches: Vec<Batch> = loader.epoch(0).map(|b| b.unwrap()).collect();
    assert_eq!(batches[0].inputs.shape(), &[4, 1, 14, 20]);
    assert_eq!(batches[1].targets.to_vec::<i64>().unwrap(), vec![1, 1]);
    // Downscaling keeps the mean brightness roughly.
    let v = batches[0].inputs.to_vec::<f32>().unwrap();
    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
}

#[test]
fn unreadable_images_and_bad_folders_are_named() {
    let (dir, _) = digits_folder("image_folder_bad");
    let broken = dir.join("7").join("broken.png");
    fs::write(&broken, b"\x89PNG\r\n\x1a\n this is not really a png").unwrap();
    let folder = ImageFolder::load(&dir, 28, 28).unwrap();
    let k = folder
        .samples()
        .iter()
        .position(|(p, _)| p == &broken)
        .unwrap();
    let e = folder.get(k).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: cannot decode image", broken.display())),
        "{e}"
    );
    let e = folder.clone().preload().unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}: cannot decode image", broken.display())),
        "{e}"
    );
    // Through a loader, the error arrives with its batch.
    let loader = DataLoader::new(folder).batch_size(1).workers(2);
    let errors: Vec<String> = loader
        .epoch(0)
        .filter_map(|b| b.err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errors.len(), 1);
    fs::create_dir_all(dir.join("empty")).unwrap();
    let e = ImageFolder::load(&dir, 28, 28).unwrap_err().to_string();
    assert!(
        e.ends_with("empty: class folder has no .png, .jpg or .jpeg files"),
        "{e}"
    );
    let e = ImageFolder::load(dir.join("7"), 28, 28)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no class subfolders"), "{e}");
    assert!(ImageFolder::load(&dir, 0, 28).is_err());
}
