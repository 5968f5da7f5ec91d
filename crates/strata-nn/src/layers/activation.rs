//! Activation functions as modules, for `Sequential` and summaries. Each wraps the core op
//! of the same name; the learnable ones (`PReLU`, learnable `Swish`) have their own files.

use crate::{hooks, Error, Forward, Module, Result, Visitor};
use strata_core::Tensor;

macro_rules! activation_module {
    ($(#[$doc:meta])* $name:ident, |$x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        pub struct $name {
            // Not zero-sized, so that every instance has its own address (hooks and
            // summaries tell layers apart by address).
            _id: u8,
        }

        impl $name {
            pub fn new() -> Self {
                Self::default()
            }
        }

        impl Module for $name {
            fn visit(&self, _: &mut dyn Visitor) {}
        }

        impl Forward for $name {
            fn forward(&self, $x: &Tensor) -> Result<Tensor> {
                let y: Tensor = $body?;
                hooks::emit(self, &y);
                Ok(y)
            }
        }
    };
}

activation_module!(
    /// `max(x, 0)`.
    ///
    /// ```
    /// use strata_nn::{Forward, ReLU};
    /// use strata_core::Tensor;
    /// let y = ReLU::new().forward(&Tensor::from_vec(vec![-1.0f32, 2.0], &[2])?)?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![0.0, 2.0]);
    /// # Ok::<(), strata_nn::Error>(())
    /// ```
    ReLU, |x| x.relu());
activation_module!(
    /// Logistic sigmoid.
    Sigmoid, |x| x.sigmoid());
activation_module!(
    /// Hyperbolic tangent.
    Tanh, |x| x.tanh());
activation_module!(
    /// Self-normalising ELU.
    SELU, |x| x.selu());
activation_module!(
    /// GELU (exact, erf form).
    GELU, |x| x.gelu());
activation_module!(
    /// GELU, tanh approximation.
    GELUTanh, |x| x.gelu_tanh());
activation_module!(
    /// SiLU = swish with β = 1 (see `Swish` for a learnable β).
    SiLU, |x| x.silu());
activation_module!(
    /// `x tanh(softplus(x))`.
    Mish, |x| x.mish());
activation_module!(
    /// `x / (1 + |x|)`.
    Softsign, |x| x.softsign());
activation_module!(
    /// `ln(1 + e^x)`.
    Softplus, |x| x.softplus());

macro_rules! parameterised_activation {
    ($(#[$doc:meta])* $name:ident, $arg:ident: $default:expr, check = |$c:ident| $check:expr, |$s:ident, $x:ident| $body:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            $arg: f64,
        }

        impl $name {
            pub fn new($arg: f64) -> Result<Self> {
                let $c = $arg;
                if !($check) {
                    return Err(Error::config(stringify!($name), format!("invalid {} {}", stringify!($arg), $arg)));
                }
                Ok($name { $arg })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name { $arg: $default }
            }
        }

        impl Module for $name {
            fn visit(&self, _: &mut dyn Visitor) {}
            fn extra_repr(&self) -> String {
                format!("{}={}", stringify!($arg), self.$arg)
            }
        }

        impl Forward for $name {
            fn forward(&self, $x: &Tensor) -> Result<Tensor> {
                let $s = self;
                let y: Tensor = $body?;
                hooks::emit(self, &y);
                Ok(y)
            }
        }
    };
}

parameterised_activation!(
    /// `x` if positive, else `negative_slope · x` (PyTorch default slope 0.01).
    LeakyReLU, negative_slope: 0.01, check = |v| v.is_finite(), |s, x| x.leaky_relu(s.negative_slope));
parameterised_activation!(
    /// `x` if positive, else `alpha (e^x − 1)` (default alpha 1).
    ELU, alpha: 1.0, check = |v| v.is_finite(), |s, x| x.elu(s.alpha));

/// Clamp to `[min, max]` (default `[-1, 1]`).
#[derive(Clone, Debug)]
pub struct Hardtanh {
    min: f64,
    max: f64,
}

impl Hardtanh {
    pub fn new(min: f64, max: f64) -> Result<Self> {
        if min.is_nan() || max.is_nan() || min > max {
            return Err(Error::config(
                "Hardtanh",
                format!("need min <= max, got {min} and {max}"),
            ));
        }
        Ok(Hardtanh { min, max })
    }
}

impl Default for Hardtanh {
    fn default() -> Self {
        Hardtanh {
            min: -1.0,
            max: 1.0,
        }
    }
}

impl Module for Hardtanh {
    fn visit(&self, _: &mut dyn Visitor) {}
    fn extra_repr(&self) -> String {
        format!("min={}, max={}", self.min, self.max)
    }
}

impl Forward for Hardtanh {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = x.hardtanh(self.min, self.max)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
