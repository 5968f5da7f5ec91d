//! The three matrix-product passes of a 2-D convolution `y = x ⋆ w`, shared by `conv2d`
//! and `conv_transpose2d` (whose forward pass is the input-gradient pass of a convolution,
//! and whose input gradient is a convolution):
//!
//! - [`forward`]: `y[n, g] = w[g] · im2col(x[n, g])`
//! - [`backward_data`]: `x[n, g] = col2im(w[g]ᵀ · y[n, g])`
//! - [`backward_weight`]: `w[g] = Σₙ y[n, g] · im2col(x[n, g])ᵀ`
//!
//! Layouts: `x` is `[batch, x_channels, h, w]`, `y` is `[batch, y_channels, oh, ow]`, and the
//! weight is `[y_channels, x_channels / groups, kh, kw]`, all contiguous. Group `g` connects
//! x channels `g * x_channels/groups ..` to y channels `g * y_channels/groups ..`.
//!
//! Work is spread over the batch: each thread takes a contiguous range of samples with its
//! own column buffer and runs single-threaded products; with a single range (a batch of one,
//! or one thread) the products themselves run multi-threaded. A pointwise window (1x1,
//! stride 1, no padding) skips the unfolding: the column matrix is the input itself.

use super::matmul::{product, product_into, Mat};
use crate::kernels::im2col::{col2im, im2col, Window2d};
use crate::kernels::parallel::{for_each_item, for_each_part_mut, num_threads};
use crate::kernels::reduce::{map_rows, sum_slice};
use crate::FloatElement;
use std::mem::MaybeUninit;
use std::ops::Range;

/// Below this many multiply-adds in total, a pass runs on the calling thread.
const PARALLEL_MACS: usize = 1 << 18;

/// The shapes of a convolution `y = x ⋆ w` as the three passes see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeom {
    pub batch: usize,
    pub groups: usize,
    pub x_channels: usize,
    pub y_channels: usize,
    pub win: Window2d,
}

impl ConvGeom {
    fn xg(&self) -> usize {
        self.x_channels / self.groups
    }
    fn yg(&self) -> usize {
        self.y_channels / self.groups
    }
    /// Rows of one group's column matrix (the inner dimension of the forward product).
    fn k(&self) -> usize {
        self.xg() * self.win.taps()
    }
    /// Elements of one sample of `x`.
    pub fn x_len(&self) -> usize {
        self.x_channels * self.win.in_len()
    }
    /// Elements of one sample of `y`.
    pub fn y_len(&self) -> usize {
        self.y_channels * self.win.out_len()
    }
    /// Elements of the weight.
    pub fn w_len(&self) -> usize {
        self.y_channels * self.k()
    }
    /// Multiply-adds of one pass over one sample.
    fn macs_per_sample(&self) -> usize {
        self.y_channels * self.k() * self.win.out_len()
    }
    /// Sample ranges to hand to threads (one range when the pass is small or there is one
    /// thread). A few ranges per thread, so that a thread slowed down by other work on the
    /// machine does not hold up the others.
    fn batch_ranges(&self) -> Vec<Range<usize>> {
        let threads = num_threads();
        let total = self.batch.saturating_mul(self.macs_per_sample());
        let parts = if threads > 1 && total >= PARALLEL_MACS {
            self.batch.min(4 * threads)
        } else {
            1
        };
        let per = self.batch.div_ceil(parts.max(1)).max(1);
        (0..self.batch.div_ceil(per))
            .map(|i| i * per..((i + 1) * per).min(self.batch))
            .collect()
    }
    /// Group `g`'s weight block `[yg, k]` as a matrix, transposed when `t`.
    fn w_mat(&self, g: usize, t: bool) -> Mat {
        let (k, offset) = (self.k(), g * self.yg() * self.k());
        if t {
            Mat {
                offset,
                rs: 1,
                cs: k,
            }
        } else {
            Mat {
                offset,
                rs: k,
                cs: 1,
            }
        }
    }
    /// Group `g` of sample `n` of `y` as a `[yg, out_len]` matrix.
    fn y_mat(&self, n: usize, g: usize) -> Mat {
        let l = self.win.out_len();
        Mat {
            offset: n * self.y_len() + g * self.yg() * l,
            rs: l,
            cs: 1,
        }
    }
    /// The column buffer a thread needs (none for a pointwise window): room for one
    /// group's `[k, out_len]` columns, left empty, since every use writes all of it first
    /// (W2's step spent 5.5 % of its samples in memset, these fills among them).
    fn col_buffer<T: FloatElement>(&self) -> Vec<T> {
        if self.win.is_pointwise() {
            Vec::new()
        } else {
            crate::kernels::alloc::with_capacity(self.k() * self.win.out_len())
        }
    }
    /// Group `g` of sample `n` of `x` as its `[k, out_len]` column matrix: `x` itself for a
    /// pointwise window, else unfolded into `col` (a [`ConvGeom::col_buffer`]).
    fn columns<'a, T: FloatElement>(
        &self,
        x: &'a [T],
        n: usize,
        g: usize,
        col: &'a mut Vec<T>,
    ) -> (&'a [T], Mat) {
        let l = self.win.out_len();
        let start = n * self.x_len() + g * self.xg() * self.win.in_len();
        if self.win.is_pointwise() {
            return (
                x,
                Mat {
                    offset: start,
                    rs: l,
                    cs: 1,
                },
            );
        }
        let len = self.k() * l;
        col.clear();
        im2col(
            &x[start..],
            self.xg(),
            &self.win,
            &mut col.spare_capacity_mut()[..len],
        );
        // SAFETY: im2col wrote all `len = xg · taps · out_len` elements.
        unsafe { col.set_len(len) };
        (
            col,
            Mat {
                offset: 0,
                rs: l,
                cs: 1,
            },
        )
    }
}

