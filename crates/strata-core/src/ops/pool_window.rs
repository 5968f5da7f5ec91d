//! What every pooling op shares: checking the input and the window against PyTorch's
//! rules (output size, floor and ceil mode, padding at most half the kernel), the taps of a
//! window that fall inside the input, and a loop over planes that goes parallel when the
//! work is large.

use super::conv_shape::padded_and_extent;
use crate::kernels::im2col::Window2d;
use crate::kernels::parallel::{for_each_item, for_each_run_mut, num_threads, PAR_MIN_ELEMS};
use crate::{Error, Result, Tensor};

/// The output size of one dim under PyTorch's pooling rule, or an error naming `op`.
fn pool_out_size(
    op: &'static str,
    shape: &[usize],
    size: usize,
    (k, s, p, d): (usize, usize, usize, usize),
    ceil_mode: bool,
) -> Result<usize> {
    if k == 0 || s == 0 || d == 0 {
        return Err(Error::invalid(
            op,
            "kernel",
            format!("kernel size {k}, stride {s} and dilation {d} must all be at least 1"),
        ));
    }
    if p > k / 2 {
        return Err(Error::invalid(
            op,
            "padding",
            format!("padding {p} must be at most half the kernel size {k}"),
        ));
    }
    let (padded, extent) = padded_and_extent(op, shape, (size, p, k, d))?;
    if padded < extent {
        return Err(Error::shape(
            op,
            shape,
            format!(
                "the padded input size {padded} is smaller than the window extent {extent} \
                 (kernel {k}, dilation {d}, padding {p})"
            ),
        ));
    }
    let span = padded - extent;
    let mut out = if ceil_mode {
        span.div_ceil(s)
    } else {
        span / s
    } + 1;
    // In ceil mode the last window must start inside the input or the left padding.
    if ceil_mode && (out - 1) * s >= size + p {
        out -= 1;
    }
    Ok(out)
}

/// Checks a pooling input (`[N, C, *spatial]` or unbatched `[C, *spatial]`, one or two
/// spatial dims given by the length of `kernel`) and returns the window over its planes and
/// the output shape. Parameters are `(kernel, stride, padding, dilation)` per spatial dim.
pub(super) fn pool_window(
    op: &'static str,
    x: &Tensor,
    (kernel, stride, padding, dilation): (&[usize], &[usize], &[usize], &[usize]),
    ceil_mode: bool,
) -> Result<(Window2d, Vec<usize>)> {
    let d = kernel.len();
    let shape = x.shape();
    if shape.len() != d + 1 && shape.len() != d + 2 {
        let dims = if d == 1 { "L" } else { "H, W" };
        return Err(Error::shape(
            op,
            shape,
            format!("expected an input [N, C, {dims}] or unbatched [C, {dims}]"),
        ));
    }
    if !x.dtype().is_float() {
        return Err(Error::dtype(
            op,
            "a floating-point dtype (f32 or f64)",
            x.dtype(),
        ));
    }
    let sp = &shape[shape.len() - d..];
    if sp.contains(&0) {
        return Err(Error::shape(op, shape, "the pooled dims must not be empty"));
    }
    let mut out = [1usize; 2];
    for i in 0..d {
        let args = (kernel[i], stride[i], padding[i], dilation[i]);
        out[i + 2 - d] = pool_out_size(op, shape, sp[i], args, ceil_mode)?;
    }
    let win = Window2d::from_dims(sp, (kernel, stride, padding, dilation), &out[2 - d..]);
    let mut out_shape = shape[..shape.len() - d].to_vec();
    out_shape.extend_from_slice(&out[2 - d..]);
    Ok((win, out_shape))
}

/// For each output position `o` in `0..n_out` along one axis, the taps of its window that
/// fall inside `0..size`: their count and the input coordinate of the first (the others
/// follow every `dil`). A tap `k` sits at `o * stride − pad + k * dil`.
pub(super) fn axis_taps(
    n_out: usize,
    (stride, pad, dil, kernel): (usize, usize, usize, usize),
    size: usize,
) -> Vec<(usize, usize)> {
    (0..n_out)
        .map(|o| {
            let start = o * stride;
            let lo = if pad > start {
                (pad - start).div_ceil(dil)
            } else {
                0
            };
            let hi = if size + pad > start {
                ((size - 1 + pad - start) / dil + 1).min(kernel)
            } else {
                0
            };
            if lo >= hi {
                (0, 0)
            } else {
                (hi - lo, start + lo * dil - pad)
            }
        })
        .collect()
}

