//! `ConvTranspose2d` and `ConvTranspose1d`: transposed ("fractionally strided")
//! convolutions, the gradient of a convolution with respect to its input, used to upsample
//! (PyTorch's `nn.ConvTranspose2d`/`nn.ConvTranspose1d`).

use super::weights::{check_input, conv_accessors, ConvWeights, WeightLayout};
use super::Size2d;
use crate::{hooks, Error, Forward, Module, Param, Result, Visitor};
use strata_core::{ConvTranspose1dParams, ConvTranspose2dParams, Tensor};

/// Options of [`ConvTranspose2d`] and [`ConvTranspose1d`], with PyTorch's defaults (stride 1,
/// no padding or output padding, dilation 1, one group, with bias). A 1-D layer uses the
/// width entries (set them with one number).
///
/// ```
/// use strata_nn::ConvTransposeOptions;
/// let o = ConvTransposeOptions::new().stride(2).padding(1).output_padding(1);
/// assert_eq!((o.stride, o.padding, o.output_padding), ((2, 2), (1, 1), (1, 1)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTransposeOptions {
    pub stride: (usize, usize),
    /// Rows/columns trimmed from each border of the output.
    pub padding: (usize, usize),
    /// Extra rows/columns at the bottom/right (smaller than the stride or the dilation).
    pub output_padding: (usize, usize),
    pub dilation: (usize, usize),
    pub groups: usize,
    pub bias: bool,
}

impl Default for ConvTransposeOptions {
    fn default() -> Self {
        ConvTransposeOptions {
            stride: (1, 1),
            padding: (0, 0),
            output_padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
            bias: true,
        }
    }
}

impl ConvTransposeOptions {
    /// PyTorch's defaults.
    pub fn new() -> ConvTransposeOptions {
        ConvTransposeOptions::default()
    }

    pub fn stride(mut self, stride: impl Size2d) -> Self {
        self.stride = stride.into_pair();
        self
    }

    pub fn padding(mut self, padding: impl Size2d) -> Self {
        self.padding = padding.into_pair();
        self
    }

    pub fn output_padding(mut self, output_padding: impl Size2d) -> Self {
        self.output_padding = output_padding.into_pair();
        self
    }

    pub fn dilation(mut self, dilation: impl Size2d) -> Self {
        self.dilation = dilation.into_pair();
        self
    }

    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }

    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Checks the options against the channel counts and, for a 1-D layer (`one_d`), that
    /// every setting is a single number.
    fn check(&self, what: &'static str, cin: usize, cout: usize, one_d: bool) -> Result<()> {
        let fail = |reason: String| Err(Error::config(what, reason));
        if cin == 0 || cout == 0 {
            return fail(format!(
                "in_channels and out_channels must be positive, got {cin} and {cout}"
            ));
        }
        let g = self.groups;
        if g == 0 || !cin.is_multiple_of(g) || !cout.is_multiple_of(g) {
            return fail(format!(
                "groups = {g} must be positive and divide in_channels = {cin} and out_channels = {cout}"
            ));
        }
        let (s, d, op) = (self.stride, self.dilation, self.output_padding);
        if s.0 == 0 || s.1 == 0 || d.0 == 0 || d.1 == 0 {
            return fail(format!(
                "stride {s:?} and dilation {d:?} must be at least 1"
            ));
        }
        if (op.0 >= s.0 && op.0 >= d.0) || (op.1 >= s.1 && op.1 >= d.1) {
            return fail(format!(
                "output_padding {op:?} must be smaller than either the stride {s:?} or the dilation {d:?}"
            ));
        }
        let square = |(a, b): (usize, usize)| a == b;
        if one_d && !(square(s) && square(d) && square(op) && square(self.padding)) {
            return fail(format!(
                "a 1-D layer takes one stride, padding, output padding and dilation each, got {self:?}"
            ));
        }
        Ok(())
    }
}

