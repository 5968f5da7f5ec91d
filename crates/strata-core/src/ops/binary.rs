//! Elementwise binary arithmetic with NumPy broadcasting: add, sub, mul, div, pow, minimum,
//! maximum.
//!
//! Each op is a [`BinaryFn`]: its value and its two partial derivatives side by side. The
//! backward pass computes `grad * ∂f/∂a` (and `∂f/∂b`) in one fused pass over the broadcast
//! shape, then sums over the broadcast dimensions back to each input's shape.

use super::float_dispatch;
use super::slice_of;
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::{map2, map3};
use crate::layout::{broadcast_dims, Dims};
use crate::{DType, Error, FloatElement, Result, Tensor};

/// An elementwise binary function and its partial derivatives.
pub(crate) trait BinaryFn: Copy + Send + Sync + 'static {
    const NAME: &'static str;
    fn f<T: FloatElement>(self, a: T, b: T) -> T;
    /// The integer version, where the op has one.
    fn f_int(self, _a: i64, _b: i64) -> Option<i64> {
        None
    }
    /// `(∂f/∂a, ∂f/∂b)` at `(a, b)`.
    fn df<T: FloatElement>(self, a: T, b: T) -> (T, T);
}

macro_rules! binary_fn {
    ($name:ident, $label:literal, |$a:ident, $b:ident| $f:expr, int = $fi:expr, df = $df:expr) => {
        #[derive(Clone, Copy)]
        pub(crate) struct $name;
        impl BinaryFn for $name {
            const NAME: &'static str = $label;
            #[inline(always)]
            fn f<T: FloatElement>(self, $a: T, $b: T) -> T {
                $f
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn f_int(self, $a: i64, $b: i64) -> Option<i64> {
                $fi
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn df<T: FloatElement>(self, $a: T, $b: T) -> (T, T) {
                $df
            }
        }
    };
}

binary_fn!(
    Add,
    "add",
    |a, b| a + b,
    int = Some(a.wrapping_add(b)),
    df = (T::one(), T::one())
);
binary_fn!(
    Sub,
    "sub",
    |a, b| a - b,
    int = Some(a.wrapping_sub(b)),
    df = (T::one(), -T::one())
);
binary_fn!(
    Mul,
    "mul",
    |a, b| a * b,
    int = Some(a.wrapping_mul(b)),
    df = (b, a)
);
binary_fn!(
    Div,
    "div",
    |a, b| a / b,
    int = None,
    df = (b.recip(), -a / (b * b))
);
binary_fn!(
    Pow,
    "pow",
    |a, b| a.powf(b),
    int = None,
    df = (
        if b == T::zero() {
            T::zero()
        } else {
            b * a.powf(b - T::one())
        },
        // d/db a^b = a^b ln a; PyTorch defines it as 0 where a == 0 (and b >= 0).
        if a == T::zero() {
            T::zero()
        } else {
            a.powf(b) * a.ln()
        }
    )
);
// Ties send the gradient half to each side, as PyTorch does.
binary_fn!(
    Maximum,
    "maximum",
    |a, b| if a.is_nan() || b.is_nan() {
        T::nan()
    } else if a >= b {
        a
    } else {
        b
    },
    int = Some(a.max(b)),
    df = if a > b {
        (T::one(), T::zero())
    } else if a < b {
        (T::zero(), T::one())
    } else {
        (T::from_f64(0.5), T::from_f64(0.5))
    }
);
binary_fn!(
    Minimum,
    "minimum",
    |a, b| if a.is_nan() || b.is_nan() {
        T::nan()
    } else if a <= b {
        a
    } else {
        b
    },
    int = Some(a.min(b)),
    df = if a < b {
        (T::one(), T::zero())
    } else if a > b {
        (T::zero(), T::one())
    } else {
        (T::from_f64(0.5), T::from_f64(0.5))
    }
);

fn check_same_dtype(op: &'static str, a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch {
            op,
            lhs: a.dtype(),
            rhs: b.dtype(),
        });
    }
    Ok(())
}

