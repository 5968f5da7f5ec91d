//! The model of a config: layers in order, each input size inferred from the previous
//! layer's output, every shape problem reported by layer index before anything trains.

use crate::config::{
    Activation, LayerSpec, ModelConfig, PositionKind, RecurrentSpec, SequenceOutput,
};
use crate::sequence::{PoolSequence, SequenceLayer};
use strata_core::{AvgPool2dParams, MaxPool1dParams, MaxPool2dParams};
use strata_nn::{
    AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, ConvOptions, Dropout, Embedding, Flatten,
    Forward, LayerNorm, LeakyReLU, LearnedPositionalEncoding, Linear, MaxPool1d, MaxPool2d,
    MultiheadAttention, MultiheadAttentionConfig, PReLU, RNNNonlinearity, ReLU, RecurrentConfig,
    Sequential, SiLU, Sigmoid, SinusoidalPositionalEncoding, Swish, Tanh, TransformerEncoder,
    TransformerEncoderLayerConfig, ELU, GELU, GRU, LSTM, RNN,
};

/// Refused before allocation: more parameters in one layer than this (2³² f32 values are
/// 16 GiB).
const MAX_LAYER_PARAMS: usize = 1 << 32;

/// A layer that does not fit, named by its index and type.
#[derive(Debug, thiserror::Error)]
#[error("model.layers[{index}] ({kind}): {reason}")]
pub struct BuildError {
    pub index: usize,
    pub kind: &'static str,
    pub reason: String,
}

/// The model and the shape of one output (without the batch dimension). `classes` is the
/// data's number of classes (or vocabulary size): the default `out` of a linear layer and
/// `vocab` of an embedding.
pub fn build(
    model: &ModelConfig,
    classes: Option<usize>,
) -> Result<(Sequential, Vec<usize>), BuildError> {
    let mut net = Sequential::new();
    let mut shape = model.input.clone();
    for (index, spec) in model.layers.iter().enumerate() {
        let fail = |reason: String| BuildError {
            index,
            kind: spec.kind(),
            reason,
        };
        let (layers, out) = layer(spec, &shape, classes).map_err(fail)?;
        for l in layers {
            net = net.push_boxed(l);
        }
        shape = out;
    }
    Ok((net, shape))
}

type Built = (Vec<Box<dyn Forward>>, Vec<usize>);

