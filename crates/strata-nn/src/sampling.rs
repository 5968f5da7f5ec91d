//! Drawing tokens from a model's output: multinomial draws from probabilities, and a
//! [`Sampler`] that turns logits into a draw with a temperature, top-k and top-p (nucleus)
//! filtering, the way a language model generates text.

use crate::{Error, Result};
use strata_core::{Generator, Tensor};

/// One draw per row of `probs` (`[V]` or `[N, V]`, non-negative, not necessarily summing
/// to 1), like `torch.multinomial(probs, 1)`: index `i` of a row comes with probability
/// `probs[i] / sum(probs)`.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_nn::sampling::multinomial;
/// let probs = Tensor::from_vec(vec![0.0f32, 1.0, 0.0, 0.0, 0.0, 3.0], &[2, 3])?;
/// assert_eq!(multinomial(&probs, &mut Generator::new(0))?, vec![1, 2]);
/// assert!(multinomial(&Tensor::zeros(&[3]), &mut Generator::new(0)).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn multinomial(probs: &Tensor, rng: &mut Generator) -> Result<Vec<i64>> {
    rows(probs, "multinomial")?
        .iter()
        .map(|row| draw(row, rng))
        .collect()
}

/// How to turn logits into a token: divide by `temperature` (below 1 sharpens, above 1
/// flattens; 0 takes the most likely token), keep the `top_k` most likely tokens, keep the
/// smallest set of most likely tokens whose probability reaches `top_p`, renormalise, draw.
///
/// ```
/// use strata_core::{Generator, Tensor};
/// use strata_nn::sampling::Sampler;
/// let logits = Tensor::from_vec(vec![1.0f32, 3.0, 2.0, -1.0], &[4])?;
/// // Greedy: temperature 0 always takes the largest logit.
/// assert_eq!(Sampler::new().temperature(0.0)?.sample(&logits, &mut Generator::new(1))?, vec![1]);
/// // Top-2 never draws tokens 0 or 3.
/// let top2 = Sampler::new().top_k(2)?;
/// let p = top2.probabilities(&logits)?;
/// assert_eq!((p[0][0], p[0][3]), (0.0, 0.0));
/// assert!((p[0][1] - 1.0 / (1.0 + (-1.0f64).exp())).abs() < 1e-6);
/// assert!(Sampler::new().top_p(1.5).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampler {
    temperature: f64,
    top_k: Option<usize>,
    top_p: Option<f64>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

impl Sampler {
    /// Plain sampling: temperature 1, no filtering.
    pub fn new() -> Sampler {
        Sampler {
            temperature: 1.0,
            top_k: None,
            top_p: None,
        }
    }

    /// A temperature ≥ 0 (0: greedy).
    pub fn temperature(mut self, t: f64) -> Result<Sampler> {
        if !(t >= 0.0 && t.is_finite()) {
            return Err(Error::config(
                "Sampler",
                format!("temperature must be a finite number >= 0, got {t}"),
            ));
        }
        self.temperature = t;
        Ok(self)
    }

    /// Keep only the `k` (≥ 1) most likely tokens.
    pub fn top_k(mut self, k: usize) -> Result<Sampler> {
        if k == 0 {
            return Err(Error::config("Sampler", "top_k must be at least 1"));
        }
        self.top_k = Some(k);
        Ok(self)
    }

    /// Keep the fewest most likely tokens whose probabilities sum to at least `p` (in
    /// (0, 1]).
    pub fn top_p(mut self, p: f64) -> Result<Sampler> {
        if !(p > 0.0 && p <= 1.0) {
            return Err(Error::config(
                "Sampler",
                format!("top_p must be in (0, 1], got {p}"),
            ));
        }
        self.top_p = Some(p);
        Ok(self)
    }

    /// The distribution each row of `logits` (`[V]` or `[N, V]`) is drawn from.
    pub fn probabilities(&self, logits: &Tensor) -> Result<Vec<Vec<f64>>> {
        rows(logits, "Sampler")?
            .into_iter()
            .map(|row| Ok(self.distribution(&row)))
            .collect()
    }

    /// One token per row of `logits` (`[V]` or `[N, V]`).
    pub fn sample(&self, logits: &Tensor, rng: &mut Generator) -> Result<Vec<i64>> {
        self.probabilities(logits)?
            .iter()
            .map(|p| draw(p, rng))
            .collect()
    }

    fn distribution(&self, logits: &[f64]) -> Vec<f64> {
        let v = logits.len();
        let best = (0..v)
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap_or(0);
        if self.temperature == 0.0 {
            let mut p = vec![0.0; v];
            p[best] = 1.0;
            return p;
        }
        // Softmax at the temperature, shifted by the maximum so no exp overflows.
        let mut p: Vec<f64> = logits
            .iter()
            .map(|&l| ((l - logits[best]) / self.temperature).exp())
            .collect();
        normalise(&mut p);
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        let mut keep = self.top_k.unwrap_or(v).min(v);
        if let Some(top_p) = self.top_p {
            let mut mass = 0.0;
            let nucleus = order
                .iter()
                .position(|&i| {
                    mass += p[i];
                    mass >= top_p
                })
                .map_or(v, |i| i + 1);
            keep = keep.min(nucleus);
        }
        for &i in &order[keep.max(1)..] {
            p[i] = 0.0;
        }
        normalise(&mut p);
        p
    }
}

