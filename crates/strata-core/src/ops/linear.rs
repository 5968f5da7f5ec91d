//! The fused affine map of a fully connected layer, `y = x · Wᵀ + b`
//! (`torch.nn.functional.linear`), as one recorded op.
//!
//! The forward writes the bias into every output row and then accumulates the product onto
//! it (`product_into` with `accumulate`): one output buffer, one pass, one graph node,
//! where `matmul(W.t())` followed by `add(b)` takes two buffers, two passes and two nodes.
//! The weight `[out, in]` is read transposed in place (its strides swapped), and the
//! leading dims of `x` are folded into rows of one product.
//!
//! The backward is three products at most, each only for an input that requires grad:
//! `∂x = g · W`, `∂W = gᵀ · x` (rows of `x` folded) and `∂b = Σ_rows g`.

use super::matmul::{fold_rows, matmul_nd, product_into, Mat};
use super::{float_dispatch, slice_of};
use crate::autograd::BackwardOp;
use crate::kernels::parallel::{for_each_run_mut, PAR_MIN_ELEMS};
use crate::{Error, Result, Tensor};

/// The row stride of `[..., n]` seen as `[rows, n]` without a copy: the leading dims must
/// nest (each one's stride the next one's stride times its size, size-1 dims aside).
/// `None` when they do not (a permuted batch).
fn folded_row_stride(shape: &[usize], strides: &[usize]) -> Option<usize> {
    let lead = shape.len().saturating_sub(1);
    // (stride of the innermost leading dim of size > 1, elements spanned so far)
    let mut row: Option<(usize, usize)> = None;
    for d in (0..lead).rev() {
        if shape[d] == 1 {
            continue;
        }
        row = match row {
            None => Some((strides[d], shape[d])),
            Some((rs, span)) if strides[d] == rs * span => Some((rs, span * shape[d])),
            Some(_) => return None,
        };
    }
    // Only one row (or none): its stride is never used.
    Some(row.map_or(0, |(rs, _)| rs))
}

