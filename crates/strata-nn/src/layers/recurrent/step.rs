//! One time step over the batch rows: the gate kernels of `gates.rs` applied row by row,
//! forward and backward, with the rows split across the thread pool when the step is large
//! enough (the products around it are already parallel; this keeps the elementwise part
//! from running on one thread while the others wait).

use super::gates::{self, CellKind};
#[cfg(target_arch = "x86_64")]
use super::gates16;
use strata_core::kernels::parallel::for_each_item;
use strata_core::FloatElement;

/// Rows (times gate width) below which a step stays on one thread.
const PAR_MIN_ELEMS: usize = 8 * 1024;

/// Splits a `[rows, width]` buffer after `rows` rows; an empty buffer (one the kind does not
/// use) splits into two empty ones.
fn split_mut<T>(s: &mut [T], rows: usize, width: usize) -> (&mut [T], &mut [T]) {
    s.split_at_mut((rows * width).min(s.len()))
}

fn split_ref<T>(s: &[T], rows: usize, width: usize) -> (&[T], &[T]) {
    s.split_at((rows * width).min(s.len()))
}

/// Sizes and options shared by every row of a step.
#[derive(Clone, Copy)]
pub(crate) struct StepShape<'a> {
    pub kind: CellKind,
    pub h: usize,
    /// Time index of the step, for `lengths`.
    pub t: usize,
    /// Width of the input part of the saved `[x | h]` rows (forward only).
    pub x_width: usize,
    pub lengths: Option<&'a [usize]>,
    /// Rows from one batch row to the next in the step's blocks of the sequence buffers
    /// (gates, outputs, saved rows, their gradients): 1, or `T` when they are batch-first.
    /// The state buffers always hold one row per batch row.
    pub row_step: usize,
    /// Elements from one row of the gate buffers (gates, activations, their gradients) to
    /// the next: at least `G·H` (padded to keep rows off the same cache set).
    pub gate_ld: usize,
}

impl StepShape<'_> {
    fn gh(&self) -> usize {
        self.kind.gates() * self.h
    }

    /// Where row `k` of a `width`-wide block of the sequence buffers starts.
    fn seq_row(&self, k: usize, width: usize) -> usize {
        k * self.row_step * width
    }

    fn active(&self, row: usize) -> bool {
        self.lengths
            .is_none_or(|l| l.get(row).is_some_and(|&n| self.t < n))
    }

    /// Whether `rows` rows are worth sharing between threads. (Parts made by [`cut`] are
    /// below the threshold, so they run serially.)
    fn parallel(&self, rows: usize) -> bool {
        rows >= PARTS && rows * self.gh() >= PAR_MIN_ELEMS && strata_core::num_threads() > 1
    }
}

/// Parts a step's rows are cut into when shared between threads: a few per thread, so a
/// helper that starts late still takes some.
const PARTS: usize = 4;

