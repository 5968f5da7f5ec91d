//! Positional encodings added to a sequence of embeddings: fixed sinusoids
//! ("Attention Is All You Need") and learned position embeddings.

use crate::{hooks, Buffer, Dropout, Embedding, Error, Forward, Module, Result, Visitor};
use strata_core::{DType, Tensor};

/// Where the positions are in an input: `[seq, batch, d]` (PyTorch's default layout),
/// `[batch, seq, d]` with `batch_first`, or unbatched `[seq, d]`. Returns the sequence
/// length, or an error naming the shape.
fn seq_len(
    layer: &str,
    input: &Tensor,
    d_model: usize,
    max_len: usize,
    batch_first: bool,
) -> Result<usize> {
    let shape = input.shape();
    let ok_rank = shape.len() == 2 || shape.len() == 3;
    let t = match (shape.len(), batch_first) {
        (3, true) => shape[1],
        _ => shape.first().copied().unwrap_or(0),
    };
    if !ok_rank || shape[shape.len() - 1] != d_model || t > max_len {
        let layout = if batch_first {
            "[batch, seq, d]"
        } else {
            "[seq, batch, d]"
        };
        return Err(Error::Input {
            layer: layer.to_string(),
            expected: format!(
                "input {layout} or [seq, d] with d = {d_model} and seq <= max_len = {max_len}"
            ),
            got: shape.into(),
        });
    }
    Ok(t)
}

/// The first `t` rows of a `[max_len, d]` table, shaped to broadcast against the input.
fn rows_for(table: &Tensor, t: usize, input: &Tensor, batch_first: bool) -> Result<Tensor> {
    let rows = table.narrow(0, 0, t)?;
    Ok(if input.ndim() == 3 && !batch_first {
        rows.unsqueeze(1)? // [t, 1, d] against [t, batch, d]
    } else {
        rows // [t, d] against [batch, t, d] or [t, d]
    })
}

/// Fixed sinusoidal positional encoding, added to the input, then dropout:
/// `pe[pos, 2i] = sin(pos / 10000^(2i/d))`, `pe[pos, 2i+1] = cos(pos / 10000^(2i/d))`,
/// stored as the buffer `pe` `[max_len, d_model]` (no parameters; computed in f64).
///
/// Inputs are `[seq, batch, d]`, or `[batch, seq, d]` with `batch_first`, or `[seq, d]`.
///
/// ```
/// use strata_nn::{Forward, ModuleExt, SinusoidalPositionalEncoding};
/// use strata_core::Tensor;
/// let pe = SinusoidalPositionalEncoding::new(4, 100, 0.0, true)?;
/// let y = pe.forward(&Tensor::zeros(&[2, 3, 4]))?; // [batch, seq, d]
/// let row1 = y.select(0, 0)?.select(0, 1)?.to_vec::<f32>()?; // position 1
/// let want = [1f32.sin(), 1f32.cos(), 0.01f32.sin(), 0.01f32.cos()];
/// assert!(row1.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6));
/// assert_eq!(pe.num_parameters(), 0);
/// assert!(pe.forward(&Tensor::zeros(&[2, 101, 4])).is_err()); // longer than max_len
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct SinusoidalPositionalEncoding {
    pe: Buffer,
    dropout: Dropout,
    d_model: usize,
    max_len: usize,
    batch_first: bool,
}

impl SinusoidalPositionalEncoding {
    /// Encodings for `max_len` positions of size `d_model` (f32), with dropout `p`.
    pub fn new(d_model: usize, max_len: usize, dropout: f64, batch_first: bool) -> Result<Self> {
        Self::with_dtype(d_model, max_len, dropout, batch_first, DType::F32)
    }

    /// Like [`new`](Self::new) with a buffer of `dtype`.
    pub fn with_dtype(
        d_model: usize,
        max_len: usize,
        dropout: f64,
        batch_first: bool,
        dtype: DType,
    ) -> Result<Self> {
        if d_model == 0 || max_len == 0 || !dtype.is_float() {
            return Err(Error::config(
                "SinusoidalPositionalEncoding",
                format!("d_model and max_len must be positive and dtype float, got {d_model}, {max_len}, {dtype}"),
            ));
        }
        let table = sinusoid_table(max_len, d_model);
        Ok(SinusoidalPositionalEncoding {
            pe: Buffer::new(Tensor::from_vec(table, &[max_len, d_model])?.to_dtype(dtype)),
            dropout: Dropout::new(dropout)?,
            d_model,
            max_len,
            batch_first,
        })
    }

