//! `gather` and `scatter_add`: one index per element along a dimension; each is the
//! other's backward.

use super::*;

/// `out[i...] = src[i..., index[i...], ...]` with the index walked in row-major order.
fn gather_kernel<T: Copy + Default>(
    src: &[T],
    sl: &Layout,
    dim: usize,
    idx: &[i64],
    il: &Layout,
) -> Result<Vec<T>> {
    let (size, step) = (sl.shape()[dim], sl.strides()[dim]);
    // The indexed dim moves by the index value, not by the walk.
    let mut s_strides = sl.strides().to_vec();
    s_strides[dim] = 0;
    let walk = Walk::<2>::new(
        il.shape(),
        [il.strides(), &s_strides],
        [il.offset(), sl.offset()],
    );
    let [si, ss] = walk.inner_strides;
    let mut out = Vec::with_capacity(il.numel());
    let mut bad = None;
    walk.for_runs(0..walk.runs(), |_, [bi, bs]| {
        for t in 0..walk.inner {
            let i = idx[bi + t * si];
            if i < 0 || i as u64 >= size as u64 {
                bad.get_or_insert(i);
                out.push(T::default());
            } else {
                out.push(src[bs + t * ss + i as usize * step]);
            }
        }
    });
    match bad {
        Some(i) => Err(Error::IndexOutOfRange {
            op: "gather",
            index: i,
            dim,
            size,
        }),
        None => Ok(out),
    }
}

/// `out[i..., index[i...], ...] += src[i...]` for the contiguous `out` of `out_shape`.
fn scatter_add_kernel<T: Copy + AddAssign>(
    out: &mut [T],
    out_shape: &[usize],
    dim: usize,
    (idx, il): (&[i64], &Layout),
    (src, sl): (&[T], &Layout),
) -> Result<()> {
    let mut o_strides = contiguous_strides(out_shape);
    let (size, step) = (out_shape[dim], o_strides[dim]);
    o_strides[dim] = 0;
    let walk = Walk::<3>::new(
        il.shape(),
        [il.strides(), sl.strides(), &o_strides],
        [il.offset(), sl.offset(), 0],
    );
    let [si, ss, so] = walk.inner_strides;
    let mut bad = None;
    walk.for_runs(0..walk.runs(), |_, [bi, bs, bo]| {
        for t in 0..walk.inner {
            let i = idx[bi + t * si];
            if i < 0 || i as u64 >= size as u64 {
                bad.get_or_insert(i);
            } else {
                out[bo + t * so + i as usize * step] += src[bs + t * ss];
            }
        }
    });
    match bad {
        Some(i) => Err(Error::IndexOutOfRange {
            op: "scatter_add",
            index: i,
            dim,
            size,
        }),
        None => Ok(()),
    }
}

/// `g` placed in the leading corner of zeros of `shape` (`g` is no larger in any dim).
fn pad_to(g: Tensor, shape: &[usize]) -> Tensor {
    if g.shape() == shape {
        return g;
    }
    let out = Tensor::zeros_dtype(shape, g.dtype());
    {
        let strides = contiguous_strides(shape);
        let (mut od, gd) = (out.storage().write(), g.storage_read());
        let gl = g.layout();
        with_slice!(&mut *od, dst => {
            if let Some(src) = Element::slice(&gd) {
                assign(dst, (&strides, 0), src, (gl.strides(), gl.offset()), g.shape());
            }
        });
    }
    out
}

struct GatherBackward {
    dim: usize,
}

impl BackwardOp for GatherBackward {
    fn name(&self) -> &'static str {
        "gather"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let (x, index) = (&inputs[0], &inputs[1]);
        let zeros = Tensor::zeros_dtype(x.shape(), grad.dtype());
        Ok(vec![Some(zeros.scatter_add(self.dim, index, grad)?), None])
    }
}

struct ScatterAddBackward {
    dim: usize,
}

