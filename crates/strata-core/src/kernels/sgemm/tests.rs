//! The AVX-512 product against a plain f64 triple loop, over edge sizes, strides, both
//! output orders, accumulation, block boundaries and thread counts.

use super::*;

/// A deterministic pseudo-random matrix buffer with values in [-1, 1).
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Layout choices for one operand or the output: transposed, extra padding per line.
#[derive(Clone, Copy, Debug)]
struct Layout {
    transposed: bool,
    pad: usize,
}

/// Strides `(rs, cs)` and buffer length of a `rows × cols` matrix in `layout`.
fn strides(rows: usize, cols: usize, l: Layout) -> (usize, usize, usize) {
    if l.transposed {
        let ld = rows + l.pad;
        (1, ld, ld * cols)
    } else {
        let ld = cols + l.pad;
        (ld, 1, ld * rows)
    }
}

fn check(
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    acc: bool,
    threads: usize,
) {
    if !available() {
        return;
    }
    let (ars, acs, alen) = strides(m, k, la);
    let (brs, bcs, blen) = strides(k, n, lb);
    let (crs, ccs, clen) = strides(m, n, lc);
    let a = values(alen, (m * 31 + k) as u64);
    let b = values(blen, (k * 17 + n) as u64);
    let mut c = values(clen, 99);
    let before = c.clone();
    // SAFETY: the strides describe the buffers just allocated; f32 AVX-512 is available.
    unsafe {
        sgemm(
            (m, n, k),
            c.as_mut_ptr(),
            (crs, ccs),
            Src {
                ptr: a.as_ptr(),
                rs: ars,
                cs: acs,
            },
            Src {
                ptr: b.as_ptr(),
                rs: brs,
                cs: bcs,
            },
            acc,
            threads,
        );
    }
    for i in 0..m {
        for j in 0..n {
            let mut want: f64 = (0..k)
                .map(|p| a[i * ars + p * acs] as f64 * b[p * brs + j * bcs] as f64)
                .sum();
            if acc {
                want += before[i * crs + j * ccs] as f64;
            }
            let got = c[i * crs + j * ccs] as f64;
            let tol = 1e-5 * (k as f64).sqrt() * 4.0 + 1e-6;
            assert!(
                (got - want).abs() <= tol,
                "{m}x{n}x{k} a={la:?} b={lb:?} c={lc:?} acc={acc} threads={threads}: C[{i},{j}] = {got}, want {want}"
            );
        }
    }
    // Padding between lines of C is never touched.
    let written = |idx: usize| (0..m).any(|i| (0..n).any(|j| i * crs + j * ccs == idx));
    for (idx, (&x, &y)) in c.iter().zip(&before).enumerate() {
        if !written(idx) {
            assert_eq!(x, y, "{m}x{n}x{k}: element {idx} outside C changed");
        }
    }
}

const ROW: Layout = Layout {
    transposed: false,
    pad: 0,
};
const COL: Layout = Layout {
    transposed: true,
    pad: 0,
};
const PADDED: Layout = Layout {
    transposed: false,
    pad: 3,
};

#[test]
fn edge_sizes_match_the_reference() {
    for &m in &[1, 5, 12, 13, 25, 40] {
        for &n in &[1, 7, 16, 17, 32, 33, 70] {
            for &k in &[1, 3, 64, 321] {
                check(m, n, k, ROW, ROW, ROW, false, 1);
            }
        }
    }
}

#[test]
fn assembly_tiles_match_the_reference_for_every_remainder_of_k() {
    // Panels of every height with an assembly loop: 20 rows make 10 + 10, 32 make
    // 11 + 11 + 10, 36 make 12 · 3, 27 make 14 + 13, 28 and 42 fourteens; k from 1 to 9
    // covers every count of leftover steps after the unrolled ones, and a padded A a row
    // stride other than k.
    for m in [20, 27, 28, 32, 36, 42] {
        for n in [32, 96] {
            for k in (1..=9).chain([17, 330]) {
                for (la, lc, acc, threads) in [
                    (ROW, ROW, false, 1),
                    (PADDED, ROW, true, 2),
                    (PADDED, PADDED, false, 1),
                ] {
                    check(m, n, k, la, ROW, lc, acc, threads);
                }
            }
        }
    }
}

#[test]
fn strided_and_transposed_operands_match_the_reference() {
    for la in [ROW, COL, PADDED] {
        for lb in [ROW, COL, PADDED] {
            for lc in [
                ROW,
                COL,
                PADDED,
                Layout {
                    transposed: true,
                    pad: 2,
                },
            ] {
                check(29, 45, 37, la, lb, lc, false, 1);
                check(29, 45, 37, la, lb, lc, true, 2);
            }
        }
    }
    // A column-major A is read in place, each step of a panel a row stride after the last:
    // 100 rows make eight panels of 12 and 13 rows (a tile must not read the next panel's
    // rows), 700 steps three k blocks; with rows by threads and (8 × 300) columns by
    // threads, padded columns, accumulating.
    check(100, 40, 700, COL, ROW, ROW, false, 2);
    let padded_col = Layout {
        transposed: true,
        pad: 3,
    };
    check(100, 40, 700, padded_col, ROW, ROW, true, 3);
    check(8, 300, 700, padded_col, ROW, ROW, true, 2);
    // Column-major A in full 14-row panels over a long k (a weight gradient's shape), in
    // panels of 14 and 13 rows, and alone at every height from 1 to 14.
    check(28, 64, 2048, COL, ROW, ROW, false, 2);
    check(105, 40, 50, padded_col, ROW, ROW, false, 1);
    for rows in 1..=14 {
        check(rows, 33, 40, COL, ROW, ROW, true, 2);
    }
}

