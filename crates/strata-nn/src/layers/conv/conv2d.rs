//! `Conv2d`: a 2-D convolution layer over `[N, C, H, W]` inputs (PyTorch's `nn.Conv2d`).

use super::weights::{check_input, conv_accessors, ConvWeights, WeightLayout};
use super::{Padding, Size2d};
use crate::{hooks, Error, Forward, Module, Param, Result, Visitor};
use strata_core::{Conv2dParams, Tensor};

/// Options of a [`Conv2d`] (and [`super::Conv1d`]), with PyTorch's defaults: stride 1, no
/// padding, dilation 1, one group, with bias. Chain the setters:
///
/// ```
/// use strata_nn::{ConvOptions, Padding};
/// let o = ConvOptions::new().stride(2).padding(1).groups(4).bias(false);
/// assert_eq!((o.stride, o.padding, o.groups, o.bias), ((2, 2), Padding::Explicit(1, 1), 4, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvOptions {
    /// Step between windows, `(height, width)` (a 1-D layer uses the width).
    pub stride: (usize, usize),
    /// Zero padding.
    pub padding: Padding,
    /// Spacing between kernel taps, `(height, width)`.
    pub dilation: (usize, usize),
    /// Channel groups; `groups == in_channels` is a depthwise convolution.
    pub groups: usize,
    /// Whether the layer has a learnable bias.
    pub bias: bool,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions {
            stride: (1, 1),
            padding: Padding::Valid,
            dilation: (1, 1),
            groups: 1,
            bias: true,
        }
    }
}

impl ConvOptions {
    /// PyTorch's defaults.
    pub fn new() -> ConvOptions {
        ConvOptions::default()
    }

    pub fn stride(mut self, stride: impl Size2d) -> ConvOptions {
        self.stride = stride.into_pair();
        self
    }

    pub fn padding(mut self, padding: impl Into<Padding>) -> ConvOptions {
        self.padding = padding.into();
        self
    }

    pub fn dilation(mut self, dilation: impl Size2d) -> ConvOptions {
        self.dilation = dilation.into_pair();
        self
    }

    pub fn groups(mut self, groups: usize) -> ConvOptions {
        self.groups = groups;
        self
    }

    pub fn bias(mut self, bias: bool) -> ConvOptions {
        self.bias = bias;
        self
    }

    /// Checks the options against the channel counts; `what` names the layer in errors.
    pub(super) fn check(&self, what: &'static str, cin: usize, cout: usize) -> Result<()> {
        let fail = |reason: String| Err(Error::config(what, reason));
        if cin == 0 || cout == 0 {
            return fail(format!(
                "in_channels and out_channels must be positive, got {cin} and {cout}"
            ));
        }
        if self.groups == 0 || !cin.is_multiple_of(self.groups) || !cout.is_multiple_of(self.groups)
        {
            return fail(format!(
                "groups = {} must be positive and divide in_channels = {cin} and out_channels = {cout}",
                self.groups
            ));
        }
        let (s, d) = (self.stride, self.dilation);
        if s.0 == 0 || s.1 == 0 || d.0 == 0 || d.1 == 0 {
            return fail(format!(
                "stride {s:?} and dilation {d:?} must be at least 1"
            ));
        }
        if self.padding == Padding::Same && s != (1, 1) {
            return fail(format!(
                "padding = Same needs stride 1 (as in PyTorch), got stride {s:?}"
            ));
        }
        Ok(())
    }
}

/// A 2-D convolution: input `[N, Cin, H, W]` (or unbatched `[Cin, H, W]`), weight
/// `[Cout, Cin / groups, kH, kW]`, bias `[Cout]`, output `[N, Cout, OH, OW]`.
///
/// Initialised like PyTorch: weight and bias uniform in `±1/√fan_in` with
/// `fan_in = Cin / groups · kH · kW` (Kaiming-uniform with `a = √5`). Parameters are named
/// `weight` and `bias`, so PyTorch state dicts load directly.
///
/// ```
/// use strata_nn::{Conv2d, ConvOptions, Forward, ModuleExt, Padding};
/// use strata_core::Tensor;
/// let x = Tensor::randn(&[2, 3, 8, 8]);
/// let conv = Conv2d::new(3, 16, 3)?;
/// assert_eq!(conv.forward(&x)?.shape(), &[2, 16, 6, 6]);
/// let down = Conv2d::with_options(3, 8, 3, ConvOptions::new().stride(2).padding(1))?;
/// assert_eq!(down.forward(&x)?.shape(), &[2, 8, 4, 4]);
/// let same = Conv2d::with_options(3, 8, (4, 5), ConvOptions::new().padding(Padding::Same))?;
/// assert_eq!(same.forward(&x)?.shape(), &[2, 8, 8, 8]);
/// let depthwise = Conv2d::with_options(3, 3, 3, ConvOptions::new().groups(3).bias(false))?;
/// assert_eq!(depthwise.weight().shape(), &[3, 1, 3, 3]);
/// assert_eq!(depthwise.num_parameters(), 27);
/// assert!(Conv2d::with_options(3, 8, 3, ConvOptions::new().groups(2)).is_err());
/// assert!(conv.forward(&Tensor::randn(&[2, 4, 8, 8])).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct Conv2d {
    w: ConvWeights,
    kernel: (usize, usize),
    options: ConvOptions,
}

