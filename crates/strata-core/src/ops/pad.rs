//! Constant padding of the trailing dimensions (`torch.nn.functional.pad` with
//! `mode="constant"`), differentiable: the gradient is the matching slice of the output
//! gradient.

use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::map::assign;
use crate::layout::contiguous_strides;
use crate::storage::with_slice;
use crate::{Element, Error, Result, Tensor};

/// Backward of `pad`: the slice of the gradient where the input sits.
struct PadBackward {
    /// The first dim that was padded.
    first: usize,
    /// `(before, after)` per padded dim.
    pads: Vec<(usize, usize)>,
}

impl BackwardOp for PadBackward {
    fn name(&self) -> &'static str {
        "pad"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let shape = inputs[0].shape();
        let mut g = grad.clone();
        for (i, &(before, _)) in self.pads.iter().enumerate() {
            let d = self.first + i;
            g = g.narrow(d, before, shape[d])?;
        }
        Ok(vec![Some(g)])
    }
}

impl Tensor {
    /// Pads the last `pads.len()` dimensions with the constant `value`.
    ///
    /// `pads[i] = (before, after)` applies to dimension `ndim − pads.len() + i`: the pairs run
    /// from the first padded dim to the last dim. This is the reverse of the order of the
    /// flat list of `torch.nn.functional.pad`, which starts with the last dim: for an input
    /// `[N, C, H, W]`, `x.pad(&[(top, bottom), (left, right)], v)` equals
    /// `F.pad(x, (left, right, top, bottom), value=v)`. Every dtype is accepted (`value` is
    /// converted to it). Differentiable (the gradient is the slice of the output gradient
    /// where the input sits).
    ///
    /// Asymmetric padding gives 'same' convolutions with even kernels:
    /// `x.pad(&[(0, 1), (0, 1)], 0.0)?.conv2d(&w_2x2, None, Default::default())`.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 2, 2])?;
    /// // Dim 1 (height): 1 row before, none after; dim 2 (width): none before, 2 after.
    /// let y = x.pad(&[(1, 0), (0, 2)], -1.0)?;
    /// assert_eq!(y.shape(), &[1, 3, 4]);
    /// assert_eq!(
    ///     y.to_vec::<f32>()?,
    ///     vec![-1.0, -1.0, -1.0, -1.0,
    ///           1.0,  2.0, -1.0, -1.0,
    ///           3.0,  4.0, -1.0, -1.0]
    /// );
    /// assert!(x.pad(&[(1, 1); 4], 0.0).is_err()); // more pairs than dims
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn pad(&self, pads: &[(usize, usize)], value: f64) -> Result<Tensor> {
        let nd = self.ndim();
        if pads.len() > nd {
            return Err(Error::shape(
                "pad",
                self.shape(),
                format!(
                    "{} (before, after) pairs given, but the tensor has only {nd} dimension(s)",
                    pads.len()
                ),
            ));
        }
        let first = nd - pads.len();
        let mut shape = self.shape().to_vec();
        for (i, &(before, after)) in pads.iter().enumerate() {
            shape[first + i] += before + after;
        }
        let strides = contiguous_strides(&shape);
        let offset: usize = pads
            .iter()
            .enumerate()
            .map(|(i, &(before, _))| before * strides[first + i])
            .sum();
        let numel: usize = shape.iter().product();
        let data = {
            let src = self.storage_read();
            let l = self.layout();
            with_slice!(&*src, s => {
                let mut out = vec![Element::from_f64(value); numel];
                assign(&mut out, (&strides, offset), s, (l.strides(), l.offset()), self.shape());
                Element::into_storage(out)
            })
        };
        let out = Tensor::from_data(data, &shape);
        if !needs_grad(&[self]) {
            return Ok(out);
        }
        Ok(out.record(
            &[self],
            PadBackward {
                first,
                pads: pads.to_vec(),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, DType, GradcheckOptions, Tensor};

    #[test]
    fn pads_like_torch_and_keeps_dtype() {
        let x = Tensor::arange_dtype(0.0, 6.0, 1.0, DType::I64)
            .unwrap()
            .reshape(&[2, 3])
            .unwrap();
        // F.pad(x, (0, 1)) pads the last dim only.
        let y = x.pad(&[(0, 1)], 9.0).unwrap();
        assert_eq!(y.shape(), &[2, 4]);
        assert_eq!(y.to_vec::<i64>().unwrap(), vec![0, 1, 2, 9, 3, 4, 5, 9]);
        // F.pad(x, (1, 0, 0, 1)): last dim 1 before, first dim 1 after.
        let y = x.pad(&[(0, 1), (1, 0)], 0.0).unwrap();
        assert_eq!(
            y.to_vec::<i64>().unwrap(),
            vec![0, 0, 1, 2, 0, 3, 4, 5, 0, 0, 0, 0]
        );
        // No pairs, or zero pairs: the same values.
        assert_eq!(
            x.pad(&[], 1.0).unwrap().to_vec::<i64>().unwrap(),
            x.to_vec::<i64>().unwrap()
        );
        assert_eq!(
            x.pad(&[(0, 0), (0, 0)], 1.0)
                .unwrap()
                .to_vec::<i64>()
                .unwrap(),
            x.to_vec::<i64>().unwrap()
        );
    }

    #[test]
    fn pad_of_a_transposed_view() {
        let x = Tensor::arange(0.0, 6.0, 1.0)
            .unwrap()
            .reshape(&[2, 3])
            .unwrap();
        let y = x.t().unwrap().pad(&[(1, 0)], 0.5).unwrap();
        assert_eq!(
            y.to_vec::<f32>().unwrap(),
            vec![0.5, 0.0, 3.0, 0.5, 1.0, 4.0, 0.5, 2.0, 5.0]
        );
    }

    #[test]
    fn gradchecks() {
        let opts = GradcheckOptions::default();
        gradcheck(
            |t| t[0].pad(&[(1, 2), (0, 3)], 0.3)?.exp(),
            &[Tensor::randn(&[2, 3, 4])],
            opts,
        )
        .unwrap();
        gradcheck(
            |t| {
                t[0].permute(&[2, 0, 1])?
                    .pad(&[(2, 0), (1, 1), (0, 1)], -1.0)?
                    .square()
            },
            &[Tensor::randn(&[2, 3, 4])],
            opts,
        )
        .unwrap();
    }
}
