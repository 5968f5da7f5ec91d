//! im2col and col2im: the unfolding that turns a 2-D convolution into a matrix product.
//!
//! For a window geometry ([`Window2d`]) over `channels` planes of `h × w`, the column matrix
//! has one row per (channel, kernel row, kernel column) tap and one column per output
//! position: `col[(c, ki, kj), (oy, ox)] = x[c, oy*sh - ph + ki*dh, ox*sw - pw + kj*dw]`, or 0
//! where that position falls in the padding. `col2im` is its adjoint: it adds every column
//! entry back onto the input position it came from.
//!
//! Both walk the column matrix row by row and output row by output row, so the inner loop is
//! a contiguous copy (stride 1) or a strided gather, with the padded borders filled apart
//! instead of tested per element.

use std::mem::MaybeUninit;
use std::ops::Range;

/// The geometry of a 2-D sliding window: input plane, kernel, stride, padding, dilation and
/// the number of output positions (given explicitly: a transposed convolution may use a
/// window whose output count is not the one the input size implies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window2d {
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Window2d {
    /// The window of one or two spatial dims, given per dim as input size, kernel, stride,
    /// padding, dilation and output size. A 1-D window is a 2-D window of height 1.
    pub fn from_dims(
        input: &[usize],
        (kernel, stride, padding, dilation): (&[usize], &[usize], &[usize], &[usize]),
        output: &[usize],
    ) -> Window2d {
        // Entry `i` of the 2-D view: the row dim is absent (`none`) for a 1-D window.
        let d = input.len();
        let at = |v: &[usize], i: usize, none: usize| {
            if i + d < 2 {
                none
            } else {
                v[i + d - 2]
            }
        };
        Window2d {
            h: at(input, 0, 1),
            w: at(input, 1, 1),
            kh: at(kernel, 0, 1),
            kw: at(kernel, 1, 1),
            sh: at(stride, 0, 1),
            sw: at(stride, 1, 1),
            ph: at(padding, 0, 0),
            pw: at(padding, 1, 0),
            dh: at(dilation, 0, 1),
            dw: at(dilation, 1, 1),
            oh: at(output, 0, 1),
            ow: at(output, 1, 1),
        }
    }

    /// Elements of one input plane.
    pub fn in_len(&self) -> usize {
        self.h * self.w
    }

    /// Output positions of one plane (the column count of the column matrix).
    pub fn out_len(&self) -> usize {
        self.oh * self.ow
    }

    /// Kernel taps per channel.
    pub fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// True when the column matrix of a plane is the plane itself (a 1x1 kernel, stride 1,
    /// no padding): the convolution is then a plain matrix product and needs no unfolding.
    pub fn is_pointwise(&self) -> bool {
        self.kh == 1
            && self.kw == 1
            && self.sh == 1
            && self.sw == 1
            && self.ph == 0
            && self.pw == 0
            && self.oh == self.h
            && self.ow == self.w
    }

    /// True for a "same" window of stride 1 (W2's padded 3x3 convs): input and output rows
    /// are equally wide, so each tap's valid block is one shifted run of the plane.
    pub fn is_flat(&self) -> bool {
        self.sh == 1 && self.sw == 1 && self.dw == 1 && self.w == self.ow
    }

    /// For a flat window, the run of tap `(ki, kj)` whose valid outputs are rows `ys` and
    /// columns `xs` (both non-empty): its range in the tap's row of the column matrix, from
    /// the first valid element to the last, and where it starts in the input plane.
    fn flat_run(
        &self,
        ys: (usize, usize),
        xs: (usize, usize),
        (ki, kj): (usize, usize),
    ) -> (Range<usize>, usize) {
        let run = ys.0 * self.ow + xs.0..(ys.1 - 1) * self.ow + xs.1;
        let start = (ys.0 + ki * self.dh - self.ph) * self.w + xs.0 + kj * self.dw - self.pw;
        (run, start)
    }
}