/// Calls `f(i, chunk)` for the consecutive `len`-element chunks of `out` (one per plane), on
/// several threads when `planes × cost_per_plane` is large enough to pay for it.
pub(super) fn for_each_plane<T: Send>(
    out: &mut [T],
    len: usize,
    cost_per_plane: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if len == 0 {
        return;
    }
    let planes = out.len() / len;
    if planes > 1 && planes.saturating_mul(cost_per_plane) >= PAR_MIN_ELEMS && num_threads() > 1 {
        for_each_run_mut(out, len, |first, run| {
            for (j, c) in run.chunks_mut(len).enumerate() {
                f(first + j, c);
            }
        });
    } else {
        out.chunks_mut(len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// [`for_each_plane`] over two outputs at once: `f(i, a_chunk, b_chunk)` with chunks of
/// `a_len` and `b_len` elements.
pub(super) fn for_each_plane_pair<A: Send, B: Send>(
    (a, a_len): (&mut [A], usize),
    (b, b_len): (&mut [B], usize),
    cost_per_plane: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync + Send,
) {
    if a_len == 0 || b_len == 0 {
        return;
    }
    let planes = a.len() / a_len;
    if planes > 1 && planes.saturating_mul(cost_per_plane) >= PAR_MIN_ELEMS && num_threads() > 1 {
        // Runs of whole planes, a few per thread.
        let per = planes.div_ceil(4 * num_threads()).max(1);
        let runs: Vec<_> = a
            .chunks_mut(per * a_len)
            .zip(b.chunks_mut(per * b_len))
            .enumerate()
            .collect();
        for_each_item(runs, |(r, (xs, ys))| {
            for (j, (x, y)) in xs.chunks_mut(a_len).zip(ys.chunks_mut(b_len)).enumerate() {
                f(r * per + j, x, y);
            }
        });
    } else {
        a.chunks_mut(a_len)
            .zip(b.chunks_mut(b_len))
            .enumerate()
            .for_each(|(i, (x, y))| f(i, x, y));
    }
}

#[cfg(test)]
mod tests {
    use crate::{MaxPool1dParams, MaxPool2dParams, Tensor};

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
    fn output_sizes_follow_pytorch() {
        let size = |h: usize, p: MaxPool2dParams| {
            Tensor::zeros(&[1, 1, h, h]).max_pool2d(p).unwrap().shape()[2]
        };
        assert_eq!(size(7, MaxPool2dParams::new(2)), 3);
        assert_eq!(size(7, p2((2, 2), (2, 2), (0, 0), (1, 1), true)), 4);
        assert_eq!(size(6, p2((3, 3), (2, 2), (1, 1), (1, 1), true)), 4);
        // The last window would start in the right padding: dropped.
        assert_eq!(size(5, p2((2, 2), (2, 2), (1, 1), (1, 1), true)), 3);
        assert_eq!(size(28, MaxPool2dParams::new(2)), 14);
    }

    #[test]
    fn errors_name_the_problem() {
        let x = Tensor::zeros(&[1, 1, 4, 4]);
        let e = |p| x.max_pool2d(p).unwrap_err().to_string();
        assert!(e(p2((2, 2), (2, 2), (2, 0), (1, 1), false))
            .contains("padding 2 must be at most half the kernel size 2"));
        assert!(e(p2((0, 2), (1, 1), (0, 0), (1, 1), false)).contains("must all be at least 1"));
        assert!(e(p2((2, 2), (0, 1), (0, 0), (1, 1), false)).contains("must all be at least 1"));
        assert!(e(MaxPool2dParams::new(5))
            .contains("padded input size 4 is smaller than the window extent 5"));
        assert!(e(p2((3, 3), (1, 1), (0, 0), (2, 2), false)).contains("window extent 5"));
        assert!(e(p2((2, 2), (1, 1), (0, 0), (usize::MAX, 1), false)).contains("is too large"));
        let e = Tensor::zeros(&[4, 4])
            .max_pool2d(MaxPool2dParams::new(2))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "max_pool2d: got shape [4, 4], expected an input [N, C, H, W] or unbatched [C, H, W]"
        );
        let e = Tensor::zeros(&[1, 2, 0])
            .max_pool1d(MaxPool1dParams::new(2))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "max_pool1d: got shape [1, 2, 0], the pooled dims must not be empty"
        );
        // An empty batch is fine.
        let y = Tensor::zeros(&[0, 2, 4])
            .max_pool1d(MaxPool1dParams::new(2))
            .unwrap();
        assert_eq!(y.shape(), &[0, 2, 2]);
    }
}
