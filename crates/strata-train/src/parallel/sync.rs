//! What the trainer does with a [`Collective`]: check that every rank holds the same model,
//! start every rank from rank 0's weights, and average gradients in buckets.

use super::{Collective, BUCKET_VALUES};
use crate::{Result, TrainError};
use strata_core::{DType, Gradients, Tensor};
use strata_nn::{Module, ModuleExt, Param};

/// FNV-1a over the state dict's names, shapes and dtypes: equal on every rank exactly when
/// the models have the same structure.
fn signature(entries: &[(String, Tensor)]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for (name, t) in entries {
        feed(name.as_bytes());
        for &d in t.shape() {
            feed(&(d as u64).to_le_bytes());
        }
        feed(t.dtype().to_string().as_bytes());
    }
    hash
}

/// An error unless every rank's model has rank 0's parameter names, shapes and dtypes.
pub(crate) fn check_same_model(group: &mut dyn Collective, model: &dyn Module) -> Result<()> {
    let all = group.all_gather_u64(signature(&model.state_dict()))?;
    let differ: Vec<usize> = (0..all.len()).filter(|&r| all[r] != all[0]).collect();
    if differ.is_empty() {
        return Ok(());
    }
    Err(TrainError::Parallel {
        rank: group.rank(),
        world: group.world(),
        reason: format!(
            "rank(s) {differ:?} hold a model whose parameter names or shapes differ from rank 0's; \
             every rank must build the same model from the same config"
        ),
    })
}

/// Gives every rank rank 0's parameters and buffers, so all start from the same weights.
pub(crate) fn broadcast_module(group: &mut dyn Collective, model: &dyn Module) -> Result<()> {
    let mut entries = model.state_dict();
    for (_, t) in &mut entries {
        *t = broadcast_tensor(group, t)?;
    }
    model.load_state_dict(&entries, true)?;
    Ok(())
}

fn broadcast_tensor(group: &mut dyn Collective, t: &Tensor) -> Result<Tensor> {
    Ok(match t.dtype() {
        DType::F32 => {
            let mut v = t.to_vec::<f32>()?;
            group.broadcast_f32(&mut v)?;
            Tensor::from_vec(v, t.shape())?
        }
        // Other dtypes (f64, integer step counters) travel as f64 and convert back.
        dtype => {
            let mut v = t.to_vec_f64();
            group.broadcast_f64(&mut v)?;
            Tensor::from_vec(v, t.shape())?.to_dtype(dtype)
        }
    })
}

/// Replaces each trainable parameter's gradient (this rank's mean over `count` examples) by
/// the mean over every rank's examples, `Σ count_r·g_r / Σ count_r`: exactly the gradient
/// of one process seeing all of them, even when the last batch is split unevenly. Buckets
/// of at most [`BUCKET_VALUES`] values, in parameter order (the same on every rank). A
/// parameter without a gradient on this rank contributes zeros, so ranks stay in step.
pub(crate) fn average_gradients(
    group: &mut dyn Collective,
    grads: &mut Gradients,
    named: &[(String, Param)],
    count: usize,
) -> Result<()> {
    let mut total = [count as f64];
    group.all_reduce_sum_f64(&mut total)?;
    let total = total[0].max(1.0);
    let weight = count as f64;
    let params: Vec<&Param> = named
        .iter()
        .map(|(_, p)| p)
        .filter(|p| p.is_trainable())
        .collect();
    // f32 gradients share buckets; any other float dtype goes alone, as f64.
    let mut bucket: Vec<(&Param, usize)> = Vec::new();
    let mut values: Vec<f32> = Vec::new();
    for p in &params {
        let t = p.tensor();
        let n = t.numel();
        if t.dtype() != DType::F32 {
            average_alone(group, grads, p, weight, total)?;
            continue;
        }
        if !values.is_empty() && values.len() + n > BUCKET_VALUES {
            flush(group, grads, &mut bucket, &mut values, total)?;
        }
        let start = values.len();
        match grads.get(t) {
            Some(g) => values.extend(g.to_vec::<f32>()?),
            None => values.resize(start + n, 0.0),
        }
        let w = weight as f32;
        values[start..].iter_mut().for_each(|x| *x *= w);
        bucket.push((p, n));
    }
    flush(group, grads, &mut bucket, &mut values, total)
}

/// Averages the gradient of a parameter of another float dtype than f32 on its own, as
/// f64: `Σ weight_r·g_r / total`, zeros where this rank has no gradient.
pub(super) fn average_alone(
    group: &mut dyn Collective,
    grads: &mut Gradients,
    p: &Param,
    weight: f64,
    total: f64,
) -> Result<()> {
    let t = p.tensor();
    let mut v = match grads.get(t) {
        Some(g) => g.to_vec_f64(),
        None => vec![0.0; t.numel()],
    };
    v.iter_mut().for_each(|x| *x *= weight);
    group.all_reduce_sum_f64(&mut v)?;
    v.iter_mut().for_each(|x| *x /= total);
    grads.insert(t, Tensor::from_vec(v, t.shape())?.to_dtype(t.dtype()));
    Ok(())
}

