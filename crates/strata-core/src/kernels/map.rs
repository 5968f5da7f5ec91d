//! Elementwise maps over one, two or three strided operands into a new contiguous buffer.
//!
//! Each map has a contiguous fast path (plain slices, vectorised, split across threads above
//! [`PAR_MIN_ELEMS`]) and a strided path built on [`Walk`], whose inner loop is specialised for
//! unit and zero (broadcast) strides. A transposed source is copied in tiles so that both
//! reads and writes stay within cache lines. Outputs are written once, uninitialised before
//! (see [`alloc`]).

use super::alloc;
use super::parallel::{for_each_chunk_mut, for_each_part_mut, num_threads, PAR_MIN_ELEMS};
use super::walk::Walk;
use crate::layout::Layout;
use crate::Element;
use std::mem::MaybeUninit;

type Out<U> = [MaybeUninit<U>];

/// Fills `out` (row-major over the walk's shape) run by run, in parallel when large.
fn fill_runs<U: Send, const N: usize>(
    out: &mut Out<U>,
    walk: &Walk<N>,
    f: impl Fn(&mut Out<U>, [usize; N]) + Sync,
) {
    let inner = walk.inner;
    let runs = walk.runs();
    if inner == 0 || runs == 0 {
        return;
    }
    let threads = num_threads();
    let total = inner * runs;
    let chunks = (total / PAR_MIN_ELEMS).clamp(1, threads * 2).min(runs);
    let runs_per_chunk = if threads == 1 {
        runs
    } else {
        runs.div_ceil(chunks)
    };
    // One body for the serial and the parallel case: the walk's loop is compiled once per
    // operation, not twice.
    let fill_chunk = |c: usize, chunk: &mut Out<U>| {
        let first = c * runs_per_chunk;
        let mut pos = 0;
        walk.for_runs(first..(first + runs_per_chunk).min(runs), |_, base| {
            f(&mut chunk[pos..pos + inner], base);
            pos += inner;
        });
    };
    if runs_per_chunk == runs {
        fill_chunk(0, out);
    } else {
        for_each_part_mut(out, runs_per_chunk * inner, fill_chunk);
    }
}

/// Side of the square tiles of a transposing copy.
const TILE: usize = 32;

/// Copies a "transposed" source (see [`is_transposed`]) into `out`, tile by tile.
fn copy_transposed<T: Copy + Send + Sync>(src: &[T], walk: &Walk<1>, out: &mut Out<T>) {
    let dims = walk.outer_dims();
    let strides = walk.outer_strides(0);
    let nd = dims.len();
    let (rows, row_stride) = (dims[nd - 1], strides[nd - 1]); // row_stride == 1
    let (cols, col_stride) = (walk.inner, walk.inner_strides[0]);
    let plane = rows * cols;
    let planes: usize = dims[..nd - 1].iter().product();
    let plane_base = |p: usize| -> usize {
        let (mut rem, mut off) = (p, walk.offset(0));
        for d in (0..nd - 1).rev() {
            off += (rem % dims[d]) * strides[d];
            rem /= dims[d];
        }
        off
    };
    // One task per band of TILE rows of one plane; each band is a contiguous output block.
    let bands_per_plane = rows.div_ceil(TILE);
    let work = |band: usize, block: &mut Out<T>| {
        let (p, b) = (band / bands_per_plane, band % bands_per_plane);
        let base = plane_base(p);
        let r0 = b * TILE;
        let r1 = (r0 + TILE).min(rows);
        for c0 in (0..cols).step_by(TILE) {
            let c1 = (c0 + TILE).min(cols);
            for c in c0..c1 {
                let col = base + c * col_stride;
                for r in r0..r1 {
                    block[(r - r0) * cols + c].write(src[col + r * row_stride]);
                }
            }
        }
    };
    let band_len = TILE * cols;
    let plane_bands = |p: usize, plane_out: &mut Out<T>| {
        for (b, block) in plane_out.chunks_mut(band_len).enumerate() {
            work(p * bands_per_plane + b, block);
        }
    };
    let threads = num_threads();
    if planes * plane < PAR_MIN_ELEMS || threads == 1 {
        for (p, plane_out) in out.chunks_mut(plane.max(1)).enumerate() {
            plane_bands(p, plane_out);
        }
    } else if planes >= 2 * threads {
        for_each_part_mut(out, plane, plane_bands);
    } else {
        // Few large planes: their bands are the pieces, one plane at a time.
        for (p, plane_out) in out.chunks_mut(plane.max(1)).enumerate() {
            for_each_part_mut(plane_out, band_len, |b, block| {
                work(p * bands_per_plane + b, block)
            });
        }
    }
}

