//! Max pooling (`max_pool2d`, `max_pool1d`), forward and backward.
//!
//! Pooling works plane by plane: the leading dims (`N, C`, or just `C` for an unbatched
//! input) are flattened into planes of `h × w` (a 1-D pool has `h = 1`). Max pooling keeps
//! the position of each window's maximum so that the backward pass is a scatter of the
//! gradient onto those positions; padding acts as −∞ (it is never the maximum).

use super::float_dispatch;
use super::pool_window::{axis_taps, for_each_plane, for_each_plane_pair, pool_window};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::im2col::Window2d;
use crate::{Error, FloatElement, Result, Tensor};

/// Options of [`Tensor::max_pool2d`], as `(height, width)` pairs. [`MaxPool2dParams::new`]
/// gives PyTorch's defaults for a square kernel (stride = kernel, no padding, no dilation,
/// floor mode).
///
/// ```
/// use strata_core::MaxPool2dParams;
/// let p = MaxPool2dParams { stride: (1, 1), padding: (1, 1), ..MaxPool2dParams::new(3) };
/// assert_eq!(p.kernel, (3, 3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool2dParams {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size).
    pub stride: (usize, usize),
    /// Implicit −∞ padding on both sides; at most half the kernel size.
    pub padding: (usize, usize),
    /// Spacing between window taps.
    pub dilation: (usize, usize),
    /// Round the output size up instead of down (a last, partial window is kept when it
    /// starts inside the input or the left padding).
    pub ceil_mode: bool,
}

impl MaxPool2dParams {
    /// A `kernel × kernel` window with stride `kernel`, no padding or dilation.
    pub fn new(kernel: usize) -> Self {
        MaxPool2dParams {
            kernel: (kernel, kernel),
            stride: (kernel, kernel),
            padding: (0, 0),
            dilation: (1, 1),
            ceil_mode: false,
        }
    }
}

/// Options of [`Tensor::max_pool1d`] (see [`MaxPool2dParams`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPool1dParams {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
    pub ceil_mode: bool,
}

impl MaxPool1dParams {
    /// A window of `kernel` with stride `kernel`, no padding or dilation.
    pub fn new(kernel: usize) -> Self {
        MaxPool1dParams {
            kernel,
            stride: kernel,
            padding: 0,
            dilation: 1,
            ceil_mode: false,
        }
    }
}

/// Marks a window without any input position (impossible under the padding rule; kept so
/// that no index is ever out of range).
const NO_INDEX: u32 = u32::MAX;

/// The position in `plane` (rows of `w`) of the maximum of the window whose `ny × nx` taps
/// sit at rows `y0 + i·dh` and columns `x0 + j·dw`: the first maximum, or the last NaN
/// (PyTorch's rule).
///
/// Which tap holds the maximum is data: a branch on it mispredicts about once per window,
/// which costs more than the rest of the work. So the maximum is found with `max`
/// instructions, then the taps equal to it are collected in a bit mask whose lowest bit is
/// the first of them, all without data-dependent branches.
#[inline(always)]
fn window_argmax<T: FloatElement>(
    plane: &[T],
    w: usize,
    (ny, y0, dh): (usize, usize, usize),
    (nx, x0, dw): (usize, usize, usize),
) -> usize {
    if ny <= 8 && nx <= 8 {
        let (mut m, mut nan) = (T::neg_infinity(), false);
        for i in 0..ny {
            let r = (y0 + i * dh) * w + x0;
            for j in 0..nx {
                let v = plane[r + j * dw];
                m = if v > m { v } else { m };
                nan |= v.is_nan();
            }
        }
        if !nan {
            let mut hits = 0u64;
            for i in 0..ny {
                let r = (y0 + i * dh) * w + x0;
                for j in 0..nx {
                    hits |= u64::from(plane[r + j * dw] == m) << (i * 8 + j);
                }
            }
            let t = hits.trailing_zeros() as usize;
            return (y0 + (t >> 3) * dh) * w + x0 + (t & 7) * dw;
        }
    }
    // Windows larger than 8x8 or holding a NaN: PyTorch's loop, one tap at a time.
    let (mut best, mut at) = (T::neg_infinity(), y0 * w + x0);
    for i in 0..ny {
        let r = (y0 + i * dh) * w + x0;
        for j in 0..nx {
            let v = plane[r + j * dw];
            if v > best || v.is_nan() {
                best = v;
                at = r + j * dw;
            }
        }
    }
    at
}

