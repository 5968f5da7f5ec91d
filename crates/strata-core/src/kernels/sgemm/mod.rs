//! Single-precision matrix product with AVX-512 micro-kernels, tuned for the sizes a network
//! trains with (products of a few hundred to a few thousand per side, often with a small
//! side such as a batch of 32).
//!
//! The classic blocked scheme (Goto/BLIS): `k` is cut into blocks of at most `KC_MAX`; `B`
//! is packed per block (`pack.rs`, or once for many products as a [`PackedB`]) and `A` is
//! read in place when its rows or its columns are contiguous and packed in a pass first
//! otherwise, so the micro-kernel (`avx512.rs`) reads both contiguously. The tiles of `C`
//! are cut into bands along the side with more panels and claimed by the calling thread
//! and the helper team (`kernels/team.rs`); each band runs through every `k` block, so a
//! product takes one parallel region for packing and one for computing rather than two per
//! `k` block. Bands
//! of columns pack the `B` panels they read themselves (no packing region unless `A` needs
//! one), inside the kernel of their first row panel, which reads `B` in place and stores
//! the packed copy between its multiply-adds (a separate packing pass cost 5 % of a 256³
//! product); bands of rows share one packed `B`. Machines without AVX-512, and the few shapes
//! where it measured faster, use the `gemm` crate (see `ops::matmul::product_into`).

mod asm;
mod avx512;
mod pack;

use crate::ops::matmul::SendPtr;
use avx512::{run_tile, PanelA, PanelB, Tile};
pub(crate) use pack::Src;
use pack::{pack_a, pack_b};
use std::cell::RefCell;

/// Rows of `A` per micro-panel (tile height).
const MR: usize = 14;
/// Columns of `B` per micro-panel (tile width: two 16-lane vectors).
const NR: usize = 32;
/// Largest `k` block: a `B` micro-panel (`KC_MAX · NR` floats, 40 KiB) stays in L1.
const KC_MAX: usize = 320;
/// `NR`-column panels per L2 block of `B` inside one piece of work.
const NC_PANELS: usize = 32;
/// Panels packed per piece of packing work.
const PACK_PANELS: usize = 4;
/// Bands of row panels per thread: enough that a helper starting late still gets a share.
const PIECES_PER_THREAD: usize = 4;
/// Tallest block cut into bands of columns (see [`Plan`]).
const COLUMN_BANDS_MAX_ROWS: usize = 1024;
/// Elements of a [`PackedB`] from which its packing is shared between threads.
const PARALLEL_PACK: usize = 64 * 1024;
/// Rows of `A` packed at once (bounds the packed buffer for very tall products).
const M_BLOCK: usize = 4608;
/// Columns of `B` packed at once.
const N_BLOCK: usize = 4096;
/// Most floats of packed operands held at once: k blocks are packed together (one parallel
/// region for all of them) up to this size, 8 MiB.
const PACKED_FLOATS: usize = 1 << 21;

/// True when this CPU can run the AVX-512 kernels.
pub(crate) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// `C (+)= A · B` for `m × k` `A`, `k × n` `B`, `m × n` `C`, all strided.
///
/// # Safety
/// [`available`] must be true. Every element `ptr + i * rs + j * cs` of the three matrices
/// must be in bounds; `c` must be writable (and initialised when `accumulate`) and must not
/// overlap `a` or `b`. `m`, `n`, `k` must be non-zero.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    (m, n, k): (usize, usize, usize),
    c: *mut f32,
    (c_rs, c_cs): (usize, usize),
    a: Src,
    b: Src,
    accumulate: bool,
    threads: usize,
) {
    // The kernels write rows of C; a column-major C is the transposed product Cᵀ = Bᵀ·Aᵀ.
    if c_cs != 1 && c_rs == 1 {
        let at = Src {
            ptr: b.ptr,
            rs: b.cs,
            cs: b.rs,
        };
        let bt = Src {
            ptr: a.ptr,
            rs: a.cs,
            cs: a.rs,
        };
        return sgemm((n, m, k), c, (c_cs, c_rs), at, bt, accumulate, threads);
    }
    run_blocks(
        (m, n, k),
        c,
        (c_rs, c_cs),
        a,
        Rhs::Strided(b),
        accumulate,
        threads,
    );
}

