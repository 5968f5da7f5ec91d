//! The fused recurrent op: one layer in one direction over a whole sequence, one graph node.
//!
//! Forward (time-major `x: [T, B, I]`, `G` gates of `H` units each):
//! 1. one product `x[T·B, I] · W_ihᵀ` into a gate buffer `[T, B, G·H]`;
//! 2. per step one product `h[B, H] · W_hhᵀ` accumulated into that step's gate rows (GRU:
//!    into a scratch row block, since its `n` gate needs `W_hn h + b_hn` on its own);
//! 3. per step the fused elementwise gate kernel of `gates.rs`, which adds the biases,
//!    overwrites the gate rows with the activations (kept for backward) and updates the
//!    state in place.
//!
//! No allocation happens inside the time loop. Backward (BPTT) walks the steps in reverse:
//! a fused gate-gradient kernel per step, then one product `dgates · W_hh` for the gradient
//! of the previous state; at the end one product for `dx` and one for
//! `[dW_ih | dW_hh] = dgatesᵀ · [x | h_prev]` (GRU: one per weight). The large buffers are
//! spares (`spare.rs`) holding stale values: every row read is written first, and the gate
//! gradients are cleared when `lengths` leaves rows unwritten.
//!
//! The sequence buffers (input, gates, output, saved rows and their gradients) keep the
//! input's order of rows: time-major, or batch-first (`x: [B, T, I]`, output `[B, T, H]`),
//! where the rows of one step lie `T` rows apart. The products over all steps do not mind the
//! order, and the per-step ones read and write their rows with that stride, so a batch-first
//! layer needs no transposition on the way in or out.
//!
//! With `lengths`, a batch row is active at time `t` only when `t < lengths[b]`: inactive
//! steps leave the state alone and output zero, so the forward direction stops at each
//! sequence's last valid step and the reverse direction starts there.
//!
//! The op has one output, a flat buffer `[out (T·B·H) | h_n (B·H) | c_n (B·H, LSTM)]`, which
//! [`recurrent_layer`] splits with views (their backward feeds this op's backward).

mod backward;
mod bands;
mod steal;

use super::gates::CellKind;
use super::spare;
use super::step::{backward_rows, forward_rows, BackwardRows, ForwardRows, StepShape};
use backward::RecurrentBackward;
use std::any::Any;
use strata_core::kernels::aligned::LineAligned;
use strata_core::kernels::gemm::{gemm, gemm_packed, MatMut, MatRef, PackedRhs};
use strata_core::kernels::parallel;
use strata_core::{BackwardOp, DType, FloatElement, Result, Tensor};

const OP: &str = "recurrent";

/// The parameters of one layer-direction: `W_ih [G·H, I]`, `W_hh [G·H, H]`, biases `[G·H]`.
#[derive(Clone, Copy)]
pub(crate) struct LayerWeights<'a> {
    pub w_ih: &'a Tensor,
    pub w_hh: &'a Tensor,
    pub b_ih: Option<&'a Tensor>,
    pub b_hh: Option<&'a Tensor>,
}

/// What one layer-direction returns: the output sequence `[T, B, H]` (`[B, T, H]` when
/// batch-first), the final
/// hidden state `[B, H]` and, for LSTM, the final cell state `[B, H]`.
#[derive(Debug)]
pub(crate) struct LayerOutput {
    pub out: Tensor,
    pub h_n: Tensor,
    pub c_n: Option<Tensor>,
}

/// How one call walks its sequence.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Walk<'a> {
    /// Process the steps from last to first.
    pub reverse: bool,
    /// `x` is `[B, T, I]` and the output `[B, T, H]` (else `[T, B, I]` and `[T, B, H]`).
    pub batch_first: bool,
    /// Valid steps of each batch row (each at most `T`); all of them when `None`.
    pub lengths: Option<&'a [usize]>,
}

/// Sizes of one call.
#[derive(Clone, Copy, Debug)]
struct Dims {
    t: usize,
    b: usize,
    i: usize,
    h: usize,
    g: usize,
}

