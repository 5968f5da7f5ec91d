//! Tensor operations. Each file holds one family of ops with its forward kernels and its
//! backward rules side by side.

pub(crate) mod activation;
pub(crate) mod adaptive_pool;
pub(crate) mod avg_pool;
pub(crate) mod binary;
pub(crate) mod compare;
pub(crate) mod conv;
pub(crate) mod conv_gemm;
pub(crate) mod conv_op;
pub(crate) mod conv_shape;
pub(crate) mod conv_transpose;
pub(crate) mod convert;
pub(crate) mod index;
pub(crate) mod inplace;
pub(crate) mod int_scalar;
pub(crate) mod join;
pub(crate) mod linear;
pub(crate) mod matmul;
pub(crate) mod max_pool;
pub(crate) mod pad;
pub(crate) mod pool_window;
pub(crate) mod reduce;
pub(crate) mod reduce_extrema;
pub(crate) mod softmax;
pub(crate) mod unary;
pub(crate) mod variance;
pub(crate) mod view;

use crate::storage::StorageData;
use crate::{Element, Error, Result};

/// The typed slice of a storage buffer, or a dtype error naming `op`.
pub(crate) fn slice_of<'a, T: Element>(data: &'a StorageData, op: &'static str) -> Result<&'a [T]> {
    T::slice(data).ok_or_else(|| Error::dtype(op, T::DTYPE.name(), data.dtype()))
}

/// The shape seen as `(outer, size, inner)` around `dim`: the product of the dims before
/// it, its size, and the product of the dims after it (the row-major view of a dim-wise op).
pub(crate) fn around(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    let outer = shape[..dim].iter().product();
    let inner = shape[dim + 1..].iter().product();
    (outer, shape[dim], inner)
}

/// Runs `$body` with the type alias `$T` bound to `f32` or `f64` according to `$dtype`;
/// other dtypes return a dtype error naming `$op`.
macro_rules! float_dispatch {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                #[allow(unused_imports)]
                use {
                    num_traits::Float as _, num_traits::One as _, num_traits::Zero as _,
                    $crate::Element as _,
                };
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                #[allow(unused_imports)]
                use {
                    num_traits::Float as _, num_traits::One as _, num_traits::Zero as _,
                    $crate::Element as _,
                };
                type $T = f64;
                $body
            }
            other => {
                return Err($crate::Error::dtype(
                    $op,
                    "a floating-point dtype (f32 or f64)",
                    other,
                ))
            }
        }
    };
}
pub(crate) use float_dispatch;

/// Like [`float_dispatch`], also accepting `i64` (for ops that only compare or add, such as
/// `max` and `scatter_add`); `bool` returns a dtype error naming `$op`.
macro_rules! numeric_dispatch {
    ($dtype:expr, $op:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            other => {
                return Err($crate::Error::dtype(
                    $op,
                    "a numeric dtype (f32, f64 or i64)",
                    other,
                ))
            }
        }
    };
}
pub(crate) use numeric_dispatch;