/// `o[i] = f(s[i])`: the loop the compiler vectorises at the crate's target width.
#[inline(always)]
fn fill<T: Copy, U>(o: &mut Out<U>, s: &[T], f: &impl Fn(T) -> U) {
    for (o, &x) in o.iter_mut().zip(s) {
        o.write(f(x));
    }
}

/// [`fill`] compiled for AVX-512: twice the lanes for maps that compute rather than stream
/// (`exp`, `tanh`, GELU ...). The same scalar arithmetic, so the same results to the bit.
///
/// # Safety
/// The CPU must support AVX-512F, BW, DQ and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn fill_avx512<T: Copy, U>(o: &mut Out<U>, s: &[T], f: &impl Fn(T) -> U) {
    fill(o, s, f)
}

/// Whether [`fill_avx512`] may run on this CPU.
fn wide_vectors() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether a walk reads a "transposed" source: stride 1 along the second-innermost output
/// dim and a large stride along the innermost, over at least a tile's width both ways. Row
/// by row, every element read would be a cache line of its own.
fn is_transposed(walk: &Walk<1>) -> bool {
    walk.inner_strides[0] != 1
        && walk.inner >= TILE / 2
        && walk.outer_dims().last().is_some_and(|&d| d >= TILE / 2)
        && walk.outer_strides(0).last() == Some(&1)
}

/// `out[i] = f(src[i])` over a strided source.
pub(crate) fn map1<T, U>(src: &[T], layout: &Layout, f: impl Fn(T) -> U + Sync + Clone) -> Vec<U>
where
    T: Element,
    U: Element,
{
    match view(layout) {
        View::Contiguous(r) => map_contiguous(&src[r], f),
        // Transposed sources are copied first, by one tiled copy per element type rather than
        // one per operation: they are rare outside `contiguous()`, which is that copy.
        View::Strided(w) if is_transposed(&w) => {
            map_contiguous(&transposed_copy(src, &w, layout.numel()), f)
        }
        View::Strided(w) => map_runs(src, &w, layout.numel(), f),
    }
}

/// Where a layout's elements lie: one contiguous range of the storage, or a strided walk.
enum View {
    Contiguous(std::ops::Range<usize>),
    Strided(Walk<1>),
}

fn view(layout: &Layout) -> View {
    match layout.contiguous_range() {
        Some(r) => View::Contiguous(r),
        None => View::Strided(Walk::new(
            layout.shape(),
            [layout.strides()],
            [layout.offset()],
        )),
    }
}

/// The `numel` elements a transposed walk reads, copied in row-major order.
fn transposed_copy<T: Element>(src: &[T], walk: &Walk<1>, numel: usize) -> Vec<T> {
    alloc::filled(numel, |out| copy_transposed(src, walk, out))
}

/// [`map1`] run by run over a strided, not transposed, source.
fn map_runs<T, U>(src: &[T], walk: &Walk<1>, numel: usize, f: impl Fn(T) -> U + Sync) -> Vec<U>
where
    T: Element,
    U: Element,
{
    let [st] = walk.inner_strides;
    alloc::filled(numel, |out| {
        fill_runs(out, walk, |o, [b]| {
            if st == 1 {
                let n = o.len();
                for (o, &x) in o.iter_mut().zip(&src[b..b + n]) {
                    o.write(f(x));
                }
            } else {
                for (i, o) in o.iter_mut().enumerate() {
                    o.write(f(src[b + i * st]));
                }
            }
        });
    })
}

/// [`map1`] over a contiguous source: vectorised (at AVX-512 width where the CPU has it) and
/// split across threads when large.
fn map_contiguous<T, U>(src: &[T], f: impl Fn(T) -> U + Sync + Clone) -> Vec<U>
where
    T: Element,
    U: Element,
{
    let wide = wide_vectors();
    alloc::filled(src.len(), |out| {
        for_each_chunk_mut(out, PAR_MIN_ELEMS, |start, o| {
            let n = o.len();
            // A local copy: the loop would otherwise reload the closure's captures (a
            // scalar factor, a slope) through a pointer on every element.
            let f = f.clone();
            let s = &src[start..start + n];
            if wide {
                // SAFETY: `wide_vectors` checked that the CPU has AVX-512.
                #[cfg(target_arch = "x86_64")]
                return unsafe { fill_avx512(o, s, &f) };
            }
            fill(o, s, &f);
        });
    })
}

