//! `MultiheadAttention`: PyTorch's `nn.MultiheadAttention` (packed q/k/v projection).

use super::sdpa::{causal_bias, check_mask_dtype, scaled_dot_product_attention, SdpaOptions};
use crate::init::Init;
use crate::{hooks, Error, Forward, Linear, Module, Param, Result, Visitor};
use std::sync::atomic::{AtomicBool, Ordering};
use strata_core::{DType, Tensor};

/// Hyperparameters of [`MultiheadAttention`] (PyTorch's defaults).
///
/// ```
/// use strata_nn::{MultiheadAttention, MultiheadAttentionConfig};
/// use strata_core::DType;
/// let config = MultiheadAttentionConfig { dropout: 0.1, batch_first: true, dtype: DType::F64, ..Default::default() };
/// let mha = MultiheadAttention::with_config(8, 2, config)?;
/// assert_eq!(mha.in_proj_weight().dtype(), DType::F64);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MultiheadAttentionConfig {
    /// Dropout on the attention weights, in training only (default 0).
    pub dropout: f64,
    /// `in_proj_bias` and `out_proj.bias` (default `true`).
    pub bias: bool,
    /// Inputs and outputs are `[batch, seq, embed]` (default `false`: `[seq, batch, embed]`).
    pub batch_first: bool,
    /// Dtype of the parameters (default `F32`).
    pub dtype: DType,
}

impl Default for MultiheadAttentionConfig {
    fn default() -> Self {
        MultiheadAttentionConfig {
            dropout: 0.0,
            bias: true,
            batch_first: false,
            dtype: DType::F32,
        }
    }
}

/// Masks and switches of one [`MultiheadAttention::attend`] call (PyTorch's defaults).
///
/// ```
/// use strata_nn::{MhaOptions, MultiheadAttention};
/// use strata_core::Tensor;
/// let mha = MultiheadAttention::new(4, 2)?; // [seq, batch, embed]
/// let x = Tensor::randn(&[3, 1, 4]);
/// let opts = MhaOptions { is_causal: true, average_attn_weights: false, ..Default::default() };
/// let (_, w) = mha.attend(&x, &x, &x, &opts)?;
/// let w = w.unwrap(); // [batch, heads, L, S]
/// assert_eq!(w.shape(), &[1, 2, 3, 3]);
/// assert_eq!(w.to_vec::<f32>()?[1..3], [0.0, 0.0]); // query 0 sees only key 0
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct MhaOptions {
    /// `[batch, S]` (or `[S]` for unbatched input). **Bool: `true` = ignore that key**
    /// (PyTorch's convention for this module, the opposite of
    /// [`SdpaOptions::attn_mask`]); float: added to the scores.
    pub key_padding_mask: Option<Tensor>,
    /// `[L, S]` or `[batch * num_heads, L, S]`. Bool: `true` = not allowed to attend;
    /// float: added to the scores.
    pub attn_mask: Option<Tensor>,
    /// Applies a causal mask (query `i` sees keys `j <= i`), combined with `attn_mask` if
    /// given. (In PyTorch `is_causal` is only a hint that `attn_mask` is causal.)
    pub is_causal: bool,
    /// Return the attention weights (default `true`).
    pub need_weights: bool,
    /// Average the weights over heads: `[batch, L, S]`; otherwise
    /// `[batch, num_heads, L, S]` (default `true`).
    pub average_attn_weights: bool,
}

impl Default for MhaOptions {
    fn default() -> Self {
        MhaOptions {
            key_padding_mask: None,
            attn_mask: None,
            is_causal: false,
            need_weights: true,
            average_attn_weights: true,
        }
    }
}

