//! Views: reshape, transpose, permute, narrow/slice, squeeze/unsqueeze, expand, and
//! `contiguous`. Views share storage with their source (reshape copies only when the
//! layout does not allow a view); each has its backward rule here.

use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::alloc;
use crate::kernels::map::{assign, collect};
use crate::kernels::parallel::{for_each_chunk_mut, PAR_MIN_ELEMS};
use crate::layout::{resolve_dims, Dim, Layout};
use crate::storage::with_slice;
use crate::{Element, Error, Result, Tensor};

/// Backward rules of the view ops.
enum ViewBackward {
    /// Gradient reshaped to the input's shape (reshape, squeeze, unsqueeze, flatten).
    Reshape,
    /// Gradient permuted by the inverse permutation.
    Permute(Vec<usize>),
    /// Gradient placed into zeros of the input's shape at `start..` with `step` along `dim`.
    Slice {
        dim: usize,
        start: usize,
        step: usize,
    },
    /// Gradient summed over the expanded dimensions.
    Expand,
    /// Gradient passed through unchanged.
    Identity,
}

impl BackwardOp for ViewBackward {
    fn name(&self) -> &'static str {
        match self {
            ViewBackward::Reshape => "reshape",
            ViewBackward::Permute(_) => "permute",
            ViewBackward::Slice { .. } => "slice",
            ViewBackward::Expand => "expand",
            ViewBackward::Identity => "contiguous",
        }
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let shape = inputs[0].shape();
        let g = match self {
            ViewBackward::Reshape => grad.reshape(shape)?,
            ViewBackward::Permute(inverse) => grad.permute(inverse)?,
            ViewBackward::Slice { dim, start, step } => {
                slice_backward(grad, shape, *dim, *start, *step)?
            }
            ViewBackward::Expand => grad.sum_to_shape(shape)?,
            ViewBackward::Identity => grad.clone(),
        };
        Ok(vec![Some(g)])
    }
}

/// Zeros of `shape` with `grad` written into the slice `start.. step ..` of `dim`.
fn slice_backward(
    grad: &Tensor,
    shape: &[usize],
    dim: usize,
    start: usize,
    step: usize,
) -> Result<Tensor> {
    if dim == 0 && step == 1 {
        // A block of whole leading rows: the zeros before it, the gradient and the zeros
        // after, each written once (the recurrent op's output is a flat buffer read through
        // such slices, a few MiB per call, which were zero-filled and then overwritten).
        let inner: usize = shape.iter().skip(1).product();
        let before = start * inner;
        return match grad.dtype() {
            crate::DType::F32 => rows_between::<f32>(grad, shape, before),
            crate::DType::F64 => rows_between::<f64>(grad, shape, before),
            crate::DType::I64 => rows_between::<i64>(grad, shape, before),
            crate::DType::Bool => rows_between::<bool>(grad, shape, before),
        };
    }
    let out = Tensor::zeros_dtype(shape, grad.dtype());
    {
        let full = Layout::contiguous(shape);
        let mut strides = full.strides().to_vec();
        let offset = start * strides[dim];
        strides[dim] *= step;
        let mut od = out.storage().write();
        let gd = grad.storage_read();
        let gl = grad.layout();
        with_slice!(&mut *od, dst => {
            if let Some(src) = Element::slice(&gd) {
                assign(dst, (&strides, offset), src, (gl.strides(), gl.offset()), grad.shape());
            }
        });
    }
    Ok(out)
}

/// A tensor of `shape` holding `grad`'s elements from flat index `before` on, zeros
/// (`T::default()`) elsewhere; written in parallel chunks, since a training step's recurrent
/// output (2 MiB in W3) would otherwise be copied by one thread while the others wait.
fn rows_between<T: Element>(grad: &Tensor, shape: &[usize], before: usize) -> Result<Tensor> {
    let total: usize = shape.iter().product();
    let grad = grad.contiguous();
    let values = grad.read::<T>()?;
    let after = before + values.len();
    let out = alloc::filled(total, |slots| {
        for_each_chunk_mut(slots, PAR_MIN_ELEMS, |start, chunk| {
            // The chunk's elements before the gradient, in it, and after it.
            let end = start + chunk.len();
            let (lo, hi) = (before.clamp(start, end), after.clamp(start, end));
            let (zeros, rest) = chunk.split_at_mut(lo - start);
            let (copied, tail) = rest.split_at_mut(hi - lo);
            for slot in zeros.iter_mut().chain(tail) {
                slot.write(T::default());
            }
            if hi > lo {
                for (slot, &v) in copied.iter_mut().zip(&values[lo - before..hi - before]) {
                    slot.write(v);
                }
            }
        });
    });
    drop(values);
    Tensor::from_vec(out, shape)
}

