//! Pooling against direct loop implementations written here, over strides, padding,
//! dilation, ceil mode, rectangular windows, 1-D pools and inputs large enough to run in
//! parallel.

use strata_core::{
    AvgPool1dParams, AvgPool2dParams, DType, Generator, MaxPool1dParams, MaxPool2dParams, Tensor,
};
use strata_testutil::assert_close;

/// One spatial dim of a pooling window: kernel, stride, padding, dilation.
#[derive(Clone, Copy, Debug)]
struct Axis {
    k: usize,
    s: usize,
    p: usize,
    d: usize,
}

impl Axis {
    /// PyTorch's output size, written out independently of the library.
    fn out(&self, size: usize, ceil: bool) -> usize {
        let num = (size + 2 * self.p - self.d * (self.k - 1) - 1) as f64 / self.s as f64;
        let mut o = if ceil { num.ceil() } else { num.floor() } as usize + 1;
        if ceil && (o - 1) * self.s >= size + self.p {
            o -= 1;
        }
        o
    }
    /// Input coordinates of the taps of output `o` (inside the input or not).
    fn taps(&self, o: usize) -> impl Iterator<Item = isize> + '_ {
        (0..self.k).map(move |k| (o * self.s + k * self.d) as isize - self.p as isize)
    }
}

/// Max pooling of `planes` planes of `h × w` by definition: values and input gradient.
fn naive_max(
    x: &[f64],
    gy: &[f64],
    (h, w): (usize, usize),
    ay: Axis,
    ax: Axis,
    ceil: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (oh, ow) = (ay.out(h, ceil), ax.out(w, ceil));
    let planes = x.len() / (h * w);
    let mut y = vec![0.0; planes * oh * ow];
    let mut gx = vec![0.0; x.len()];
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best = (f64::NEG_INFINITY, usize::MAX);
                for iy in ay.taps(oy) {
                    for ix in ax.taps(ox) {
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            let i = p * h * w + iy as usize * w + ix as usize;
                            if x[i] > best.0 || best.1 == usize::MAX {
                                best = (x[i], i);
                            }
                        }
                    }
                }
                let o = (p * oh + oy) * ow + ox;
                y[o] = best.0;
                gx[best.1] += gy[o];
            }
        }
    }
    (y, gx)
}

/// Average pooling by definition (PyTorch's divisor rules): values and input gradient.
fn naive_avg(
    x: &[f64],
    gy: &[f64],
    (h, w): (usize, usize),
    (ay, ax): (Axis, Axis),
    ceil: bool,
    include_pad: bool,
) -> (Vec<f64>, Vec<f64>) {
    let (oh, ow) = (ay.out(h, ceil), ax.out(w, ceil));
    let planes = x.len() / (h * w);
    let mut y = vec![0.0; planes * oh * ow];
    let mut gx = vec![0.0; x.len()];
    for p in 0..planes {
        for oy in 0..oh {
            for ox in 0..ow {
                // Positions inside the padded input count when counting padding.
                let (mut inside, mut padded, mut sum) = (vec![], 0usize, 0.0);
                for iy in ay.taps(oy) {
                    for ix in ax.taps(ox) {
                        let in_pad = iy < (h + ay.p) as isize && ix < (w + ax.p) as isize;
                        padded += in_pad as usize;
                        if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                            let i = p * h * w + iy as usize * w + ix as usize;
                            inside.push(i);
                            sum += x[i];
                        }
                    }
                }
                let div = if include_pad { padded } else { inside.len() } as f64;
                let o = (p * oh + oy) * ow + ox;
                y[o] = sum / div;
                for i in inside {
                    gx[i] += gy[o] / div;
                }
            }
        }
    }
    (y, gx)
}

