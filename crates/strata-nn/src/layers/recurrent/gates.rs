//! The fused elementwise gate kernels of one batch row at one time step, forward and
//! backward side by side. Gate order is PyTorch's: LSTM `i, f, g, o`; GRU `r, z, n`.
//!
//! Each kernel works on slices already cut to the row (length `H` per gate), re-sliced to
//! one common length so that the loops compile without bounds checks and vectorise
//! (`tanh_v`/`sigmoid_v` are branch-free for f32).

use strata_core::FloatElement;

/// The recurrence a fused op runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellKind {
    /// `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnTanh,
    /// `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    RnnRelu,
    Lstm,
    Gru,
}

impl CellKind {
    /// Number of gates stacked in the weights (rows = gates · hidden).
    pub(crate) fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }
}

/// Splits a `[k·H]` row into its `k` gate slices of length `h`.
fn split4<T>(row: &mut [T], h: usize) -> (&mut [T], &mut [T], &mut [T], &mut [T]) {
    let (a, rest) = row.split_at_mut(h);
    let (b, rest) = rest.split_at_mut(h);
    let (c, d) = rest.split_at_mut(h);
    (a, b, c, &mut d[..h])
}

fn split3<T>(row: &mut [T], h: usize) -> (&mut [T], &mut [T], &mut [T]) {
    let (a, rest) = row.split_at_mut(h);
    let (b, c) = rest.split_at_mut(h);
    (a, b, &mut c[..h])
}

fn split3_ref<T>(row: &[T], h: usize) -> (&[T], &[T], &[T]) {
    (&row[..h], &row[h..2 * h], &row[2 * h..3 * h])
}

/// Simple RNN: `pre` holds the full pre-activation; it becomes the activation, which is also
/// the new state `h`.
#[inline]
pub(crate) fn rnn_forward<T: FloatElement>(kind: CellKind, pre: &mut [T], h: &mut [T]) {
    let n = h.len();
    let pre = &mut pre[..n];
    if kind == CellKind::RnnRelu {
        for j in 0..n {
            let a = pre[j].max(T::zero());
            pre[j] = a;
            h[j] = a;
        }
    } else {
        for j in 0..n {
            let a = pre[j].tanh_v();
            pre[j] = a;
            h[j] = a;
        }
    }
}

/// Simple RNN backward: `dh` holds the gradient of the state after the step; `dg` receives
/// the pre-activation gradient and `dh` is cleared (all of it flows through `W_hh`).
#[inline]
pub(crate) fn rnn_backward<T: FloatElement>(
    kind: CellKind,
    act: &[T],
    dout: &[T],
    dh: &mut [T],
    dg: &mut [T],
) {
    let n = dh.len();
    let (act, dout, dg) = (&act[..n], &dout[..n], &mut dg[..n]);
    for j in 0..n {
        let d = dh[j] + dout[j];
        let a = act[j];
        dg[j] = if kind == CellKind::RnnRelu {
            if a > T::zero() {
                d
            } else {
                T::zero()
            }
        } else {
            d * (T::one() - a * a)
        };
        dh[j] = T::zero();
    }
}

/// LSTM: `pre` holds the `[i, f, g, o]` pre-activations and becomes the activations; the
/// state `(h, c)` is updated in place; `tanh_c` receives `tanh(c')` for backward.
#[inline]
pub(crate) fn lstm_forward<T: FloatElement>(
    pre: &mut [T],
    h: &mut [T],
    c: &mut [T],
    tanh_c: &mut [T],
) {
    let n = h.len();
    // Activations first, one simple loop per function (few live registers, so each loop
    // vectorises fully), then the state update.
    let (sig_if, rest) = pre.split_at_mut(2 * n);
    let (gg, go) = rest.split_at_mut(n);
    for v in sig_if.iter_mut() {
        *v = v.sigmoid_v();
    }
    for v in gg.iter_mut() {
        *v = v.tanh_v();
    }
    let go = &mut go[..n];
    for v in go.iter_mut() {
        *v = v.sigmoid_v();
    }
    let (gi, gf) = sig_if.split_at(n);
    let (gi, gf, gg) = (&gi[..n], &gf[..n], &gg[..n]);
    let (c, tanh_c) = (&mut c[..n], &mut tanh_c[..n]);
    for j in 0..n {
        c[j] = gf[j] * c[j] + gi[j] * gg[j];
    }
    for j in 0..n {
        tanh_c[j] = c[j].tanh_v();
    }
    for j in 0..n {
        h[j] = go[j] * tanh_c[j];
    }
}

