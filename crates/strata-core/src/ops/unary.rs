//! Elementwise unary math: neg, exp, log, sqrt, abs, sign, scalar arithmetic, pow, clamp,
//! trigonometry.
//!
//! Each op is a [`UnaryFn`]: its value `f(x)` and its derivative `df(x, y)` (where `y = f(x)`)
//! side by side. One generic forward kernel and one fused backward kernel
//! (`grad_in = grad_out * df(x, y)`, a single pass) serve them all; activations use the same
//! machinery in `activation.rs`. Ops with a sixteen-lane kernel (`UnaryFn::WIDE`: exp,
//! sigmoid, tanh) run it instead of the generic forward on contiguous f32 input.

use super::int_scalar::{clamp_bounds, map_i64, pow_i64, scalar_on, ScalarOn};
use super::{float_dispatch, slice_of};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::{map1, map3};
use crate::kernels::map16::{self, Wide};
use crate::{DType, FloatElement, Result, Tensor};

/// An elementwise function and its derivative.
pub(crate) trait UnaryFn: Copy + Send + Sync + 'static {
    const NAME: &'static str;
    /// Whether the backward pass reads the input `x` (else only `y`), so the input is not
    /// walked needlessly.
    const NEEDS_X: bool = true;
    fn f<T: FloatElement>(self, x: T) -> T;
    /// dy/dx at `x`, given `y = f(x)`.
    fn df<T: FloatElement>(self, x: T, y: T) -> T;
    /// The op's sixteen-lane kernel (`kernels/map16.rs`) for contiguous f32 input, if it
    /// has one: the same function as `f` to within the approximation's few ulp.
    const WIDE: Option<Wide> = None;
}

#[inline(always)]
pub(crate) fn c<T: FloatElement>(v: f64) -> T {
    T::from_f64(v)
}

/// Applies `op` elementwise and records its backward rule.
pub(crate) fn unary<F: UnaryFn>(x: &Tensor, op: F) -> Result<Tensor> {
    let out = match wide_f32::<F>(x)? {
        Some(out) => out,
        None => float_dispatch!(x.dtype(), F::NAME, T => {
            let data = x.storage_read();
            let s = slice_of::<T>(&data, F::NAME)?;
            let v = map1(s, x.layout(), move |a| op.f(a));
            Tensor::from_data(T::into_storage(v), x.shape())
        }),
    };
    if !needs_grad(&[x]) {
        return Ok(out);
    }
    let output = out.detach();
    Ok(out.record(&[x], UnaryBackward { op, output }))
}

/// The op through its sixteen-lane kernel, when it has one, `x` is contiguous f32 and the
/// CPU has AVX-512; `None` otherwise.
fn wide_f32<F: UnaryFn>(x: &Tensor) -> Result<Option<Tensor>> {
    let (Some(kernel), DType::F32, Some(range)) =
        (F::WIDE, x.dtype(), x.layout().contiguous_range())
    else {
        return Ok(None);
    };
    let data = x.storage_read();
    let s = slice_of::<f32>(&data, F::NAME)?;
    Ok(map16::map_f32(&s[range], kernel)
        .map(|v| Tensor::from_data(<f32 as crate::Element>::into_storage(v), x.shape())))
}

struct UnaryBackward<F: UnaryFn> {
    op: F,
    output: Tensor,
}

impl<F: UnaryFn> BackwardOp for UnaryBackward<F> {
    fn name(&self) -> &'static str {
        F::NAME
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let y = &self.output;
        let op = self.op;
        let g = float_dispatch!(grad.dtype(), F::NAME, T => {
            let (gd, xd, yd) = (grad.storage_read(), x.storage_read(), y.storage_read());
            let (gs, ys) = (slice_of::<T>(&gd, F::NAME)?, slice_of::<T>(&yd, F::NAME)?);
            let (gl, yl) = (grad.layout(), y.layout());
            let v = if F::NEEDS_X {
                let xs = slice_of::<T>(&xd, F::NAME)?;
                let xl = x.layout();
                map3(
                    (gs, gl.strides(), gl.offset()),
                    (xs, xl.strides(), xl.offset()),
                    (ys, yl.strides(), yl.offset()),
                    grad.shape(),
                    move |g, a, b| g * op.df(a, b),
                )
            } else {
                crate::kernels::map::map2(
                    gs, gl.strides(), gl.offset(),
                    ys, yl.strides(), yl.offset(),
                    grad.shape(),
                    move |g, b| g * op.df(T::zero(), b),
                )
            };
            Tensor::from_data(T::into_storage(v), grad.shape())
        });
        Ok(vec![Some(g)])
    }
}