/// The elements of a strided view, copied in row-major order.
pub(crate) fn collect<T: Element>(src: &[T], layout: &Layout) -> Vec<T> {
    match view(layout) {
        View::Contiguous(r) if r.len() < PAR_MIN_ELEMS => src[r].to_vec(),
        View::Contiguous(r) => map_contiguous(&src[r], |x| x),
        // A transposed view is the tiled copy alone (`map1` would map the copy again).
        View::Strided(w) if is_transposed(&w) => transposed_copy(src, &w, layout.numel()),
        View::Strided(w) => map_runs(src, &w, layout.numel(), |x| x),
    }
}

/// `out[i] = f(a[i], b[i])` where `a` and `b` are viewed with the given (broadcast) strides
/// over `shape`.
pub(crate) fn map2<A, B, U>(
    a: &[A],
    a_strides: &[usize],
    a_offset: usize,
    b: &[B],
    b_strides: &[usize],
    b_offset: usize,
    shape: &[usize],
    f: impl Fn(A, B) -> U + Sync + Clone,
) -> Vec<U>
where
    A: Copy + Sync,
    B: Copy + Sync,
    U: Element,
{
    let n: usize = shape.iter().product();
    alloc::filled(n, |out| {
        let walk = Walk::<2>::new(shape, [a_strides, b_strides], [a_offset, b_offset]);
        let [sa, sb] = walk.inner_strides;
        if walk.runs() == 1 && sa == 1 && sb == 1 {
            // Both contiguous over the whole shape: split by elements, not runs.
            let (a, b) = (&a[a_offset..a_offset + n], &b[b_offset..b_offset + n]);
            for_each_chunk_mut(out, PAR_MIN_ELEMS, |start, o| {
                let end = start + o.len();
                let f = f.clone(); // see `map1`
                for ((o, &x), &y) in o.iter_mut().zip(&a[start..end]).zip(&b[start..end]) {
                    o.write(f(x, y));
                }
            });
            return;
        }
        fill_runs(out, &walk, |o, [ba, bb]| {
            let len = o.len();
            match (sa, sb) {
                (1, 1) => {
                    for ((o, &x), &y) in o.iter_mut().zip(&a[ba..ba + len]).zip(&b[bb..bb + len]) {
                        o.write(f(x, y));
                    }
                }
                (1, 0) => {
                    let y = b[bb];
                    for (o, &x) in o.iter_mut().zip(&a[ba..ba + len]) {
                        o.write(f(x, y));
                    }
                }
                (0, 1) => {
                    let x = a[ba];
                    for (o, &y) in o.iter_mut().zip(&b[bb..bb + len]) {
                        o.write(f(x, y));
                    }
                }
                _ => {
                    for (i, o) in o.iter_mut().enumerate() {
                        o.write(f(a[ba + i * sa], b[bb + i * sb]));
                    }
                }
            }
        });
    })
}

/// `out[i] = f(a[i], b[i], c[i])` over three strided operands of one (broadcast) shape.
pub(crate) fn map3<A, B, C, U>(
    (a, a_strides, a_offset): (&[A], &[usize], usize),
    (b, b_strides, b_offset): (&[B], &[usize], usize),
    (c, c_strides, c_offset): (&[C], &[usize], usize),
    shape: &[usize],
    f: impl Fn(A, B, C) -> U + Sync + Clone,
) -> Vec<U>
where
    A: Copy + Sync,
    B: Copy + Sync,
    C: Copy + Sync,
    U: Element,
{
    let n: usize = shape.iter().product();
    alloc::filled(n, |out| {
        let walk = Walk::<3>::new(
            shape,
            [a_strides, b_strides, c_strides],
            [a_offset, b_offset, c_offset],
        );
        let [sa, sb, sc] = walk.inner_strides;
        fill_runs(out, &walk, |o, [ba, bb, bc]| {
            let len = o.len();
            if (sa, sb, sc) == (1, 1, 1) {
                let f = f.clone(); // see `map1`
                let it = o
                    .iter_mut()
                    .zip(&a[ba..ba + len])
                    .zip(&b[bb..bb + len])
                    .zip(&c[bc..bc + len]);
                for (((o, &x), &y), &z) in it {
                    o.write(f(x, y, z));
                }
            } else {
                for (i, o) in o.iter_mut().enumerate() {
                    o.write(f(a[ba + i * sa], b[bb + i * sb], c[bc + i * sc]));
                }
            }
        });
    })
}