/// Checks the operands of `linear`, returning `(in_features, out_features)`.
fn check(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<(usize, usize)> {
    if x.ndim() == 0 {
        return Err(Error::shape(
            "linear",
            x.shape(),
            "expected an input of at least one dimension, [..., in_features]",
        ));
    }
    if w.ndim() != 2 {
        return Err(Error::shape(
            "linear",
            w.shape(),
            "expected a 2-D weight [out_features, in_features]",
        ));
    }
    let (out_f, in_f) = (w.shape()[0], w.shape()[1]);
    let in_x = x.shape()[x.ndim() - 1];
    if in_x != in_f {
        return Err(Error::shape(
            "linear",
            x.shape(),
            format!(
                "expected an input whose last dimension is {in_f}, the in_features of weight {:?} ([out, in])",
                w.shape()
            ),
        ));
    }
    if x.dtype() != w.dtype() {
        return Err(Error::DTypeMismatch {
            op: "linear",
            lhs: x.dtype(),
            rhs: w.dtype(),
        });
    }
    if let Some(b) = b {
        if b.shape() != [out_f] {
            return Err(Error::shape(
                "linear",
                b.shape(),
                format!(
                    "expected a bias of shape [{out_f}], one value per output feature of weight {:?}",
                    w.shape()
                ),
            ));
        }
        if b.dtype() != x.dtype() {
            return Err(Error::DTypeMismatch {
                op: "linear",
                lhs: x.dtype(),
                rhs: b.dtype(),
            });
        }
    }
    Ok((in_f, out_f))
}

/// The forward kernel: `x · Wᵀ (+ b)` into one fresh buffer, recording nothing.
fn linear_forward(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    (in_f, out_f): (usize, usize),
) -> Result<Tensor> {
    // Rows of `x`, read in place when its leading dims nest, else from a contiguous copy.
    let copied;
    let (x, x_rs) = match folded_row_stride(x.shape(), x.strides()) {
        Some(rs) => (x, rs),
        None => {
            copied = x.contiguous();
            (&copied, in_f)
        }
    };
    let rows: usize = x.shape()[..x.ndim() - 1].iter().product();
    let mut out_shape = x.shape()[..x.ndim() - 1].to_vec();
    out_shape.push(out_f);
    let xm = Mat {
        offset: x.layout().offset(),
        rs: x_rs,
        cs: x.strides()[x.ndim() - 1],
    };
    // Wᵀ: [in, out], the weight's strides swapped.
    let wm = Mat {
        offset: w.layout().offset(),
        rs: w.strides()[1],
        cs: w.strides()[0],
    };
    let n = rows * out_f;
    Ok(float_dispatch!(x.dtype(), "linear", T => {
        let (dx, dw) = (x.storage_read(), w.storage_read());
        let (xs, ws) = (slice_of::<T>(&dx, "linear")?, slice_of::<T>(&dw, "linear")?);
        let (mut out, start) = crate::kernels::alloc::with_capacity_aligned::<T>(n);
        if let Some(b) = b {
            let db = b.storage_read();
            let bs = slice_of::<T>(&db, "linear")?;
            let (off, st) = (b.layout().offset(), b.strides()[0]);
            let gathered: Vec<T>;
            let bias = if st == 1 {
                &bs[off..off + out_f]
            } else {
                gathered = (0..out_f).map(|j| bs[off + j * st]).collect();
                &gathered[..]
            };
            if out_f > 0 {
                let fill = |rows: &mut [std::mem::MaybeUninit<T>]| {
                    for row in rows.chunks_exact_mut(out_f) {
                        for (d, &v) in row.iter_mut().zip(bias) {
                            d.write(v);
                        }
                    }
                };
                let slots = &mut out.spare_capacity_mut()[..n];
                // Every thread takes a share of a large output (W3's 2048 × 96 logits),
                // which one thread filled while the others waited.
                if n >= 2 * PAR_MIN_ELEMS {
                    for_each_run_mut(slots, out_f, |_, rows| fill(rows));
                } else {
                    fill(slots);
                }
            }
        }
        let dst = out.spare_capacity_mut().as_mut_ptr() as *mut T;
        // SAFETY: `xm` and `wm` come from valid layouts of `x` and `w` (the rows of `x`
        // nest with stride `x_rs`, checked above), so every index of the [rows, in] and
        // [in, out] operands is in bounds; `dst` has room for the `rows * out` outputs and
        // aliases no input. With a bias every output was written above, so accumulating
        // reads initialised values; without one, `product_into` overwrites every output
        // (zeros when `in == 0`).
        unsafe {
            product_into::<T>((rows, out_f, in_f), dst, (out_f, 1), xs, xm, ws, wm, true, b.is_some());
            out.set_len(start + n);
        }
        Tensor::from_data_at(T::into_storage(out), &out_shape, start)
    }))
}

/// Backward of `linear`; inputs `[x, w]` or `[x, w, b]`.
struct LinearBackward;

impl BackwardOp for LinearBackward {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let (x, w) = (&inputs[0], &inputs[1]);
        // g as [rows, out], matching x as [rows, in].
        let g = fold_rows(grad)?;
        let gx = if x.requires_grad() {
            Some(matmul_nd(&g, w)?.reshape(x.shape())?)
        } else {
            None
        };
        let gw = if w.requires_grad() {
            Some(matmul_nd(&g.t()?, &fold_rows(x)?)?)
        } else {
            None
        };
        let mut grads = vec![gx, gw];
        if let Some(b) = inputs.get(2) {
            grads.push(if b.requires_grad() {
                Some(g.sum(&[0usize], false)?)
            } else {
                None
            });
        }
        Ok(grads)
    }
}

