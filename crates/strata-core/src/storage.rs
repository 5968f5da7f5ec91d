//! Flat, typed element buffers shared between tensors and their views.
//!
//! A [`Storage`] sits behind an `Arc` so that views (reshape, transpose, narrow, ...) share
//! it without copying, and behind a read-write lock so that optimisers can update parameters
//! in place while other tensors read them.

use crate::DType;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The typed buffer of a storage.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub enum StorageData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
}

impl StorageData {
    pub fn dtype(&self) -> DType {
        match self {
            StorageData::F32(_) => DType::F32,
            StorageData::F64(_) => DType::F64,
            StorageData::I64(_) => DType::I64,
            StorageData::Bool(_) => DType::Bool,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            StorageData::F32(v) => v.len(),
            StorageData::F64(v) => v.len(),
            StorageData::I64(v) => v.len(),
            StorageData::Bool(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A buffer shared by a tensor and all of its views.
#[derive(Debug)]
pub(crate) struct Storage {
    data: RwLock<StorageData>,
    dtype: DType,
}

impl Storage {
    pub(crate) fn new(data: StorageData) -> Self {
        let dtype = data.dtype();
        Storage {
            data: RwLock::new(data),
            dtype,
        }
    }

    pub(crate) fn dtype(&self) -> DType {
        self.dtype
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, StorageData> {
        self.data.read()
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, StorageData> {
        self.data.write()
    }
}

impl Drop for Storage {
    fn drop(&mut self) {
        let data = std::mem::replace(self.data.get_mut(), StorageData::F32(Vec::new()));
        crate::kernels::alloc::recycle(data);
    }
}

/// Runs `$body` with `$s` bound to the typed slice of `$data`, for every dtype.
macro_rules! with_slice {
    ($data:expr, $s:ident => $body:expr) => {
        match $data {
            $crate::storage::StorageData::F32($s) => $body,
            $crate::storage::StorageData::F64($s) => $body,
            $crate::storage::StorageData::I64($s) => $body,
            $crate::storage::StorageData::Bool($s) => $body,
        }
    };
}
pub(crate) use with_slice;
