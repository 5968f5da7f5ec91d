//! `AdditiveAttention`: Bahdanau's attention for encoder-decoder models.

use super::sdpa::{check_mask_dtype, safe_softmax};
use crate::{hooks, Error, Forward, Linear, Module, Result, Visitor};
use strata_core::{DType, Tensor};

/// Additive (Bahdanau) attention: `score(q, k) = vᵀ tanh(W_q q + W_k k)`, a softmax over
/// the source positions and the weighted sum of the values.
///
/// Parameters: `query_proj` (`W_q`, no bias), `key_proj` (`W_k`, with the one bias of the
/// sum) and `v` (`[1, hidden]`, no bias), all initialised as default [`Linear`] layers.
///
/// [`attend`](AdditiveAttention::attend) takes a decoder state `query` `[batch, Dq]` (or
/// several steps `[batch, L, Dq]`), `keys` `[batch, S, Dk]` and `values` `[batch, S, Dv]`
/// (often the encoder outputs for both), and an optional `mask` `[batch, S]`: **bool,
/// `true` = the position takes part** (padding is `false`), or float, added to the scores.
/// It returns the context `[batch, Dv]` (`[batch, L, Dv]`) and the weights `[batch, S]`
/// (`[batch, L, S]`). A query whose every position is masked gets zero weights and a zero
/// context.
///
/// ```
/// use strata_nn::{AdditiveAttention, ModuleExt};
/// use strata_core::Tensor;
/// let att = AdditiveAttention::new(6, 4, 5)?; // query dim, key dim, hidden size
/// let (state, memory) = (Tensor::randn(&[2, 6]), Tensor::randn(&[2, 3, 4]));
/// let mask = Tensor::from_vec(vec![true, true, true, true, false, false], &[2, 3])?;
/// let (context, weights) = att.attend(&state, &memory, &memory, Some(&mask))?;
/// assert_eq!(context.shape(), &[2, 4]);
/// let w = weights.to_vec::<f32>()?;
/// assert_eq!(w[4..], [0.0, 0.0]); // padded source positions get no weight
/// assert!((w[3] - 1.0).abs() < 1e-6);
/// assert_eq!(att.num_parameters(), 6 * 5 + 4 * 5 + 5 + 5);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct AdditiveAttention {
    query_proj: Linear,
    key_proj: Linear,
    v: Linear,
}

impl AdditiveAttention {
    /// Attention of queries of size `query_dim` over keys of size `key_dim`, scoring in a
    /// `hidden_dim` space.
    pub fn new(query_dim: usize, key_dim: usize, hidden_dim: usize) -> Result<AdditiveAttention> {
        Ok(AdditiveAttention {
            query_proj: Linear::with_bias(query_dim, hidden_dim, false)?,
            key_proj: Linear::new(key_dim, hidden_dim)?,
            v: Linear::with_bias(hidden_dim, 1, false)?,
        })
    }

    /// From existing layers: `query_proj` `Dq → H`, `key_proj` `Dk → H`, `v` `H → 1`.
    pub fn from_layers(
        query_proj: Linear,
        key_proj: Linear,
        v: Linear,
    ) -> Result<AdditiveAttention> {
        let h = query_proj.out_features();
        if key_proj.out_features() != h || v.in_features() != h || v.out_features() != 1 {
            return Err(Error::config(
                "AdditiveAttention",
                format!(
                    "query_proj and key_proj must map to one hidden size and v from it to 1, got {h}, {} and {} -> {}",
                    key_proj.out_features(),
                    v.in_features(),
                    v.out_features()
                ),
            ));
        }
        Ok(AdditiveAttention {
            query_proj,
            key_proj,
            v,
        })
    }

    /// `W_q`.
    pub fn query_proj(&self) -> &Linear {
        &self.query_proj
    }

    /// `W_k` (with bias).
    pub fn key_proj(&self) -> &Linear {
        &self.key_proj
    }

    /// `v` as a `[1, hidden]` layer.
    pub fn v(&self) -> &Linear {
        &self.v
    }

    /// Context and weights; see the type's documentation for shapes.
    pub fn attend(
        &self,
        query: &Tensor,
        keys: &Tensor,
        values: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<(Tensor, Tensor)> {
        let single = query.ndim() == 2;
        let bad = |what: &str, expected: String, t: &Tensor| Error::Input {
            layer: format!("AdditiveAttention: {what}"),
            expected,
            got: t.shape().into(),
        };
        if keys.ndim() != 3 {
            return Err(bad("keys", "keys [batch, S, Dk]".into(), keys));
        }
        let (b, s) = (keys.shape()[0], keys.shape()[1]);
        if !(single || query.ndim() == 3) || query.shape()[0] != b {
            return Err(bad(
                "query",
                format!("query [{b}, Dq] or [{b}, L, Dq] (keys {:?})", keys.shape()),
                query,
            ));
        }
        if values.ndim() != 3 || values.shape()[..2] != [b, s] {
            return Err(bad(
                "values",
                format!("values [{b}, {s}, Dv] (keys {:?})", keys.shape()),
                values,
            ));
        }
        let q = if single {
            query.unsqueeze(1)?
        } else {
            query.clone()
        };
        // [b, L, 1, H] + [b, 1, S, H] -> tanh -> v -> [b, L, S].
        let qp = self.query_proj.forward(&q)?.unsqueeze(2)?;
        let kp = self.key_proj.forward(keys)?.unsqueeze(1)?;
        let mut scores = self.v.forward(&qp.add(&kp)?.tanh()?)?.squeeze_dim(-1)?;
        if let Some(m) = mask {
            if m.shape() != [b, s] {
                return Err(bad(
                    "mask",
                    format!("mask [{b}, {s}] (keys {:?})", keys.shape()),
                    m,
                ));
            }
            check_mask_dtype("AdditiveAttention: mask", m)?;
            let m = m.unsqueeze(1)?;
            scores = if m.dtype() == DType::Bool {
                scores.masked_fill(&m.logical_not()?, f64::NEG_INFINITY)?
            } else {
                scores.add(&m.to_dtype(scores.dtype()))?
            };
        }
        let weights = safe_softmax(&scores)?;
        let context = weights.matmul(values)?;
        let (context, weights) = if single {
            (context.squeeze_dim(1)?, weights.squeeze_dim(1)?)
        } else {
            (context, weights)
        };
        hooks::emit(self, &context);
        Ok((context, weights))
    }
}

impl Module for AdditiveAttention {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.module("query_proj", &self.query_proj);
        visitor.module("key_proj", &self.key_proj);
        visitor.module("v", &self.v);
    }
}