impl Dims {
    fn gh(&self) -> usize {
        self.g * self.h
    }

    /// Elements from one row of the gate buffers (activations, gate gradients) to the next:
    /// `G·H`, one cache line more when the rows would otherwise lie a multiple of 2 KiB
    /// apart. Products read fourteen rows at once in place, and rows 4 KiB apart all fall
    /// into one set of the first-level cache (8 ways on the CPUs measured): `dx` over W3's
    /// gate gradients (1024 wide) ran 20 % faster with padded rows, its input projection 4 %.
    fn gate_ld<T>(&self) -> usize {
        let line = 64 / std::mem::size_of::<T>().max(1);
        let ld = self.gh();
        if (ld * std::mem::size_of::<T>()).is_multiple_of(2048) {
            ld + line
        } else {
            ld
        }
    }
    fn packed_len(&self, kind: CellKind) -> usize {
        let states = if kind == CellKind::Lstm { 2 } else { 1 };
        (self.t + states) * self.b * self.h
    }
}

/// Runs one layer in one direction. `x: [T, B, I]` (`[B, T, I]` batch-first), `h0: [B, H]`,
/// `c0: [B, H]` (LSTM only); `walk` gives the direction, the layout and the valid steps of
/// each batch row. Differentiable w.r.t. every tensor argument.
pub(crate) fn recurrent_layer(
    kind: CellKind,
    x: &Tensor,
    h0: &Tensor,
    c0: Option<&Tensor>,
    w: LayerWeights<'_>,
    walk: Walk<'_>,
) -> Result<LayerOutput> {
    let Walk {
        reverse,
        batch_first,
        lengths,
    } = walk;
    let dims = check(kind, x, h0, c0, w, walk)?;
    let (xc, h0c) = (x.detach().contiguous(), h0.detach().contiguous());
    let c0c = c0.map(|c| c.detach().contiguous());
    let wc = Contiguous::of(w);
    let mut inputs: Vec<&Tensor> = vec![x, h0];
    inputs.extend(c0);
    inputs.extend([w.w_ih, w.w_hh]);
    inputs.extend(w.b_ih);
    inputs.extend(w.b_hh);
    let save = strata_core::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    let lengths_vec = lengths.map(|l| l.to_vec());
    let spec = Spec {
        kind,
        dims,
        reverse,
        batch_first,
        lengths: lengths_vec,
        has_c0: c0.is_some(),
        has_bias: (w.b_ih.is_some(), w.b_hh.is_some()),
    };
    let (packed, saved) = match x.dtype() {
        DType::F32 => spec.forward::<f32>(&xc, &h0c, c0c.as_ref(), &wc, save)?,
        DType::F64 => spec.forward::<f64>(&xc, &h0c, c0c.as_ref(), &wc, save)?,
        other => return Err(float_error(other)),
    };
    let packed = match saved {
        Some(saved) => packed.record(&inputs, RecurrentBackward { spec, saved }),
        None => packed,
    };
    let (t, b, h) = (dims.t, dims.b, dims.h);
    let out_shape = if batch_first { [b, t, h] } else { [t, b, h] };
    let out = packed.narrow(0, 0, t * b * h)?.reshape(&out_shape)?;
    let h_n = packed.narrow(0, t * b * h, b * h)?.reshape(&[b, h])?;
    let c_n = match kind {
        CellKind::Lstm => Some(packed.narrow(0, (t + 1) * b * h, b * h)?.reshape(&[b, h])?),
        _ => None,
    };
    Ok(LayerOutput { out, h_n, c_n })
}

