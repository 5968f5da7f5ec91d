//! The one error type of strata-core.
//!
//! Every mistake a user can make (a wrong shape, a bad dimension, the wrong dtype, an index
//! out of range) comes back as an [`Error`] whose message names the op, the shapes involved
//! and what was expected. Library code never panics on user input.

use crate::DType;
use std::fmt;

/// A shape, printed the way PyTorch prints it: `[32, 784]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeDisplay(pub Vec<usize>);

impl fmt::Display for ShapeDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<&[usize]> for ShapeDisplay {
    fn from(s: &[usize]) -> Self {
        ShapeDisplay(s.to_vec())
    }
}

/// Errors returned by tensor operations.
///
/// ```
/// use strata_core::{Tensor, Error};
/// let a = Tensor::zeros(&[32, 784]);
/// let b = Tensor::zeros(&[512, 256]);
/// let err = a.matmul(&b).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "matmul: cannot multiply [32, 784] by [512, 256]: inner dimensions 784 and 512 differ"
/// );
/// assert!(matches!(err, Error::MatmulShape { .. }));
/// ```
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes cannot be broadcast against each other.
    #[error("{op}: shapes {lhs} and {rhs} cannot be broadcast together: dimension {dim} is {lhs_size} vs {rhs_size} (sizes must match or one of them be 1)")]
    Broadcast {
        op: &'static str,
        lhs: ShapeDisplay,
        rhs: ShapeDisplay,
        dim: usize,
        lhs_size: usize,
        rhs_size: usize,
    },

    /// The inner dimensions of a matrix product differ, or an operand has too few dims.
    #[error("matmul: cannot multiply {lhs} by {rhs}: {reason}")]
    MatmulShape {
        lhs: ShapeDisplay,
        rhs: ShapeDisplay,
        reason: String,
    },

    /// A shape is not what the op requires.
    #[error("{op}: got shape {got}, {expected}")]
    Shape {
        op: &'static str,
        got: ShapeDisplay,
        expected: String,
    },

    /// Tensors that must agree in shape do not.
    #[error("{op}: shapes {lhs} and {rhs} differ{detail}")]
    ShapeMismatch {
        op: &'static str,
        lhs: ShapeDisplay,
        rhs: ShapeDisplay,
        detail: String,
    },

    /// A dimension index is out of range for a tensor of the given rank.
    #[error("{op}: dimension {dim} is out of range for a tensor with {ndim} dimension(s) (valid: {valid})")]
    DimOutOfRange {
        op: &'static str,
        dim: i64,
        ndim: usize,
        valid: String,
    },

    /// An element index is out of range.
    #[error("{op}: index {index} is out of range for dimension {dim} of size {size}")]
    IndexOutOfRange {
        op: &'static str,
        index: i64,
        dim: usize,
        size: usize,
    },

    /// The op does not support the tensor's dtype, or two dtypes disagree.
    #[error("{op}: expected dtype {expected}, got {got}")]
    DType {
        op: &'static str,
        expected: String,
        got: DType,
    },

    /// Two operands have different dtypes.
    #[error("{op}: dtypes {lhs} and {rhs} differ; convert one with `to_dtype` first")]
    DTypeMismatch {
        op: &'static str,
        lhs: DType,
        rhs: DType,
    },

    /// The number of elements given does not match the shape.
    #[error("{op}: {len} element(s) cannot fill shape {shape} ({numel} elements)")]
    ElementCount {
        op: &'static str,
        len: usize,
        shape: ShapeDisplay,
        numel: usize,
    },

    /// A shape whose element count overflows, or whose buffer cannot be allocated.
    #[error("{op}: shape {shape} is too large: {reason}")]
    TooLarge {
        op: &'static str,
        shape: ShapeDisplay,
        reason: String,
    },

    /// An argument's value is outside what the op accepts.
    #[error("{op}: invalid argument `{arg}`: {reason}")]
    InvalidArgument {
        op: &'static str,
        arg: &'static str,
        reason: String,
    },

    /// `backward()` was called in a state where it cannot run.
    #[error("backward: {0}")]
    Backward(String),

    /// A backward rule produced a gradient of the wrong shape (a bug in an op, not user input).
    #[error("backward of {op}: gradient for input {input} has shape {got} but the input has shape {expected}")]
    GradientShape {
        op: &'static str,
        input: usize,
        got: ShapeDisplay,
        expected: ShapeDisplay,
    },

    /// `gradcheck` found analytic and numeric gradients that disagree.
    #[error("gradcheck: input {input}, element {index}: analytic {analytic:.10e} vs numeric {numeric:.10e} (|diff| {diff:.3e} > atol {atol:.1e} + rtol {rtol:.1e} * |numeric|)")]
    Gradcheck {
        input: usize,
        index: usize,
        analytic: f64,
        numeric: f64,
        diff: f64,
        atol: f64,
        rtol: f64,
    },
}

/// Result alias used throughout strata-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn shape(op: &'static str, got: &[usize], expected: impl Into<String>) -> Self {
        Error::Shape {
            op,
            got: got.into(),
            expected: expected.into(),
        }
    }

    pub(crate) fn mismatch(
        op: &'static str,
        lhs: &[usize],
        rhs: &[usize],
        detail: impl Into<String>,
    ) -> Self {
        Error::ShapeMismatch {
            op,
            lhs: lhs.into(),
            rhs: rhs.into(),
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(op: &'static str, arg: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            op,
            arg,
            reason: reason.into(),
        }
    }

    pub(crate) fn dtype(op: &'static str, expected: impl Into<String>, got: DType) -> Self {
        Error::DType {
            op,
            expected: expected.into(),
            got,
        }
    }
}
