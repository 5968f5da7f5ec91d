//! Indexing with tensors of indices: `index_select`, `gather`, `scatter_add` and `one_hot`.
//!
//! Indices are `i64` tensors (anything else is an [`Error::DType`]). Every index is
//! bounds-checked, and a negative index is an error in all four ops (no wrapping from the
//! back): [`Error::IndexOutOfRange`] names the op, the index, the dimension and its size.
//! The backward rules pair up: `index_select` and `gather` scatter-add their gradient back,
//! `scatter_add` gathers it.

use super::{around, numeric_dispatch};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::{assign, collect};
use crate::kernels::parallel::{for_each_item, for_each_run_mut, num_threads, PAR_MIN_ELEMS};
use crate::kernels::walk::Walk;
use crate::layout::{contiguous_strides, Dim, Layout};
use crate::storage::{with_slice, StorageData};
use crate::{DType, Element, Error, Result, Tensor};
use std::ops::AddAssign;

fn check_index_dtype(op: &'static str, index: &Tensor) -> Result<()> {
    if index.dtype() != DType::I64 {
        return Err(Error::dtype(op, "i64 indices", index.dtype()));
    }
    Ok(())
}

/// `i` as a position in `0..size`, or the error naming the op, index, dim and size.
#[inline]
fn checked(op: &'static str, i: i64, dim: usize, size: usize) -> Result<usize> {
    if i < 0 || i as u64 >= size as u64 {
        return Err(Error::IndexOutOfRange {
            op,
            index: i,
            dim,
            size,
        });
    }
    Ok(i as usize)
}

/// `gather` and `scatter_add` need an index with the rank of `other` and no larger size in
/// any dimension (except `skip`, the indexed dimension of `self`).
fn check_index_fits(
    op: &'static str,
    index: &Tensor,
    other: &Tensor,
    what: &str,
    skip: Option<usize>,
) -> Result<()> {
    if index.ndim() != other.ndim() {
        return Err(Error::mismatch(
            op,
            index.shape(),
            other.shape(),
            format!(
                ": the index has {} dimension(s) but {what} has {}; they must be equal",
                index.ndim(),
                other.ndim()
            ),
        ));
    }
    for (d, (&i, &s)) in index.shape().iter().zip(other.shape()).enumerate() {
        if i > s && Some(d) != skip {
            return Err(Error::mismatch(
                op,
                index.shape(),
                other.shape(),
                format!(
                    ": the index (first shape) is larger than {what} in dimension {d} ({i} > {s})"
                ),
            ));
        }
    }
    Ok(())
}

/// Rows `idx` of the contiguous `[outer, size, inner]` source, as `[outer, idx.len(), inner]`.
fn select_rows<T: Copy + Default + Send + Sync>(
    src: &[T],
    idx: &[usize],
    (outer, size, inner): (usize, usize, usize),
) -> Vec<T> {
    let k = idx.len();
    let mut out = vec![T::default(); outer * k * inner];
    if out.is_empty() {
        return out;
    }
    let fill = |(r, row): (usize, &mut [T])| {
        let start = ((r / k) * size + idx[r % k]) * inner;
        row.copy_from_slice(&src[start..start + inner]);
    };
    if out.len() >= PAR_MIN_ELEMS && num_threads() > 1 {
        for_each_run_mut(&mut out, inner, |first, run| {
            for (j, row) in run.chunks_mut(inner).enumerate() {
                fill((first + j, row));
            }
        });
    } else {
        out.chunks_mut(inner).enumerate().for_each(fill);
    }
    out
}

/// Adds the rows of the contiguous `[outer, idx.len(), inner]` gradient into rows `idx` of
/// the contiguous `[outer, size, inner]` buffer `out` (repeated indices accumulate).
fn add_rows<T: Copy + AddAssign + Send + Sync>(
    out: &mut [T],
    grad: &[T],
    idx: &[usize],
    (outer, size, inner): (usize, usize, usize),
) {
    let k = idx.len();
    if out.is_empty() || grad.is_empty() {
        return;
    }
    let block = |(o, g): (&mut [T], &[T])| {
        for (j, &i) in idx.iter().enumerate() {
            let dst = &mut o[i * inner..(i + 1) * inner];
            for (d, &v) in dst.iter_mut().zip(&g[j * inner..(j + 1) * inner]) {
                *d += v;
            }
        }
    };
    // Blocks of different `outer` positions are independent; within one, repeated indices
    // hit the same row, so it stays on one thread.
    if outer > 1 && grad.len() >= PAR_MIN_ELEMS && num_threads() > 1 {
        // Runs of whole blocks, a few per thread.
        let per = outer.div_ceil(4 * num_threads()).max(1);
        let runs: Vec<(&mut [T], &[T])> = out
            .chunks_mut(per * size * inner)
            .zip(grad.chunks(per * k * inner))
            .collect();
        for_each_item(runs, |(o, g)| {
            o.chunks_mut(size * inner)
                .zip(g.chunks(k * inner))
                .for_each(&block)
        });
    } else {
        out.chunks_mut(size * inner)
            .zip(grad.chunks(k * inner))
            .for_each(block);
    }
}

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

