//! Layers. One file per layer (or family), each with its tests.

mod activation;
mod dropout;
mod linear;

pub use activation::{
    GELUTanh, Hardtanh, LeakyReLU, Mish, ReLU, SiLU, Sigmoid, Softplus, Softsign, Tanh, ELU, GELU,
    SELU,
};
pub use dropout::Dropout;
pub use linear::Linear;
