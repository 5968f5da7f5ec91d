//! Max and min over a dimension (the values and the index of each), argmax/argmin (the
//! indices alone), and max/min over all elements. For f32, f64 and i64.
//!
//! Conventions follow PyTorch:
//! - Ties pick the first occurrence, and the gradient of the values flows to that element
//!   only. `max_all`/`min_all` instead spread their gradient evenly over every element equal
//!   to the result (PyTorch's `x.max()`).
//! - NaN propagates: a slice holding a NaN has NaN as its max and its min, and the index of
//!   its first NaN.
//! - Reducing over a dimension of size 0 is an error (there is no extreme of nothing).

use super::reduce::reduced_shape;
use super::{numeric_dispatch, slice_of};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::reduce::{columns, map_rows, rows};
use crate::layout::Dim;
use crate::storage::StorageData;
use crate::{Element, Error, Result, Tensor};

#[inline(always)]
fn is_nan<T: PartialOrd>(v: &T) -> bool {
    v.partial_cmp(v).is_none()
}

/// The value and index of the first maximum (`MAX`) or minimum of a non-empty row; the
/// first NaN wins outright.
fn extreme<T: Element, const MAX: bool>(row: &[T]) -> (T, i64) {
    let (mut best, mut at) = (row[0], 0);
    if is_nan(&best) {
        return (best, 0);
    }
    for (i, &v) in row.iter().enumerate().skip(1) {
        let better = if MAX { v > best } else { v < best };
        if better {
            best = v;
            at = i;
        } else if is_nan(&v) {
            return (v, i as i64);
        }
    }
    (best, at as i64)
}

/// [`extreme`] for every column of contiguous `[outer, n, inner]` data (see `columns`),
/// walking the rows in memory order.
fn extreme_columns<T: Element, const MAX: bool>(
    data: &[T],
    (outer, n, inner): (usize, usize, usize),
) -> (Vec<T>, Vec<i64>) {
    let (mut values, mut indices) = (Vec::with_capacity(outer * inner), vec![0i64; outer * inner]);
    for (block, idx) in data
        .chunks_exact(n * inner)
        .zip(indices.chunks_exact_mut(inner))
    {
        let start = values.len();
        values.extend_from_slice(&block[..inner]);
        let best = &mut values[start..];
        for (r, row) in block.chunks_exact(inner).enumerate().skip(1) {
            for ((b, i), &v) in best.iter_mut().zip(idx.iter_mut()).zip(row) {
                let better = if MAX { v > *b } else { v < *b };
                // The first NaN wins and then stays (nothing compares better than NaN).
                if better || (is_nan(&v) && !is_nan(b)) {
                    *b = v;
                    *i = r as i64;
                }
            }
        }
    }
    (values, indices)
}

fn check_nonempty(x: &Tensor, dim: usize, op: &'static str) -> Result<()> {
    if x.shape()[dim] == 0 {
        return Err(Error::shape(
            op,
            x.shape(),
            format!("cannot reduce over dimension {dim}, which has size 0"),
        ));
    }
    Ok(())
}

/// Values and i64 indices of the extremes along `dim`, with `dim` kept as size 1.
fn extreme_kernel<const MAX: bool>(
    x: &Tensor,
    dim: usize,
    op: &'static str,
) -> Result<(Tensor, Tensor)> {
    let keep_shape = reduced_shape(x.shape(), &[dim], true);
    let outer: usize = keep_shape.iter().product();
    numeric_dispatch!(x.dtype(), op, T => {
        let data = x.storage_read();
        let src = slice_of::<T>(&data, op)?;
        if let Some((r, dims)) = columns(x.layout(), &[dim]) {
            let (values, indices) = extreme_columns::<T, MAX>(&src[r], dims);
            return Ok((
                Tensor::from_data(T::into_storage(values), &keep_shape),
                Tensor::from_data(StorageData::I64(indices), &keep_shape),
            ));
        }
        let (buf, inner) = rows(src, x.layout(), &[dim]);
        let (values, indices): (Vec<T>, Vec<i64>) =
            map_rows(&buf, outer, inner, extreme::<T, MAX>).into_iter().unzip();
        Ok((
            Tensor::from_data(T::into_storage(values), &keep_shape),
            Tensor::from_data(StorageData::I64(indices), &keep_shape),
        ))
    })
}

