//! What every loss needs: input checks with messages that name the loss, the gradient
//! arriving at a loss output, broadcast weights, and parallel loops over rows.

use super::Reduction;
use crate::Result;
use strata_core::kernels::parallel::for_each_part_mut;
use strata_core::{broadcast_shape, Element, FloatElement, Tensor};

/// Work (elements touched) below which a kernel stays on the calling thread.
const PAR_MIN_WORK: usize = 1 << 15;

fn tensor_error(e: strata_core::Error) -> crate::Error {
    crate::Error::Tensor(e)
}

/// Errors unless `t` is f32 or f64.
pub(crate) fn expect_float(op: &'static str, what: &str, t: &Tensor) -> Result<()> {
    if t.dtype().is_float() {
        return Ok(());
    }
    Err(tensor_error(strata_core::Error::DType {
        op,
        expected: format!("f32 or f64 for {what}"),
        got: t.dtype(),
    }))
}

/// Errors unless `input` and `target` have the same dtype.
pub(crate) fn expect_same_dtype(op: &'static str, input: &Tensor, target: &Tensor) -> Result<()> {
    if input.dtype() == target.dtype() {
        return Ok(());
    }
    Err(tensor_error(strata_core::Error::DTypeMismatch {
        op,
        lhs: input.dtype(),
        rhs: target.dtype(),
    }))
}

/// Errors unless `input` and `target` have the same shape.
pub(crate) fn expect_same_shape(op: &'static str, input: &Tensor, target: &Tensor) -> Result<()> {
    if input.shape() == target.shape() {
        return Ok(());
    }
    Err(tensor_error(strata_core::Error::ShapeMismatch {
        op,
        lhs: input.shape().into(),
        rhs: target.shape().into(),
        detail: ": the input and the target must have the same shape".into(),
    }))
}

/// A shape error: `got` is the offending shape, `expected` says what was wanted
/// ("`op`: got shape [5], expected ...").
pub(crate) fn shape_error(op: &'static str, got: &[usize], expected: String) -> crate::Error {
    tensor_error(strata_core::Error::Shape {
        op,
        got: got.into(),
        expected: format!("expected {expected}"),
    })
}

/// An invalid value in an argument tensor (a class index out of range, a probability
/// outside [0, 1]).
pub(crate) fn value_error(op: &'static str, arg: &'static str, reason: String) -> crate::Error {
    tensor_error(strata_core::Error::InvalidArgument { op, arg, reason })
}

/// A strata-nn error as the strata-core error a backward rule returns. Loss errors are
/// tensor errors underneath, so this only unwraps.
pub(crate) fn to_core(e: crate::Error) -> strata_core::Error {
    match e {
        crate::Error::Tensor(e) => e,
        other => strata_core::Error::Backward(other.to_string()),
    }
}

/// The elements of `t` in row-major order, converted to `T` (a copy; any layout).
pub(crate) fn values_as<T: FloatElement>(t: &Tensor) -> strata_core::Result<Vec<T>> {
    t.detach().to_dtype(T::DTYPE).to_vec::<T>()
}

/// The gradient arriving at a loss output, folded with the reduction: one factor for a
/// reduced loss (`g / denominator` for a mean), one per element for `Reduction::None`.
pub(crate) enum OutGrad<T> {
    Scalar(T),
    PerElement(Vec<T>),
}

impl<T: FloatElement> OutGrad<T> {
    pub(crate) fn new(
        grad: &Tensor,
        reduction: Reduction,
        denominator: f64,
    ) -> strata_core::Result<Self> {
        Ok(match reduction {
            Reduction::Mean => OutGrad::Scalar(T::from_f64(grad.item()? / denominator)),
            Reduction::Sum => OutGrad::Scalar(T::from_f64(grad.item()?)),
            Reduction::None => OutGrad::PerElement(values_as::<T>(grad)?),
        })
    }

    /// The factor of element (or row) `i`.
    #[inline(always)]
    pub(crate) fn at(&self, i: usize) -> T {
        match self {
            OutGrad::Scalar(g) => *g,
            OutGrad::PerElement(g) => g[i],
        }
    }
}

/// A weight broadcast against an input shape, stored compactly: element `i` of the input
/// gets `values[i % values.len()]`. A weight like `[C]` against `[N, C]` keeps its `C`
/// values; other broadcasts are expanded to the full shape.
pub(crate) struct Broadcast<T> {
    values: Vec<T>,
}

impl<T: FloatElement> Broadcast<T> {
    /// Checks that `weight` broadcasts to `shape` (without enlarging it) and collects it.
    pub(crate) fn new(
        op: &'static str,
        arg: &str,
        weight: &Tensor,
        shape: &[usize],
    ) -> Result<Self> {
        expect_float(op, arg, weight)?;
        let fits = broadcast_shape(op, weight.shape(), shape).is_ok_and(|s| s == shape);
        if !fits {
            return Err(shape_error(
                op,
                weight.shape(),
                format!("{arg} broadcastable to the input shape {shape:?}"),
            ));
        }
        let w = weight.detach();
        let trimmed: &[usize] = {
            let lead = w.shape().iter().take_while(|&&d| d == 1).count();
            &w.shape()[lead..]
        };
        let values = if shape.ends_with(trimmed) {
            values_as::<T>(&w)?
        } else {
            values_as::<T>(&w.expand(shape)?)?
        };
        Ok(Broadcast { values })
    }