fn layer(spec: &LayerSpec, shape: &[usize], classes: Option<usize>) -> Result<Built, String> {
    let err = |e: strata_nn::Error| e.to_string();
    let classes = |what: &str| {
        classes.ok_or_else(|| {
            format!("give `{what}`: this data has no number of classes to take it from")
        })
    };
    match spec {
        LayerSpec::Linear {
            out,
            activation,
            bias,
        } => {
            let [.., inp] = shape else {
                return Err("needs an input with at least one dimension".into());
            };
            if shape.len() > 2 {
                return Err(format!(
                    "expects a flat input [features], got {shape:?}; add {{ type = \"flatten\" }} before it"
                ));
            }
            let out = match out {
                Some(n) => *n,
                None => classes("out")?,
            };
            check_size(&[*inp, out])?;
            let mut layers: Vec<Box<dyn Forward>> =
                vec![Box::new(Linear::with_bias(*inp, out, *bias).map_err(err)?)];
            let mut out_shape = shape.to_vec();
            if let Some(last) = out_shape.last_mut() {
                *last = out;
            }
            if let Some(a) = activation {
                layers.push(activation_layer(*a, &out_shape)?);
            }
            Ok((layers, out_shape))
        }
        LayerSpec::Conv2d {
            out,
            kernel,
            stride,
            padding,
            activation,
        } => {
            let &[c, h, w] = shape else {
                return Err(format!(
                    "expects an image [channels, height, width], got {shape:?}"
                ));
            };
            check_size(&[*out, c, *kernel, *kernel])?;
            let (oh, ow) = (
                window_out(h, *kernel, *stride, *padding)?,
                window_out(w, *kernel, *stride, *padding)?,
            );
            let options = ConvOptions::new().stride(*stride).padding(*padding);
            let mut layers: Vec<Box<dyn Forward>> = vec![Box::new(
                Conv2d::with_options(c, *out, *kernel, options).map_err(err)?,
            )];
            let out_shape = vec![*out, oh, ow];
            if let Some(a) = activation {
                layers.push(activation_layer(*a, &out_shape)?);
            }
            Ok((layers, out_shape))
        }
        LayerSpec::Conv1d {
            out,
            kernel,
            stride,
            padding,
            activation,
        } => {
            let &[c, l] = shape else {
                return Err(format!(
                    "expects a signal [channels, length], got {shape:?}"
                ));
            };
            check_size(&[*out, c, *kernel])?;
            let ol = window_out(l, *kernel, *stride, *padding)?;
            let options = ConvOptions::new().stride(*stride).padding(*padding);
            let mut layers: Vec<Box<dyn Forward>> = vec![Box::new(
                Conv1d::with_options(c, *out, *kernel, options).map_err(err)?,
            )];
            let out_shape = vec![*out, ol];
            if let Some(a) = activation {
                layers.push(activation_layer(*a, &out_shape)?);
            }
            Ok((layers, out_shape))
        }
        LayerSpec::MaxPool1d { kernel, stride } => {
            let &[c, l] = shape else {
                return Err(format!(
                    "expects a signal [channels, length], got {shape:?}"
                ));
            };
            let s = stride.unwrap_or(*kernel);
            let p = MaxPool1dParams {
                stride: s,
                ..MaxPool1dParams::new(*kernel)
            };
            Ok((
                vec![Box::new(MaxPool1d::with_params(p).map_err(err)?)],
                vec![c, window_out(l, *kernel, s, 0)?],
            ))
        }
        LayerSpec::Embedding { dim, vocab } => {
            let &[steps] = shape else {
                return Err(format!(
                    "expects token ids [time], got {shape:?}; an embedding comes first"
                ));
            };
            let vocab = match vocab {
                Some(v) => *v,
                None => classes("vocab")?,
            };
            check_size(&[vocab, *dim])?;
            Ok((
                vec![Box::new(Embedding::new(vocab, *dim).map_err(err)?)],
                vec![steps, *dim],
            ))
        }
        LayerSpec::PositionalEncoding { kind, dropout } => {
            let &[steps, d] = shape else {
                return Err(format!(
                    "expects a sequence [time, features], got {shape:?}"
                ));
            };
            let layer: Box<dyn Forward> = match kind {
                PositionKind::Sinusoidal => Box::new(
                    SinusoidalPositionalEncoding::new(d, steps, *dropout, true).map_err(err)?,
                ),
                PositionKind::Learned => {
                    Box::new(LearnedPositionalEncoding::new(d, steps, *dropout, true).map_err(err)?)
                }
            };
            Ok((vec![layer], shape.to_vec()))
        }
        LayerSpec::Attention { heads, dropout } => {
            let &[_, d] = shape else {
                return Err(format!(
                    "expects a sequence [time, features], got {shape:?}"
                ));
            };
            check_heads(d, *heads)?;
            check_size(&[4, d, d])?;
            let config = MultiheadAttentionConfig {
                dropout: *dropout,
                batch_first: true,
                ..MultiheadAttentionConfig::default()
            };
            Ok((
                vec![Box::new(
                    MultiheadAttention::with_config(d, *heads, config).map_err(err)?,
                )],
                shape.to_vec(),
            ))
        }
        LayerSpec::TransformerEncoder {
            heads,
            ff,
            layers,
            dropout,
            norm_first,
        } => {
            let &[_, d] = shape else {
                return Err(format!(
                    "expects a sequence [time, features], got {shape:?}"
                ));
            };
            check_heads(d, *heads)?;
            let ff = ff.unwrap_or(4 * d);
            check_size(&[*layers, 4 * d + 2 * ff, d])?;
            let config = TransformerEncoderLayerConfig {
                dim_feedforward: ff,
                dropout: *dropout,
                batch_first: true,
                norm_first: *norm_first,
                ..TransformerEncoderLayerConfig::default()
            };
            let norm = match norm_first {
                true => Some(LayerNorm::new(&[d]).map_err(err)?),
                false => None,
            };
            Ok((
                vec![Box::new(
                    TransformerEncoder::new(d, *heads, *layers, config, norm).map_err(err)?,
                )],
                shape.to_vec(),
            ))
        }
        LayerSpec::PoolSequence { mode } => {
            let &[_, f] = shape else {
                return Err(format!(
                    "expects a sequence [time, features], got {shape:?}"
                ));
            };
            Ok((vec![Box::new(PoolSequence::new(*mode))], vec![f]))
        }
        LayerSpec::MaxPool2d { kernel, stride } | LayerSpec::AvgPool2d { kernel, stride } => {
            let &[c, h, w] = shape else {
                return Err(format!(
                    "expects an image [channels, height, width], got {shape:?}"
                ));
            };
            let s = stride.unwrap_or(*kernel);
            let out_shape = vec![
                c,
                window_out(h, *kernel, s, 0)?,
                window_out(w, *kernel, s, 0)?,
            ];
            let layer: Box<dyn Forward> = if matches!(spec, LayerSpec::MaxPool2d { .. }) {
                let p = MaxPool2dParams {
                    stride: (s, s),
                    ..MaxPool2dParams::new(*kernel)
                };
                Box::new(MaxPool2d::with_params(p).map_err(err)?)
            } else {
                let p = AvgPool2dParams {
                    stride: (s, s),
                    ..AvgPool2dParams::new(*kernel)
                };
                Box::new(AvgPool2d::with_params(p).map_err(err)?)
            };
            Ok((vec![layer], out_shape))
        }
        LayerSpec::Flatten => Ok((vec![Box::new(Flatten::new())], vec![shape.iter().product()])),
        LayerSpec::Dropout { p } => Ok((
            vec![Box::new(Dropout::new(*p).map_err(err)?)],
            shape.to_vec(),
        )),
        LayerSpec::BatchNorm => {
            let layer: Box<dyn Forward> = match shape {
                [f] => Box::new(BatchNorm1d::new(*f).map_err(err)?),
                [c, _, _] => Box::new(BatchNorm2d::new(*c).map_err(err)?),
                _ => {
                    return Err(format!(
                        "expects [features] or [channels, height, width], got {shape:?}"
                    ))
                }
            };
            Ok((vec![layer], shape.to_vec()))
        }
        LayerSpec::LayerNorm => {
            let last = *shape
                .last()
                .ok_or("needs an input with at least one dimension")?;
            Ok((
                vec![Box::new(LayerNorm::new(&[last]).map_err(err)?)],
                shape.to_vec(),
            ))
        }
        LayerSpec::Activation { name } => {
            Ok((vec![activation_layer(*name, shape)?], shape.to_vec()))
        }
        LayerSpec::Rnn(r) | LayerSpec::Lstm(r) | LayerSpec::Gru(r) => {
            let RecurrentSpec {
                hidden,
                layers,
                dropout,
                output,
                stateful,
            } = r;
            let &[steps, features] = shape else {
                return Err(format!(
                    "expects a sequence [time, features], got {shape:?}"
                ));
            };
            if *hidden == 0 || *layers == 0 {
                return Err("hidden and layers must be at least 1".into());
            }
            if !(0.0..1.0).contains(dropout) {
                return Err(format!("dropout must be in [0, 1), got {dropout}"));
            }
            check_size(&[4, *hidden, features + *hidden])?;
            let config = RecurrentConfig {
                num_layers: *layers,
                batch_first: true,
                dropout: *dropout,
                ..RecurrentConfig::default()
            };
            let last = *output == SequenceOutput::Last;
            let (f, h) = (features, *hidden);
            let layer: Box<dyn Forward> = match spec {
                LayerSpec::Rnn { .. } => Box::new(SequenceLayer::new(
                    RNN::with_config(f, h, RNNNonlinearity::Tanh, config).map_err(err)?,
                    last,
                    *stateful,
                )),
                LayerSpec::Lstm { .. } => Box::new(SequenceLayer::new(
                    LSTM::with_config(f, h, config).map_err(err)?,
                    last,
                    *stateful,
                )),
                _ => Box::new(SequenceLayer::new(
                    GRU::with_config(f, h, config).map_err(err)?,
                    last,
                    *stateful,
                )),
            };
            let out = if last { vec![h] } else { vec![steps, h] };
            Ok((vec![layer], out))
        }
    }
}