/// A step's buffers cut to a range of batch rows.
trait StepRows: Sized + Send {
    /// Number of batch rows.
    fn len(&self) -> usize;
    /// The first `rows` rows and the rest.
    fn split(self, rows: usize, shape: &StepShape<'_>) -> (Self, Self);
}

/// Runs `part` on all rows of `rows`, cut into [`PARTS`] parts shared between threads when
/// that is worth it.
fn share<R: StepRows>(shape: &StepShape<'_>, rows: R, part: impl Fn(R) + Sync) {
    let n = rows.len();
    if shape.parallel(n) {
        for_each_item(cut(rows, n, |r, len| r.split(len, shape)), part);
    } else {
        part(rows);
    }
}

/// Cuts `rows` (of `n` rows) into [`PARTS`] near-equal parts with `split(rest, first_len)`.
fn cut<R>(rows: R, n: usize, split: impl Fn(R, usize) -> (R, R)) -> Vec<R> {
    let mut parts = Vec::with_capacity(PARTS);
    let mut rest = rows;
    for i in 0..PARTS - 1 {
        let len = n * (i + 1) / PARTS - n * i / PARTS;
        let (part, tail) = split(rest, len);
        parts.push(part);
        rest = tail;
    }
    parts.push(rest);
    parts
}

/// The forward buffers of one step, cut to the rows `first_row..first_row + rows`. The
/// blocks of the sequence buffers (`gates`, `out`, the saved rows, `extra` when it is one)
/// hold their rows [`StepShape::row_step`] rows apart; the state buffers hold them side by
/// side.
pub(crate) struct ForwardRows<'a, T> {
    pub first_row: usize,
    pub rows: usize,
    /// Pre-activations in (without `bias`), activations out: `[rows, G·H]`.
    pub gates: &'a mut [T],
    /// Added to every row of `gates` first: `[G·H]`, or empty for none.
    pub bias: &'a [T],
    /// GRU: `W_hh h`, `[rows, G·H]`; empty otherwise.
    pub hh: &'a [T],
    /// GRU: `b_hn`, `[H]`; empty otherwise.
    pub b_hn: &'a [T],
    /// The state, updated in place: `[rows, H]` (`c` empty unless LSTM).
    pub h: &'a mut [T],
    pub c: &'a mut [T],
    /// The step's output rows `[rows, H]`.
    pub out: &'a mut [T],
    /// LSTM: `tanh(c')`; GRU: `W_hn h + b_hn`; `[rows, H]`, empty for the simple RNN.
    pub extra: &'a mut [T],
    /// Whether `extra` is a block of the sequence buffers (saved for backward) rather
    /// than a state-like scratch block.
    pub extra_in_sequence: bool,
    /// When saving for backward, the saved `[x | h]` rows (`x_width + H` wide) whose `h`
    /// part receives the state the step starts from; empty otherwise.
    pub saved_xh: &'a mut [T],
    /// LSTM when saving: receives the cell state the step starts from, `[rows, H]`; empty
    /// otherwise.
    pub saved_c: &'a mut [T],
}

impl<T: Send + Sync> StepRows for ForwardRows<'_, T> {
    fn len(&self) -> usize {
        self.rows
    }

    fn split(self, rows: usize, shape: &StepShape<'_>) -> (Self, Self) {
        let (h, gh) = (shape.h, shape.gh());
        // Rows of the sequence blocks are `row_step` rows apart.
        let seq = rows * shape.row_step;
        let extra_rows = if self.extra_in_sequence { seq } else { rows };
        let (g0, g1) = split_mut(self.gates, seq, shape.gate_ld);
        let (hh0, hh1) = split_ref(self.hh, rows, gh);
        let (h0, h1) = split_mut(self.h, rows, h);
        let (c0, c1) = split_mut(self.c, rows, h);
        let (o0, o1) = split_mut(self.out, seq, h);
        let (e0, e1) = split_mut(self.extra, extra_rows, h);
        let (s0, s1) = split_mut(self.saved_xh, seq, shape.x_width + h);
        let (sc0, sc1) = split_mut(self.saved_c, seq, h);
        (
            ForwardRows {
                first_row: self.first_row,
                rows,
                gates: g0,
                bias: self.bias,
                hh: hh0,
                b_hn: self.b_hn,
                h: h0,
                c: c0,
                out: o0,
                extra: e0,
                extra_in_sequence: self.extra_in_sequence,
                saved_xh: s0,
                saved_c: sc0,
            },
            ForwardRows {
                first_row: self.first_row + rows,
                rows: self.rows - rows,
                gates: g1,
                bias: self.bias,
                hh: hh1,
                b_hn: self.b_hn,
                h: h1,
                c: c1,
                out: o1,
                extra: e1,
                extra_in_sequence: self.extra_in_sequence,
                saved_xh: s1,
                saved_c: sc1,
            },
        )
    }
}

/// Applies the forward gate kernel to every active row; inactive rows keep their state and
/// output nothing (their output rows stay as they are, zero).
pub(crate) fn forward_rows<T: FloatElement>(shape: &StepShape<'_>, rows: ForwardRows<'_, T>) {
    share(shape, rows, |part| forward_part(shape, part));
}

