//! A safe, bounds-checked matrix product on plain slices.
//!
//! Fused kernels outside this crate (recurrent cells, attention) need `dst = a·b` or
//! `dst += a·b` on parts of their own buffers, many times per step, without building a tensor
//! for each product. [`gemm`](fn@gemm) gives them the crate's one `gemm` entry point with every extent
//! checked up front, so no caller needs `unsafe`.

use crate::kernels::parallel::num_threads;
use crate::ops::matmul::{product_into, Mat, PARALLEL_PRODUCT};
use crate::{Error, FloatElement, Result};

/// A read-only matrix inside a slice: `rows × cols` elements at
/// `data[offset + i * row_stride + j * col_stride]`.
///
/// ```
/// use strata_core::kernels::gemm::MatRef;
/// let data = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let a = MatRef::row_major(&data, 2, 3).unwrap(); // [[1, 2, 3], [4, 5, 6]]
/// assert_eq!(a.t().get(2, 1), Some(6.0));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// A writable matrix inside a slice; see [`MatRef`] for the addressing.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// Checks that every element of a `rows × cols` strided matrix lies inside `len` elements.
fn check_extent(
    what: &'static str,
    len: usize,
    offset: usize,
    (rows, cols): (usize, usize),
    (row_stride, col_stride): (usize, usize),
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let last = (rows - 1)
        .checked_mul(row_stride)
        .and_then(|a| (cols - 1).checked_mul(col_stride).map(|b| (a, b)))
        .and_then(|(a, b)| a.checked_add(b))
        .and_then(|a| a.checked_add(offset));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(Error::InvalidArgument {
            op: "gemm",
            arg: what,
            reason: format!(
                "a {rows}x{cols} matrix at offset {offset} with strides ({row_stride}, {col_stride}) does not fit in a buffer of {len} elements"
            ),
        }),
    }
}

