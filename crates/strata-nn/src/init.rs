//! Weight initialisers, with PyTorch's formulas and defaults.
//!
//! Draws come from the global generator (`strata_core::manual_seed`). Each layer's default
//! follows PyTorch: `Linear` and `Conv` weights use Kaiming-uniform with `a = √5` (uniform in
//! `±1/√fan_in`) and biases uniform in `±1/√fan_in`; `Embedding` is standard normal;
//! normalisation layers start at weight 1, bias 0; recurrent layers are uniform in
//! `±1/√hidden`.

use crate::{Error, Param, Result};
use strata_core::{with_global_generator, DType, Generator, Tensor};

/// The non-linearity that follows a layer, for [`gain`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// Identity, convolution and linear layers: gain 1.
    Linear,
    Sigmoid,
    Tanh,
    Relu,
    /// Leaky ReLU with this negative slope.
    LeakyRelu(f64),
    Selu,
}

/// The recommended gain for a non-linearity (PyTorch's `calculate_gain`).
///
/// ```
/// use strata_nn::init::{gain, Nonlinearity};
/// assert_eq!(gain(Nonlinearity::Tanh), 5.0 / 3.0);
/// assert_eq!(gain(Nonlinearity::Relu), 2f64.sqrt());
/// ```
pub fn gain(nonlinearity: Nonlinearity) -> f64 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f64.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// Which fan Kaiming initialisation preserves: `FanIn` keeps the forward signal's variance,
/// `FanOut` the backward gradient's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    FanIn,
    FanOut,
}

/// `(fan_in, fan_out)` of a weight shape `[out, in, *kernel]` (PyTorch's rule).
///
/// ```
/// use strata_nn::init::fans;
/// assert_eq!(fans(&[64, 32, 3, 3])?, (32 * 9, 64 * 9));
/// assert!(fans(&[10]).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn fans(shape: &[usize]) -> Result<(usize, usize)> {
    if shape.len() < 2 {
        return Err(Error::config(
            "init",
            format!(
                "fan in and fan out need a weight with at least 2 dimensions, got shape {shape:?}"
            ),
        ));
    }
    let receptive: usize = shape[2..].iter().product();
    Ok((shape[1] * receptive, shape[0] * receptive))
}

/// An initialisation scheme.
///
/// ```
/// use strata_nn::init::{Init, FanMode, Nonlinearity};
/// use strata_nn::{Linear, Module};
/// let layer = Linear::new(256, 128)?;
/// Init::KaimingNormal { mode: FanMode::FanIn, nonlinearity: Nonlinearity::Relu }.apply(layer.weight())?;
/// Init::Zeros.apply(layer.bias().unwrap())?;
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    Zeros,
    Ones,
    Constant(f64),
    Uniform {
        low: f64,
        high: f64,
    },
    Normal {
        mean: f64,
        std: f64,
    },
    /// Glorot: uniform in `±gain·√(6 / (fan_in + fan_out))`.
    XavierUniform {
        gain: f64,
    },
    /// Glorot: normal with std `gain·√(2 / (fan_in + fan_out))`.
    XavierNormal {
        gain: f64,
    },
    /// He: uniform in `±gain·√(3 / fan)`.
    KaimingUniform {
        mode: FanMode,
        nonlinearity: Nonlinearity,
    },
    /// He: normal with std `gain / √fan`.
    KaimingNormal {
        mode: FanMode,
        nonlinearity: Nonlinearity,
    },
    /// LeCun: uniform in `±√(3 / fan_in)` (variance 1/fan_in).
    LecunUniform,
    /// LeCun: normal with std `1/√fan_in` (SELU networks).
    LecunNormal,
    /// A (semi-)orthogonal matrix times `gain` (Saxe et al.), over the flattened trailing dims.
    Orthogonal {
        gain: f64,
    },
}

impl Init {
    /// A fresh f32 tensor of `shape` drawn from the global generator.
    pub fn tensor(&self, shape: &[usize]) -> Result<Tensor> {
        with_global_generator(|g| self.tensor_with(g, shape, DType::F32))
    }

