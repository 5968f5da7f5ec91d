//! `index_select`: whole entries of one dimension, in a given order (an embedding lookup).

use super::*;

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

/// Clears entry `entry` of the middle dimension of the contiguous `[outer, size, inner]`
/// buffer `out`, in every `outer` block.
fn clear_entry<T: Copy + Default>(
    out: &mut [T],
    entry: usize,
    (_, size, inner): (usize, usize, usize),
) {
    for block in out.chunks_mut(size * inner) {
        block[entry * inner..(entry + 1) * inner].fill(T::default());
    }
}

struct IndexSelectBackward {
    dim: usize,
    indices: Vec<usize>,
    /// The entry of `dim` whose gradient stays zero (an embedding's padding row), if any.
    frozen: Option<usize>,
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
                    let dims = around(shape, self.dim);
                    add_rows(dst, src, &self.indices, dims);
                    if let Some(f) = self.frozen {
                        clear_entry(dst, f, dims);
                    }
                }
            });
        }
        Ok(vec![Some(out)])
    }
}

impl Tensor {
    /// The entries `indices` (a 1-D `i64` tensor) of dimension `dim`, in that order
    /// (repeats allowed): `out[.., j, ..] = self[.., indices[j], ..]`. A 0-d index selects one
    /// entry and keeps `dim` with size 1, as in PyTorch. Negative indices are an error. The
    /// backward pass scatter-adds the gradient rows back (this is the lookup of an embedding
    /// table; a contiguous source with `dim = 0` copies whole rows).
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
        self.select_entries(dim, indices, None)
    }

    /// [`Tensor::index_select`] whose backward leaves entry `frozen` of `dim` without
    /// gradient: it is selected like any other, but its gradient is zero however often it
    /// is used. This is an embedding's `padding_idx` (PyTorch's `F.embedding`): the padding
    /// vector stays fixed in training. `frozen` outside `dim` is an
    /// [`Error::IndexOutOfRange`].
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let table = Tensor::ones(&[3, 2]).requires_grad_();
    /// let ids = Tensor::from_vec(vec![0i64, 2, 0, 1], &[4])?;
    /// let rows = table.index_select_frozen(0, &ids, 0)?; // row 0 pads
    /// assert_eq!(rows.to_vec::<f32>()?, vec![1.0; 8]);
    /// let grads = rows.sum_all()?.backward()?;
    /// assert_eq!(grads.get(&table).unwrap().to_vec::<f32>()?, vec![0.0, 0.0, 1.0, 1.0, 1.0, 1.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn index_select_frozen<D: Dim>(
        &self,
        dim: D,
        indices: &Tensor,
        frozen: usize,
    ) -> Result<Tensor> {
        self.select_entries(dim, indices, Some(frozen))
    }

    /// `index_select`, with `frozen` passed on to the backward rule.
    fn select_entries<D: Dim>(
        &self,
        dim: D,
        indices: &Tensor,
        frozen: Option<usize>,
    ) -> Result<Tensor> {
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
        if let Some(f) = frozen {
            checked(OP, i64::try_from(f).unwrap_or(i64::MAX), d, size)?;
        }
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
                frozen,
            },
        ))
    }
}
