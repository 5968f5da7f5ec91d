//! Reductions: sum and mean over all or given dims (with `keepdim`), and `sum_to_shape`,
//! the reduction that undoes broadcasting in backward passes. The other reductions have
//! their own files: `variance.rs` (var, std), `reduce_extrema.rs` (max, min and their
//! indices) and `softmax.rs` (logsumexp).

use super::{float_dispatch, slice_of};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::map3;
use crate::kernels::reduce::{map_rows, rows, sum_columns, sum_slice, sum_slice_par};
use crate::layout::{resolve_dims, Dim};
use crate::{Error, FloatElement, Result, Tensor};

/// The output shape of a reduction over `dims`.
pub(crate) fn reduced_shape(shape: &[usize], dims: &[usize], keepdim: bool) -> Vec<usize> {
    let mut out = Vec::with_capacity(shape.len());
    for (d, &s) in shape.iter().enumerate() {
        if !dims.contains(&d) {
            out.push(s);
        } else if keepdim {
            out.push(1);
        }
    }
    out
}

/// `dims` resolved and sorted; an empty list means all dims.
pub(crate) fn reduction_dims<D: Dim>(
    x: &Tensor,
    dims: &[D],
    op: &'static str,
) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..x.ndim()).collect());
    }
    let mut d = resolve_dims(dims, x.ndim(), op)?;
    d.sort_unstable();
    Ok(d)
}

/// Sum over the sorted `dims`, keeping them as size 1 (the caller reshapes).
fn sum_kernel(x: &Tensor, dims: &[usize]) -> Result<Tensor> {
    let keep_shape = reduced_shape(x.shape(), dims, true);
    Ok(float_dispatch!(x.dtype(), "sum", T => {
        let data = x.storage_read();
        let src = slice_of::<T>(&data, "sum")?;
        let l = x.layout();
        let leading = dims.iter().enumerate().all(|(i, &d)| i == d);
        let v = match l.contiguous_range() {
            // Reducing leading dims of contiguous data: accumulate rows, no transposing copy.
            Some(r) if leading && dims.len() < x.ndim() => {
                let inner: usize = x.shape()[dims.len()..].iter().product();
                sum_columns(&src[r], inner)
            }
            _ => {
                let outer: usize = keep_shape.iter().product();
                let (buf, inner) = rows(src, l, dims);
                if outer == 1 {
                    vec![sum_slice_par::<T>(&buf)]
                } else {
                    map_rows(&buf, outer, inner, sum_slice::<T>)
                }
            }
        };
        Tensor::from_data(T::into_storage(v), &keep_shape)
    }))
}

struct SumBackward {
    /// Shape of the output with the reduced dims kept as 1.
    keep_shape: Vec<usize>,
    /// 1 for sum, 1/count for mean.
    scale: f64,
    name: &'static str,
}

impl BackwardOp for SumBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let g = grad.reshape(&self.keep_shape)?;
        let g = if self.scale != 1.0 {
            g.mul_scalar(self.scale)?
        } else {
            g
        };
        Ok(vec![Some(g.expand(inputs[0].shape())?.contiguous())])
    }
}

fn sum_impl(
    x: &Tensor,
    dims: &[usize],
    keepdim: bool,
    scale: f64,
    name: &'static str,
) -> Result<Tensor> {
    let kept = sum_kernel(x, dims)?;
    let kept = if scale != 1.0 {
        crate::no_grad(|| kept.mul_scalar(scale))?
    } else {
        kept
    };
    let out_shape = reduced_shape(x.shape(), dims, keepdim);
    let keep_shape = kept.shape().to_vec();
    let out = kept.detach().reshape(&out_shape)?.detach();
    if !needs_grad(&[x]) {
        return Ok(out);
    }
    Ok(out.record(
        &[x],
        SumBackward {
            keep_shape,
            scale,
            name,
        },
    ))
}

impl Tensor {
    /// Sum of all elements, as a 0-dimensional tensor.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.sum_all()?.item()?, 10.0);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn sum_all(&self) -> Result<Tensor> {
        let dims: Vec<usize> = (0..self.ndim()).collect();
        sum_impl(self, &dims, false, 1.0, "sum")
    }

    /// Sum over `dims` (an empty list sums everything); `keepdim` keeps them as size 1.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.sum(&[0], false)?.to_vec::<f32>()?, vec![4.0, 6.0]);
    /// assert_eq!(t.sum(&[-1], true)?.shape(), &[2, 1]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn sum<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Tensor> {
        let dims = reduction_dims(self, dims, "sum")?;
        sum_impl(self, &dims, keepdim, 1.0, "sum")
    }

    /// Mean of all elements, as a 0-dimensional tensor.
    pub fn mean_all(&self) -> Result<Tensor> {
        let dims: Vec<usize> = (0..self.ndim()).collect();
        self.mean_impl(&dims, false)
    }

    /// Mean over `dims` (an empty list means all); `keepdim` keeps them as size 1.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// assert_eq!(t.mean(&[1], false)?.to_vec::<f32>()?, vec![1.5, 3.5]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn mean<D: Dim>(&self, dims: &[D], keepdim: bool) -> Result<Tensor> {
        let dims = reduction_dims(self, dims, "mean")?;
        self.mean_impl(&dims, keepdim)
    }

    fn mean_impl(&self, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        let count: usize = dims.iter().map(|&d| self.shape()[d]).product();
        if count == 0 {
            return Err(Error::shape(
                "mean",
                self.shape(),
                "cannot take the mean over an empty dimension",
            ));
        }
        sum_impl(self, dims, keepdim, 1.0 / count as f64, "mean")
    }

    /// Sums a broadcast result back to `shape` (the inverse of broadcasting, used by
    /// backward rules): leading extra dims and dims where `shape` has 1 are summed away.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let g = Tensor::ones(&[4, 2, 3]);
    /// assert_eq!(g.sum_to_shape(&[2, 1])?.to_vec::<f32>()?, vec![12.0, 12.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn sum_to_shape(&self, shape: &[usize]) -> Result<Tensor> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let nd = self.ndim();
        if shape.len() > nd {
            return Err(Error::mismatch(
                "sum_to_shape",
                self.shape(),
                shape,
                ": the target has more dimensions",
            ));
        }
        let lead = nd - shape.len();
        let mut dims: Vec<usize> = (0..lead).collect();
        for (i, &s) in shape.iter().enumerate() {
            let own = self.shape()[lead + i];
            if s == 1 && own != 1 {
                dims.push(lead + i);
            } else if s != own {
                return Err(Error::mismatch(
                    "sum_to_shape",
                    self.shape(),
                    shape,
                    format!(
                        ": dimension {} is {own}, which does not broadcast from {s}",
                        lead + i
                    ),
                ));
            }
        }
        if dims.is_empty() {
            return self.reshape(shape);
        }
        self.sum(&dims, true)?.reshape(shape)
    }
}