impl Tensor {
    /// The affine map of a fully connected layer, `x · weightᵀ + bias`, with
    /// `torch.nn.functional.linear` semantics: `self` is `[..., in]` (any number of leading
    /// dims, or just `[in]`), `weight` is `[out, in]`, `bias` is `[out]`; the result is
    /// `[..., out]`. One op and one output buffer (the bias is written first and the
    /// product added onto it), one node in the graph.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let w = Tensor::from_vec(vec![1.0f32, 0.0, 1.0, 1.0, 0.0, -1.0], &[3, 2])?;
    /// let b = Tensor::from_vec(vec![0.5f32, 0.0, 1.0], &[3])?;
    /// let y = x.linear(&w, Some(&b))?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![1.5, 3.0, -1.0, 3.5, 7.0, -3.0]);
    /// assert_eq!(x.linear(&w, None)?.shape(), &[2, 3]);
    /// // A bias must have one value per output feature.
    /// let err = x.linear(&w, Some(&Tensor::zeros(&[2]))).unwrap_err();
    /// assert!(err.to_string().starts_with("linear: got shape [2], expected a bias of shape [3]"));
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let sizes = check(self, weight, bias)?;
        let out = linear_forward(self, weight, bias, sizes)?;
        Ok(match bias {
            Some(b) => out.record(&[self, weight, b], LinearBackward),
            None => out.record(&[self, weight], LinearBackward),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::folded_row_stride;
    use crate::{gradcheck, no_grad, DType, Error, Generator, GradcheckOptions, Tensor};

    fn randn(seed: u64, shape: &[usize], dtype: DType) -> Tensor {
        Tensor::randn_with(&mut Generator::new(seed), shape, dtype)
    }

    /// `x · Wᵀ + b` computed in f64 from plain vectors (`x` as `[rows, in]`).
    fn naive(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Vec<f64> {
        let (out_f, in_f) = (w.shape()[0], w.shape()[1]);
        let xv = x.contiguous().to_vec_f64();
        let wv = w.contiguous().to_vec_f64();
        let bv = b.map(|b| b.contiguous().to_vec_f64());
        let rows = xv.len() / in_f;
        let mut y = vec![0.0; rows * out_f];
        for r in 0..rows {
            for o in 0..out_f {
                let dot: f64 = (0..in_f).map(|i| xv[r * in_f + i] * wv[o * in_f + i]).sum();
                y[r * out_f + o] = dot + bv.as_ref().map_or(0.0, |b| b[o]);
            }
        }
        y
    }

    fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= rel * (1.0 + w.abs()),
                "{what}: element {i}: {g} vs {w}"
            );
        }
    }

    #[test]
    fn small_values_by_hand() {
        // x = [[1, 2], [3, 4]], W = [[1, 0], [1, 1], [0, -1]], b = [0.5, 0, 1].
        let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let w = Tensor::from_vec(vec![1.0f64, 0.0, 1.0, 1.0, 0.0, -1.0], &[3, 2]).unwrap();
        let b = Tensor::from_vec(vec![0.5f64, 0.0, 1.0], &[3]).unwrap();
        let y = x.linear(&w, Some(&b)).unwrap();
        assert_eq!(y.shape(), &[2, 3]);
        assert_eq!(
            y.to_vec::<f64>().unwrap(),
            vec![1.5, 3.0, -1.0, 3.5, 7.0, -3.0]
        );
        let y = x.linear(&w, None).unwrap();
        assert_eq!(
            y.to_vec::<f64>().unwrap(),
            vec![1.0, 3.0, -2.0, 3.0, 7.0, -4.0]
        );
        // 1-D input: [in] -> [out].
        let y = x.select(0, 1).unwrap().linear(&w, Some(&b)).unwrap();
        assert_eq!(y.shape(), &[3]);
        assert_eq!(y.to_vec::<f64>().unwrap(), vec![3.5, 7.0, -3.0]);
        // No input features: the output is the bias (or zeros).
        let e = Tensor::zeros_dtype(&[4, 0], DType::F64);
        let w0 = Tensor::zeros_dtype(&[3, 0], DType::F64);
        assert_eq!(
            e.linear(&w0, Some(&b)).unwrap().to_vec::<f64>().unwrap(),
            [0.5, 0.0, 1.0].repeat(4)
        );
        assert_eq!(
            e.linear(&w0, None).unwrap().to_vec::<f64>().unwrap(),
            vec![0.0; 12]
        );
        // No rows: an empty output of the right shape.
        let none = Tensor::zeros_dtype(&[0, 2], DType::F64);
        assert_eq!(none.linear(&w, Some(&b)).unwrap().shape(), &[0, 3]);
    }