/// The gradient of the values goes to the selected elements: a scatter into zeros.
struct ExtremeBackward {
    name: &'static str,
    dim: usize,
    /// The selected indices with `dim` kept as size 1.
    indices: Tensor,
}

impl BackwardOp for ExtremeBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let g = grad.reshape(self.indices.shape())?;
        let zeros = Tensor::zeros_dtype(inputs[0].shape(), grad.dtype());
        Ok(vec![Some(zeros.scatter_add(
            self.dim,
            &self.indices,
            &g,
        )?)])
    }
}

/// The gradient of `max_all`/`min_all`, shared evenly by all elements equal to the result.
struct AllExtremeBackward {
    name: &'static str,
    value: Tensor,
}

impl BackwardOp for AllExtremeBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let mask = if self.value.item()?.is_nan() {
            x.ne(x)? // the NaNs
        } else {
            x.eq(&self.value)?
        };
        let mask = mask.to_dtype(x.dtype());
        let share = grad.div(&mask.sum_all()?)?;
        Ok(vec![Some(mask.mul(&share)?)])
    }
}

fn extreme_along<const MAX: bool, D: Dim>(
    x: &Tensor,
    dim: D,
    keepdim: bool,
    op: &'static str,
) -> Result<(Tensor, Tensor)> {
    let d = dim.resolve(x.ndim(), op)?;
    check_nonempty(x, d, op)?;
    let (values, indices) = extreme_kernel::<MAX>(x, d, op)?;
    let out_shape = reduced_shape(x.shape(), &[d], keepdim);
    let out_values = values.reshape(&out_shape)?;
    let out_indices = indices.reshape(&out_shape)?;
    if !needs_grad(&[x]) {
        return Ok((out_values, out_indices));
    }
    let backward = ExtremeBackward {
        name: op,
        dim: d,
        indices,
    };
    Ok((out_values.record(&[x], backward), out_indices))
}

fn extreme_all<const MAX: bool>(x: &Tensor, op: &'static str) -> Result<Tensor> {
    if x.numel() == 0 {
        return Err(Error::shape(
            op,
            x.shape(),
            "cannot reduce a tensor without elements",
        ));
    }
    let flat = x.detach().reshape(&[x.numel()])?;
    let (value, _) = extreme_kernel::<MAX>(&flat, 0, op)?;
    let value = value.reshape(&[])?;
    if !needs_grad(&[x]) {
        return Ok(value);
    }
    let saved = value.detach();
    Ok(value.record(
        &[x],
        AllExtremeBackward {
            name: op,
            value: saved,
        },
    ))
}