/// An activation module; PReLU learns one slope per feature or channel.
fn activation_layer(a: Activation, shape: &[usize]) -> Result<Box<dyn Forward>, String> {
    Ok(match a {
        Activation::Relu => Box::new(ReLU::new()),
        Activation::LeakyRelu => Box::new(LeakyReLU::default()),
        Activation::Elu => Box::new(ELU::default()),
        Activation::Gelu => Box::new(GELU::new()),
        Activation::Silu => Box::new(SiLU::new()),
        Activation::Swish => Box::new(Swish::new()),
        Activation::Sigmoid => Box::new(Sigmoid::new()),
        Activation::Tanh => Box::new(Tanh::new()),
        Activation::Prelu => {
            Box::new(PReLU::new(shape.first().copied().unwrap_or(1)).map_err(|e| e.to_string())?)
        }
    })
}

/// The output size of a window sliding over `n` positions.
fn window_out(n: usize, kernel: usize, stride: usize, padding: usize) -> Result<usize, String> {
    let padded = n + 2 * padding;
    if stride == 0 {
        return Err("stride must be at least 1".into());
    }
    if kernel > padded {
        return Err(format!(
            "kernel {kernel} is larger than its input ({n} plus padding {padding} on each side)"
        ));
    }
    Ok((padded - kernel) / stride + 1)
}