/// The output positions `o` in `0..n_out` whose input coordinate `o * stride + tap - pad`
/// lies in `0..size`, as the range `lo..hi` (empty when none does).
#[inline]
fn valid_outputs(
    n_out: usize,
    size: usize,
    stride: usize,
    pad: usize,
    tap: usize,
) -> (usize, usize) {
    let lo = if pad > tap {
        (pad - tap).div_ceil(stride)
    } else {
        0
    };
    let hi = if size + pad > tap {
        ((size - 1 + pad - tap) / stride + 1).min(n_out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// Unfolds `channels` contiguous planes of `x` into `col`
/// (`channels * kh * kw` rows of `oh * ow`), writing every one of those elements: `col` may
/// start uninitialised, so a column buffer is never zero-filled first.
pub(crate) fn im2col<T: Copy + Default>(
    x: &[T],
    channels: usize,
    win: &Window2d,
    col: &mut [MaybeUninit<T>],
) {
    let (ow, l) = (win.ow, win.out_len());
    let zero = T::default();
    let fill = |s: &mut [MaybeUninit<T>]| {
        for d in s {
            d.write(zero);
        }
    };
    let flat = win.is_flat();
    let mut rows = col[..channels * win.taps() * l].chunks_exact_mut(l);
    for c in 0..channels {
        let plane = &x[c * win.in_len()..(c + 1) * win.in_len()];
        for ki in 0..win.kh {
            let (y_lo, y_hi) = valid_outputs(win.oh, win.h, win.sh, win.ph, ki * win.dh);
            for kj in 0..win.kw {
                let (x_lo, x_hi) = valid_outputs(ow, win.w, win.sw, win.pw, kj * win.dw);
                let Some(row) = rows.next() else { return };
                if flat && x_lo < x_hi && y_lo < y_hi {
                    // Input and output rows are equally wide and both strides are 1, so the
                    // valid block is one shifted run of the plane: copy it whole, from the
                    // first valid element to the last, then zero the padded columns, which
                    // the run filled with the ends of neighbouring rows. (Row by row, W2's
                    // 14- and 28-element copies were a call to memmove each.)
                    let (run, start) = win.flat_run((y_lo, y_hi), (x_lo, x_hi), (ki, kj));
                    fill(&mut row[..run.start]);
                    copy_into(&mut row[run.clone()], &plane[start..start + run.len()]);
                    fill(&mut row[run.end..]);
                    let run = &mut row[run];
                    zero_row_gaps(run, ow, x_hi - x_lo, y_hi - y_lo, MaybeUninit::new(zero));
                    continue;
                }
                fill(&mut row[..y_lo * ow]);
                fill(&mut row[y_hi * ow..]);
                for oy in y_lo..y_hi {
                    let iy = oy * win.sh + ki * win.dh - win.ph;
                    let src = &plane[iy * win.w..(iy + 1) * win.w];
                    let out = &mut row[oy * ow..(oy + 1) * ow];
                    fill(&mut out[..x_lo]);
                    fill(&mut out[x_hi..]);
                    if x_lo < x_hi {
                        let ix0 = x_lo * win.sw + kj * win.dw - win.pw;
                        let out = &mut out[x_lo..x_hi];
                        if win.sw == 1 {
                            let n = out.len();
                            copy_into(out, &src[ix0..ix0 + n]);
                        } else {
                            for (j, o) in out.iter_mut().enumerate() {
                                o.write(src[ix0 + j * win.sw]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Zeroes the gaps between the `rows` valid blocks of `valid` elements that a flat run
/// (rows `ow` apart) spans: the padded columns at the end of one output row and the start of
/// the next. Gap by gap, across rows: for W2's one-element gaps a fill per gap would be a
/// call to memset each.
fn zero_row_gaps<S: Copy>(run: &mut [S], ow: usize, valid: usize, rows: usize, zero: S) {
    for g in valid..ow {
        for r in 0..rows.saturating_sub(1) {
            run[r * ow + g] = zero;
        }
    }
}

/// Writes `src` into `out`, which must have the same length.
fn copy_into<T: Copy>(out: &mut [MaybeUninit<T>], src: &[T]) {
    assert_eq!(out.len(), src.len(), "im2col copies runs of equal length");
    // SAFETY: both slices hold `src.len()` elements, and `MaybeUninit<T>` has `T`'s layout.
    // (`write_copy_of_slice` needs Rust 1.93; the MSRV is 1.89.)
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), out.as_mut_ptr() as *mut T, src.len()) };
}

/// The adjoint of [`im2col`]: adds every entry of `col` onto the position of `x` (contiguous
/// `channels` planes) it was read from. `x` is accumulated into, not overwritten. `col` is
/// scratch: its entries that fall in the padding may be zeroed on the way.
pub(crate) fn col2im<T: Copy + Default + std::ops::AddAssign>(
    col: &mut [T],
    channels: usize,
    win: &Window2d,
    x: &mut [T],
) {
    let (ow, l) = (win.ow, win.out_len());
    let flat = win.is_flat();
    let mut rows = col[..channels * win.taps() * l].chunks_exact_mut(l);
    for c in 0..channels {
        let plane = &mut x[c * win.in_len()..(c + 1) * win.in_len()];
        for ki in 0..win.kh {
            let (y_lo, y_hi) = valid_outputs(win.oh, win.h, win.sh, win.ph, ki * win.dh);
            for kj in 0..win.kw {
                let (x_lo, x_hi) = valid_outputs(ow, win.w, win.sw, win.pw, kj * win.dw);
                let Some(row) = rows.next() else { return };
                if x_lo >= x_hi || y_lo >= y_hi {
                    continue;
                }
                if flat {
                    // The valid block is one shifted run of the plane (see `im2col`). The
                    // run's padded columns would land on the ends of neighbouring rows, so
                    // they are zeroed first; the run is then one long vectorised addition
                    // instead of one 14- or 28-element loop per row, too short for the
                    // vector loop (W2's col2im was 6 % of its samples).
                    let (run, start) = win.flat_run((y_lo, y_hi), (x_lo, x_hi), (ki, kj));
                    let run = &mut row[run];
                    zero_row_gaps(run, ow, x_hi - x_lo, y_hi - y_lo, T::default());
                    for (d, &s) in plane[start..start + run.len()].iter_mut().zip(&*run) {
                        *d += s;
                    }
                    continue;
                }
                let ix0 = x_lo * win.sw + kj * win.dw - win.pw;
                for oy in y_lo..y_hi {
                    let iy = oy * win.sh + ki * win.dh - win.ph;
                    let dst = &mut plane[iy * win.w..(iy + 1) * win.w];
                    let src = &row[oy * ow + x_lo..oy * ow + x_hi];
                    if win.sw == 1 {
                        for (d, &s) in dst[ix0..ix0 + src.len()].iter_mut().zip(src) {
                            *d += s;
                        }
                    } else {
                        for (j, &s) in src.iter().enumerate() {
                            dst[ix0 + j * win.sw] += s;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(h: usize, w: usize, k: (usize, usize), s: usize, p: usize, d: usize) -> Window2d {
        let out = |n: usize, k: usize| (n + 2 * p - d * (k - 1) - 1) / s + 1;
        Window2d {
            h,
            w,
            kh: k.0,
            kw: k.1,
            sh: s,
            sw: s,
            ph: p,
            pw: p,
            dh: d,
            dw: d,
            oh: out(h, k.0),
            ow: out(w, k.1),
        }
    }

    /// The definition: every (column entry, input position) pair a window reads, in the
    /// column matrix's order, one element at a time.
    fn taps_by_definition(c: usize, win: &Window2d) -> Vec<(usize, usize)> {
        let mut pairs = vec![];
        for ch in 0..c {
            for ki in 0..win.kh {
                for kj in 0..win.kw {
                    let row = (ch * win.kh + ki) * win.kw + kj;
                    for oy in 0..win.oh {
                        for ox in 0..win.ow {
                            let iy = (oy * win.sh + ki * win.dh) as isize - win.ph as isize;
                            let ix = (ox * win.sw + kj * win.dw) as isize - win.pw as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < win.h && (ix as usize) < win.w
                            {
                                let at = ch * win.in_len() + iy as usize * win.w + ix as usize;
                                pairs.push((row * win.out_len() + oy * win.ow + ox, at));
                            }
                        }
                    }
                }
            }
        }
        pairs
    }

    fn naive_im2col(x: &[f64], c: usize, win: &Window2d) -> Vec<f64> {
        let mut col = vec![0.0; c * win.taps() * win.out_len()];
        for (entry, at) in taps_by_definition(c, win) {
            col[entry] = x[at];
        }
        col
    }

    /// Every in-bounds entry added onto the position it came from, in tap order.
    fn naive_col2im(col: &[f64], c: usize, win: &Window2d) -> Vec<f64> {
        let mut x = vec![0.0; c * win.in_len()];
        for (entry, at) in taps_by_definition(c, win) {
            x[at] += col[entry];
        }
        x
    }

    #[test]
    fn im2col_matches_the_definition_and_col2im_is_its_adjoint() {
        let cases = [
            window(5, 6, (3, 3), 1, 1, 1),
            window(7, 5, (3, 2), 2, 0, 1),
            window(8, 8, (3, 3), 1, 2, 2),
            window(6, 7, (2, 3), 3, 1, 2),
            window(4, 4, (1, 1), 1, 0, 1),
            window(3, 3, (3, 3), 2, 1, 1),
            // Input rows as wide as output rows at stride 1: the flat copy, including
            // a wide kernel, more output rows than input rows, and a column that is
            // all padding for some taps.
            window(6, 7, (5, 5), 1, 2, 1),
            window(7, 5, (2, 3), 1, 1, 1),
            window(4, 1, (3, 3), 1, 1, 1),
        ];
        for win in cases {
            let c = 2;
            let x: Vec<f64> = (0..c * win.in_len()).map(|i| (i as f64).sin()).collect();
            // NaN everywhere first: an element im2col failed to write would show.
            let mut col = vec![MaybeUninit::new(f64::NAN); c * win.taps() * win.out_len()];
            im2col(&x, c, &win, &mut col);
            let col: Vec<f64> = col.iter().map(|v| unsafe { v.assume_init() }).collect();
            assert_eq!(col, naive_im2col(&x, c, &win), "{win:?}");

            // <im2col(x), y> == <x, col2im(y)> for any y.
            let y: Vec<f64> = (0..col.len()).map(|i| (i as f64 * 0.7).cos()).collect();
            let mut back = vec![0.0; x.len()];
            col2im(&mut y.clone(), c, &win, &mut back);
            let lhs: f64 = col.iter().zip(&y).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-9 * lhs.abs().max(1.0), "{win:?}");
            // And element by element: each input position adds its entries in tap order.
            assert_eq!(back, naive_col2im(&y, c, &win), "{win:?}");
        }
    }

    #[test]
    fn valid_outputs_covers_exactly_the_inside() {
        for (n_out, size, stride, pad, tap) in [(5, 5, 1, 1, 0), (3, 7, 3, 2, 4), (4, 2, 1, 3, 0)] {
            let (lo, hi) = valid_outputs(n_out, size, stride, pad, tap);
            for o in 0..n_out {
                let i = (o * stride + tap) as isize - pad as isize;
                let inside = i >= 0 && (i as usize) < size;
                assert_eq!(inside, (lo..hi).contains(&o), "{o}");
            }
        }
    }
}
