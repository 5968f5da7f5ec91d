//! Matrix products (our AVX-512 kernels, or the `gemm` crate's): 2-D, batched with
//! broadcast batch dims, and the vector cases of `torch.matmul`.
//!
//! Operands may be strided (a transposed weight needs no copy: `gemm` takes row and column
//! strides). Large products are split across threads inside the product kernel; many small
//! products in a batch are spread over threads in runs of whole products; tiny products
//! take a plain loop, which beats any packing kernel's set-up cost.

use super::{float_dispatch, slice_of};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::parallel::{for_each_piece, num_threads};
use crate::layout::broadcast_shape;
use crate::{Error, FloatElement, Result, Tensor};
use gemm_common::Parallelism;

/// Below this many multiply-adds a product runs as a plain loop.
const TINY_PRODUCT: usize = 4 * 1024;
/// Products whose every dimension is at least `LARGE_SIDE` and whose multiply-adds are at
/// least `LARGE_PRODUCT` go to the `gemm` crate.
const LARGE_SIDE: usize = 192;
const LARGE_PRODUCT: usize = 1 << 30;
/// Outputs with fewer rows than this skip the packing f32 kernels.
const PACKING_MIN_ROWS: usize = 16;
/// Above this many multiply-adds `gemm` splits one product across threads.
pub(crate) const PARALLEL_PRODUCT: usize = 96 * 96 * 96;

/// One matrix operand inside a buffer: base offset, row stride, column stride.
#[derive(Clone, Copy)]
pub(crate) struct Mat {
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

/// `dst[m, n] = lhs[m, k] · rhs[k, n]` (overwrites `dst`). The one entry point to `gemm` for
/// every kernel in the crate (matmul, convolution, recurrent cells).
///
/// # Safety
/// All indices `offset + i * rs + j * cs` inside the given sizes must be in bounds of the
/// respective buffers; `dst` must be valid for writes and not alias the inputs.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product<T: FloatElement>(
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    (dst_rs, dst_cs): (usize, usize),
    lhs: &[T],
    l: Mat,
    rhs: &[T],
    r: Mat,
    parallel: bool,
) {
    product_into(
        (m, n, k),
        dst,
        (dst_rs, dst_cs),
        lhs,
        l,
        rhs,
        r,
        parallel,
        false,
    )
}

