//! The layers a config can list, one table each: `{ type = "linear", out = 128,
//! activation = "relu" }`.

use serde::{Deserialize, Serialize};

/// An activation, as a layer of its own or after a linear or convolution layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    LeakyRelu,
    Elu,
    Gelu,
    Silu,
    Swish,
    Sigmoid,
    Tanh,
    Prelu,
}

/// What a recurrent layer passes on: its last step's output or the whole sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SequenceOutput {
    #[default]
    Last,
    Sequence,
}

/// One layer. Sizes of inputs are inferred from the previous layer's output.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    /// A dense layer over the last dimension (of `[features]`, or of every step of
    /// `[time, features]`). `out` defaults to the data's number of classes (or vocabulary).
    Linear {
        out: Option<usize>,
        activation: Option<Activation>,
        #[serde(default = "yes")]
        bias: bool,
    },
    /// A 2-D convolution over `[C, H, W]`.
    Conv2d {
        out: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: usize,
        activation: Option<Activation>,
    },
    /// A 1-D convolution over `[C, L]`.
    Conv1d {
        out: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: usize,
        activation: Option<Activation>,
    },
    MaxPool1d {
        kernel: usize,
        stride: Option<usize>,
    },
    MaxPool2d {
        kernel: usize,
        stride: Option<usize>,
    },
    AvgPool2d {
        kernel: usize,
        stride: Option<usize>,
    },
    /// Everything but the batch dimension into one.
    Flatten,
    Dropout {
        p: f64,
    },
    /// Batch normalisation over features (`[F]`) or channels (`[C, H, W]`).
    BatchNorm,
    /// Layer normalisation over the last dimension.
    LayerNorm,
    Activation {
        name: Activation,
    },
    /// Recurrent layers over `[time, features]` (batch first), see [`RecurrentSpec`].
    Rnn(RecurrentSpec),
    Lstm(RecurrentSpec),
    Gru(RecurrentSpec),
    /// Token ids `[time]` to vectors `[time, dim]`; `vocab` defaults to the data's.
    Embedding {
        dim: usize,
        vocab: Option<usize>,
    },
    /// Adds position information to `[time, features]`.
    PositionalEncoding {
        #[serde(default)]
        kind: PositionKind,
        #[serde(default)]
        dropout: f64,
    },
    /// Multi-head self-attention over `[time, features]` (no mask).
    Attention {
        heads: usize,
        #[serde(default)]
        dropout: f64,
    },
    /// A stack of Transformer encoder layers over `[time, features]`.
    TransformerEncoder {
        heads: usize,
        /// The feed-forward width (default 4 × features).
        ff: Option<usize>,
        #[serde(default = "one")]
        layers: usize,
        #[serde(default = "tenth")]
        dropout: f64,
        /// Pre-norm layers (LayerNorm before attention; a final LayerNorm is added).
        #[serde(default)]
        norm_first: bool,
    },
    /// `[time, features]` to `[features]`: the mean, maximum or last step over time.
    PoolSequence {
        #[serde(default)]
        mode: PoolMode,
    },
}

/// How positions are encoded: fixed sinusoids (Vaswani et al.) or a learned table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionKind {
    #[default]
    Sinusoidal,
    Learned,
}

/// How [`LayerSpec::PoolSequence`] reduces the time dimension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    #[default]
    Mean,
    Max,
    Last,
}

/// A recurrent layer: `hidden` units, `layers` stacked, dropout between them, passing on
/// the last step or the whole sequence. A `stateful` layer starts each training batch from
/// the state the previous one ended in, detached (truncated backpropagation through time
/// over a text read as contiguous streams).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecurrentSpec {
    pub hidden: usize,
    #[serde(default = "one")]
    pub layers: usize,
    #[serde(default)]
    pub dropout: f64,
    #[serde(default)]
    pub output: SequenceOutput,
    #[serde(default)]
    pub stateful: bool,
}

impl LayerSpec {
    /// The `type` as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Linear { .. } => "linear",
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::Conv1d { .. } => "conv1d",
            LayerSpec::MaxPool1d { .. } => "max_pool1d",
            LayerSpec::MaxPool2d { .. } => "max_pool2d",
            LayerSpec::AvgPool2d { .. } => "avg_pool2d",
            LayerSpec::Flatten => "flatten",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::BatchNorm => "batch_norm",
            LayerSpec::LayerNorm => "layer_norm",
            LayerSpec::Activation { .. } => "activation",
            LayerSpec::Rnn { .. } => "rnn",
            LayerSpec::Lstm { .. } => "lstm",
            LayerSpec::Gru { .. } => "gru",
            LayerSpec::Embedding { .. } => "embedding",
            LayerSpec::PositionalEncoding { .. } => "positional_encoding",
            LayerSpec::Attention { .. } => "attention",
            LayerSpec::TransformerEncoder { .. } => "transformer_encoder",
            LayerSpec::PoolSequence { .. } => "pool_sequence",
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
fn tenth() -> f64 {
    0.1
}