/// Validates shapes and dtypes so the kernels can index without checks failing.
fn check(
    kind: CellKind,
    x: &Tensor,
    h0: &Tensor,
    c0: Option<&Tensor>,
    w: LayerWeights<'_>,
    walk: Walk<'_>,
) -> Result<Dims> {
    let shape_err = |t: &Tensor, expected: String| strata_core::Error::Shape {
        op: OP,
        got: t.shape().into(),
        expected,
    };
    let order = if walk.batch_first {
        "[B, T, I]"
    } else {
        "[T, B, I]"
    };
    if x.ndim() != 3 {
        return Err(shape_err(x, format!("expected input {order}")));
    }
    if w.w_ih.ndim() != 2
        || !w.w_ih.shape()[0].is_multiple_of(kind.gates())
        || w.w_ih.shape()[0] == 0
    {
        return Err(shape_err(
            w.w_ih,
            format!("expected weight_ih [{}·H, I]", kind.gates()),
        ));
    }
    let h = w.w_ih.shape()[0] / kind.gates();
    let (t, b) = if walk.batch_first {
        (x.shape()[1], x.shape()[0])
    } else {
        (x.shape()[0], x.shape()[1])
    };
    let dims = Dims {
        t,
        b,
        i: x.shape()[2],
        h,
        g: kind.gates(),
    };
    let gh = dims.gh();
    if w.w_ih.shape()[1] != dims.i {
        return Err(shape_err(
            w.w_ih,
            format!(
                "expected weight_ih [{gh}, {}] for input {order} with I = {}",
                dims.i, dims.i
            ),
        ));
    }
    if w.w_hh.shape() != [gh, h] {
        return Err(shape_err(w.w_hh, format!("expected weight_hh [{gh}, {h}]")));
    }
    for bias in [w.b_ih, w.b_hh].into_iter().flatten() {
        if bias.shape() != [gh] {
            return Err(shape_err(bias, format!("expected bias [{gh}]")));
        }
    }
    if h0.shape() != [dims.b, h] {
        return Err(shape_err(h0, format!("expected h0 [{}, {h}]", dims.b)));
    }
    match (kind, c0) {
        (CellKind::Lstm, Some(c)) if c.shape() != [dims.b, h] => {
            return Err(shape_err(c, format!("expected c0 [{}, {h}]", dims.b)))
        }
        (CellKind::Lstm, None) => {
            return Err(strata_core::Error::InvalidArgument {
                op: OP,
                arg: "c0",
                reason: "an LSTM needs an initial cell state".into(),
            })
        }
        _ => {}
    }
    let mut all = vec![h0, w.w_ih, w.w_hh];
    all.extend(c0);
    all.extend(w.b_ih);
    all.extend(w.b_hh);
    for t in all {
        if t.dtype() != x.dtype() {
            return Err(strata_core::Error::DTypeMismatch {
                op: OP,
                lhs: x.dtype(),
                rhs: t.dtype(),
            });
        }
    }
    if let Some(l) = walk.lengths
        && (l.len() != dims.b || l.iter().any(|&n| n > dims.t))
    {
        return Err(strata_core::Error::InvalidArgument {
            op: OP,
            arg: "lengths",
            reason: format!(
                "expected {} lengths each at most T = {}, got {l:?}",
                dims.b, dims.t
            ),
        });
    }
    Ok(dims)
}

/// Contiguous, detached copies (views where already contiguous) of the weights.
struct Contiguous {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Option<Tensor>,
    b_hh: Option<Tensor>,
}

impl Contiguous {
    fn of(w: LayerWeights<'_>) -> Contiguous {
        let c = |t: &Tensor| t.detach().contiguous();
        Contiguous {
            w_ih: c(w.w_ih),
            w_hh: c(w.w_hh),
            b_ih: w.b_ih.map(c),
            b_hh: w.b_hh.map(c),
        }
    }
}

/// Everything about a call except the tensors.
struct Spec {
    kind: CellKind,
    dims: Dims,
    reverse: bool,
    batch_first: bool,
    lengths: Option<Vec<usize>>,
    has_c0: bool,
    has_bias: (bool, bool),
}

/// Buffers the forward pass keeps for backward; they go back to the spares when the graph
/// that holds them is freed.
struct Saved<T: FloatElement> {
    /// Gate activations per time step, `[T·B, G·H]` in the input's row order, rows
    /// `Dims::gate_ld` apart (GRU: r, z, n).
    gates: LineAligned<T>,
    /// Each step's input beside the state it received, `[T·B, I + H]`: the right operand
    /// of one product for both weight gradients.
    xh: LineAligned<T>,
    /// LSTM: the cell state each step received, and `tanh(c_t)`; GRU: `W_hn h + b_hn`.
    extra: Vec<LineAligned<T>>,
}