/// Like [`product`], adding to `dst` (`dst += lhs · rhs`) when `accumulate` is true.
///
/// # Safety
/// As for [`product`]; with `accumulate`, `dst` must also be initialised.
pub(crate) unsafe fn product_into<T: FloatElement>(
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    (dst_rs, dst_cs): (usize, usize),
    lhs: &[T],
    l: Mat,
    rhs: &[T],
    r: Mat,
    parallel: bool,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *dst.add(i * dst_rs + j * dst_cs) = T::zero();
                }
            }
        }
        return;
    }
    // One row or one column of output (batch-1 inference): a matrix-vector product, also
    // when tiny: W5's last layer (1 × 256 · 256 × 10) took 4.3 µs in the plain loop below,
    // one dependent addition after another, and 0.5–0.9 µs here (Xeon, SPR class).
    #[cfg(target_arch = "x86_64")]
    if T::DTYPE == crate::DType::F32
        && (m == 1 || n == 1)
        && crate::kernels::sgemm::available()
        && vector_product(
            (m, n, k),
            dst as *mut f32,
            (dst_rs, dst_cs),
            (lhs.as_ptr() as *const f32, l),
            (rhs.as_ptr() as *const f32, r),
            parallel,
            accumulate,
        )
    {
        return;
    }
    if m * n * k <= TINY_PRODUCT {
        for i in 0..m {
            for j in 0..n {
                let mut acc = T::zero();
                for p in 0..k {
                    acc +=
                        lhs[l.offset + i * l.rs + p * l.cs] * rhs[r.offset + p * r.rs + j * r.cs];
                }
                let d = dst.add(i * dst_rs + j * dst_cs);
                *d = if accumulate { *d + acc } else { acc };
            }
        }
        return;
    }
    let threads = if parallel && m * n * k >= PARALLEL_PRODUCT {
        num_threads()
    } else {
        1
    };
    // The packing kernels need enough rows of output to repay packing `rhs`; a product of
    // a few rows (batch 16) goes to `gemm`, which does it without packing. (A column-major
    // output is computed transposed, so its columns count.)
    // Very large products run faster in the `gemm` crate's kernels (measured with two
    // threads: 1024³ 343–351 vs 294–310 GFLOP/s). Below that its rayon hand-offs cost more
    // than its kernels gain: at 256³ it is erratic (205–318) where ours holds 263–269, and
    // sending W3's 1024×256×2048 weight gradient to it slowed the whole step by 8 %.
    let rows_out = if dst_cs != 1 && dst_rs == 1 { n } else { m };
    let large = m.min(n).min(k) >= LARGE_SIDE && m * n * k >= LARGE_PRODUCT;
    #[cfg(target_arch = "x86_64")]
    if T::DTYPE == crate::DType::F32
        && rows_out >= PACKING_MIN_ROWS
        && !large
        && crate::kernels::sgemm::available()
    {
        use crate::kernels::sgemm::{sgemm, Src};
        // SAFETY: T is f32 (checked above), so the casts only rename the element type.
        let src = |s: &[T], at: Mat| Src {
            ptr: s.as_ptr().add(at.offset) as *const f32,
            rs: at.rs,
            cs: at.cs,
        };
        let (a, b) = (src(lhs, l), src(rhs, r));
        sgemm(
            (m, n, k),
            dst as *mut f32,
            (dst_rs, dst_cs),
            a,
            b,
            accumulate,
            threads,
        );
        return;
    }
    let par = if threads > 1 {
        Parallelism::Rayon(num_threads())
    } else {
        Parallelism::None
    };
    crate_gemm(
        (m, n, k),
        dst,
        (dst_rs, dst_cs),
        lhs.as_ptr().add(l.offset),
        l,
        rhs.as_ptr().add(r.offset),
        r,
        accumulate,
        par,
    );
}

/// `dst (+)= lhs · rhs` through the `gemm` crate's f32 or f64 kernels, called directly (its
/// facade would also compile the complex-number kernels: a minute of every clean build).
///
/// # Safety
/// As for [`product_into`]; `lhs` and `rhs` point at the operands' first elements.
#[allow(clippy::too_many_arguments)]
unsafe fn crate_gemm<T: FloatElement>(
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    (dst_rs, dst_cs): (usize, usize),
    lhs: *const T,
    l: Mat,
    rhs: *const T,
    r: Mat,
    accumulate: bool,
    par: Parallelism,
) {
    // As the facade does: its micro-kernels want a column-major output, so a row-major one
    // is computed as the transposed product `dstᵀ = rhsᵀ · lhsᵀ`.
    let (m, n, dst_rs, dst_cs, lhs, l, rhs, r) = if dst_cs < dst_rs {
        let t = |x: Mat| Mat {
            rs: x.cs,
            cs: x.rs,
            ..x
        };
        (n, m, dst_cs, dst_rs, rhs, t(r), lhs, t(l))
    } else {
        (m, n, dst_rs, dst_cs, lhs, l, rhs, r)
    };
    let s = |x: usize| x as isize;
    macro_rules! call {
        ($t:ty, $get:path) => {
            $get()(
                m,
                n,
                k,
                dst as *mut $t,
                s(dst_cs),
                s(dst_rs),
                accumulate,
                lhs as *const $t,
                s(l.cs),
                s(l.rs),
                rhs as *const $t,
                s(r.cs),
                s(r.rs),
                if accumulate { 1.0 } else { 0.0 },
                1.0,
                false,
                false,
                false,
                par,
            )
        };
    }
    // The casts only rename the element type: T is the type the dtype names.
    match T::DTYPE {
        crate::DType::F32 => call!(f32, gemm_f32::gemm::f32::get_gemm_fn),
        crate::DType::F64 => call!(f64, gemm_f64::gemm::f64::get_gemm_fn),
        crate::DType::I64 | crate::DType::Bool => unreachable!("float elements are f32 or f64"),
    }
}

