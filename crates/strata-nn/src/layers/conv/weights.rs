//! What every convolution layer holds and checks, written once: the weight and optional
//! bias under PyTorch's names with PyTorch's default initialisation, the channel counts,
//! the checks of given weights and of the input, and the accessors
//! ([`conv_accessors!`]). A layer file keeps its options, its kernel and its forward.

use crate::{init, Error, Module, Param, Result, Visitor};
use strata_core::Tensor;

/// A convolution's parameters and channel counts.
pub(crate) struct ConvWeights {
    pub(crate) weight: Param,
    pub(crate) bias: Option<Param>,
    pub(crate) in_channels: usize,
    pub(crate) out_channels: usize,
}

/// How a layer's weight is laid out: a convolution's `[out, in / groups, *kernel]` or a
/// transposed convolution's `[in, out / groups, *kernel]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WeightLayout {
    Conv,
    Transposed,
}

impl ConvWeights {
    /// A fresh weight of `shape` and, if `bias`, a bias `[out_channels]`, both uniform in
    /// `±1/√fan_in` as PyTorch initialises them.
    pub(crate) fn fresh(
        shape: &[usize],
        out_channels: usize,
        bias: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let weight = init::default_weight(shape)?;
        let bias = if bias {
            Some(init::default_bias(&[out_channels], init::fans(shape)?.0)?)
        } else {
            None
        };
        Ok((weight, bias))
    }

    /// Given weights, checked: a non-empty weight of `rank` dims laid out as `layout`, the
    /// channel counts it implies with `groups` passed to `check_options(in, out)`, and a
    /// bias `[out]`.
    pub(crate) fn new(
        what: &'static str,
        (weight, bias): (Tensor, Option<Tensor>),
        layout: WeightLayout,
        (rank, groups): (usize, usize),
        check_options: impl FnOnce(usize, usize) -> Result<()>,
    ) -> Result<ConvWeights> {
        let ws = weight.shape();
        if ws.len() != rank || ws.contains(&0) {
            let dims = match layout {
                WeightLayout::Conv => "out, in / groups",
                WeightLayout::Transposed => "in, out / groups",
            };
            return Err(Error::config(
                what,
                format!("weight must be a non-empty {rank}-D [{dims}, *kernel], got shape {ws:?}"),
            ));
        }
        let (cin, cout) = match layout {
            WeightLayout::Conv => (ws[1] * groups, ws[0]),
            WeightLayout::Transposed => (ws[0], ws[1] * groups),
        };
        check_options(cin, cout)?;
        if let Some(b) = &bias
            && b.shape() != [cout]
        {
            return Err(Error::config(
                what,
                format!("bias must have shape [{cout}], got {:?}", b.shape()),
            ));
        }
        Ok(ConvWeights {
            weight: Param::new(weight),
            bias: bias.map(Param::new),
            in_channels: cin,
            out_channels: cout,
        })
    }

    /// Shows `weight` and `bias` under PyTorch's names.
    pub(crate) fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            visitor.param("bias", b);
        }
    }
}

/// Errors unless `input` is `[N, cin, *spatial]` or unbatched `[cin, *spatial]`
/// (`spatial` names the spatial dims, e.g. `"H, W"`).
pub(crate) fn check_input(
    layer: &dyn Module,
    input: &Tensor,
    cin: usize,
    spatial: &str,
) -> Result<()> {
    let nd = input.ndim();
    let rank = 2 + spatial.split(',').count();
    if !(nd == rank || nd == rank - 1) || input.shape()[nd + 1 - rank] != cin {
        return Err(Error::Input {
            layer: format!("{}({})", layer.type_name(), layer.extra_repr()),
            expected: format!("input [N, {cin}, {spatial}] or [{cin}, {spatial}]"),
            got: input.shape().into(),
        });
    }
    Ok(())
}

/// The accessors of a convolution layer holding its [`ConvWeights`] in a field `w` and its
/// options in `options`; `$weight` documents the weight's layout.
macro_rules! conv_accessors {
    ($layer:ty, $options:ty, $weight:literal) => {
        impl $layer {
            #[doc = concat!("The weight `", $weight, "`.")]
            pub fn weight(&self) -> &Param {
                &self.w.weight
            }

            /// The bias `[Cout]`, if any.
            pub fn bias(&self) -> Option<&Param> {
                self.w.bias.as_ref()
            }

            pub fn in_channels(&self) -> usize {
                self.w.in_channels
            }

            pub fn out_channels(&self) -> usize {
                self.w.out_channels
            }

            pub fn options(&self) -> &$options {
                &self.options
            }
        }
    };
}
pub(crate) use conv_accessors;
