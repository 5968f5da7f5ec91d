//! Joining tensors along a dimension (`cat`, `stack`) and splitting one into views
//! (`split`, `split_sizes`, `chunk`).
//!
//! `cat` copies each input once into the preallocated output and hands each input its
//! slice of the gradient. The splits are `narrow` views, so narrow's backward serves them.

use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::assign;
use crate::layout::{contiguous_strides, Dim};
use crate::storage::with_slice;
use crate::{Element, Error, Result, Tensor};
use std::borrow::Borrow;

/// Each input gets the slice of the gradient along `dim` that its values filled.
struct CatBackward {
    dim: usize,
    sizes: Vec<usize>,
}

impl BackwardOp for CatBackward {
    fn name(&self) -> &'static str {
        "cat"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let mut start = 0;
        let mut grads = Vec::with_capacity(inputs.len());
        for (input, &len) in inputs.iter().zip(&self.sizes) {
            grads.push(if input.requires_grad() {
                Some(grad.narrow(self.dim, start, len)?)
            } else {
                None
            });
            start += len;
        }
        Ok(grads)
    }
}

/// The first tensor, after checking that there is one and that all share its dtype.
fn first_of<'a>(op: &'static str, ts: &[&'a Tensor]) -> Result<&'a Tensor> {
    let first = *ts
        .first()
        .ok_or_else(|| Error::invalid(op, "tensors", "needs at least one tensor, got none"))?;
    for (i, t) in ts.iter().enumerate().skip(1) {
        if t.dtype() != first.dtype() {
            return Err(Error::dtype(
                op,
                format!("{} for tensor {i} (the dtype of tensor 0)", first.dtype()),
                t.dtype(),
            ));
        }
    }
    Ok(first)
}

impl Tensor {
    /// Concatenates tensors along an existing dimension `dim`. They must share dtype and
    /// rank, and agree in size outside `dim`. Accepts `&[Tensor]` or `&[&Tensor]`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 2])?;
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0, 5.0, 6.0], &[2, 2])?;
    /// let c = Tensor::cat(&[&a, &b], 0)?;
    /// assert_eq!(c.shape(), &[3, 2]);
    /// assert_eq!(c.to_vec::<f32>()?, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// let err = Tensor::cat(&[a, b.t()?.narrow(0, 0, 1)?.reshape(&[2, 1])?], 0).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "cat: shapes [1, 2] and [2, 1] differ: tensor 1 differs from tensor 0 in dimension 1 \
    ///      (only dimension 0, the one joined along, may differ)"
    /// );
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn cat<T: Borrow<Tensor>, D: Dim>(tensors: &[T], dim: D) -> Result<Tensor> {
        const OP: &str = "cat";
        let ts: Vec<&Tensor> = tensors.iter().map(|t| t.borrow()).collect();
        let first = first_of(OP, &ts)?;
        let d = dim.resolve(first.ndim(), OP)?;
        for (i, t) in ts.iter().enumerate().skip(1) {
            if t.ndim() != first.ndim() {
                return Err(Error::mismatch(
                    OP,
                    first.shape(),
                    t.shape(),
                    format!(
                        ": tensor {i} has {} dimension(s), tensor 0 has {}",
                        t.ndim(),
                        first.ndim()
                    ),
                ));
            }
            let outside = (0..t.ndim()).find(|&k| k != d && t.shape()[k] != first.shape()[k]);
            if let Some(k) = outside {
                return Err(Error::mismatch(
                    OP,
                    first.shape(),
                    t.shape(),
                    format!(
                        ": tensor {i} differs from tensor 0 in dimension {k} \
                         (only dimension {d}, the one joined along, may differ)"
                    ),
                ));
            }
        }
        let sizes: Vec<usize> = ts.iter().map(|t| t.shape()[d]).collect();
        let mut shape = first.shape().to_vec();
        shape[d] = sizes.iter().sum();
        let out = Tensor::zeros_dtype(&shape, first.dtype());
        {
            let strides = contiguous_strides(&shape);
            let mut od = out.storage().write();
            let mut start = 0;
            for (t, &len) in ts.iter().zip(&sizes) {
                let (td, tl) = (t.storage_read(), t.layout());
                let offset = start * strides[d];
                with_slice!(&mut *od, dst => {
                    if let Some(src) = Element::slice(&td) {
                        assign(dst, (&strides, offset), src, (tl.strides(), tl.offset()), t.shape());
                    }
                });
                start += len;
            }
        }
        if !needs_grad(&ts) {
            return Ok(out);
        }
        Ok(out.record(&ts, CatBackward { dim: d, sizes }))
    }

    /// Joins tensors of one shape along a new dimension `dim` (`0..=ndim`; negative counts
    /// from the back of the result). Accepts `&[Tensor]` or `&[&Tensor]`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2])?;
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0], &[2])?;
    /// assert_eq!(Tensor::stack(&[&a, &b], 0)?.to_vec::<f32>()?, vec![1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(Tensor::stack(&[&a, &b], -1)?.to_vec::<f32>()?, vec![1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn stack<T: Borrow<Tensor>, D: Dim>(tensors: &[T], dim: D) -> Result<Tensor> {
        const OP: &str = "stack";
        let ts: Vec<&Tensor> = tensors.iter().map(|t| t.borrow()).collect();
        let first = first_of(OP, &ts)?;
        let d = dim.resolve(first.ndim() + 1, OP)?;
        for (i, t) in ts.iter().enumerate().skip(1) {
            if t.shape() != first.shape() {
                return Err(Error::mismatch(
                    OP,
                    first.shape(),
                    t.shape(),
                    format!(": tensor {i} differs from tensor 0 (stack needs equal shapes)"),
                ));
            }
        }
        let parts = ts
            .iter()
            .map(|t| t.unsqueeze(d))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts, d)
    }

    /// Splits into views of `split_size` along `dim` (the last one smaller if the size
    /// does not divide evenly), like PyTorch's `split(int)`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::arange(0.0, 5.0, 1.0)?;
    /// let parts = x.split(2, 0)?;
    /// let sizes: Vec<usize> = parts.iter().map(|p| p.numel()).collect();
    /// assert_eq!(sizes, vec![2, 2, 1]);
    /// assert_eq!(parts[2].to_vec::<f32>()?, vec![4.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn split<D: Dim>(&self, split_size: usize, dim: D) -> Result<Vec<Tensor>> {
        let d = dim.resolve(self.ndim(), "split")?;
        let size = self.shape()[d];
        if size == 0 {
            return Ok(vec![self.clone()]);
        }
        if split_size == 0 {
            return Err(Error::invalid(
                "split",
                "split_size",
                format!("must be at least 1 to split dimension {d} of size {size}"),
            ));
        }
        let sizes: Vec<usize> = (0..size)
            .step_by(split_size)
            .map(|s| split_size.min(size - s))
            .collect();
        self.split_sizes(&sizes, d)
    }

    /// Splits into views of the given sizes along `dim`; they must add up to its size.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::zeros(&[2, 6]);
    /// let parts = x.split_sizes(&[1, 0, 5], -1)?;
    /// assert_eq!(parts[2].shape(), &[2, 5]);
    /// assert!(x.split_sizes(&[1, 2], 1).is_err());
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn split_sizes<D: Dim>(&self, sizes: &[usize], dim: D) -> Result<Vec<Tensor>> {
        let d = dim.resolve(self.ndim(), "split_sizes")?;
        let size = self.shape()[d];
        let total: usize = sizes.iter().sum();
        if total != size {
            return Err(Error::invalid(
                "split_sizes",
                "sizes",
                format!(
                    "{sizes:?} add up to {total}, but dimension {d} has size {size} (shape {:?})",
                    self.shape()
                ),
            ));
        }
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                let part = self.narrow(d, start, len);
                start += len;
                part
            })
            .collect()
    }

    /// Splits into `chunks` views along `dim` of `ceil(size / chunks)` each (the last one
    /// smaller), as PyTorch does; this can give fewer than `chunks` views. A dimension of
    /// size 0 gives `chunks` empty views.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let gates = Tensor::zeros(&[4, 12]);
    /// let [i, f, g, o]: [Tensor; 4] = gates.chunk(4, 1)?.try_into().unwrap();
    /// assert_eq!(o.shape(), &[4, 3]);
    /// assert_eq!(Tensor::zeros(&[6]).chunk(4, 0)?.len(), 3); // sizes 2, 2, 2
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn chunk<D: Dim>(&self, chunks: usize, dim: D) -> Result<Vec<Tensor>> {
        let d = dim.resolve(self.ndim(), "chunk")?;
        if chunks == 0 {
            return Err(Error::invalid("chunk", "chunks", "must be at least 1"));
        }
        let size = self.shape()[d];
        if size == 0 {
            return self.split_sizes(&vec![0; chunks], d);
        }
        self.split(size.div_ceil(chunks), d)
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, DType, Error, GradcheckOptions, Tensor};

    #[test]
    fn cat_along_each_dim_of_views_matches_the_pieces() {
        let a = Tensor::arange(0.0, 24.0, 1.0)
            .unwrap()
            .reshape(&[2, 3, 4])
            .unwrap();
        let b = a.mul_scalar(-1.0).unwrap().transpose(0, 1).unwrap(); // [3, 2, 4], strided
        let c = Tensor::cat(&[&a.transpose(0, 1).unwrap(), &b], 0).unwrap();
        assert_eq!(c.shape(), &[6, 2, 4]);
        assert_eq!(c.narrow(0, 3, 3).unwrap().to_vec_f64(), b.to_vec_f64());
        for dim in 0..3 {
            let pieces = a.split(1, dim).unwrap();
            let joined = Tensor::cat(&pieces, dim).unwrap();
            assert_eq!(joined.to_vec_f64(), a.to_vec_f64(), "dim {dim}");
        }
        let ints = Tensor::from_vec(vec![1i64, 2], &[2]).unwrap();
        let e = Tensor::zeros_dtype(&[0], DType::I64);
        assert_eq!(
            Tensor::cat(&[&e, &ints, &e, &ints], 0)
                .unwrap()
                .to_vec::<i64>()
                .unwrap(),
            vec![1, 2, 1, 2]
        );
        let empty = Tensor::zeros(&[0, 3]);
        assert_eq!(Tensor::cat(&[&empty, &empty], 1).unwrap().shape(), &[0, 6]);
    }

    #[test]
    fn cat_and_stack_gradchecks() {
        let opts = GradcheckOptions::default();
        let (x, y) = (Tensor::randn(&[2, 3]), Tensor::randn(&[2, 5]));
        gradcheck(
            |t| Tensor::cat(&[&t[0], &t[1], &t[0]], 1),
            &[x.clone(), y],
            opts,
        )
        .unwrap();
        gradcheck(
            |t| Tensor::cat(&[t[0].t()?, t[1].expand(&[4, 2])?], 0),
            &[x.clone(), Tensor::randn(&[2])],
            opts,
        )
        .unwrap();
        gradcheck(
            |t| Tensor::stack(&[&t[0], &t[1].t()?.t()?], 1),
            &[x.clone(), Tensor::randn(&[2, 3])],
            opts,
        )
        .unwrap();
        // Only the inputs that require grad get one.
        let w = Tensor::randn(&[2, 3]).requires_grad_();
        let g = Tensor::cat(&[&x, &w], 0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g.get(&w).unwrap().to_vec::<f32>().unwrap(), vec![1.0; 6]);
    }

    #[test]
    fn splits_are_views_and_backpropagate() {
        let x = Tensor::arange(0.0, 10.0, 1.0)
            .unwrap()
            .reshape(&[2, 5])
            .unwrap();
        let parts = x.split(2, 1).unwrap();
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.shares_storage_with(&x)));
        assert_eq!(parts[2].to_vec::<f32>().unwrap(), vec![4.0, 9.0]);
        let chunks = x.chunk(3, 1).unwrap();
        let sizes: Vec<usize> = chunks.iter().map(|c| c.shape()[1]).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
        assert_eq!(Tensor::zeros(&[0, 2]).chunk(3, 0).unwrap().len(), 3);
        assert_eq!(Tensor::zeros(&[0, 2]).split(3, 0).unwrap().len(), 1);
        gradcheck(
            |t| {
                let p = t[0].chunk(2, 0)?;
                p[0].mul(&p[1])
            },
            &[Tensor::randn(&[4, 3])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn errors_name_the_offending_tensor() {
        let a = Tensor::zeros(&[2, 3]);
        let none: [&Tensor; 0] = [];
        assert!(matches!(
            Tensor::cat(&none, 0),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            Tensor::stack(&none, 0),
            Err(Error::InvalidArgument { .. })
        ));
        let err = Tensor::cat(&[&a, &a, &Tensor::zeros_dtype(&[2, 3], DType::F64)], 0).unwrap_err();
        assert!(matches!(err, Error::DType { .. }));
        assert!(err.to_string().contains("tensor 2"), "{err}");
        let err = Tensor::cat(&[&a, &Tensor::zeros(&[2])], 0).unwrap_err();
        assert!(
            err.to_string().contains("tensor 1 has 1 dimension(s)"),
            "{err}"
        );
        let err = Tensor::stack(&[&a, &a.t().unwrap()], 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stack: shapes [2, 3] and [3, 2] differ: tensor 1 differs from tensor 0 (stack needs equal shapes)"
        );
        assert!(matches!(
            Tensor::cat(&[&a], 2),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(Tensor::stack(&[&a], 2).is_ok());
        assert!(matches!(
            Tensor::stack(&[&a], 3),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(matches!(a.split(0, 1), Err(Error::InvalidArgument { .. })));
        assert!(matches!(a.chunk(0, 1), Err(Error::InvalidArgument { .. })));
        assert!(matches!(
            a.split_sizes(&[2, 2], 1),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