macro_rules! unary_fn {
    ($name:ident, $label:literal, needs_x = $nx:expr, |$x:ident| $f:expr, |$dx:ident, $dy:ident| $df:expr $(, wide = $w:expr)?) => {
        #[derive(Clone, Copy)]
        pub(crate) struct $name;
        impl UnaryFn for $name {
            const NAME: &'static str = $label;
            const NEEDS_X: bool = $nx;
            $(const WIDE: Option<Wide> = Some($w);)?
            #[inline(always)]
            fn f<T: FloatElement>(self, $x: T) -> T {
                $f
            }
            #[inline(always)]
            #[allow(unused_variables)]
            fn df<T: FloatElement>(self, $dx: T, $dy: T) -> T {
                $df
            }
        }
    };
}

unary_fn!(Neg, "neg", needs_x = false, |x| -x, |x, y| c(-1.0));
unary_fn!(
    Exp,
    "exp",
    needs_x = false,
    |x| x.exp_v(),
    |x, y| y,
    wide = Wide::Exp
);
unary_fn!(Log, "log", needs_x = true, |x| x.ln(), |x, y| x.recip());
unary_fn!(Sqrt, "sqrt", needs_x = false, |x| x.sqrt(), |x, y| c::<T>(
    0.5
) / y);
unary_fn!(Abs, "abs", needs_x = true, |x| x.abs(), |x, y| sign(x));
unary_fn!(Sign, "sign", needs_x = false, |x| sign(x), |x, y| T::zero());
unary_fn!(Square, "square", needs_x = true, |x| x * x, |x, y| c::<T>(
    2.0
) * x);
unary_fn!(
    Reciprocal,
    "reciprocal",
    needs_x = false,
    |x| x.recip(),
    |x, y| -(y * y)
);
unary_fn!(Sin, "sin", needs_x = true, |x| x.sin(), |x, y| x.cos());
unary_fn!(Cos, "cos", needs_x = true, |x| x.cos(), |x, y| -x.sin());
unary_fn!(Log1p, "log1p", needs_x = true, |x| x.ln_1p(), |x, y| {
    (T::one() + x).recip()
});
unary_fn!(Expm1, "expm1", needs_x = false, |x| x.exp_m1(), |x, y| y
    + T::one());

/// sign(0) = 0, as in PyTorch.
#[inline(always)]
fn sign<T: FloatElement>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

#[derive(Clone, Copy)]
pub(crate) struct AddScalar(pub f64);
impl UnaryFn for AddScalar {
    const NAME: &'static str = "add_scalar";
    const NEEDS_X: bool = false;
    #[inline(always)]
    fn f<T: FloatElement>(self, x: T) -> T {
        x + c(self.0)
    }
    #[inline(always)]
    fn df<T: FloatElement>(self, _: T, _: T) -> T {
        T::one()
    }
}

// Its own op rather than `AddScalar(-s)`, so the recorded graph names what the user called.
#[derive(Clone, Copy)]
pub(crate) struct SubScalar(pub f64);
impl UnaryFn for SubScalar {
    const NAME: &'static str = "sub_scalar";
    const NEEDS_X: bool = false;
    #[inline(always)]
    fn f<T: FloatElement>(self, x: T) -> T {
        x - c(self.0)
    }
    #[inline(always)]
    fn df<T: FloatElement>(self, _: T, _: T) -> T {
        T::one()
    }
}

#[derive(Clone, Copy)]
pub(crate) struct MulScalar(pub f64);
impl UnaryFn for MulScalar {
    const NAME: &'static str = "mul_scalar";
    const NEEDS_X: bool = false;
    #[inline(always)]
    fn f<T: FloatElement>(self, x: T) -> T {
        x * c(self.0)
    }
    #[inline(always)]
    fn df<T: FloatElement>(self, _: T, _: T) -> T {
        c(self.0)
    }
}

