//! Numerical gradient checking: analytic gradients against central finite differences.

use crate::{no_grad, DType, Error, Generator, Result, Tensor};

/// Tolerances of [`gradcheck`].
#[derive(Clone, Copy, Debug)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance (times |numeric|).
    pub rtol: f64,
    /// Seed of the random projection of the output.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
            seed: 0,
        }
    }
}

/// Checks the analytic gradients of `f` at `inputs` against central finite differences,
/// in f64.
///
/// Every floating-point input is converted to a contiguous f64 leaf; integer and bool inputs
/// (indices, masks) are passed through unchanged and not differentiated. The output is
/// reduced to a scalar by a fixed random projection `L = sum(f(x) * r)`, so every element of
/// the Jacobian contributes. Returns the first disagreeing element as
/// [`Error::Gradcheck`].
///
/// ```
/// use strata_core::{gradcheck, GradcheckOptions, Tensor};
/// let x = Tensor::randn(&[3, 4]);
/// let w = Tensor::randn(&[4, 2]);
/// gradcheck(|t| t[0].matmul(&t[1])?.tanh(), &[x, w], GradcheckOptions::default())?;
/// # Ok::<(), strata_core::Error>(())
/// ```
pub fn gradcheck<F>(f: F, inputs: &[Tensor], options: GradcheckOptions) -> Result<()>
where
    F: Fn(&[Tensor]) -> Result<Tensor>,
{
    let xs: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            if t.dtype().is_float() {
                Tensor::from_vec(t.to_dtype(DType::F64).to_vec::<f64>()?, t.shape())
                    .map(|x| x.requires_grad_())
            } else {
                Ok(t.clone())
            }
        })
        .collect::<Result<_>>()?;

    let out = f(&xs)?;
    if out.dtype() != DType::F64 {
        return Err(Error::dtype(
            "gradcheck",
            "f64 output (f64 inputs should give f64 outputs)",
            out.dtype(),
        ));
    }
    let mut rng = Generator::new(options.seed);
    let r = Tensor::randn_with(&mut rng, out.shape(), DType::F64);
    let project = |o: &Tensor| -> Result<f64> { o.mul(&r)?.sum_all()?.item() };
    if !out.requires_grad() {
        return Err(Error::Backward(
            "gradcheck: the output does not depend on any floating-point input".into(),
        ));
    }
    let grads = out.mul(&r)?.sum_all()?.backward()?;

    for (i, x) in xs.iter().enumerate() {
        if !x.dtype().is_float() {
            continue;
        }
        let analytic = match grads.get(x) {
            Some(g) => g.to_vec::<f64>()?,
            None => vec![0.0; x.numel()],
        };
        let base = x.to_vec::<f64>()?;
        for j in 0..base.len() {
            let eval = |delta: f64| -> Result<f64> {
                let mut v = base.clone();
                v[j] += delta;
                let mut args = xs.clone();
                args[i] = Tensor::from_vec(v, x.shape())?;
                no_grad(|| project(&f(&args)?))
            };
            let numeric = (eval(options.eps)? - eval(-options.eps)?) / (2.0 * options.eps);
            let diff = (analytic[j] - numeric).abs();
            if diff.is_nan() || diff > options.atol + options.rtol * numeric.abs() {
                return Err(Error::Gradcheck {
                    input: i,
                    index: j,
                    analytic: analytic[j],
                    numeric,
                    diff,
                    atol: options.atol,
                    rtol: options.rtol,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BackwardOp, Tensor};

    /// An op with a deliberately wrong backward: gradcheck must catch it.
    struct WrongSquare;
    impl BackwardOp for WrongSquare {
        fn name(&self) -> &'static str {
            "wrong_square"
        }
        fn backward(&self, g: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
            // d(x^2)/dx is 2x; this says 3x.
            Ok(vec![Some(g.mul(&inputs[0].mul_scalar(3.0)?)?)])
        }
    }

    #[test]
    fn gradcheck_rejects_a_wrong_backward() {
        let x = Tensor::randn(&[5]);
        let err = gradcheck(
            |t| Ok(no_grad(|| t[0].mul(&t[0]))?.record(&[&t[0]], WrongSquare)),
            &[x],
            GradcheckOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, Error::Gradcheck { input: 0, .. }), "{err}");
    }

    #[test]
    fn gradcheck_accepts_a_right_backward() {
        let x = Tensor::randn(&[5]);
        gradcheck(|t| t[0].mul(&t[0]), &[x], GradcheckOptions::default()).unwrap();
    }
}
