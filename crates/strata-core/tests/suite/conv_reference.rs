//! conv2d, conv1d and conv_transpose2d against direct loop implementations written here
//! (the definition, one multiply-add at a time) over many configurations: strides,
//! padding, dilation, groups, depthwise and pointwise kernels, rectangular windows, batches
//! large enough to run in parallel, and the adjoint identity between the two ops.

use strata_core::{Conv1dParams, Conv2dParams, ConvTranspose2dParams, DType, Generator, Tensor};
use strata_testutil::assert_close;

#[derive(Clone, Copy, Debug)]
struct Cfg {
    n: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
    g: usize,
}

impl Cfg {
    fn out(&self) -> (usize, usize) {
        let o = |i: usize, k: usize, s: usize, p: usize, d: usize| {
            (i + 2 * p - d * (k - 1) - 1) / s + 1
        };
        (
            o(self.h, self.k.0, self.s.0, self.p.0, self.d.0),
            o(self.w, self.k.1, self.s.1, self.p.1, self.d.1),
        )
    }
    fn params(&self) -> Conv2dParams {
        Conv2dParams {
            stride: self.s,
            padding: self.p,
            dilation: self.d,
            groups: self.g,
        }
    }
}

fn cfg(
    n: usize,
    (cin, cout): (usize, usize),
    (h, w): (usize, usize),
    k: (usize, usize),
    s: (usize, usize),
    p: (usize, usize),
    d: (usize, usize),
    g: usize,
) -> Cfg {
    Cfg {
        n,
        cin,
        cout,
        h,
        w,
        k,
        s,
        p,
        d,
        g,
    }
}

fn configs() -> Vec<Cfg> {
    vec![
        cfg(4, (1, 8), (28, 28), (3, 3), (1, 1), (1, 1), (1, 1), 1), // W2's first layer, smaller
        cfg(8, (8, 16), (16, 16), (3, 3), (1, 1), (1, 1), (1, 1), 1), // parallel over the batch
        cfg(1, (16, 32), (12, 12), (3, 3), (1, 1), (1, 1), (1, 1), 1), // one sample, threaded gemm
        cfg(3, (6, 4), (9, 7), (3, 2), (2, 1), (1, 0), (1, 2), 2),
        cfg(2, (4, 8), (7, 8), (3, 3), (2, 2), (1, 1), (1, 1), 4), // depthwise, multiplier 2
        cfg(2, (5, 5), (6, 6), (3, 3), (1, 1), (2, 2), (2, 2), 5), // depthwise, dilated
        cfg(5, (6, 3), (8, 8), (1, 1), (1, 1), (0, 0), (1, 1), 1), // pointwise
        cfg(2, (6, 4), (5, 3), (1, 1), (1, 1), (0, 0), (1, 1), 2), // grouped pointwise
        cfg(2, (3, 2), (5, 6), (1, 1), (2, 2), (1, 1), (1, 1), 1), // strided, padded 1x1
        cfg(2, (3, 5), (5, 11), (1, 5), (1, 3), (0, 2), (1, 1), 1),
        cfg(2, (2, 3), (3, 3), (5, 5), (1, 1), (1, 1), (1, 1), 1), // kernel = padded input
        cfg(2, (3, 2), (10, 9), (2, 4), (3, 2), (2, 1), (3, 2), 1),
        // Fewer taps (18) than output channels (24): the weight gradient's product is not
        // computed transposed.
        cfg(3, (2, 24), (6, 6), (3, 3), (1, 1), (1, 1), (1, 1), 1),
    ]
}

fn random(rng: &mut Generator, shape: &[usize]) -> Vec<f64> {
    Tensor::randn_with(rng, shape, DType::F64)
        .to_vec::<f64>()
        .unwrap()
}

