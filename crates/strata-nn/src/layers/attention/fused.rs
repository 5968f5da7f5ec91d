//! The fused forward pass of unmasked (or causal) scaled dot-product attention: per
//! (batch, head) block, `q kᵀ` into a `[L, S]` tile, the scaled (causal) softmax on that
//! tile while it is in cache, then the product with `v`. Blocks run in parallel. The
//! backward rule is the usual composition: `dV = Pᵀ g`, `dP = g Vᵀ`,
//! `dS = P ⊙ (dP − rowsum(dP ⊙ P))`, `dQ = scale · dS K`, `dK = scale · dSᵀ Q`.
//!
//! Used by `scaled_dot_product_attention` when there is no attention mask, no dropout and
//! the weights are not asked for, and q, k, v have the same batch dims.

use crate::Result;
use strata_core::kernels::gemm::{gemm, MatMut, MatRef};
use strata_core::kernels::lanes::{lane_max, lane_sum};
use strata_core::kernels::parallel::for_each_item;
use strata_core::{no_grad, num_threads, BackwardOp, DType, FloatElement, Tensor};

/// Work (elements touched) below which the blocks stay on the calling thread.
const PAR_MIN_WORK: usize = 1 << 15;

/// `softmax(q kᵀ · scale [causal]) v`, or `None` where the fused path does not apply.
pub(crate) fn fused_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    causal: bool,
) -> Result<Option<Tensor>> {
    let nd = q.ndim();
    let batch_dims = &q.shape()[..nd - 2];
    let same_batch = k.ndim() == nd
        && v.ndim() == nd
        && &k.shape()[..nd - 2] == batch_dims
        && &v.shape()[..nd - 2] == batch_dims;
    let nonempty = q.numel() > 0 && k.numel() > 0 && v.numel() > 0;
    if !same_batch || !nonempty {
        return Ok(None);
    }
    let forward = match q.dtype() {
        DType::F32 => forward::<f32>(q, k, v, scale, causal)?,
        DType::F64 => forward::<f64>(q, k, v, scale, causal)?,
        _ => return Ok(None),
    };
    let (out, probs) = forward;
    Ok(Some(out.record_with(&[q, k, v], || {
        FusedAttentionBackward {
            probs: probs.detach(),
            scale,
        }
    })))
}

/// The output `[.., L, Ev]` and the weights `[.., L, S]`.
fn forward<T: FloatElement>(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: f64,
    causal: bool,
) -> Result<(Tensor, Tensor)> {
    let nd = q.ndim();
    let (l, e) = (q.shape()[nd - 2], q.shape()[nd - 1]);
    let (s, ev) = (k.shape()[nd - 2], v.shape()[nd - 1]);
    let batch: usize = q.shape()[..nd - 2].iter().product();
    let (qc, kc, vc) = (q.contiguous(), k.contiguous(), v.contiguous());
    let (qg, kg, vg) = (qc.read::<T>()?, kc.read::<T>()?, vc.read::<T>()?);
    let qd = &qg[qc.layout().offset()..][..qc.numel()];
    let kd = &kg[kc.layout().offset()..][..kc.numel()];
    let vd = &vg[vc.layout().offset()..][..vc.numel()];
    let mut probs = vec![T::from_f64(0.0); batch * l * s];
    let mut out = vec![T::from_f64(0.0); batch * l * ev];
    let scale_t = T::from_f64(scale);
    let block = |b: usize, p: &mut [T], o: &mut [T]| -> Result<()> {
        let qb = MatRef::row_major(&qd[b * l * e..], l, e)?;
        let kb = MatRef::row_major(&kd[b * s * e..], s, e)?;
        let vb = MatRef::row_major(&vd[b * s * ev..], s, ev)?;
        gemm(MatMut::row_major(p, l, s)?, qb, kb.t(), false)?;
        for (i, row) in p.chunks_mut(s).enumerate() {
            let live = if causal { (i + 1).min(s) } else { s };
            let (row, masked) = row.split_at_mut(live);
            softmax_row(row, scale_t);
            masked.fill(T::from_f64(0.0));
        }
        gemm(
            MatMut::row_major(o, l, ev)?,
            MatRef::row_major(p, l, s)?,
            vb,
            false,
        )?;
        Ok(())
    };
    let work = batch * l * (s + ev + e);
    if batch > 1 && work >= PAR_MIN_WORK && num_threads() > 1 {
        // One piece per block; each records its outcome, the first failure is returned.
        let mut outcomes: Vec<Result<()>> = (0..batch).map(|_| Ok(())).collect();
        let parts: Vec<_> = probs
            .chunks_mut(l * s)
            .zip(out.chunks_mut(l * ev))
            .zip(&mut outcomes)
            .enumerate()
            .collect();
        for_each_item(parts, |(b, ((p, o), outcome))| *outcome = block(b, p, o));
        outcomes.into_iter().collect::<Result<()>>()?;
    } else {
        for (b, (p, o)) in probs
            .chunks_mut(l * s)
            .zip(out.chunks_mut(l * ev))
            .enumerate()
        {
            block(b, p, o)?;
        }
    }
    let mut shape = q.shape().to_vec();
    shape[nd - 1] = ev;
    let out = Tensor::from_vec(out, &shape)?;
    shape[nd - 1] = s;
    Ok((out, Tensor::from_vec(probs, &shape)?))
}

/// In place: `row ← softmax(row · scale)`, stable (the maximum is subtracted first). Each
/// pass is a simple loop (or lane reduction) so that it vectorises.
fn softmax_row<T: FloatElement>(row: &mut [T], scale: T) {
    // max(x · scale) = max(x) · scale for scale > 0; computed after scaling to be general.
    for x in row.iter_mut() {
        *x *= scale;
    }
    let max = lane_max(row);
    for x in row.iter_mut() {
        *x = (*x - max).exp_v();
    }
    let inv = T::from_f64(1.0) / lane_sum(row, |x| x);
    for x in row.iter_mut() {
        *x *= inv;
    }
}

struct FusedAttentionBackward {
    probs: Tensor,
    scale: f64,
}

impl BackwardOp for FusedAttentionBackward {
    fn name(&self) -> &'static str {
        "scaled_dot_product_attention"
    }

    fn backward(
        &self,
        grad: &Tensor,
        inputs: &[Tensor],
    ) -> strata_core::Result<Vec<Option<Tensor>>> {
        let (q, k, v) = (&inputs[0], &inputs[1], &inputs[2]);
        let p = &self.probs;
        no_grad(|| {
            let dv = if v.requires_grad() {
                Some(p.transpose(-2, -1)?.matmul(grad)?)
            } else {
                None
            };
            if !q.requires_grad() && !k.requires_grad() {
                return Ok(vec![None, None, dv]);
            }
            let dp = grad.matmul(&v.detach().transpose(-2, -1)?)?;
            let row = dp.mul(p)?.sum(&[-1], true)?;
            let ds = p.mul(&dp.sub(&row)?)?.mul_scalar(self.scale)?;
            let dq = if q.requires_grad() {
                Some(ds.matmul(&k.detach())?)
            } else {
                None
            };
            let dk = if k.requires_grad() {
                Some(ds.transpose(-2, -1)?.matmul(&q.detach())?)
            } else {
                None
            };
            Ok(vec![dq, dk, dv])
        })
    }
}