impl BackwardOp for ScatterAddBackward {
    fn name(&self) -> &'static str {
        "scatter_add"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let (x, index, src) = (&inputs[0], &inputs[1], &inputs[2]);
        let gx = x.requires_grad().then(|| grad.clone());
        let gsrc = if src.requires_grad() {
            // Only the leading `index`-shaped block of `src` was added; the rest gets zeros.
            Some(pad_to(grad.gather(self.dim, index)?, src.shape()))
        } else {
            None
        };
        Ok(vec![gx, None, gsrc])
    }
}

impl Tensor {
    /// Picks values along `dim` by an `i64` index of the same rank:
    /// `out[i][j][k] = self[i][index[i][j][k]][k]` for `dim = 1`. The output has the index's
    /// shape, which may be smaller than `self` (never larger, except along `dim`). Negative
    /// indices are an error. The backward pass scatter-adds the gradient into zeros.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// let picked = x.gather(1, &Tensor::from_vec(vec![2i64, 0], &[2, 1])?)?;
    /// assert_eq!(picked.to_vec::<f32>()?, vec![3.0, 4.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn gather<D: Dim>(&self, dim: D, index: &Tensor) -> Result<Tensor> {
        const OP: &str = "gather";
        let d = dim.resolve(self.ndim(), OP)?;
        check_index_dtype(OP, index)?;
        check_index_fits(OP, index, self, "self", Some(d))?;
        let data = {
            let (sd, id) = (self.storage_read(), index.storage_read());
            let idx = i64::slice(&id).unwrap_or(&[]);
            with_slice!(&*sd, s => {
                Element::into_storage(gather_kernel(s, self.layout(), d, idx, index.layout())?)
            })
        };
        let out = Tensor::from_data(data, index.shape());
        if !needs_grad(&[self]) {
            return Ok(out);
        }
        Ok(out.record(&[self, index], GatherBackward { dim: d }))
    }

    /// A copy of `self` with `src` added at the positions `index` gives along `dim`
    /// (out of place): `out[i][index[i][j]] += src[i][j]` for `dim = 1`; repeated indices
    /// accumulate. `index` (`i64`) and `src` have the rank of `self`; the index is no larger
    /// than `src` in any dimension, nor than `self` outside `dim`. Negative indices are an
    /// error. Differentiable in `self` (gradient passed through) and `src` (the gradient
    /// gathered at `index`).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let bins = Tensor::zeros(&[3]);
    /// let idx = Tensor::from_vec(vec![0i64, 2, 0], &[3])?;
    /// let out = bins.scatter_add(0, &idx, &Tensor::ones(&[3]))?;
    /// assert_eq!(out.to_vec::<f32>()?, vec![2.0, 0.0, 1.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn scatter_add<D: Dim>(&self, dim: D, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        const OP: &str = "scatter_add";
        let d = dim.resolve(self.ndim(), OP)?;
        check_index_dtype(OP, index)?;
        if src.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch {
                op: OP,
                lhs: self.dtype(),
                rhs: src.dtype(),
            });
        }
        check_index_fits(OP, index, self, "self", Some(d))?;
        check_index_fits(OP, index, src, "src", None)?;
        let data = {
            let (xd, id, sd) = (
                self.storage_read(),
                index.storage_read(),
                src.storage_read(),
            );
            let idx = (i64::slice(&id).unwrap_or(&[]), index.layout());
            numeric_dispatch!(self.dtype(), OP, T => {
                let mut out = collect(T::slice(&xd).unwrap_or(&[]), self.layout());
                let s = (T::slice(&sd).unwrap_or(&[]), src.layout());
                scatter_add_kernel(&mut out, self.shape(), d, idx, s)?;
                T::into_storage(out)
            })
        };
        let out = Tensor::from_data(data, self.shape());
        if !needs_grad(&[self, src]) {
            return Ok(out);
        }
        Ok(out.record(&[self, index, src], ScatterAddBackward { dim: d }))
    }
}