#[derive(Clone, Copy)]
pub(crate) struct PowScalar(pub f64);
impl UnaryFn for PowScalar {
    const NAME: &'static str = "pow_scalar";
    #[inline(always)]
    fn f<T: FloatElement>(self, x: T) -> T {
        if self.0 == 2.0 {
            x * x
        } else {
            x.powf(c(self.0))
        }
    }
    #[inline(always)]
    fn df<T: FloatElement>(self, x: T, _: T) -> T {
        if self.0 == 0.0 {
            T::zero()
        } else {
            c::<T>(self.0) * x.powf(c(self.0 - 1.0))
        }
    }
}

/// `base ^ x` for a scalar base.
#[derive(Clone, Copy)]
pub(crate) struct ScalarPow(pub f64);
impl UnaryFn for ScalarPow {
    const NAME: &'static str = "scalar_pow";
    const NEEDS_X: bool = false;
    #[inline(always)]
    fn f<T: FloatElement>(self, x: T) -> T {
        c::<T>(self.0).powf(x)
    }
    #[inline(always)]
    fn df<T: FloatElement>(self, _: T, y: T) -> T {
        y * c::<T>(self.0).ln()
    }
}

/// Clamp to `[lo, hi]`; the gradient passes where `lo <= x <= hi` (PyTorch's convention).
#[derive(Clone, Copy)]
pub(crate) struct Clamp(pub f64, pub f64);
impl UnaryFn for Clamp {
    const NAME: &'static str = "clamp";
    #[inline(always)]
    fn f<T: FloatElement>(self, x: T) -> T {
        let (lo, hi) = (c::<T>(self.0), c::<T>(self.1));
        if x < lo {
            lo
        } else if x > hi {
            hi
        } else {
            x
        }
    }
    #[inline(always)]
    fn df<T: FloatElement>(self, x: T, _: T) -> T {
        if x >= c(self.0) && x <= c(self.1) {
            T::one()
        } else {
            T::zero()
        }
    }
}

