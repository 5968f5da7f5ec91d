//! Sums over slices in f64 for the normalisation kernels. Eight independent accumulators
//! let the compiler use SIMD where one running sum (whose order it may not change) could
//! not.

use strata_core::Element;

const LANES: usize = 8;

/// An element as f64 (`Element::to_f64`, named apart from `num_traits`' fallible one).
#[inline(always)]
pub(crate) fn wide<T: Element>(v: T) -> f64 {
    v.to_f64()
}

/// `(Σ(x − k), Σ(x − k)²)`: with `k` one of the values, the variance
/// `Σd²/n − (Σd/n)²` keeps its digits (no cancellation of large means).
#[inline]
pub(crate) fn shifted_sums<T: Element>(xs: &[T], k: f64) -> (f64, f64) {
    let (mut a, mut b) = ([0.0; LANES], [0.0; LANES]);
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let d = wide(c[l]) - k;
            a[l] += d;
            b[l] += d * d;
        }
    }
    let (mut s1, mut s2): (f64, f64) = (a.iter().sum(), b.iter().sum());
    for &v in rest {
        let d = wide(v) - k;
        s1 += d;
        s2 += d * d;
    }
    (s1, s2)
}

/// `(Σ g, Σ g·(x − m))` over equally long slices (the sums of normalisation backward passes).
#[inline]
pub(crate) fn grad_sums<G: Element, X: Element>(gs: &[G], xs: &[X], m: f64) -> (f64, f64) {
    let n = gs.len().min(xs.len());
    let (gs, xs) = (&gs[..n], &xs[..n]);
    let (mut a, mut b) = ([0.0; LANES], [0.0; LANES]);
    let (gc, xc) = (gs.chunks_exact(LANES), xs.chunks_exact(LANES));
    let (gr, xr) = (gc.remainder(), xc.remainder());
    for (g, x) in gc.zip(xc) {
        for l in 0..LANES {
            let g = wide(g[l]);
            a[l] += g;
            b[l] += g * (wide(x[l]) - m);
        }
    }
    let (mut s1, mut s2): (f64, f64) = (a.iter().sum(), b.iter().sum());
    for (&g, &x) in gr.iter().zip(xr) {
        let g = wide(g);
        s1 += g;
        s2 += g * (wide(x) - m);
    }
    (s1, s2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_match_the_plain_loops_for_every_remainder() {
        for n in 0..20 {
            let xs: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() + 3.0).collect();
            let gs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.71).cos()).collect();
            let (s1, s2) = shifted_sums(&xs, 3.0);
            let e1: f64 = xs.iter().map(|&x| x as f64 - 3.0).sum();
            let e2: f64 = xs.iter().map(|&x| (x as f64 - 3.0).powi(2)).sum();
            assert!((s1 - e1).abs() < 1e-12 && (s2 - e2).abs() < 1e-12, "{n}");
            let (g1, g2) = grad_sums(&gs, &xs, 0.5);
            let f1: f64 = gs.iter().sum();
            let f2: f64 = gs
                .iter()
                .zip(&xs)
                .map(|(&g, &x)| g * (x as f64 - 0.5))
                .sum();
            assert!((g1 - f1).abs() < 1e-12 && (g2 - f2).abs() < 1e-12, "{n}");
        }
    }
}