    /// The table `[max_len, d_model]`.
    pub fn pe(&self) -> &Buffer {
        &self.pe
    }
}

/// `[max_len * d]` row-major sinusoids; column `2i` is a sine and `2i + 1` a cosine of the
/// same frequency `10000^(-2i/d)`.
fn sinusoid_table(max_len: usize, d: usize) -> Vec<f64> {
    let mut out = vec![0.0; max_len * d];
    for (pos, row) in out.chunks_mut(d).enumerate() {
        for (c, x) in row.iter_mut().enumerate() {
            let pair = (c - c % 2) as f64;
            let angle = pos as f64 * (-(10000f64.ln()) * pair / d as f64).exp();
            *x = if c % 2 == 0 { angle.sin() } else { angle.cos() };
        }
    }
    out
}

impl Module for SinusoidalPositionalEncoding {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.buffer("pe", &self.pe);
        visitor.module("dropout", &self.dropout);
    }

    fn extra_repr(&self) -> String {
        format!("d_model={}, max_len={}", self.d_model, self.max_len)
    }
}

impl Forward for SinusoidalPositionalEncoding {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let name = format!("SinusoidalPositionalEncoding({})", self.extra_repr());
        let t = seq_len(&name, input, self.d_model, self.max_len, self.batch_first)?;
        let pe = rows_for(&self.pe.to_dtype(input.dtype()), t, input, self.batch_first)?;
        let y = self.dropout.forward(&input.add(&pe)?)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

/// Learned positional encoding: an [`Embedding`] over positions `0..max_len` (parameter
/// `embedding.weight`, standard normal init) added to the input, then dropout.
///
/// Inputs are `[seq, batch, d]`, or `[batch, seq, d]` with `batch_first`, or `[seq, d]`.
///
/// ```
/// use strata_nn::{Forward, LearnedPositionalEncoding, ModuleExt};
/// use strata_core::Tensor;
/// let pe = LearnedPositionalEncoding::new(8, 16, 0.1, false)?;
/// assert_eq!(pe.forward(&Tensor::zeros(&[5, 2, 8]))?.shape(), &[5, 2, 8]);
/// assert_eq!(pe.num_parameters(), 16 * 8);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct LearnedPositionalEncoding {
    embedding: Embedding,
    dropout: Dropout,
    max_len: usize,
    batch_first: bool,
}

impl LearnedPositionalEncoding {
    /// Learned encodings for `max_len` positions of size `d_model`, with dropout `p`.
    pub fn new(d_model: usize, max_len: usize, dropout: f64, batch_first: bool) -> Result<Self> {
        Ok(LearnedPositionalEncoding {
            embedding: Embedding::new(max_len, d_model)?,
            dropout: Dropout::new(dropout)?,
            max_len,
            batch_first,
        })
    }

    /// The position table.
    pub fn embedding(&self) -> &Embedding {
        &self.embedding
    }
}

impl Module for LearnedPositionalEncoding {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.module("embedding", &self.embedding);
        visitor.module("dropout", &self.dropout);
    }

    fn extra_repr(&self) -> String {
        format!(
            "d_model={}, max_len={}",
            self.embedding.embedding_dim(),
            self.max_len
        )
    }
}

impl Forward for LearnedPositionalEncoding {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let name = format!("LearnedPositionalEncoding({})", self.extra_repr());
        let d = self.embedding.embedding_dim();
        let t = seq_len(&name, input, d, self.max_len, self.batch_first)?;
        let positions = Tensor::arange_dtype(0.0, t as f64, 1.0, DType::I64)?;
        let table = self.embedding.forward(&positions)?;
        let pe = if input.ndim() == 3 && !self.batch_first {
            table.unsqueeze(1)?
        } else {
            table
        };
        let y = self.dropout.forward(&input.add(&pe)?)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
