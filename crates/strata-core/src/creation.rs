//! Creating tensors: constants, ranges, identity, and random draws from a seeded generator.

use crate::random::with_global_generator;
use crate::size::{numel_for, try_collect, try_filled};
use crate::storage::StorageData;
use crate::{DType, Error, Generator, Result, Tensor};

/// `shape` filled with `value`; an absurd shape is an error naming `op`.
fn filled(op: &'static str, shape: &[usize], value: f64, dtype: DType) -> Result<StorageData> {
    Ok(match dtype {
        DType::F32 => StorageData::F32(try_filled(op, shape, value as f32)?),
        DType::F64 => StorageData::F64(try_filled(op, shape, value)?),
        DType::I64 => StorageData::I64(try_filled(op, shape, value as i64)?),
        DType::Bool => StorageData::Bool(try_filled(op, shape, value != 0.0)?),
    })
}

/// The infallible creation functions' answer to a shape too large to allocate: a panic
/// that says so (and unwinds), where the allocator would abort the process. Fallible code
/// calls the `try_` functions instead.
fn or_panic(t: Result<Tensor>) -> Tensor {
    t.unwrap_or_else(|e| panic!("{e} (use the try_ creation functions to get an error)"))
}

/// `n` draws of `draw` for `shape`, checked as f64 values (the widest the draws are made
/// in) before anything is allocated.
fn draws(op: &'static str, shape: &[usize], draw: impl FnMut() -> f64) -> Result<Vec<f64>> {
    let n = numel_for(op, shape, std::mem::size_of::<f64>())?;
    try_collect(op, shape, n, draw)
}

fn from_f64s(values: Vec<f64>, shape: &[usize], dtype: DType) -> Tensor {
    let data = match dtype {
        DType::F32 => StorageData::F32(values.into_iter().map(|v| v as f32).collect()),
        DType::F64 => StorageData::F64(values),
        DType::I64 => StorageData::I64(values.into_iter().map(|v| v as i64).collect()),
        DType::Bool => StorageData::Bool(values.into_iter().map(|v| v != 0.0).collect()),
    };
    Tensor::from_data(data, shape)
}

