use std::time::Instant;
use strata::core::kernels::gemm::{gemm, MatMut, MatRef};
fn main() {
    let (b, h, gh) = (32usize, 256usize, 1024usize);
    let w: Vec<f32> = (0..gh * h).map(|i| (i as f32 * 0.001).sin()).collect(); // [GH, H]
    let wt: Vec<f32> = {
        let mut t = vec![0.0; gh * h];
        for r in 0..gh {
            for c in 0..h {
                t[c * gh + r] = w[r * h + c];
            }
        }
        t
    }; // [H, GH]
    let x: Vec<f32> = (0..b * h).map(|i| (i as f32 * 0.01).cos()).collect();
    let dg: Vec<f32> = (0..b * gh).map(|i| (i as f32 * 0.01).cos()).collect();
    let mut out = vec![0.0f32; b * gh];
    let mut dh = vec![0.0f32; b * h];
    let n = 2000;
    for round in 0..3 {
        let t = Instant::now();
        for _ in 0..n {
            gemm(
                MatMut::row_major(&mut out, b, gh).unwrap(),
                MatRef::row_major(&x, b, h).unwrap(),
                MatRef::row_major(&wt, h, gh).unwrap(),
                true,
            )
            .unwrap();
        }
        let bb = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        // out^T [GH, B] row-major = W [GH,H] · hT [H, B]
        let t = Instant::now();
        for _ in 0..n {
            gemm(
                MatMut::row_major(&mut out, gh, b).unwrap(),
                MatRef::row_major(&w, gh, h).unwrap(),
                MatRef::row_major(&x, h, b).unwrap(),
                true,
            )
            .unwrap();
        }
        let c = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        let t = Instant::now();
        for _ in 0..n {
            gemm(
                MatMut::row_major(&mut dh, b, h).unwrap(),
                MatRef::row_major(&dg, b, gh).unwrap(),
                MatRef::row_major(&w, gh, h).unwrap(),
                true,
            )
            .unwrap();
        }
        let d = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        // dh^T [H,B] = W^T [H,GH] · dG^T [GH,B]
        let t = Instant::now();
        for _ in 0..n {
            gemm(
                MatMut::row_major(&mut dh, h, b).unwrap(),
                MatRef::row_major(&wt, h, gh).unwrap(),
                MatRef::row_major(&dg, gh, b).unwrap(),
                true,
            )
            .unwrap();
        }
        let e = t.elapsed().as_secs_f64() / n as f64 * 1e6;
        let gf = |us: f64| 2.0 * (b * h * gh) as f64 / us / 1e3;
        println!("round {round}: fwd h·Wt {bb:.1}us ({:.0} GF/s), fwd W·hT {c:.1}us ({:.0}), bwd dG·W {d:.1}us ({:.0}), bwd Wt·dGT {e:.1}us ({:.0})", gf(bb), gf(c), gf(d), gf(e));
    }
}
