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
    /// A dense layer over the last dimension.
    Linear {
        out: usize,
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
}

/// A recurrent layer: `hidden` units, `layers` stacked, dropout between them, passing on
/// the last step or the whole sequence.
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
}

impl LayerSpec {
    /// The `type` as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Linear { .. } => "linear",
            LayerSpec::Conv2d { .. } => "conv2d",
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
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}
