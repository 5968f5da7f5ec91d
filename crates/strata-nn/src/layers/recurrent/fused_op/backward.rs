//! The backward pass of the fused recurrent op (BPTT): per step the fused gate-gradient
//! kernel and one product for the previous state's gradient, then the products for `dx` and
//! the weight gradients over all steps (see the parent module).

use super::*;

pub(super) struct RecurrentBackward {
    pub(super) spec: Spec,
    /// A [`Saved`] of the input's float type.
    pub(super) saved: AnySaved,
}

/// Gradients of one call, in the order the inputs were recorded.
struct Grads<T> {
    dx: Vec<T>,
    dh0: Vec<T>,
    dc0: Vec<T>,
    dw_ih: Vec<T>,
    dw_hh: Vec<T>,
    db_ih: Vec<T>,
    db_hh: Vec<T>,
}

impl BackwardOp for RecurrentBackward {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let spec = &self.spec;
        let needs: Vec<bool> = inputs.iter().map(|t| t.requires_grad()).collect();
        let grad = grad.contiguous();
        let k = 2 + spec.has_c0 as usize;
        let w_ih = inputs[k].detach().contiguous();
        let w_hh = inputs[k + 1].detach().contiguous();
        let gs = match inputs[0].dtype() {
            DType::F32 => self
                .grads::<f32>(&grad, &w_ih, &w_hh, needs[1])?
                .into_tensors(),
            DType::F64 => self
                .grads::<f64>(&grad, &w_ih, &w_hh, needs[1])?
                .into_tensors(),
            other => return Err(float_error(other)),
        };
        let [dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh] = gs?;
        let mut out = vec![
            Some(dx.reshape(inputs[0].shape())?),
            Some(dh0.reshape(inputs[1].shape())?),
        ];
        if spec.has_c0 {
            out.push(Some(dc0.reshape(inputs[2].shape())?));
        }
        out.push(Some(dw_ih.reshape(inputs[k].shape())?));
        out.push(Some(dw_hh.reshape(inputs[k + 1].shape())?));
        if spec.has_bias.0 {
            out.push(Some(db_ih));
        }
        if spec.has_bias.1 {
            out.push(Some(db_hh));
        }
        for (o, need) in out.iter_mut().zip(needs) {
            if !need {
                *o = None;
            }
        }
        Ok(out)
    }
}

impl<T: FloatElement> Grads<T> {
    fn into_tensors(self) -> Result<[Tensor; 7]> {
        let flat = |v: Vec<T>| {
            let n = v.len();
            Tensor::from_vec(v, &[n])
        };
        Ok([
            flat(self.dx)?,
            flat(self.dh0)?,
            flat(self.dc0)?,
            flat(self.dw_ih)?,
            flat(self.dw_hh)?,
            flat(self.db_ih)?,
            flat(self.db_hh)?,
        ])
    }
}

/// One band's rows of the buffers backward writes: the state gradients and its rows of the
/// gate gradients, step by step.
struct BackwardBand<'a, T> {
    first_row: usize,
    rows: usize,
    dgx: bands::Steps<'a, T>,
    dgh: bands::Steps<'a, T>,
    dh: &'a mut [T],
    dc: &'a mut [T],
    h_prev: &'a mut [T],
    /// Each batch row's sum of its gate-gradient rows over the steps, input side and (GRU)
    /// recurrent side: the bias gradients, added up while the rows are still in cache.
    db_x: &'a mut [T],
    db_h: &'a mut [T],
}

impl<T: Send> steal::Band for BackwardBand<'_, T> {
    fn rows(&self) -> usize {
        self.rows
    }

    fn split_off(&mut self, at: usize) -> Self {
        let rows = self.rows;
        self.rows = at;
        BackwardBand {
            first_row: self.first_row + at,
            rows: rows - at,
            dgx: self.dgx.split_off(at, rows),
            dgh: self.dgh.split_off(at, rows),
            dh: bands::split_rows(&mut self.dh, at, rows),
            dc: bands::split_rows(&mut self.dc, at, rows),
            h_prev: bands::split_rows(&mut self.h_prev, at, rows),
            db_x: bands::split_rows(&mut self.db_x, at, rows),
            db_h: bands::split_rows(&mut self.db_h, at, rows),
        }
    }
}

