//! Regression metrics: mean squared error, mean absolute error and R², elementwise over
//! every value of outputs and targets of one shape.

use super::{summed_states, Metric};
use crate::{Result, StepOutput, TrainError};
use strata_core::DType;

/// The outputs and targets of a batch as f64, checked to pair up one to one: the same
/// shape, or `[N, 1]` against `[N]` (either way round).
fn paired_values(metric: &str, step: &StepOutput) -> Result<(Vec<f64>, Vec<f64>)> {
    let (output, target) = (&step.output, &step.target);
    if !output.dtype().is_float() {
        return Err(TrainError::metric(
            metric,
            format!("output must be f32 or f64, got {}", output.dtype()),
        ));
    }
    if target.dtype() == DType::Bool {
        return Err(TrainError::metric(
            metric,
            "targets must be numbers (f32, f64 or i64), got bool",
        ));
    }
    if !shapes_pair(output.shape(), target.shape()) {
        return Err(TrainError::metric(
            metric,
            format!(
                "output shape {:?} does not match target shape {:?}; they must be equal \
                 (or [N, 1] against [N])",
                output.shape(),
                target.shape()
            ),
        ));
    }
    Ok((output.to_vec_f64(), target.to_vec_f64()))
}

fn shapes_pair(a: &[usize], b: &[usize]) -> bool {
    a == b || matches!((a, b), ([n, 1], [m]) | ([n], [m, 1]) if n == m)
}

fn mean(sum: f64, count: u64) -> f64 {
    if count == 0 {
        f64::NAN
    } else {
        sum / count as f64
    }
}

/// Mean squared error over every value, key `"mse"`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::Mse, Metric, StepOutput};
/// let mut mse = Mse::new();
/// let out = Tensor::from_vec(vec![1.0f32, 2.0, 5.0], &[3, 1])?;
/// let target = Tensor::from_vec(vec![1.0f32, 4.0, 4.0], &[3])?;
/// mse.update(&StepOutput::new(Tensor::scalar(0.0f32), out, target))?;
/// assert_eq!(mse.compute(), vec![("mse".to_string(), 5.0 / 3.0)]);
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Mse {
    sum_squares: f64,
    count: u64,
}

impl Mse {
    /// An empty mean squared error.
    pub fn new() -> Mse {
        Mse::default()
    }
}

impl Metric for Mse {
    fn name(&self) -> String {
        "mse".into()
    }

    fn reset(&mut self) {
        *self = Mse::default();
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        let (output, target) = paired_values(&self.name(), step)?;
        let zip = output.iter().zip(&target);
        self.sum_squares += zip.map(|(o, t)| (o - t) * (o - t)).sum::<f64>();
        self.count += target.len() as u64;
        Ok(())
    }

    fn compute(&self) -> Vec<(String, f64)> {
        vec![(self.name(), mean(self.sum_squares, self.count))]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        Box::new(Mse::new())
    }

    fn shard_state(&self) -> Option<Vec<f64>> {
        Some(vec![self.sum_squares, self.count as f64])
    }

    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        let sum = summed_states(&self.name(), states, 2)?;
        (self.sum_squares, self.count) = (sum[0], sum[1] as u64);
        Ok(())
    }
}

/// Mean absolute error over every value, key `"mae"`.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::Mae, Metric, StepOutput};
/// let mut mae = Mae::new();
/// let out = Tensor::from_vec(vec![1.0f64, 2.0, 5.0, 0.0], &[2, 2])?;
/// let target = Tensor::from_vec(vec![1.0f64, 4.0, 4.0, 1.0], &[2, 2])?;
/// mae.update(&StepOutput::new(Tensor::scalar(0.0f32), out, target))?;
/// assert_eq!(mae.compute(), vec![("mae".to_string(), 1.0)]);
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct Mae {
    sum_abs: f64,
    count: u64,
}

impl Mae {
    /// An empty mean absolute error.
    pub fn new() -> Mae {
        Mae::default()
    }
}

impl Metric for Mae {
    fn name(&self) -> String {
        "mae".into()
    }

    fn reset(&mut self) {
        *self = Mae::default();
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        let (output, target) = paired_values(&self.name(), step)?;
        self.sum_abs += output
            .iter()
            .zip(&target)
            .map(|(o, t)| (o - t).abs())
            .sum::<f64>();
        self.count += target.len() as u64;
        Ok(())
    }

    fn compute(&self) -> Vec<(String, f64)> {
        vec![(self.name(), mean(self.sum_abs, self.count))]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        Box::new(Mae::new())
    }

    fn shard_state(&self) -> Option<Vec<f64>> {
        Some(vec![self.sum_abs, self.count as f64])
    }

    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        let sum = summed_states(&self.name(), states, 2)?;
        (self.sum_abs, self.count) = (sum[0], sum[1] as u64);
        Ok(())
    }
}

