//! W3: a character LSTM language model (vocabulary 96, embedding 64, one LSTM layer of 256,
//! linear to 96, cross-entropy at every step), sequences of 64, batch 32, Adam (lr 1e-3).

use crate::Result;
use strata_core::kernels::aligned::LineAligned;
use strata_core::kernels::gemm::{gemm, gemm_packed, MatMut, MatRef, PackedRhs};
use strata_core::{no_grad, Generator, Tensor};
use strata_nn::ModuleExt;
use strata_nn::{
    cross_entropy, Adam, Embedding, Forward, Linear, Optimizer, Param, RecurrentConfig, LSTM,
};

pub const VOCAB: usize = 96;
const EMB: usize = 64;
const HIDDEN: usize = 256;
pub const SEQ: usize = 64;
/// Elements from one row of the gate buffers to the next: `4·HIDDEN` f32 (4 KiB) plus a
/// cache line, as `strata-nn`'s recurrent op lays them out.
const GATE_LD: usize = 4 * HIDDEN + 16;

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

/// The matrix products of one W3 training step, in the shapes and orientations the fused
/// LSTM op and `Linear` use, with nothing else: W3's ceiling on a machine where those
/// products set the pace (see `strata-nn`'s `recurrent/fused_op`).
///
/// Forward: the input projection of all steps at once, one product through the packed
/// `W_hh` per step after the first (the zero initial state skips it), the output layer.
/// Backward: the output layer's two, one product through `W_hh` per step but the first,
/// `dx` and `[dW_ih | dW_hh]` over all steps. The gate buffers' rows are padded by a cache
/// line, as the op pads rows a multiple of 2 KiB wide.
pub struct LstmProducts {
    x: Vec<f32>,
    w_ih_t: Vec<f32>,
    w_ih: Vec<f32>,
    w_hh: Vec<f32>,
    h: Vec<f32>,
    gates: LineAligned<f32>,
    dgates: Vec<f32>,
    xh: Vec<f32>,
    out: Vec<(Tensor, Tensor)>,
    batch: usize,
}

impl LstmProducts {
    pub fn new(batch: usize) -> Result<LstmProducts> {
        let gh = 4 * HIDDEN;
        let rows = SEQ * batch;
        let values = |n: usize| -> Result<Vec<f32>> { Ok(Tensor::rand(&[n]).to_vec::<f32>()?) };
        let (h_out, w_out, dy) = (
            Tensor::rand(&[rows, HIDDEN]),
            Tensor::rand(&[VOCAB, HIDDEN]),
            Tensor::rand(&[rows, VOCAB]),
        );
        Ok(LstmProducts {
            x: values(rows * EMB)?,
            w_ih_t: values(EMB * gh)?,
            w_ih: values(gh * EMB)?,
            w_hh: values(gh * HIDDEN)?,
            h: values(batch * HIDDEN)?,
            gates: LineAligned::new(rows * GATE_LD),
            dgates: values(rows * GATE_LD)?,
            xh: values(rows * (EMB + HIDDEN))?,
            out: vec![
                (h_out.clone(), w_out.t()?), // y = h·Wᵀ
                (dy.t()?, h_out),            // dW = dyᵀ·h
                (dy, w_out),                 // dh = dy·W
            ],
            batch,
        })
    }

    /// Runs every product of one step once.
    pub fn run(&mut self) -> Result<()> {
        let (b, gh, rows, xw) = (self.batch, 4 * HIDDEN, SEQ * self.batch, EMB + HIDDEN);
        let ld = GATE_LD;
        gemm(
            MatMut::strided(&mut self.gates, 0, rows, gh, ld, 1)?,
            MatRef::row_major(&self.x, rows, EMB)?,
            MatRef::row_major(&self.w_ih_t, EMB, gh)?,
            false,
        )?;
        let w_hh_t = PackedRhs::new(MatRef::row_major(&self.w_hh, gh, HIDDEN)?.t());
        for t in 1..SEQ {
            gemm_packed(
                MatMut::strided(&mut self.gates, t * b * ld, b, gh, ld, 1)?,
                MatRef::row_major(&self.h, b, HIDDEN)?,
                &w_hh_t,
                true,
            )?;
        }
        no_grad(|| {
            for (a, w) in &self.out {
                std::hint::black_box(a.matmul(w)?);
            }
            Ok::<_, strata_core::Error>(())
        })?;
        let w_hh = PackedRhs::new(MatRef::row_major(&self.w_hh, gh, HIDDEN)?);
        let mut dh = LineAligned::<f32>::new(b * HIDDEN);
        for t in (1..SEQ).rev() {
            gemm_packed(
                MatMut::row_major(&mut dh, b, HIDDEN)?,
                MatRef::strided(&self.dgates, t * b * ld, b, gh, ld, 1)?,
                &w_hh,
                true,
            )?;
        }
        let dgates = MatRef::strided(&self.dgates, 0, rows, gh, ld, 1)?;
        let mut dx = vec![0f32; rows * EMB];
        gemm(
            MatMut::row_major(&mut dx, rows, EMB)?,
            dgates,
            MatRef::row_major(&self.w_ih, gh, EMB)?,
            false,
        )?;
        let mut dw = LineAligned::<f32>::new(gh * xw);
        gemm(
            MatMut::row_major(&mut dw, gh, xw)?,
            dgates.t(),
            MatRef::row_major(&self.xh, rows, xw)?,
            false,
        )?;
        std::hint::black_box((&dh[..], &dx[..], &dw[..]));
        Ok(())
    }
}
