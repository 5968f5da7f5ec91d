//! Activation functions as elementwise ops, each with its derivative beside it.
//!
//! Conventions follow PyTorch exactly: `relu'(0) = 0`, `leaky_relu'(0) = slope`,
//! `hardtanh'` is 0 at the bounds, softplus switches to the identity above `threshold`.

use super::unary::{c, unary, UnaryFn};
use crate::kernels::map16::Wide;
use crate::{FloatElement, Result, Tensor};

const SELU_ALPHA: f64 = 1.673_263_242_354_377_284_817_042_991_671_7;
const SELU_SCALE: f64 = 1.050_700_987_355_480_493_419_334_985_294_6;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_355_879_892_119_868_8;
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_677_939_946_059_934_4;

/// Logistic sigmoid, computed without overflow for large |x|.
#[inline(always)]
fn sigmoid<T: FloatElement>(x: T) -> T {
    x.sigmoid_v()
}

/// ln(1 + e^x) without overflow.
#[inline(always)]
fn softplus<T: FloatElement>(x: T) -> T {
    x.max(T::zero()) + (-x.abs()).exp_v().ln_1p()
}

macro_rules! activation {
    ($(#[$m:meta])* $name:ident, $label:literal, needs_x = $nx:expr,
     |$s:ident, $x:ident| $f:expr, |$ds:ident, $dx:ident, $dy:ident| $df:expr
     $(, wide = $w:expr)?) => {
        $(#[$m])*
        #[derive(Clone, Copy)]
        #[allow(dead_code)] // parameterless activations ignore both fields
        pub(crate) struct $name(pub f64, pub f64);
        impl UnaryFn for $name {
            const NAME: &'static str = $label;
            const NEEDS_X: bool = $nx;
            $(const WIDE: Option<Wide> = Some($w);)?
            #[inline(always)]
            #[allow(unused_variables)]
            fn f<T: FloatElement>(self, $x: T) -> T {
                let $s = self;
                $f
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn df<T: FloatElement>(self, $dx: T, $dy: T) -> T {
                let $ds = self;
                $df
            }
        }
    };
}

activation!(
    Sigmoid,
    "sigmoid",
    needs_x = false,
    |s, x| sigmoid(x),
    |s, x, y| y * (T::one() - y),
    wide = Wide::Sigmoid
);
activation!(
    Tanh,
    "tanh",
    needs_x = false,
    |s, x| x.tanh_v(),
    |s, x, y| T::one() - y * y,
    wide = Wide::Tanh
);
activation!(
    Relu,
    "relu",
    needs_x = false,
    |s, x| if x > T::zero() { x } else { T::zero() },
    |s, x, y| if y > T::zero() { T::one() } else { T::zero() }
);
activation!(
    LeakyRelu,
    "leaky_relu",
    needs_x = true,
    |s, x| if x > T::zero() { x } else { x * c(s.0) },
    |s, x, y| if x > T::zero() { T::one() } else { c(s.0) }
);
activation!(
    Elu,
    "elu",
    needs_x = true,
    |s, x| if x > T::zero() {
        x
    } else {
        c::<T>(s.0) * x.exp_m1()
    },
    |s, x, y| if x > T::zero() { T::one() } else { y + c(s.0) }
);
activation!(
    Selu,
    "selu",
    needs_x = true,
    |s, x| c::<T>(SELU_SCALE)
        * if x > T::zero() {
            x
        } else {
            c::<T>(SELU_ALPHA) * x.exp_m1()
        },
    |s, x, y| if x > T::zero() {
        c(SELU_SCALE)
    } else {
        y + c(SELU_SCALE * SELU_ALPHA)
    }
);
activation!(
    GeluErf,
    "gelu",
    needs_x = true,
    |s, x| c::<T>(0.5) * x * (T::one() + (x * c(std::f64::consts::FRAC_1_SQRT_2)).erf()),
    |s, x, y| c::<T>(0.5) * (T::one() + (x * c(std::f64::consts::FRAC_1_SQRT_2)).erf())
        + x * c::<T>(FRAC_1_SQRT_2PI) * (c::<T>(-0.5) * x * x).exp_v()
);
activation!(
    GeluTanh,
    "gelu_tanh",
    needs_x = true,
    |s, x| {
        let inner = c::<T>(SQRT_2_OVER_PI) * (x + c::<T>(0.044715) * x * x * x);
        c::<T>(0.5) * x * (T::one() + inner.tanh_v())
    },
    |s, x, y| {
        let inner = c::<T>(SQRT_2_OVER_PI) * (x + c::<T>(0.044715) * x * x * x);
        let t = inner.tanh_v();
        let d_inner = c::<T>(SQRT_2_OVER_PI) * (T::one() + c::<T>(3.0 * 0.044715) * x * x);
        c::<T>(0.5) * (T::one() + t) + c::<T>(0.5) * x * (T::one() - t * t) * d_inner
    }
);
activation!(
    Silu,
    "silu",
    needs_x = true,
    |s, x| x * sigmoid(x),
    |s, x, y| {
        let sg = sigmoid(x);
        sg * (T::one() + x * (T::one() - sg))
    }
);
activation!(
    /// `(beta, threshold)`: `ln(1 + e^(beta x)) / beta`, or `x` where `beta x > threshold`.
    Softplus, "softplus", needs_x = true,
    |s, x| { let bx = x * c(s.0); if bx > c(s.1) { x } else { softplus(bx) / c(s.0) } },
    |s, x, y| { let bx = x * c(s.0); if bx > c(s.1) { T::one() } else { sigmoid(bx) } });
activation!(
    Mish,
    "mish",
    needs_x = true,
    |s, x| x * softplus(x).tanh_v(),
    |s, x, y| {
        let t = softplus(x).tanh_v();
        t + x * (T::one() - t * t) * sigmoid(x)
    }
);
activation!(
    /// `(min, max)`: clamp, with zero gradient at and beyond the bounds.
    Hardtanh, "hardtanh", needs_x = true,
    |s, x| x.max(c(s.0)).min(c(s.1)),
    |s, x, y| if x > c(s.0) && x < c(s.1) { T::one() } else { T::zero() });
activation!(
    Softsign,
    "softsign",
    needs_x = true,
    |s, x| x / (T::one() + x.abs()),
    |s, x, y| {
        let d = T::one() + x.abs();
        (d * d).recip()
    }
);
activation!(
    LogSigmoid,
    "log_sigmoid",
    needs_x = true,
    |s, x| -softplus(-x),
    |s, x, y| sigmoid(-x)
);
activation!(
    Hardsigmoid,
    "hardsigmoid",
    needs_x = true,
    |s, x| (x / c(6.0) + c(0.5)).max(T::zero()).min(T::one()),
    |s, x, y| if x > c(-3.0) && x < c(3.0) {
        c(1.0 / 6.0)
    } else {
        T::zero()
    }
);
activation!(
    Hardswish,
    "hardswish",
    needs_x = true,
    |s, x| x * (x + c(3.0)).max(T::zero()).min(c(6.0)) / c(6.0),
    |s, x, y| if x < c(-3.0) {
        T::zero()
    } else if x > c(3.0) {
        T::one()
    } else {
        x / c(3.0) + c(0.5)
    }
);

impl Tensor {
    /// Logistic sigmoid `1 / (1 + e^-x)`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let y = Tensor::from_vec(vec![0.0f32], &[1])?.sigmoid()?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![0.5]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn sigmoid(&self) -> Result<Tensor> {
        unary(self, Sigmoid(0.0, 0.0))
    }
    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Tensor> {
        unary(self, Tanh(0.0, 0.0))
    }
    /// `max(x, 0)`; the gradient at 0 is 0.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let y = Tensor::from_vec(vec![-1.0f32, 2.0], &[2])?.relu()?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![0.0, 2.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn relu(&self) -> Result<Tensor> {
        unary(self, Relu(0.0, 0.0))
    }
    /// `x` for positive `x`, `negative_slope * x` otherwise (PyTorch's default slope: 0.01).
    pub fn leaky_relu(&self, negative_slope: f64) -> Result<Tensor> {
        unary(self, LeakyRelu(negative_slope, 0.0))
    }
    /// `x` for positive `x`, `alpha (e^x - 1)` otherwise.
    pub fn elu(&self, alpha: f64) -> Result<Tensor> {
        unary(self, Elu(alpha, 0.0))
    }
    /// Self-normalising ELU with the fixed constants of Klambauer et al.
    pub fn selu(&self) -> Result<Tensor> {
        unary(self, Selu(0.0, 0.0))
    }
    /// GELU, exact form `x Φ(x)` with the Gaussian CDF via `erf`.
    pub fn gelu(&self) -> Result<Tensor> {
        unary(self, GeluErf(0.0, 0.0))
    }
    /// GELU, tanh approximation (PyTorch's `approximate='tanh'`).
    pub fn gelu_tanh(&self) -> Result<Tensor> {
        unary(self, GeluTanh(0.0, 0.0))
    }
    /// SiLU, also called swish with β = 1: `x σ(x)`.
    pub fn silu(&self) -> Result<Tensor> {
        unary(self, Silu(0.0, 0.0))
    }
    /// Alias of [`Tensor::silu`].
    pub fn swish(&self) -> Result<Tensor> {
        self.silu()
    }
    /// `ln(1 + e^x)` (β = 1, threshold 20, as PyTorch).
    pub fn softplus(&self) -> Result<Tensor> {
        unary(self, Softplus(1.0, 20.0))
    }
    /// `ln(1 + e^(βx)) / β`, switching to `x` where `βx > threshold`.
    pub fn softplus_with(&self, beta: f64, threshold: f64) -> Result<Tensor> {
        if beta == 0.0 {
            return Err(crate::Error::invalid(
                "softplus",
                "beta",
                "must be non-zero",
            ));
        }
        unary(self, Softplus(beta, threshold))
    }
    /// `x tanh(softplus(x))`.
    pub fn mish(&self) -> Result<Tensor> {
        unary(self, Mish(0.0, 0.0))
    }
    /// Clamp to `[min, max]` with zero gradient at the bounds (PyTorch's default: -1, 1).
    pub fn hardtanh(&self, min: f64, max: f64) -> Result<Tensor> {
        if min > max {
            return Err(crate::Error::invalid(
                "hardtanh",
                "min",
                format!("min {min} is greater than max {max}"),
            ));
        }
        unary(self, Hardtanh(min, max))
    }
    /// `x / (1 + |x|)`.
    pub fn softsign(&self) -> Result<Tensor> {
        unary(self, Softsign(0.0, 0.0))
    }
    /// `ln σ(x)`, computed stably.
    pub fn log_sigmoid(&self) -> Result<Tensor> {
        unary(self, LogSigmoid(0.0, 0.0))
    }
    /// `clamp(x / 6 + 1/2, 0, 1)`.
    pub fn hardsigmoid(&self) -> Result<Tensor> {
        unary(self, Hardsigmoid(0.0, 0.0))
    }
    /// `x · hardsigmoid(x)`.
    pub fn hardswish(&self) -> Result<Tensor> {
        unary(self, Hardswish(0.0, 0.0))
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    #[test]
    fn gradchecks_away_from_kinks() {
        // Values kept away from 0 and from the hardtanh bounds, where the derivative jumps.
        let x = Tensor::from_vec(
            vec![
                -2.7f64, -1.3, -0.6, -0.2, 0.3, 0.7, 1.6, 2.9, -4.0, 4.5, 0.05, -0.05,
            ],
            &[3, 4],
        )
        .unwrap();
        type F = fn(&Tensor) -> crate::Result<Tensor>;
        let fns: Vec<(&str, F)> = vec![
            ("sigmoid", |x| x.sigmoid()),
            ("tanh", |x| x.tanh()),
            ("relu", |x| x.relu()),
            ("leaky_relu", |x| x.leaky_relu(0.2)),
            ("elu", |x| x.elu(1.3)),
            ("selu", |x| x.selu()),
            ("gelu", |x| x.gelu()),
            ("gelu_tanh", |x| x.gelu_tanh()),
            ("silu", |x| x.silu()),
            ("softplus", |x| x.softplus()),
            ("softplus_beta", |x| x.softplus_with(2.0, 5.0)),
            ("mish", |x| x.mish()),
            ("hardtanh", |x| x.hardtanh(-1.0, 1.0)),
            ("softsign", |x| x.softsign()),
            ("log_sigmoid", |x| x.log_sigmoid()),
            ("hardsigmoid", |x| x.hardsigmoid()),
            ("hardswish", |x| x.hardswish()),
        ];
        for (name, f) in fns {
            gradcheck(|t| f(&t[0]), &[x.clone()], GradcheckOptions::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn extreme_inputs_stay_finite() {
        let x = Tensor::from_vec(vec![-1000.0f32, 1000.0], &[2]).unwrap();
        for y in [
            x.sigmoid(),
            x.softplus(),
            x.mish(),
            x.log_sigmoid(),
            x.silu(),
        ] {
            assert!(y
                .unwrap()
                .to_vec::<f32>()
                .unwrap()
                .iter()
                .all(|v| v.is_finite()));
        }
    }
}