/// `y = x ⋆ w + bias` (bias per y channel): returns `[batch, y_channels, oh, ow]`
/// contiguous.
///
/// The output is never zero-filled: each sample's block is written by its product, onto
/// the bias when there is one (one pass over `y` instead of a fill, the product and a bias
/// pass: W2's first layer writes 6.4 MB a step).
pub(crate) fn forward<T: FloatElement>(
    geom: &ConvGeom,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
) -> Vec<T> {
    let (l, yg, k) = (geom.win.out_len(), geom.yg(), geom.k());
    let total = geom.batch * geom.y_len();
    // Checked by the op (its shape errors); a short bias would leave outputs unwritten.
    assert!(
        bias.is_none_or(|b| b.len() == geom.y_channels),
        "conv bias of the wrong length"
    );
    let mut y = crate::kernels::alloc::with_capacity::<T>(total);
    if total == 0 {
        return y;
    }
    let ranges = geom.batch_ranges();
    let threaded = ranges.len() == 1;
    let chunk = ranges[0].len() * geom.y_len();
    let parts: Vec<(&mut [MaybeUninit<T>], Range<usize>)> = y.spare_capacity_mut()[..total]
        .chunks_mut(chunk)
        .zip(ranges)
        .collect();
    for_each_item(parts, |(ys, range)| {
        let mut col = geom.col_buffer::<T>();
        for (i, n) in range.enumerate() {
            for g in 0..geom.groups {
                let (src, cols) = geom.columns(x, n, g, &mut col);
                let dst = &mut ys[i * geom.y_len() + g * yg * l..][..yg * l];
                if let Some(b) = bias {
                    for (row, &v) in dst.chunks_exact_mut(l).zip(&b[g * yg..]) {
                        row.iter_mut().for_each(|d| {
                            d.write(v);
                        });
                    }
                }
                // SAFETY: every matrix lies inside its buffer: `dst` is [yg, l], `w` holds
                // [y_channels, k] and `src` the [k, l] columns of this sample and group.
                // The product writes every element of `dst`, adding to the bias written
                // just above when there is one.
                unsafe {
                    product_into(
                        (yg, l, k),
                        dst.as_mut_ptr() as *mut T,
                        (l, 1),
                        w,
                        geom.w_mat(g, false),
                        src,
                        cols,
                        threaded,
                        bias.is_some(),
                    )
                };
            }
        }
    });
    // SAFETY: the parts tile `y`'s first `total` slots, and every sample's every group
    // block was written above.
    unsafe { y.set_len(total) };
    y
}