impl Tensor {
    /// `-x`, elementwise.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, -2.0], &[2])?;
    /// assert_eq!(t.neg()?.to_vec::<f32>()?, vec![-1.0, 2.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn neg(&self) -> Result<Tensor> {
        unary(self, Neg)
    }
    /// `e^x`, elementwise.
    pub fn exp(&self) -> Result<Tensor> {
        unary(self, Exp)
    }
    /// Natural logarithm, elementwise.
    pub fn log(&self) -> Result<Tensor> {
        unary(self, Log)
    }
    /// `ln(1 + x)`, accurate for small `x`.
    pub fn log1p(&self) -> Result<Tensor> {
        unary(self, Log1p)
    }
    /// `e^x - 1`, accurate for small `x`.
    pub fn expm1(&self) -> Result<Tensor> {
        unary(self, Expm1)
    }
    /// Square root, elementwise.
    pub fn sqrt(&self) -> Result<Tensor> {
        unary(self, Sqrt)
    }
    /// `x * x`, elementwise.
    pub fn square(&self) -> Result<Tensor> {
        unary(self, Square)
    }
    /// `1 / x`, elementwise.
    pub fn reciprocal(&self) -> Result<Tensor> {
        unary(self, Reciprocal)
    }
    /// Absolute value (gradient `sign(x)`, 0 at 0).
    pub fn abs(&self) -> Result<Tensor> {
        unary(self, Abs)
    }
    /// -1, 0 or 1 (gradient 0).
    pub fn sign(&self) -> Result<Tensor> {
        unary(self, Sign)
    }
    /// Sine, elementwise.
    pub fn sin(&self) -> Result<Tensor> {
        unary(self, Sin)
    }
    /// Cosine, elementwise.
    pub fn cos(&self) -> Result<Tensor> {
        unary(self, Cos)
    }
    /// `x + s` for a scalar `s`. An `i64` tensor stays `i64` for a whole `s` and becomes
    /// `f32` otherwise (PyTorch's rules; see `ops/int_scalar.rs`).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1i64, 2], &[2])?;
    /// assert_eq!(t.add_scalar(10.0)?.to_vec::<i64>()?, vec![11, 12]);
    /// assert_eq!(t.add_scalar(0.5)?.to_vec::<f32>()?, vec![1.5, 2.5]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        match scalar_on(self, "add_scalar", s, true)? {
            ScalarOn::Float => unary(self, AddScalar(s)),
            ScalarOn::Int(k) => map_i64(self, |v| v.wrapping_add(k)),
            ScalarOn::Promoted(x) => x.add_scalar(s),
        }
    }
    /// `x - s` for a scalar `s` (integer tensors as for [`Tensor::add_scalar`]).
    pub fn sub_scalar(&self, s: f64) -> Result<Tensor> {
        match scalar_on(self, "sub_scalar", s, true)? {
            ScalarOn::Float => unary(self, SubScalar(s)),
            ScalarOn::Int(k) => map_i64(self, |v| v.wrapping_sub(k)),
            ScalarOn::Promoted(x) => x.sub_scalar(s),
        }
    }
    /// `x * s` for a scalar `s` (integer tensors as for [`Tensor::add_scalar`]).
    pub fn mul_scalar(&self, s: f64) -> Result<Tensor> {
        match scalar_on(self, "mul_scalar", s, true)? {
            ScalarOn::Float => unary(self, MulScalar(s)),
            ScalarOn::Int(k) => map_i64(self, |v| v.wrapping_mul(k)),
            ScalarOn::Promoted(x) => x.mul_scalar(s),
        }
    }
    /// `x / s` for a scalar `s`: true division, so an `i64` tensor gives `f32`.
    pub fn div_scalar(&self, s: f64) -> Result<Tensor> {
        match scalar_on(self, "div_scalar", s, false)? {
            ScalarOn::Promoted(x) => x.div_scalar(s),
            _ => unary(self, MulScalar(1.0 / s)),
        }
    }
    /// `x ^ p` for a scalar exponent. An `i64` tensor stays `i64` for a whole `p >= 0`
    /// (a negative whole `p` is an error, as in PyTorch) and becomes `f32` otherwise.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![2.0f32, 3.0], &[2])?;
    /// assert_eq!(t.pow_scalar(2.0)?.to_vec::<f32>()?, vec![4.0, 9.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn pow_scalar(&self, p: f64) -> Result<Tensor> {
        match scalar_on(self, "pow_scalar", p, true)? {
            ScalarOn::Float => unary(self, PowScalar(p)),
            ScalarOn::Int(k) => pow_i64(self, k),
            ScalarOn::Promoted(x) => x.pow_scalar(p),
        }
    }
    /// `base ^ x` for a scalar base.
    pub fn scalar_pow(&self, base: f64) -> Result<Tensor> {
        unary(self, ScalarPow(base))
    }
    /// Clamps into `[min, max]`; use `f64::NEG_INFINITY` / `f64::INFINITY` for one side.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![-2.0f32, 0.5, 3.0], &[3])?;
    /// assert_eq!(t.clamp(-1.0, 1.0)?.to_vec::<f32>()?, vec![-1.0, 0.5, 1.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn clamp(&self, min: f64, max: f64) -> Result<Tensor> {
        if min > max {
            return Err(crate::Error::invalid(
                "clamp",
                "min",
                format!("min {min} is greater than max {max}"),
            ));
        }
        // Integer tensors keep their dtype for whole (or infinite) bounds, as in PyTorch.
        match (self.dtype(), clamp_bounds(min, max)) {
            (DType::I64, Some((lo, hi))) => map_i64(self, |v| v.clamp(lo, hi)),
            (DType::I64, None) => self.to_dtype(DType::F32).clamp(min, max),
            _ => {
                scalar_on(self, "clamp", min, false)?; // refuses bool, naming clamp
                unary(self, Clamp(min, max))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    fn check(f: impl Fn(&Tensor) -> crate::Result<Tensor>, x: Tensor) {
        gradcheck(|t| f(&t[0]), &[x], GradcheckOptions::default()).unwrap();
    }

    fn positive() -> Tensor {
        Tensor::rand(&[3, 4]).add_scalar(0.5).unwrap()
    }

    #[test]
    fn contiguous_f32_kernels_agree_with_the_strided_path() {
        // Contiguous f32 takes the sixteen-lane kernels (on AVX-512), a transposed view the
        // generic map: both must give the function's values, and gradients must flow.
        let x = Tensor::randn(&[67, 130])
            .mul_scalar(6.0)
            .unwrap()
            .requires_grad_();
        type Op = fn(&Tensor) -> crate::Result<Tensor>;
        let ops: [(&str, Op); 3] = [
            ("exp", |t| t.exp()),
            ("sigmoid", |t| t.sigmoid()),
            ("tanh", |t| t.tanh()),
        ];
        for (name, op) in ops {
            let fast = op(&x).unwrap();
            let strided = op(&x.t().unwrap().contiguous().t().unwrap()).unwrap();
            let (a, b) = (
                fast.to_vec::<f32>().unwrap(),
                strided.to_vec::<f32>().unwrap(),
            );
            for (i, (&p, &q)) in a.iter().zip(&b).enumerate() {
                assert!(
                    (p - q).abs() <= 2e-6 * q.abs().max(1e-30),
                    "{name} at {i}: {p} vs {q}"
                );
            }
            let g = fast.sum_all().unwrap().backward().unwrap();
            let gx = g.get(&x).unwrap().to_vec::<f32>().unwrap();
            let dy: Vec<f32> = match name {
                "exp" => a.clone(),
                "sigmoid" => a.iter().map(|&y| y * (1.0 - y)).collect(),
                _ => a.iter().map(|&y| 1.0 - y * y).collect(),
            };
            assert_eq!(gx, dy, "{name}: gradient from the fast path's output");
        }
    }

    #[test]
    fn gradchecks() {
        let x = Tensor::randn(&[3, 4]);
        check(|x| x.neg(), x.clone());
        check(|x| x.exp(), x.clone());
        check(|x| x.log(), positive());
        check(|x| x.log1p(), positive());
        check(|x| x.expm1(), x.clone());
        check(|x| x.sqrt(), positive());
        check(|x| x.square(), x.clone());
        check(|x| x.reciprocal(), positive());
        check(|x| x.abs(), positive().sub_scalar(2.0).unwrap());
        check(|x| x.sign(), x.clone());
        check(|x| x.sin(), x.clone());
        check(|x| x.cos(), x.clone());
        check(|x| x.add_scalar(2.0), x.clone());
        check(|x| x.sub_scalar(2.0), x.clone());
        check(|x| x.mul_scalar(-3.0), x.clone());
        check(|x| x.div_scalar(4.0), x.clone());
        check(|x| x.pow_scalar(3.0), x.clone());
        check(|x| x.pow_scalar(0.5), positive());
        check(|x| x.scalar_pow(2.0), x.clone());
        check(|x| x.clamp(-0.5, 0.5), x.clone());
    }

    #[test]
    fn scalar_ops_are_recorded_under_their_own_names() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0], &[2])
            .unwrap()
            .requires_grad_();
        let y = x.sub_scalar(0.5).unwrap().add_scalar(3.0).unwrap();
        let ops: Vec<&str> = y.graph().unwrap().iter().map(|n| n.op).collect();
        assert_eq!(ops, ["sub_scalar", "add_scalar"]);
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![3.5, 4.5]);
    }

    #[test]
    fn gradcheck_on_a_transposed_view() {
        let x = Tensor::randn(&[3, 4]);
        check(|x| x.transpose(0, 1)?.exp()?.mul_scalar(2.0), x);
    }

    #[test]
    fn values() {
        let x = Tensor::from_vec(vec![-1.5f64, 0.0, 4.0], &[3]).unwrap();
        assert_eq!(
            x.abs().unwrap().to_vec::<f64>().unwrap(),
            vec![1.5, 0.0, 4.0]
        );
        assert_eq!(
            x.sign().unwrap().to_vec::<f64>().unwrap(),
            vec![-1.0, 0.0, 1.0]
        );
        assert_eq!(
            x.clamp(-1.0, 2.0).unwrap().to_vec::<f64>().unwrap(),
            vec![-1.0, 0.0, 2.0]
        );
        assert!(x.clamp(2.0, 1.0).is_err());
        let i = Tensor::from_vec(vec![1i64], &[1]).unwrap();
        assert!(i
            .exp()
            .unwrap_err()
            .to_string()
            .contains("exp: expected dtype"));
    }
}
