//! Low-level CPU kernels shared by the ops: parallel scheduling, strided walks and
//! elementwise maps. Ops call these; users do not.

pub mod aligned;
pub(crate) mod alloc;
pub mod gemm;
#[cfg(target_arch = "x86_64")]
pub(crate) mod gemv;
pub(crate) mod im2col;
pub mod lanes;
pub(crate) mod map;
pub(crate) mod map16;
pub mod math;
#[cfg(target_arch = "x86_64")]
pub mod math16;
pub mod parallel;
#[cfg(target_arch = "x86_64")]
pub(crate) mod pool16;
pub(crate) mod reduce;
#[cfg(target_arch = "x86_64")]
pub(crate) mod sgemm;
pub(crate) mod team;
pub(crate) mod walk;
