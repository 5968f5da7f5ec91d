//! Attention: scaled dot-product attention, multi-head attention, additive (Bahdanau)
//! attention, the Transformer encoder and positional encodings. One concept per file.

mod multihead;
mod sdpa;

pub use multihead::{MhaOptions, MultiheadAttention, MultiheadAttentionConfig};
pub use sdpa::{scaled_dot_product_attention, AttentionOutput, SdpaOptions};