/// A product with one row or one column of output, as a matrix-vector product
/// (`kernels/gemv.rs`); a single column is the same product transposed (`yᵀ = vᵀ · Aᵀ`).
/// Returns false, computing nothing, when the matrix operand is contiguous along neither
/// side.
///
/// # Safety
/// As for [`product_into`], with `m == 1 || n == 1`, `k > 0`, and the AVX-512 kernels
/// available.
#[cfg(target_arch = "x86_64")]
unsafe fn vector_product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): (usize, usize),
    (lhs, l): (*const f32, Mat),
    (rhs, r): (*const f32, Mat),
    parallel: bool,
    accumulate: bool,
) -> bool {
    use crate::kernels::{gemv::sgemv, sgemm::Src};
    // The vector `x` (with its stride), the matrix `B` and the output's length and stride.
    let (x, x_stride, b, len, y_cs) = if m == 1 {
        let b = Src {
            ptr: rhs.add(r.offset),
            rs: r.rs,
            cs: r.cs,
        };
        (lhs.add(l.offset), l.cs, b, n, dst_cs)
    } else {
        let b = Src {
            ptr: lhs.add(l.offset),
            rs: l.cs,
            cs: l.rs,
        };
        (rhs.add(r.offset), r.rs, b, m, dst_rs)
    };
    if b.rs != 1 && b.cs != 1 {
        return false;
    }
    let gathered: Vec<f32>;
    let x = if x_stride == 1 {
        x
    } else {
        gathered = (0..k).map(|p| *x.add(p * x_stride)).collect();
        gathered.as_ptr()
    };
    sgemv((len, k), dst, y_cs, x, b, accumulate, parallel)
}

/// A raw output pointer that may cross threads (each thread writes a disjoint block).
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer. (A method, so closures capture the whole `SendPtr`, not its field.)
    pub fn get(self) -> *mut T {
        self.0
    }
}