/// Multi-head attention with PyTorch's layout and names: the packed projection
/// `in_proj_weight [3E, E]` (rows `0..E` for queries, `E..2E` keys, `2E..3E` values),
/// `in_proj_bias [3E]`, and `out_proj` (a [`Linear`] `E → E`). Each of `num_heads` heads
/// attends with `E / num_heads` features; dropout applies to the attention weights in
/// training.
///
/// Initialised like PyTorch: Xavier-uniform `in_proj_weight`, zero `in_proj_bias` and
/// `out_proj.bias`, `out_proj.weight` as a default Linear.
///
/// Not supported: `kdim`/`vdim` other than `embed_dim` (no separate
/// `q_proj_weight`/`k_proj_weight`/`v_proj_weight`), `add_bias_kv`, `add_zero_attn`.
/// Fully masked query rows give zero weights and zero output, where PyTorch gives NaN
/// with `need_weights=true` (see [`scaled_dot_product_attention`]).
///
/// As a [`Forward`] module it is self-attention (`attend(x, x, x)`, no mask).
///
/// ```
/// use strata_nn::{MhaOptions, MultiheadAttention, MultiheadAttentionConfig, ModuleExt};
/// use strata_core::Tensor;
/// let config = MultiheadAttentionConfig { batch_first: true, ..Default::default() };
/// let mha = MultiheadAttention::with_config(16, 4, config)?;
/// let names: Vec<String> = mha.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
/// let (q, kv) = (Tensor::randn(&[2, 5, 16]), Tensor::randn(&[2, 7, 16]));
/// let pad = Tensor::from_vec(vec![false, false, false, false, false, true, true].repeat(2), &[2, 7])?;
/// let opts = MhaOptions { key_padding_mask: Some(pad), ..Default::default() };
/// let (out, weights) = mha.attend(&q, &kv, &kv, &opts)?;
/// assert_eq!(out.shape(), &[2, 5, 16]);
/// assert_eq!(weights.unwrap().shape(), &[2, 5, 7]);
/// let err = MultiheadAttention::new(10, 4).err().unwrap();
/// assert!(err.to_string().contains("divisible"));
/// # Ok::<(), strata_nn::Error>(())
/// ```
///
/// [`scaled_dot_product_attention`]: crate::scaled_dot_product_attention
pub struct MultiheadAttention {
    in_proj_weight: Param,
    in_proj_bias: Option<Param>,
    out_proj: Linear,
    embed_dim: usize,
    num_heads: usize,
    config: MultiheadAttentionConfig,
    training: AtomicBool,
}

impl MultiheadAttention {
    /// `embed_dim` features split over `num_heads` heads, PyTorch's defaults.
    pub fn new(embed_dim: usize, num_heads: usize) -> Result<MultiheadAttention> {
        MultiheadAttention::with_config(embed_dim, num_heads, MultiheadAttentionConfig::default())
    }

    /// With the given hyperparameters.
    pub fn with_config(
        embed_dim: usize,
        num_heads: usize,
        config: MultiheadAttentionConfig,
    ) -> Result<MultiheadAttention> {
        check_config(embed_dim, num_heads, &config)?;
        let dt = config.dtype;
        let w = Init::XavierUniform { gain: 1.0 }
            .tensor(&[3 * embed_dim, embed_dim])?
            .to_dtype(dt);
        let zeros = |n: usize| config.bias.then(|| Tensor::try_zeros(&[n], dt)).transpose();
        let b = zeros(3 * embed_dim)?;
        let out_w = crate::init::default_weight(&[embed_dim, embed_dim])?.to_dtype(dt);
        let out_b = zeros(embed_dim)?;
        MultiheadAttention::from_weights(num_heads, w, b, out_w, out_b, config)
    }

    /// From existing weights: `in_proj_weight [3E, E]`, `in_proj_bias [3E]`,
    /// `out_proj_weight [E, E]`, `out_proj_bias [E]` (biases both present or both absent;
    /// `config.bias` and `config.dtype` are taken from the weights).
    pub fn from_weights(
        num_heads: usize,
        in_proj_weight: Tensor,
        in_proj_bias: Option<Tensor>,
        out_proj_weight: Tensor,
        out_proj_bias: Option<Tensor>,
        config: MultiheadAttentionConfig,
    ) -> Result<MultiheadAttention> {
        let ws = in_proj_weight.shape();
        let e = ws.get(1).copied().unwrap_or(0);
        let bad = |what: String| Error::config("MultiheadAttention", what);
        if ws.len() != 2 || ws[0] != 3 * e {
            return Err(bad(format!("in_proj_weight must be [3E, E], got {ws:?}")));
        }
        if in_proj_bias.is_some() != out_proj_bias.is_some() {
            return Err(bad(
                "in_proj_bias and out_proj_bias must be both given or both absent".into(),
            ));
        }
        if let Some(b) = &in_proj_bias
            && b.shape() != [3 * e]
        {
            return Err(bad(format!(
                "in_proj_bias must be [{}], got {:?}",
                3 * e,
                b.shape()
            )));
        }
        if out_proj_weight.shape() != [e, e] {
            return Err(bad(format!(
                "out_proj.weight must be [{e}, {e}], got {:?}",
                out_proj_weight.shape()
            )));
        }
        let config = MultiheadAttentionConfig {
            bias: in_proj_bias.is_some(),
            dtype: in_proj_weight.dtype(),
            ..config
        };
        check_config(e, num_heads, &config)?;
        Ok(MultiheadAttention {
            in_proj_weight: Param::new(in_proj_weight),
            in_proj_bias: in_proj_bias.map(Param::new),
            out_proj: Linear::from_weights(out_proj_weight, out_proj_bias)?,
            embed_dim: e,
            num_heads,
            config,
            training: AtomicBool::new(true),
        })
    }