/// The coefficient of determination `1 − SS_res / SS_tot`, key `"r2"`: the share of the
/// targets' variance the outputs explain (1 is perfect, 0 is no better than predicting the
/// mean, and it can be negative).
///
/// Every value counts as one sample, so for targets with several columns this is the R² of
/// the flattened values (scikit-learn's `r2_score(y.ravel(), p.ravel())`), not the mean of
/// per-column R². NaN when the targets have no variance.
///
/// `SS_tot = Σ(y − ȳ)²` is accumulated without the cancellation of `Σy² − (Σy)²/n`: each
/// batch's mean and sum of squared deviations are computed exactly and merged with Chan
/// et al.'s pairwise update, so targets far from zero (around 1e9, say) lose no precision.
///
/// ```
/// use strata_core::Tensor;
/// use strata_train::{metrics::R2, Metric, StepOutput};
/// let mut r2 = R2::new();
/// let out = Tensor::from_vec(vec![1.0f32, 2.0, 2.0], &[3])?;
/// let target = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?;
/// r2.update(&StepOutput::new(Tensor::scalar(0.0f32), out, target))?;
/// assert_eq!(r2.compute(), vec![("r2".to_string(), 0.5)]); // 1 - 1/2
/// # Ok::<(), strata_train::TrainError>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct R2 {
    count: u64,
    target_mean: f64,
    /// Σ(y − ȳ)² over every target seen.
    target_m2: f64,
    /// Σ(y − ŷ)².
    ss_res: f64,
}

impl R2 {
    /// An empty R².
    pub fn new() -> R2 {
        R2::default()
    }
}

impl R2 {
    /// Folds in `count` more targets with mean `mean`, squared deviations `m2` and
    /// residual sum of squares `ss_res` (Chan et al.'s pairwise update).
    fn add_part(&mut self, count: u64, mean: f64, m2: f64, ss_res: f64) {
        if count == 0 {
            return;
        }
        let (na, nb) = (self.count as f64, count as f64);
        let n = na + nb;
        let delta = mean - self.target_mean;
        self.target_mean += delta * nb / n;
        self.target_m2 += m2 + delta * delta * na * nb / n;
        self.ss_res += ss_res;
        self.count += count;
    }
}

impl Metric for R2 {
    fn name(&self) -> String {
        "r2".into()
    }

    fn reset(&mut self) {
        *self = R2::default();
    }

    fn update(&mut self, step: &StepOutput) -> Result<()> {
        let (output, target) = paired_values(&self.name(), step)?;
        if target.is_empty() {
            return Ok(());
        }
        let nb = target.len() as f64;
        let mut sum = 0.0;
        let mut ss_res = 0.0;
        for (o, t) in output.iter().zip(&target) {
            sum += t;
            ss_res += (t - o) * (t - o);
        }
        let batch_mean = sum / nb;
        let batch_m2: f64 = target.iter().map(|t| (t - batch_mean).powi(2)).sum();
        self.add_part(target.len() as u64, batch_mean, batch_m2, ss_res);
        Ok(())
    }

    fn compute(&self) -> Vec<(String, f64)> {
        let r2 = if self.count == 0 || self.target_m2 == 0.0 {
            f64::NAN
        } else {
            1.0 - self.ss_res / self.target_m2
        };
        vec![(self.name(), r2)]
    }

    fn fresh(&self) -> Box<dyn Metric> {
        Box::new(R2::new())
    }

    fn shard_state(&self) -> Option<Vec<f64>> {
        Some(vec![
            self.count as f64,
            self.target_mean,
            self.target_m2,
            self.ss_res,
        ])
    }