    /// A fresh tensor of `shape` and `dtype` drawn from `rng`.
    pub fn tensor_with(
        &self,
        rng: &mut Generator,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        let fan = |mode: FanMode| -> Result<f64> {
            let (fan_in, fan_out) = fans(shape)?;
            Ok(match mode {
                FanMode::FanIn => fan_in,
                FanMode::FanOut => fan_out,
            } as f64)
        };
        let uniform = |rng: &mut Generator, bound: f64| {
            Tensor::uniform_with(rng, shape, -bound, bound, dtype)
        };
        let normal =
            |rng: &mut Generator, std: f64| Tensor::normal_with(rng, shape, 0.0, std, dtype);
        Ok(match *self {
            Init::Zeros => Tensor::try_zeros(shape, dtype)?,
            Init::Ones => Tensor::try_full(shape, 1.0, dtype)?,
            Init::Constant(v) => Tensor::try_full(shape, v, dtype)?,
            Init::Uniform { low, high } => Tensor::uniform_with(rng, shape, low, high, dtype)?,
            Init::Normal { mean, std } => Tensor::normal_with(rng, shape, mean, std, dtype)?,
            Init::XavierUniform { gain } => {
                let (i, o) = fans(shape)?;
                uniform(rng, gain * (6.0 / (i + o) as f64).sqrt())?
            }
            Init::XavierNormal { gain } => {
                let (i, o) = fans(shape)?;
                normal(rng, gain * (2.0 / (i + o) as f64).sqrt())?
            }
            Init::KaimingUniform { mode, nonlinearity } => {
                uniform(rng, gain(nonlinearity) * (3.0 / fan(mode)?).sqrt())?
            }
            Init::KaimingNormal { mode, nonlinearity } => {
                normal(rng, gain(nonlinearity) / fan(mode)?.sqrt())?
            }
            Init::LecunUniform => uniform(rng, (3.0 / fan(FanMode::FanIn)?).sqrt())?,
            Init::LecunNormal => normal(rng, 1.0 / fan(FanMode::FanIn)?.sqrt())?,
            Init::Orthogonal { gain } => orthogonal(rng, shape, gain, dtype)?,
        })
    }

    /// Overwrites a parameter in place with fresh values.
    pub fn apply(&self, param: &Param) -> Result<()> {
        let values = self.tensor(param.shape())?.to_dtype(param.dtype());
        param.assign(&values)
    }
}

/// PyTorch's default for Linear/Conv weights: Kaiming-uniform with `a = √5`, which is
/// uniform in `±1/√fan_in`.
pub fn default_weight(shape: &[usize]) -> Result<Tensor> {
    Init::KaimingUniform {
        mode: FanMode::FanIn,
        nonlinearity: Nonlinearity::LeakyRelu(5f64.sqrt()),
    }
    .tensor(shape)
}

/// PyTorch's default for Linear/Conv biases: uniform in `±1/√fan_in`.
pub fn default_bias(shape: &[usize], fan_in: usize) -> Result<Tensor> {
    let bound = if fan_in > 0 {
        1.0 / (fan_in as f64).sqrt()
    } else {
        0.0
    };
    Ok(Tensor::uniform(shape, -bound, bound)?)
}

