//! Attention: scaled dot-product attention, multi-head attention, additive (Bahdanau)
//! attention, the Transformer encoder and positional encodings. One concept per file.

mod additive;
mod encoder;
mod encoder_layer;
mod fused;
mod multihead;
mod positional;
mod sdpa;

pub use additive::AdditiveAttention;
pub use encoder::TransformerEncoder;
pub use encoder_layer::{
    EncoderMasks, FeedForwardActivation, TransformerEncoderLayer, TransformerEncoderLayerConfig,
};
pub use multihead::{MhaOptions, MultiheadAttention, MultiheadAttentionConfig};
pub use positional::{LearnedPositionalEncoding, SinusoidalPositionalEncoding};
pub use sdpa::{scaled_dot_product_attention, AttentionOutput, SdpaOptions};
