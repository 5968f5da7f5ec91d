//! Exact training metrics over every rank: each metric's running sums (its
//! [`shard_state`](crate::Metric::shard_state)) are gathered from all ranks and merged, so
//! F1, R² and the confusion matrix of a data-parallel epoch equal one process's.

use super::Collective;
use crate::{Metric, Result, TrainError};

/// Marks a metric without shard state in the gathered lengths.
const NO_STATE: u64 = u64::MAX;

/// Merges every rank's state of each of `metrics` into it. Returns, per metric, whether it
/// was merged: `false` for a metric that keeps no shard state (on every rank), whose values
/// the caller averages by example count instead.
pub(crate) fn merge_metrics(
    group: &mut dyn Collective,
    metrics: &mut [Box<dyn Metric>],
) -> Result<Vec<bool>> {
    let mut merged = Vec::with_capacity(metrics.len());
    for metric in metrics.iter_mut() {
        let state = metric.shard_state();
        let lens = group.all_gather_u64(state.as_ref().map_or(NO_STATE, |s| s.len() as u64))?;
        let (Some(state), false) = (state, lens.contains(&NO_STATE)) else {
            if lens.iter().any(|&l| l != NO_STATE) {
                return Err(TrainError::Parallel {
                    rank: group.rank(),
                    world: group.world(),
                    reason: format!(
                        "metric {:?} keeps a shard state on some ranks and not on others; \
                         every rank must use the same metrics",
                        metric.name()
                    ),
                });
            }
            merged.push(false);
            continue;
        };
        let states = all_gather_f64(group, &state, &lens)?;
        metric.merge(&states)?;
        merged.push(true);
    }
    Ok(merged)
}

/// Every rank's `values` (of the lengths `lens`, in rank order): each rank writes its own
/// stretch of a zeroed buffer and the sum over ranks assembles them; adding zeros is exact.
fn all_gather_f64(
    group: &mut dyn Collective,
    values: &[f64],
    lens: &[u64],
) -> Result<Vec<Vec<f64>>> {
    let lens: Vec<usize> = lens.iter().map(|&l| l as usize).collect();
    let start: usize = lens[..group.rank()].iter().sum();
    let mut buffer = vec![0.0; lens.iter().sum()];
    buffer[start..start + values.len()].copy_from_slice(values);
    group.all_reduce_sum_f64(&mut buffer)?;
    let mut at = 0;
    Ok(lens
        .iter()
        .map(|&n| {
            at += n;
            buffer[at - n..at].to_vec()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{ConfusionMatrix, Mse, R2};
    use crate::parallel::ThreadGroup;
    use crate::StepOutput;
    use strata_core::Tensor;

    /// Class scores that predict `predicted` for targets `target`.
    fn classified(predicted: &[usize], target: &[i64], classes: usize) -> StepOutput {
        let mut scores = vec![0f32; predicted.len() * classes];
        for (i, &p) in predicted.iter().enumerate() {
            scores[i * classes + p] = 1.0;
        }
        StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::from_vec(scores, &[predicted.len(), classes]).unwrap(),
            Tensor::from_vec(target.to_vec(), &[target.len()]).unwrap(),
        )
    }

    fn regressed(output: &[f64], target: &[f64]) -> StepOutput {
        StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::from_vec(output.to_vec(), &[output.len()]).unwrap(),
            Tensor::from_vec(target.to_vec(), &[target.len()]).unwrap(),
        )
    }

    fn metrics() -> Vec<Box<dyn Metric>> {
        vec![
            Box::new(ConfusionMatrix::inferred()),
            Box::new(R2::new()),
            Box::new(Mse::new()),
        ]
    }

    /// Feeds rank `r`'s share: classification rows `r, r+3, ...` and regression values
    /// far from zero; returns the metrics' values.
    fn feed(metrics: &mut [Box<dyn Metric>], rows: &[usize]) -> Vec<(String, f64)> {
        let predicted = [0, 1, 1, 2, 0, 2, 2, 1, 0, 1, 2];
        let target = [0i64, 1, 2, 2, 1, 2, 0, 1, 0, 0, 2];
        let y: Vec<f64> = (0..11).map(|i| 1e9 + (i * i) as f64).collect();
        let yhat: Vec<f64> = (0..11)
            .map(|i| 1e9 + (i * i) as f64 + (i % 3) as f64)
            .collect();
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let p: Vec<usize> = rows.iter().map(|&i| predicted[i]).collect();
        let t: Vec<i64> = rows.iter().map(|&i| target[i]).collect();
        if !rows.is_empty() {
            metrics[0].update(&classified(&p, &t, 3)).unwrap();
            metrics[1]
                .update(&regressed(&pick(&yhat), &pick(&y)))
                .unwrap();
            metrics[2]
                .update(&regressed(&pick(&yhat), &pick(&y)))
                .unwrap();
        }
        metrics.iter().flat_map(|m| m.compute()).collect()
    }

    #[test]
    fn merged_metrics_equal_one_process_over_all_batches() {
        let all: Vec<usize> = (0..11).collect();
        let expected = feed(&mut metrics(), &all);
        // Three ranks with uneven shares, one of which sees nothing at all.
        let shares = [vec![0, 3, 6, 9, 10], vec![1, 4, 7, 2, 5, 8], vec![]];
        let handles: Vec<_> = ThreadGroup::new(3)
            .into_iter()
            .map(|mut g| {
                let rows = shares[g.rank()].clone();
                std::thread::spawn(move || {
                    let mut m = metrics();
                    feed(&mut m, &rows);
                    assert_eq!(merge_metrics(&mut g, &mut m).unwrap(), [true; 3]);
                    m.iter().flat_map(|m| m.compute()).collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            let got = h.join().unwrap();
            assert_eq!(got.len(), expected.len());
            for ((k, v), (ek, ev)) in got.iter().zip(&expected) {
                assert_eq!(k, ek);
                assert!(
                    (v - ev).abs() <= 1e-12 * ev.abs().max(1.0),
                    "{k}: {v} vs {ev}"
                );
            }
        }
    }

    /// A metric with no shard state: the caller averages it.
    struct Opaque;
    impl Metric for Opaque {
        fn name(&self) -> String {
            "opaque".into()
        }
        fn reset(&mut self) {}
        fn update(&mut self, _: &StepOutput) -> Result<()> {
            Ok(())
        }
        fn compute(&self) -> Vec<(String, f64)> {
            vec![("opaque".into(), 1.0)]
        }
        fn fresh(&self) -> Box<dyn Metric> {
            Box::new(Opaque)
        }
    }

    #[test]
    fn metrics_without_state_are_left_to_averaging_and_mixtures_are_refused() {
        let handles: Vec<_> = ThreadGroup::new(2)
            .into_iter()
            .map(|mut g| {
                std::thread::spawn(move || {
                    let mut same: Vec<Box<dyn Metric>> = vec![Box::new(Opaque)];
                    let flags = merge_metrics(&mut g, &mut same).unwrap();
                    let mut mixed: Vec<Box<dyn Metric>> = if g.rank() == 0 {
                        vec![Box::new(Opaque)]
                    } else {
                        vec![Box::new(Mse::new())]
                    };
                    let err = merge_metrics(&mut g, &mut mixed).unwrap_err().to_string();
                    (flags, err)
                })
            })
            .collect();
        for h in handles {
            let (flags, err) = h.join().unwrap();
            assert_eq!(flags, [false]);
            assert!(err.contains("shard state on some ranks"), "{err}");
        }
    }
}