/// What the constructors of [`ConvTranspose2d`] and [`ConvTranspose1d`] share, written
/// once: the layer's name (for messages) and whether it is 1-D (one number per setting,
/// a 3-D weight) or 2-D.
struct Dims {
    what: &'static str,
    one_d: bool,
}

const TWO_D: Dims = Dims {
    what: "ConvTranspose2d",
    one_d: false,
};

const ONE_D: Dims = Dims {
    what: "ConvTranspose1d",
    one_d: true,
};

impl Dims {
    /// Fresh weights `[Cin, Cout / groups, *kernel]` (and a bias if `options.bias`),
    /// initialised like PyTorch's, once the options and the kernel are checked.
    fn fresh(
        &self,
        (cin, cout): (usize, usize),
        kernel: impl Size2d,
        options: ConvTransposeOptions,
    ) -> Result<(ConvWeights, ConvTransposeOptions)> {
        options.check(self.what, cin, cout, self.one_d)?;
        let k = kernel.into_pair();
        // A 1-D kernel is one number, the width.
        let (kernel, shown) = if self.one_d {
            (vec![k.1], k.1.to_string())
        } else {
            (vec![k.0, k.1], format!("{k:?}"))
        };
        if kernel.contains(&0) {
            return Err(Error::config(
                self.what,
                format!("kernel size must be positive, got {shown}"),
            ));
        }
        let mut shape = vec![cin, cout / options.groups];
        shape.extend(kernel);
        let (weight, bias) = ConvWeights::fresh(&shape, cout, options.bias)?;
        self.given(weight, bias, options)
    }

    /// The given weight (`[Cin, Cout / groups, *kernel]`) and optional bias (`[Cout]`),
    /// checked against the options; the options returned say whether there is a bias.
    fn given(
        &self,
        weight: Tensor,
        bias: Option<Tensor>,
        options: ConvTransposeOptions,
    ) -> Result<(ConvWeights, ConvTransposeOptions)> {
        let has_bias = bias.is_some();
        let rank = if self.one_d { 3 } else { 4 };
        let w = ConvWeights::new(
            self.what,
            (weight, bias),
            WeightLayout::Transposed,
            (rank, options.groups),
            |cin, cout| options.check(self.what, cin, cout, self.one_d),
        )?;
        let options = ConvTransposeOptions {
            bias: has_bias,
            ..options
        };
        Ok((w, options))
    }
}

/// The constructors of a transposed convolution layer (fields `w` and `options`) whose
/// [`Dims`] are `$dims` and whose kernel size is given as a `$kernel`; `$weight` documents
/// the weight's layout.
macro_rules! transposed_constructors {
    ($layer:ident, $dims:expr, $kernel:ty, $weight:literal) => {
        impl $layer {
            /// A transposed convolution with PyTorch's default options.
            pub fn new(in_channels: usize, out_channels: usize, kernel: $kernel) -> Result<Self> {
                Self::with_options(
                    in_channels,
                    out_channels,
                    kernel,
                    ConvTransposeOptions::default(),
                )
            }

            /// A transposed convolution with the given options, freshly initialised.
            pub fn with_options(
                in_channels: usize,
                out_channels: usize,
                kernel: $kernel,
                options: ConvTransposeOptions,
            ) -> Result<Self> {
                let (w, options) = $dims.fresh((in_channels, out_channels), kernel, options)?;
                Ok($layer { w, options })
            }

            #[doc = concat!("A transposed convolution from weights `", $weight, "` and an")]
            /// optional bias `[Cout]`; `options.bias` is ignored.
            pub fn from_weights(
                weight: Tensor,
                bias: Option<Tensor>,
                options: ConvTransposeOptions,
            ) -> Result<Self> {
                let (w, options) = $dims.given(weight, bias, options)?;
                Ok($layer { w, options })
            }
        }
    };
}