impl<'a, T: Copy> MatRef<'a, T> {
    /// A contiguous row-major `rows × cols` matrix at the start of `data`.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        Self::strided(data, 0, rows, cols, cols, 1)
    }

    /// A matrix with explicit offset and strides; fails if any element lies outside `data`.
    pub fn strided(
        data: &'a [T],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        check_extent(
            "lhs/rhs",
            data.len(),
            offset,
            (rows, cols),
            (row_stride, col_stride),
        )?;
        Ok(MatRef {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// The transpose, without copying.
    pub fn t(self) -> Self {
        MatRef {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Rows `start..start + len` as a matrix of their own.
    pub fn rows(self, start: usize, len: usize) -> Result<Self> {
        if start.checked_add(len).is_none_or(|end| end > self.rows) {
            return Err(Error::InvalidArgument {
                op: "gemm",
                arg: "rows",
                reason: format!(
                    "rows {start}..{} are outside a matrix of {} rows",
                    start.saturating_add(len),
                    self.rows
                ),
            });
        }
        Ok(MatRef {
            offset: self.offset + start * self.row_stride,
            rows: len,
            ..self
        })
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// The element at `(i, j)`, or `None` outside the matrix.
    pub fn get(&self, i: usize, j: usize) -> Option<T> {
        (i < self.rows && j < self.cols)
            .then(|| self.data[self.offset + i * self.row_stride + j * self.col_stride])
    }
}

impl<'a, T: Copy> MatMut<'a, T> {
    /// A contiguous row-major `rows × cols` matrix at the start of `data`.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self> {
        Self::strided(data, 0, rows, cols, cols, 1)
    }

    /// A matrix with explicit offset and strides; fails if any element lies outside `data`.
    ///
    /// The strides must not make two elements share memory (a zero stride with more than
    /// one row or column is rejected), since the product writes every element.
    pub fn strided(
        data: &'a mut [T],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: usize,
        col_stride: usize,
    ) -> Result<Self> {
        check_extent(
            "dst",
            data.len(),
            offset,
            (rows, cols),
            (row_stride, col_stride),
        )?;
        let overlapping = (rows > 1 && row_stride == 0)
            || (cols > 1 && col_stride == 0)
            || (rows > 1
                && cols > 1
                && !(row_stride >= cols.saturating_mul(col_stride)
                    || col_stride >= rows.saturating_mul(row_stride)));
        if overlapping {
            return Err(Error::InvalidArgument {
                op: "gemm",
                arg: "dst",
                reason: format!(
                    "strides ({row_stride}, {col_stride}) make elements of a {rows}x{cols} output overlap"
                ),
            });
        }
        Ok(MatMut {
            data,
            offset,
            rows,
            cols,
            row_stride,
            col_stride,
        })
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate` is true.
///
/// Large products run on the crate's thread pool; small ones (one recurrent step) take a
/// low-overhead path. Fails, naming the shapes, when `lhs` is `m × k`, `rhs` is not `k × n`
/// or `dst` is not `m × n`.
///
/// ```
/// use strata_core::kernels::gemm::{gemm, MatMut, MatRef};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let b = [1.0f32, 0.0, 0.0, 1.0]; // identity
/// let mut c = [10.0f32; 4];
/// gemm(
///     MatMut::row_major(&mut c, 2, 2).unwrap(),
///     MatRef::row_major(&a, 2, 2).unwrap().t(),
///     MatRef::row_major(&b, 2, 2).unwrap(),
///     true,
/// )
/// .unwrap();
/// assert_eq!(c, [11.0, 13.0, 12.0, 14.0]); // 10 + aᵀ
/// ```
pub fn gemm<T: FloatElement>(
    dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    accumulate: bool,
) -> Result<()> {
    let (m, k) = lhs.shape();
    let (k2, n) = rhs.shape();
    check_product_shapes((m, k), (k2, n), dst.shape())?;
    let mat = |x: &MatRef<'_, T>| Mat {
        offset: x.offset,
        rs: x.row_stride,
        cs: x.col_stride,
    };
    let dst_ptr = if m == 0 || n == 0 {
        dst.data.as_mut_ptr()
    } else {
        // In bounds: checked when `dst` was built.
        dst.data[dst.offset..].as_mut_ptr()
    };
    // SAFETY: every extent was checked against its buffer when the `MatRef`/`MatMut` was
    // built; `dst` is borrowed mutably, so it cannot alias `lhs` or `rhs`, and its strides
    // were checked not to overlap.
    unsafe {
        product_into(
            (m, n, k),
            dst_ptr,
            (dst.row_stride, dst.col_stride),
            lhs.data,
            mat(&lhs),
            rhs.data,
            mat(&rhs),
            true,
            accumulate,
        );
    }
    Ok(())
}

/// A right-hand operand prepared once for many products with it, such as a recurrent
/// weight used at every time step: packing it for the kernels is then paid once rather than
/// per product. Holds its own copy, so the source may change afterwards.
///
/// ```
/// use strata_core::kernels::gemm::{gemm_packed, MatMut, MatRef, PackedRhs};
/// let w = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 2], [3, 4]]
/// let packed = PackedRhs::new(MatRef::row_major(&w, 2, 2).unwrap());
/// let x = [1.0f32, 1.0];
/// let mut y = [0.0f32; 2];
/// gemm_packed(
///     MatMut::row_major(&mut y, 1, 2).unwrap(),
///     MatRef::row_major(&x, 1, 2).unwrap(),
///     &packed,
///     false,
/// )
/// .unwrap();
/// assert_eq!(y, [4.0, 6.0]);
/// ```
pub struct PackedRhs<T> {
    rows: usize,
    cols: usize,
    repr: Packed<T>,
}

enum Packed<T> {
    /// Panels for the AVX-512 f32 kernels.
    #[cfg(target_arch = "x86_64")]
    Panels(crate::kernels::sgemm::PackedB),
    /// A contiguous row-major copy, for every other case.
    Plain(Vec<T>),
}

impl<T: FloatElement> PackedRhs<T> {
    /// Packs `b` (any strides).
    pub fn new(b: MatRef<'_, T>) -> Self {
        let (rows, cols) = b.shape();
        #[cfg(target_arch = "x86_64")]
        if T::DTYPE == crate::DType::F32
            && rows > 0
            && cols > 0
            && crate::kernels::sgemm::available()
        {
            let src = crate::kernels::sgemm::Src {
                // T is f32 (checked above): the cast only renames the element type.
                ptr: b.data[b.offset..].as_ptr() as *const f32,
                rs: b.row_stride,
                cs: b.col_stride,
            };
            // SAFETY: the extent of `b` was checked against its buffer when it was built.
            let panels = unsafe { crate::kernels::sgemm::PackedB::new(rows, cols, src) };
            return PackedRhs {
                rows,
                cols,
                repr: Packed::Panels(panels),
            };
        }
        let mut plain = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                plain.push(b.data[b.offset + i * b.row_stride + j * b.col_stride]);
            }
        }
        PackedRhs {
            rows,
            cols,
            repr: Packed::Plain(plain),
        }
    }

    /// `(rows, cols)` of the packed matrix.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Whether each row of a product with this operand comes out the same to the last bit
    /// whatever rows the left operand has beside it: true for the AVX-512 f32 panels, whose
    /// kernels add a row's terms in one order at every tile height; the other paths pick
    /// their kernel by the product's size. Code that regroups rows between products at run
    /// time (the recurrent op moving rows between threads) stays reproducible only when
    /// this holds.
    ///
    /// ```
    /// use strata_core::kernels::gemm::{MatRef, PackedRhs};
    /// let w = [1.0f64, 2.0, 3.0, 4.0];
    /// assert!(!PackedRhs::new(MatRef::row_major(&w, 2, 2).unwrap()).rows_independent());
    /// ```
    pub fn rows_independent(&self) -> bool {
        match self.repr {
            #[cfg(target_arch = "x86_64")]
            Packed::Panels(_) => true,
            Packed::Plain(_) => false,
        }
    }
}

/// `dst = lhs · rhs` (or `dst += lhs · rhs` when `accumulate`) with a packed `rhs`; see
/// [`PackedRhs`] and [`gemm`](fn@gemm).
pub fn gemm_packed<T: FloatElement>(
    dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: &PackedRhs<T>,
    accumulate: bool,
) -> Result<()> {
    let (m, k) = lhs.shape();
    let (k2, n) = rhs.shape();
    check_product_shapes((m, k), (k2, n), dst.shape())?;
    match &rhs.repr {
        Packed::Plain(b) => gemm(dst, lhs, MatRef::row_major(b, k2, n)?, accumulate),
        #[cfg(target_arch = "x86_64")]
        Packed::Panels(panels) => {
            if m == 0 {
                return Ok(());
            }
            let a = crate::kernels::sgemm::Src {
                ptr: lhs.data[lhs.offset..].as_ptr() as *const f32,
                rs: lhs.row_stride,
                cs: lhs.col_stride,
            };
            let threads = if m * n * k >= PARALLEL_PRODUCT {
                num_threads()
            } else {
                1
            };
            let c = dst.data[dst.offset..].as_mut_ptr() as *mut f32;
            // SAFETY: panels exist only for f32 on AVX-512 machines; every extent was checked
            // when the operands were built, `dst` is borrowed mutably so it aliases neither
            // input, and the shapes were checked above.
            unsafe {
                crate::kernels::sgemm::sgemm_packed(
                    m,
                    c,
                    (dst.row_stride, dst.col_stride),
                    a,
                    panels,
                    accumulate,
                    threads,
                );
            }
            Ok(())
        }
    }
}

/// Fails, naming the shapes, unless `[m, k] · [k, n]` fits a `[m, n]` output.
fn check_product_shapes(
    (m, k): (usize, usize),
    (k2, n): (usize, usize),
    (rows, cols): (usize, usize),
) -> Result<()> {
    if k != k2 || (rows, cols) != (m, n) {
        return Err(Error::InvalidArgument {
            op: "gemm",
            arg: "shapes",
            reason: format!(
                "cannot write [{m}, {k}] · [{k2}, {n}] into a [{rows}, {cols}] output (need inner sizes equal and output [{m}, {n}])"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn matches_naive_for_small_and_large_sizes_with_accumulation() {
        for &(m, k, n) in &[(1, 3, 2), (5, 7, 3), (64, 130, 96), (3, 0, 4)] {
            let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
            let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
            let want = naive(&a, &b, m, k, n);
            let mut c = vec![0.5; m * n];
            gemm(
                MatMut::row_major(&mut c, m, n).unwrap(),
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
                true,
            )
            .unwrap();
            for (got, w) in c.iter().zip(&want) {
                assert!((got - (w + 0.5)).abs() < 1e-9, "{m}x{k}x{n}: {got} vs {w}");
            }
            gemm(
                MatMut::row_major(&mut c, m, n).unwrap(),
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
                false,
            )
            .unwrap();
            for (got, w) in c.iter().zip(&want) {
                assert!((got - w).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn strided_output_and_row_slices() {
        // Write a 2x2 product into the right half of a 2x4 buffer, using rows 1..3 of a.
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]; // 3x2
        let b = [1.0f32, 1.0, 0.0, 2.0]; // 2x2
        let mut c = [0.0f32; 8];
        gemm(
            MatMut::strided(&mut c, 2, 2, 2, 4, 1).unwrap(),
            MatRef::row_major(&a, 3, 2).unwrap().rows(1, 2).unwrap(),
            MatRef::row_major(&b, 2, 2).unwrap(),
            false,
        )
        .unwrap();
        assert_eq!(c, [0.0, 0.0, 3.0, 11.0, 0.0, 0.0, 5.0, 17.0]);
    }

    #[test]
    fn rejects_bad_extents_shapes_and_overlap() {
        let a = [0.0f32; 6];
        assert!(MatRef::row_major(&a, 2, 4).is_err());
        assert!(MatRef::strided(&a, 1, 2, 3, 3, 1).is_err());
        assert!(MatRef::row_major(&a, 2, 3).unwrap().rows(1, 2).is_err());
        let mut c = [0.0f32; 6];
        assert!(MatMut::strided(&mut c, 0, 2, 2, 1, 1).is_err());
        assert!(MatMut::strided(&mut c, 0, 2, 3, 0, 1).is_err());
        let err = gemm(
            MatMut::row_major(&mut c, 2, 3).unwrap(),
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&a, 2, 3).unwrap(),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("[2, 3] · [2, 3]"), "{err}");
    }

    #[test]
    fn packed_rhs_gives_the_same_products_as_gemm() {
        fn check<T: FloatElement>(m: usize, k: usize, n: usize, transposed_b: bool, acc: bool) {
            let a: Vec<T> = (0..m * k)
                .map(|i| T::from_f64((i as f64 * 0.37).sin()))
                .collect();
            let b: Vec<T> = (0..k * n)
                .map(|i| T::from_f64((i as f64 * 0.11).cos()))
                .collect();
            let b_mat = if transposed_b {
                MatRef::row_major(&b, n, k).unwrap().t()
            } else {
                MatRef::row_major(&b, k, n).unwrap()
            };
            let packed = PackedRhs::new(b_mat);
            assert_eq!(packed.shape(), (k, n));
            let mut want = vec![T::from_f64(0.25); m * n];
            let mut got = want.clone();
            let a_mat = MatRef::row_major(&a, m, k).unwrap();
            gemm(
                MatMut::row_major(&mut want, m, n).unwrap(),
                a_mat,
                b_mat,
                acc,
            )
            .unwrap();
            gemm_packed(
                MatMut::row_major(&mut got, m, n).unwrap(),
                a_mat,
                &packed,
                acc,
            )
            .unwrap();
            for (g, w) in got.iter().zip(&want) {
                let (g, w) = (crate::Element::to_f64(*g), crate::Element::to_f64(*w));
                assert!(
                    (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                    "{m}x{k}x{n}: {g} vs {w}"
                );
            }
        }
        // The two larger weights are packed by both threads (several k blocks, a partial panel).
        let shapes = [
            (1, 1, 1),
            (32, 256, 1024),
            (5, 700, 100),
            (7, 700, 45),
            (40, 33, 17),
        ];
        for &(m, k, n) in &shapes {
            for transposed_b in [false, true] {
                check::<f32>(m, k, n, transposed_b, true);
                check::<f32>(m, k, n, transposed_b, false);
                check::<f64>(m, k, n, transposed_b, true);
            }
        }
    }

    /// Where `rows_independent` says so, every way of cutting the left operand's rows into
    /// products (one row, tile heights 1 to 14 and past them) gives each row the same bits,
    /// into a strided output, accumulating or not.
    #[test]
    fn rows_independent_products_give_each_row_the_same_bits() {
        let (m, k, n) = (31, 300, 70);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
        let packed = PackedRhs::new(MatRef::row_major(&b, k, n).unwrap());
        if !packed.rows_independent() {
            return;
        }
        let ld = n + 3;
        let start: Vec<f32> = (0..m * ld).map(|i| (i as f32 * 0.05).cos()).collect();
        for acc in [false, true] {
            let product = |cuts: &[usize]| {
                let mut c = start.clone();
                for w in cuts.windows(2) {
                    let (r0, rows) = (w[0], w[1] - w[0]);
                    gemm_packed(
                        MatMut::strided(&mut c, r0 * ld, rows, n, ld, 1).unwrap(),
                        MatRef::row_major(&a, m, k).unwrap().rows(r0, rows).unwrap(),
                        &packed,
                        acc,
                    )
                    .unwrap();
                }
                c
            };
            let whole = product(&[0, m]);
            let singles: Vec<usize> = (0..=m).collect();
            for cuts in [
                &singles[..],
                &[0, 5, 19, 20, 31],
                &[0, 14, 16, 31],
                &[0, 30, 31],
            ] {
                assert!(product(cuts) == whole, "cut at {cuts:?}, accumulate {acc}");
            }
        }
    }

    #[test]
    fn packed_rhs_rejects_mismatched_shapes() {
        let w = [0.0f32; 6];
        let packed = PackedRhs::new(MatRef::row_major(&w, 2, 3).unwrap());
        let x = [0.0f32; 3];
        let mut y = [0.0f32; 3];
        let err = gemm_packed(
            MatMut::row_major(&mut y, 1, 3).unwrap(),
            MatRef::row_major(&x, 1, 3).unwrap(),
            &packed,
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("[1, 3] · [2, 3]"), "{err}");
    }
}