/// Batched product of operands that are at least 2-D, with broadcast batch dims.
pub(super) fn matmul_nd(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (ash, bsh) = (a.shape(), b.shape());
    let (m, k) = (ash[ash.len() - 2], ash[ash.len() - 1]);
    let (k2, n) = (bsh[bsh.len() - 2], bsh[bsh.len() - 1]);
    if k != k2 {
        return Err(Error::MatmulShape {
            lhs: ash.into(),
            rhs: bsh.into(),
            reason: format!("inner dimensions {k} and {k2} differ"),
        });
    }
    let batch_a = &ash[..ash.len() - 2];
    let batch_b = &bsh[..bsh.len() - 2];
    let batch = broadcast_shape("matmul", batch_a, batch_b).map_err(|_| Error::MatmulShape {
        lhs: ash.into(),
        rhs: bsh.into(),
        reason: format!(
            "batch dimensions {batch_a:?} and {batch_b:?} cannot be broadcast together"
        ),
    })?;
    let nb: usize = batch.iter().product();
    let mut out_shape = batch.clone();
    out_shape.extend_from_slice(&[m, n]);

    // Per-operand strides of the batch dims (0 where broadcast).
    let batch_strides = |t: &Tensor| -> Vec<usize> {
        let nd = t.ndim();
        let own = &t.shape()[..nd - 2];
        let st = &t.strides()[..nd - 2];
        let lead = batch.len() - own.len();
        (0..batch.len())
            .map(|i| {
                if i < lead || own[i - lead] == 1 {
                    0
                } else {
                    st[i - lead]
                }
            })
            .collect()
    };
    let (sa, sb) = (batch_strides(a), batch_strides(b));
    let offset_of = |strides: &[usize], mut idx: usize| -> usize {
        let mut off = 0;
        for d in (0..batch.len()).rev() {
            off += (idx % batch[d]) * strides[d];
            idx /= batch[d];
        }
        off
    };
    let (ast, bst) = (a.strides(), b.strides());
    let amat = |i: usize| Mat {
        offset: a.layout().offset() + offset_of(&sa, i),
        rs: ast[ast.len() - 2],
        cs: ast[ast.len() - 1],
    };
    let bmat = |i: usize| Mat {
        offset: b.layout().offset() + offset_of(&sb, i),
        rs: bst[bst.len() - 2],
        cs: bst[bst.len() - 1],
    };

    Ok(float_dispatch!(a.dtype(), "matmul", T => {
        if b.dtype() != a.dtype() {
            return Err(Error::DTypeMismatch { op: "matmul", lhs: a.dtype(), rhs: b.dtype() });
        }
        let (da, db) = (a.storage_read(), b.storage_read());
        let (xa, xb) = (slice_of::<T>(&da, "matmul")?, slice_of::<T>(&db, "matmul")?);
        // Uninitialised: every product below overwrites its whole block (zero-filling the
        // output first cost as much as a 256³ product's packing).
        let (mut out, start) = crate::kernels::alloc::with_capacity_aligned::<T>(nb * m * n);
        let dst = SendPtr(out.spare_capacity_mut().as_mut_ptr() as *mut T);
        let one = |i: usize, parallel: bool| {
            let d = dst;
            // SAFETY: shapes and strides come from valid layouts of `a` and `b`; each batch
            // entry writes its own disjoint m*n block of `out`.
            unsafe {
                product::<T>((m, n, k), d.0.add(i * m * n), (n, 1), xa, amat(i), xb, bmat(i), parallel)
            }
        };
        let per_product = m * n * k;
        if nb > 1 && per_product < PARALLEL_PRODUCT && nb * per_product >= TINY_PRODUCT * 4 && num_threads() > 1 {
            // Runs of consecutive products, a few per thread.
            let per = nb.div_ceil(4 * num_threads()).max(1);
            for_each_piece(nb.div_ceil(per), |r| {
                (r * per..((r + 1) * per).min(nb)).for_each(|i| one(i, false))
            });
        } else {
            (0..nb).for_each(|i| one(i, true));
        }
        // SAFETY: the `nb` products wrote all `nb * m * n` elements (`product` without
        // accumulation writes every element of its output, zeros when `k == 0`).
        unsafe { out.set_len(start + nb * m * n) };
        Tensor::from_data_at(T::into_storage(out), &out_shape, start)
    }))
}

/// `t` (at least 1-D) as the 2-D `[rows, last]`, its leading dims folded into rows: a view
/// when the layout allows, else a copy (how a shared weight's gradient sees a batch).
pub(super) fn fold_rows(t: &Tensor) -> Result<Tensor> {
    let (lead, last) = t.shape().split_at(t.ndim().saturating_sub(1));
    t.reshape(&[lead.iter().product(), last.iter().product()])
}

struct MatmulBackward;

impl BackwardOp for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let ga = if a.requires_grad() {
            Some(matmul_nd(grad, &b.transpose(-2, -1)?)?.sum_to_shape(a.shape())?)
        } else {
            None
        };
        let gb = if b.requires_grad() {
            Some(if b.ndim() == 2 && a.ndim() > 2 {
                // Shared weight: fold the batch into rows, one product instead of a batch
                // of products summed afterwards.
                matmul_nd(&fold_rows(a)?.t()?, &fold_rows(grad)?)?
            } else {
                matmul_nd(&a.transpose(-2, -1)?, grad)?.sum_to_shape(b.shape())?
            })
        } else {
            None
        };
        Ok(vec![ga, gb])
    }
}

fn matmul_recorded(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let out = matmul_nd(a, b)?;
    if !needs_grad(&[a, b]) {
        return Ok(out);
    }
    Ok(out.record(&[a, b], MatmulBackward))
}