    #[test]
    fn f32_matches_matmul_plus_add_at_layer_sizes() {
        for &(rows, in_f, out_f) in &[
            (1, 784, 512),
            (16, 784, 512),
            (128, 784, 512),
            (1, 512, 256),
            (16, 512, 256),
            (128, 256, 10),
            (3, 7, 5),
            (300, 200, 300),
        ] {
            let x = randn(1, &[rows, in_f], DType::F32);
            let w = randn(2, &[out_f, in_f], DType::F32);
            let b = randn(3, &[out_f], DType::F32);
            let want = naive(&x, &w, Some(&b));
            let unfused = x.matmul(&w.t().unwrap()).unwrap().add(&b).unwrap();
            let fused = x.linear(&w, Some(&b)).unwrap();
            assert_eq!(fused.shape(), &[rows, out_f]);
            assert_eq!(fused.dtype(), DType::F32);
            let what = format!("{rows}x{in_f}->{out_f}");
            assert_close(&fused.to_vec_f64(), &unfused.to_vec_f64(), 1e-4, &what);
            assert_close(&fused.to_vec_f64(), &want, 1e-4, &what);
            // Without bias, against matmul alone.
            let fused = x.linear(&w, None).unwrap();
            let unfused = x.matmul(&w.t().unwrap()).unwrap();
            assert_close(&fused.to_vec_f64(), &unfused.to_vec_f64(), 1e-4, &what);
            // The output starts on a cache line, like a product's.
            assert_eq!(fused.read::<f32>().unwrap().as_ptr() as usize % 64, 0);
        }
    }

    #[test]
    fn bias_accumulates_in_every_product_kernel() {
        // f64 goes to the `gemm` crate (adding onto the bias through its `read_dst`).
        let x = randn(40, &[64, 100], DType::F64);
        let w = randn(41, &[50, 100], DType::F64);
        let b = randn(42, &[50], DType::F64);
        let y = x.linear(&w, Some(&b)).unwrap();
        assert_close(&y.to_vec_f64(), &naive(&x, &w, Some(&b)), 1e-12, "f64");
        // A large f32 product goes to the `gemm` crate too (every side >= 192, >= 2^30
        // multiply-adds); against the unfused op.
        let x = randn(43, &[1024, 1024], DType::F32);
        let w = randn(44, &[1024, 1024], DType::F32);
        let b = randn(45, &[1024], DType::F32);
        let fused = x.linear(&w, Some(&b)).unwrap().to_vec_f64();
        let unfused = x.matmul(&w.t().unwrap()).unwrap().add(&b).unwrap();
        assert_close(&fused, &unfused.to_vec_f64(), 1e-4, "f32 1024³");
    }

    #[test]
    fn strided_operands_and_higher_rank_inputs() {
        let w = randn(4, &[6, 5], DType::F32);
        let b = randn(5, &[6], DType::F32);
        // A 3-D input, contiguous and permuted (its leading dims do not nest).
        let x = randn(6, &[4, 3, 5], DType::F32);
        let xp = x.permute(&[1, 0, 2]).unwrap();
        assert_eq!(folded_row_stride(xp.shape(), xp.strides()), None);
        for (input, what) in [(&x, "3-D"), (&xp, "permuted 3-D")] {
            let y = input.linear(&w, Some(&b)).unwrap();
            let mut shape = input.shape()[..2].to_vec();
            shape.push(6);
            assert_eq!(y.shape(), &shape[..]);
            assert_close(&y.to_vec_f64(), &naive(input, &w, Some(&b)), 1e-5, what);
        }
        // A transposed weight view, a strided bias and a transposed 2-D input.
        let wt = randn(7, &[5, 6], DType::F32).t().unwrap();
        let wide = randn(8, &[12], DType::F32);
        let bs = wide.reshape(&[6, 2]).unwrap().select(1, 1).unwrap();
        let xt = randn(9, &[5, 4], DType::F32).t().unwrap();
        let y = xt.linear(&wt, Some(&bs)).unwrap();
        assert_close(
            &y.to_vec_f64(),
            &naive(&xt, &wt, Some(&bs)),
            1e-5,
            "strided",
        );
        // A strided 1-D input (a column), and a batch broadcast from one row.
        let col = randn(10, &[5, 3], DType::F32).select(1, 2).unwrap();
        let y = col.linear(&w, Some(&b)).unwrap();
        assert_eq!(y.shape(), &[6]);
        assert_close(&y.to_vec_f64(), &naive(&col, &w, Some(&b)), 1e-5, "column");
        let rows = col.unsqueeze(0).unwrap().expand(&[3, 5]).unwrap();
        let y = rows.linear(&w, None).unwrap();
        assert_close(&y.to_vec_f64(), &naive(&rows, &w, None), 1e-5, "expanded");
        // 4-D views: a middle dim selected (leading dims that do not nest: a copy), and a
        // narrowed batch of one (they nest around the size-1 dim: read in place).
        let x4 = randn(11, &[2, 6, 3, 5], DType::F64);
        let picked = x4.narrow(1, 2, 3).unwrap().select(1, 1).unwrap(); // [2, 3, 5]
        assert!(folded_row_stride(picked.shape(), picked.strides()).is_none());
        let part = x4.narrow(0, 1, 1).unwrap(); // [1, 6, 3, 5]
        assert_eq!(folded_row_stride(part.shape(), part.strides()), Some(5));
        let w64 = randn(12, &[4, 5], DType::F64);
        for t in [&picked, &part] {
            let y = t.linear(&w64, None).unwrap();
            assert_close(&y.to_vec_f64(), &naive(t, &w64, None), 1e-12, "4-D view");
        }
    }