impl Tensor {
    /// The maximum along `dim` and the (i64) index of its first occurrence, like
    /// `torch.max(x, dim, keepdim)`. The gradient of the values flows to those indices.
    /// NaN counts as the maximum. A dimension of size 0 is an error.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 5.0, 5.0, 7.0, 2.0, 0.0], &[2, 3])?;
    /// let (values, indices) = x.max(1, false)?;
    /// assert_eq!(values.to_vec::<f32>()?, vec![5.0, 7.0]);
    /// assert_eq!(indices.to_vec::<i64>()?, vec![1, 0]);
    /// assert_eq!(x.max(0, true)?.0.shape(), &[1, 3]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn max<D: Dim>(&self, dim: D, keepdim: bool) -> Result<(Tensor, Tensor)> {
        extreme_along::<true, D>(self, dim, keepdim, "max")
    }

    /// The minimum along `dim` and the index of its first occurrence (see [`Tensor::max`]).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![3i64, 1, 1, 2], &[4])?;
    /// let (v, i) = x.min(0, false)?;
    /// assert_eq!((v.to_scalar::<i64>()?, i.to_scalar::<i64>()?), (1, 1));
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn min<D: Dim>(&self, dim: D, keepdim: bool) -> Result<(Tensor, Tensor)> {
        extreme_along::<false, D>(self, dim, keepdim, "min")
    }

    /// The (i64) index of the first maximum along `dim` (NaN counts as the maximum).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let logits = Tensor::from_vec(vec![0.1f32, 2.0, -1.0, 3.0, 0.0, 3.0], &[2, 3])?;
    /// assert_eq!(logits.argmax(-1, false)?.to_vec::<i64>()?, vec![1, 0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn argmax<D: Dim>(&self, dim: D, keepdim: bool) -> Result<Tensor> {
        let d = dim.resolve(self.ndim(), "argmax")?;
        check_nonempty(self, d, "argmax")?;
        let (_, indices) = extreme_kernel::<true>(self, d, "argmax")?;
        indices.reshape(&reduced_shape(self.shape(), &[d], keepdim))
    }

    /// The (i64) index of the first minimum along `dim` (NaN counts as the minimum).
    pub fn argmin<D: Dim>(&self, dim: D, keepdim: bool) -> Result<Tensor> {
        let d = dim.resolve(self.ndim(), "argmin")?;
        check_nonempty(self, d, "argmin")?;
        let (_, indices) = extreme_kernel::<false>(self, d, "argmin")?;
        indices.reshape(&reduced_shape(self.shape(), &[d], keepdim))
    }

    /// The largest element, as a 0-dimensional tensor (NaN if any element is NaN). Its
    /// gradient is shared evenly by all elements equal to it. Errors on an empty tensor.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 4.0, 4.0], &[3])?.requires_grad_();
    /// let m = x.max_all()?;
    /// assert_eq!(m.item()?, 4.0);
    /// let g = m.backward()?;
    /// assert_eq!(g.get(&x).unwrap().to_vec::<f32>()?, vec![0.0, 0.5, 0.5]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn max_all(&self) -> Result<Tensor> {
        extreme_all::<true>(self, "max")
    }

    /// The smallest element, as a 0-dimensional tensor (see [`Tensor::max_all`]).
    pub fn min_all(&self) -> Result<Tensor> {
        extreme_all::<false>(self, "min")
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, DType, Error, GradcheckOptions, Tensor};

    fn t64(v: &[f64], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape).unwrap()
    }

    #[test]
    fn max_min_along_each_dim_match_a_naive_scan() {
        let x = Tensor::randn(&[3, 4, 5]).to_dtype(DType::F64);
        let v = x.to_vec::<f64>().unwrap();
        let at = |i: usize, j: usize, k: usize| v[i * 20 + j * 5 + k];
        for dim in 0..3 {
            let (mx, imx) = x.max(dim, false).unwrap();
            let (mn, imn) = x.min(dim as i64 - 3, true).unwrap();
            let (mx, imx) = (mx.to_vec::<f64>().unwrap(), imx.to_vec::<i64>().unwrap());
            let (mn, imn) = (mn.to_vec::<f64>().unwrap(), imn.to_vec::<i64>().unwrap());
            let sizes = [3, 4, 5];
            let mut out = 0;
            for a in 0..3 {
                for b in 0..4 {
                    for c in 0..5 {
                        let idx = [a, b, c];
                        if idx[dim] != 0 {
                            continue;
                        }
                        let vals: Vec<f64> = (0..sizes[dim])
                            .map(|r| {
                                let mut p = idx;
                                p[dim] = r;
                                at(p[0], p[1], p[2])
                            })
                            .collect();
                        let (bi, bv) =
                            vals.iter().enumerate().fold((0, vals[0]), |acc, (i, &w)| {
                                if w > acc.1 {
                                    (i, w)
                                } else {
                                    acc
                                }
                            });
                        let (si, sv) =
                            vals.iter().enumerate().fold((0, vals[0]), |acc, (i, &w)| {
                                if w < acc.1 {
                                    (i, w)
                                } else {
                                    acc
                                }
                            });
                        assert_eq!((mx[out], imx[out]), (bv, bi as i64));
                        assert_eq!((mn[out], imn[out]), (sv, si as i64));
                        out += 1;
                    }
                }
            }
        }
        assert_eq!(x.max(1, true).unwrap().0.shape(), &[3, 1, 5]);
        assert_eq!(x.argmin(2, false).unwrap().shape(), &[3, 4]);
    }

    #[test]
    fn ties_nan_and_integers() {
        let x = t64(&[2.0, 7.0, 7.0, 1.0, 1.0, 0.0], &[2, 3]);
        assert_eq!(
            x.argmax(1, false).unwrap().to_vec::<i64>().unwrap(),
            vec![1, 0]
        );
        assert_eq!(
            x.argmin(1, false).unwrap().to_vec::<i64>().unwrap(),
            vec![0, 2]
        );
        let n = t64(&[1.0, f64::NAN, 3.0, f64::NAN], &[4]);
        let (v, i) = n.max(0, false).unwrap();
        assert!(v.item().unwrap().is_nan());
        assert_eq!(i.item().unwrap(), 1.0);
        assert!(n.min_all().unwrap().item().unwrap().is_nan());
        assert_eq!(n.argmin(0, false).unwrap().item().unwrap(), 1.0);
        let ints = Tensor::from_vec(vec![4i64, -9, 4, 12], &[2, 2]).unwrap();
        let (v, i) = ints.max(0, false).unwrap();
        assert_eq!(v.to_vec::<i64>().unwrap(), vec![4, 12]);
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![0, 1]);
        assert_eq!(ints.min_all().unwrap().to_scalar::<i64>().unwrap(), -9);
        // The column path (reducing a leading dim of contiguous data): NaN and ties too.
        let c = t64(&[1.0, 9.0, f64::NAN, 5.0, 3.0, 2.0, 3.0, 9.0], &[4, 2]);
        let (v, i) = c.max(0, false).unwrap();
        assert!(v.to_vec::<f64>().unwrap()[0].is_nan());
        assert_eq!(v.to_vec::<f64>().unwrap()[1], 9.0);
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![1, 0]);
        assert_eq!(
            c.argmin(0, false).unwrap().to_vec::<i64>().unwrap(),
            vec![1, 2]
        );
        let d = t64(&[4.0, 2.0, 4.0, 2.0], &[2, 2]);
        assert_eq!(
            d.argmax(0, false).unwrap().to_vec::<i64>().unwrap(),
            vec![0, 0]
        );
        assert_eq!(
            d.argmin(0, false).unwrap().to_vec::<i64>().unwrap(),
            vec![0, 0]
        );
        // On a transposed view.
        let tv = x.transpose(0, 1).unwrap(); // [[2,1],[7,1],[7,0]]
        assert_eq!(
            tv.argmax(0, false).unwrap().to_vec::<i64>().unwrap(),
            vec![1, 0]
        );
    }

    #[test]
    fn gradient_goes_to_the_first_tie_and_max_all_shares_it() {
        let x = t64(&[3.0, 3.0, 1.0, 0.0, 5.0, 5.0], &[2, 3]).requires_grad_();
        let g = x
            .max(1, false)
            .unwrap()
            .0
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(
            g.get(&x).unwrap().to_vec::<f64>().unwrap(),
            vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        );
        let g = x.min_all().unwrap().backward().unwrap();
        assert_eq!(
            g.get(&x).unwrap().to_vec::<f64>().unwrap(),
            vec![0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
        );
        let g = x
            .max_all()
            .unwrap()
            .mul_scalar(4.0)
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(
            g.get(&x).unwrap().to_vec::<f64>().unwrap(),
            vec![0.0, 0.0, 0.0, 0.0, 2.0, 2.0]
        );
    }

    #[test]
    fn gradchecks() {
        let opts = GradcheckOptions::default();
        let x = Tensor::randn(&[3, 4, 5]);
        gradcheck(|t| t[0].max(1, false).map(|r| r.0), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].min(-1, true).map(|r| r.0), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].max_all(), &[x.clone()], opts).unwrap();
        gradcheck(|t| t[0].min_all(), &[x.clone()], opts).unwrap();
        gradcheck(
            |t| t[0].permute(&[2, 0, 1])?.max(0, false).map(|r| r.0),
            &[x],
            opts,
        )
        .unwrap();
    }

    #[test]
    fn empty_and_wrong_dtype_are_errors() {
        let e = Tensor::zeros(&[2, 0]);
        assert!(matches!(
            e.max(1, false),
            Err(Error::Shape { op: "max", .. })
        ));
        assert!(matches!(e.argmin(1, false), Err(Error::Shape { .. })));
        assert!(matches!(e.max_all(), Err(Error::Shape { .. })));
        // Reducing a non-empty dim of an empty tensor is fine: the result is empty.
        assert_eq!(
            e.transpose(0, 1).unwrap().max(1, false).unwrap().0.shape(),
            &[0]
        );
        assert_eq!(e.argmax(0, true).unwrap().shape(), &[1, 0]);
        let b = Tensor::from_vec(vec![true], &[1]).unwrap();
        assert!(matches!(b.max(0, false), Err(Error::DType { .. })));
        assert!(matches!(
            Tensor::zeros(&[2]).max(1, false),
            Err(Error::DimOutOfRange { .. })
        ));
        assert_eq!(
            Tensor::scalar(2.5f32).max_all().unwrap().item().unwrap(),
            2.5
        );
    }
}
