//! Average pooling: `avg_pool2d` and `avg_pool1d`, forward and backward, plus the window
//! description and kernels that the adaptive pools (`adaptive_pool.rs`) share.
//!
//! Every average pool is described by the same thing: for each output row and column, the
//! span of input rows/columns it averages, plus how many positions the divisor counts
//! (padding included or not). The windows are separable, so the spans are computed once per
//! axis; one forward kernel and one backward kernel (the gradient spread evenly over each
//! window) serve all the ops.

use super::float_dispatch;
use super::pool_window::{for_each_plane, pool_window};
use crate::autograd::{needs_grad, BackwardOp};
use crate::kernels::im2col::Window2d;
use crate::{Result, Tensor};

/// Options of [`Tensor::avg_pool2d`], as `(height, width)` pairs. [`AvgPool2dParams::new`]
/// gives PyTorch's defaults for a square kernel (stride = kernel, no padding, floor mode,
/// padding counted in the divisor).
///
/// ```
/// use strata_core::AvgPool2dParams;
/// let p = AvgPool2dParams { padding: (1, 1), count_include_pad: false, ..AvgPool2dParams::new(3) };
/// assert_eq!(p.stride, (3, 3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool2dParams {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size).
    pub stride: (usize, usize),
    /// Implicit zero padding on both sides; at most half the kernel size.
    pub padding: (usize, usize),
    /// Round the output size up instead of down.
    pub ceil_mode: bool,
    /// Divide by the whole window including padded positions (PyTorch's default), or only by
    /// the positions inside the input.
    pub count_include_pad: bool,
}

impl AvgPool2dParams {
    /// A `kernel × kernel` window with stride `kernel` and no padding.
    pub fn new(kernel: usize) -> Self {
        AvgPool2dParams {
            kernel: (kernel, kernel),
            stride: (kernel, kernel),
            padding: (0, 0),
            ceil_mode: false,
            count_include_pad: true,
        }
    }
}

/// Options of [`Tensor::avg_pool1d`] (see [`AvgPool2dParams`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvgPool1dParams {
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
    pub ceil_mode: bool,
    pub count_include_pad: bool,
}

impl AvgPool1dParams {
    /// A window of `kernel` with stride `kernel` and no padding.
    pub fn new(kernel: usize) -> Self {
        AvgPool1dParams {
            kernel,
            stride: kernel,
            padding: 0,
            ceil_mode: false,
            count_include_pad: true,
        }
    }
}

/// The input positions `start..end` one output averages along an axis, and the window
/// length counting padding (PyTorch's `pool_size` factor).
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
    pub padded: usize,
}

/// The windows of an average pool over planes of `h × w`.
#[derive(Clone, Debug)]
pub(super) struct AvgWindows {
    pub h: usize,
    pub w: usize,
    pub rows: Vec<Span>,
    pub cols: Vec<Span>,
    pub count_include_pad: bool,
}

impl AvgWindows {
    /// Spans of a strided window along one axis, as PyTorch's kernel computes them: the
    /// window is clipped to the padded input for the divisor, then to the input itself.
    fn strided_spans(n_out: usize, size: usize, k: usize, s: usize, p: usize) -> Vec<Span> {
        (0..n_out)
            .map(|o| {
                let start = (o * s) as i64 - p as i64;
                let end = (start + k as i64).min((size + p) as i64);
                Span {
                    start: start.max(0) as usize,
                    end: end.clamp(0, size as i64) as usize,
                    padded: (end - start).max(0) as usize,
                }
            })
            .collect()
    }

    fn from_window(win: &Window2d, count_include_pad: bool) -> Self {
        AvgWindows {
            h: win.h,
            w: win.w,
            rows: Self::strided_spans(win.oh, win.h, win.kh, win.sh, win.ph),
            cols: Self::strided_spans(win.ow, win.w, win.kw, win.sw, win.pw),
            count_include_pad,
        }
    }

    fn in_len(&self) -> usize {
        self.h * self.w
    }

    fn out_len(&self) -> usize {
        self.rows.len() * self.cols.len()
    }

    /// The divisor of the window at (`r`, `c`); 0 for an empty window.
    fn divisor(&self, r: &Span, c: &Span) -> usize {
        if r.start >= r.end || c.start >= c.end {
            0
        } else if self.count_include_pad {
            r.padded * c.padded
        } else {
            (r.end - r.start) * (c.end - c.start)
        }
    }
}