impl Tensor {
    /// Matrix product with `torch.matmul` semantics: 1-D·1-D is a dot product, a 1-D
    /// operand is treated as a row (left) or column (right) vector, and leading batch dims
    /// broadcast.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let b = Tensor::from_vec(vec![5.0f32, 6.0, 7.0, 8.0], &[2, 2])?;
    /// assert_eq!(a.matmul(&b)?.to_vec::<f32>()?, vec![19.0, 22.0, 43.0, 50.0]);
    /// let batch = Tensor::ones(&[10, 3, 2]);
    /// assert_eq!(batch.matmul(&b.narrow(1, 0, 1)?)?.shape(), &[10, 3, 1]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (a, b) = (self, other);
        if a.ndim() == 0 || b.ndim() == 0 {
            return Err(Error::MatmulShape {
                lhs: a.shape().into(),
                rhs: b.shape().into(),
                reason: "both operands need at least one dimension".into(),
            });
        }
        if a.dtype() != b.dtype() {
            return Err(Error::DTypeMismatch {
                op: "matmul",
                lhs: a.dtype(),
                rhs: b.dtype(),
            });
        }
        let inner_a = a.shape()[a.ndim() - 1];
        let inner_b = if b.ndim() == 1 {
            b.shape()[0]
        } else {
            b.shape()[b.ndim() - 2]
        };
        if inner_a != inner_b {
            return Err(Error::MatmulShape {
                lhs: a.shape().into(),
                rhs: b.shape().into(),
                reason: format!("inner dimensions {inner_a} and {inner_b} differ"),
            });
        }
        match (a.ndim(), b.ndim()) {
            (1, 1) => matmul_recorded(&a.unsqueeze(0)?, &b.unsqueeze(1)?)?.reshape(&[]),
            (1, _) => matmul_recorded(&a.unsqueeze(0)?, b)?.squeeze_dim(-2),
            (_, 1) => matmul_recorded(a, &b.unsqueeze(1)?)?.squeeze_dim(-1),
            (na, 2) if na > 2 && a.is_contiguous() => {
                // A batch against one matrix (a Linear layer on [N, T, F]): one big product.
                let rows = a.shape()[..na - 1].iter().product();
                let out = matmul_recorded(&a.reshape(&[rows, inner_a])?, b)?;
                let mut shape = a.shape()[..na - 1].to_vec();
                shape.push(b.shape()[1]);
                out.reshape(&shape)
            }
            _ => matmul_recorded(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, DType, GradcheckOptions, Tensor};

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    out[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        out
    }

    #[test]
    fn matches_naive_for_tiny_medium_and_large() {
        for &(m, k, n) in &[(2, 3, 4), (17, 33, 9), (130, 70, 120)] {
            let a = Tensor::randn_with(&mut crate::Generator::new(1), &[m, k], DType::F64);
            let b = Tensor::randn_with(&mut crate::Generator::new(2), &[k, n], DType::F64);
            let got = a.matmul(&b).unwrap().to_vec::<f64>().unwrap();
            let want = naive(&a.to_vec().unwrap(), &b.to_vec().unwrap(), m, k, n);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-10, "{m}x{k}x{n}: {g} vs {w}");
            }
            // Transposed operands go through the strided path.
            let at = a.t().unwrap().contiguous().t().unwrap();
            let got_t = at.matmul(&b).unwrap().to_vec::<f64>().unwrap();
            for (g, w) in got_t.iter().zip(&want) {
                assert!((g - w).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn f32_row_and_column_products_in_every_layout() {
        // One row or one column of output: the matrix-vector kernels, with the matrix
        // contiguous along either side (a `Linear` weight is used transposed), or neither.
        let close = |got: &Tensor, want: &[f64], what: &str| {
            for (g, w) in got.to_vec::<f32>().unwrap().iter().zip(want) {
                assert!(
                    (*g as f64 - w).abs() < 1e-4 * (1.0 + w.abs()),
                    "{what}: {g} vs {w}"
                );
            }
        };
        for &(k, n) in &[(784, 512), (512, 256), (256, 10), (100, 3), (70, 200)] {
            let x = Tensor::randn_with(&mut crate::Generator::new(3), &[1, k], DType::F32);
            let w = Tensor::randn_with(&mut crate::Generator::new(4), &[n, k], DType::F32);
            let to64 = |t: &Tensor| t.to_dtype(DType::F64).to_vec::<f64>().unwrap();
            let wt = w.t().unwrap();
            let want = naive(&to64(&x), &to64(&wt.contiguous()), 1, k, n);
            close(&x.matmul(&wt).unwrap(), &want, "x·Wᵀ");
            close(&x.matmul(&wt.contiguous()).unwrap(), &want, "x·B");
            // A column of output: W · xᵀ.
            close(&w.matmul(&x.t().unwrap()).unwrap(), &want, "W·xᵀ");
            // The matrix strided along both sides (every other column of a wider one).
            let wide = Tensor::randn_with(&mut crate::Generator::new(5), &[k, 2 * n], DType::F32);
            let every_other = wide.reshape(&[k, n, 2]).unwrap().select(2, 0).unwrap();
            let want = naive(&to64(&x), &to64(&every_other.contiguous()), 1, k, n);
            close(&x.matmul(&every_other).unwrap(), &want, "x·B strided");
            // A strided vector.
            let xs = Tensor::randn_with(&mut crate::Generator::new(6), &[2, k], DType::F32)
                .t()
                .unwrap()
                .narrow(1, 0, 1)
                .unwrap()
                .t()
                .unwrap();
            let want = naive(&to64(&xs.contiguous()), &to64(&wt.contiguous()), 1, k, n);
            close(&xs.matmul(&wt).unwrap(), &want, "strided x·Wᵀ");
        }
    }

    #[test]
    fn outputs_start_on_a_cache_line_and_read_like_any_tensor() {
        for (m, n, k) in [(3, 5, 4), (33, 70, 17), (64, 64, 64)] {
            let a = Tensor::randn(&[m, k]);
            let b = Tensor::randn(&[k, n]);
            let c = a.matmul(&b).unwrap();
            assert_eq!(c.read::<f32>().unwrap().as_ptr() as usize % 64, 0);
            // The same values as a product computed from plain vectors, through every reader.
            let (va, vb) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
            let want: Vec<f32> = (0..m * n)
                .map(|ij| {
                    (0..k)
                        .map(|p| va[ij / n * k + p] * vb[p * n + ij % n])
                        .sum()
                })
                .collect();
            let got = c.to_vec::<f32>().unwrap();
            assert!(got.iter().zip(&want).all(|(g, w)| (g - w).abs() < 1e-4));
            assert_eq!(c.contiguous().to_vec::<f32>().unwrap(), got);
            assert_eq!(c.reshape(&[m * n]).unwrap().to_vec::<f32>().unwrap(), got);
            assert_eq!(&*c.read::<f32>().unwrap(), &got[..]);
        }
    }

    #[test]
    fn gradchecks_all_rank_combinations() {
        let opts = GradcheckOptions::default();
        let cases: Vec<(Vec<usize>, Vec<usize>)> = vec![
            (vec![3, 4], vec![4, 5]),
            (vec![4], vec![4]),
            (vec![4], vec![4, 2]),
            (vec![3, 4], vec![4]),
            (vec![2, 3, 4], vec![4, 5]),
            (vec![2, 3, 4], vec![2, 4, 5]),
            (vec![2, 1, 3, 4], vec![3, 4, 2]),
            (vec![3, 4], vec![2, 4, 5]),
        ];
        for (sa, sb) in cases {
            gradcheck(
                |t| t[0].matmul(&t[1]),
                &[Tensor::randn(&sa), Tensor::randn(&sb)],
                opts,
            )
            .unwrap_or_else(|e| panic!("{sa:?} x {sb:?}: {e}"));
        }
        // Strided inputs: a transposed weight and a permuted batch.
        gradcheck(
            |t| t[0].permute(&[1, 0, 2])?.matmul(&t[1].t()?),
            &[Tensor::randn(&[3, 2, 4]), Tensor::randn(&[5, 4])],
            opts,
        )
        .unwrap();
    }

    #[test]
    fn crate_gemm_row_and_column_major_outputs_f32_and_f64() {
        use super::{crate_gemm, Mat, Parallelism};
        let (m, k, n) = (7, 5, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.91).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        let (am, bm) = (
            Mat {
                offset: 0,
                rs: k,
                cs: 1,
            },
            Mat {
                offset: 0,
                rs: n,
                cs: 1,
            },
        );
        // Row-major output (computed transposed inside) and column-major output.
        for (rs, cs) in [(n, 1), (1, m)] {
            for accumulate in [false, true] {
                let start = if accumulate { 1.0 } else { f64::NAN };
                let mut out64 = vec![start; m * n];
                let (a32, b32): (Vec<f32>, Vec<f32>) = (
                    a.iter().map(|&v| v as f32).collect(),
                    b.iter().map(|&v| v as f32).collect(),
                );
                let mut out32 = vec![start as f32; m * n];
                // SAFETY: every index of the [m, k], [k, n] and [m, n] matrices is in bounds.
                unsafe {
                    let (a, b, d) = (a.as_ptr(), b.as_ptr(), out64.as_mut_ptr());
                    crate_gemm(
                        (m, n, k),
                        d,
                        (rs, cs),
                        a,
                        am,
                        b,
                        bm,
                        accumulate,
                        Parallelism::None,
                    );
                    let (a, b, d) = (a32.as_ptr(), b32.as_ptr(), out32.as_mut_ptr());
                    crate_gemm(
                        (m, n, k),
                        d,
                        (rs, cs),
                        a,
                        am,
                        b,
                        bm,
                        accumulate,
                        Parallelism::None,
                    );
                }
                let add = if accumulate { 1.0 } else { 0.0 };
                for i in 0..m {
                    for j in 0..n {
                        let w = want[i * n + j] + add;
                        let (g64, g32) = (out64[i * rs + j * cs], out32[i * rs + j * cs]);
                        assert!(
                            (g64 - w).abs() < 1e-12,
                            "f64 ({rs},{cs}) {i},{j}: {g64} vs {w}"
                        );
                        assert!(
                            (g32 as f64 - w).abs() < 1e-5,
                            "f32 ({rs},{cs}) {i},{j}: {g32}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn empty_inner_dimension_gives_zeros() {
        // A batch of rows with no features against a [0, 5] matrix: zeros of [2, 3, 5], as in
        // PyTorch (this once divided by the inner size, 0, and panicked).
        let y = Tensor::ones(&[2, 3, 0])
            .matmul(&Tensor::ones(&[0, 5]))
            .unwrap();
        assert_eq!(y.shape(), &[2, 3, 5]);
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.0; 30]);
        let y = Tensor::ones(&[2, 0, 4])
            .matmul(&Tensor::ones(&[4, 5]))
            .unwrap();
        assert_eq!(y.shape(), &[2, 0, 5]);
    }

    #[test]
    fn shape_errors_are_clear() {
        let err = Tensor::zeros(&[32, 784])
            .matmul(&Tensor::zeros(&[512, 256]))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "matmul: cannot multiply [32, 784] by [512, 256]: inner dimensions 784 and 512 differ"
        );
        let err = Tensor::zeros(&[2, 3, 4])
            .matmul(&Tensor::zeros(&[3, 4, 5]))
            .unwrap_err();
        assert!(
            err.to_string().contains("batch dimensions [2] and [3]"),
            "{err}"
        );
        assert!(Tensor::scalar(1.0f32).matmul(&Tensor::zeros(&[1])).is_err());
        let i = Tensor::zeros_dtype(&[2, 2], DType::I64);
        assert!(i.matmul(&i).is_err());
    }
}