/// Whether `win` is the common 2x2 window with stride 2, no padding or dilation, whose
/// windows all lie inside the input (floor mode, or ceil mode on even sizes).
fn is_plain_2x2(win: &Window2d) -> bool {
    (
        win.kh, win.kw, win.sh, win.sw, win.ph, win.pw, win.dh, win.dw,
    ) == (2, 2, 2, 2, 0, 0, 1, 1)
        && 2 * win.oh <= win.h
        && 2 * win.ow <= win.w
}

/// Max pooling of one plane (`w` columns) with the plain 2x2 window (see [`is_plain_2x2`]):
/// each output row reads two input rows directly, without tap lists. The maximum is the
/// first of the four taps equal to the largest; a window holding a NaN takes the general
/// rule of [`window_argmax`].
fn max_pool_2x2_plane<T: FloatElement>(
    plane: &[T],
    w: usize,
    ow: usize,
    vo: &mut [T],
    io: &mut [u32],
) {
    let rows = vo.chunks_exact_mut(ow).zip(io.chunks_exact_mut(ow));
    for (oy, (vrow, irow)) in rows.enumerate() {
        let r0 = 2 * oy * w;
        let (top, bottom) = (&plane[r0..r0 + 2 * ow], &plane[r0 + w..r0 + w + 2 * ow]);
        let scalar = |range: std::ops::Range<usize>, vrow: &mut [T], irow: &mut [u32]| {
            for ox in range {
                let (a, bb) = (top[2 * ox], top[2 * ox + 1]);
                let (c, d) = (bottom[2 * ox], bottom[2 * ox + 1]);
                let m = if bb > a { bb } else { a };
                let m = if c > m { c } else { m };
                let m = if d > m { d } else { m };
                let at = if a.is_nan() || bb.is_nan() || c.is_nan() || d.is_nan() {
                    window_argmax(plane, w, (2, 2 * oy, 1), (2, 2 * ox, 1))
                } else {
                    let offset = if a == m {
                        0
                    } else if bb == m {
                        1
                    } else if c == m {
                        w
                    } else {
                        w + 1
                    };
                    r0 + 2 * ox + offset
                };
                vrow[ox] = plane[at];
                irow[ox] = at as u32;
            }
        };
        let mut ox = 0;
        #[cfg(target_arch = "x86_64")]
        if let (Some(top), Some(bottom)) = (as_f32(top), as_f32(bottom)) {
            // Up to sixteen windows at a time (`kernels/pool16.rs`), the same rule lane by
            // lane.
            while ox < ow {
                let n = (ow - ox).min(16);
                let pooled = as_f32_mut(&mut vrow[ox..ox + n]).is_some_and(|vals| {
                    crate::kernels::pool16::max_2x2_block(
                        (&top[2 * ox..], &bottom[2 * ox..]),
                        (r0 + 2 * ox, w),
                        vals,
                        &mut irow[ox..ox + n],
                    )
                });
                if !pooled {
                    scalar(ox..ox + n, vrow, irow);
                }
                ox += n;
            }
        }
        scalar(ox..ow, vrow, irow);
    }
}

/// `s` as an f32 slice when `T` is f32.
fn as_f32<T: FloatElement>(s: &[T]) -> Option<&[f32]> {
    // SAFETY: `T` is `f32` (same type id), so this only renames the element type.
    (std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len()) })
}

/// `s` as a mutable f32 slice when `T` is f32.
fn as_f32_mut<T: FloatElement>(s: &mut [T]) -> Option<&mut [f32]> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<f32>() {
        return None;
    }
    // SAFETY: as in `as_f32`; the borrow of `s` moves into the result.
    Some(unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr() as *mut f32, s.len()) })
}