/// All-reduces one bucket and puts each parameter's averaged gradient back.
fn flush(
    group: &mut dyn Collective,
    grads: &mut Gradients,
    bucket: &mut Vec<(&Param, usize)>,
    values: &mut Vec<f32>,
    total: f64,
) -> Result<()> {
    if bucket.is_empty() {
        return Ok(());
    }
    group.all_reduce_sum_f32(values)?;
    let scale = (1.0 / total) as f32;
    let mut at = 0;
    for (p, n) in bucket.drain(..) {
        let g: Vec<f32> = values[at..at + n].iter().map(|x| x * scale).collect();
        grads.insert(p.tensor(), Tensor::from_vec(g, p.tensor().shape())?);
        at += n;
    }
    values.clear();
    Ok(())
}

/// The epoch's figures over every rank: `sums` are added (loss sums, counts, examples);
/// each of `means` (a metric without shard state, computed on this rank's `examples`)
/// becomes the example-weighted mean over ranks — exact only for plain means; the built-in
/// metrics are merged exactly by [`merge_metrics`](super::merge_metrics) instead.
pub(crate) fn reduce_epoch(
    group: &mut dyn Collective,
    sums: &mut [f64],
    means: &mut [f64],
    examples: usize,
) -> Result<()> {
    let mut buf: Vec<f64> = sums.to_vec();
    buf.push(examples as f64);
    buf.extend(means.iter().map(|m| m * examples as f64));
    group.all_reduce_sum_f64(&mut buf)?;
    let k = sums.len();
    sums.copy_from_slice(&buf[..k]);
    let all = buf[k].max(1.0);
    for (m, v) in means.iter_mut().zip(&buf[k + 1..]) {
        *m = v / all;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::ThreadGroup;

    #[test]
    fn gradients_average_by_example_count_across_odd_buckets() {
        // Three f32 parameters (the middle one larger than half a bucket, so the buckets
        // split unevenly) and an f64 one; rank r's gradient is r + 1 everywhere.
        let shapes = [
            vec![3usize],
            vec![BUCKET_VALUES / 2 + 7],
            vec![BUCKET_VALUES / 2],
            vec![2],
        ];
        let handles: Vec<_> = ThreadGroup::new(3)
            .into_iter()
            .map(|mut g| {
                let shapes = shapes.clone();
                std::thread::spawn(move || {
                    let named: Vec<(String, Param)> = shapes
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let t = if i == 3 {
                                Tensor::zeros_dtype(s, DType::F64)
                            } else {
                                Tensor::zeros(s)
                            };
                            (format!("p{i}"), Param::new(t))
                        })
                        .collect();
                    let mut grads = Gradients::default();
                    let r = g.rank() as f64;
                    for (_, p) in &named {
                        let t = p.tensor();
                        let value = Tensor::full(t.shape(), r + 1.0, t.dtype());
                        grads.insert(t, value);
                    }
                    // Rank r saw r + 1 examples: the mean is (1·1 + 2·2 + 3·3) / 6.
                    let count = g.rank() + 1;
                    average_gradients(&mut g, &mut grads, &named, count).unwrap();
                    named
                        .iter()
                        .map(|(_, p)| grads.get(p.tensor()).unwrap().to_vec_f64())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            for g in h.join().unwrap() {
                assert!(g.iter().all(|&v| (v - 14.0 / 6.0).abs() < 1e-6), "{}", g[0]);
            }
        }
    }

    #[test]
    fn different_models_are_named_and_rank_zero_weights_win() {
        let handles: Vec<_> = ThreadGroup::new(2)
            .into_iter()
            .map(|mut g| {
                std::thread::spawn(move || {
                    let width = if g.rank() == 0 { 4 } else { 5 };
                    let odd = strata_nn::Linear::new(3, width).unwrap();
                    let same = strata_nn::Linear::new(3, 4).unwrap();
                    let err = check_same_model(&mut g, &odd).unwrap_err().to_string();
                    check_same_model(&mut g, &same).unwrap();
                    broadcast_module(&mut g, &same).unwrap();
                    (err, same.weight().tensor().to_vec::<f32>().unwrap())
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            results[0].0.contains("rank(s) [1] hold a model"),
            "{}",
            results[0].0
        );
        assert_eq!(results[0].1, results[1].1);
    }

    #[test]
    fn epoch_figures_are_summed_and_example_weighted() {
        let handles: Vec<_> = ThreadGroup::new(2)
            .into_iter()
            .map(|mut g| {
                std::thread::spawn(move || {
                    let r = g.rank();
                    let mut sums = [10.0 * (r + 1) as f64];
                    // Accuracy 1.0 on 30 examples and 0.5 on 10: 35 / 40.
                    let (mut means, n) = if r == 0 { ([1.0], 30) } else { ([0.5], 10) };
                    reduce_epoch(&mut g, &mut sums, &mut means, n).unwrap();
                    (sums[0], means[0])
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), (30.0, 0.875));
        }
    }
}