/// `C (+)= A · B` with `B` packed in advance by [`PackedB::new`].
///
/// # Safety
/// As for [`sgemm`]; `b` must have been packed from a `k × n` matrix.
pub(crate) unsafe fn sgemm_packed(
    m: usize,
    c: *mut f32,
    (c_rs, c_cs): (usize, usize),
    a: Src,
    b: &PackedB,
    accumulate: bool,
    threads: usize,
) {
    run_blocks(
        (m, b.n, b.k),
        c,
        (c_rs, c_cs),
        a,
        Rhs::Packed(b),
        accumulate,
        threads,
    );
}

/// The right operand of a product: strided in memory (packed block by block on the way),
/// or packed already.
#[derive(Clone, Copy)]
enum Rhs<'a> {
    Strided(Src),
    Packed(&'a PackedB),
}

/// The blocked product itself; see the module documentation.
#[allow(clippy::too_many_arguments)]
unsafe fn run_blocks(
    (m, n, k): (usize, usize, usize),
    c: *mut f32,
    (c_rs, c_cs): (usize, usize),
    a: Src,
    rhs: Rhs<'_>,
    accumulate: bool,
    threads: usize,
) {
    let kc_max = kc_max(k);
    // Row-major A is read in place, and so is column-major A (a transposed operand, such as
    // the gate gradients of a weight gradient: `Block::a_cols`); any other layout is packed
    // in a pass.
    let a_direct = a.cs == 1;
    let a_cols = !a_direct && a.rs == 1;
    let a_packed = !a_direct && !a_cols;
    let mut bufs = Buffers::take();
    let parallel = threads > 1;
    let c_ptr = SendPtr(c);
    for j0 in (0..n).step_by(N_BLOCK) {
        let nc = (n - j0).min(N_BLOCK);
        let n_pad = nc.next_multiple_of(NR);
        let a_pad = if a_packed {
            m.min(M_BLOCK).next_multiple_of(MR)
        } else {
            0
        };
        // The k blocks packed in one go: all of them unless the packed copies would be large.
        let group = (PACKED_FLOATS / ((n_pad + a_pad) * kc_max)).max(1);
        for g0 in (0..k.div_ceil(kc_max)).step_by(group) {
            let blocks = (k.div_ceil(kc_max) - g0).min(group);
            let b_scratch = match rhs {
                Rhs::Strided(_) => SendPtr(bufs.b.get(blocks * kc_max * n_pad)),
                Rhs::Packed(_) => SendPtr(std::ptr::null_mut()),
            };
            let a_buf = SendPtr(if a_packed {
                bufs.a.get(blocks * kc_max * a_pad)
            } else {
                std::ptr::null_mut()
            });
            // Block `kb` of the group: its first k index, depth and packed B.
            let k_block = |kb: usize| {
                let p0 = (g0 + kb) * kc_max;
                let kc = (k - p0).min(kc_max);
                let b_pack = match rhs {
                    Rhs::Strided(_) => b_scratch.get().add(kb * kc_max * n_pad),
                    Rhs::Packed(p) => p.block(g0 + kb, j0),
                };
                (p0, kc, SendPtr(b_pack))
            };
            let b_src = |p0: usize| match rhs {
                Rhs::Strided(b) => Some(b.offset(p0, j0)),
                Rhs::Packed(_) => None,
            };
            for i0 in (0..m).step_by(M_BLOCK) {
                let mc = (m - i0).min(M_BLOCK);
                let rows = EvenSplit::row_panels(mc);
                let plan = Plan::new(mc, nc, threads, a_direct);
                // Cut by columns, each piece packs the B panels it reads (they stay in its
                // core's cache); cut by rows, every piece reads all of B, packed first.
                let b_first = i0 == 0 && b_src(0).is_some();
                let fuse_b = b_first && !plan.by_rows && m <= M_BLOCK;
                let b_panels = if b_first && !fuse_b { n_pad / NR } else { 0 };
                let a_panels = if a_packed { rows.count } else { 0 };
                let (b_groups, a_groups) = (
                    b_panels.div_ceil(PACK_PANELS),
                    a_panels.div_ceil(PACK_PANELS),
                );
                let a_src = |p0: usize| a.offset(i0, p0);
                let group_range = |g: usize, panels: usize| {
                    (g * PACK_PANELS, ((g + 1) * PACK_PANELS).min(panels))
                };
                let pack = |piece: usize| {
                    let (kb, piece) =
                        (piece / (b_groups + a_groups), piece % (b_groups + a_groups));
                    let (p0, kc, b_pack) = k_block(kb);
                    if let (true, Some(b_blk)) = (piece < b_groups, b_src(p0)) {
                        pack_b(b_pack.get(), b_blk, nc, kc, group_range(piece, b_panels));
                    } else {
                        let dst = a_buf.get().add(kb * kc_max * a_pad);
                        let panels = group_range(piece - b_groups, a_panels);
                        pack_a(dst, a_src(p0), &rows, kc, panels);
                    }
                };
                let pack_pieces = blocks * (b_groups + a_groups);
                if pack_pieces > 0 {
                    run_pieces(parallel, pack_pieces, &pack);
                }
                run_pieces(parallel, plan.pieces(), &|piece| {
                    let (row_band, col_band) = plan.piece(piece);
                    for kb in 0..blocks {
                        let (p0, kc, b_pack) = k_block(kb);
                        // A band of columns packs its own B panels: the full ones on the
                        // way through its first row panel, a ragged or transposed one first.
                        let mut pack_on_the_way = None;
                        if let (true, Some(b_blk)) = (fuse_b, b_src(p0)) {
                            let first = if b_blk.cs == 1 {
                                pack_on_the_way = Some(b_blk);
                                (nc / NR).clamp(col_band.0, col_band.1)
                            } else {
                                col_band.0
                            };
                            pack_b(b_pack.get(), b_blk, nc, kc, (first, col_band.1));
                        }
                        let block = Block {
                            rows,
                            nc,
                            kc,
                            a_direct: a_direct
                                .then_some((SendPtr(a_src(p0).ptr as *mut f32), a.rs)),
                            a_cols: a_cols.then(|| a_src(p0)),
                            a_pack: SendPtr(a_buf.get().wrapping_add(kb * kc_max * a_pad)),
                            b_pack,
                            b_src: pack_on_the_way,
                            c: SendPtr(c_ptr.get().add(i0 * c_rs + j0 * c_cs)),
                            c_rs,
                            c_cs,
                            add: accumulate || g0 + kb > 0,
                        };
                        block.compute((row_band, col_band));
                    }
                });
            }
        }
    }
}

