//! Convolutional layers: convolutions (1-D, 2-D, transposed), max, average, adaptive and
//! global pooling. The kernels live in `strata-core` (`ops::conv`, `ops::max_pool`, ...);
//! these layers hold the parameters, check the configuration and pick the padding.

mod adaptive_pool;
mod avg_pool;
mod conv1d;
mod conv2d;
mod conv_transpose;
mod max_pool;
mod padding;
mod size;
mod weights;
mod window;

pub use adaptive_pool::{AdaptiveAvgPool2d, GlobalAvgPool2d};
pub use avg_pool::{AvgPool1d, AvgPool2d};
pub use conv1d::Conv1d;
pub use conv2d::{Conv2d, ConvOptions};
pub use conv_transpose::{ConvTranspose1d, ConvTranspose2d, ConvTransposeOptions};
pub use max_pool::{MaxPool1d, MaxPool2d};
pub use padding::Padding;
pub use size::Size2d;