/// Output, and the input, weight and bias gradients for `grad_out`, of conv2d by its
/// definition.
fn naive_conv2d(c: &Cfg, x: &[f64], w: &[f64], b: &[f64], gy: &[f64]) -> [Vec<f64>; 4] {
    let (oh, ow) = c.out();
    let (cin_g, cout_g) = (c.cin / c.g, c.cout / c.g);
    let (kh, kw) = c.k;
    let mut y = vec![0.0; c.n * c.cout * oh * ow];
    let mut gx = vec![0.0; x.len()];
    let mut gw = vec![0.0; w.len()];
    let mut gb = vec![0.0; c.cout];
    for n in 0..c.n {
        for co in 0..c.cout {
            let grp = co / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let o = ((n * c.cout + co) * oh + oy) * ow + ox;
                    let mut acc = b[co];
                    for ci in 0..cin_g {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * c.s.0 + ky * c.d.0) as isize - c.p.0 as isize;
                                let ix = (ox * c.s.1 + kx * c.d.1) as isize - c.p.1 as isize;
                                if iy < 0 || ix < 0 || iy >= c.h as isize || ix >= c.w as isize {
                                    continue;
                                }
                                let xi = ((n * c.cin + grp * cin_g + ci) * c.h + iy as usize) * c.w
                                    + ix as usize;
                                let wi = ((co * cin_g + ci) * kh + ky) * kw + kx;
                                acc += w[wi] * x[xi];
                                gx[xi] += gy[o] * w[wi];
                                gw[wi] += gy[o] * x[xi];
                            }
                        }
                    }
                    y[o] = acc;
                    gb[co] += gy[o];
                }
            }
        }
    }
    [y, gx, gw, gb]
}

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn conv2d_matches_the_definition() {
    let mut rng = Generator::new(7);
    for c in configs() {
        let (oh, ow) = c.out();
        let (xs, ws) = ([c.n, c.cin, c.h, c.w], [c.cout, c.cin / c.g, c.k.0, c.k.1]);
        let ys = [c.n, c.cout, oh, ow];
        let (x, w, b, gy) = (
            random(&mut rng, &xs),
            random(&mut rng, &ws),
            random(&mut rng, &[c.cout]),
            random(&mut rng, &ys),
        );
        let want = naive_conv2d(&c, &x, &w, &b, &gy);
        for (dtype, tol) in [(DType::F64, 1e-10), (DType::F32, 1e-4)] {
            let xt = t(&x, &xs).to_dtype(dtype).requires_grad_();
            let wt = t(&w, &ws).to_dtype(dtype).requires_grad_();
            let bt = t(&b, &[c.cout]).to_dtype(dtype).requires_grad_();
            let y = xt.conv2d(&wt, Some(&bt), c.params()).unwrap();
            let g = y.backward_with(&t(&gy, &ys).to_dtype(dtype)).unwrap();
            let what = |k: &str| format!("{c:?} {dtype} {k}");
            assert_close(&y, &t(&want[0], &ys), tol, tol, &what("out"));
            assert_close(
                g.get(&xt).unwrap(),
                &t(&want[1], &xs),
                tol,
                tol,
                &what("grad_input"),
            );
            assert_close(
                g.get(&wt).unwrap(),
                &t(&want[2], &ws),
                tol,
                tol,
                &what("grad_weight"),
            );
            assert_close(
                g.get(&bt).unwrap(),
                &t(&want[3], &[c.cout]),
                tol,
                tol,
                &what("grad_bias"),
            );
        }
    }
}

#[test]
fn conv1d_matches_the_definition() {
    let mut rng = Generator::new(8);
    for (n, cin, cout, l, k, s, p, d, g) in [
        (2, 3, 4, 11, 3, 2, 1, 1, 1),
        (3, 4, 6, 20, 4, 3, 2, 2, 2),
        (2, 3, 3, 9, 1, 1, 0, 1, 3),
        (16, 8, 8, 64, 5, 1, 2, 1, 1),
    ] {
        let c = cfg(n, (cin, cout), (1, l), (1, k), (1, s), (0, p), (1, d), g);
        let (_, ol) = c.out();
        let (x, w, b, gy) = (
            random(&mut rng, &[n, cin, l]),
            random(&mut rng, &[cout, cin / g, k]),
            random(&mut rng, &[cout]),
            random(&mut rng, &[n, cout, ol]),
        );
        let want = naive_conv2d(&c, &x, &w, &b, &gy);
        let xt = t(&x, &[n, cin, l]).requires_grad_();
        let wt = t(&w, &[cout, cin / g, k]).requires_grad_();
        let bt = t(&b, &[cout]).requires_grad_();
        let params = Conv1dParams {
            stride: s,
            padding: p,
            dilation: d,
            groups: g,
        };
        let y = xt.conv1d(&wt, Some(&bt), params).unwrap();
        assert_eq!(y.shape(), &[n, cout, ol]);
        let gr = y.backward_with(&t(&gy, &[n, cout, ol])).unwrap();
        let what = format!("{c:?}");
        assert_close(&y, &t(&want[0], &[n, cout, ol]), 1e-10, 1e-10, &what);
        assert_close(
            gr.get(&xt).unwrap(),
            &t(&want[1], &[n, cin, l]),
            1e-10,
            1e-10,
            &what,
        );
        assert_close(
            gr.get(&wt).unwrap(),
            &t(&want[2], &[cout, cin / g, k]),
            1e-10,
            1e-10,
            &what,
        );
        assert_close(
            gr.get(&bt).unwrap(),
            &t(&want[3], &[cout]),
            1e-10,
            1e-10,
            &what,
        );
    }
}

