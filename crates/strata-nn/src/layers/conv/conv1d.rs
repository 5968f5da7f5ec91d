//! `Conv1d`: a 1-D convolution layer over `[N, C, L]` inputs (PyTorch's `nn.Conv1d`).

use super::weights::{check_input, conv_accessors, ConvWeights, WeightLayout};
use super::{ConvOptions, Padding};
use crate::{hooks, Error, Forward, Module, Param, Result, Visitor};
use strata_core::{Conv1dParams, Tensor};

/// A 1-D convolution: input `[N, Cin, L]` (or unbatched `[Cin, L]`), weight
/// `[Cout, Cin / groups, k]`, bias `[Cout]`, output `[N, Cout, OL]`.
///
/// Options are [`ConvOptions`]; a 1-D layer uses the width entry of stride and dilation
/// (set them with one number), and `Padding::Explicit(p, p)` (from one number), `Valid` or
/// `Same`. Initialised like PyTorch (uniform in `±1/√(Cin / groups · k)`).
///
/// ```
/// use strata_nn::{Conv1d, ConvOptions, Forward, Padding};
/// use strata_core::Tensor;
/// let x = Tensor::randn(&[2, 4, 10]);
/// let conv = Conv1d::with_options(4, 6, 3, ConvOptions::new().stride(2).padding(1))?;
/// assert_eq!(conv.forward(&x)?.shape(), &[2, 6, 5]);
/// let same = Conv1d::with_options(4, 6, 4, ConvOptions::new().padding(Padding::Same))?;
/// assert_eq!(same.forward(&x)?.shape(), &[2, 6, 10]);
/// assert!(Conv1d::with_options(4, 6, 3, ConvOptions::new().padding((1, 2))).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct Conv1d {
    w: ConvWeights,
    kernel: usize,
    options: ConvOptions,
}

conv_accessors!(Conv1d, ConvOptions, "[Cout, Cin / groups, k]");

/// Errors unless the 1-D options are square (one number per setting).
fn check_1d(options: &ConvOptions) -> Result<()> {
    let square = |(a, b): (usize, usize)| a == b;
    let pad_ok = match options.padding {
        Padding::Explicit(a, b) => a == b,
        Padding::Valid | Padding::Same => true,
    };
    if !square(options.stride) || !square(options.dilation) || !pad_ok {
        return Err(Error::config(
            "Conv1d",
            format!(
                "a 1-D convolution takes one stride, padding and dilation each, got stride {:?}, padding {:?}, dilation {:?}",
                options.stride, options.padding, options.dilation
            ),
        ));
    }
    Ok(())
}

impl Conv1d {
    /// A convolution with PyTorch's default options.
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> Result<Conv1d> {
        Conv1d::with_options(in_channels, out_channels, kernel, ConvOptions::default())
    }

    /// A convolution with the given options, freshly initialised.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        options: ConvOptions,
    ) -> Result<Conv1d> {
        options.check("Conv1d", in_channels, out_channels)?;
        check_1d(&options)?;
        if kernel == 0 {
            return Err(Error::config(
                "Conv1d",
                "kernel size must be positive, got 0".to_string(),
            ));
        }
        let shape = [out_channels, in_channels / options.groups, kernel];
        let (weight, bias) = ConvWeights::fresh(&shape, out_channels, options.bias)?;
        Conv1d::from_weights(weight, bias, options)
    }

    /// A convolution from existing weights `[Cout, Cin / groups, k]` and an optional bias
    /// `[Cout]`; `options.bias` is ignored.
    pub fn from_weights(
        weight: Tensor,
        bias: Option<Tensor>,
        options: ConvOptions,
    ) -> Result<Conv1d> {
        let kernel = match weight.shape() {
            [_, _, k] => *k,
            _ => 0, // refused by the check below
        };
        let has_bias = bias.is_some();
        let w = ConvWeights::new(
            "Conv1d",
            (weight, bias),
            WeightLayout::Conv,
            (3, options.groups),
            |cin, cout| {
                options.check("Conv1d", cin, cout)?;
                check_1d(&options)
            },
        )?;
        Ok(Conv1d {
            w,
            kernel,
            options: ConvOptions {
                bias: has_bias,
                ..options
            },
        })
    }

    /// The kernel size `k`.
    pub fn kernel_size(&self) -> usize {
        self.kernel
    }
}

impl Module for Conv1d {
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.w.visit(visitor);
    }

    fn extra_repr(&self) -> String {
        let o = &self.options;
        format!(
            "{}, {}, kernel_size={}, stride={}, padding={:?}, dilation={}, groups={}, bias={}",
            self.w.in_channels,
            self.w.out_channels,
            self.kernel,
            o.stride.1,
            o.padding,
            o.dilation.1,
            o.groups,
            o.bias
        )
    }
}

impl Forward for Conv1d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(self, input, self.w.in_channels, "L")?;
        let o = &self.options;
        let mut params = Conv1dParams {
            stride: o.stride.1,
            padding: 0,
            dilation: o.dilation.1,
            groups: o.groups,
        };
        let padded;
        let x = match o.padding {
            Padding::Valid => input,
            Padding::Explicit(_, p) => {
                params.padding = p;
                input
            }
            Padding::Same => {
                let (before, after) = Padding::same_split(self.kernel, o.dilation.1);
                if before == after {
                    params.padding = before;
                    input
                } else {
                    // Odd total: the extra zero goes at the end.
                    padded = input.pad(&[(before, after)], 0.0)?;
                    &padded
                }
            }
        };
        let y = x.conv1d(&self.w.weight, self.w.bias.as_deref(), params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
