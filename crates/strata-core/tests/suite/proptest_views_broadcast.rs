//! Property tests: strided views, broadcasting, reductions and `cat` against a naive
//! reference written here (row-major `Vec<f64>` plus index arithmetic, one element at a
//! time). Shapes have rank 0 to 4 and sizes 0 to 4 (size-1 and empty dims included); data
//! are small whole numbers, so sums and products are exact and results compare exactly.

use proptest::prelude::*;
use strata_core::Tensor;

// ------------------------------------------------------------------ the naive reference

/// A row-major n-d array.
#[derive(Clone, Debug)]
struct Nd {
    shape: Vec<usize>,
    data: Vec<f64>,
}

/// The multi-index of row-major position `flat`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    idx
}

impl Nd {
    /// Whole numbers in -9..=9 from a seed (a 64-bit LCG), so tests need no data strategy.
    fn from_seed(shape: &[usize], seed: u64) -> Nd {
        let n: usize = shape.iter().product();
        let mut s = seed
            .wrapping_mul(2862933555777941757)
            .wrapping_add(3037000493);
        let data = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) % 19) as f64 - 9.0
            })
            .collect();
        Nd {
            shape: shape.to_vec(),
            data,
        }
    }

    fn tensor(&self) -> Tensor {
        Tensor::from_vec(self.data.clone(), &self.shape).unwrap()
    }

    fn at(&self, idx: &[usize]) -> f64 {
        let mut flat = 0;
        for (d, &i) in idx.iter().enumerate() {
            assert!(i < self.shape[d]);
            flat = flat * self.shape[d] + i;
        }
        self.data[flat]
    }

    /// A new array of `shape` whose element at `idx` is `self.at(src(idx))`.
    fn view(&self, shape: Vec<usize>, src: impl Fn(&[usize]) -> Vec<usize>) -> Nd {
        let n: usize = shape.iter().product();
        let data = (0..n).map(|f| self.at(&src(&unravel(f, &shape)))).collect();
        Nd { shape, data }
    }

    fn permute(&self, perm: &[usize]) -> Nd {
        let shape = perm.iter().map(|&p| self.shape[p]).collect();
        self.view(shape, |idx| {
            let mut src = vec![0; idx.len()];
            for (i, &p) in perm.iter().enumerate() {
                src[p] = idx[i];
            }
            src
        })
    }

    fn slice(&self, dim: usize, start: usize, end: usize, step: usize) -> Nd {
        let mut shape = self.shape.clone();
        shape[dim] = (end - start).div_ceil(step);
        self.view(shape, |idx| {
            let mut src = idx.to_vec();
            src[dim] = start + idx[dim] * step;
            src
        })
    }

    /// Broadcast to `shape` (NumPy rules: align from the back, size-1 dims repeat).
    fn expand(&self, shape: &[usize]) -> Nd {
        let lead = shape.len() - self.shape.len();
        self.view(shape.to_vec(), |idx| {
            (0..self.shape.len())
                .map(|d| if self.shape[d] == 1 { 0 } else { idx[lead + d] })
                .collect()
        })
    }

    fn unsqueeze(&self, dim: usize) -> Nd {
        let mut shape = self.shape.clone();
        shape.insert(dim, 1);
        self.view(shape, |idx| {
            let mut src = idx.to_vec();
            src.remove(dim);
            src
        })
    }
}

/// A permutation of `0..n` from a seed.
fn permutation(n: usize, mut seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        p.swap(i, (seed >> 33) as usize % (i + 1));
    }
    p
}

fn broadcast(a: &[usize], b: &[usize]) -> Vec<usize> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let get = |s: &[usize]| {
                if i + s.len() >= n {
                    s[i + s.len() - n]
                } else {
                    1
                }
            };
            let (x, y) = (get(a), get(b));
            if x == 1 {
                y
            } else {
                x
            }
        })
        .collect()
}

// ------------------------------------------------------------------ random views

/// A view op with raw random parameters, interpreted against the current shape.
#[derive(Clone, Debug)]
enum ViewOp {
    Transpose(usize, usize),
    Permute(u64),
    Narrow(usize, usize, usize),
    Slice(usize, usize, usize, usize),
    Expand(usize, usize),
    ExpandLeading(usize),
    Unsqueeze(usize),
}