/// A 2-D transposed convolution: input `[N, Cin, H, W]` (or `[Cin, H, W]`), weight
/// `[Cin, Cout / groups, kH, kW]`, bias `[Cout]`; the output is `[N, Cout, OH, OW]` with
/// `OH = (H − 1)·stride − 2·padding + dilation·(kH − 1) + output_padding + 1`.
///
/// ```
/// use strata_nn::{ConvTranspose2d, ConvTransposeOptions, Forward};
/// use strata_core::Tensor;
/// let up = ConvTranspose2d::with_options(8, 4, 3,
///     ConvTransposeOptions::new().stride(2).padding(1).output_padding(1))?;
/// assert_eq!(up.weight().shape(), &[8, 4, 3, 3]);
/// assert_eq!(up.forward(&Tensor::randn(&[2, 8, 5, 5]))?.shape(), &[2, 4, 10, 10]);
/// assert!(ConvTranspose2d::with_options(8, 4, 3, ConvTransposeOptions::new().output_padding(1)).is_err());
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct ConvTranspose2d {
    w: ConvWeights,
    options: ConvTransposeOptions,
}

conv_accessors!(
    ConvTranspose2d,
    ConvTransposeOptions,
    "[Cin, Cout / groups, kH, kW]"
);
transposed_constructors!(
    ConvTranspose2d,
    TWO_D,
    impl Size2d,
    "[Cin, Cout / groups, kH, kW]"
);

impl Module for ConvTranspose2d {
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.w.visit(visitor);
    }

    fn extra_repr(&self) -> String {
        let o = &self.options;
        let k = &self.w.weight.shape()[2..];
        format!(
            "{}, {}, kernel_size={k:?}, stride={:?}, padding={:?}, output_padding={:?}, dilation={:?}, groups={}, bias={}",
            self.w.in_channels, self.w.out_channels, o.stride, o.padding, o.output_padding, o.dilation, o.groups, o.bias
        )
    }
}

impl Forward for ConvTranspose2d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(self, input, self.w.in_channels, "H, W")?;
        let o = &self.options;
        let params = ConvTranspose2dParams {
            stride: o.stride,
            padding: o.padding,
            output_padding: o.output_padding,
            dilation: o.dilation,
            groups: o.groups,
        };
        let y = input.conv_transpose2d(&self.w.weight, self.w.bias.as_deref(), params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

/// A 1-D transposed convolution: input `[N, Cin, L]` (or `[Cin, L]`), weight
/// `[Cin, Cout / groups, k]`, bias `[Cout]`; the output length is
/// `(L − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1`.
///
/// ```
/// use strata_nn::{ConvTranspose1d, ConvTransposeOptions, Forward};
/// use strata_core::Tensor;
/// let up = ConvTranspose1d::with_options(4, 2, 4, ConvTransposeOptions::new().stride(2).padding(1))?;
/// assert_eq!(up.forward(&Tensor::randn(&[3, 4, 6]))?.shape(), &[3, 2, 12]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct ConvTranspose1d {
    w: ConvWeights,
    options: ConvTransposeOptions,
}

conv_accessors!(
    ConvTranspose1d,
    ConvTransposeOptions,
    "[Cin, Cout / groups, k]"
);
transposed_constructors!(ConvTranspose1d, ONE_D, usize, "[Cin, Cout / groups, k]");

impl Module for ConvTranspose1d {
    fn visit(&self, visitor: &mut dyn Visitor) {
        self.w.visit(visitor);
    }

    fn extra_repr(&self) -> String {
        let o = &self.options;
        format!(
            "{}, {}, kernel_size={}, stride={}, padding={}, output_padding={}, dilation={}, groups={}, bias={}",
            self.w.in_channels, self.w.out_channels, self.w.weight.shape()[2], o.stride.1, o.padding.1, o.output_padding.1, o.dilation.1, o.groups, o.bias
        )
    }
}

impl Forward for ConvTranspose1d {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        check_input(self, input, self.w.in_channels, "L")?;
        let o = &self.options;
        let params = ConvTranspose1dParams {
            stride: o.stride.1,
            padding: o.padding.1,
            output_padding: o.output_padding.1,
            dilation: o.dilation.1,
            groups: o.groups,
        };
        let y = input.conv_transpose1d(&self.w.weight, self.w.bias.as_deref(), params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
