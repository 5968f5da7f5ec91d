//! Training batches drawn from MNIST held in memory as bytes, built inside the timed loop
//! as PyTorch's script builds them (random indices, pixels / 255).

use crate::Result;
use std::path::Path;
use strata_core::kernels::parallel::for_each_item;
use strata_core::Tensor;
use strata_data::{Dataset, Mnist, Split};

/// MNIST's training images and a generator of random batches from them.
pub struct MnistBatches {
    data: Mnist,
    rng: XorShift,
}

impl MnistBatches {
    /// Loads the training split from `dir` (the four standard files, gzipped or not).
    pub fn load(dir: &Path) -> Result<MnistBatches> {
        Ok(MnistBatches {
            data: Mnist::load(dir, Split::Train)?,
            rng: XorShift(0x9E37_79B9_7F4A_7C15),
        })
    }

    /// A random batch: images `[batch, 784]` (`flat`) or `[batch, 1, 28, 28]` in [0, 1],
    /// and their labels `[batch]` (i64).
    pub fn next(&mut self, batch: usize, flat: bool) -> Result<(Tensor, Tensor)> {
        let mut images = Vec::with_capacity(batch);
        let mut labels = Vec::with_capacity(batch);
        for _ in 0..batch {
            let i = self.rng.below(self.data.len());
            images.push(self.data.pixels(i)?);
            labels.push(self.data.labels()[i] as i64);
        }
        // Converted on every kernel thread, as PyTorch's `/ 255` of the batch is: on one
        // thread the 100,000 divisions of a W1 batch took 2 % of its step.
        let (h, w) = self.data.image_size();
        let size = h * w;
        let mut pixels = vec![0f32; batch * size];
        const ROWS: usize = 16;
        let parts: Vec<_> = pixels
            .chunks_mut(ROWS * size)
            .zip(images.chunks(ROWS))
            .collect();
        for_each_item(parts, |(out, images)| {
            for (row, image) in out.chunks_exact_mut(size.max(1)).zip(images) {
                for (o, &p) in row.iter_mut().zip(image.iter()) {
                    *o = p as f32 / 255.0;
                }
            }
        });
        let shape: &[usize] = if flat {
            &[batch, size]
        } else {
            &[batch, 1, h, w]
        };
        Ok((
            Tensor::from_vec(pixels, shape)?,
            Tensor::from_vec(labels, &[batch])?,
        ))
    }
}

/// A tiny generator for batch indices: the benchmark measures the model, not a sampler.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
