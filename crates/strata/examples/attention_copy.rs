//! A small Transformer encoder learns to reverse sequences of digits: token embeddings plus
//! sinusoidal positional encodings, two self-attention layers, a per-position classifier.
//! Reversal needs each position to attend to its mirror position, which attention can do
//! and a per-position MLP cannot.
//!
//! Run: `cargo run --release --example attention_copy`. Set `STRATA_STEPS` to change the
//! number of training steps (default 600).

use std::time::Instant;
use strata::nn::{
    Embedding, SinusoidalPositionalEncoding, TransformerEncoder, TransformerEncoderLayerConfig,
};
use strata::prelude::*;

const VOCAB: usize = 10;
const LEN: usize = 8;
const D: usize = 32;
const BATCH: usize = 64;

/// Random sequences `[n, LEN]` and their reversals.
fn batch(n: usize) -> Result<(Tensor, Tensor), Box<dyn std::error::Error>> {
    let x = Tensor::randint(0, VOCAB as i64, &[n, LEN])?;
    let xs = x.to_vec::<i64>()?;
    let reversed: Vec<i64> = xs
        .chunks(LEN)
        .flat_map(|row| row.iter().rev().copied())
        .collect();
    Ok((x, Tensor::from_vec(reversed, &[n, LEN])?))
}

struct Reverser {
    embed: Embedding,
    position: SinusoidalPositionalEncoding,
    encoder: TransformerEncoder,
    head: Linear,
}

impl Reverser {
    /// Logits `[n * LEN, VOCAB]` for tokens `[n, LEN]`.
    fn logits(&self, tokens: &Tensor) -> Result<Tensor, Box<dyn std::error::Error>> {
        let h = self.embed.forward(tokens)?;
        let h = self.encoder.forward(&self.position.forward(&h)?)?;
        Ok(self.head.forward(&h)?.reshape(&[tokens.numel(), VOCAB])?)
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = self.embed.parameters();
        p.extend(self.encoder.parameters());
        p.extend(self.head.parameters());
        p
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::var("STRATA_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    manual_seed(0);
    let config = TransformerEncoderLayerConfig {
        dim_feedforward: 64,
        dropout: 0.0,
        batch_first: true,
        ..Default::default()
    };
    let model = Reverser {
        embed: Embedding::new(VOCAB, D)?,
        position: SinusoidalPositionalEncoding::new(D, LEN, 0.0, true)?,
        encoder: TransformerEncoder::new(D, 4, 2, config, None)?,
        head: Linear::new(D, VOCAB)?,
    };
    let mut opt = Adam::new(model.parameters(), 3e-3)?;
    let started = Instant::now();
    for step in 1..=steps {
        let (x, y) = batch(BATCH)?;
        let loss = cross_entropy(&model.logits(&x)?, &y.reshape(&[BATCH * LEN])?)?;
        let grads = loss.backward()?;
        opt.step(&grads)?;
        if step % 100 == 0 {
            println!("step {step}: loss={:.4}", loss.item()?);
        }
    }
    let (x, y) = batch(1000)?;
    let predicted = no_grad(|| model.logits(&x))?
        .argmax(1, false)?
        .to_vec::<i64>()?;
    let want = y.to_vec::<i64>()?;
    let tokens_right = predicted.iter().zip(&want).filter(|(p, w)| p == w).count();
    let rows_right = predicted
        .chunks(LEN)
        .zip(want.chunks(LEN))
        .filter(|(p, w)| p == w)
        .count();
    println!(
        "final: token_accuracy={:.4} sequence_accuracy={:.4} steps={steps} seconds={:.1}",
        tokens_right as f64 / want.len() as f64,
        rows_right as f64 / 1000.0,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