/// Orthogonal rows (or columns, whichever are fewer) via Gram-Schmidt on a normal draw,
/// signs fixed like PyTorch's QR-based version.
fn orthogonal(rng: &mut Generator, shape: &[usize], gain: f64, dtype: DType) -> Result<Tensor> {
    if shape.len() < 2 {
        return Err(Error::config(
            "init",
            format!("orthogonal needs at least 2 dimensions, got {shape:?}"),
        ));
    }
    let rows = shape[0];
    let cols: usize = shape[1..].iter().product();
    // Orthonormalise the shorter side: k vectors of length n.
    let (k, n) = if rows < cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let draw = Tensor::randn_with(rng, &[k, n], DType::F64).to_vec::<f64>()?;
    let mut vecs: Vec<Vec<f64>> = draw.chunks(n.max(1)).map(|c| c.to_vec()).collect();
    for i in 0..k {
        for j in 0..i {
            let dot: f64 = (0..n).map(|t| vecs[i][t] * vecs[j][t]).sum();
            for t in 0..n {
                vecs[i][t] -= dot * vecs[j][t];
            }
        }
        let norm = vecs[i].iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            vecs[i].iter_mut().for_each(|v| *v /= norm);
        }
    }
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[r * cols + c] = gain * if rows < cols { vecs[r][c] } else { vecs[c][r] };
        }
    }
    Ok(Tensor::from_vec(out, shape)?.to_dtype(dtype))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(t: &Tensor) -> (f64, f64) {
        let v = t.to_vec_f64();
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    fn check(init: Init, shape: &[usize], want_std: f64) {
        let t = init
            .tensor_with(&mut Generator::new(11), shape, DType::F64)
            .unwrap();
        let (mean, std) = moments(&t);
        assert!(
            mean.abs() < 0.02 * want_std.max(1e-3) * 10.0,
            "{init:?}: mean {mean}"
        );
        assert!(
            (std / want_std - 1.0).abs() < 0.02,
            "{init:?}: std {std}, want {want_std}"
        );
    }

    #[test]
    fn empirical_std_matches_theory() {
        let shape = [400, 300];
        let (fi, fo) = (300.0f64, 400.0f64);
        check(
            Init::XavierUniform { gain: 1.0 },
            &shape,
            (2.0 / (fi + fo)).sqrt(),
        );
        check(
            Init::XavierNormal { gain: 2.0 },
            &shape,
            2.0 * (2.0 / (fi + fo)).sqrt(),
        );
        let relu = Nonlinearity::Relu;
        check(
            Init::KaimingUniform {
                mode: FanMode::FanIn,
                nonlinearity: relu,
            },
            &shape,
            (2.0 / fi).sqrt(),
        );
        check(
            Init::KaimingNormal {
                mode: FanMode::FanOut,
                nonlinearity: relu,
            },
            &shape,
            (2.0 / fo).sqrt(),
        );
        check(
            Init::KaimingNormal {
                mode: FanMode::FanIn,
                nonlinearity: Nonlinearity::Tanh,
            },
            &shape,
            5.0 / 3.0 / fi.sqrt(),
        );
        check(Init::LecunUniform, &shape, 1.0 / fi.sqrt());
        check(Init::LecunNormal, &shape, 1.0 / fi.sqrt());
        check(
            Init::Normal {
                mean: 0.0,
                std: 0.3,
            },
            &shape,
            0.3,
        );
        check(
            Init::Uniform {
                low: -1.0,
                high: 1.0,
            },
            &shape,
            1.0 / 3f64.sqrt(),
        );
        // Conv-shaped weights count the receptive field.
        check(
            Init::KaimingNormal {
                mode: FanMode::FanIn,
                nonlinearity: relu,
            },
            &[64, 32, 3, 3],
            (2.0f64 / (32.0 * 9.0)).sqrt(),
        );
    }

    #[test]
    fn pytorch_default_linear_bound() {
        let t = default_weight(&[50, 400]).unwrap();
        let v = t.to_vec_f64();
        let bound = 1.0 / 20.0;
        assert!(v.iter().all(|x| x.abs() <= bound));
        assert!(v.iter().any(|x| x.abs() > 0.95 * bound));
    }

    #[test]
    fn orthogonal_rows_and_columns_are_orthonormal() {
        for shape in [[3usize, 7], [7, 3], [5, 5]] {
            let q = Init::Orthogonal { gain: 1.0 }
                .tensor_with(&mut Generator::new(2), &shape, DType::F64)
                .unwrap();
            let gram = if shape[0] <= shape[1] {
                q.matmul(&q.t().unwrap()).unwrap()
            } else {
                q.t().unwrap().matmul(&q).unwrap()
            };
            let k = shape[0].min(shape[1]);
            let g = gram.to_vec::<f64>().unwrap();
            for i in 0..k {
                for j in 0..k {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((g[i * k + j] - want).abs() < 1e-10, "{shape:?}");
                }
            }
        }
    }

    #[test]
    fn fan_errors() {
        assert!(Init::XavierUniform { gain: 1.0 }.tensor(&[5]).is_err());
        assert!(Init::Orthogonal { gain: 1.0 }.tensor(&[5]).is_err());
    }
}