    /// Chan's pairwise update, rank by rank, as between batches: no cancellation.
    fn merge(&mut self, states: &[Vec<f64>]) -> Result<()> {
        let name = self.name();
        *self = R2::default();
        for state in states {
            let [count, mean, m2, ss_res] = state[..] else {
                return Err(TrainError::metric(
                    name,
                    format!("a rank's state holds {} numbers, expected 4", state.len()),
                ));
            };
            self.add_part(count as u64, mean, m2, ss_res);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::Tensor;

    fn step(output: &[f64], target: &[f64]) -> StepOutput {
        StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::from_vec(output.to_vec(), &[output.len()]).unwrap(),
            Tensor::from_vec(target.to_vec(), &[target.len()]).unwrap(),
        )
    }

    fn value(m: &dyn Metric) -> f64 {
        m.compute()[0].1
    }

    /// Feeds `output`/`target` in batches of the given sizes.
    fn streamed(metric: &mut dyn Metric, output: &[f64], target: &[f64], sizes: &[usize]) {
        let mut at = 0;
        for &s in sizes {
            metric
                .update(&step(&output[at..at + s], &target[at..at + s]))
                .unwrap();
            at += s;
        }
        assert_eq!(at, target.len());
    }

    #[test]
    fn mse_mae_r2_by_hand_and_streamed() {
        // Errors 1, -2, 0, 3, -1: squares 1+4+0+9+1 = 15, absolutes 1+2+0+3+1 = 7.
        // Targets 2, 4, 6, 8, 10: mean 6, SS_tot = 16+4+0+4+16 = 40, R² = 1 - 15/40.
        let target = [2.0, 4.0, 6.0, 8.0, 10.0];
        let output = [3.0, 2.0, 6.0, 11.0, 9.0];
        let expected = [3.0, 1.4, 0.625];
        let mut metrics: Vec<Box<dyn Metric>> = vec![
            Box::new(Mse::new()),
            Box::new(Mae::new()),
            Box::new(R2::new()),
        ];
        for (m, want) in metrics.iter_mut().zip(expected) {
            streamed(m.as_mut(), &output, &target, &[5]);
            assert!((value(m.as_ref()) - want).abs() < 1e-12, "{}", m.name());
            let mut parts = m.fresh();
            streamed(parts.as_mut(), &output, &target, &[2, 0, 1, 2]);
            assert!((value(parts.as_ref()) - want).abs() < 1e-12, "{}", m.name());
        }
        let keys: Vec<String> = metrics.iter().map(|m| m.compute()[0].0.clone()).collect();
        assert_eq!(keys, ["mse", "mae", "r2"]);
    }

    #[test]
    fn r2_is_stable_far_from_zero() {
        // Targets 1e9 + a spread of about ±2; outputs off by a small pattern.
        let n = 1000;
        let target: Vec<f64> = (0..n)
            .map(|i| 1e9 + ((i * 37 % 101) as f64 - 50.0) * 0.04)
            .collect();
        let output: Vec<f64> = target
            .iter()
            .enumerate()
            .map(|(i, t)| t + ((i % 7) as f64 - 3.0) * 0.1)
            .collect();
        // The direct two-pass value.
        let mean = target.iter().sum::<f64>() / n as f64;
        let ss_tot: f64 = target.iter().map(|t| (t - mean).powi(2)).sum();
        let ss_res: f64 = target
            .iter()
            .zip(&output)
            .map(|(t, o)| (t - o).powi(2))
            .sum();
        let direct = 1.0 - ss_res / ss_tot;
        assert!(direct > 0.5 && direct < 1.0);

        let mut r2 = R2::new();
        streamed(&mut r2, &output, &target, &[1, 99, 300, 7, 593]);
        assert!(
            (value(&r2) - direct).abs() < 1e-9,
            "{} vs {direct}",
            value(&r2)
        );

        // The one-pass textbook formula is wrong by far more here: what the test guards.
        let (s, s2) = target
            .iter()
            .fold((0.0, 0.0), |(s, s2), t| (s + t, s2 + t * t));
        let naive_ss_tot = s2 - s * s / n as f64;
        assert!((naive_ss_tot - ss_tot).abs() > 0.01 * ss_tot);
    }

    #[test]
    fn shapes_pair_up_or_fail_with_their_names() {
        let mut mse = Mse::new();
        let out = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]).unwrap();
        let target = Tensor::from_vec(vec![0i64, 0], &[2]).unwrap();
        mse.update(&StepOutput::new(Tensor::scalar(0.0f32), out, target))
            .unwrap();
        assert_eq!(value(&mse), 2.5);

        let bad = StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::zeros(&[2, 2]),
            Tensor::zeros(&[4]),
        );
        let err = R2::new().update(&bad).unwrap_err().to_string();
        assert_eq!(
            err,
            "metric r2: output shape [2, 2] does not match target shape [4]; they must be \
             equal (or [N, 1] against [N])"
        );
        let ints = StepOutput::new(
            Tensor::scalar(0.0f32),
            Tensor::from_vec(vec![1i64], &[1]).unwrap(),
            Tensor::zeros(&[1]),
        );
        assert!(Mae::new()
            .update(&ints)
            .unwrap_err()
            .to_string()
            .contains("output must be f32 or f64, got i64"));
    }

    #[test]
    fn undefined_values_are_nan_and_reset_clears() {
        let mut r2 = R2::new();
        assert!(value(&r2).is_nan());
        // Constant targets: no variance, R² undefined.
        r2.update(&step(&[1.0, 2.0], &[3.0, 3.0])).unwrap();
        assert!(value(&r2).is_nan());
        r2.update(&step(&[1.0], &[1.0])).unwrap();
        assert!(value(&r2).is_finite());
        r2.reset();
        assert!(value(&r2).is_nan());

        let mut mae = Mae::new();
        mae.update(&step(&[1.0], &[3.0])).unwrap();
        assert_eq!(value(&mae), 2.0);
        assert!(value(mae.fresh().as_ref()).is_nan());
        mae.reset();
        assert!(value(&mae).is_nan());
    }
}