    #[inline(always)]
    pub(crate) fn at(&self, i: usize) -> T {
        self.values[i % self.values.len()]
    }
}

/// Calls `f(first_item, chunk)` on chunks of `out` made of whole items of `item_len`
/// elements, in parallel when `items * cost_per_item` is large enough to pay for it.
pub(crate) fn par_chunks<T: Send>(
    out: &mut [T],
    item_len: usize,
    cost_per_item: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let item_len = item_len.max(1);
    let items = out.len() / item_len;
    let Some(per_chunk) = items_per_task(items, cost_per_item) else {
        f(0, out);
        return;
    };
    for_each_part_mut(out, per_chunk * item_len, |k, chunk| {
        f(k * per_chunk, chunk)
    });
}

/// `out[i] = f(i, a[i], b[i])` for every `i` (equal lengths), in parallel above the size
/// threshold. The slices are walked by iterators, without bounds checks, so a loss that
/// ignores `i` compiles to a vector loop.
pub(crate) fn par_map2<T: Copy + Send + Sync>(
    out: &mut [T],
    a: &[T],
    b: &[T],
    cost_per_item: usize,
    f: impl Fn(usize, T, T) -> T + Sync,
) {
    par_chunks(out, 1, cost_per_item, |start, chunk| {
        let span = start..start + chunk.len();
        let (a, b) = (&a[span.clone()], &b[span]);
        for (k, ((o, &x), &y)) in chunk.iter_mut().zip(a).zip(b).enumerate() {
            *o = f(start + k, x, y);
        }
    });
}

/// `Σ f(i, a[i], b[i])` over equal-length slices, in f64, in parallel above the size
/// threshold; each task adds into eight independent accumulators (a single running sum
/// would be a chain of dependent additions).
pub(crate) fn par_sum2<T: Copy + Sync>(
    a: &[T],
    b: &[T],
    cost_per_item: usize,
    f: impl Fn(usize, T, T) -> f64 + Sync,
) -> f64 {
    const LANES: usize = 8;
    par_sum(a.len(), cost_per_item, |range| {
        let start = range.start;
        let (a, b) = (&a[range.clone()], &b[range]);
        let mut acc = [0.0f64; LANES];
        let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
        let done = a.len() - ca.remainder().len();
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (j, (xa, xb)) in ca.zip(cb).enumerate() {
            for (k, ((s, &x), &y)) in acc.iter_mut().zip(xa).zip(xb).enumerate() {
                *s += f(start + j * LANES + k, x, y);
            }
        }
        let rest: f64 = ra
            .iter()
            .zip(rb)
            .enumerate()
            .map(|(k, (&x, &y))| f(start + done + k, x, y))
            .sum();
        acc.iter().sum::<f64>() + rest
    })
}

/// `f(range)` summed over `0..n` split into ranges, in parallel when the work is large.
/// The partial sums are added in a fixed order, so the result does not depend on timing.
pub(crate) fn par_sum(
    n: usize,
    cost_per_item: usize,
    f: impl Fn(std::ops::Range<usize>) -> f64 + Sync,
) -> f64 {
    let Some(per_chunk) = items_per_task(n, cost_per_item) else {
        return f(0..n);
    };
    let mut partials = vec![0.0; n.div_ceil(per_chunk)];
    for_each_part_mut(&mut partials, 1, |k, slot| {
        slot[0] = f(k * per_chunk..((k + 1) * per_chunk).min(n))
    });
    partials.iter().sum()
}

/// How many items each parallel task takes, or `None` to stay serial.
fn items_per_task(items: usize, cost_per_item: usize) -> Option<usize> {
    let work = items.saturating_mul(cost_per_item.max(1));
    let threads = strata_core::num_threads();
    if threads <= 1 || items < 2 || work < PAR_MIN_WORK {
        return None;
    }
    // A few tasks per thread for balance, none smaller than half the threshold.
    let tasks = (threads * 4).min(work / (PAR_MIN_WORK / 2)).max(2);
    Some(items.div_ceil(tasks))
}

/// Runs `$body` with `$T` bound to the float type of `$dtype` (checked by the caller).
macro_rules! with_float_type {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            strata_core::DType::F64 => {
                type $T = f64;
                $body
            }
            _ => {
                type $T = f32;
                $body
            }
        }
    };
}
pub(crate) use with_float_type;

/// `T`'s value as f64 (`Element::to_f64`, spelled out because `num_traits` has one too).
#[inline(always)]
pub(crate) fn f64_of<T: Element>(v: T) -> f64 {
    Element::to_f64(v)
}