/// conv_transpose2d by its definition: every input pixel scatters a weighted kernel.
/// Returns the output and the input, weight and bias gradients for `grad_out`.
fn naive_conv_transpose2d(
    c: &Cfg,
    op: (usize, usize),
    x: &[f64],
    w: &[f64],
    b: &[f64],
    gy: &[f64],
) -> [Vec<f64>; 4] {
    // Here `c.cin` / `c.h`, `c.w` describe this op's input and `c.cout` its output channels.
    let (kh, kw) = c.k;
    let (oh, ow) = transpose_out(c, op);
    let (cin_g, cout_g) = (c.cin / c.g, c.cout / c.g);
    let mut y = vec![0.0; c.n * c.cout * oh * ow];
    for n in 0..c.n {
        for co in 0..c.cout {
            for i in 0..oh * ow {
                y[(n * c.cout + co) * oh * ow + i] = b[co];
            }
        }
    }
    let mut gx = vec![0.0; x.len()];
    let mut gw = vec![0.0; w.len()];
    let mut gb = vec![0.0; c.cout];
    for n in 0..c.n {
        for ci in 0..c.cin {
            let grp = ci / cin_g;
            for iy in 0..c.h {
                for ix in 0..c.w {
                    let xi = ((n * c.cin + ci) * c.h + iy) * c.w + ix;
                    for co in 0..cout_g {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let oy = (iy * c.s.0 + ky * c.d.0) as isize - c.p.0 as isize;
                                let ox = (ix * c.s.1 + kx * c.d.1) as isize - c.p.1 as isize;
                                if oy < 0 || ox < 0 || oy >= oh as isize || ox >= ow as isize {
                                    continue;
                                }
                                let yc = grp * cout_g + co;
                                let yi = ((n * c.cout + yc) * oh + oy as usize) * ow + ox as usize;
                                let wi = ((ci * cout_g + co) * kh + ky) * kw + kx;
                                y[yi] += x[xi] * w[wi];
                                gx[xi] += gy[yi] * w[wi];
                                gw[wi] += gy[yi] * x[xi];
                            }
                        }
                    }
                }
            }
        }
    }
    for n in 0..c.n {
        for co in 0..c.cout {
            gb[co] += gy[(n * c.cout + co) * oh * ow..][..oh * ow]
                .iter()
                .sum::<f64>();
        }
    }
    [y, gx, gw, gb]
}

/// PyTorch's output size of a transposed convolution over `c`'s input.
fn transpose_out(c: &Cfg, op: (usize, usize)) -> (usize, usize) {
    let o = |i: usize, k: usize, s: usize, p: usize, d: usize, op: usize| {
        (i - 1) * s + d * (k - 1) + op + 1 - 2 * p
    };
    (
        o(c.h, c.k.0, c.s.0, c.p.0, c.d.0, op.0),
        o(c.w, c.k.1, c.s.1, c.p.1, c.d.1, op.1),
    )
}