/// Averages every window; an empty window gives 0 (as in PyTorch).
fn avg_forward(
    op: &'static str,
    x: &Tensor,
    aw: &AvgWindows,
    out_shape: &[usize],
) -> Result<Tensor> {
    let (hw, l) = (aw.in_len(), aw.out_len());
    let planes = x.numel().checked_div(hw).unwrap_or(0);
    let cost = hw.max(l);
    Ok(float_dispatch!(x.dtype(), op, T => {
        let xc = x.detach().contiguous();
        let xs = xc.read::<T>()?;
        let mut out = vec![T::zero(); planes * l];
        for_each_plane(&mut out, l, cost, |p, o| {
            let plane = &xs[p * hw..(p + 1) * hw];
            for (i, r) in aw.rows.iter().enumerate() {
                for (j, c) in aw.cols.iter().enumerate() {
                    let div = aw.divisor(r, c);
                    if div == 0 {
                        continue;
                    }
                    let mut sum = T::zero();
                    for iy in r.start..r.end {
                        for &v in &plane[iy * aw.w + c.start..iy * aw.w + c.end] {
                            sum += v;
                        }
                    }
                    o[i * aw.cols.len() + j] = sum / T::from_f64(div as f64);
                }
            }
        });
        Tensor::from_data(T::into_storage(out), out_shape)
    }))
}

/// Backward of an average pool: each output gradient, divided by its window's divisor, is
/// added to every input position of the window.
struct AvgPoolBackward {
    op: &'static str,
    windows: AvgWindows,
}

impl BackwardOp for AvgPoolBackward {
    fn name(&self) -> &'static str {
        self.op
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let x = &inputs[0];
        let aw = &self.windows;
        let (hw, l) = (aw.in_len(), aw.out_len());
        let gx = float_dispatch!(grad.dtype(), self.op, T => {
            let gc = grad.detach().contiguous();
            let g = gc.read::<T>()?;
            let mut gx = vec![T::zero(); x.numel()];
            for_each_plane(&mut gx, hw, hw.max(l), |p, plane| {
                let gp = &g[p * l..(p + 1) * l];
                for (i, r) in aw.rows.iter().enumerate() {
                    for (j, c) in aw.cols.iter().enumerate() {
                        let div = aw.divisor(r, c);
                        if div == 0 {
                            continue;
                        }
                        let v = gp[i * aw.cols.len() + j] / T::from_f64(div as f64);
                        for iy in r.start..r.end {
                            for d in &mut plane[iy * aw.w + c.start..iy * aw.w + c.end] {
                                *d += v;
                            }
                        }
                    }
                }
            });
            Tensor::from_data(T::into_storage(gx), x.shape())
        });
        Ok(vec![Some(gx)])
    }
}

pub(super) fn avg_pool(
    op: &'static str,
    x: &Tensor,
    windows: AvgWindows,
    out_shape: &[usize],
) -> Result<Tensor> {
    let out = avg_forward(op, x, &windows, out_shape)?;
    if !needs_grad(&[x]) {
        return Ok(out);
    }
    Ok(out.record(&[x], AvgPoolBackward { op, windows }))
}