impl ViewOp {
    /// The op applied to the tensor and to the reference (unchanged when it does not apply).
    fn apply(&self, t: Tensor, r: Nd) -> (Tensor, Nd) {
        let n = r.shape.len();
        if n == 0 && !matches!(self, ViewOp::ExpandLeading(_) | ViewOp::Unsqueeze(_)) {
            return (t, r);
        }
        match *self {
            ViewOp::Transpose(a, b) => {
                let (a, b) = (a % n, b % n);
                let mut perm: Vec<usize> = (0..n).collect();
                perm.swap(a, b);
                (t.transpose(a, b).unwrap(), r.permute(&perm))
            }
            ViewOp::Permute(seed) => {
                let perm = permutation(n, seed);
                (t.permute(&perm).unwrap(), r.permute(&perm))
            }
            ViewOp::Narrow(d, s, l) => {
                let d = d % n;
                let size = r.shape[d];
                let start = s % (size + 1);
                let len = l % (size - start + 1);
                (
                    t.narrow(d, start, len).unwrap(),
                    r.slice(d, start, start + len, 1),
                )
            }
            ViewOp::Slice(d, s, e, step) => {
                let d = d % n;
                let size = r.shape[d];
                let start = s % (size + 1);
                let end = start + e % (size - start + 1);
                (
                    t.slice(d, start, end, step).unwrap(),
                    r.slice(d, start, end, step),
                )
            }
            ViewOp::Expand(d, size) => {
                let d = d % n;
                if r.shape[d] != 1 {
                    return (t, r);
                }
                let mut shape = r.shape.clone();
                shape[d] = size;
                (t.expand(&shape).unwrap(), r.expand(&shape))
            }
            ViewOp::ExpandLeading(size) if n < 4 => {
                let mut shape = vec![size];
                shape.extend_from_slice(&r.shape);
                (t.expand(&shape).unwrap(), r.expand(&shape))
            }
            ViewOp::Unsqueeze(d) if n < 5 => {
                let d = d % (n + 1);
                (t.unsqueeze(d).unwrap(), r.unsqueeze(d))
            }
            _ => (t, r),
        }
    }
}

fn view_op() -> impl Strategy<Value = ViewOp> {
    prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| ViewOp::Transpose(a, b)),
        any::<u64>().prop_map(ViewOp::Permute),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(d, s, l)| ViewOp::Narrow(d, s, l)),
        (any::<usize>(), any::<usize>(), any::<usize>(), 1usize..4)
            .prop_map(|(d, s, e, st)| ViewOp::Slice(d, s, e, st)),
        (any::<usize>(), 0usize..4).prop_map(|(d, s)| ViewOp::Expand(d, s)),
        (0usize..4).prop_map(ViewOp::ExpandLeading),
        any::<usize>().prop_map(ViewOp::Unsqueeze),
    ]
}

/// A size: mostly 2..=4, sometimes 1 (broadcastable) or 0 (empty).
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 2 => Just(1usize), 6 => 2usize..5]
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(size(), 0..=4)
}

/// A tensor after a random sequence of views, with its reference.
fn viewed() -> impl Strategy<Value = (Tensor, Nd)> {
    (
        shape(),
        any::<u64>(),
        prop::collection::vec(view_op(), 0..5),
    )
        .prop_map(|(shape, seed, ops)| {
            let r = Nd::from_seed(&shape, seed);
            ops.iter()
                .fold((r.tensor(), r), |(t, r), op| op.apply(t, r))
        })
}

/// A tensor of exactly `shape`, built in one of several strided ways, with its reference.
fn make(shape: &[usize], maker: u8, seed: u64) -> (Tensor, Nd) {
    let n = shape.len();
    match maker % 5 {
        // Transposed: the reversed shape, permuted back.
        1 if n > 1 => {
            let rev: Vec<usize> = (0..n).rev().collect();
            let base_shape: Vec<usize> = shape.iter().rev().copied().collect();
            let base = Nd::from_seed(&base_shape, seed);
            (base.tensor().permute(&rev).unwrap(), base.permute(&rev))
        }
        // An interior block of a larger tensor (an offset and gaps between rows).
        2 if n > 0 => {
            let big: Vec<usize> = shape.iter().map(|s| s + 2).collect();
            let (mut t, mut r) = (
                Nd::from_seed(&big, seed).tensor(),
                Nd::from_seed(&big, seed),
            );
            for (d, &s) in shape.iter().enumerate() {
                t = t.narrow(d, 1, s).unwrap();
                r = r.slice(d, 1, 1 + s, 1);
            }
            (t, r)
        }
        // Every other element along the first dim.
        3 if n > 0 => {
            let mut big = shape.to_vec();
            big[0] = 2 * shape[0] + 1;
            let base = Nd::from_seed(&big, seed);
            let end = 1 + 2 * shape[0];
            (
                base.tensor().slice(0, 1, end, 2).unwrap(),
                base.slice(0, 1, end, 2),
            )
        }
        // A size-1 dim expanded (stride 0).
        4 if n > 0 => {
            let mut small = shape.to_vec();
            small[0] = 1;
            let base = Nd::from_seed(&small, seed);
            (base.tensor().expand(shape).unwrap(), base.expand(shape))
        }
        _ => {
            let r = Nd::from_seed(shape, seed);
            (r.tensor(), r)
        }
    }
}