conv_accessors!(Conv2d, ConvOptions, "[Cout, Cin / groups, kH, kW]");

impl Conv2d {
    /// A convolution with PyTorch's default options (stride 1, no padding, bias).
    pub fn new(in_channels: usize, out_channels: usize, kernel: impl Size2d) -> Result<Conv2d> {
        Conv2d::with_options(in_channels, out_channels, kernel, ConvOptions::default())
    }

    /// A convolution with the given options, freshly initialised.
    pub fn with_options(
        in_channels: usize,
        out_channels: usize,
        kernel: impl Size2d,
        options: ConvOptions,
    ) -> Result<Conv2d> {
        let kernel = kernel.into_pair();
        options.check("Conv2d", in_channels, out_channels)?;
        if kernel.0 == 0 || kernel.1 == 0 {
            return Err(Error::config(
                "Conv2d",
                format!("kernel size must be positive, got {kernel:?}"),
            ));
        }
        let shape = [
            out_channels,
            in_channels / options.groups,
            kernel.0,
            kernel.1,
        ];
        let (weight, bias) = ConvWeights::fresh(&shape, out_channels, options.bias)?;
        Conv2d::from_weights(weight, bias, options)
    }

    /// A convolution from existing weights `[Cout, Cin / groups, kH, kW]` and an optional
    /// bias `[Cout]`; `options.bias` is ignored (the bias is there or not).
    pub fn from_weights(
        weight: Tensor,
        bias: Option<Tensor>,
        options: ConvOptions,
    ) -> Result<Conv2d> {
        let kernel = match weight.shape() {
            [_, _, kh, kw] => (*kh, *kw),
            _ => (0, 0), // refused by the check below
        };
        let has_bias = bias.is_some();
        let w = ConvWeights::new(
            "Conv2d",
            (weight, bias),
            WeightLayout::Conv,
            (4, options.groups),
            |cin, cout| options.check("Conv2d", cin, cout),
        )?;
        Ok(Conv2d {
            w,
            kernel,
            options: ConvOptions {
                bias: has_bias,
                ..options
            },
        })
    }

    /// The kernel size `(kH, kW)`.
    pub fn kernel_size(&self) -> (usize, usize) {
        self.kernel
    }
}

impl Module for Conv2d {
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.w.visit(visitor);
    }

    fn extra_repr(&self) -> String {
        let o = &self.options;
        format!(
            "{}, {}, kernel_size={:?}, stride={:?}, padding={:?}, dilation={:?}, groups={}, bias={}",
            self.w.in_channels, self.w.out_channels, self.kernel, o.stride, o.padding, o.dilation, o.groups, o.bias
        )
    }
}

impl Forward for Conv2d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(self, input, self.w.in_channels, "H, W")?;
        let o = &self.options;
        let mut params = Conv2dParams {
            stride: o.stride,
            padding: (0, 0),
            dilation: o.dilation,
            groups: o.groups,
        };
        let padded;
        let x = match o.padding {
            Padding::Valid => input,
            Padding::Explicit(h, w) => {
                params.padding = (h, w);
                input
            }
            Padding::Same => {
                let rows = Padding::same_split(self.kernel.0, o.dilation.0);
                let cols = Padding::same_split(self.kernel.1, o.dilation.1);
                if rows.0 == rows.1 && cols.0 == cols.1 {
                    params.padding = (rows.0, cols.0);
                    input
                } else {
                    // Odd total: the extra zero row/column goes at the bottom/right.
                    padded = input.pad(&[rows, cols], 0.0)?;
                    &padded
                }
            }
        };
        let y = x.conv2d(&self.w.weight, self.w.bias.as_deref(), params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