fn t(v: &[f64], shape: &[usize]) -> Tensor {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

fn axis(k: usize, s: usize, p: usize, d: usize) -> Axis {
    Axis { k, s, p, d }
}

/// (input shape, row axis, column axis, ceil mode)
fn cases() -> Vec<([usize; 4], Axis, Axis, bool)> {
    vec![
        ([16, 8, 28, 28], axis(2, 2, 0, 1), axis(2, 2, 0, 1), false), // parallel over planes
        ([2, 3, 7, 7], axis(3, 2, 1, 1), axis(3, 2, 1, 1), false),
        ([2, 3, 7, 7], axis(3, 2, 1, 1), axis(3, 2, 1, 1), true),
        ([1, 2, 9, 8], axis(3, 1, 1, 2), axis(2, 3, 1, 1), false),
        ([2, 2, 5, 5], axis(2, 2, 1, 1), axis(2, 2, 1, 1), true),
        ([1, 3, 6, 10], axis(4, 3, 2, 1), axis(1, 2, 0, 1), true),
        ([3, 1, 8, 5], axis(2, 1, 0, 1), axis(5, 1, 2, 1), false),
    ]
}

#[test]
fn max_pool2d_matches_the_definition() {
    let mut rng = Generator::new(11);
    for (shape, ay, ax, ceil) in cases() {
        let x = Tensor::randn_with(&mut rng, &shape, DType::F64).requires_grad_();
        let (h, w) = (shape[2], shape[3]);
        let ys = [shape[0], shape[1], ay.out(h, ceil), ax.out(w, ceil)];
        let gy = Tensor::randn_with(&mut rng, &ys, DType::F64);
        let (want_y, want_gx) = naive_max(
            &x.to_vec::<f64>().unwrap(),
            &gy.to_vec::<f64>().unwrap(),
            (h, w),
            ay,
            ax,
            ceil,
        );
        let params = MaxPool2dParams {
            kernel: (ay.k, ax.k),
            stride: (ay.s, ax.s),
            padding: (ay.p, ax.p),
            dilation: (ay.d, ax.d),
            ceil_mode: ceil,
        };
        let y = x.max_pool2d(params).unwrap();
        let g = y.backward_with(&gy).unwrap();
        let what = format!("{shape:?} {params:?}");
        assert_close(&y, &t(&want_y, &ys), 0.0, 0.0, &what);
        assert_close(
            g.get(&x).unwrap(),
            &t(&want_gx, &shape),
            1e-12,
            1e-12,
            &what,
        );
    }
}

#[test]
fn avg_pool2d_matches_the_definition() {
    let mut rng = Generator::new(12);
    for (shape, ay, ax, ceil) in cases() {
        if ay.d != 1 || ax.d != 1 {
            continue; // average pooling has no dilation
        }
        for include_pad in [true, false] {
            let x = Tensor::randn_with(&mut rng, &shape, DType::F64).requires_grad_();
            let (h, w) = (shape[2], shape[3]);
            let ys = [shape[0], shape[1], ay.out(h, ceil), ax.out(w, ceil)];
            let gy = Tensor::randn_with(&mut rng, &ys, DType::F64);
            let (want_y, want_gx) = naive_avg(
                &x.to_vec::<f64>().unwrap(),
                &gy.to_vec::<f64>().unwrap(),
                (h, w),
                (ay, ax),
                ceil,
                include_pad,
            );
            let params = AvgPool2dParams {
                kernel: (ay.k, ax.k),
                stride: (ay.s, ax.s),
                padding: (ay.p, ax.p),
                ceil_mode: ceil,
                count_include_pad: include_pad,
            };
            let y = x.avg_pool2d(params).unwrap();
            let g = y.backward_with(&gy).unwrap();
            let what = format!("{shape:?} {params:?}");
            assert_close(&y, &t(&want_y, &ys), 1e-12, 1e-12, &what);
            assert_close(
                g.get(&x).unwrap(),
                &t(&want_gx, &shape),
                1e-12,
                1e-12,
                &what,
            );
        }
    }
}

#[test]
fn pools_1d_match_the_definition() {
    let mut rng = Generator::new(13);
    for (n, c, l, a, ceil) in [
        (2, 3, 11, axis(3, 2, 1, 1), false),
        (2, 3, 11, axis(3, 2, 1, 2), true),
        (4, 2, 16, axis(4, 4, 2, 1), true),
    ] {
        let none = axis(1, 1, 0, 1);
        let x = Tensor::randn_with(&mut rng, &[n, c, l], DType::F64).requires_grad_();
        let ol = a.out(l, ceil);
        let gy = Tensor::randn_with(&mut rng, &[n, c, ol], DType::F64);
        let (xv, gv) = (x.to_vec::<f64>().unwrap(), gy.to_vec::<f64>().unwrap());
        let (want_y, want_gx) = naive_max(&xv, &gv, (1, l), none, a, ceil);
        let params = MaxPool1dParams {
            kernel: a.k,
            stride: a.s,
            padding: a.p,
            dilation: a.d,
            ceil_mode: ceil,
        };
        let y = x.max_pool1d(params).unwrap();
        let g = y.backward_with(&gy).unwrap();
        assert_close(&y, &t(&want_y, &[n, c, ol]), 0.0, 0.0, "max_pool1d");
        assert_close(
            g.get(&x).unwrap(),
            &t(&want_gx, &[n, c, l]),
            1e-12,
            1e-12,
            "max_pool1d grad",
        );
        if a.d == 1 {
            let (want_y, want_gx) = naive_avg(&xv, &gv, (1, l), (none, a), ceil, false);
            let params = AvgPool1dParams {
                kernel: a.k,
                stride: a.s,
                padding: a.p,
                ceil_mode: ceil,
                count_include_pad: false,
            };
            let y = x.avg_pool1d(params).unwrap();
            let g = y.backward_with(&gy).unwrap();
            assert_close(&y, &t(&want_y, &[n, c, ol]), 1e-12, 1e-12, "avg_pool1d");
            assert_close(
                g.get(&x).unwrap(),
                &t(&want_gx, &[n, c, l]),
                1e-12,
                1e-12,
                "avg_pool1d grad",
            );
        }
    }
}

#[test]
fn adaptive_avg_pool2d_matches_the_definition() {
    let mut rng = Generator::new(14);
    for (shape, oh, ow) in [
        ([2, 3, 7, 5], 3, 2),
        ([1, 2, 4, 9], 4, 4),
        ([2, 1, 3, 3], 5, 7),
        ([8, 16, 14, 14], 4, 3),
    ] {
        let x = Tensor::randn_with(&mut rng, &shape, DType::F64).requires_grad_();
        let (h, w) = (shape[2], shape[3]);
        let gy = Tensor::randn_with(&mut rng, &[shape[0], shape[1], oh, ow], DType::F64);
        let (xv, gv) = (x.to_vec::<f64>().unwrap(), gy.to_vec::<f64>().unwrap());
        let bin = |i: usize, n: usize, size: usize| {
            let start = (i * size) as f64 / n as f64;
            let end = ((i + 1) * size) as f64 / n as f64;
            start.floor() as usize..end.ceil() as usize
        };
        let mut want_y = vec![0.0; gv.len()];
        let mut want_gx = vec![0.0; xv.len()];
        for p in 0..shape[0] * shape[1] {
            for i in 0..oh {
                for j in 0..ow {
                    let (rows, cols) = (bin(i, oh, h), bin(j, ow, w));
                    let count = (rows.len() * cols.len()) as f64;
                    let o = (p * oh + i) * ow + j;
                    for r in rows.clone() {
                        for c in cols.clone() {
                            want_y[o] += xv[p * h * w + r * w + c] / count;
                            want_gx[p * h * w + r * w + c] += gv[o] / count;
                        }
                    }
                }
            }
        }
        let y = x.adaptive_avg_pool2d(oh, ow).unwrap();
        let g = y.backward_with(&gy).unwrap();
        let what = format!("{shape:?} -> {oh}x{ow}");
        assert_close(
            &y,
            &t(&want_y, &[shape[0], shape[1], oh, ow]),
            1e-12,
            1e-12,
            &what,
        );
        assert_close(
            g.get(&x).unwrap(),
            &t(&want_gx, &shape),
            1e-12,
            1e-12,
            &what,
        );
    }
}

#[test]
fn f32_pools_agree_with_f64() {
    let x = Tensor::randn_with(&mut Generator::new(15), &[4, 8, 13, 13], DType::F64);
    let p = MaxPool2dParams {
        stride: (2, 2),
        padding: (1, 1),
        ..MaxPool2dParams::new(3)
    };
    let a = AvgPool2dParams {
        stride: (2, 2),
        padding: (1, 1),
        ..AvgPool2dParams::new(3)
    };
    let x32 = x.to_dtype(DType::F32);
    assert_close(
        &x32.max_pool2d(p).unwrap(),
        &x.max_pool2d(p).unwrap(),
        1e-6,
        1e-6,
        "max",
    );
    assert_close(
        &x32.avg_pool2d(a).unwrap(),
        &x.avg_pool2d(a).unwrap(),
        1e-5,
        1e-6,
        "avg",
    );
}

/// The plain 2x2 / stride 2 window has its own kernel: check it on many ties (values
/// rounded to a few levels), odd sizes (the last row/column dropped), ceil mode on even
/// sizes, and infinities.
#[test]
fn plain_2x2_max_pool_matches_the_definition_with_ties() {
    let mut rng = Generator::new(5);
    for (shape, ceil) in [
        ([2, 3, 7, 9], false),
        ([1, 2, 6, 8], true),
        ([3, 1, 2, 5], false),
    ] {
        let raw = Tensor::randn_with(&mut rng, &shape, DType::F64)
            .to_vec::<f64>()
            .unwrap();
        let mut v: Vec<f64> = raw.iter().map(|x| (x * 1.5).round()).collect();
        v[1] = f64::NEG_INFINITY;
        v[2] = f64::INFINITY;
        let x = t(&v, &shape).requires_grad_();
        let (h, w) = (shape[2], shape[3]);
        let a = axis(2, 2, 0, 1);
        let ys = [shape[0], shape[1], a.out(h, ceil), a.out(w, ceil)];
        let gy = Tensor::randn_with(&mut rng, &ys, DType::F64);
        let (want_y, want_gx) = naive_max(&v, &gy.to_vec::<f64>().unwrap(), (h, w), a, a, ceil);
        let params = MaxPool2dParams {
            ceil_mode: ceil,
            ..MaxPool2dParams::new(2)
        };
        let y = x.max_pool2d(params).unwrap();
        let g = y.backward_with(&gy).unwrap();
        let what = format!("{shape:?} ceil {ceil}");
        assert_close(&y, &t(&want_y, &ys), 0.0, 0.0, &what);
        assert_close(g.get(&x).unwrap(), &t(&want_gx, &shape), 0.0, 0.0, &what);
    }
}