/// Max pooling of a checked window: the values and, per output, the position of the
/// maximum inside its plane (`iy * w + ix`).
fn max_pool_forward(
    op: &'static str,
    x: &Tensor,
    win: &Window2d,
    out_shape: &[usize],
) -> Result<(Tensor, Vec<u32>)> {
    if win.in_len() >= NO_INDEX as usize {
        return Err(Error::shape(
            op,
            x.shape(),
            "planes of 2^32 or more elements are not supported",
        ));
    }
    let (l, hw, w) = (win.out_len(), win.in_len(), win.w);
    let planes = x.numel().checked_div(hw).unwrap_or(0);
    let rows = axis_taps(win.oh, (win.sh, win.ph, win.dh, win.kh), win.h);
    let cols = axis_taps(win.ow, (win.sw, win.pw, win.dw, win.kw), w);
    let (dh, dw) = (win.dh, win.dw);
    let mut idx = vec![NO_INDEX; planes * l];
    let out = float_dispatch!(x.dtype(), op, T => {
        let xc = x.detach().contiguous();
        let xs = xc.read::<T>()?;
        let xs: &[T] = &xs;
        let mut vals = vec![T::neg_infinity(); planes * l];
        let plain_2x2 = is_plain_2x2(win);
        for_each_plane_pair((&mut vals, l), (&mut idx, l), l * win.taps(), |p, vo, io| {
            let plane = &xs[p * hw..(p + 1) * hw];
            if plain_2x2 {
                max_pool_2x2_plane(plane, w, win.ow, vo, io);
                return;
            }
            let mut o = 0;
            for &(ny, y0) in &rows {
                for &(nx, x0) in &cols {
                    if ny > 0 && nx > 0 {
                        // Constant sizes for the common kernels let the loops unroll.
                        let at = match (ny, nx) {
                            (2, 2) => window_argmax(plane, w, (2, y0, dh), (2, x0, dw)),
                            (3, 3) => window_argmax(plane, w, (3, y0, dh), (3, x0, dw)),
                            _ => window_argmax(plane, w, (ny, y0, dh), (nx, x0, dw)),
                        };
                        vo[o] = plane[at];
                        io[o] = at as u32;
                    }
                    o += 1;
                }
            }
        });
        Tensor::from_data(T::into_storage(vals), out_shape)
    });
    Ok((out, idx))
}

/// Backward of max pooling: each output gradient goes to the position of its maximum.
struct MaxPoolBackward {
    op: &'static str,
    indices: Vec<u32>,
    /// Elements of an input plane / of an output plane.
    in_plane: usize,
    out_plane: usize,
}

impl BackwardOp for MaxPoolBackward {
    fn name(&self) -> &'static str {
        self.op
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let (hw, l) = (self.in_plane, self.out_plane);
        let gx = float_dispatch!(grad.dtype(), self.op, T => {
            let gc = grad.detach().contiguous();
            let g = gc.read::<T>()?;
            // Each plane is zeroed by the thread that scatters into it, while it is in that
            // core's cache: a single-threaded fill of the whole gradient first (6.4 MB per
            // step after W2's first conv) took half of this backward's time.
            let gx = crate::kernels::alloc::filled(x.numel(), |out| {
                // The planes tile the buffer (`numel` is a whole number of `hw` planes).
                for_each_plane(out, hw, hw, |p, plane| {
                    let plane = crate::kernels::alloc::zeroed(plane);
                    for (&i, &v) in self.indices[p * l..(p + 1) * l].iter().zip(&g[p * l..(p + 1) * l]) {
                        if i != NO_INDEX {
                            plane[i as usize] += v;
                        }
                    }
                })
            });
            Tensor::from_data(T::into_storage(gx), x.shape())
        });
        Ok(vec![Some(gx)])
    }
}

/// Runs max pooling and records its backward op; returns the values and, when
/// `want_indices`, the arg-max positions (else an empty list).
fn max_pool(
    op: &'static str,
    x: &Tensor,
    win: Window2d,
    out_shape: &[usize],
    want_indices: bool,
) -> Result<(Tensor, Vec<u32>)> {
    let (out, idx) = max_pool_forward(op, x, &win, out_shape)?;
    if !needs_grad(&[x]) {
        return Ok((out, idx));
    }
    let (indices, returned) = if want_indices {
        (idx.clone(), idx)
    } else {
        (idx, Vec::new())
    };
    let backward = MaxPoolBackward {
        op,
        indices,
        in_plane: win.in_len(),
        out_plane: win.out_len(),
    };
    Ok((out.record(&[x], backward), returned))
}

fn max_pool2d_window(x: &Tensor, p: MaxPool2dParams) -> Result<(Window2d, Vec<usize>)> {
    pool_window(
        "max_pool2d",
        x,
        (
            &[p.kernel.0, p.kernel.1],
            &[p.stride.0, p.stride.1],
            &[p.padding.0, p.padding.1],
            &[p.dilation.0, p.dilation.1],
        ),
        p.ceil_mode,
    )
}