impl Tensor {
    /// 2-D average pooling (as `torch.nn.functional.avg_pool2d`) over the last two dims of
    /// an input `[N, C, H, W]` or `[C, H, W]`. Padded positions are zeros; with
    /// `count_include_pad` (the default) they count in the divisor.
    ///
    /// ```
    /// use strata_core::{AvgPool2dParams, Tensor};
    /// let x = Tensor::arange(0.0, 16.0, 1.0)?.reshape(&[1, 1, 4, 4])?;
    /// let y = x.avg_pool2d(AvgPool2dParams::new(2))?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![2.5, 4.5, 10.5, 12.5]);
    /// let p = AvgPool2dParams { padding: (1, 1), ..AvgPool2dParams::new(2) };
    /// // The second window covers x[0, 1] and x[0, 2] and two padded zeros.
    /// assert_eq!(x.avg_pool2d(p)?.to_vec::<f32>()?[1], (1.0 + 2.0) / 4.0);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn avg_pool2d(&self, params: AvgPool2dParams) -> Result<Tensor> {
        let p = params;
        let (win, shape) = pool_window(
            "avg_pool2d",
            self,
            (
                &[p.kernel.0, p.kernel.1],
                &[p.stride.0, p.stride.1],
                &[p.padding.0, p.padding.1],
                &[1, 1],
            ),
            p.ceil_mode,
        )?;
        let windows = AvgWindows::from_window(&win, p.count_include_pad);
        avg_pool("avg_pool2d", self, windows, &shape)
    }

    /// 1-D average pooling (as `torch.nn.functional.avg_pool1d`) over the last dim of an
    /// input `[N, C, L]` or `[C, L]`.
    ///
    /// ```
    /// use strata_core::{AvgPool1dParams, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 3.0, 5.0, 7.0], &[1, 1, 4])?;
    /// assert_eq!(x.avg_pool1d(AvgPool1dParams::new(2))?.to_vec::<f32>()?, vec![2.0, 6.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn avg_pool1d(&self, params: AvgPool1dParams) -> Result<Tensor> {
        let p = params;
        let (win, shape) = pool_window(
            "avg_pool1d",
            self,
            (&[p.kernel], &[p.stride], &[p.padding], &[1]),
            p.ceil_mode,
        )?;
        let windows = AvgWindows::from_window(&win, p.count_include_pad);
        avg_pool("avg_pool1d", self, windows, &shape)
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, AvgPool1dParams, AvgPool2dParams, GradcheckOptions, Tensor};

    fn p2(
        k: (usize, usize),
        s: (usize, usize),
        p: (usize, usize),
        ceil: bool,
        include: bool,
    ) -> AvgPool2dParams {
        AvgPool2dParams {
            kernel: k,
            stride: s,
            padding: p,
            ceil_mode: ceil,
            count_include_pad: include,
        }
    }

    #[test]
    fn avg_pool_gradchecks() {
        let opts = GradcheckOptions::default();
        let cases = [
            (vec![2, 3, 6, 6], AvgPool2dParams::new(2)),
            (vec![1, 2, 7, 7], p2((3, 3), (2, 2), (1, 1), false, true)),
            (vec![1, 2, 7, 7], p2((3, 3), (2, 2), (1, 1), false, false)),
            (vec![1, 2, 5, 6], p2((3, 2), (1, 2), (1, 1), true, true)),
            (vec![2, 5, 5], p2((2, 2), (2, 2), (1, 0), true, false)),
        ];
        for (shape, p) in cases {
            gradcheck(|t| t[0].avg_pool2d(p), &[Tensor::randn(&shape)], opts)
                .unwrap_or_else(|e| panic!("{shape:?} {p:?}: {e}"));
        }
        gradcheck(
            |t| {
                t[0].permute(&[0, 3, 1, 2])?
                    .avg_pool2d(p2((2, 2), (1, 1), (1, 1), false, false))
            },
            &[Tensor::randn(&[2, 4, 5, 3])],
            opts,
        )
        .unwrap();
        let p = AvgPool1dParams {
            stride: 2,
            padding: 1,
            ..AvgPool1dParams::new(3)
        };
        gradcheck(|t| t[0].avg_pool1d(p), &[Tensor::randn(&[2, 3, 8])], opts).unwrap();
    }

    #[test]
    fn divisors_follow_pytorch() {
        let x = Tensor::ones(&[1, 1, 5, 5]);
        // Padded corner window of 3x3 over a 5x5 of ones with padding 1: 4 inside positions.
        let inc = x
            .avg_pool2d(p2((3, 3), (2, 2), (1, 1), false, true))
            .unwrap();
        let exc = x
            .avg_pool2d(p2((3, 3), (2, 2), (1, 1), false, false))
            .unwrap();
        assert_eq!(inc.to_vec::<f32>().unwrap()[0], 4.0 / 9.0);
        assert_eq!(exc.to_vec::<f32>().unwrap(), vec![1.0; 9]);
        // Ceil mode: the last window of 5 with kernel 2 holds one element and, extending past
        // the padded input, divides by 1 even when counting padding.
        let y = x
            .avg_pool2d(p2((2, 2), (2, 2), (0, 0), true, true))
            .unwrap();
        assert_eq!(y.shape(), &[1, 1, 3, 3]);
        assert_eq!(y.to_vec::<f32>().unwrap(), vec![1.0; 9]);
    }
}
