//! PyTorch-style printing: nested brackets, aligned columns, summarised with `...` beyond
//! 1,000 elements, followed by the shape, dtype and grad information.

use crate::{DType, Tensor};
use std::fmt;

/// Above this many elements only the first and last `EDGE` entries of each dim are shown.
const SUMMARY_THRESHOLD: usize = 1000;
const EDGE: usize = 3;

/// How to print every number of one tensor, chosen once so columns line up.
struct NumberFormat {
    kind: Kind,
    width: usize,
}

enum Kind {
    Int,
    Bool,
    /// All values are whole numbers: `1.`, `-3.`
    WholeFloat,
    Fixed(usize),
    Scientific(usize),
}

impl NumberFormat {
    fn choose(values: &[f64], dtype: DType) -> Self {
        let kind = match dtype {
            DType::I64 => Kind::Int,
            DType::Bool => Kind::Bool,
            _ => {
                let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
                let max = finite.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let min_nonzero = finite
                    .iter()
                    .filter(|v| **v != 0.0)
                    .fold(f64::INFINITY, |m, v| m.min(v.abs()));
                if finite.iter().all(|v| v.fract() == 0.0) && max < 1e8 {
                    Kind::WholeFloat
                } else if max >= 1e8
                    || (min_nonzero < 1e-4)
                    || (max / min_nonzero > 1e3 && max > 1.0)
                {
                    Kind::Scientific(4)
                } else {
                    Kind::Fixed(4)
                }
            }
        };
        let mut f = NumberFormat { kind, width: 0 };
        f.width = values.iter().map(|&v| f.format(v).len()).max().unwrap_or(0);
        f
    }

    fn format(&self, v: f64) -> String {
        if v.is_nan() {
            return "nan".into();
        }
        if v.is_infinite() {
            return if v > 0.0 { "inf".into() } else { "-inf".into() };
        }
        match self.kind {
            Kind::Int => format!("{}", v as i64),
            Kind::Bool => (if v != 0.0 { "true" } else { "false" }).into(),
            Kind::WholeFloat => format!("{v:.0}."),
            Kind::Fixed(p) => format!("{v:.p$}"),
            Kind::Scientific(p) => format!("{v:.p$e}"),
        }
    }
}

/// Indices shown along a dim of `size`: all, or the edges with a gap marker (`None`).
fn shown(size: usize, summarise: bool) -> Vec<Option<usize>> {
    if summarise && size > 2 * EDGE {
        let mut v: Vec<Option<usize>> = (0..EDGE).map(Some).collect();
        v.push(None);
        v.extend((size - EDGE..size).map(Some));
        v
    } else {
        (0..size).map(Some).collect()
    }
}

fn write_nested(
    out: &mut String,
    values: &[f64],
    shape: &[usize],
    fmt: &NumberFormat,
    summarise: bool,
    indent: usize,
) {
    if shape.is_empty() {
        out.push_str(&format!("{:>w$}", fmt.format(values[0]), w = fmt.width));
        return;
    }
    let inner: usize = shape[1..].iter().product();
    out.push('[');
    let idx = shown(shape[0], summarise);
    for (n, i) in idx.iter().enumerate() {
        if n > 0 {
            if shape.len() == 1 {
                out.push_str(", ");
            } else {
                out.push(',');
                out.push_str(&"\n".repeat(shape.len() - 1));
                out.push_str(&" ".repeat(indent + 1));
            }
        }
        match i {
            Some(i) => write_nested(
                out,
                &values[i * inner..(i + 1) * inner],
                &shape[1..],
                fmt,
                summarise,
                indent + 1,
            ),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

impl fmt::Display for Tensor {
    /// ```
    /// use strata_core::Tensor;
    /// let t = Tensor::from_vec(vec![1.5f32, -2.0, 3.25, 4.0], &[2, 2])?;
    /// assert_eq!(
    ///     t.to_string(),
    ///     "tensor([[ 1.5000, -2.0000],\n        [ 3.2500,  4.0000]], shape=[2, 2], dtype=f32)"
    /// );
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.to_vec_f64();
        let summarise = self.numel() > SUMMARY_THRESHOLD;
        let visible: Vec<f64> = if summarise {
            // Format widths from the edges only, like PyTorch.
            values
                .iter()
                .take(EDGE * 4)
                .chain(values.iter().rev().take(EDGE * 4))
                .copied()
                .collect()
        } else {
            values.clone()
        };
        let nf = NumberFormat::choose(&visible, self.dtype());
        let mut s = String::from("tensor(");
        if self.numel() == 0 {
            s.push_str("[]");
        } else {
            write_nested(
                &mut s,
                &values,
                self.shape(),
                &nf,
                summarise,
                "tensor(".len(),
            );
        }
        s.push_str(&format!(
            ", shape={:?}, dtype={}",
            self.shape(),
            self.dtype()
        ));
        if let Some(node) = self.grad_fn() {
            s.push_str(&format!(", grad_fn=<{}>", node.name()));
        } else if self.requires_grad() {
            s.push_str(", requires_grad=true");
        }
        s.push(')');
        f.write_str(&s)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn scalars_ints_and_whole_floats() {
        assert_eq!(
            Tensor::scalar(2.0f32).to_string(),
            "tensor(2., shape=[], dtype=f32)"
        );
        let i = Tensor::from_vec(vec![1i64, -20, 3], &[3]).unwrap();
        assert_eq!(
            i.to_string(),
            "tensor([  1, -20,   3], shape=[3], dtype=i64)"
        );
        let b = Tensor::from_vec(vec![true, false], &[2]).unwrap();
        assert_eq!(
            b.to_string(),
            "tensor([ true, false], shape=[2], dtype=bool)"
        );
    }

    #[test]
    fn large_tensors_are_summarised() {
        let t = Tensor::arange(0.0, 2000.0, 1.0).unwrap();
        let s = t.to_string();
        assert!(
            s.starts_with("tensor([   0.,    1.,    2., ..., 1997., 1998., 1999.]"),
            "{s}"
        );
        assert!(s.ends_with("shape=[2000], dtype=f32)"));
    }

    #[test]
    fn grad_information_is_shown() {
        let w = Tensor::ones(&[2]).requires_grad_();
        assert!(w.to_string().ends_with("requires_grad=true)"));
        let y = w.mul_scalar(1e-6).unwrap();
        let s = y.to_string();
        assert!(
            s.contains("1.0000e-6") && s.ends_with("grad_fn=<mul_scalar>)"),
            "{s}"
        );
    }
}