#[test]
fn accumulating_products_add_to_the_output() {
    check(50, 70, 700, ROW, COL, ROW, true, 1);
    check(13, 33, 5, COL, ROW, COL, true, 2);
}

#[test]
fn threads_share_rows_or_columns_without_gaps() {
    for threads in [2, 3, 4] {
        check(200, 70, 90, ROW, ROW, ROW, false, threads);
        check(8, 300, 90, ROW, COL, ROW, false, threads);
        check(1, 1, 10, ROW, ROW, ROW, false, threads);
    }
}

#[test]
fn column_bands_pack_their_own_b_panels_in_every_k_block() {
    // Few rows, many columns: pieces are column bands that pack B themselves.
    assert!(!Plan::new(8, 300, 2, true).by_rows);
    check(8, 300, 2 * KC_MAX + 9, ROW, ROW, ROW, true, 2);
    // A square block with A read in place is cut by columns too, one band per thread.
    let plan = Plan::new(300, 300, 2, true);
    assert!(!plan.by_rows && plan.pieces() == 2);
    check(300, 300, 2 * KC_MAX + 9, ROW, ROW, ROW, true, 2);
    check(300, 290, KC_MAX + 1, ROW, COL, ROW, false, 3);
    check(8, 300, 2 * KC_MAX + 9, COL, PADDED, ROW, false, 3);
}

#[test]
fn k_blocks_beyond_one_packed_group_match_the_reference() {
    // Packed A and B of this width hold one k block per group.
    let n = N_BLOCK - 5;
    assert!((n + 24) * KC_MAX * 2 > PACKED_FLOATS);
    check(20, n, 2 * KC_MAX + 7, COL, ROW, ROW, true, 2);
}

#[test]
fn products_larger_than_one_packed_block_match_the_reference() {
    check(M_BLOCK + 20, 9, 4, ROW, ROW, ROW, false, 2);
    check(3, N_BLOCK + 40, 4, ROW, ROW, ROW, true, 2);
}

#[test]
fn plans_cover_every_tile_once() {
    for &(rows, cols, threads) in &[
        (32, 1024, 2),
        (1024, 1024, 2),
        (5, 7, 2),
        (300, 40, 3),
        (13, 33, 1),
        (256, 256, 2),
        (1000, 70, 4),
    ] {
        let plan = Plan::new(rows, cols, threads, true);
        let mut seen = vec![0u32; EvenSplit::row_panels(rows).count * cols.div_ceil(NR)];
        for i in 0..plan.pieces() {
            let ((r0, r1), (c0, c1)) = plan.piece(i);
            for r in r0..r1 {
                for c in c0..c1 {
                    seen[r * cols.div_ceil(NR) + c] += 1;
                }
            }
        }
        assert!(
            seen.iter().all(|&s| s == 1),
            "{rows}x{cols} on {threads}: {seen:?}"
        );
    }
    // A batch of 32 rows is 3 row panels against 32 column panels: cut along columns.
    assert!(!Plan::new(32, 1024, 2, false).by_rows);
    // Square: columns when A is read in place, rows when it is packed (both threads would
    // otherwise wait on one packing region and read it all) or when the block is tall.
    assert!(!Plan::new(256, 256, 2, true).by_rows);
    assert!(Plan::new(256, 256, 2, false).by_rows);
    assert!(Plan::new(1200, 512, 2, true).by_rows);
    // One thread computes a block in one piece, whichever way it is cut.
    assert_eq!(Plan::new(1024, 64, 1, true).pieces(), 1);
    assert_eq!(Plan::new(256, 256, 1, true).pieces(), 1);
    // Row bands differ by at most one panel: 28 panels on 2 threads are 8 bands of 3 or 4.
    let plan = Plan::new(28 * MR, 64, 2, true);
    let bands: Vec<usize> = (0..plan.pieces())
        .map(|i| plan.piece(i).0 .1 - plan.piece(i).0 .0)
        .collect();
    assert_eq!(bands, [4, 4, 4, 4, 3, 3, 3, 3]);
}

#[test]
fn even_splits_cover_the_items_in_order() {
    for total in 0..40 {
        for parts in 1..12 {
            let s = EvenSplit::new(total, parts);
            assert_eq!(s.count, parts.min(total.max(1)));
            let lens: Vec<usize> = (0..s.count).map(|i| s.len(i)).collect();
            assert_eq!(lens.iter().sum::<usize>(), total);
            assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
            for i in 1..s.count {
                assert_eq!(s.start(i), s.start(i - 1) + s.len(i - 1));
            }
        }
    }
}

#[test]
fn row_panels_are_balanced_and_contiguous() {
    for rows in 1..200 {
        let p = EvenSplit::row_panels(rows);
        let lens: Vec<usize> = (0..p.count).map(|i| p.len(i)).collect();
        assert_eq!(lens.iter().sum::<usize>(), rows);
        assert!(
            lens.iter().all(|&l| (1..=MR).contains(&l)),
            "{rows}: {lens:?}"
        );
        assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
        for i in 1..p.count {
            assert_eq!(p.start(i), p.start(i - 1) + p.len(i - 1));
        }
    }
    let p = EvenSplit::row_panels(32);
    assert_eq!(
        (0..p.count).map(|i| p.len(i)).collect::<Vec<_>>(),
        [11, 11, 10]
    );
}
