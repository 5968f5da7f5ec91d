//! Benchmark W3 (BENCHMARKS.md): a character LSTM language model. Vocabulary 96, embedding
//! 64, one LSTM layer of 256, linear to 96, cross-entropy at every step; sequences of 64,
//! batch 32, Adam (lr 1e-3); 5 warm-up steps, then the median over 3 runs of 50 training
//! steps. Prints `w3: tokens_per_s=...` (the PyTorch side is `bench/w3_lstm.py`).
//!
//! Run: `cargo run --release --example bench_w3`. Set `STRATA_W3_PROFILE=1` to also print
//! where the time of one run goes (forward, backward, optimiser step).

use std::time::{Duration, Instant};
use strata::nn::{Embedding, RecurrentConfig, LSTM};
use strata::prelude::*;

const VOCAB: usize = 96;
const EMB: usize = 64;
const HIDDEN: usize = 256;
const SEQ: usize = 64;
const BATCH: usize = 32;
const STEPS: usize = 50;

struct CharLstm {
    emb: Embedding,
    lstm: LSTM,
    out: Linear,
}

impl CharLstm {
    fn new() -> Result<CharLstm, strata::nn::Error> {
        let config = RecurrentConfig {
            batch_first: true,
            ..Default::default()
        };
        Ok(CharLstm {
            emb: Embedding::new(VOCAB, EMB)?,
            lstm: LSTM::with_config(EMB, HIDDEN, config)?,
            out: Linear::new(HIDDEN, VOCAB)?,
        })
    }

    fn parameters(&self) -> Vec<Param> {
        let mut p = self.emb.parameters();
        p.extend(self.lstm.parameters());
        p.extend(self.out.parameters());
        p
    }

    /// Logits `[B, T, VOCAB]` for tokens `[B, T]`.
    fn forward(&self, tokens: &Tensor) -> Result<Tensor, strata::nn::Error> {
        let e = self.emb.forward(tokens)?;
        let h = self.lstm.forward(&e)?;
        self.out.forward(&h)
    }
}

/// Random sequences of `SEQ + 1` tokens: inputs are the first `SEQ`, targets the last `SEQ`.
fn batch(rng: &mut Generator) -> Result<(Tensor, Tensor), strata::core::Error> {
    let toks: Vec<i64> = (0..BATCH * (SEQ + 1))
        .map(|_| rng.below(VOCAB as u64) as i64)
        .collect();
    let t = Tensor::from_vec(toks, &[BATCH, SEQ + 1])?;
    Ok((t.narrow(1, 0, SEQ)?, t.narrow(1, 1, SEQ)?.contiguous()))
}

#[derive(Default)]
struct Split {
    forward: Duration,
    backward: Duration,
    step: Duration,
}

fn run(
    model: &CharLstm,
    opt: &mut Adam,
    rng: &mut Generator,
    steps: usize,
    split: &mut Split,
) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    for _ in 0..steps {
        let (x, y) = batch(rng)?;
        let t0 = Instant::now();
        let logits = model.forward(&x)?;
        let loss = cross_entropy(
            &logits.reshape(&[BATCH * SEQ, VOCAB])?,
            &y.reshape(&[BATCH * SEQ])?,
        )?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        opt.step(&grads)?;
        split.forward += t1 - t0;
        split.backward += t2 - t1;
        split.step += t2.elapsed();
    }
    Ok(start.elapsed().as_secs_f64())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    manual_seed(0);
    let model = CharLstm::new()?;
    let mut opt = Adam::new(model.parameters(), 1e-3)?;
    let mut rng = Generator::new(0);
    run(&model, &mut opt, &mut rng, 5, &mut Split::default())?;
    let mut rates = Vec::new();
    let mut split = Split::default();
    for _ in 0..3 {
        split = Split::default();
        let secs = run(&model, &mut opt, &mut rng, STEPS, &mut split)?;
        rates.push((BATCH * SEQ * STEPS) as f64 / secs);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    println!("w3: tokens_per_s={:.0}", rates[1]);
    if std::env::var_os("STRATA_W3_PROFILE").is_some() {
        let ms = |d: Duration| d.as_secs_f64() * 1e3 / STEPS as f64;
        println!(
            "w3 per step (last run): forward {:.2} ms, backward {:.2} ms, optimiser {:.2} ms",
            ms(split.forward),
            ms(split.backward),
            ms(split.step)
        );
    }
    Ok(())
}