    #[test]
    fn gradchecks_every_rank_with_and_without_bias() {
        let opts = GradcheckOptions::default();
        for x_shape in [vec![3, 4], vec![2, 3, 4], vec![4]] {
            gradcheck(
                |t| t[0].linear(&t[1], Some(&t[2])),
                &[
                    Tensor::randn(&x_shape),
                    Tensor::randn(&[5, 4]),
                    Tensor::randn(&[5]),
                ],
                opts,
            )
            .unwrap_or_else(|e| panic!("{x_shape:?} with bias: {e}"));
            gradcheck(
                |t| t[0].linear(&t[1], None),
                &[Tensor::randn(&x_shape), Tensor::randn(&[5, 4])],
                opts,
            )
            .unwrap_or_else(|e| panic!("{x_shape:?} without bias: {e}"));
            // A non-contiguous weight (a transposed view) and input.
            gradcheck(
                |t| t[0].linear(&t[1].t()?, Some(&t[2])),
                &[
                    Tensor::randn(&x_shape),
                    Tensor::randn(&[4, 5]),
                    Tensor::randn(&[5]),
                ],
                opts,
            )
            .unwrap_or_else(|e| panic!("{x_shape:?} transposed weight: {e}"));
        }
        gradcheck(
            |t| t[0].permute(&[1, 0, 2])?.linear(&t[1], Some(&t[2])),
            &[
                Tensor::randn(&[3, 2, 4]),
                Tensor::randn(&[5, 4]),
                Tensor::randn(&[5]),
            ],
            opts,
        )
        .unwrap();
    }

