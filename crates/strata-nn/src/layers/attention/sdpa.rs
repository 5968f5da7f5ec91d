//! `scaled_dot_product_attention`: `softmax(q kᵀ · scale + mask) v`, as PyTorch's
//! `F.scaled_dot_product_attention` (math backend), composed of differentiable core ops:
//! one batched matmul for the scores, one softmax, one batched matmul with the values.

use super::fused::fused_attention;
use crate::{Error, Result};
use strata_core::{broadcast_shape, with_global_generator, DType, Tensor};

const OP: &str = "scaled_dot_product_attention";

/// Options of [`scaled_dot_product_attention`] (PyTorch's defaults).
///
/// ```
/// use strata_nn::SdpaOptions;
/// let causal = SdpaOptions { is_causal: true, scale: Some(0.5), ..Default::default() };
/// assert!(causal.attn_mask.is_none() && causal.dropout_p == 0.0 && !causal.need_weights);
/// ```
#[derive(Clone, Debug, Default)]
pub struct SdpaOptions {
    /// A mask broadcastable to the scores `[.., L, S]`. A **bool** mask says which keys
    /// take part (`true` = attend, as PyTorch's `F.scaled_dot_product_attention`); a
    /// **float** mask is added to the scores (`-inf` removes a key).
    pub attn_mask: Option<Tensor>,
    /// Query `i` sees only keys `j <= i` (the top-left aligned lower triangle of `[L, S]`,
    /// as PyTorch). Combined with `attn_mask` when both are given (PyTorch refuses both).
    pub is_causal: bool,
    /// Probability of zeroing an attention weight (the survivors are scaled by
    /// `1 / (1 - p)`), drawn from the global generator (`strata_core::manual_seed`). It is
    /// applied whenever `p > 0`, as in PyTorch: pass 0 in evaluation. Must be in `[0, 1)`.
    pub dropout_p: f64,
    /// Factor applied to `q kᵀ`; `None` means `1 / √E`.
    pub scale: Option<f64>,
    /// Also return the attention weights (after dropout, as PyTorch's MultiheadAttention).
    pub need_weights: bool,
}

/// The result of [`scaled_dot_product_attention`].
///
/// ```
/// use strata_nn::{scaled_dot_product_attention, SdpaOptions};
/// use strata_core::Tensor;
/// let x = Tensor::randn(&[3, 4]);
/// let att = scaled_dot_product_attention(&x, &x, &x, &SdpaOptions::default())?;
/// assert_eq!(att.output.shape(), &[3, 4]);
/// assert!(att.weights.is_none()); // not asked for
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct AttentionOutput {
    /// `[.., L, Ev]`.
    pub output: Tensor,
    /// `[.., L, S]`, rows summing to 1 (0 for fully masked rows), when asked for.
    pub weights: Option<Tensor>,
}

/// Attention of queries `q [.., L, E]` over keys `k [.., S, E]` and values `v [.., S, Ev]`:
/// `softmax(q kᵀ · scale + mask) v`, returning `[.., L, Ev]`. Leading (batch, head) dims
/// broadcast as in `matmul`. All inputs are differentiable.
///
/// **Fully masked rows.** A query whose every key is masked out gets all-zero weights and
/// a zero output (and zero gradients), as PyTorch's math backend does since 2.5 (its
/// `_safe_softmax`); no NaN is produced. (PyTorch's `nn.MultiheadAttention` with
/// `need_weights=True` returns NaN for such rows instead.)
///
/// ```
/// use strata_nn::{scaled_dot_product_attention, SdpaOptions};
/// use strata_core::Tensor;
/// let (q, k, v) = (Tensor::randn(&[2, 4, 8]), Tensor::randn(&[2, 6, 8]), Tensor::randn(&[2, 6, 3]));
/// let opts = SdpaOptions { need_weights: true, ..Default::default() };
/// let att = scaled_dot_product_attention(&q, &k, &v, &opts)?;
/// assert_eq!(att.output.shape(), &[2, 4, 3]);
/// let w = att.weights.unwrap().sum(&[-1], false)?.to_vec::<f32>()?;
/// assert!(w.iter().all(|s| (s - 1.0).abs() < 1e-5));
///
/// // A bool mask: true = take part. Here query 0 may look only at key 0.
/// let mut keep = vec![true; 4 * 6];
/// keep[1..6].fill(false);
/// let mask = Tensor::from_vec(keep, &[4, 6])?;
/// let opts = SdpaOptions { attn_mask: Some(mask), need_weights: true, ..Default::default() };
/// let w = scaled_dot_product_attention(&q, &k, &v, &opts)?.weights.unwrap();
/// assert_eq!(w.select(1, 0)?.to_vec::<f32>()?[..6], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
///
/// let err = scaled_dot_product_attention(&q, &Tensor::randn(&[2, 6, 5]), &v, &SdpaOptions::default()).unwrap_err();
/// assert!(err.to_string().contains("[2, 6, 5]"));
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn scaled_dot_product_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    options: &SdpaOptions,
) -> Result<AttentionOutput> {
    let (l, s, e) = check_inputs(q, k, v)?;
    if !(0.0..1.0).contains(&options.dropout_p) {
        return Err(Error::config(
            OP,
            format!("dropout_p must be in [0, 1), got {}", options.dropout_p),
        ));
    }
    let scale = options.scale.unwrap_or(1.0 / (e as f64).sqrt());
    let plain = options.attn_mask.is_none() && options.dropout_p == 0.0 && !options.need_weights;
    if plain && let Some(output) = fused_attention(q, k, v, scale, options.is_causal)? {
        return Ok(AttentionOutput {
            output,
            weights: None,
        });
    }
    // The scale goes on whichever is smaller: q [.., L, E] or the scores [.., L, S].
    let mut scores = if e <= s {
        q.mul_scalar(scale)?.matmul(&k.transpose(-2, -1)?)?
    } else {
        q.matmul(&k.transpose(-2, -1)?)?.mul_scalar(scale)?
    };
    let mut masked = false;
    if options.is_causal {
        // Adding a 0/-inf bias is cheaper than a masked fill (a plain broadcast add).
        scores = scores.add(&causal_bias(l, s, scores.dtype())?)?;
    }
    if let Some(mask) = &options.attn_mask {
        check_mask(mask, scores.shape())?;
        scores = if mask.dtype() == DType::Bool {
            scores.masked_fill(&mask.logical_not()?, f64::NEG_INFINITY)?
        } else {
            scores.add(&mask.to_dtype(scores.dtype()))?
        };
        masked = true;
    }
    // A causal mask alone never empties a row (query i always sees key 0).
    let mut weights = if masked {
        safe_softmax(&scores)?
    } else {
        scores.softmax(-1)?
    };
    if options.dropout_p > 0.0 {
        let keep = 1.0 - options.dropout_p;
        let drop = with_global_generator(|g| {
            Tensor::bernoulli_with(g, weights.shape(), keep, weights.dtype())
        })?;
        weights = weights.mul(&drop.mul_scalar(1.0 / keep)?)?;
    }
    let output = weights.matmul(v)?;
    Ok(AttentionOutput {
        output,
        weights: options.need_weights.then_some(weights),
    })
}

