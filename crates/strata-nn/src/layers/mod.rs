//! Layers. One file per layer (or family), each with its tests.

mod activation;
pub mod attention;
mod batch_norm;
mod batch_norm_blocks;
mod batch_norm_op;
mod batch_norm_sync;
pub mod conv;
mod dropout;
mod embedding;
mod flatten;
mod identity;
mod lanes;
mod layer_norm;
mod layer_norm_op;
mod linear;
mod prelu;
mod recurrent;
mod swish;

pub use activation::{
    GELUTanh, Hardtanh, LeakyReLU, Mish, ReLU, SiLU, Sigmoid, Softplus, Softsign, Tanh, ELU, GELU,
    SELU,
};
pub use attention::*;
pub use batch_norm::{BatchNorm1d, BatchNorm2d, BatchNormConfig};
pub use batch_norm_sync::BatchStatsSync;
pub use conv::*;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use flatten::Flatten;
pub use identity::Identity;
pub use layer_norm::{LayerNorm, LayerNormConfig};
pub use linear::Linear;
pub use prelu::PReLU;
// Everything `recurrent/mod.rs` exports, so a new recurrent layer registers there alone.
pub use recurrent::*;
pub use swish::Swish;
