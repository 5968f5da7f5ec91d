//! Gradient averaging overlapped with the backward pass: each bucket of gradients starts
//! its all-reduce as soon as the autograd engine reports its last gradient final
//! ([`Tensor::backward_with_hook`]), while the earlier layers' gradients are still being
//! computed. Buckets hold the parameters in reverse order, since the last layers' gradients
//! are final first, and start strictly in bucket order so that every rank issues the same
//! reductions in the same order.

use super::{Collective, InFlight, BUCKET_VALUES};
use crate::Result;
use std::collections::HashMap;
use strata_core::{DType, Gradients, Tensor, TensorId};
use strata_nn::Param;

/// One backward pass's averaging: [`ready`](Self::ready) from the hook, then
/// [`finish`](Self::finish). The result equals [`super::average_gradients`]'s.
pub(crate) struct OverlappedAverage<'g> {
    group: &'g mut dyn Collective,
    /// Where each f32 parameter's gradient goes: bucket and offset.
    slots: HashMap<TensorId, (usize, usize)>,
    buckets: Vec<Bucket>,
    /// The next bucket to start: buckets start in order.
    next: usize,
    /// This rank's example count, by which its gradients are weighted.
    weight: f32,
    /// The example count over all ranks.
    total: f64,
    /// Parameters of other float dtypes, averaged after the pass one by one, as f64.
    others: Vec<Param>,
}

struct Bucket {
    params: Vec<(Param, usize)>,
    values: Vec<f32>,
    /// Parameters whose gradient has not arrived.
    missing: usize,
    flight: Option<Box<dyn InFlight>>,
}

impl<'g> OverlappedAverage<'g> {
    /// Averaging of the trainable parameters of `named` for a batch of `count` examples
    /// on this rank. Sums the example count over ranks first (a small blocking reduction).
    pub(crate) fn new(
        group: &'g mut dyn Collective,
        named: &[(String, Param)],
        count: usize,
    ) -> Result<OverlappedAverage<'g>> {
        let mut total = [count as f64];
        group.all_reduce_sum_f64(&mut total)?;
        let mut slots = HashMap::new();
        let mut buckets: Vec<Bucket> = Vec::new();
        let mut others = Vec::new();
        for (_, p) in named.iter().rev().filter(|(_, p)| p.is_trainable()) {
            let t = p.tensor();
            if t.dtype() != DType::F32 {
                others.push(p.clone());
                continue;
            }
            let n = t.numel();
            let full = buckets
                .last()
                .is_none_or(|b| !b.values.is_empty() && b.values.len() + n > BUCKET_VALUES);
            if full {
                buckets.push(Bucket {
                    params: Vec::new(),
                    values: Vec::new(),
                    missing: 0,
                    flight: None,
                });
            }
            let index = buckets.len() - 1;
            let Some(b) = buckets.last_mut() else {
                continue;
            };
            slots.insert(t.id(), (index, b.values.len()));
            b.params.push((p.clone(), n));
            b.values.resize(b.values.len() + n, 0.0);
            b.missing += 1;
        }
        Ok(OverlappedAverage {
            group,
            slots,
            buckets,
            next: 0,
            weight: count as f32,
            total: total[0].max(1.0),
            others,
        })
    }

    /// Takes one final gradient (the autograd hook calls it), starts every bucket now
    /// complete, in order, and lets the reductions under way advance.
    pub(crate) fn ready(&mut self, leaf: &Tensor, grad: &Tensor) -> Result<()> {
        let Some(&(b, at)) = self.slots.get(&leaf.id()) else {
            return Ok(());
        };
        let bucket = &mut self.buckets[b];
        let grad = grad.contiguous();
        let src = grad.read::<f32>()?;
        let w = self.weight;
        for (d, s) in bucket.values[at..at + src.len()].iter_mut().zip(src.iter()) {
            *d = s * w;
        }
        bucket.missing -= 1;
        self.start_complete()?;
        for bucket in &mut self.buckets[..self.next] {
            if let Some(f) = &mut bucket.flight {
                f.poll()?;
            }
        }
        Ok(())
    }

    fn start_complete(&mut self) -> Result<()> {
        while let Some(bucket) = self.buckets.get_mut(self.next) {
            if bucket.missing > 0 {
                break;
            }
            let values = std::mem::take(&mut bucket.values);
            bucket.flight = Some(self.group.start_all_reduce_sum_f32(values)?);
            self.next += 1;
        }
        Ok(())
    }

    /// After the pass: starts what is left (a parameter that got no gradient contributes
    /// zeros, so ranks stay in step), waits for every bucket and puts the averaged
    /// gradients into `grads`.
    pub(crate) fn finish(mut self, grads: &mut Gradients) -> Result<()> {
        self.buckets.iter_mut().for_each(|b| b.missing = 0);
        self.start_complete()?;
        let scale = (1.0 / self.total) as f32;
        for bucket in &mut self.buckets {
            let Some(flight) = bucket.flight.take() else {
                continue;
            };
            let values = flight.wait()?;
            let mut at = 0;
            for (p, n) in &bucket.params {
                let g: Vec<f32> = values[at..at + n].iter().map(|x| x * scale).collect();
                grads.insert(p.tensor(), Tensor::from_vec(g, p.tensor().shape())?);
                at += n;
            }
        }
        for p in &self.others {
            super::sync::average_alone(self.group, grads, p, self.weight as f64, self.total)?;
        }
        Ok(())
    }
}