/// The gradient with respect to `x` given the gradient `gy` of `y = x ⋆ w` (equivalently,
/// the transposed convolution of `gy`), plus `bias` per x channel: returns
/// `[batch, x_channels, h, w]` contiguous.
pub(crate) fn backward_data<T: FloatElement>(
    geom: &ConvGeom,
    gy: &[T],
    w: &[T],
    bias: Option<&[T]>,
) -> Vec<T> {
    let (l, hw, xg, yg, k) = (
        geom.win.out_len(),
        geom.win.in_len(),
        geom.xg(),
        geom.yg(),
        geom.k(),
    );
    let total = geom.batch * geom.x_len();
    if total == 0 {
        return Vec::new();
    }
    let ranges = geom.batch_ranges();
    let threaded = ranges.len() == 1;
    let chunk = ranges[0].len() * geom.x_len();
    // A pointwise kernel's columns are the input gradient itself; otherwise they are folded
    // back by col2im.
    let pointwise = geom.win.is_pointwise();
    // The parts tile the buffer: the ranges cover the batch, `chunk` elements each.
    crate::kernels::alloc::filled(total, |gx| {
        for_each_part_mut(gx, chunk, |part, xs| {
            // Zeroed here, by the thread that accumulates into it, rather than all at once on
            // the calling thread.
            let xs = crate::kernels::alloc::zeroed(xs);
            let mut col = geom.col_buffer::<T>();
            for (i, n) in ranges[part].clone().enumerate() {
                for g in 0..geom.groups {
                    let dst = &mut xs[i * geom.x_len() + g * xg * hw..][..xg * hw];
                    let out = if pointwise {
                        dst.as_mut_ptr()
                    } else {
                        col.clear();
                        col.spare_capacity_mut().as_mut_ptr() as *mut T
                    };
                    // SAFETY: `out` is [k, l] (`dst` is [xg, hw] = [k, l] when pointwise, the
                    // column buffer has room for [k, l] otherwise); wᵀ is [k, yg]; gy's block
                    // is [yg, l]. The product writes every element of `out`.
                    unsafe {
                        product(
                            (k, l, yg),
                            out,
                            (l, 1),
                            w,
                            geom.w_mat(g, true),
                            gy,
                            geom.y_mat(n, g),
                            threaded,
                        );
                        if !pointwise {
                            col.set_len(k * l);
                        }
                    };
                    if !pointwise {
                        col2im(&mut col, xg, &geom.win, dst);
                    }
                }
                if let Some(b) = bias {
                    add_bias(&mut xs[i * geom.x_len()..][..geom.x_len()], b, hw);
                }
            }
        });
    })
}