/// Forward kernel: `f(a, b)` over the broadcast shape.
fn binary_forward<F: BinaryFn>(a: &Tensor, b: &Tensor, op: F) -> Result<Tensor> {
    check_same_dtype(F::NAME, a, b)?;
    let shape = broadcast_dims(F::NAME, a.shape(), b.shape())?;
    let sa = a.layout().broadcast_strides(F::NAME, &shape)?;
    let sb = b.layout().broadcast_strides(F::NAME, &shape)?;
    let (da, db) = (a.storage_read(), b.storage_read());
    let (oa, ob) = (a.layout().offset(), b.layout().offset());
    if a.dtype() == DType::I64 {
        if op.f_int(0, 1).is_none() {
            return Err(Error::dtype(
                F::NAME,
                "a floating-point dtype (f32 or f64)",
                DType::I64,
            ));
        }
        let (xa, xb) = (
            slice_of::<i64>(&da, F::NAME)?,
            slice_of::<i64>(&db, F::NAME)?,
        );
        let v = map2(xa, &sa, oa, xb, &sb, ob, &shape, |x, y| {
            op.f_int(x, y).unwrap_or(0)
        });
        return Ok(Tensor::from_data(
            crate::storage::StorageData::I64(v),
            &shape,
        ));
    }
    Ok(float_dispatch!(a.dtype(), F::NAME, T => {
        let (xa, xb) = (slice_of::<T>(&da, F::NAME)?, slice_of::<T>(&db, F::NAME)?);
        let v = map2(xa, &sa, oa, xb, &sb, ob, &shape, |x, y| op.f(x, y));
        Tensor::from_data(T::into_storage(v), &shape)
    }))
}

fn binary<F: BinaryFn>(a: &Tensor, b: &Tensor, op: F) -> Result<Tensor> {
    let out = binary_forward(a, b, op)?;
    if !needs_grad(&[a, b]) {
        return Ok(out);
    }
    Ok(out.record(&[a, b], BinaryBackward { op }))
}

struct BinaryBackward<F: BinaryFn> {
    op: F,
}

impl<F: BinaryFn> BackwardOp for BinaryBackward<F> {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let op = self.op;
        let shape = Dims::from_slice(grad.shape());
        let partial = |which: usize| -> Result<Tensor> {
            float_dispatch!(grad.dtype(), F::NAME, T => {
                let sa = a.layout().broadcast_strides(F::NAME, &shape)?;
                let sb = b.layout().broadcast_strides(F::NAME, &shape)?;
                let (dg, da, db) = (grad.storage_read(), a.storage_read(), b.storage_read());
                let gl = grad.layout();
                let v = map3(
                    (slice_of::<T>(&dg, F::NAME)?, gl.strides(), gl.offset()),
                    (slice_of::<T>(&da, F::NAME)?, &sa, a.layout().offset()),
                    (slice_of::<T>(&db, F::NAME)?, &sb, b.layout().offset()),
                    &shape,
                    |g: T, x: T, y: T| {
                        let (dx, dy) = op.df(x, y);
                        g * if which == 0 { dx } else { dy }
                    },
                );
                Ok(Tensor::from_data(T::into_storage(v), &shape))
            })
        };
        let grad_for = |which: usize, input: &Tensor| -> Result<Option<Tensor>> {
            if !input.requires_grad() {
                return Ok(None);
            }
            let g = match (F::NAME, which) {
                // The derivative is the constant ±1: no pass over the inputs needed.
                ("add", _) | ("sub", 0) => grad.clone(),
                ("sub", _) => grad.neg()?,
                _ => partial(which)?,
            };
            Ok(Some(g.sum_to_shape(input.shape())?))
        };
        Ok(vec![grad_for(0, a)?, grad_for(1, b)?])
    }
}