impl Tensor {
    /// 2-D max pooling (as `torch.nn.functional.max_pool2d`) over the last two dims of an
    /// input `[N, C, H, W]` or `[C, H, W]`. Padding counts as −∞; NaN propagates. The
    /// gradient flows to the first position holding each window's maximum.
    ///
    /// ```
    /// use strata_core::{MaxPool2dParams, Tensor};
    /// let x = Tensor::arange(0.0, 16.0, 1.0)?.reshape(&[1, 1, 4, 4])?;
    /// let y = x.max_pool2d(MaxPool2dParams::new(2))?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![5.0, 7.0, 13.0, 15.0]);
    /// let p = MaxPool2dParams { stride: (1, 1), padding: (1, 1), ..MaxPool2dParams::new(3) };
    /// assert_eq!(x.max_pool2d(p)?.shape(), &[1, 1, 4, 4]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn max_pool2d(&self, params: MaxPool2dParams) -> Result<Tensor> {
        let (win, shape) = max_pool2d_window(self, params)?;
        Ok(max_pool("max_pool2d", self, win, &shape, false)?.0)
    }

    /// [`Tensor::max_pool2d`] that also returns, as an i64 tensor of the output's shape, the
    /// position of each maximum inside its `H × W` plane (`row * W + col`, as PyTorch's
    /// `return_indices=True`).
    ///
    /// ```
    /// use strata_core::{MaxPool2dParams, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 4.0, 3.0, 2.0], &[1, 1, 2, 2])?;
    /// let (y, i) = x.max_pool2d_with_indices(MaxPool2dParams::new(2))?;
    /// assert_eq!((y.item()?, i.to_vec::<i64>()?), (4.0, vec![1]));
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn max_pool2d_with_indices(&self, params: MaxPool2dParams) -> Result<(Tensor, Tensor)> {
        let (win, shape) = max_pool2d_window(self, params)?;
        let (out, idx) = max_pool("max_pool2d", self, win, &shape, true)?;
        let idx: Vec<i64> = idx
            .into_iter()
            .map(|i| if i == NO_INDEX { -1 } else { i as i64 })
            .collect();
        Ok((out, Tensor::from_vec(idx, &shape)?))
    }

    /// 1-D max pooling (as `torch.nn.functional.max_pool1d`) over the last dim of an input
    /// `[N, C, L]` or `[C, L]`.
    ///
    /// ```
    /// use strata_core::{MaxPool1dParams, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 3.0, 2.0, 5.0, 4.0], &[1, 1, 5])?;
    /// let y = x.max_pool1d(MaxPool1dParams { stride: 1, ..MaxPool1dParams::new(2) })?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![3.0, 3.0, 5.0, 5.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn max_pool1d(&self, params: MaxPool1dParams) -> Result<Tensor> {
        let p = params;
        let (win, shape) = pool_window(
            "max_pool1d",
            self,
            (&[p.kernel], &[p.stride], &[p.padding], &[p.dilation]),
            p.ceil_mode,
        )?;
        Ok(max_pool("max_pool1d", self, win, &shape, false)?.0)
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, GradcheckOptions, MaxPool1dParams, MaxPool2dParams, Tensor};

    fn p2(
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        d: (usize, usize),
        ceil: bool,
    ) -> MaxPool2dParams {
        MaxPool2dParams {
            kernel: k,
            stride: s,
            padding: p,
            dilation: d,
            ceil_mode: ceil,
        }
    }

    #[test]
    fn max_pool2d_gradchecks() {
        let cases = [
            (vec![2, 3, 6, 6], MaxPool2dParams::new(2)),
            (vec![1, 2, 7, 7], p2((3, 3), (2, 2), (1, 1), (1, 1), false)),
            (vec![1, 2, 5, 6], p2((3, 2), (1, 2), (1, 1), (1, 1), false)),
            (vec![2, 1, 7, 6], p2((2, 3), (2, 1), (1, 0), (2, 2), false)),
            (vec![1, 2, 5, 7], p2((2, 2), (2, 2), (1, 0), (1, 1), true)),
            (vec![2, 5, 5], p2((3, 3), (2, 2), (0, 0), (1, 1), true)), // unbatched
        ];
        for (shape, p) in cases {
            gradcheck(
                |t| t[0].max_pool2d(p),
                &[Tensor::randn(&shape)],
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{shape:?} {p:?}: {e}"));
        }
        // A permuted (non-contiguous) input.
        gradcheck(
            |t| {
                t[0].permute(&[0, 3, 1, 2])?
                    .max_pool2d(p2((2, 2), (1, 1), (1, 1), (1, 1), false))
            },
            &[Tensor::randn(&[2, 4, 5, 3])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn max_pool1d_gradcheck_and_values() {
        let p = MaxPool1dParams {
            kernel: 3,
            stride: 2,
            padding: 1,
            dilation: 2,
            ceil_mode: true,
        };
        gradcheck(
            |t| t[0].max_pool1d(p),
            &[Tensor::randn(&[2, 3, 10])],
            GradcheckOptions::default(),
        )
        .unwrap();
        // Padding is -inf, not 0: an all-negative row keeps its negative maxima.
        let x = Tensor::from_vec(vec![-3.0f64, -1.0, -2.0, -5.0], &[1, 4]).unwrap();
        let y = x
            .max_pool1d(MaxPool1dParams {
                padding: 1,
                ..MaxPool1dParams::new(2)
            })
            .unwrap();
        assert_eq!(y.to_vec::<f64>().unwrap(), vec![-3.0, -1.0, -5.0]);
    }

    #[test]
    fn ties_nan_and_indices_follow_pytorch() {
        // Ties: the first maximum gets the gradient.
        let x = Tensor::from_vec(vec![1.0f64, 2.0, 2.0, 0.0], &[1, 1, 2, 2])
            .unwrap()
            .requires_grad_();
        let (y, i) = x.max_pool2d_with_indices(MaxPool2dParams::new(2)).unwrap();
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![1]);
        let g = y.sum_all().unwrap().backward().unwrap();
        assert_eq!(
            g.get(&x).unwrap().to_vec::<f64>().unwrap(),
            vec![0.0, 1.0, 0.0, 0.0]
        );
        // NaN propagates.
        let x = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0, 0.0], &[1, 2, 2]).unwrap();
        assert!(x
            .max_pool2d(MaxPool2dParams::new(2))
            .unwrap()
            .item()
            .unwrap()
            .is_nan());
        // Indices are positions inside each plane, row-major.
        let x = Tensor::arange(0.0, 32.0, 1.0)
            .unwrap()
            .reshape(&[2, 4, 4])
            .unwrap()
            .neg()
            .unwrap();
        let (_, i) = x.max_pool2d_with_indices(MaxPool2dParams::new(2)).unwrap();
        assert_eq!(i.to_vec::<i64>().unwrap(), vec![0, 2, 8, 10, 0, 2, 8, 10]);
    }

    #[test]
    fn f32_rows_pooled_sixteen_at_a_time_match_the_scalar_rule() {
        // Widths around the sixteen-window blocks, values from a small set (many ties, ±0,
        // -∞) with a few NaNs: the f32 path (AVX-512 blocks where available) against the
        // f64 path (one window at a time) on the same values, positions and all.
        let palette = [0.0, -0.0, 1.0, 2.0, -3.0, f64::NEG_INFINITY, 2.0, 1.0];
        for (w, h) in [
            (32, 2),
            (34, 4),
            (66, 6),
            (70, 3),
            (30, 2),
            (28, 4),
            (14, 6),
            (2, 2),
        ] {
            let n = 3 * h * w;
            let mut v: Vec<f64> = (0..n).map(|i| palette[(i * 7 + i / 5) % 8]).collect();
            v[w + 3] = f64::NAN;
            v[n - 1] = f64::NAN;
            let x64 = Tensor::from_vec(v.clone(), &[3, h, w]).unwrap();
            let x32 = Tensor::from_vec(v.iter().map(|&a| a as f32).collect(), &[3, h, w]).unwrap();
            let p = MaxPool2dParams::new(2);
            let (y64, i64_) = x64.max_pool2d_with_indices(p).unwrap();
            let (y32, i32_) = x32.max_pool2d_with_indices(p).unwrap();
            assert_eq!(
                i32_.to_vec::<i64>().unwrap(),
                i64_.to_vec::<i64>().unwrap(),
                "w {w}"
            );
            let bits = |t: &Tensor| -> Vec<u64> {
                t.to_vec::<f64>()
                    .unwrap()
                    .iter()
                    .map(|a| a.to_bits())
                    .collect()
            };
            let y32 = y32.to_dtype(crate::DType::F64);
            assert_eq!(
                bits(&y32),
                bits(&y64),
                "w {w}: values, signs of zero included"
            );
        }
    }
}
