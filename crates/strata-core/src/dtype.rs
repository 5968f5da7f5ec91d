//! Element types: the [`DType`] tag and the [`Element`] / [`FloatElement`] traits that let one
//! generic kernel serve every dtype.

use crate::storage::StorageData;
use std::fmt;

/// The element type of a tensor.
///
/// `F32` is the default for floating-point data; `F64` serves gradient checks and
/// high-precision references; `I64` holds labels and indices; `Bool` holds masks produced by
/// comparisons.
///
/// ```
/// use strata_core::{DType, Tensor};
/// let t = Tensor::from_vec(vec![1i64, 2, 3], &[3]).unwrap();
/// assert_eq!(t.dtype(), DType::I64);
/// assert_eq!(t.to_dtype(DType::F32).dtype(), DType::F32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F64,
    I64,
    Bool,
}

impl DType {
    /// True for `F32` and `F64`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::Bool => 1,
        }
    }

    /// Lower-case name, as printed in error messages and `Display`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A type that can be stored in a tensor.
pub trait Element: Copy + Send + Sync + PartialOrd + fmt::Debug + Default + 'static {
    /// The dtype tag of this type.
    const DTYPE: DType;
    /// Converts from f64 (truncating towards zero for integers; non-zero is `true` for bool).
    fn from_f64(v: f64) -> Self;
    /// Converts to f64 (`true` is 1.0).
    fn to_f64(self) -> f64;
    #[doc(hidden)]
    fn slice(data: &StorageData) -> Option<&[Self]>;
    #[doc(hidden)]
    fn slice_mut(data: &mut StorageData) -> Option<&mut [Self]>;
    #[doc(hidden)]
    fn into_storage(v: Vec<Self>) -> StorageData;
}

/// A floating-point element type (`f32` or `f64`): the types autodiff works on.
pub trait FloatElement:
    Element
    + num_traits::Float
    + num_traits::FloatConst
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
{
    /// Machine epsilon.
    const EPS: Self;
    /// The error function.
    fn erf(self) -> Self;
    /// `e^x` for bulk kernels: vectorisable for f32 (relative error below 1e-7, tiny
    /// results flush to 0), the standard `exp` for f64.
    #[doc(hidden)]
    fn exp_fast(self) -> Self {
        self.exp()
    }
}

macro_rules! element {
    ($t:ty, $variant:ident, $from:expr, $to:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                ($from)(v)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                ($to)(self)
            }
            fn slice(data: &StorageData) -> Option<&[Self]> {
                match data {
                    StorageData::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(data: &mut StorageData) -> Option<&mut [Self]> {
                match data {
                    StorageData::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn into_storage(v: Vec<Self>) -> StorageData {
                StorageData::$variant(v)
            }
        }
    };
}

element!(f32, F32, |v: f64| v as f32, |v: f32| v as f64);
element!(f64, F64, |v: f64| v, |v: f64| v);
element!(i64, I64, |v: f64| v as i64, |v: i64| v as f64);
element!(bool, Bool, |v: f64| v != 0.0, |v: bool| if v {
    1.0
} else {
    0.0
});

impl FloatElement for f32 {
    const EPS: Self = f32::EPSILON;
    fn erf(self) -> Self {
        libm::erff(self)
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        crate::kernels::exp::exp_f32(self)
    }
}
impl FloatElement for f64 {
    const EPS: Self = f64::EPSILON;
    fn erf(self) -> Self {
        libm::erf(self)
    }
}