/// `f(x, a, b)` elementwise over `x`, where `a` and `b` have the shape of `x` with the
/// reduced dims kept as 1 (they broadcast): the one-pass backward of var and logsumexp.
pub(crate) fn map_with_kept<T: FloatElement>(
    x: &Tensor,
    a: &Tensor,
    b: &Tensor,
    op: &'static str,
    f: impl Fn(T, T, T) -> T + Sync + Clone,
) -> Result<Tensor> {
    let shape = x.shape();
    let sa = a.layout().broadcast_strides(op, shape)?;
    let sb = b.layout().broadcast_strides(op, shape)?;
    let (dx, da, db) = (x.storage_read(), a.storage_read(), b.storage_read());
    let xl = x.layout();
    let v = map3(
        (slice_of::<T>(&dx, op)?, xl.strides(), xl.offset()),
        (slice_of::<T>(&da, op)?, &sa, a.layout().offset()),
        (slice_of::<T>(&db, op)?, &sb, b.layout().offset()),
        shape,
        f,
    );
    Ok(Tensor::from_data(T::into_storage(v), shape))
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    #[test]
    fn sum_and_mean_gradchecks() {
        let x = Tensor::randn(&[3, 4, 5]);
        let opts = GradcheckOptions::default();
        gradcheck(|t| t[0].sum_all(), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].sum(&[1], false), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].sum(&[0, 2], true), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].mean(&[-1], false), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].mean_all(), &[x.clone()], opts).unwrap();
        gradcheck(
            |t| t[0].transpose(0, 2)?.sum(&[0], false),
            &[x.clone()],
            opts,
        )
        .unwrap();
        gradcheck(|t| t[0].sum_to_shape(&[4, 1]), &[x], opts).unwrap();
    }

    #[test]
    fn sum_values_over_each_dim() {
        let x = Tensor::arange(0.0, 24.0, 1.0)
            .unwrap()
            .reshape(&[2, 3, 4])
            .unwrap();
        let naive = |keep: &dyn Fn(usize, usize, usize) -> usize, n: usize| {
            let mut out = vec![0.0f32; n];
            for i in 0..2 {
                for j in 0..3 {
                    for k in 0..4 {
                        out[keep(i, j, k)] += (i * 12 + j * 4 + k) as f32;
                    }
                }
            }
            out
        };
        assert_eq!(
            x.sum(&[0], false).unwrap().to_vec::<f32>().unwrap(),
            naive(&|_, j, k| j * 4 + k, 12)
        );
        assert_eq!(
            x.sum(&[1], false).unwrap().to_vec::<f32>().unwrap(),
            naive(&|i, _, k| i * 4 + k, 8)
        );
        assert_eq!(
            x.sum(&[2], false).unwrap().to_vec::<f32>().unwrap(),
            naive(&|i, j, _| i * 3 + j, 6)
        );
        assert_eq!(
            x.sum(&[0, 2], false).unwrap().to_vec::<f32>().unwrap(),
            naive(&|_, j, _| j, 3)
        );
        assert_eq!(x.sum_all().unwrap().item().unwrap(), 276.0);
        assert!(x.sum(&[3], false).is_err());
        assert!(x.sum(&[1, 1], false).is_err());
    }

    #[test]
    fn long_f32_sum_is_accurate() {
        let x = Tensor::full(&[1_000_000], 0.1, crate::DType::F32);
        let s = x.sum_all().unwrap().item().unwrap();
        assert!((s - 100_000.0).abs() < 1.0, "{s}");
    }
    #[test]
    fn sums_over_empty_dims_are_zero() {
        let e = Tensor::zeros(&[3, 0]);
        assert_eq!(
            e.sum(&[1], false).unwrap().to_vec::<f32>().unwrap(),
            vec![0.0; 3]
        );
        assert_eq!(e.sum(&[0], false).unwrap().shape(), &[0]);
        assert_eq!(e.sum_all().unwrap().item().unwrap(), 0.0);
    }
}