/// One packed block of the product and where its tiles go.
struct Block {
    rows: EvenSplit,
    nc: usize,
    kc: usize,
    /// `A` read in place (pointer, row stride), when its rows are contiguous.
    a_direct: Option<(SendPtr<f32>, usize)>,
    /// `A` with contiguous columns, read in place: each step's `MR` values lie side by side
    /// as in a packed panel, a row stride apart. (A packing pass wrote a W3 weight
    /// gradient's gate gradients out in groups of up to 6 MiB and the tiles read them back;
    /// copying each panel into an L1 buffer right before its tiles cost 8 % of that
    /// product, whose in-place tiles, with the prefetch below, run 2–3 % faster: AMD EPYC
    /// Zen 4.)
    a_cols: Option<Src>,
    a_pack: SendPtr<f32>,
    b_pack: SendPtr<f32>,
    /// `B` in place (row-major) when the first row panel packs the full `B` panels.
    b_src: Option<Src>,
    c: SendPtr<f32>,
    c_rs: usize,
    c_cs: usize,
    add: bool,
}

impl Block {
    /// The tiles in row panels `rows` × column panels `cols`.
    unsafe fn compute(&self, (rows, cols): ((usize, usize), (usize, usize))) {
        // Each A panel stays in L1 while the B panels (an L2-sized block) stream past it.
        for jc in (cols.0..cols.1).step_by(NC_PANELS) {
            let jc_end = (jc + NC_PANELS).min(cols.1);
            for iq in rows.0..rows.1 {
                let a = match (self.a_direct, self.a_cols) {
                    (Some((p, rs)), _) => PanelA::Rows(p.0.add(self.rows.start(iq) * rs), rs),
                    (None, Some(src)) => PanelA::Columns(src.ptr.add(self.rows.start(iq)), src.cs),
                    (None, None) => PanelA::Packed(self.a_pack.0.add(iq * MR * self.kc)),
                };
                for jq in jc..jc_end {
                    let packed = self.b_pack.0.add(jq * NR * self.kc);
                    let b = match self.b_src {
                        Some(src) if iq == rows.0 && jq < self.nc / NR => PanelB::Pack {
                            src: src.ptr.add(jq * NR),
                            row_stride: src.rs,
                            dst: packed,
                        },
                        _ => PanelB::Packed(packed),
                    };
                    let tile = Tile {
                        c: self
                            .c
                            .0
                            .add(self.rows.start(iq) * self.c_rs + jq * NR * self.c_cs),
                        rs: self.c_rs,
                        cs: self.c_cs,
                        rows: self.rows.len(iq),
                        cols: (self.nc - jq * NR).min(NR),
                        add: self.add,
                    };
                    run_tile(self.kc, a, b, &tile);
                    if let (Some(src), true) = (self.a_cols, iq + 1 < rows.1) {
                        // The next panel's steps lie a row stride apart, often a multiple
                        // of 4 KiB, where the hardware prefetchers do not follow: each tile
                        // of this panel asks for its share of them.
                        let next = src.ptr.add(self.rows.start(iq + 1));
                        let tiles = jc_end - jc;
                        let part = jq - jc;
                        let steps = self.kc * part / tiles..self.kc * (part + 1) / tiles;
                        pack::prefetch_columns(next, src.cs, steps);
                    }
                }
            }
        }
    }
}