impl Tensor {
    fn view_op(&self, layout: Layout, backward: impl FnOnce() -> ViewBackward) -> Tensor {
        let out = self.with_layout(layout);
        if needs_grad(&[self]) {
            return out.record(&[self], backward());
        }
        out
    }

    /// The same elements in a new shape (same element count). A view when the tensor is
    /// contiguous, a copy otherwise.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::arange(0.0, 6.0, 1.0)?.reshape(&[2, 3])?;
    /// assert_eq!(t.shape(), &[2, 3]);
    /// assert!(t.reshape(&[4]).is_err());
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        let numel: usize = shape.iter().product();
        if numel != self.numel() {
            return Err(Error::shape(
                "reshape",
                self.shape(),
                format!(
                    "cannot reshape {} elements into {shape:?} ({numel} elements)",
                    self.numel()
                ),
            ));
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let source = if self.is_contiguous() {
            self.clone()
        } else {
            self.contiguous()
        };
        let layout = source
            .layout()
            .reshape_view(shape)
            .unwrap_or_else(|| Layout::contiguous(shape));
        Ok(source.view_op(layout, || ViewBackward::Reshape))
    }

    /// Reshape where one dimension may be `-1`, inferred from the element count
    /// (PyTorch's `view(-1, 784)`).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::zeros(&[8, 28, 28]).reshape_infer(&[-1, 784])?;
    /// assert_eq!(t.shape(), &[8, 784]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn reshape_infer(&self, shape: &[i64]) -> Result<Tensor> {
        let op = "reshape";
        let mut infer = None;
        let mut known = 1usize;
        for (i, &s) in shape.iter().enumerate() {
            match s {
                -1 if infer.is_none() => infer = Some(i),
                -1 => return Err(Error::invalid(op, "shape", "only one dimension can be -1")),
                s if s < 0 => {
                    return Err(Error::invalid(
                        op,
                        "shape",
                        format!("invalid size {s} in {shape:?}"),
                    ))
                }
                s => known *= s as usize,
            }
        }
        let mut resolved: Vec<usize> = shape.iter().map(|&s| s.max(0) as usize).collect();
        if let Some(i) = infer {
            if known == 0 || !self.numel().is_multiple_of(known) {
                return Err(Error::shape(
                    op,
                    self.shape(),
                    format!(
                        "cannot infer the -1 in {shape:?} from {} elements",
                        self.numel()
                    ),
                ));
            }
            resolved[i] = self.numel() / known;
        }
        self.reshape(&resolved)
    }

    /// Merges dims `start..=end` into one (`flatten(1, -1)` turns `[N, C, H, W]` into
    /// `[N, C*H*W]`).
    pub fn flatten<D: Dim>(&self, start: D, end: D) -> Result<Tensor> {
        if self.ndim() == 0 {
            return self.reshape(&[1]);
        }
        let s = start.resolve(self.ndim(), "flatten")?;
        let e = end.resolve(self.ndim(), "flatten")?;
        if s > e {
            return Err(Error::invalid(
                "flatten",
                "start",
                format!("start dim {s} is after end dim {e}"),
            ));
        }
        let sh = self.shape();
        let mut shape: Vec<usize> = sh[..s].to_vec();
        shape.push(sh[s..=e].iter().product());
        shape.extend_from_slice(&sh[e + 1..]);
        self.reshape(&shape)
    }

    /// Swaps two dimensions (a view).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::zeros(&[2, 3, 4]).transpose(0, -1)?;
    /// assert_eq!(t.shape(), &[4, 3, 2]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn transpose<D: Dim>(&self, d0: D, d1: D) -> Result<Tensor> {
        let a = d0.resolve(self.ndim(), "transpose")?;
        let b = d1.resolve(self.ndim(), "transpose")?;
        let mut perm: Vec<usize> = (0..self.ndim()).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// Transpose of a 2-D tensor (`x.t()` in PyTorch).
    pub fn t(&self) -> Result<Tensor> {
        if self.ndim() != 2 {
            return Err(Error::shape("t", self.shape(), "expected a 2-D tensor"));
        }
        self.transpose(0, 1)
    }

    /// Reorders the dimensions (a view): output dim `i` is input dim `perm[i]`.
    pub fn permute<D: Dim>(&self, perm: &[D]) -> Result<Tensor> {
        if perm.len() != self.ndim() {
            return Err(Error::shape(
                "permute",
                self.shape(),
                format!(
                    "the permutation has {} entries, expected {}",
                    perm.len(),
                    self.ndim()
                ),
            ));
        }
        let perm = resolve_dims(perm, self.ndim(), "permute")?;
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        Ok(self.view_op(self.layout().permute(&perm), || {
            ViewBackward::Permute(inverse)
        }))
    }

    /// Elements `start..start + len` of dimension `dim` (a view).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::arange(0.0, 10.0, 1.0)?.narrow(0, 2, 3)?;
    /// assert_eq!(t.to_vec::<f32>()?, vec![2.0, 3.0, 4.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn narrow<D: Dim>(&self, dim: D, start: usize, len: usize) -> Result<Tensor> {
        self.slice(dim, start, start + len, 1)
    }

    /// Elements `start..end` with a step along `dim` (a view), like `x[start:end:step]`.
    pub fn slice<D: Dim>(&self, dim: D, start: usize, end: usize, step: usize) -> Result<Tensor> {
        let d = dim.resolve(self.ndim(), "slice")?;
        let size = self.shape()[d];
        if step == 0 {
            return Err(Error::invalid("slice", "step", "must be at least 1"));
        }
        if start > end || end > size {
            return Err(Error::invalid(
                "slice",
                "range",
                format!(
                    "{start}..{end} does not fit in dimension {d} of size {size} (shape {:?})",
                    self.shape()
                ),
            ));
        }
        let len = (end - start).div_ceil(step);
        if start == 0 && len == size && step == 1 {
            return Ok(self.clone());
        }
        let mut layout = self.layout().narrow(d, start, len);
        if step > 1 {
            let mut strides = layout.strides().to_vec();
            strides[d] *= step;
            layout = Layout::new(layout.shape().to_vec(), strides, layout.offset());
        }
        Ok(self.view_op(layout, || ViewBackward::Slice {
            dim: d,
            start,
            step,
        }))
    }

    /// Element `index` of dimension `dim`, with that dimension removed (a view).
    pub fn select<D: Dim>(&self, dim: D, index: usize) -> Result<Tensor> {
        let d = dim.resolve(self.ndim(), "select")?;
        if index >= self.shape()[d] {
            return Err(Error::IndexOutOfRange {
                op: "select",
                index: index as i64,
                dim: d,
                size: self.shape()[d],
            });
        }
        self.narrow(d, index, 1)?.squeeze_dim(d)
    }

    /// Removes every dimension of size 1.
    pub fn squeeze(&self) -> Result<Tensor> {
        let shape: Vec<usize> = self.shape().iter().copied().filter(|&s| s != 1).collect();
        self.reshape(&shape)
    }

    /// Removes dimension `dim`, which must have size 1.
    pub fn squeeze_dim<D: Dim>(&self, dim: D) -> Result<Tensor> {
        let d = dim.resolve(self.ndim(), "squeeze")?;
        if self.shape()[d] != 1 {
            return Err(Error::shape(
                "squeeze",
                self.shape(),
                format!("dimension {d} must have size 1"),
            ));
        }
        Ok(self.view_op(self.layout().with_dim_removed(d), || ViewBackward::Reshape))
    }

    /// Inserts a dimension of size 1 at `dim` (`-1` appends).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// assert_eq!(Tensor::zeros(&[3]).unsqueeze(0)?.shape(), &[1, 3]);
    /// assert_eq!(Tensor::zeros(&[3]).unsqueeze(-1)?.shape(), &[3, 1]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn unsqueeze<D: Dim>(&self, dim: D) -> Result<Tensor> {
        let d = dim.resolve(self.ndim() + 1, "unsqueeze")?;
        Ok(self.view_op(self.layout().with_dim_inserted(d), || ViewBackward::Reshape))
    }

    /// Broadcasts to `shape` without copying (size-1 dims repeat with stride 0).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1])?.expand(&[2, 3])?;
    /// assert_eq!(t.to_vec::<f32>()?, vec![1.0, 1.0, 1.0, 2.0, 2.0, 2.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn expand(&self, shape: &[usize]) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let layout = self.layout().broadcast_to("expand", shape)?;
        Ok(self.view_op(layout, || ViewBackward::Expand))
    }

    /// Alias of [`Tensor::expand`].
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        self.expand(shape)
    }

    /// A row-major copy if the tensor is not contiguous, else the tensor itself.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        let data = {
            let d = self.storage_read();
            with_slice!(&*d, s => Element::into_storage(collect(s, self.layout())))
        };
        let out = Tensor::from_data(data, self.shape());
        if needs_grad(&[self]) {
            return out.record(&[self], ViewBackward::Identity);
        }
        out
    }

    /// A copy with its own storage (recorded like `contiguous`).
    pub fn copy(&self) -> Tensor {
        let data = {
            let d = self.storage_read();
            with_slice!(&*d, s => Element::into_storage(collect(s, self.layout())))
        };
        let out = Tensor::from_data(data, self.shape());
        if needs_grad(&[self]) {
            return out.record(&[self], ViewBackward::Identity);
        }
        out
    }

    /// A contiguous tensor whose first element starts on a 64-byte cache line: the tensor
    /// itself when it already does, else a copy (recorded like `contiguous`).
    ///
    /// Kernels that read an operand in place, such as the matrix-vector products of
    /// batch-1 inference, then load whole cache lines; at malloc's 16-byte alignment every
    /// 64-byte load of a weight spans two lines (W5 took 4–10 % longer). Parameters are
    /// stored this way.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::arange(0.0, 12.0, 1.0)?.reshape(&[3, 4])?.t()?;
    /// let a = t.aligned();
    /// assert!(a.is_contiguous() && a.is_line_aligned());
    /// assert_eq!(a.to_vec::<f32>()?, t.to_vec::<f32>()?);
    /// assert!(a.aligned().shares_storage_with(&a)); // already aligned: no copy
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn aligned(&self) -> Tensor {
        if self.is_contiguous() && self.is_line_aligned() {
            return self.clone();
        }
        let data = {
            let d = self.storage_read();
            with_slice!(&*d, s => {
                let values = collect(s, self.layout());
                let (mut buf, start) = alloc::with_capacity_aligned(values.len());
                buf.extend_from_slice(&values);
                (Element::into_storage(buf), start)
            })
        };
        let out = Tensor::from_data_at(data.0, self.shape(), data.1);
        if needs_grad(&[self]) {
            return out.record(&[self], ViewBackward::Identity);
        }
        out
    }

    /// Whether the first element starts on a 64-byte cache line (see [`Tensor::aligned`]).
    pub fn is_line_aligned(&self) -> bool {
        let d = self.storage_read();
        let offset = self.layout().offset();
        with_slice!(&*d, s => (s.as_ptr().wrapping_add(offset) as usize).is_multiple_of(64))
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, Tensor};

    fn check(f: impl Fn(&Tensor) -> crate::Result<Tensor>, shape: &[usize]) {
        gradcheck(
            |t| f(&t[0])?.exp(),
            &[Tensor::randn(shape)],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn view_gradchecks() {
        check(|x| x.reshape(&[6, 2]), &[3, 4]);
        check(|x| x.transpose(0, 1)?.reshape(&[12]), &[3, 4]);
        check(|x| x.permute(&[2, 0, 1]), &[2, 3, 4]);
        check(|x| x.narrow(1, 1, 2), &[3, 4]);
        // Leading rows: written as zeros, gradient, zeros.
        check(|x| x.narrow(0, 0, 2), &[3, 4]);
        check(|x| x.narrow(0, 1, 2), &[3, 4]);
        check(|x| x.narrow(0, 1, 1), &[3, 4]);
        check(|x| x.narrow(0, 0, 3), &[3, 4]);
        check(|x| x.narrow(0, 2, 3), &[6]);
        check(|x| x.slice(1, 0, 4, 2), &[3, 4]);
        check(|x| x.select(0, 2), &[3, 4]);
        check(|x| x.unsqueeze(1)?.squeeze(), &[3, 4]);
        check(|x| x.expand(&[2, 3, 4]), &[3, 1]);
        check(|x| x.transpose(0, 1)?.contiguous().narrow(0, 1, 2), &[3, 4]);
        check(|x| x.flatten(0, -1), &[2, 3, 2]);
        check(|x| Ok(x.narrow(0, 1, 2)?.aligned()), &[3, 4]);
    }

    /// Every element offset within a line, each dtype: the copy starts on a line and holds
    /// the same values; an aligned contiguous tensor comes back as itself.
    #[test]
    fn aligned_copies_only_what_starts_off_a_line() {
        for dtype in [
            crate::DType::F32,
            crate::DType::F64,
            crate::DType::I64,
            crate::DType::Bool,
        ] {
            let base = Tensor::arange(0.0, 200.0, 1.0)
                .unwrap()
                .to_dtype(dtype)
                .aligned();
            assert!(base.is_line_aligned() && base.aligned().shares_storage_with(&base));
            for start in 0..70 {
                let part = base.narrow(0, start, 100).unwrap();
                let a = part.aligned();
                assert!(
                    a.is_contiguous() && a.is_line_aligned(),
                    "{dtype:?} {start}"
                );
                assert_eq!(a.shares_storage_with(&part), part.is_line_aligned());
                assert_eq!(
                    a.to_dtype(crate::DType::F64).to_vec::<f64>().unwrap(),
                    part.to_dtype(crate::DType::F64).to_vec::<f64>().unwrap()
                );
            }
        }
        let empty = Tensor::zeros(&[0, 3]).aligned();
        assert_eq!(empty.shape(), &[0, 3]);
    }

    /// Large enough to be written in parallel chunks, with the gradient's rows starting and
    /// ending inside chunks.
    #[test]
    fn leading_rows_of_a_large_tensor_get_their_gradient_and_zeros_elsewhere() {
        let (rows, cols, start, len) = (300, 500, 101, 123);
        for dtype in [crate::DType::F32, crate::DType::F64] {
            let x = Tensor::zeros_dtype(&[rows, cols], dtype).requires_grad_();
            let up = Tensor::arange(1.0, (len * cols + 1) as f64, 1.0)
                .unwrap()
                .reshape(&[len, cols])
                .unwrap()
                .to_dtype(dtype);
            let y = x.narrow(0, start, len).unwrap().mul(&up).unwrap();
            let grads = y.sum_all().unwrap().backward().unwrap();
            let g = grads
                .get(&x)
                .unwrap()
                .to_dtype(crate::DType::F64)
                .to_vec::<f64>()
                .unwrap();
            for (k, &v) in g.iter().enumerate() {
                let inside = (start * cols..(start + len) * cols).contains(&k);
                let want = if inside {
                    (k - start * cols + 1) as f64
                } else {
                    0.0
                };
                assert_eq!(v, want, "{dtype:?} element {k}");
            }
        }
    }

    #[test]
    fn views_share_storage() {
        let x = Tensor::arange(0.0, 12.0, 1.0)
            .unwrap()
            .reshape(&[3, 4])
            .unwrap();
        let t = x.transpose(0, 1).unwrap();
        assert!(t.shares_storage_with(&x));
        assert!(!t.is_contiguous());
        assert_eq!(
            t.contiguous().to_vec::<f32>().unwrap()[..4],
            [0.0, 4.0, 8.0, 1.0]
        );
        let s = x.slice(1, 1, 4, 2).unwrap();
        assert_eq!(
            s.to_vec::<f32>().unwrap(),
            vec![1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
        );
        assert!(s.shares_storage_with(&x));
    }

    #[test]
    fn views_of_empty_tensors_read_as_empty() {
        // Narrowing a non-empty dim of an empty tensor must not move the offset past the
        // (empty) buffer.
        let e = Tensor::zeros(&[0, 3]);
        let v = e.narrow(1, 1, 2).unwrap();
        assert_eq!(v.shape(), &[0, 2]);
        assert!(v.is_contiguous());
        assert_eq!(v.to_vec::<f32>().unwrap(), Vec::<f32>::new());
        assert_eq!(v.t().unwrap().contiguous().shape(), &[2, 0]);
        assert_eq!(
            e.slice(1, 1, 3, 2).unwrap().to_vec::<f32>().unwrap().len(),
            0
        );
    }

    #[test]
    fn view_errors_name_the_problem() {
        let x = Tensor::zeros(&[3, 4]);
        assert!(x
            .narrow(1, 3, 2)
            .unwrap_err()
            .to_string()
            .contains("3..5 does not fit"));
        assert!(x
            .transpose(0, 2)
            .unwrap_err()
            .to_string()
            .contains("dimension 2 is out of range"));
        assert!(x.permute(&[0]).is_err());
        assert!(x.permute(&[0, 0]).is_err());
        assert!(x.squeeze_dim(0).is_err());
        assert!(x.expand(&[2, 4]).is_err());
        assert!(x.reshape_infer(&[-1, 5]).is_err());
        assert!(x.reshape_infer(&[-1, -1]).is_err());
    }
}