fn normalise(p: &mut [f64]) {
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
}

/// The rows of a `[V]` or `[N, V]` float tensor, as f64, every value finite.
fn rows(t: &Tensor, op: &'static str) -> Result<Vec<Vec<f64>>> {
    let (n, v) = match t.shape() {
        &[v] => (1, v),
        &[n, v] => (n, v),
        s => {
            return Err(Error::config(
                op,
                format!("expects a [vocab] or [rows, vocab] tensor, got shape {s:?}"),
            ))
        }
    };
    if v == 0 || !t.dtype().is_float() {
        return Err(Error::config(
            op,
            format!(
                "expects a non-empty float tensor, got {} of shape {:?}",
                t.dtype(),
                t.shape()
            ),
        ));
    }
    let values = t.to_vec_f64();
    if let Some(i) = values.iter().position(|x| !x.is_finite()) {
        return Err(Error::config(
            op,
            format!(
                "value {} (row {}, index {}) is not finite",
                values[i],
                i / v,
                i % v
            ),
        ));
    }
    Ok((0..n)
        .map(|r| values[r * v..(r + 1) * v].to_vec())
        .collect())
}

/// Index `i` with probability `weights[i] / sum`.
fn draw(weights: &[f64], rng: &mut Generator) -> Result<i64> {
    let total: f64 = weights.iter().sum();
    if weights.iter().any(|&w| w < 0.0) || total.is_nan() || total <= 0.0 {
        return Err(Error::config(
            "multinomial",
            "probabilities must be non-negative with a positive sum",
        ));
    }
    let mut u = rng.uniform() * total;
    for (i, &w) in weights.iter().enumerate() {
        if u < w {
            return Ok(i as i64);
        }
        u -= w;
    }
    // Rounding can leave `u` just above the last weight: take the last possible index.
    Ok(weights.iter().rposition(|&w| w > 0.0).unwrap_or(0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_probabilities() {
        let probs = Tensor::from_vec(vec![0.1f64, 0.6, 0.3], &[3]).unwrap();
        let mut rng = Generator::new(7);
        let mut counts = [0usize; 3];
        let n = 30_000;
        for _ in 0..n {
            counts[multinomial(&probs, &mut rng).unwrap()[0] as usize] += 1;
        }
        for (c, p) in counts.iter().zip([0.1, 0.6, 0.3]) {
            // Binomial standard deviation at n = 30 000 is under 0.003.
            assert!((*c as f64 / n as f64 - p).abs() < 0.012, "{counts:?}");
        }
    }

    #[test]
    fn temperature_sharpens_and_flattens() {
        let logits = Tensor::from_vec(vec![0.0f32, 1.0, 2.0], &[3]).unwrap();
        let at = |t: f64| {
            Sampler::new()
                .temperature(t)
                .unwrap()
                .probabilities(&logits)
                .unwrap()[0]
                .clone()
        };
        let (cold, plain, hot) = (at(0.5), at(1.0), at(2.0));
        assert!(cold[2] > plain[2] && plain[2] > hot[2]);
        let z: f64 = [0.0f64, 1.0, 2.0].iter().map(|l| l.exp()).sum();
        assert!((plain[2] - 2f64.exp() / z).abs() < 1e-12);
        let z2: f64 = [0.0f64, 2.0, 4.0].iter().map(|l| l.exp()).sum();
        assert!((cold[2] - 4f64.exp() / z2).abs() < 1e-12);
    }

    #[test]
    fn top_p_keeps_the_nucleus() {
        // Probabilities 0.5, 0.3, 0.15, 0.05.
        let p = [0.5f64, 0.3, 0.15, 0.05];
        let logits = Tensor::from_vec(p.iter().map(|x| x.ln()).collect::<Vec<_>>(), &[4]).unwrap();
        let kept = Sampler::new()
            .top_p(0.75)
            .unwrap()
            .probabilities(&logits)
            .unwrap()[0]
            .clone();
        assert!((kept[0] - 0.625).abs() < 1e-12 && (kept[1] - 0.375).abs() < 1e-12);
        assert_eq!((kept[2], kept[3]), (0.0, 0.0));
        // A top-p below the largest probability still keeps that one token.
        let one = Sampler::new()
            .top_p(0.1)
            .unwrap()
            .probabilities(&logits)
            .unwrap()[0]
            .clone();
        assert_eq!(one, vec![1.0, 0.0, 0.0, 0.0]);
        let both = Sampler::new().top_k(3).unwrap().top_p(0.99).unwrap();
        assert_eq!(both.probabilities(&logits).unwrap()[0][3], 0.0);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = Generator::new(0);
        let nan = Tensor::from_vec(vec![0.0f32, f32::NAN], &[2]).unwrap();
        assert!(Sampler::new()
            .sample(&nan, &mut rng)
            .unwrap_err()
            .to_string()
            .contains("not finite"));
        let ints = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        assert!(multinomial(&ints, &mut rng).is_err());
        let negative = Tensor::from_vec(vec![-1.0f32, 2.0], &[2]).unwrap();
        assert!(multinomial(&negative, &mut rng).is_err());
        assert!(Sampler::new().temperature(-1.0).is_err());
        assert!(Sampler::new().top_k(0).is_err());
    }
}