    /// `[3E, E]`: query, key and value projections stacked.
    pub fn in_proj_weight(&self) -> &Param {
        &self.in_proj_weight
    }

    /// `[3E]`, if any.
    pub fn in_proj_bias(&self) -> Option<&Param> {
        self.in_proj_bias.as_ref()
    }

    /// The output projection.
    pub fn out_proj(&self) -> &Linear {
        &self.out_proj
    }

    pub fn embed_dim(&self) -> usize {
        self.embed_dim
    }

    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// The hyperparameters.
    pub fn config(&self) -> MultiheadAttentionConfig {
        self.config
    }

    fn name(&self) -> String {
        format!("MultiheadAttention({})", self.extra_repr())
    }

    /// Attention of `query` over `key`/`value`: `[batch, L, E]`, `[batch, S, E]`,
    /// `[batch, S, E]` with `batch_first`, `[L, batch, E]` ... without, or unbatched
    /// `[L, E]`, `[S, E]`, `[S, E]`. Returns the output (shaped like `query`) and, when
    /// `need_weights`, the weights `[batch, L, S]` (averaged) or `[batch, heads, L, S]`
    /// (unbatched: without the batch dim).
    pub fn attend(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        options: &MhaOptions,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let unbatched = query.ndim() == 2;
        let batched = |t: &Tensor, what: &str| -> Result<Tensor> {
            let rank = if unbatched { 2 } else { 3 };
            if t.ndim() != rank || t.shape()[rank - 1] != self.embed_dim {
                return Err(self.input_error(
                    what,
                    format!(
                        "{what} of rank {rank} ending in {} (query {:?})",
                        self.embed_dim,
                        query.shape()
                    ),
                    t,
                ));
            }
            // To [batch, seq, E].
            Ok(match (unbatched, self.config.batch_first) {
                (true, _) => t.unsqueeze(0)?,
                (false, true) => t.clone(),
                (false, false) => t.transpose(0, 1)?,
            })
        };
        let (q, k, v) = (
            batched(query, "query")?,
            batched(key, "key")?,
            batched(value, "value")?,
        );
        let (b, l, s) = (q.shape()[0], q.shape()[1], k.shape()[1]);
        if k.shape()[..2] != v.shape()[..2] || k.shape()[0] != b {
            return Err(self.input_error(
                "key",
                format!(
                    "key and value with the same batch and sequence sizes, and the query's batch (query {:?}, value {:?})",
                    query.shape(),
                    value.shape()
                ),
                key,
            ));
        }
        let mask = self.combined_mask(options, b, l, s, key, q.dtype())?;
        let (qp, kp, vp) = self.project(query, key, value, &q, &k, &v)?;
        let (h, d) = (self.num_heads, self.embed_dim / self.num_heads);
        let heads = |t: Tensor, n: usize| -> Result<Tensor> {
            Ok(t.reshape(&[b, n, h, d])?.permute(&[0, 2, 1, 3])?)
        };
        let training = self.training.load(Ordering::Relaxed);
        let att = scaled_dot_product_attention(
            &heads(qp, l)?,
            &heads(kp, s)?,
            &heads(vp, s)?,
            &SdpaOptions {
                attn_mask: mask,
                is_causal: false,
                dropout_p: if training { self.config.dropout } else { 0.0 },
                scale: None,
                need_weights: options.need_weights,
            },
        )?;
        // [b, h, l, d] -> [b, l, E] -> out_proj.
        let merged = att
            .output
            .permute(&[0, 2, 1, 3])?
            .reshape(&[b, l, self.embed_dim])?;
        let out = self.out_proj.forward(&merged)?;
        let out = match (unbatched, self.config.batch_first) {
            (true, _) => out.squeeze_dim(0)?,
            (false, true) => out,
            (false, false) => out.transpose(0, 1)?,
        };
        let weights = match att.weights {
            Some(w) => {
                let w = if options.average_attn_weights {
                    w.mean(&[1], false)?
                } else {
                    w
                };
                Some(if unbatched { w.squeeze_dim(0)? } else { w })
            }
            None => None,
        };
        hooks::emit(self, &out);
        Ok((out, weights))
    }

    /// The q, k, v projections `[batch, seq, E]`. Self-attention (one tensor for all three)
    /// takes one matmul with the packed weight.
    fn project(
        &self,
        query: &Tensor,
        key: &Tensor,
        value: &Tensor,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let e = self.embed_dim;
        let w = self.in_proj_weight.tensor();
        let b = self.in_proj_bias.as_ref().map(|p| p.tensor());
        let linear = |x: &Tensor, w: &Tensor, b: Option<Tensor>| Ok(x.linear(w, b.as_ref())?);
        if query.id() == key.id() && key.id() == value.id() {
            let all = linear(q, w, b.cloned())?;
            let mut parts = all.chunk(3, -1)?.into_iter();
            if let (Some(a), Some(bb), Some(c)) = (parts.next(), parts.next(), parts.next()) {
                return Ok((a, bb, c));
            }
        }
        let part = |x: &Tensor, i: usize| -> Result<Tensor> {
            let bi = match b {
                Some(b) => Some(b.narrow(0, i * e, e)?),
                None => None,
            };
            linear(x, &w.narrow(0, i * e, e)?, bi)
        };
        Ok((part(q, 0)?, part(k, 1)?, part(v, 2)?))
    }

