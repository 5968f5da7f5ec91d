//! Ops on inputs large enough to split their work across threads (on a machine with more
//! than one core), against direct loops written here; and full reductions, which must give
//! the same bits on every run.

use strata_core::{DType, Generator, Tensor};

fn rand(seed: u64, shape: &[usize]) -> Tensor {
    Tensor::randn_with(&mut Generator::new(seed), shape, DType::F64)
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>().unwrap()
}

/// Every `got[i]` within `tol` (relative to `max(1, |want[i]|)`) of `want[i]`.
fn assert_near(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: {g} vs {w}"
        );
    }
}

#[test]
fn index_select_gradient_accumulates_repeated_rows_in_every_block() {
    // [8, 50, 128] indexed along dim 1 by 100 indices: 8 independent blocks, each with
    // repeated rows, and a gradient of 102,400 elements.
    let (outer, size, k, inner) = (8, 50, 100, 128);
    let x = rand(1, &[outer, size, inner]).requires_grad_();
    let idx: Vec<i64> = (0..k as i64)
        .map(|j| (j * 7 + j / 3) % size as i64)
        .collect();
    let index = Tensor::from_vec(idx.clone(), &[k]).unwrap();
    let g = rand(2, &[outer, k, inner]);
    let y = x.index_select(1, &index).unwrap();
    let grads = y.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    let got = vals(grads.get(&x).unwrap());
    let gv = vals(&g);
    let mut want = vec![0.0; outer * size * inner];
    for o in 0..outer {
        for (j, &i) in idx.iter().enumerate() {
            for c in 0..inner {
                want[(o * size + i as usize) * inner + c] += gv[(o * k + j) * inner + c];
            }
        }
    }
    assert_near(&got, &want, 1e-12, "index_select grad");
}

fn naive_batched(a: &[f64], b: &[f64], (nb, m, k, n): (usize, usize, usize, usize)) -> Vec<f64> {
    let mut out = vec![0.0; nb * m * n];
    for p in 0..nb {
        for i in 0..m {
            for j in 0..n {
                out[(p * m + i) * n + j] = (0..k)
                    .map(|q| a[(p * m + i) * k + q] * b[(p * k + q) * n + j])
                    .sum();
            }
        }
    }
    out
}

#[test]
fn batched_products_spread_over_threads_match_the_definition() {
    // Medium products (7,680 multiply-adds each) and tiny ones (120 each), many per batch.
    for (nb, m, k, n) in [(64, 16, 24, 20), (200, 4, 5, 6)] {
        let a = rand(3, &[nb, m, k]);
        let b = rand(4, &[nb, k, n]);
        let want = naive_batched(&vals(&a), &vals(&b), (nb, m, k, n));
        let got = vals(&a.matmul(&b).unwrap());
        assert_near(&got, &want, 1e-12, "f64 batched matmul");
        let (a32, b32) = (a.to_dtype(DType::F32), b.to_dtype(DType::F32));
        let got32 = a32.matmul(&b32).unwrap().to_vec_f64();
        assert_near(&got32, &want, 1e-4, "f32 batched matmul");
    }
    // A broadcast batch: b's batch dim of 1 is shared by all of a's.
    let (a, b) = (rand(5, &[8, 8, 16, 24]), rand(6, &[8, 1, 24, 20]));
    let bv = vals(&b);
    let b_full: Vec<f64> = (0..64)
        .flat_map(|p| bv[(p / 8) * 480..][..480].to_vec())
        .collect();
    let want = naive_batched(&vals(&a), &b_full, (64, 16, 24, 20));
    assert_near(
        &vals(&a.matmul(&b).unwrap()),
        &want,
        1e-12,
        "broadcast matmul",
    );
}

/// Softmax (or log-softmax) of `x` seen as `[outer, n, inner]` over the middle dim.
fn naive_softmax(x: &[f64], (outer, n, inner): (usize, usize, usize), log: bool) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    for o in 0..outer {
        for c in 0..inner {
            let at = |r: usize| (o * n + r) * inner + c;
            let max = (0..n).map(|r| x[at(r)]).fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = (0..n).map(|r| (x[at(r)] - max).exp()).sum();
            for r in 0..n {
                let z = x[at(r)] - max;
                out[at(r)] = if log { z - sum.ln() } else { z.exp() / sum };
            }
        }
    }
    out
}

#[test]
fn softmax_over_many_blocks_matches_the_definition() {
    for (shape, dim, view) in [
        (vec![64, 1000], 1, (64, 1000, 1)),
        (vec![16, 300, 20], 1, (16, 300, 20)),
    ] {
        let x = rand(7, &shape);
        let xv = vals(&x);
        assert_near(
            &vals(&x.softmax(dim).unwrap()),
            &naive_softmax(&xv, view, false),
            1e-12,
            "softmax",
        );
        assert_near(
            &vals(&x.log_softmax(dim).unwrap()),
            &naive_softmax(&xv, view, true),
            1e-12,
            "log_softmax",
        );
    }
}

#[test]
fn full_sums_of_long_tensors_are_accurate_and_identical_run_to_run() {
    let x = rand(8, &[300_001]);
    let xv = vals(&x);
    let want: f64 = xv.iter().sum();
    let first = x.sum_all().unwrap().item().unwrap();
    assert!((first - want).abs() < 1e-9, "{first} vs {want}");
    let x32 = x.to_dtype(DType::F32);
    let first32 = x32.sum_all().unwrap().to_vec::<f32>().unwrap()[0];
    assert!((first32 as f64 - want).abs() < 1e-2, "{first32} vs {want}");
    for _ in 0..5 {
        assert_eq!(
            x.sum_all().unwrap().item().unwrap().to_bits(),
            first.to_bits()
        );
        let again = x32.sum_all().unwrap().to_vec::<f32>().unwrap()[0];
        assert_eq!(again.to_bits(), first32.to_bits());
    }
}

#[test]
fn row_reductions_of_large_tensors_match_the_definition() {
    let x = rand(9, &[100, 1000]);
    let xv = vals(&x);
    let rows: Vec<&[f64]> = xv.chunks(1000).collect();
    let sums: Vec<f64> = rows.iter().map(|r| r.iter().sum()).collect();
    assert_near(
        &vals(&x.sum(&[1], false).unwrap()),
        &sums,
        1e-12,
        "row sums",
    );
    let (max, arg) = x.max(1, false).unwrap();
    for (r, row) in rows.iter().enumerate() {
        let (i, &m) =
            row.iter().enumerate().fold(
                (0, &f64::NEG_INFINITY),
                |a, b| if b.1 > a.1 { b } else { a },
            );
        assert_eq!(vals(&max)[r], m);
        assert_eq!(arg.to_vec::<i64>().unwrap()[r], i as i64);
    }
}

#[test]
fn elementwise_maps_over_large_strided_views_visit_every_element_once() {
    // A transposed view (copied in tiles) and a narrowed one (copied run by run).
    let x = rand(10, &[300, 400]);
    let xv = vals(&x);
    let t = vals(&x.t().unwrap().neg().unwrap());
    for i in 0..400 {
        for j in 0..300 {
            assert_eq!(t[i * 300 + j], -xv[j * 400 + i]);
        }
    }
    let x = rand(11, &[200, 1000]);
    let xv = vals(&x);
    let n = vals(&x.narrow(1, 3, 500).unwrap().neg().unwrap());
    for i in 0..200 {
        for j in 0..500 {
            assert_eq!(n[i * 500 + j], -xv[i * 1000 + 3 + j]);
        }
    }
}