/// `total` items cut into `count` runs of consecutive items, as equal as possible. Row
/// panels are one use: the rows of a block cut into panels of at most `MR` rows, so that 32
/// rows become 11 + 11 + 10 rather than 14 + 14 + 4, whose thin last panel would run the
/// kernel at a fraction of its speed. Bands of panels for the threads are the other.
#[derive(Clone, Copy, Debug)]
pub(super) struct EvenSplit {
    pub count: usize,
    base: usize,
    extra: usize,
}

impl EvenSplit {
    /// `total` cut into `parts` runs (fewer when `total` is smaller; one for zero).
    pub fn new(total: usize, parts: usize) -> EvenSplit {
        let count = parts.clamp(1, total.max(1));
        EvenSplit {
            count,
            base: total / count,
            extra: total % count,
        }
    }

    /// `rows` cut into the fewest panels of at most `MR` rows.
    pub fn row_panels(rows: usize) -> EvenSplit {
        EvenSplit::new(rows, rows.div_ceil(MR))
    }

    /// First item of run `i`.
    pub fn start(&self, i: usize) -> usize {
        i * self.base + i.min(self.extra)
    }

    /// Items in run `i`.
    pub fn len(&self, i: usize) -> usize {
        self.base + usize::from(i < self.extra)
    }
}

/// How a block's tiles are cut into pieces of work: bands of row panels (each across all
/// columns) or bands of column panels (each across all rows).
///
/// Bands of columns pack their own `B` panels and keep each `A` panel in L1 across all the
/// band's tiles, so they are the better cut whenever there are columns enough for every
/// thread to get a few panels and `A` needs no packing region, up to a height where every
/// thread reading all of `A` costs as much as sharing `B` (measured on 2 threads: columns
/// ahead by 5–15 % from 128³ to 640³ and by 1–6 % at 896³ and 1000×1000×300, level at
/// 1023×1024×1024, rows ahead at 1200×512×512 and 2000×256×256). They are one band per
/// thread: wider bands keep `A` in L1 longer, and narrower ones measured slower. Bands of
/// rows share one packed `B` and come a few per thread, so a helper that starts late costs
/// little; they are cut as evenly as possible (7 pieces of 4 panels for 2 threads would
/// leave one thread 14 % more).
struct Plan {
    m_panels: usize,
    n_panels: usize,
    by_rows: bool,
    bands: EvenSplit,
}

impl Plan {
    fn new(rows: usize, cols: usize, threads: usize, a_direct: bool) -> Plan {
        let (m_panels, n_panels) = (EvenSplit::row_panels(rows).count, cols.div_ceil(NR));
        let wide = m_panels < n_panels;
        let columns_pay = a_direct && rows <= COLUMN_BANDS_MAX_ROWS && n_panels >= 2 * threads;
        let by_rows = !(wide || columns_pay);
        let bands = match (by_rows, threads) {
            (true, 1) => EvenSplit::new(m_panels, 1),
            (true, _) => EvenSplit::new(m_panels, PIECES_PER_THREAD * threads),
            (false, _) => EvenSplit::new(n_panels, threads),
        };
        Plan {
            m_panels,
            n_panels,
            by_rows,
            bands,
        }
    }

    fn pieces(&self) -> usize {
        self.bands.count
    }

    /// Row-panel and column-panel ranges of piece `i`.
    fn piece(&self, i: usize) -> ((usize, usize), (usize, usize)) {
        let band = (self.bands.start(i), self.bands.start(i) + self.bands.len(i));
        if self.by_rows {
            (band, (0, self.n_panels))
        } else {
            ((0, self.m_panels), band)
        }
    }
}

/// Runs `f` on every piece, on the helper team when `parallel`.
fn run_pieces(parallel: bool, pieces: usize, f: &(dyn Fn(usize) + Sync)) {
    if parallel {
        crate::kernels::team::run(pieces, f);
    } else {
        (0..pieces).for_each(f);
    }
}