/// The shape of one operand broadcasting to `out`: a suffix of it, some dims set to 1.
fn operand_shape(out: &[usize], drop: usize, ones: u8) -> Vec<usize> {
    let keep = out.len() - drop % (out.len() + 1);
    out[out.len() - keep..]
        .iter()
        .enumerate()
        .map(|(i, &s)| if (ones >> i) & 1 == 1 { 1 } else { s })
        .collect()
}

fn operand() -> impl Strategy<Value = (usize, u8, u8, u64)> {
    (any::<usize>(), any::<u8>(), any::<u8>(), any::<u64>())
}

// ------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn views_read_like_the_reference((t, r) in viewed()) {
        prop_assert_eq!(t.shape(), &r.shape[..]);
        prop_assert_eq!(t.numel(), r.data.len());
        prop_assert_eq!(t.to_vec_f64(), r.data.clone());
        let c = t.contiguous();
        prop_assert!(c.is_contiguous());
        prop_assert_eq!(c.to_vec::<f64>().unwrap(), r.data.clone());
        if t.is_contiguous() {
            prop_assert!(c.shares_storage_with(&t));
        }
        let flat = t.reshape(&[t.numel()]).unwrap();
        prop_assert_eq!(flat.to_vec_f64(), r.data);
    }

    #[test]
    fn broadcast_binary_ops_on_strided_inputs(
        out in shape(),
        (da, oa, ma, sa) in operand(),
        (db, ob, mb, sb) in operand(),
    ) {
        let (a, ra) = make(&operand_shape(&out, da, oa), ma, sa);
        let (b, rb) = make(&operand_shape(&out, db, ob), mb, sb);
        let shape = broadcast(&ra.shape, &rb.shape);
        let (ea, eb) = (ra.expand(&shape), rb.expand(&shape));
        type Op = fn(&Tensor, &Tensor) -> strata_core::Result<Tensor>;
        type Case = (&'static str, Op, fn(f64, f64) -> f64);
        let ops: [Case; 3] = [
            ("add", |x, y| x.add(y), |x, y| x + y),
            ("mul", |x, y| x.mul(y), |x, y| x * y),
            ("maximum", |x, y| x.maximum(y), |x, y| x.max(y)),
        ];
        for (name, op, f) in ops {
            let got = op(&a, &b).unwrap();
            prop_assert_eq!(got.shape(), &shape[..], "{}", name);
            let want: Vec<f64> = ea.data.iter().zip(&eb.data).map(|(&x, &y)| f(x, y)).collect();
            prop_assert_eq!(got.to_vec::<f64>().unwrap(), want, "{}", name);
        }
    }

    #[test]
    fn sum_over_random_dims((t, r) in viewed(), mask in any::<u8>(), keepdim in any::<bool>()) {
        let n = r.shape.len();
        let dims: Vec<usize> = (0..n).filter(|d| (mask >> d) & 1 == 1).collect();
        let reduced: Vec<bool> = (0..n).map(|d| dims.is_empty() || dims.contains(&d)).collect();
        let got = t.sum(&dims, keepdim).unwrap();
        let out_shape: Vec<usize> = (0..n)
            .filter_map(|d| match (reduced[d], keepdim) {
                (false, _) => Some(r.shape[d]),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        prop_assert_eq!(got.shape(), &out_shape[..]);
        let mut want = vec![0.0; out_shape.iter().product()];
        for (f, &v) in r.data.iter().enumerate() {
            let idx = unravel(f, &r.shape);
            let mut o = 0;
            for d in 0..n {
                if !reduced[d] {
                    o = o * r.shape[d] + idx[d];
                }
            }
            want[o] += v;
        }
        prop_assert_eq!(got.to_vec::<f64>().unwrap(), want);
    }

    #[test]
    fn cat_of_strided_pieces(
        base in prop::collection::vec(size(), 1..=4),
        dim in any::<usize>(),
        pieces in prop::collection::vec((size(), any::<u8>(), any::<u64>()), 1..4),
    ) {
        let d = dim % base.len();
        let made: Vec<(Tensor, Nd)> = pieces
            .iter()
            .map(|&(len, maker, seed)| {
                let mut s = base.clone();
                s[d] = len;
                make(&s, maker, seed)
            })
            .collect();
        let ts: Vec<&Tensor> = made.iter().map(|(t, _)| t).collect();
        let got = Tensor::cat(&ts, d as i64 - base.len() as i64).unwrap();
        let mut shape = base.clone();
        shape[d] = made.iter().map(|(_, r)| r.shape[d]).sum();
        prop_assert_eq!(got.shape(), &shape[..]);
        // Element idx comes from the piece whose range along d holds idx[d].
        let want: Vec<f64> = (0..shape.iter().product())
            .map(|f| {
                let mut idx = unravel(f, &shape);
                for (_, r) in &made {
                    if idx[d] < r.shape[d] {
                        return r.at(&idx);
                    }
                    idx[d] -= r.shape[d];
                }
                unreachable!()
            })
            .collect();
        prop_assert_eq!(got.to_vec::<f64>().unwrap(), want);
    }
}