#[test]
fn conv_transpose2d_matches_the_definition() {
    let mut rng = Generator::new(9);
    // (config over this op's input, output_padding)
    let cases = [
        (
            cfg(2, (3, 4), (4, 5), (3, 3), (1, 1), (1, 1), (1, 1), 1),
            (0, 0),
        ),
        (
            cfg(3, (4, 6), (3, 4), (3, 2), (2, 3), (1, 0), (1, 1), 2),
            (1, 2),
        ),
        (
            cfg(2, (4, 4), (5, 5), (3, 3), (2, 2), (1, 1), (2, 1), 4),
            (1, 0),
        ),
        (
            cfg(8, (16, 8), (7, 7), (4, 4), (2, 2), (1, 1), (1, 1), 1),
            (0, 0),
        ), // parallel
        (
            cfg(1, (16, 8), (7, 7), (3, 3), (2, 2), (1, 1), (1, 1), 1),
            (1, 1),
        ),
        (
            cfg(2, (6, 3), (4, 4), (1, 1), (1, 1), (0, 0), (1, 1), 1),
            (0, 0),
        ), // pointwise
        (
            cfg(2, (2, 2), (3, 3), (2, 2), (1, 1), (0, 0), (3, 3), 1),
            (2, 1),
        ), // op < dilation
    ];
    for (c, op) in cases {
        let (xs, ws) = ([c.n, c.cin, c.h, c.w], [c.cin, c.cout / c.g, c.k.0, c.k.1]);
        let (x, w, b) = (
            random(&mut rng, &xs),
            random(&mut rng, &ws),
            random(&mut rng, &[c.cout]),
        );
        let (oh, ow) = transpose_out(&c, op);
        let ys = [c.n, c.cout, oh, ow];
        let gy = random(&mut rng, &ys);
        let want = naive_conv_transpose2d(&c, op, &x, &w, &b, &gy);
        let params = ConvTranspose2dParams {
            stride: c.s,
            padding: c.p,
            output_padding: op,
            dilation: c.d,
            groups: c.g,
        };
        for (dtype, tol) in [(DType::F64, 1e-10), (DType::F32, 1e-4)] {
            let xt = t(&x, &xs).to_dtype(dtype).requires_grad_();
            let wt = t(&w, &ws).to_dtype(dtype).requires_grad_();
            let bt = t(&b, &[c.cout]).to_dtype(dtype).requires_grad_();
            let y = xt.conv_transpose2d(&wt, Some(&bt), params).unwrap();
            let g = y.backward_with(&t(&gy, &ys).to_dtype(dtype)).unwrap();
            let what = |k: &str| format!("{c:?} op {op:?} {dtype} {k}");
            assert_close(&y, &t(&want[0], &ys), tol, tol, &what("out"));
            assert_close(
                g.get(&xt).unwrap(),
                &t(&want[1], &xs),
                tol,
                tol,
                &what("grad_input"),
            );
            assert_close(
                g.get(&wt).unwrap(),
                &t(&want[2], &ws),
                tol,
                tol,
                &what("grad_weight"),
            );
            assert_close(
                g.get(&bt).unwrap(),
                &t(&want[3], &[c.cout]),
                tol,
                tol,
                &what("grad_bias"),
            );
        }
    }
}

#[test]
fn conv_transpose2d_is_the_adjoint_of_conv2d() {
    let mut rng = Generator::new(10);
    for c in configs() {
        let (oh, ow) = c.out();
        let (xs, ws, ys) = (
            [c.n, c.cin, c.h, c.w],
            [c.cout, c.cin / c.g, c.k.0, c.k.1],
            [c.n, c.cout, oh, ow],
        );
        let x = Tensor::randn_with(&mut rng, &xs, DType::F64);
        let w = Tensor::randn_with(&mut rng, &ws, DType::F64);
        let y = Tensor::randn_with(&mut rng, &ys, DType::F64);
        // The output padding that maps back onto exactly H x W.
        let rem =
            |i: usize, k: usize, s: usize, p: usize, d: usize| (i + 2 * p - d * (k - 1) - 1) % s;
        let params = ConvTranspose2dParams {
            stride: c.s,
            padding: c.p,
            output_padding: (
                rem(c.h, c.k.0, c.s.0, c.p.0, c.d.0),
                rem(c.w, c.k.1, c.s.1, c.p.1, c.d.1),
            ),
            dilation: c.d,
            groups: c.g,
        };
        let cx = x.conv2d(&w, None, c.params()).unwrap();
        let ty = y.conv_transpose2d(&w, None, params).unwrap();
        assert_eq!(ty.shape(), &xs, "{c:?}");
        let lhs = cx.mul(&y).unwrap().sum_all().unwrap().item().unwrap();
        let rhs = x.mul(&ty).unwrap().sum_all().unwrap().item().unwrap();
        assert!(
            (lhs - rhs).abs() <= 1e-10 * lhs.abs().max(1.0),
            "{c:?}: {lhs} vs {rhs}"
        );
    }
}