/// The `k` block size for an inner dimension `k`: blocks as equal as possible, none larger
/// than `KC_MAX`.
fn kc_max(k: usize) -> usize {
    k.div_ceil(k.div_ceil(KC_MAX).max(1))
}

/// A right operand packed once for many products: every `k` block, every column panel.
pub(crate) struct PackedB {
    data: Scratch,
    start: usize,
    k: usize,
    n: usize,
}

impl PackedB {
    /// Packs the `k × n` matrix `b`.
    ///
    /// # Safety
    /// Every element of `b` must be readable.
    pub(crate) unsafe fn new(k: usize, n: usize, b: Src) -> PackedB {
        let kc_max = kc_max(k).max(1);
        let mut data = Scratch::default();
        let base = SendPtr(data.get(k.div_ceil(kc_max).max(1) * kc_max * n.next_multiple_of(NR)));
        let start = base.get().offset_from(data.0.as_ptr()) as usize;
        // A weight packed once per call of a recurrent layer is ~1 MiB: worth both threads.
        let groups = n.div_ceil(NR).div_ceil(PACK_PANELS);
        let pieces = k.div_ceil(kc_max) * groups;
        let parallel = k * n >= PARALLEL_PACK && crate::kernels::parallel::num_threads() > 1;
        run_pieces(parallel, pieces, &|piece| {
            let (kb, group) = (piece / groups, piece % groups);
            let p0 = kb * kc_max;
            let kc = (k - p0).min(kc_max);
            let panels = (
                group * PACK_PANELS,
                ((group + 1) * PACK_PANELS).min(n.div_ceil(NR)),
            );
            pack_b(
                base.get().add(block_offset(k, n, kb, 0)),
                b.offset(p0, 0),
                n,
                kc,
                panels,
            );
        });
        PackedB { data, start, k, n }
    }

    /// The first panel of columns `j0..` in `k` block `kb` (`j0` a multiple of `NR`).
    fn block(&self, kb: usize, j0: usize) -> *mut f32 {
        let offset = self.start + block_offset(self.k, self.n, kb, j0);
        // SAFETY: `offset` lies inside the buffer sized in `new`. The kernels only read
        // through the pointer; it is `*mut` to share the packed-buffer plumbing.
        unsafe { self.data.0.as_ptr().add(offset) as *mut f32 }
    }
}

/// Where `k` block `kb`, column panel `j0 / NR` of a packed `k × n` operand starts.
fn block_offset(k: usize, n: usize, kb: usize, j0: usize) -> usize {
    let kc_max = kc_max(k);
    let kc = (k - kb * kc_max).min(kc_max);
    kb * kc_max * n.next_multiple_of(NR) + j0 * kc
}

/// A 64-byte aligned scratch buffer that keeps its allocation between products. Its floats
/// live in the vector's spare capacity, uninitialised: packing writes every value the
/// kernels read (padding included), so clearing the buffer first would be wasted work.
#[derive(Default)]
struct Scratch(Vec<f32>);

impl Scratch {
    /// A pointer to at least `len` writable floats, aligned to 64 bytes.
    fn get(&mut self, len: usize) -> *mut f32 {
        const ALIGN: usize = 16; // floats per cache line
        if self.0.capacity() < len + ALIGN {
            self.0 = Vec::with_capacity(len + ALIGN);
        }
        let ptr = self.0.as_mut_ptr();
        // SAFETY: the buffer has `ALIGN` spare floats, enough to reach the next line.
        unsafe { ptr.add(ptr.align_offset(64).min(ALIGN)) }
    }
}

/// The packing buffers of the calling thread, returned to it when dropped.
struct Buffers {
    a: Scratch,
    b: Scratch,
}

thread_local! {
    static CACHED: RefCell<Option<(Scratch, Scratch)>> = const { RefCell::new(None) };
}

impl Buffers {
    /// The thread's cached buffers, or fresh ones when a product on this thread is already
    /// using them (a rayon worker can start another product while it waits).
    fn take() -> Buffers {
        let (a, b) = CACHED.with(|c| c.borrow_mut().take()).unwrap_or_default();
        Buffers { a, b }
    }
}

impl Drop for Buffers {
    fn drop(&mut self) {
        let a = std::mem::take(&mut self.a);
        let b = std::mem::take(&mut self.b);
        CACHED.with(|c| *c.borrow_mut() = Some((a, b)));
    }
}

#[cfg(test)]
mod tests;