impl RecurrentBackward {
    /// The gradients of every input; `dh0` is left incomplete unless `need_dh0` (it is then
    /// dropped, and the last step's product through `W_hh` is skipped).
    fn grads<T: FloatElement>(
        &self,
        grad: &Tensor,
        w_ih: &Tensor,
        w_hh: &Tensor,
        need_dh0: bool,
    ) -> Result<Grads<T>> {
        let spec = &self.spec;
        let kind = spec.kind;
        let Dims {
            t: steps, b, i, h, ..
        } = spec.dims;
        let gh = spec.dims.gh();
        let ld = spec.dims.gate_ld::<T>();
        let bh = b * h;
        let grad = grad.read::<T>()?;
        let (w_ih, w_hh) = (w_ih.read::<T>()?, w_hh.read::<T>()?);
        let saved = self
            .saved
            .downcast_ref::<Saved<T>>()
            .ok_or_else(|| float_error(T::DTYPE))?;
        let (acts, xh, extra) = (&saved.gates, &saved.xh, &saved.extra);
        let xw = i + h;
        // GRU's kernel reads the state each step received, as contiguous rows.
        let mut h_prev = if kind == CellKind::Gru {
            vec![T::zero(); bh]
        } else {
            Vec::new()
        };

        let d_out = &grad[..steps * bh];
        // Aligned, as every buffer a product writes from two threads (`LineAligned`).
        let mut dh = LineAligned::from_slice(&grad[steps * bh..(steps + 1) * bh]);
        let mut dc = if kind == CellKind::Lstm {
            grad[(steps + 1) * bh..(steps + 2) * bh].to_vec()
        } else {
            Vec::new()
        };
        // Gradients w.r.t. the gate pre-activations on the input side (dgx) and on the
        // recurrent side (dgh); they differ only for GRU's n gate.
        // Spare buffers: the kernels write every active row; inactive rows must be zero.
        let gate_grads = || {
            let mut v = spare::take::<T>(steps * b * ld);
            if spec.lengths.is_some() {
                v.fill(T::zero());
            }
            v
        };
        let mut dgx = gate_grads();
        let mut dgh = if kind == CellKind::Gru {
            gate_grads()
        } else {
            LineAligned::default()
        };
        let w_hh_mat = PackedRhs::new(MatRef::row_major(&w_hh, gh, h)?);
        // Each band of batch rows walks every step back on its own (see `bands`).
        let edges = bands::edges(b);
        let order = spec.order();
        let row_step = order.row_step();
        let mut dgxs = order.cut(&mut dgx, ld, &edges).into_iter();
        let mut dghs = order.cut(&mut dgh, ld, &edges).into_iter();
        let mut dhs = bands::cut(&mut dh, h, &edges).into_iter();
        let mut dcs = bands::cut(&mut dc, h, &edges).into_iter();
        let mut h_prevs = bands::cut(&mut h_prev, h, &edges).into_iter();
        // One row of bias-gradient sums per batch row (and side), added up after the loop
        // in the order of the rows: the same sums whichever thread ran a row.
        let sides = match (spec.has_bias, kind) {
            ((false, false), _) => 0,
            (_, CellKind::Gru) => 2,
            _ => 1,
        };
        let mut row_sums = vec![T::zero(); sides * b * gh];
        let x_side = row_sums.len().min(b * gh);
        let (sums_x, sums_h) = row_sums.split_at_mut(x_side);
        let mut db_xs = bands::cut(sums_x, gh, &edges).into_iter();
        let mut db_hs = bands::cut(sums_h, gh, &edges).into_iter();
        let mut all = Vec::with_capacity(edges.len() - 1);
        for k in 0..edges.len() - 1 {
            all.push(BackwardBand {
                first_row: edges[k],
                rows: edges[k + 1] - edges[k],
                dgx: dgxs.next().unwrap_or_default(),
                dgh: dghs.next().unwrap_or_default(),
                dh: dhs.next().unwrap_or_default(),
                dc: dcs.next().unwrap_or_default(),
                h_prev: h_prevs.next().unwrap_or_default(),
                db_x: db_xs.next().unwrap_or_default(),
                db_h: db_hs.next().unwrap_or_default(),
            });
        }
        let shape = StepShape {
            kind,
            h,
            t: 0,
            x_width: i,
            lengths: spec.lengths.as_deref(),
            row_step,
            gate_ld: ld,
        };
        steal::run(all, steps, w_hh_mat.rows_independent(), |band, p| {
            let (r0, rows) = (band.first_row, band.rows);
            // The band's rows of step `t` in a `width`-wide sequence buffer.
            let span = |t: usize, width: usize| order.span(t, r0, rows, width);
            // Backward walks the processing steps from the last.
            let s = steps - 1 - p;
            let t = spec.time(s);
            let saved = |k: usize| -> &[T] { extra.get(k).map_or(&[], |e| &e[span(t, h)]) };
            if kind == CellKind::Gru {
                let xh_rows = xh[span(t, xw)].chunks(xw).step_by(row_step);
                for (dst, row) in band.h_prev.chunks_exact_mut(h).zip(xh_rows) {
                    dst.copy_from_slice(&row[i..]);
                }
            }
            let dgx_t = band.dgx.at(t);
            let dgh_t = band.dgh.at(t);
            backward_rows(
                &StepShape { t, ..shape },
                BackwardRows {
                    first_row: r0,
                    rows,
                    acts: &acts[span(t, ld)],
                    extra0: saved(0),
                    extra1: saved(1),
                    h_prev: band.h_prev,
                    dout: &d_out[span(t, h)],
                    dh: band.dh,
                    dc: band.dc,
                    dgx: &mut *dgx_t,
                    dgh: &mut *dgh_t,
                },
            );
            add_each_row(band.db_x, gh, dgx_t, row_step * ld);
            add_each_row(band.db_h, gh, dgh_t, row_step * ld);
            // dh_{prev} += dgates_h · W_hh (the kernels left the direct part in dh).
            if s == 0 && !need_dh0 {
                return Ok(());
            }
            let dg_h: &[T] = if kind == CellKind::Gru { dgh_t } else { dgx_t };
            gemm_packed(
                MatMut::row_major(band.dh, rows, h)?,
                MatRef::strided(dg_h, 0, rows, gh, row_step * ld, 1)?,
                &w_hh_mat,
                true,
            )?;
            Ok(())
        })?;

        let rows = steps * b;
        let dg_h = if kind == CellKind::Gru { &dgh } else { &dgx };
        let dgx_mat = MatRef::strided(&dgx, 0, rows, gh, ld, 1)?;
        let mut dx = parallel::zeros::<T>(rows * i);
        gemm(
            MatMut::row_major(&mut dx, rows, i)?,
            dgx_mat,
            MatRef::row_major(&w_ih, gh, i)?,
            false,
        )?;
        let (dw_ih, dw_hh) = if kind == CellKind::Gru {
            let (mut dw_ih, mut dw_hh) = (vec![T::zero(); gh * i], vec![T::zero(); gh * h]);
            // The two weights see different gate gradients: one product each.
            gemm(
                MatMut::row_major(&mut dw_ih, gh, i)?,
                dgx_mat.t(),
                MatRef::strided(xh, 0, rows, i, xw, 1)?,
                false,
            )?;
            gemm(
                MatMut::row_major(&mut dw_hh, gh, h)?,
                MatRef::strided(dg_h, 0, rows, gh, ld, 1)?.t(),
                MatRef::strided(xh, i, rows, h, xw, 1)?,
                false,
            )?;
            (dw_ih, dw_hh)
        } else {
            // [dW_ih | dW_hh] = dgatesᵀ · [x | h_prev]: one pass over the gate gradients.
            let mut dw = spare::take::<T>(gh * xw);
            gemm(
                MatMut::row_major(&mut dw, gh, xw)?,
                dgx_mat.t(),
                MatRef::row_major(xh, rows, xw)?,
                false,
            )?;
            // Copied out in parallel runs of rows (1.3 MiB in W3, which one thread copied
            // while the other waited).
            let (mut dw_ih, mut dw_hh) = (parallel::zeros::<T>(gh * i), parallel::zeros(gh * h));
            const RUN: usize = 64;
            let edges: Vec<usize> = (0..gh).step_by(RUN).chain([gh]).collect();
            let runs: Vec<_> = bands::cut(&mut dw_ih, i, &edges)
                .into_iter()
                .zip(bands::cut(&mut dw_hh, h, &edges))
                .zip(edges.windows(2).map(|e| &dw[e[0] * xw..e[1] * xw]))
                .collect();
            parallel::for_each_item(runs, |((ih, hh), src)| {
                for (r, row) in src.chunks_exact(xw).enumerate() {
                    ih[r * i..(r + 1) * i].copy_from_slice(&row[..i]);
                    hh[r * h..(r + 1) * h].copy_from_slice(&row[i..]);
                }
            });
            spare::give(dw);
            (dw_ih, dw_hh)
        };
        let (sums_x, sums_h) = row_sums.split_at(x_side);
        let mut db_ih = vec![T::zero(); gh];
        add_rows(&mut db_ih, sums_x, gh);
        let db_hh = if kind == CellKind::Gru {
            let mut db = vec![T::zero(); gh];
            add_rows(&mut db, sums_h, gh);
            db
        } else {
            db_ih.clone()
        };
        spare::give(dgx);
        spare::give(dgh);
        Ok(Grads {
            dx,
            dh0: dh.to_vec(),
            dc0: dc,
            dw_ih,
            dw_hh,
            db_ih,
            db_hh,
        })
    }
}

/// Adds each of the rows of `rows` that start every `stride` elements to its own
/// `width`-wide row of `acc` (nothing when `acc` is empty).
fn add_each_row<T: FloatElement>(acc: &mut [T], width: usize, rows: &[T], stride: usize) {
    for (sum, row) in acc.chunks_exact_mut(width).zip(rows.chunks(stride)) {
        for (a, &v) in sum.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// Adds to `acc` the rows of `rows` that start every `stride` elements (the rows of one
/// step in a sequence buffer; nothing when `acc` is empty).
fn add_rows<T: FloatElement>(acc: &mut [T], rows: &[T], stride: usize) {
    if acc.is_empty() {
        return;
    }
    for row in rows.chunks(stride) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}