impl<T: FloatElement> Drop for Saved<T> {
    fn drop(&mut self) {
        spare::give(std::mem::take(&mut self.gates));
        spare::give(std::mem::take(&mut self.xh));
        for e in self.extra.drain(..) {
            spare::give(e);
        }
    }
}

/// A [`Saved`] of either float type.
type AnySaved = Box<dyn Any + Send + Sync>;

impl Spec {
    /// The order of the rows in the sequence buffers.
    fn order(&self) -> bands::Order {
        bands::Order {
            steps: self.dims.t,
            batch: self.dims.b,
            batch_first: self.batch_first,
        }
    }

    /// Time index of processing step `s`.
    fn time(&self, s: usize) -> usize {
        if self.reverse {
            self.dims.t - 1 - s
        } else {
            s
        }
    }

    fn forward<T: FloatElement>(
        &self,
        x: &Tensor,
        h0: &Tensor,
        c0: Option<&Tensor>,
        w: &Contiguous,
        save: bool,
    ) -> Result<(Tensor, Option<AnySaved>)> {
        let Dims {
            t: steps, b, i, h, ..
        } = self.dims;
        let gh = self.dims.gh();
        let (xs, w_ih, w_hh) = (x.read::<T>()?, w.w_ih.read::<T>()?, w.w_hh.read::<T>()?);
        let b_ih = w.b_ih.as_ref().map(|t| t.read::<T>()).transpose()?;
        let b_hh = w.b_hh.as_ref().map(|t| t.read::<T>()).transpose()?;

        // 1. Input projection of every step at once, into a spare buffer (no clearing pass);
        //    the biases that add to it are added row by row by the step kernels.
        let mut bias_x = vec![T::zero(); gh];
        if let Some(bi) = b_ih.as_deref() {
            bias_x.copy_from_slice(bi);
        }
        if let Some(bh) = b_hh.as_deref() {
            // GRU keeps b_hn apart: it is scaled by r.
            let folded = if self.kind == CellKind::Gru {
                2 * h
            } else {
                gh
            };
            for (a, &v) in bias_x[..folded].iter_mut().zip(bh) {
                *a += v;
            }
        }
        if b_ih.is_none() && b_hh.is_none() {
            bias_x.clear();
        }
        let ld = self.dims.gate_ld::<T>();
        let mut gate_buf = spare::take::<T>(steps * b * ld);
        // Products read a row-major right operand about twice as fast as a transposed view,
        // so the weights are transposed once per call.
        let w_ih_t = transpose(&w_ih, gh, i);
        gemm(
            MatMut::strided(&mut gate_buf, 0, steps * b, gh, ld, 1)?,
            MatRef::row_major(&xs, steps * b, i)?,
            MatRef::row_major(&w_ih_t, i, gh)?,
            false,
        )?;
        let b_hn: Vec<T> = match (self.kind, b_hh.as_deref()) {
            (CellKind::Gru, Some(bh)) => bh[2 * h..].to_vec(),
            _ => vec![T::zero(); h],
        };

        // 2.-3. The time loop.
        let mut state_h = h0.read::<T>()?.to_vec();
        let mut state_c = match c0 {
            Some(c) => c.read::<T>()?.to_vec(),
            None => Vec::new(),
        };
        let mut packed = parallel::zeros::<T>(self.dims.packed_len(self.kind));
        // Every row of these is written before backward reads it (inactive rows are skipped
        // by both passes), so stale spare values never show.
        let keep = |n: usize| {
            if save {
                spare::take::<T>(n)
            } else {
                LineAligned::default()
            }
        };
        let xw = i + h;
        let mut xh = keep(steps * b * xw);
        if i > 0 {
            // In parallel runs of rows: 0.5 MiB in W3, which one thread copied alone.
            const RUN: usize = 256;
            parallel::for_each_part_mut(&mut xh, RUN * xw, |k, part| {
                let xs = &xs[k * RUN * i..];
                for (row, x) in part.chunks_exact_mut(xw).zip(xs.chunks_exact(i)) {
                    row[..i].copy_from_slice(x);
                }
            });
        }
        let lstm_or_gru = matches!(self.kind, CellKind::Lstm | CellKind::Gru);
        let mut extra_a = if lstm_or_gru {
            keep(steps * b * h)
        } else {
            LineAligned::default()
        };
        let mut extra_b = if self.kind == CellKind::Lstm {
            keep(steps * b * h)
        } else {
            LineAligned::default()
        };
        let mut hh = if self.kind == CellKind::Gru {
            LineAligned::new(b * gh)
        } else {
            LineAligned::default()
        };
        let bh = b * h;
        // Where kernels write what only backward needs, when nothing is saved.
        let mut scratch = if lstm_or_gru && !save {
            vec![T::zero(); bh]
        } else {
            Vec::new()
        };
        // Packed once, used at every step by every band.
        let w_hh_t = PackedRhs::new(MatRef::row_major(&w_hh, gh, h)?.t());
        let edges = bands::edges(b);
        let bands_n = edges.len() - 1;
        // The step's own output buffer (`extra`), and where the LSTM's incoming cell state
        // is saved; without saving, LSTM and GRU write their `extra` into one scratch row
        // block reused at every step.
        let (extra_steps, saved_c_steps): (&mut [T], &mut [T]) = match self.kind {
            CellKind::Lstm if save => (&mut extra_b, &mut extra_a),
            CellKind::Gru if save => (&mut extra_a, &mut []),
            _ => (&mut [], &mut []),
        };
        let order = self.order();
        let mut gates = order.cut(&mut gate_buf, ld, &edges).into_iter();
        let mut outs = order.cut(&mut packed[..steps * bh], h, &edges).into_iter();
        let mut extras = order.cut(extra_steps, h, &edges).into_iter();
        let mut saved_cs = order.cut(saved_c_steps, h, &edges).into_iter();
        let mut saved_xhs = order.cut(&mut xh, xw, &edges).into_iter();
        let mut hs = bands::cut(&mut state_h, h, &edges).into_iter();
        let mut cs = bands::cut(&mut state_c, h, &edges).into_iter();
        let mut hhs = bands::cut(&mut hh, gh, &edges).into_iter();
        let mut scratches = bands::cut(&mut scratch, h, &edges).into_iter();
        let mut all = Vec::with_capacity(bands_n);
        for k in 0..bands_n {
            all.push(ForwardBand {
                first_row: edges[k],
                rows: edges[k + 1] - edges[k],
                gates: gates.next().unwrap_or_default(),
                out: outs.next().unwrap_or_default(),
                extra: extras.next().unwrap_or_default(),
                saved_c: saved_cs.next().unwrap_or_default(),
                saved_xh: saved_xhs.next().unwrap_or_default(),
                h: hs.next().unwrap_or_default(),
                c: cs.next().unwrap_or_default(),
                hh: hhs.next().unwrap_or_default(),
                scratch: scratches.next().unwrap_or_default(),
            });
        }
        let row_step = order.row_step();
        let shape = StepShape {
            kind: self.kind,
            h,
            t: 0,
            x_width: i,
            lengths: self.lengths.as_deref(),
            row_step,
            gate_ld: ld,
        };
        steal::run(all, steps, w_hh_t.rows_independent(), |band, s| {
            let rows = band.rows;
            let t = self.time(s);
            let step_gates = band.gates.at(t);
            let h_mat = MatRef::row_major(band.h, rows, h)?;
            // A zero initial state (no h0 given) adds nothing through W_hh (GRU's `hh`
            // starts zero too), so the first step skips its product.
            let zero_start = s == 0 && band.h.iter().all(|&v| v == T::zero());
            let gru = self.kind == CellKind::Gru;
            if !zero_start && gru {
                gemm_packed(MatMut::row_major(band.hh, rows, gh)?, h_mat, &w_hh_t, false)?;
            } else if !zero_start {
                gemm_packed(
                    MatMut::strided(step_gates, 0, rows, gh, row_step * ld, 1)?,
                    h_mat,
                    &w_hh_t,
                    true,
                )?;
            }
            let (extra, extra_in_sequence): (&mut [T], bool) = match self.kind {
                CellKind::Lstm | CellKind::Gru if !save => (band.scratch, false),
                _ => (band.extra.at(t), true),
            };
            forward_rows(
                &StepShape { t, ..shape },
                ForwardRows {
                    first_row: band.first_row,
                    rows,
                    gates: step_gates,
                    bias: &bias_x,
                    hh: band.hh,
                    b_hn: &b_hn,
                    h: band.h,
                    c: band.c,
                    out: band.out.at(t),
                    extra,
                    extra_in_sequence,
                    saved_xh: band.saved_xh.at(t),
                    saved_c: band.saved_c.at(t),
                },
            );
            Ok(())
        })?;
        let tail = steps * bh;
        packed[tail..tail + bh].copy_from_slice(&state_h);
        if self.kind == CellKind::Lstm {
            packed[tail + bh..tail + 2 * bh].copy_from_slice(&state_c);
        }
        let packed_len = packed.len();
        let packed = Tensor::from_vec(packed, &[packed_len])?;
        if !save {
            spare::give(gate_buf);
            return Ok((packed, None));
        }
        let mut extra = Vec::new();
        if lstm_or_gru {
            extra.push(extra_a);
        }
        if self.kind == CellKind::Lstm {
            extra.push(extra_b);
        }
        let saved: AnySaved = Box::new(Saved {
            gates: gate_buf,
            xh,
            extra,
        });
        Ok((packed, Some(saved)))
    }
}