/// [`forward_rows`] on one thread.
fn forward_part<T: FloatElement>(shape: &StepShape<'_>, rows: ForwardRows<'_, T>) {
    let (h, gh) = (shape.h, shape.gh());
    let xw = shape.x_width + h;
    for k in 0..rows.rows {
        // Row `k` of the state buffers, of the step's sequence blocks and of `extra`.
        let r = k * h..(k + 1) * h;
        let rs = shape.seq_row(k, h)..shape.seq_row(k, h) + h;
        let re = if rows.extra_in_sequence {
            rs.clone()
        } else {
            r.clone()
        };
        let active = shape.active(rows.first_row + k);
        // The sixteen-lane LSTM kernel saves the state it starts from itself.
        let fast = active && shape.kind == CellKind::Lstm && fast_lstm::<T>();
        let xh_at = shape.seq_row(k, xw) + shape.x_width;
        let saved_h = row_of(rows.saved_xh, xh_at..xh_at + h);
        let saved_c = row_of(rows.saved_c, rs.clone());
        // Saved for every row, active or not (backward reads only the active ones).
        if !fast {
            if !saved_h.is_empty() {
                saved_h.copy_from_slice(&rows.h[r.clone()]);
            }
            if !saved_c.is_empty() {
                saved_c.copy_from_slice(&rows.c[r.clone()]);
            }
        }
        if !active {
            continue;
        }
        let g0 = shape.seq_row(k, shape.gate_ld);
        let g = &mut rows.gates[g0..g0 + gh];
        #[cfg(target_arch = "x86_64")]
        if fast {
            // SAFETY: `fast_lstm` checked that T is f32 and that the CPU has AVX-512F.
            unsafe {
                gates16::lstm_forward(
                    f32_mut(g),
                    f32_ref(rows.bias),
                    gates16::State {
                        h: f32_mut(&mut rows.h[r.clone()]),
                        c: f32_mut(&mut rows.c[r.clone()]),
                        saved_h: f32_mut(saved_h),
                        saved_c: f32_mut(saved_c),
                    },
                    f32_mut(&mut rows.extra[re]),
                    f32_mut(&mut rows.out[rs]),
                )
            };
            continue;
        }
        for (g, &b) in g.iter_mut().zip(rows.bias) {
            *g += b;
        }
        let hr = &mut rows.h[r.clone()];
        match shape.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => gates::rnn_forward(shape.kind, g, hr),
            CellKind::Lstm => gates::lstm_forward(g, hr, &mut rows.c[r], &mut rows.extra[re]),
            CellKind::Gru => gates::gru_forward(
                g,
                &rows.hh[k * gh..(k + 1) * gh],
                rows.b_hn,
                hr,
                &mut rows.extra[re],
            ),
        }
        rows.out[rs].copy_from_slice(hr);
    }
}

/// `buf[range]`, or nothing when `buf` is empty (a buffer the call does not use).
fn row_of<T>(buf: &mut [T], range: std::ops::Range<usize>) -> &mut [T] {
    if buf.is_empty() {
        buf
    } else {
        &mut buf[range]
    }
}

/// Whether f32 LSTM rows of this element type run the sixteen-lane kernels (`gates16.rs`).
#[cfg(target_arch = "x86_64")]
fn fast_lstm<T: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && gates16::available()
}

/// Never: the sixteen-lane kernels are x86-64 only.
#[cfg(not(target_arch = "x86_64"))]
fn fast_lstm<T: 'static>() -> bool {
    false
}

/// `s` with its element type renamed to f32.
///
/// # Safety
/// T must be f32.
#[cfg(target_arch = "x86_64")]
unsafe fn f32_mut<T>(s: &mut [T]) -> &mut [f32] {
    std::slice::from_raw_parts_mut(s.as_mut_ptr().cast(), s.len())
}

/// As [`f32_mut`].
///
/// # Safety
/// T must be f32.
#[cfg(target_arch = "x86_64")]
unsafe fn f32_ref<T>(s: &[T]) -> &[f32] {
    std::slice::from_raw_parts(s.as_ptr().cast(), s.len())
}