/// Copies `src` (viewed through `src_strides`/`src_offset` over `shape`) into `dst` at the
/// positions given by `dst_strides`/`dst_offset` over the same shape.
pub(crate) fn assign<T: Copy + Send + Sync>(
    dst: &mut [T],
    (dst_strides, dst_offset): (&[usize], usize),
    src: &[T],
    (src_strides, src_offset): (&[usize], usize),
    shape: &[usize],
) {
    let walk = Walk::<2>::new(shape, [dst_strides, src_strides], [dst_offset, src_offset]);
    let [sd, ss] = walk.inner_strides;
    let n = walk.inner;
    if n == 0 {
        // An empty shape: the run offsets may point past the (empty) buffers.
        return;
    }
    walk.for_runs(0..walk.runs(), |_, [bd, bs]| {
        if sd == 1 && ss == 1 {
            dst[bd..bd + n].copy_from_slice(&src[bs..bs + n]);
        } else {
            for i in 0..n {
                dst[bd + i * sd] = src[bs + i * ss];
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::math::{exp_f32, tanh_f32};

    /// A contiguous layout over `n` elements.
    fn flat(n: usize) -> Layout {
        Layout::contiguous(&[n])
    }

    /// Inputs spanning exp's whole range, plus the special values.
    fn inputs(n: usize) -> Vec<f32> {
        let mut x: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.618_034).sin() * 95.0)
            .collect();
        x[..4].copy_from_slice(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0]);
        x
    }

    #[test]
    fn wide_maps_match_the_scalar_loop_to_the_bit() {
        // Large enough to be split across threads, with a ragged tail.
        let n = 3 * PAR_MIN_ELEMS + 7;
        let x = inputs(n);
        for (name, f) in [("exp", exp_f32 as fn(f32) -> f32), ("tanh", tanh_f32)] {
            let got = map1(&x, &flat(n), f);
            for (i, (&g, &v)) in got.iter().zip(&x).enumerate() {
                let want = f(v);
                assert!(
                    g.to_bits() == want.to_bits(),
                    "{name}({v}) at {i}: {g} vs scalar {want}"
                );
            }
        }
    }

    /// `f` of every element of `layout`'s view of `src`, in row-major order, by multi-index.
    fn by_definition(src: &[f32], layout: &Layout, f: impl Fn(f32) -> f32) -> Vec<f32> {
        let shape = layout.shape();
        (0..layout.numel())
            .map(|mut i| {
                let mut at = layout.offset();
                for d in (0..shape.len()).rev() {
                    at += (i % shape[d]) * layout.strides()[d];
                    i /= shape[d];
                }
                f(src[at])
            })
            .collect()
    }

    #[test]
    fn strided_and_transposed_views_map_every_element() {
        let f = |v: f32| v * 0.5 - 3.0;
        // (shape, strides, offset): a transposed matrix small and large enough to split, a
        // batch of transposed planes (few and many), a sliced view, a broadcast column.
        let cases: [(&[usize], &[usize], usize); 6] = [
            (&[20, 17], &[1, 20], 0),
            (&[300, 260], &[1, 300], 5),
            (&[2, 40, 600], &[24_000, 1, 40], 0),
            (&[9, 40, 100], &[4_000, 1, 40], 3),
            (&[30, 7], &[11, 1], 2),
            (&[50, 900], &[1, 0], 0),
        ];
        for (shape, strides, offset) in cases {
            let layout = Layout::new(shape, strides, offset);
            let x: Vec<f32> = (0..layout.storage_extent()).map(|i| i as f32).collect();
            let got = map1(&x, &layout, f);
            assert_eq!(
                got,
                by_definition(&x, &layout, f),
                "shape {shape:?} strides {strides:?}"
            );
            assert_eq!(collect(&x, &layout), by_definition(&x, &layout, |v| v));
        }
    }

    #[test]
    fn captured_parameters_are_applied_to_every_element() {
        let n = 2 * PAR_MIN_ELEMS + 3;
        let x = inputs(n);
        let (scale, shift) = (-0.375f32, 2.5f32);
        let got = map1(&x, &flat(n), move |v| v * scale + shift);
        for (&g, &v) in got.iter().zip(&x).skip(4) {
            assert_eq!(g, v * scale + shift);
        }
        let got = map2(&x, &[1], 0, &x, &[1], 0, &[n], move |a, b| a * scale - b);
        for (&g, &v) in got.iter().zip(&x).skip(4) {
            assert_eq!(g, v * scale - v);
        }
    }
}