/// One band's rows of every forward buffer: the state and scratch rows, and its rows of
/// each sequence buffer, step by step.
struct ForwardBand<'a, T> {
    first_row: usize,
    rows: usize,
    gates: bands::Steps<'a, T>,
    out: bands::Steps<'a, T>,
    extra: bands::Steps<'a, T>,
    saved_c: bands::Steps<'a, T>,
    saved_xh: bands::Steps<'a, T>,
    h: &'a mut [T],
    c: &'a mut [T],
    hh: &'a mut [T],
    scratch: &'a mut [T],
}

impl<T: Send> steal::Band for ForwardBand<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn split_off(&mut self, at: usize) -> Self {
        let rows = self.rows;
        self.rows = at;
        ForwardBand {
            first_row: self.first_row + at,
            rows: rows - at,
            gates: self.gates.split_off(at, rows),
            out: self.out.split_off(at, rows),
            extra: self.extra.split_off(at, rows),
            saved_c: self.saved_c.split_off(at, rows),
            saved_xh: self.saved_xh.split_off(at, rows),
            h: bands::split_rows(&mut self.h, at, rows),
            c: bands::split_rows(&mut self.c, at, rows),
            hh: bands::split_rows(&mut self.hh, at, rows),
            scratch: bands::split_rows(&mut self.scratch, at, rows),
        }
    }
}

/// The transpose of a row-major `rows × cols` matrix, row-major.
fn transpose<T: FloatElement>(src: &[T], rows: usize, cols: usize) -> Vec<T> {
    // In 16-row tiles, so the writes of a tile stay within a few cache lines per column.
    const TILE: usize = 16;
    let mut out = vec![T::zero(); rows * cols];
    if cols == 0 {
        return out;
    }
    for r0 in (0..rows).step_by(TILE) {
        let r1 = (r0 + TILE).min(rows);
        for c in 0..cols {
            for r in r0..r1 {
                out[c * rows + r] = src[r * cols + c];
            }
        }
    }
    out
}

fn float_error(got: DType) -> strata_core::Error {
    strata_core::Error::DType {
        op: OP,
        expected: "a floating-point dtype (f32 or f64)".to_string(),
        got,
    }
}

#[cfg(test)]
mod tests;
