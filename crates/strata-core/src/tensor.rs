//! The [`Tensor`] type: a cheap-to-clone handle to a strided view of shared storage that
//! optionally remembers the op that produced it (for reverse-mode autodiff).

use crate::autograd::GradFn;
use crate::layout::{contiguous_strides, Layout};
use crate::storage::{Storage, StorageData};
use crate::{DType, Element, Error, Result};
use parking_lot::{
    MappedRwLockReadGuard, MappedRwLockWriteGuard, Mutex, RwLockReadGuard, RwLockWriteGuard,
};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A unique identity of a tensor, used to look up its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// The raw number (unique within a process).
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

/// An n-dimensional array of `f32`, `f64`, `i64` or `bool` elements.
///
/// Cloning is cheap (an `Arc` increment) and clones are the *same* tensor (same id, same
/// gradient). Views (reshape, transpose, narrow, ...) share storage with their source.
/// When any input of an op requires grad (and grad mode is on), the result records the op
/// so that [`Tensor::backward`] can compute gradients.
///
/// ```
/// use strata_core::Tensor;
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3])?.requires_grad_();
/// let y = x.mul(&x)?.sum_all()?;          // y = sum(x^2)
/// let grads = y.backward()?;
/// assert_eq!(grads.get(&x).unwrap().to_vec::<f32>()?, vec![2.0, 4.0, 6.0]);
/// # Ok::<(), strata_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorInner>);

pub(crate) struct TensorInner {
    pub(crate) id: TensorId,
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) retains_grad: AtomicBool,
    /// Set once `backward` has freed this tensor's graph node.
    pub(crate) graph_freed: AtomicBool,
    pub(crate) grad_fn: Mutex<Option<Arc<GradFn>>>,
}

// Tensors travel between data-loader threads and rayon workers.
const _: () = {
    fn assert_send_sync<T: Send + Sync>() {}
    fn check() {
        assert_send_sync::<Tensor>();
    }
    let _ = check;
};

impl Tensor {
    pub(crate) fn from_parts(storage: Arc<Storage>, layout: Layout) -> Tensor {
        Tensor(Arc::new(TensorInner {
            id: TensorId::fresh(),
            storage,
            layout,
            requires_grad: AtomicBool::new(false),
            retains_grad: AtomicBool::new(false),
            graph_freed: AtomicBool::new(false),
            grad_fn: Mutex::new(None),
        }))
    }

    /// A contiguous tensor owning `data` (whose length must equal the product of `shape`;
    /// checked by callers).
    pub(crate) fn from_data(data: StorageData, shape: &[usize]) -> Tensor {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        Tensor::from_parts(Arc::new(Storage::new(data)), Layout::contiguous(shape))
    }

    /// A contiguous tensor over `data[offset..]` (`data` holds `offset` elements more than
    /// `shape`; checked by callers).
    pub(crate) fn from_data_at(data: StorageData, shape: &[usize], offset: usize) -> Tensor {
        debug_assert_eq!(data.len(), offset + shape.iter().product::<usize>());
        let layout = Layout::new(shape.to_vec(), contiguous_strides(shape), offset);
        Tensor::from_parts(Arc::new(Storage::new(data)), layout)
    }