impl Tensor {
    /// `self + other`, with broadcasting.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let bias = Tensor::from_vec(vec![10.0f32, 20.0], &[2])?;
    /// assert_eq!(a.add(&bias)?.to_vec::<f32>()?, vec![11.0, 22.0, 13.0, 24.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Add)
    }
    /// `self - other`, with broadcasting.
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Sub)
    }
    /// `self * other`, elementwise with broadcasting.
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Mul)
    }
    /// `self / other`, elementwise with broadcasting (floating-point dtypes only).
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Div)
    }
    /// `self ^ other`, elementwise with broadcasting.
    pub fn pow(&self, exponent: &Tensor) -> Result<Tensor> {
        binary(self, exponent, Pow)
    }
    /// Elementwise maximum (NaN if either is NaN).
    pub fn maximum(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Maximum)
    }
    /// Elementwise minimum (NaN if either is NaN).
    pub fn minimum(&self, other: &Tensor) -> Result<Tensor> {
        binary(self, other, Minimum)
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    type F = fn(&Tensor, &Tensor) -> crate::Result<Tensor>;
    const OPS: [(&str, F); 7] = [
        ("add", |a, b| a.add(b)),
        ("sub", |a, b| a.sub(b)),
        ("mul", |a, b| a.mul(b)),
        ("div", |a, b| a.div(b)),
        ("pow", |a, b| a.pow(b)),
        ("maximum", |a, b| a.maximum(b)),
        ("minimum", |a, b| a.minimum(b)),
    ];

    fn check_all(a: &Tensor, b: &Tensor) {
        for (name, f) in OPS {
            gradcheck(
                |t| f(&t[0], &t[1]),
                &[a.clone(), b.clone()],
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{name} {:?} {:?}: {e}", a.shape(), b.shape()));
        }
    }

    fn positive(shape: &[usize]) -> Tensor {
        Tensor::rand(shape).add_scalar(0.5).unwrap()
    }

    #[test]
    fn gradchecks_same_shape_and_broadcast() {
        check_all(&positive(&[3, 4]), &positive(&[3, 4]));
        check_all(&positive(&[3, 4]), &positive(&[4]));
        check_all(&positive(&[2, 1, 4]), &positive(&[3, 1]));
        check_all(&positive(&[1]), &positive(&[2, 3]));
    }

    #[test]
    fn gradchecks_on_strided_views() {
        for (name, f) in OPS {
            gradcheck(
                |t| f(&t[0].transpose(0, 1)?, &t[1].narrow(1, 1, 4)?),
                &[positive(&[4, 3]), positive(&[3, 5])],
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn same_tensor_twice_accumulates() {
        let x = Tensor::from_vec(vec![3.0f64], &[1])
            .unwrap()
            .requires_grad_();
        let g = x.mul(&x).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&x).unwrap().to_vec::<f64>().unwrap(), vec![6.0]);
    }

    #[test]
    fn integer_arithmetic_and_errors() {
        let a = Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap();
        let b = Tensor::from_vec(vec![10i64], &[1]).unwrap();
        assert_eq!(
            a.add(&b).unwrap().to_vec::<i64>().unwrap(),
            vec![11, 12, 13]
        );
        assert_eq!(
            a.maximum(&Tensor::from_vec(vec![2i64], &[]).unwrap())
                .unwrap()
                .to_vec::<i64>()
                .unwrap(),
            vec![2, 2, 3]
        );
        assert!(a.div(&b).is_err());
        let f = Tensor::ones(&[3]);
        let err = a.add(&f).unwrap_err();
        assert_eq!(
            err.to_string(),
            "add: dtypes i64 and f32 differ; convert one with `to_dtype` first"
        );
        let err = Tensor::ones(&[2, 3])
            .mul(&Tensor::ones(&[4, 3]))
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("mul: shapes [2, 3] and [4, 3] cannot be broadcast"),
            "{err}"
        );
    }

    #[test]
    fn large_broadcast_matches_small_path() {
        // Large enough to take the parallel path.
        let a = Tensor::randn(&[300, 257]);
        let b = Tensor::randn(&[257]);
        let got = a.add(&b).unwrap().to_vec::<f32>().unwrap();
        let (av, bv) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
        for i in 0..300 {
            for j in 0..257 {
                assert_eq!(got[i * 257 + j], av[i * 257 + j] + bv[j]);
            }
        }
    }
}
