//! W3: a character LSTM language model (vocabulary 96, embedding 64, one LSTM layer of 256,
//! linear to 96, cross-entropy at every step), sequences of 64, batch 32, Adam (lr 1e-3).

use crate::Result;
use strata_core::{Generator, Tensor};
use strata_nn::ModuleExt;
use strata_nn::{
    cross_entropy, Adam, Embedding, Forward, Linear, Optimizer, Param, RecurrentConfig, LSTM,
};

pub const VOCAB: usize = 96;
const EMB: usize = 64;
const HIDDEN: usize = 256;
pub const SEQ: usize = 64;

/// W3's training loop on random token sequences, as PyTorch's script draws them.
pub struct LstmTraining {
    emb: Embedding,
    lstm: LSTM,
    out: Linear,
    opt: Adam,
    rng: Generator,
    batch: usize,
}

impl LstmTraining {
    pub fn new(batch: usize) -> Result<LstmTraining> {
        let config = RecurrentConfig {
            batch_first: true,
            ..Default::default()
        };
        let emb = Embedding::new(VOCAB, EMB)?;
        let lstm = LSTM::with_config(EMB, HIDDEN, config)?;
        let out = Linear::new(HIDDEN, VOCAB)?;
        let mut params: Vec<Param> = emb.parameters();
        params.extend(lstm.parameters());
        params.extend(out.parameters());
        Ok(LstmTraining {
            emb,
            lstm,
            out,
            opt: Adam::new(params, 1e-3)?,
            rng: Generator::new(0),
            batch,
        })
    }

    /// Random sequences of `SEQ + 1` tokens: the first `SEQ` are the inputs `[B, SEQ]`, the
    /// last `SEQ` the targets.
    pub fn batch(&mut self) -> Result<(Tensor, Tensor)> {
        let n = self.batch * (SEQ + 1);
        let toks: Vec<i64> = (0..n)
            .map(|_| self.rng.below(VOCAB as u64) as i64)
            .collect();
        let t = Tensor::from_vec(toks, &[self.batch, SEQ + 1])?;
        Ok((t.narrow(1, 0, SEQ)?, t.narrow(1, 1, SEQ)?.contiguous()))
    }

    /// Draws a batch and trains on it; returns the loss.
    pub fn step(&mut self) -> Result<f64> {
        let (x, y) = self.batch()?;
        self.train_on(&x, &y)
    }

    /// One training step on tokens `[B, SEQ]` and their next tokens; returns the loss.
    pub fn train_on(&mut self, x: &Tensor, y: &Tensor) -> Result<f64> {
        let h = self.lstm.forward(&self.emb.forward(x)?)?;
        let logits = self.out.forward(&h)?;
        let rows = self.batch * SEQ;
        let loss = cross_entropy(&logits.reshape(&[rows, VOCAB])?, &y.reshape(&[rows])?)?;
        let grads = loss.backward()?;
        self.opt.step(&grads)?;
        Ok(loss.item()?)
    }
}