/// LSTM backward. `dh`/`dc` hold the gradients of the state after the step; on return `dc`
/// is the gradient of the previous cell state and `dh` is cleared (the previous hidden state
/// is reached only through `W_hh`). `dg` receives the `[i, f, g, o]` pre-activation
/// gradients.
#[inline]
pub(crate) fn lstm_backward<T: FloatElement>(
    act: &[T],
    c_prev: &[T],
    tanh_c: &[T],
    dout: &[T],
    dh: &mut [T],
    dc: &mut [T],
    dg: &mut [T],
) {
    let n = dh.len();
    let (ai, af, ag, ao) = (
        &act[..n],
        &act[n..2 * n],
        &act[2 * n..3 * n],
        &act[3 * n..4 * n],
    );
    let (c_prev, tanh_c, dout, dc) = (&c_prev[..n], &tanh_c[..n], &dout[..n], &mut dc[..n]);
    let (di, df, dgg, d_o) = split4(dg, n);
    let one = T::one();
    for j in 0..n {
        let (i, f, g, o, tc) = (ai[j], af[j], ag[j], ao[j], tanh_c[j]);
        let dht = dh[j] + dout[j];
        let dct = dc[j] + dht * o * (one - tc * tc);
        d_o[j] = dht * tc * o * (one - o);
        di[j] = dct * g * i * (one - i);
        df[j] = dct * c_prev[j] * f * (one - f);
        dgg[j] = dct * i * (one - g * g);
        dc[j] = dct * f;
        dh[j] = T::zero();
    }
}

/// GRU: `pre` holds the input side `[r, z, n]` pre-activations (with `b_ih` and the `r`, `z`
/// parts of `b_hh`), `hh` the recurrent product `W_hh h` (no bias). `pre` becomes the
/// activations, `h` the new state, `hn` receives `W_hn h + b_hn` for backward.
#[inline]
pub(crate) fn gru_forward<T: FloatElement>(
    pre: &mut [T],
    hh: &[T],
    b_hn: &[T],
    h: &mut [T],
    hn: &mut [T],
) {
    let n = h.len();
    let (gr, gz, gn) = split3(pre, n);
    let (hr, hz, hnn) = split3_ref(hh, n);
    let (b_hn, hn) = (&b_hn[..n], &mut hn[..n]);
    for j in 0..n {
        let r = (gr[j] + hr[j]).sigmoid_v();
        let z = (gz[j] + hz[j]).sigmoid_v();
        let lin = hnn[j] + b_hn[j];
        let cand = (gn[j] + r * lin).tanh_v();
        gr[j] = r;
        gz[j] = z;
        gn[j] = cand;
        hn[j] = lin;
        h[j] = (T::one() - z) * cand + z * h[j];
    }
}

/// GRU backward. `dh` holds the gradient of the state after the step and receives the part
/// of the previous state's gradient that bypasses `W_hh` (`dh·z`). `dgx` receives the input
/// side `[r, z, n]` gradients, `dgh` the recurrent side (its `n` part is scaled by `r`).
#[inline]
pub(crate) fn gru_backward<T: FloatElement>(
    act: &[T],
    hn: &[T],
    h_prev: &[T],
    dout: &[T],
    dh: &mut [T],
    dgx: &mut [T],
    dgh: &mut [T],
) {
    let n = dh.len();
    let (ar, az, an) = split3_ref(act, n);
    let (hn, h_prev, dout) = (&hn[..n], &h_prev[..n], &dout[..n]);
    let (dxr, dxz, dxn) = split3(dgx, n);
    let (dhr, dhz, dhn) = split3(dgh, n);
    let one = T::one();
    for j in 0..n {
        let (r, z, cand) = (ar[j], az[j], an[j]);
        let dht = dh[j] + dout[j];
        let dn = dht * (one - z) * (one - cand * cand);
        let dz = dht * (h_prev[j] - cand) * z * (one - z);
        let dr = dn * hn[j] * r * (one - r);
        dxr[j] = dr;
        dxz[j] = dz;
        dxn[j] = dn;
        dhr[j] = dr;
        dhz[j] = dz;
        dhn[j] = dn * r;
        dh[j] = dht * z;
    }
}