    /// One additive float mask broadcastable to `[b, heads, l, s]` from the key padding
    /// mask, the attention mask and causality, or `None` without masks.
    fn combined_mask(
        &self,
        options: &MhaOptions,
        b: usize,
        l: usize,
        s: usize,
        key: &Tensor,
        dtype: DType,
    ) -> Result<Option<Tensor>> {
        let h = self.num_heads;
        // Bool masks here mean "excluded": they become -inf where true.
        let name = self.name();
        let additive = |m: &Tensor| -> Result<Tensor> {
            check_mask_dtype(&name, m)?;
            Ok(if m.dtype() == DType::Bool {
                Tensor::zeros_dtype(m.shape(), dtype).masked_fill(m, f64::NEG_INFINITY)?
            } else {
                m.to_dtype(dtype)
            })
        };
        let mut total: Option<Tensor> = None;
        let mut add = |m: Tensor| -> Result<()> {
            total = Some(match total.take() {
                Some(t) => t.add(&m)?,
                None => m,
            });
            Ok(())
        };
        if let Some(kpm) = &options.key_padding_mask {
            let expected: &[usize] = if key.ndim() == 2 { &[s] } else { &[b, s] };
            if kpm.shape() != expected {
                return Err(self.input_error(
                    "key_padding_mask",
                    format!(
                        "key_padding_mask {expected:?} (batch, key positions; key {:?})",
                        key.shape()
                    ),
                    kpm,
                ));
            }
            add(additive(&kpm.reshape(&[b, 1, 1, s])?)?)?;
        }
        if let Some(am) = &options.attn_mask {
            let shaped = match am.shape() {
                [ml, ms] if *ml == l && *ms == s => am.clone(),
                [n, ml, ms] if *n == b * h && *ml == l && *ms == s => am.reshape(&[b, h, l, s])?,
                _ => {
                    return Err(self.input_error(
                        "attn_mask",
                        format!(
                            "attn_mask [{l}, {s}] or [{}, {l}, {s}] (L, S from query and key)",
                            b * h
                        ),
                        am,
                    ))
                }
            };
            add(additive(&shaped)?)?;
        }
        if options.is_causal {
            add(causal_bias(l, s, dtype)?)?;
        }
        Ok(total)
    }

    fn input_error(&self, what: &str, expected: String, got: &Tensor) -> Error {
        Error::Input {
            layer: format!("{}: {what}", self.name()),
            expected,
            got: got.shape().into(),
        }
    }
}

fn check_config(
    embed_dim: usize,
    num_heads: usize,
    config: &MultiheadAttentionConfig,
) -> Result<()> {
    if embed_dim == 0 || num_heads == 0 || !embed_dim.is_multiple_of(num_heads) {
        return Err(Error::config(
            "MultiheadAttention",
            format!("embed_dim must be positive and divisible by num_heads, got embed_dim={embed_dim}, num_heads={num_heads}"),
        ));
    }
    if !(0.0..1.0).contains(&config.dropout) {
        return Err(Error::config(
            "MultiheadAttention",
            format!("dropout must be in [0, 1), got {}", config.dropout),
        ));
    }
    if !config.dtype.is_float() {
        return Err(Error::config(
            "MultiheadAttention",
            format!("dtype must be f32 or f64, got {}", config.dtype),
        ));
    }
    Ok(())
}

impl Module for MultiheadAttention {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.param("in_proj_weight", &self.in_proj_weight);
        if let Some(b) = &self.in_proj_bias {
            visitor.param("in_proj_bias", b);
        }
        visitor.module("out_proj", &self.out_proj);
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn is_training(&self) -> Option<bool> {
        Some(self.training.load(Ordering::Relaxed))
    }

    fn extra_repr(&self) -> String {
        format!(
            "embed_dim={}, num_heads={}, dropout={}, batch_first={}",
            self.embed_dim, self.num_heads, self.config.dropout, self.config.batch_first
        )
    }
}

impl Forward for MultiheadAttention {
    /// Self-attention without masks; returns only the output.
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let options = MhaOptions {
            need_weights: false,
            ..Default::default()
        };
        Ok(self.attend(input, input, input, &options)?.0)
    }
}