/// Checks ranks and sizes; returns `(L, S, E)`.
fn check_inputs(q: &Tensor, k: &Tensor, v: &Tensor) -> Result<(usize, usize, usize)> {
    let err = |what: &str, expected: String, got: &Tensor| Error::Input {
        layer: format!("{OP}({what})"),
        expected,
        got: got.shape().into(),
    };
    for (name, t) in [("query", q), ("key", k), ("value", v)] {
        if t.ndim() < 2 {
            return Err(err(name, "a tensor [.., seq, features]".into(), t));
        }
        if !t.dtype().is_float() || t.dtype() != q.dtype() {
            return Err(Error::config(
                OP,
                format!(
                    "query, key and value must share one float dtype, got {}, {} and {}",
                    q.dtype(),
                    k.dtype(),
                    v.dtype()
                ),
            ));
        }
    }
    let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
    let (l, e) = (qs[qs.len() - 2], qs[qs.len() - 1]);
    let s = ks[ks.len() - 2];
    if ks[ks.len() - 1] != e {
        return Err(err(
            "key",
            format!("key [.., S, {e}] matching the query's feature size (query {qs:?})"),
            k,
        ));
    }
    if vs[vs.len() - 2] != s {
        return Err(err(
            "value",
            format!("value [.., {s}, Ev] with as many positions as the key (key {ks:?})"),
            v,
        ));
    }
    let batch = |x: &[usize]| x[..x.len() - 2].to_vec();
    broadcast_shape(OP, &batch(qs), &batch(ks))
        .and_then(|b| broadcast_shape(OP, &b, &batch(vs)))
        .map_err(|_| {
            Error::config(
                OP,
                format!("batch dims of query {qs:?}, key {ks:?} and value {vs:?} do not broadcast"),
            )
        })?;
    Ok((l, s, e))
}

/// The mask must broadcast to the scores without enlarging them.
fn check_mask(mask: &Tensor, scores: &[usize]) -> Result<()> {
    check_mask_dtype(OP, mask)?;
    let m = mask.shape();
    let fits = m.len() <= scores.len()
        && m.iter()
            .rev()
            .zip(scores.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    if !fits {
        return Err(Error::Input {
            layer: format!("{OP}(attn_mask)"),
            expected: format!("a mask broadcastable to the scores {scores:?}"),
            got: m.into(),
        });
    }
    Ok(())
}

/// `[L, S]` of `dtype`: `-inf` above the diagonal (`j > i`, the pairs a causal mask
/// removes), 0 elsewhere.
pub(crate) fn causal_bias(l: usize, s: usize, dtype: DType) -> Result<Tensor> {
    let data: Vec<f64> = (0..l * s)
        .map(|ix| {
            if ix % s > ix / s {
                f64::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    Ok(Tensor::from_vec(data, &[l, s])?.to_dtype(dtype))
}

/// Softmax over the last dim that gives all-zero rows (and zero gradients) where every
/// score is `-inf`, instead of NaN. Rows with a finite score are an ordinary softmax.
pub(crate) fn safe_softmax(scores: &Tensor) -> Result<Tensor> {
    let alive = scores
        .gt_scalar(f64::NEG_INFINITY)?
        .to_dtype(scores.dtype())
        .sum(&[-1], true)?
        .gt_scalar(0.0)?;
    if alive.to_vec::<bool>()?.iter().all(|&a| a) {
        return Ok(scores.softmax(-1)?);
    }
    // Dead rows are replaced by zeros before the softmax (finite forward and backward),
    // then their weights are zeroed.
    let zero = Tensor::zeros_dtype(&[], scores.dtype());
    Ok(scores
        .where_(&alive, &zero)?
        .softmax(-1)?
        .where_(&alive, &zero)?)
}

/// Masks are bool (which positions) or floating point (added to the scores); integer masks
/// are refused rather than guessed at.
pub(crate) fn check_mask_dtype(op: &str, mask: &Tensor) -> Result<()> {
    if mask.dtype() == DType::Bool || mask.dtype().is_float() {
        return Ok(());
    }
    Err(Error::Input {
        layer: op.to_string(),
        expected: format!("a bool or floating-point mask, not {}", mask.dtype()),
        got: mask.shape().into(),
    })
}