/// The backward buffers of one step, cut to the rows `first_row..first_row + rows`; as for
/// [`ForwardRows`], the sequence blocks (`acts`, `extra0`, `extra1`, `dout`, `dgx`, `dgh`)
/// hold their rows [`StepShape::row_step`] rows apart.
pub(crate) struct BackwardRows<'a, T> {
    pub first_row: usize,
    pub rows: usize,
    /// Saved activations `[rows, G·H]`.
    pub acts: &'a [T],
    /// LSTM: the cell state the step received; GRU: `W_hn h + b_hn`; `[rows, H]` or empty.
    pub extra0: &'a [T],
    /// LSTM: `tanh(c')`; `[rows, H]` or empty.
    pub extra1: &'a [T],
    /// The hidden state the step received, `[rows, H]`.
    pub h_prev: &'a [T],
    /// Gradient of the step's output rows, `[rows, H]`.
    pub dout: &'a [T],
    /// Gradients of the state after the step in, of the part of the previous state's
    /// gradient that bypasses `W_hh` out (`dc` empty unless LSTM).
    pub dh: &'a mut [T],
    pub dc: &'a mut [T],
    /// Pre-activation gradients, input side and (GRU only, else empty) recurrent side.
    pub dgx: &'a mut [T],
    pub dgh: &'a mut [T],
}

impl<T: Send + Sync> StepRows for BackwardRows<'_, T> {
    fn len(&self) -> usize {
        self.rows
    }

    fn split(self, rows: usize, shape: &StepShape<'_>) -> (Self, Self) {
        let h = shape.h;
        // Rows of the sequence blocks are `row_step` rows apart.
        let seq = rows * shape.row_step;
        let (a0, a1) = split_ref(self.acts, seq, shape.gate_ld);
        let (x0, x1) = split_ref(self.extra0, seq, h);
        let (y0, y1) = split_ref(self.extra1, seq, h);
        let (p0, p1) = split_ref(self.h_prev, rows, h);
        let (o0, o1) = split_ref(self.dout, seq, h);
        let (dh0, dh1) = split_mut(self.dh, rows, h);
        let (dc0, dc1) = split_mut(self.dc, rows, h);
        let (gx0, gx1) = split_mut(self.dgx, seq, shape.gate_ld);
        let (gh0, gh1) = split_mut(self.dgh, seq, shape.gate_ld);
        (
            BackwardRows {
                first_row: self.first_row,
                rows,
                acts: a0,
                extra0: x0,
                extra1: y0,
                h_prev: p0,
                dout: o0,
                dh: dh0,
                dc: dc0,
                dgx: gx0,
                dgh: gh0,
            },
            BackwardRows {
                first_row: self.first_row + rows,
                rows: self.rows - rows,
                acts: a1,
                extra0: x1,
                extra1: y1,
                h_prev: p1,
                dout: o1,
                dh: dh1,
                dc: dc1,
                dgx: gx1,
                dgh: gh1,
            },
        )
    }
}

/// Applies the backward gate kernel to every active row; inactive rows pass their state
/// gradient through and get zero gate gradients (their rows are left as they are, zero).
pub(crate) fn backward_rows<T: FloatElement>(shape: &StepShape<'_>, rows: BackwardRows<'_, T>) {
    share(shape, rows, |part| backward_part(shape, part));
}

/// [`backward_rows`] on one thread.
fn backward_part<T: FloatElement>(shape: &StepShape<'_>, rows: BackwardRows<'_, T>) {
    let (h, gh) = (shape.h, shape.gh());
    for k in 0..rows.rows {
        if !shape.active(rows.first_row + k) {
            continue;
        }
        // Row `k` of the state buffers and of the step's sequence blocks.
        let r = k * h..(k + 1) * h;
        let rs = shape.seq_row(k, h)..shape.seq_row(k, h) + h;
        let g0 = shape.seq_row(k, shape.gate_ld);
        let g = g0..g0 + gh;
        let dh = &mut rows.dh[r.clone()];
        let dout = &rows.dout[rs.clone()];
        match shape.kind {
            CellKind::RnnTanh | CellKind::RnnRelu => gates::rnn_backward(
                shape.kind,
                &rows.acts[g.clone()],
                dout,
                dh,
                &mut rows.dgx[g],
            ),
            CellKind::Lstm => gates::lstm_backward(
                &rows.acts[g.clone()],
                &rows.extra0[rs.clone()],
                &rows.extra1[rs],
                dout,
                dh,
                &mut rows.dc[r],
                &mut rows.dgx[g],
            ),
            CellKind::Gru => gates::gru_backward(
                &rows.acts[g.clone()],
                &rows.extra0[rs],
                &rows.h_prev[r],
                dout,
                dh,
                &mut rows.dgx[g.clone()],
                &mut rows.dgh[g],
            ),
        }
    }
}