    /// Builds a contiguous tensor of `shape` from a vector of elements (row-major).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3])?;
    /// assert_eq!(t.shape(), &[2, 3]);
    /// assert!(Tensor::from_vec(vec![1.0f32, 2.0], &[3]).is_err());
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        let numel = crate::size::numel_for("from_vec", shape, std::mem::size_of::<T>().max(1))?;
        if data.len() != numel {
            return Err(Error::ElementCount {
                op: "from_vec",
                len: data.len(),
                shape: shape.into(),
                numel,
            });
        }
        Ok(Tensor::from_data(T::into_storage(data), shape))
    }

    /// Like [`Tensor::from_vec`], copying from a slice.
    pub fn from_slice<T: Element>(data: &[T], shape: &[usize]) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape)
    }

    /// A zero-dimensional tensor holding one value.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::scalar(2.5f32);
    /// assert_eq!(t.shape(), &[] as &[usize]);
    /// assert_eq!(t.item()?, 2.5);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Tensor::from_data(T::into_storage(vec![value]), &[])
    }

    /// The tensor's unique id (clones share it; views and results get new ones).
    pub fn id(&self) -> TensorId {
        self.0.id
    }

    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        self.0.layout.shape()
    }

    /// Alias of [`Tensor::shape`].
    pub fn dims(&self) -> &[usize] {
        self.shape()
    }

    /// The size of one dimension (negative counts from the back).
    pub fn size<D: crate::Dim>(&self, dim: D) -> Result<usize> {
        let d = dim.resolve(self.ndim(), "size")?;
        Ok(self.shape()[d])
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.storage.dtype()
    }

    /// Shape, strides and offset inside the storage.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// The strides in elements.
    pub fn strides(&self) -> &[usize] {
        self.0.layout.strides()
    }

    /// True when the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// True when `self` and `other` view the same storage buffer.
    pub fn shares_storage_with(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    pub(crate) fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }

    /// A new tensor viewing the same storage with another layout (no graph recorded).
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), layout)
    }

    // ---------------------------------------------------------------- autograd flags

    /// Whether gradients flow to this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks this tensor as requiring grad and returns it (builder style).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let w = Tensor::zeros(&[3]).requires_grad_();
    /// assert!(w.requires_grad());
    /// ```
    pub fn requires_grad_(self) -> Tensor {
        self.set_requires_grad(true);
        self
    }

    /// Turns gradient tracking on or off for this tensor. On a leaf (a parameter), `false`
    /// freezes it: later ops record nothing for it and it receives no gradient.
    pub fn set_requires_grad(&self, flag: bool) {
        self.0.requires_grad.store(flag, Ordering::Relaxed);
    }

    /// Asks `backward` to also return this (non-leaf) tensor's gradient.
    pub fn retain_grad(&self) {
        self.0.retains_grad.store(true, Ordering::Relaxed);
    }

    pub(crate) fn retains_grad(&self) -> bool {
        self.0.retains_grad.load(Ordering::Relaxed)
    }

    /// True when this tensor was not produced by a recorded op (a parameter or an input).
    pub fn is_leaf(&self) -> bool {
        self.0.grad_fn.lock().is_none() && !self.0.graph_freed.load(Ordering::Relaxed)
    }

    /// The same values without a graph: ops on the result record nothing.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::ones(&[2]).requires_grad_();
    /// let y = x.mul_scalar(3.0)?.detach();
    /// assert!(!y.requires_grad());
    /// assert!(y.shares_storage_with(&x) == false);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn detach(&self) -> Tensor {
        self.with_layout(self.0.layout.clone())
    }

    pub(crate) fn grad_fn(&self) -> Option<Arc<GradFn>> {
        self.0.grad_fn.lock().clone()
    }

    pub(crate) fn set_grad_fn(&self, grad_fn: GradFn) {
        *self.0.grad_fn.lock() = Some(Arc::new(grad_fn));
        self.set_requires_grad(true);
    }

    pub(crate) fn free_grad_fn(&self) {
        if self.0.grad_fn.lock().take().is_some() {
            self.0.graph_freed.store(true, Ordering::Relaxed);
        }
    }

    pub(crate) fn graph_freed(&self) -> bool {
        self.0.graph_freed.load(Ordering::Relaxed)
    }

    // ---------------------------------------------------------------- reading elements

    /// Read access to the elements of a contiguous tensor as a slice.
    ///
    /// Errors when `T` is not the tensor's dtype or the tensor is not contiguous (call
    /// [`Tensor::contiguous`] first). Holding the guard blocks in-place writes to the same
    /// storage.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::arange(0.0, 4.0, 1.0)?;
    /// assert_eq!(&*t.read::<f32>()?, &[0.0, 1.0, 2.0, 3.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn read<T: Element>(&self) -> Result<MappedRwLockReadGuard<'_, [T]>> {
        self.check_dtype::<T>("read")?;
        let range = self.0.layout.contiguous_range().ok_or_else(|| {
            Error::invalid(
                "read",
                "self",
                "the tensor is not contiguous; call .contiguous() first",
            )
        })?;
        Ok(RwLockReadGuard::map(self.0.storage.read(), move |d| {
            // The dtype was checked above, so the slice exists.
            &T::slice(d).unwrap_or(&[])[range]
        }))
    }

    /// Write access to the elements of a contiguous tensor, in place (for optimisers and
    /// fused kernels). Every tensor sharing the storage sees the change.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::zeros(&[3]);
    /// t.write::<f32>()?.copy_from_slice(&[1.0, 2.0, 3.0]);
    /// assert_eq!(t.to_vec::<f32>()?, vec![1.0, 2.0, 3.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn write<T: Element>(&self) -> Result<MappedRwLockWriteGuard<'_, [T]>> {
        self.check_dtype::<T>("write")?;
        let range = self.0.layout.contiguous_range().ok_or_else(|| {
            Error::invalid(
                "write",
                "self",
                "the tensor is not contiguous; in-place writes need a contiguous tensor",
            )
        })?;
        Ok(RwLockWriteGuard::map(
            self.0.storage.write(),
            move |d| match T::slice_mut(d) {
                Some(s) => &mut s[range],
                None => &mut [],
            },
        ))
    }

    /// The whole storage buffer (for strided kernels, together with [`Tensor::layout`]).
    pub(crate) fn storage_read(&self) -> RwLockReadGuard<'_, StorageData> {
        self.0.storage.read()
    }

    pub(crate) fn check_dtype<T: Element>(&self, op: &'static str) -> Result<()> {
        if self.dtype() != T::DTYPE {
            return Err(Error::dtype(op, T::DTYPE.name(), self.dtype()));
        }
        Ok(())
    }

    /// The elements in row-major order (copying; works for any layout).
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1i64, 2, 3, 4], &[2, 2])?;
    /// assert_eq!(t.transpose(0, 1)?.to_vec::<i64>()?, vec![1, 3, 2, 4]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        self.check_dtype::<T>("to_vec")?;
        let data = self.storage_read();
        let src = T::slice(&data).unwrap_or(&[]);
        Ok(crate::kernels::map::collect(src, self.layout()))
    }

    /// The elements converted to `f64`, whatever the dtype.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        let data = self.storage_read();
        crate::storage::with_slice!(&*data, s => {
            crate::kernels::map::map1(s, self.layout(), |v| v.to_f64())
        })
    }

    /// The single value of a one-element tensor, as `f64`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![7i64], &[1, 1])?.item()?, 7.0);
    /// assert!(Tensor::zeros(&[2]).item().is_err());
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::shape(
                "item",
                self.shape(),
                "expected exactly one element",
            ));
        }
        Ok(self.to_vec_f64()[0])
    }

    /// The single value of a one-element tensor, in its own type.
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        if self.numel() != 1 {
            return Err(Error::shape(
                "to_scalar",
                self.shape(),
                "expected exactly one element",
            ));
        }
        Ok(self.to_vec::<T>()?[0])
    }
}

impl Drop for TensorInner {
    /// Dismantles the graph behind this tensor iteratively: dropping the loss of a
    /// 10,000-step unrolled RNN must not recurse 10,000 frames deep.
    fn drop(&mut self) {
        let Some(first) = self.grad_fn.get_mut().take() else {
            return;
        };
        let mut stack = vec![first];
        while let Some(node) = stack.pop() {
            let Some(mut node) = Arc::into_inner(node) else {
                continue; // someone else still holds this node
            };
            for input in node.inputs.drain(..) {
                // `inner` drops at the end of this statement without a grad_fn: no recursion.
                if let Some(mut inner) = Arc::into_inner(input.0)
                    && let Some(next) = inner.grad_fn.get_mut().take()
                {
                    stack.push(next);
                }
            }
        }
    }
}
