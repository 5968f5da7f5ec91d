//! `Conv1d`: a 1-D convolution layer over `[N, C, L]` inputs (PyTorch's `nn.Conv1d`).

use super::{ConvOptions, Padding};
use crate::{hooks, init, Error, Forward, Module, Param, Result, Visitor};
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
    weight: Param,
    bias: Option<Param>,
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    options: ConvOptions,
}

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
        let weight = init::default_weight(&shape)?;
        let bias = if options.bias {
            Some(init::default_bias(&[out_channels], init::fans(&shape)?.0)?)
        } else {
            None
        };
        Conv1d::from_weights(weight, bias, options)
    }

    /// A convolution from existing weights `[Cout, Cin / groups, k]` and an optional bias
    /// `[Cout]`; `options.bias` is ignored.
    pub fn from_weights(
        weight: Tensor,
        bias: Option<Tensor>,
        options: ConvOptions,
    ) -> Result<Conv1d> {
        let ws = weight.shape().to_vec();
        if ws.len() != 3 || ws.contains(&0) {
            return Err(Error::config(
                "Conv1d",
                format!("weight must be a non-empty [out, in / groups, k], got shape {ws:?}"),
            ));
        }
        let (cout, cin) = (ws[0], ws[1] * options.groups);
        options.check("Conv1d", cin, cout)?;
        check_1d(&options)?;
        if let Some(b) = &bias {
            if b.shape() != [cout] {
                return Err(Error::config(
                    "Conv1d",
                    format!("bias must have shape [{cout}], got {:?}", b.shape()),
                ));
            }
        }
        let has_bias = bias.is_some();
        Ok(Conv1d {
            weight: Param::new(weight),
            bias: bias.map(Param::new),
            in_channels: cin,
            out_channels: cout,
            kernel: ws[2],
            options: ConvOptions {
                bias: has_bias,
                ..options
            },
        })
    }

    /// The weight `[Cout, Cin / groups, k]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    /// The bias `[Cout]`, if any.
    pub fn bias(&self) -> Option<&Param> {
        self.bias.as_ref()
    }

    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    pub fn kernel_size(&self) -> usize {
        self.kernel
    }

    pub fn options(&self) -> &ConvOptions {
        &self.options
    }
}

impl Module for Conv1d {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.param("weight", &self.weight);
        if let Some(b) = &self.bias {
            visitor.param("bias", b);
        }
    }

    fn extra_repr(&self) -> String {
        let o = &self.options;
        format!(
            "{}, {}, kernel_size={}, stride={}, padding={:?}, dilation={}, groups={}, bias={}",
            self.in_channels,
            self.out_channels,
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
        let nd = input.ndim();
        if !(nd == 2 || nd == 3) || input.shape()[nd - 2] != self.in_channels {
            return Err(Error::Input {
                layer: format!("Conv1d({})", self.extra_repr()),
                expected: format!("input [N, {c}, L] or [{c}, L]", c = self.in_channels),
                got: input.shape().into(),
            });
        }
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
        let y = x.conv1d(&self.weight, self.bias.as_deref(), params)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}