/// The gradient with respect to `w` given the gradient `gy` of `y = x ⋆ w`: returns
/// `[y_channels, x_channels / groups, kh, kw]` contiguous.
pub(crate) fn backward_weight<T: FloatElement>(geom: &ConvGeom, gy: &[T], x: &[T]) -> Vec<T> {
    let (l, yg, k) = (geom.win.out_len(), geom.yg(), geom.k());
    let ranges = geom.batch_ranges();
    let threaded = ranges.len() == 1;
    // One partial sum per range, added in range order (deterministic for a thread count).
    let mut partials: Vec<Vec<T>> = vec![Vec::new(); ranges.len()];
    let parts: Vec<(Range<usize>, &mut Vec<T>)> = ranges.into_iter().zip(&mut partials).collect();
    // The product packs its right operand, the transposed one of the pair (`colsᵀ`, or
    // `gyᵀ` computing `wᵀ = cols · gyᵀ`): the smaller is packed. With more taps than output
    // channels (W2's second conv: 288 against 64) that is `gyᵀ`, 4.5 times fewer values per
    // sample; the range's sum is then held as `[k, yg]` and transposed once at its end.
    let transposed = k > yg && yg > 0;
    for_each_item(parts, |(range, slot)| {
        let mut acc = vec![T::zero(); geom.w_len()];
        let mut col = geom.col_buffer::<T>();
        for n in range {
            for g in 0..geom.groups {
                let (src, cols) = geom.columns(x, n, g, &mut col);
                let t = |m: Mat| Mat {
                    offset: m.offset,
                    rs: m.cs,
                    cs: m.rs,
                };
                let (gy_m, cols_m) = (geom.y_mat(n, g), cols);
                // `wᵀ (+)= cols · gyᵀ` into a [k, yg] block, or `w (+)= gy · colsᵀ` into
                // [yg, k].
                let (dims, row_stride, (lhs, l_m), (rhs, r_m)) = if transposed {
                    ((k, yg, l), yg, (src, cols_m), (gy, t(gy_m)))
                } else {
                    ((yg, k, l), k, (gy, gy_m), (src, t(cols_m)))
                };
                // Each sample's product is added onto the range's sum in place.
                // SAFETY: group g's block of `acc` holds yg · k values; gy's block is
                // [yg, l] and the columns are [k, l] inside `src`, so their transposes are
                // [l, yg] and [l, k].
                unsafe {
                    product_into(
                        dims,
                        acc[g * yg * k..].as_mut_ptr(),
                        (row_stride, 1),
                        lhs,
                        l_m,
                        rhs,
                        r_m,
                        threaded,
                        true,
                    )
                };
            }
        }
        if transposed {
            // Each group's [k, yg] block back to the weight's [yg, k].
            let mut block = vec![T::zero(); yg * k];
            for g in acc.chunks_exact_mut(yg * k) {
                for (p, row) in g.chunks_exact(yg).enumerate() {
                    for (o, &v) in row.iter().enumerate() {
                        block[o * k + p] = v;
                    }
                }
                g.copy_from_slice(&block);
            }
        }
        *slot = acc;
    });
    let mut parts = partials.into_iter();
    let mut total = parts
        .next()
        .unwrap_or_else(|| vec![T::zero(); geom.w_len()]);
    for p in parts {
        for (t, v) in total.iter_mut().zip(p) {
            *t += v;
        }
    }
    total
}

/// Adds `bias[c]` to every element of channel `c` of `y` (`[batch, channels, plane]`).
pub(crate) fn add_bias<T: FloatElement>(y: &mut [T], bias: &[T], plane: usize) {
    if plane == 0 || bias.is_empty() {
        return;
    }
    for (i, row) in y.chunks_exact_mut(plane).enumerate() {
        let b = bias[i % bias.len()];
        for v in row {
            *v += b;
        }
    }
}

/// Per-channel sums of `gy` (`[batch, channels, plane]`): the gradient of a bias.
///
/// Each plane is summed with the vectorised reduction kernel, planes shared between
/// threads, and the plane totals added per channel in f64 in batch order, so the result
/// does not depend on the thread count. (A plain `iter().sum()` is one chain of dependent
/// additions: `ConvBackward`'s own samples, where it was inlined, were 3.6 % of W2's
/// step, whose first conv's gradient is 6.4 MB.)
pub(crate) fn bias_grad<T: FloatElement>(gy: &[T], channels: usize, plane: usize) -> Vec<T> {
    if plane == 0 || channels == 0 {
        return vec![T::zero(); channels];
    }
    let rows = gy.len() / plane;
    let totals = map_rows(&gy[..rows * plane], rows, plane, |row| {
        sum_slice(row).to_f64()
    });
    let mut out = vec![0.0f64; channels];
    for (i, t) in totals.into_iter().enumerate() {
        out[i % channels] += t;
    }
    out.into_iter().map(T::from_f64).collect()
}