struct IndexSelectBackward {
    dim: usize,
    indices: Vec<usize>,
}

impl BackwardOp for IndexSelectBackward {
    fn name(&self) -> &'static str {
        "index_select"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let shape = inputs[0].shape();
        let g = grad.contiguous();
        let out = Tensor::zeros_dtype(shape, g.dtype());
        {
            let (mut od, gd) = (out.storage().write(), g.storage_read());
            let off = g.layout().offset();
            numeric_dispatch!(g.dtype(), "index_select", T => {
                if let (Some(dst), Some(src)) = (T::slice_mut(&mut od), T::slice(&gd)) {
                    let src = &src[off..off + g.numel()];
                    add_rows(dst, src, &self.indices, around(shape, self.dim));
                }
            });
        }
        Ok(vec![Some(out)])
    }
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
    /// The entries `indices` (a 1-D `i64` tensor) of dimension `dim`, in that order
    /// (repeats allowed): `out[.., j, ..] = self[.., indices[j], ..]`. A 0-d index selects one
    /// entry and keeps `dim` with size 1, as in PyTorch. Negative indices are an error. The backward pass scatter-adds the gradient rows back (this is the lookup of
    /// an embedding table; a contiguous source with `dim = 0` copies whole rows).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let table = Tensor::from_vec(vec![0.0f32, 1.0, 10.0, 11.0, 20.0, 21.0], &[3, 2])?;
    /// let ids = Tensor::from_vec(vec![2i64, 0, 2], &[3])?;
    /// let rows = table.index_select(0, &ids)?;
    /// assert_eq!(rows.to_vec::<f32>()?, vec![20.0, 21.0, 0.0, 1.0, 20.0, 21.0]);
    /// assert!(table.index_select(0, &Tensor::from_vec(vec![3i64], &[1])?).is_err());
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn index_select<D: Dim>(&self, dim: D, indices: &Tensor) -> Result<Tensor> {
        const OP: &str = "index_select";
        let d = dim.resolve(self.ndim(), OP)?;
        check_index_dtype(OP, indices)?;
        if indices.ndim() > 1 {
            return Err(Error::shape(
                OP,
                indices.shape(),
                "expected 1-D indices (or one index as a 0-d tensor)",
            ));
        }
        let size = self.shape()[d];
        let idx = indices
            .to_vec::<i64>()?
            .into_iter()
            .map(|i| checked(OP, i, d, size))
            .collect::<Result<Vec<usize>>>()?;
        let mut out_shape = self.shape().to_vec();
        out_shape[d] = idx.len();
        let src = self.detach().contiguous();
        let data = {
            let sd = src.storage_read();
            let off = src.layout().offset();
            let dims = around(self.shape(), d);
            with_slice!(&*sd, s => {
                Element::into_storage(select_rows(&s[off..off + src.numel()], &idx, dims))
            })
        };
        let out = Tensor::from_data(data, &out_shape);
        if !needs_grad(&[self]) {
            return Ok(out);
        }
        Ok(out.record(
            &[self],
            IndexSelectBackward {
                dim: d,
                indices: idx,
            },
        ))
    }

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

    /// One-hot encoding of an `i64` tensor of class indices: an `f32` tensor with a new
    /// last dimension of size `num_classes`, 1 at each label and 0 elsewhere. A label outside
    /// `0..num_classes` is an [`Error::IndexOutOfRange`].
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let labels = Tensor::from_vec(vec![1i64, 0], &[2])?;
    /// let oh = labels.one_hot(3)?;
    /// assert_eq!(oh.shape(), &[2, 3]);
    /// assert_eq!(oh.to_vec::<f32>()?, vec![0.0, 1.0, 0.0, 1.0, 0.0, 0.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn one_hot(&self, num_classes: usize) -> Result<Tensor> {
        const OP: &str = "one_hot";
        check_index_dtype(OP, self)?;
        let labels = self.to_vec::<i64>()?;
        let mut out = vec![0.0f32; labels.len() * num_classes];
        for (p, &l) in labels.iter().enumerate() {
            out[p * num_classes + checked(OP, l, self.ndim(), num_classes)?] = 1.0;
        }
        let mut shape = self.shape().to_vec();
        shape.push(num_classes);
        Ok(Tensor::from_data(StorageData::F32(out), &shape))
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, DType, Error, GradcheckOptions, Tensor};

    fn ids(v: &[i64], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape).unwrap()
    }

    fn f64s(t: &Tensor) -> Vec<f64> {
        t.to_vec_f64()
    }

    #[test]
    fn index_select_values_on_every_dim_and_views() {
        let x = Tensor::arange(0.0, 24.0, 1.0)
            .unwrap()
            .reshape(&[2, 3, 4])
            .unwrap();
        let i = ids(&[2, 0, 2], &[3]);
        let y = x.index_select(1, &i).unwrap();
        assert_eq!(y.shape(), &[2, 3, 4]);
        let xv = f64s(&x);
        let yv = f64s(&y);
        for a in 0..2 {
            for (j, &r) in [2usize, 0, 2].iter().enumerate() {
                for c in 0..4 {
                    assert_eq!(yv[a * 12 + j * 4 + c], xv[a * 12 + r * 4 + c]);
                }
            }
        }
        // Last dim, on a transposed (non-contiguous) source.
        let t = x.transpose(0, 2).unwrap(); // [4, 3, 2]
        let z = t.index_select(-1, &ids(&[1], &[1])).unwrap();
        assert_eq!(z.shape(), &[4, 3, 1]);
        assert_eq!(
            f64s(&z),
            f64s(&x.select(0, 1).unwrap().transpose(0, 1).unwrap())
        );
        // A 0-d index keeps the dim with size 1.
        let one = x
            .index_select(2, &Tensor::from_vec(vec![3i64], &[]).unwrap())
            .unwrap();
        assert_eq!(one.shape(), &[2, 3, 1]);
        assert_eq!(f64s(&one), vec![3.0, 7.0, 11.0, 15.0, 19.0, 23.0]);
        // Empty index list and empty source dims.
        assert_eq!(
            x.index_select(0, &ids(&[], &[0])).unwrap().shape(),
            &[0, 3, 4]
        );
        let e = Tensor::zeros(&[0, 3]);
        assert_eq!(
            e.index_select(1, &ids(&[2], &[1])).unwrap().shape(),
            &[0, 1]
        );
    }

    #[test]
    fn index_select_gradcheck_accumulates_repeats() {
        let opts = GradcheckOptions::default();
        let i = ids(&[1, 3, 1, 0], &[4]);
        gradcheck(
            |t| t[0].index_select(0, &i),
            &[Tensor::randn(&[4, 3])],
            opts,
        )
        .unwrap();
        gradcheck(
            |t| t[0].index_select(1, &i),
            &[Tensor::randn(&[2, 4, 3])],
            opts,
        )
        .unwrap();
        gradcheck(
            |t| t[0].transpose(0, 1)?.index_select(0, &i),
            &[Tensor::randn(&[3, 4])],
            opts,
        )
        .unwrap();
        // Repeated rows: d/dx of sum(index_select) counts each use.
        let x = Tensor::zeros(&[4, 2]).requires_grad_();
        let g = x.index_select(0, &i).unwrap().sum_all().unwrap();
        let g = g.backward().unwrap();
        assert_eq!(
            g.get(&x).unwrap().to_vec::<f32>().unwrap(),
            vec![1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 1.0, 1.0]
        );
    }

    #[test]
    fn large_index_select_takes_the_parallel_path_correctly() {
        let x = Tensor::randn(&[50, 1024]);
        let i = Tensor::randint(0, 50, &[100]).unwrap();
        let y = x.index_select(0, &i).unwrap();
        let (xv, iv, yv) = (f64s(&x), i.to_vec::<i64>().unwrap(), f64s(&y));
        for (j, &r) in iv.iter().enumerate() {
            assert_eq!(
                yv[j * 1024..(j + 1) * 1024],
                xv[r as usize * 1024..][..1024]
            );
        }
    }

    #[test]
    fn gather_values_and_gradcheck() {
        let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        let g0 = x.gather(0, &ids(&[1, 0, 1], &[1, 3])).unwrap();
        assert_eq!(f64s(&g0), vec![4.0, 2.0, 6.0]);
        let g1 = x.gather(1, &ids(&[2, 2, 0, 1], &[2, 2])).unwrap();
        assert_eq!(f64s(&g1), vec![3.0, 3.0, 4.0, 5.0]);
        // Works on i64 data and transposed views.
        let xi = ids(&[1, 2, 3, 4], &[2, 2]).transpose(0, 1).unwrap(); // [[1,3],[2,4]]
        assert_eq!(
            xi.gather(1, &ids(&[1, 0], &[2, 1]))
                .unwrap()
                .to_vec::<i64>()
                .unwrap(),
            vec![3, 2]
        );
        let opts = GradcheckOptions::default();
        let idx = ids(&[0, 2, 2, 1, 1, 1], &[2, 3]);
        gradcheck(|t| t[0].gather(1, &idx), &[Tensor::randn(&[2, 4])], opts).unwrap();
        gradcheck(
            |t| t[0].transpose(0, 1)?.gather(1, &idx),
            &[Tensor::randn(&[4, 3])],
            opts,
        )
        .unwrap();
    }

    #[test]
    fn scatter_add_values_and_gradcheck() {
        let x = Tensor::ones_dtype(&[2, 3], DType::F64);
        let idx = ids(&[2, 2, 0, 1], &[2, 2]);
        let src = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
        // src is larger than the index: only its leading [2, 2] block is used.
        let y = x.scatter_add(1, &idx, &src).unwrap();
        assert_eq!(f64s(&y), vec![1.0, 1.0, 4.0, 5.0, 6.0, 1.0]);
        assert_eq!(f64s(&x), vec![1.0; 6], "out of place");
        let opts = GradcheckOptions::default();
        gradcheck(
            |t| t[0].scatter_add(1, &idx, &t[1]),
            &[Tensor::randn(&[2, 3]), Tensor::randn(&[2, 3])],
            opts,
        )
        .unwrap();
        gradcheck(
            |t| t[0].scatter_add(0, &ids(&[1, 0, 1], &[3, 1]), &t[1].transpose(0, 1)?),
            &[Tensor::randn(&[2, 2]), Tensor::randn(&[2, 3])],
            opts,
        )
        .unwrap();
        let counts = Tensor::zeros_dtype(&[3], DType::I64)
            .scatter_add(0, &ids(&[2, 2, 1], &[3]), &ids(&[1, 1, 1], &[3]))
            .unwrap();
        assert_eq!(counts.to_vec::<i64>().unwrap(), vec![0, 1, 2]);
    }

    #[test]
    fn one_hot_values() {
        let oh = ids(&[2, 0, 1, 2], &[2, 2]).one_hot(3).unwrap();
        assert_eq!(oh.shape(), &[2, 2, 3]);
        assert_eq!(
            oh.to_vec::<f32>().unwrap(),
            vec![0., 0., 1., 1., 0., 0., 0., 1., 0., 0., 0., 1.]
        );
        assert_eq!(ids(&[], &[0]).one_hot(4).unwrap().shape(), &[0, 4]);
    }

    #[test]
    fn bad_indices_are_errors() {
        let x = Tensor::zeros(&[2, 3]);
        let err = x.index_select(1, &ids(&[0, 3], &[2])).unwrap_err();
        assert_eq!(
            err,
            Error::IndexOutOfRange {
                op: "index_select",
                index: 3,
                dim: 1,
                size: 3
            }
        );
        assert!(matches!(
            x.index_select(0, &ids(&[-1], &[1])),
            Err(Error::IndexOutOfRange { index: -1, .. })
        ));
        assert!(matches!(
            x.gather(0, &ids(&[0, 2], &[1, 2])),
            Err(Error::IndexOutOfRange {
                op: "gather",
                index: 2,
                dim: 0,
                size: 2
            })
        ));
        assert!(matches!(
            x.scatter_add(1, &ids(&[-2], &[1, 1]), &x),
            Err(Error::IndexOutOfRange {
                op: "scatter_add",
                index: -2,
                ..
            })
        ));
        assert!(matches!(
            ids(&[0, 5], &[2]).one_hot(5),
            Err(Error::IndexOutOfRange {
                op: "one_hot",
                index: 5,
                dim: 1,
                size: 5
            })
        ));
        // Wrong index dtype, rank and size.
        assert!(matches!(
            x.index_select(0, &Tensor::zeros(&[1])),
            Err(Error::DType { .. })
        ));
        assert!(matches!(
            x.index_select(0, &ids(&[0], &[1, 1])),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(
            x.gather(1, &ids(&[0], &[1])),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            x.gather(1, &ids(&[0, 0, 0], &[3, 1])),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            x.scatter_add(
                1,
                &ids(&[0], &[1, 1]),
                &Tensor::zeros_dtype(&[1, 1], DType::F64)
            ),
            Err(Error::DTypeMismatch { .. })
        ));
        assert!(matches!(
            Tensor::zeros(&[2]).one_hot(2),
            Err(Error::DType { .. })
        ));
    }
}