    /// Gradients of `sum(linear(x, W, b) * r)` for every subset of inputs requiring grad:
    /// present (and equal to the unfused op's) exactly for those that require it.
    #[test]
    fn gradients_only_for_inputs_that_require_them() {
        let x0 = randn(20, &[2, 3, 4], DType::F64);
        let w0 = randn(21, &[5, 4], DType::F64);
        let b0 = randn(22, &[5], DType::F64);
        let r = randn(23, &[2, 3, 5], DType::F64);
        // Reference gradients through matmul + add.
        let (x, w, b) = (
            x0.detach().requires_grad_(),
            w0.detach().requires_grad_(),
            b0.detach().requires_grad_(),
        );
        let loss = x
            .matmul(&w.t().unwrap())
            .unwrap()
            .add(&b)
            .unwrap()
            .mul(&r)
            .unwrap()
            .sum_all()
            .unwrap();
        let g = loss.backward().unwrap();
        let want = [
            g.get(&x).unwrap().to_vec_f64(),
            g.get(&w).unwrap().to_vec_f64(),
            g.get(&b).unwrap().to_vec_f64(),
        ];
        for mask in 0..8u32 {
            let leaf = |t: &Tensor, i: u32| {
                let t = t.detach();
                if mask & (1 << i) != 0 {
                    t.requires_grad_()
                } else {
                    t
                }
            };
            let (x, w, b) = (leaf(&x0, 0), leaf(&w0, 1), leaf(&b0, 2));
            let y = x.linear(&w, Some(&b)).unwrap();
            assert_close(
                &y.to_vec_f64(),
                &naive(&x0, &w0, Some(&b0)),
                1e-12,
                "forward",
            );
            if mask == 0 {
                assert!(!y.requires_grad());
                assert!(y.graph().unwrap().is_empty());
                continue;
            }
            // One node, named `linear`, over all three inputs.
            let graph = y.graph().unwrap();
            assert_eq!(graph.len(), 1);
            assert_eq!(graph[0].op, "linear");
            assert_eq!(graph[0].inputs.len(), 3);
            let g = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
            for (i, t) in [&x, &w, &b].into_iter().enumerate() {
                match g.get(t) {
                    Some(got) => {
                        assert!(
                            mask & (1 << i) != 0,
                            "mask {mask}: input {i} got a gradient"
                        );
                        assert_eq!(got.shape(), t.shape());
                        assert_close(&got.to_vec_f64(), &want[i], 1e-12, "gradient");
                    }
                    None => assert!(mask & (1 << i) == 0, "mask {mask}: input {i} has none"),
                }
            }
        }
        // Under no_grad nothing is recorded.
        let w = w0.detach().requires_grad_();
        let y = no_grad(|| x0.linear(&w, None)).unwrap();
        assert!(!y.requires_grad());
        // A transposed weight view gets a gradient of its own shape.
        let wt = randn(24, &[4, 5], DType::F64).requires_grad_();
        let y = x0.linear(&wt.t().unwrap(), None).unwrap();
        let g = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(&wt).unwrap().shape(), &[4, 5]);
        assert_close(
            &g.get(&wt).unwrap().t().unwrap().contiguous().to_vec_f64(),
            &want[1],
            1e-12,
            "transposed weight",
        );
    }

    #[test]
    fn f32_gradients_match_the_unfused_op() {
        for rows in [1, 16, 128] {
            let x0 = randn(30, &[rows, 96], DType::F32);
            let w0 = randn(31, &[40, 96], DType::F32);
            let b0 = randn(32, &[40], DType::F32);
            let r = randn(33, &[rows, 40], DType::F32);
            let grads = |fused: bool| {
                let (x, w, b) = (
                    x0.detach().requires_grad_(),
                    w0.detach().requires_grad_(),
                    b0.detach().requires_grad_(),
                );
                let y = if fused {
                    x.linear(&w, Some(&b)).unwrap()
                } else {
                    x.matmul(&w.t().unwrap()).unwrap().add(&b).unwrap()
                };
                let g = y.mul(&r).unwrap().sum_all().unwrap().backward().unwrap();
                [&x, &w, &b].map(|t| g.get(t).unwrap().to_vec_f64())
            };
            let (got, want) = (grads(true), grads(false));
            for i in 0..3 {
                assert_close(&got[i], &want[i], 1e-4, &format!("rows {rows}, input {i}"));
            }
        }
    }

    #[test]
    fn shape_and_dtype_errors_are_clear() {
        let x = Tensor::zeros(&[32, 784]);
        let w = Tensor::zeros(&[512, 256]);
        let err = x.linear(&w, None).unwrap_err();
        assert!(matches!(err, Error::Shape { op: "linear", .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "linear: got shape [32, 784], expected an input whose last dimension is 256, \
             the in_features of weight [512, 256] ([out, in])"
        );
        let w = Tensor::zeros(&[512, 784]);
        let err = x.linear(&w, Some(&Tensor::zeros(&[784]))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linear: got shape [784], expected a bias of shape [512], one value per output \
             feature of weight [512, 784]"
        );
        let err = x.linear(&w, Some(&Tensor::zeros(&[1, 512]))).unwrap_err();
        assert!(err.to_string().contains("got shape [1, 512]"), "{err}");
        let err = x.linear(&Tensor::zeros(&[784]), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "linear: got shape [784], expected a 2-D weight [out_features, in_features]"
        );
        let err = Tensor::scalar(1.0f32).linear(&w, None).unwrap_err();
        assert!(err.to_string().starts_with("linear: got shape []"), "{err}");
        // Dtypes: the weight's and the bias's must match the input's; i64 is not accepted.
        let w64 = Tensor::zeros_dtype(&[512, 784], DType::F64);
        let err = x.linear(&w64, None).unwrap_err();
        assert_eq!(
            err,
            Error::DTypeMismatch {
                op: "linear",
                lhs: DType::F32,
                rhs: DType::F64
            }
        );
        let b64 = Tensor::zeros_dtype(&[512], DType::F64);
        let err = x.linear(&w, Some(&b64)).unwrap_err();
        assert_eq!(
            err,
            Error::DTypeMismatch {
                op: "linear",
                lhs: DType::F32,
                rhs: DType::F64
            }
        );
        let xi = Tensor::zeros_dtype(&[2, 3], DType::I64);
        let wi = Tensor::zeros_dtype(&[4, 3], DType::I64);
        let err = xi.linear(&wi, None).unwrap_err();
        assert!(matches!(err, Error::DType { op: "linear", .. }), "{err:?}");
    }
}