/// Attention splits the features evenly among its heads.
fn check_heads(features: usize, heads: usize) -> Result<(), String> {
    if heads == 0 || !features.is_multiple_of(heads) {
        return Err(format!(
            "{features} features cannot be split evenly among {heads} heads"
        ));
    }
    Ok(())
}

/// Refuses layers too large to allocate before anything is allocated.
fn check_size(dims: &[usize]) -> Result<(), String> {
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match count {
        Some(n) if n <= MAX_LAYER_PARAMS => Ok(()),
        _ => Err(format!(
            "{} weights are too many to allocate (at most {MAX_LAYER_PARAMS} per layer)",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" × ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use strata_nn::ModuleExt;

    fn model(layers: &str, input: &str) -> Result<(Sequential, Vec<usize>), BuildError> {
        // (`Sequential` has no `Debug`: callers match on the result instead of unwrap_err.)
        let text = format!(
            "[data]\ndataset = \"mnist\"\npath = \"x\"\n[model]\ninput = {input}\nlayers = [{layers}]\n"
        );
        build(&parse(&text, "c.toml", &[]).unwrap().model, Some(10))
    }

    #[test]
    fn sizes_are_inferred_through_convolutions_and_flatten() {
        let (net, out) = model(
            r#"{ type = "conv2d", out = 8, kernel = 3, padding = 1, activation = "relu" },
               { type = "max_pool2d", kernel = 2 }, { type = "batch_norm" }, { type = "flatten" },
               { type = "linear", out = 10 }"#,
            "[1, 28, 28]",
        )
        .unwrap();
        assert_eq!(out, vec![10]);
        let x = strata_core::Tensor::zeros(&[2, 1, 28, 28]);
        assert_eq!(net.forward(&x).unwrap().shape(), &[2, 10]);
        // conv 8·1·9 + 8, batch norm 8 + 8, linear 8·14·14·10 + 10.
        assert_eq!(net.num_parameters(), 80 + 16 + 1568 * 10 + 10);
    }

    #[test]
    fn recurrent_layers_pass_on_the_last_step_or_the_sequence() {
        let (net, out) = model(
            r#"{ type = "lstm", hidden = 6, output = "sequence" }, { type = "gru", hidden = 5, layers = 2 },
               { type = "linear", out = 1 }"#,
            "[7, 3]",
        )
        .unwrap();
        assert_eq!(out, vec![1]);
        let x = strata_core::Tensor::zeros(&[2, 7, 3]);
        assert_eq!(net.forward(&x).unwrap().shape(), &[2, 1]);
        let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "0.weight_ih_l0");
        assert!(names.contains(&"1.weight_hh_l1".to_string()), "{names:?}");
        // LSTM: 4·6·(3 + 6) + 2·4·6; GRU: 3·5·(6 + 5) + 2·3·5 and 3·5·(5 + 5) + 2·3·5; 5 + 1.
        assert_eq!(net.num_parameters(), 264 + 195 + 180 + 6);
        let e = model(r#"{ type = "gru", hidden = 4 }"#, "[784]")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("model.layers[0] (gru): expects a sequence [time, features]"),
            "{e}"
        );
    }

    #[test]
    fn sequence_models_embed_attend_and_pool() {
        // Token ids [12] -> [12, 16] -> attention -> encoder -> mean over time -> 10 classes.
        let (net, out) = model(
            r#"{ type = "embedding", dim = 16, vocab = 30 }, { type = "positional_encoding" },
               { type = "attention", heads = 4 },
               { type = "transformer_encoder", heads = 2, ff = 32, layers = 2, dropout = 0.0 },
               { type = "pool_sequence", mode = "mean" }, { type = "linear" }"#,
            "[12]",
        )
        .unwrap();
        assert_eq!(out, vec![10]);
        let ids = strata_core::Tensor::zeros_dtype(&[3, 12], strata_core::DType::I64);
        assert_eq!(net.forward(&ids).unwrap().shape(), &[3, 10]);
        // Embedding 30·16; attention 4·16·16 + 4·16; two encoder layers of attention,
        // 16·32 + 32 + 32·16 + 16 and two norms; linear 16·10 + 10.
        let encoder_layer = 4 * 16 * 16 + 4 * 16 + (16 * 32 + 32) + (32 * 16 + 16) + 2 * 32;
        assert_eq!(
            net.num_parameters(),
            480 + (4 * 256 + 64) + 2 * encoder_layer + 170
        );
        // A linear layer over a sequence applies at every step; `out` defaults to classes.
        let (net, out) = model(
            r#"{ type = "embedding", dim = 8 }, { type = "lstm", hidden = 6, output = "sequence" },
               { type = "linear" }"#,
            "[5]",
        )
        .unwrap();
        assert_eq!(out, vec![5, 10]);
        let ids = strata_core::Tensor::zeros_dtype(&[2, 5], strata_core::DType::I64);
        assert_eq!(net.forward(&ids).unwrap().shape(), &[2, 5, 10]);
        let (net, out) = model(
            r#"{ type = "conv1d", out = 4, kernel = 3, padding = 1, activation = "relu" },
               { type = "max_pool1d", kernel = 2 }, { type = "flatten" }, { type = "linear", out = 2 }"#,
            "[2, 9]",
        )
        .unwrap();
        assert_eq!(out, vec![2]);
        assert_eq!(
            net.forward(&strata_core::Tensor::zeros(&[1, 2, 9]))
                .unwrap()
                .shape(),
            &[1, 2]
        );
        let e = model(
            r#"{ type = "embedding", dim = 6 }, { type = "attention", heads = 4 }"#,
            "[5]",
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_string(),
            "model.layers[1] (attention): 6 features cannot be split evenly among 4 heads"
        );
        let e = model(r#"{ type = "embedding", dim = 6 }"#, "[1, 28, 28]")
            .err()
            .unwrap();
        assert!(e.to_string().contains("expects token ids [time]"), "{e}");
    }

    #[test]
    fn shape_problems_name_the_layer() {
        let e = model(
            r#"{ type = "conv2d", out = 4, kernel = 3 }, { type = "linear", out = 10 }"#,
            "[1, 8, 8]",
        )
        .err()
        .unwrap();
        assert_eq!(e.to_string(), "model.layers[1] (linear): expects a flat input [features], got [4, 6, 6]; add { type = \"flatten\" } before it");
        let e = model(r#"{ type = "conv2d", out = 4, kernel = 3 }"#, "[784]")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .starts_with("model.layers[0] (conv2d): expects an image"),
            "{e}"
        );
        let e = model(r#"{ type = "max_pool2d", kernel = 9 }"#, "[1, 8, 8]")
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("kernel 9 is larger than its input"),
            "{e}"
        );
        let e = model(r#"{ type = "linear", out = 1000000000000 }"#, "[784]")
            .err()
            .unwrap();
        assert!(
            e.to_string()
                .contains("784 × 1000000000000 weights are too many to allocate"),
            "{e}"
        );
    }
}