impl Tensor {
    /// An f32 tensor of zeros.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// assert_eq!(Tensor::zeros(&[2, 3]).to_vec::<f32>()?, vec![0.0; 6]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::zeros_dtype(shape, DType::F32)
    }

    /// An f32 tensor of ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Tensor::ones_dtype(shape, DType::F32)
    }

    /// Zeros of any dtype.
    ///
    /// # Panics
    ///
    /// When the shape's element count overflows or its buffer cannot be allocated (a
    /// panic with the reason, not an abort); [`Tensor::try_zeros`] returns the error.
    pub fn zeros_dtype(shape: &[usize], dtype: DType) -> Tensor {
        or_panic(Tensor::try_zeros(shape, dtype))
    }

    /// Ones of any dtype (panics as [`Tensor::zeros_dtype`]).
    pub fn ones_dtype(shape: &[usize], dtype: DType) -> Tensor {
        or_panic(Tensor::try_full(shape, 1.0, dtype))
    }

    /// Zeros of any dtype, or an [`Error::TooLarge`] when the shape's element count
    /// overflows or its buffer cannot be allocated.
    ///
    /// ```
    /// use strata_core::{DType, Tensor};
    /// assert_eq!(Tensor::try_zeros(&[2], DType::I64)?.to_vec::<i64>()?, vec![0, 0]);
    /// assert!(Tensor::try_zeros(&[1 << 62, 4], DType::F32).is_err());
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn try_zeros(shape: &[usize], dtype: DType) -> Result<Tensor> {
        Ok(Tensor::from_data(
            filled("zeros", shape, 0.0, dtype)?,
            shape,
        ))
    }

    /// `value` everywhere, or an error as for [`Tensor::try_zeros`].
    pub fn try_full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
        Ok(Tensor::from_data(
            filled("full", shape, value, dtype)?,
            shape,
        ))
    }

    /// Every element equal to `value`.
    ///
    /// ```
    /// use strata_core::{DType, Tensor};
    /// let t = Tensor::full(&[2], 7.0, DType::I64);
    /// assert_eq!(t.to_vec::<i64>()?, vec![7, 7]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn full(shape: &[usize], value: f64, dtype: DType) -> Tensor {
        or_panic(Tensor::try_full(shape, value, dtype))
    }

    /// Zeros with the shape and dtype of `other`.
    pub fn zeros_like(other: &Tensor) -> Tensor {
        Tensor::zeros_dtype(other.shape(), other.dtype())
    }

    /// Ones with the shape and dtype of `other`.
    pub fn ones_like(other: &Tensor) -> Tensor {
        Tensor::ones_dtype(other.shape(), other.dtype())
    }

    /// `value` everywhere, with the shape and dtype of `other`.
    pub fn full_like(other: &Tensor, value: f64) -> Tensor {
        Tensor::full(other.shape(), value, other.dtype())
    }

    /// `start, start + step, ...` up to but excluding `end`, as f32.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// assert_eq!(Tensor::arange(0.0, 1.0, 0.25)?.to_vec::<f32>()?, vec![0.0, 0.25, 0.5, 0.75]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn arange(start: f64, end: f64, step: f64) -> Result<Tensor> {
        Tensor::arange_dtype(start, end, step, DType::F32)
    }

    /// [`Tensor::arange`] in any dtype (`DType::I64` for index ranges).
    pub fn arange_dtype(start: f64, end: f64, step: f64, dtype: DType) -> Result<Tensor> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "arange",
                "step",
                format!(
                    "start {start}, end {end} and step {step} must be finite with a non-zero step"
                ),
            ));
        }
        if (end - start) * step < 0.0 {
            return Err(Error::invalid(
                "arange",
                "step",
                format!("step {step} moves away from end {end} (start {start})"),
            ));
        }
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        let values = (0..n).map(|i| start + i as f64 * step).collect();
        Ok(from_f64s(values, &[n], dtype))
    }

    /// `steps` evenly spaced f32 values from `start` to `end` inclusive.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// assert_eq!(Tensor::linspace(0.0, 1.0, 5)?.to_vec::<f32>()?, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn linspace(start: f64, end: f64, steps: usize) -> Result<Tensor> {
        if !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "linspace",
                "start",
                "start and end must be finite",
            ));
        }
        let values = match steps {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end - start) / (steps - 1) as f64;
                (0..steps)
                    .map(|i| {
                        if i == steps - 1 {
                            end
                        } else {
                            start + i as f64 * step
                        }
                    })
                    .collect()
            }
        };
        Ok(from_f64s(values, &[steps], DType::F32))
    }

    /// The `n × n` f32 identity matrix.
    pub fn eye(n: usize) -> Tensor {
        let mut v = vec![0.0f32; n * n];
        for i in 0..n {
            v[i * n + i] = 1.0;
        }
        Tensor::from_data(StorageData::F32(v), &[n, n])
    }

    /// Uniform `[0, 1)` f32 values from the global generator (see [`crate::manual_seed`]).
    pub fn rand(shape: &[usize]) -> Tensor {
        with_global_generator(|g| Tensor::rand_with(g, shape, DType::F32))
    }

    /// Standard-normal f32 values from the global generator.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::randn(&[1000]);
    /// let mean = t.mean_all()?.item()?;
    /// assert!(mean.abs() < 0.15);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn randn(shape: &[usize]) -> Tensor {
        with_global_generator(|g| Tensor::randn_with(g, shape, DType::F32))
    }

    /// Uniform `[0, 1)` values of a float dtype from a given generator.
    /// Panics as [`Tensor::zeros_dtype`] for a shape too large to allocate.
    pub fn rand_with(rng: &mut Generator, shape: &[usize], dtype: DType) -> Tensor {
        or_panic(match dtype {
            DType::F32 => numel_for("rand", shape, 4)
                .and_then(|n| try_collect("rand", shape, n, || rng.uniform_f32()))
                .map(|v| Tensor::from_data(StorageData::F32(v), shape)),
            _ => draws("rand", shape, || rng.uniform()).map(|v| from_f64s(v, shape, dtype)),
        })
    }

    /// Standard-normal values of a float dtype from a given generator. Panics as
    /// [`Tensor::zeros_dtype`] for a shape too large to allocate.
    pub fn randn_with(rng: &mut Generator, shape: &[usize], dtype: DType) -> Tensor {
        or_panic(draws("randn", shape, || rng.normal()).map(|v| from_f64s(v, shape, dtype)))
    }

    /// Uniform `[low, high)` values from a given generator.
    pub fn uniform_with(
        rng: &mut Generator,
        shape: &[usize],
        low: f64,
        high: f64,
        dtype: DType,
    ) -> Result<Tensor> {
        if !low.is_finite() || !high.is_finite() || low > high {
            return Err(Error::invalid(
                "uniform",
                "low",
                format!("need finite low <= high, got {low} and {high}"),
            ));
        }
        let values = draws("uniform", shape, || low + (high - low) * rng.uniform())?;
        Ok(from_f64s(values, shape, dtype))
    }

    /// Uniform `[low, high)` f32 values from the global generator.
    pub fn uniform(shape: &[usize], low: f64, high: f64) -> Result<Tensor> {
        with_global_generator(|g| Tensor::uniform_with(g, shape, low, high, DType::F32))
    }

    /// Normal values with the given mean and standard deviation from a given generator.
    pub fn normal_with(
        rng: &mut Generator,
        shape: &[usize],
        mean: f64,
        std: f64,
        dtype: DType,
    ) -> Result<Tensor> {
        if !mean.is_finite() || !std.is_finite() || std < 0.0 {
            return Err(Error::invalid(
                "normal",
                "std",
                format!("need a finite mean and std >= 0, got {mean} and {std}"),
            ));
        }
        let values = draws("normal", shape, || mean + std * rng.normal())?;
        Ok(from_f64s(values, shape, dtype))
    }

    /// Normal f32 values from the global generator.
    pub fn normal(shape: &[usize], mean: f64, std: f64) -> Result<Tensor> {
        with_global_generator(|g| Tensor::normal_with(g, shape, mean, std, DType::F32))
    }

    /// f32 values that are 1 with probability `p` and 0 otherwise, from a given generator.
    pub fn bernoulli_with(
        rng: &mut Generator,
        shape: &[usize],
        p: f64,
        dtype: DType,
    ) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::invalid(
                "bernoulli",
                "p",
                format!("probability {p} is not in [0, 1]"),
            ));
        }
        let values = draws("bernoulli", shape, || {
            if rng.uniform() < p {
                1.0
            } else {
                0.0
            }
        })?;
        Ok(from_f64s(values, shape, dtype))
    }

    /// f32 0/1 values with `P(1) = p` from the global generator.
    pub fn bernoulli(shape: &[usize], p: f64) -> Result<Tensor> {
        with_global_generator(|g| Tensor::bernoulli_with(g, shape, p, DType::F32))
    }

    /// Uniform integers in `low..high` (i64) from the global generator.
    pub fn randint(low: i64, high: i64, shape: &[usize]) -> Result<Tensor> {
        if low >= high {
            return Err(Error::invalid(
                "randint",
                "high",
                format!("empty range {low}..{high}"),
            ));
        }
        let n = numel_for("randint", shape, 8)?;
        let span = (high - low) as u64;
        let v = with_global_generator(|g| {
            try_collect("randint", shape, n, || low + g.below(span) as i64)
        })?;
        Tensor::from_vec(v, shape)
    }

    /// A random permutation of `0..n` (i64) from the global generator.
    pub fn randperm(n: usize) -> Tensor {
        let p = with_global_generator(|g| g.permutation(n));
        Tensor::from_data(
            StorageData::I64(p.into_iter().map(|i| i as i64).collect()),
            &[n],
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Generator, Tensor};

    #[test]
    fn ranges_and_constants() {
        assert_eq!(
            Tensor::arange_dtype(5.0, 0.0, -2.0, DType::I64)
                .unwrap()
                .to_vec::<i64>()
                .unwrap(),
            vec![5, 3, 1]
        );
        assert!(Tensor::arange(0.0, 1.0, 0.0).is_err());
        assert!(Tensor::arange(0.0, 1.0, -1.0).is_err());
        assert_eq!(
            Tensor::linspace(1.0, 1.0, 1)
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            vec![1.0]
        );
        assert_eq!(
            Tensor::eye(2).to_vec::<f32>().unwrap(),
            vec![1.0, 0.0, 0.0, 1.0]
        );
        assert_eq!(
            Tensor::full_like(&Tensor::zeros(&[2]), 3.0)
                .to_vec::<f32>()
                .unwrap(),
            vec![3.0, 3.0]
        );
    }

    #[test]
    fn random_draws_are_reproducible_and_in_range() {
        let a =
            Tensor::uniform_with(&mut Generator::new(4), &[1000], -2.0, 3.0, DType::F64).unwrap();
        let b =
            Tensor::uniform_with(&mut Generator::new(4), &[1000], -2.0, 3.0, DType::F64).unwrap();
        assert_eq!(a.to_vec::<f64>().unwrap(), b.to_vec::<f64>().unwrap());
        assert!(a
            .to_vec::<f64>()
            .unwrap()
            .iter()
            .all(|&v| (-2.0..3.0).contains(&v)));
        let bern =
            Tensor::bernoulli_with(&mut Generator::new(1), &[10_000], 0.3, DType::F32).unwrap();
        let frac = bern.mean_all().unwrap().item().unwrap();
        assert!((frac - 0.3).abs() < 0.02, "{frac}");
        let r = Tensor::randint(3, 6, &[100])
            .unwrap()
            .to_vec::<i64>()
            .unwrap();
        assert!(r.iter().all(|&v| (3..6).contains(&v)));
        let mut p = Tensor::randperm(10).to_vec::<i64>().unwrap();
        p.sort();
        assert_eq!(p, (0..10).collect::<Vec<i64>>());
        assert!(Tensor::bernoulli(&[2], 1.5).is_err());
        let n =
            Tensor::normal_with(&mut Generator::new(2), &[20_000], 3.0, 2.0, DType::F64).unwrap();
        let v = n.to_vec::<f64>().unwrap();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
        assert!(
            (mean - 3.0).abs() < 0.05 && (std - 2.0).abs() < 0.05,
            "{mean} {std}"
        );
    }
}
