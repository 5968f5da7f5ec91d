//! Convolutions `conv2d` and `conv1d` (PyTorch's cross-correlation, NCHW), forward and
//! backward.
//!
//! The kernels are im2col + matrix product (see `conv_gemm.rs`); the backward pass is one
//! recorded op that computes the input, weight and bias gradients it is asked for. A 1-D
//! convolution is a 2-D one over planes of height 1.

use super::conv_op::{conv_recorded, Direction};
use super::conv_shape::check_conv;
use crate::{Result, Tensor};

/// Options of [`Tensor::conv2d`], as `(height, width)` pairs, with PyTorch's defaults
/// (stride 1, no padding, no dilation, one group).
///
/// ```
/// use strata_core::Conv2dParams;
/// let p = Conv2dParams { padding: (1, 1), ..Default::default() };
/// assert_eq!((p.stride, p.dilation, p.groups), ((1, 1), (1, 1), 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Step between windows (at least 1).
    pub stride: (usize, usize),
    /// Zeros added on both sides of each spatial dim.
    pub padding: (usize, usize),
    /// Spacing between kernel taps (at least 1).
    pub dilation: (usize, usize),
    /// Channel groups: input and output channels split into `groups` independent blocks
    /// (`groups == in_channels` is a depthwise convolution).
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// Options of [`Tensor::conv1d`], with PyTorch's defaults (stride 1, no padding, no
/// dilation, one group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv1dParams {
    /// Step between windows (at least 1).
    pub stride: usize,
    /// Zeros added on both ends.
    pub padding: usize,
    /// Spacing between kernel taps (at least 1).
    pub dilation: usize,
    /// Channel groups (see [`Conv2dParams::groups`]).
    pub groups: usize,
}

impl Default for Conv1dParams {
    fn default() -> Self {
        Conv1dParams {
            stride: 1,
            padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl Tensor {
    /// 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d`) of an input
    /// `[N, Cin, H, W]` (or unbatched `[Cin, H, W]`) with a weight
    /// `[Cout, Cin / groups, kH, kW]` and an optional bias `[Cout]`. The output is
    /// `[N, Cout, OH, OW]` with `OH = (H + 2·padding − dilation·(kH − 1) − 1) / stride + 1`
    /// (and likewise `OW`).
    ///
    /// Differentiable in the input, the weight and the bias. Shape mistakes (rank, channel
    /// counts, groups not dividing the channels, a kernel larger than the padded input, a zero
    /// stride) are errors naming the shapes.
    ///
    /// ```
    /// use strata_core::{Conv2dParams, Tensor};
    /// let x = Tensor::ones(&[1, 1, 4, 4]);
    /// let w = Tensor::ones(&[2, 1, 3, 3]).requires_grad_();
    /// let b = Tensor::from_vec(vec![0.0f32, 10.0], &[2])?;
    /// let y = x.conv2d(&w, Some(&b), Conv2dParams { padding: (1, 1), ..Default::default() })?;
    /// assert_eq!(y.shape(), &[1, 2, 4, 4]);
    /// let v = y.to_vec::<f32>()?;
    /// assert_eq!((v[0], v[5], v[16]), (4.0, 9.0, 14.0)); // corner, centre, corner + bias
    /// let g = y.sum_all()?.backward()?;
    /// assert_eq!(g.get(&w).unwrap().shape(), &[2, 1, 3, 3]);
    /// assert!(x.conv2d(&Tensor::ones(&[2, 3, 3, 3]), None, Conv2dParams::default()).is_err());
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn conv2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv2dParams,
    ) -> Result<Tensor> {
        if self.ndim() == 3 {
            return self
                .unsqueeze(0)?
                .conv2d(weight, bias, params)?
                .squeeze_dim(0);
        }
        let p = params;
        let geom = check_conv(
            "conv2d",
            self,
            weight,
            bias,
            (
                &[p.stride.0, p.stride.1],
                &[p.padding.0, p.padding.1],
                &[p.dilation.0, p.dilation.1],
            ),
            p.groups,
        )?;
        conv_recorded("conv2d", Direction::Conv, self, weight, bias, geom)
    }

    /// 1-D convolution (as `torch.nn.functional.conv1d`) of an input `[N, Cin, L]` (or
    /// unbatched `[Cin, L]`) with a weight `[Cout, Cin / groups, k]` and an optional bias
    /// `[Cout]`: the output is `[N, Cout, (L + 2·padding − dilation·(k − 1) − 1) / stride + 1]`.
    ///
    /// ```
    /// use strata_core::{Conv1dParams, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 1, 4])?;
    /// let w = Tensor::from_vec(vec![1.0f32, 0.0, -1.0], &[1, 1, 3])?;
    /// let y = x.conv1d(&w, None, Conv1dParams { padding: 1, ..Default::default() })?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![-2.0, -2.0, -2.0, 3.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn conv1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: Conv1dParams,
    ) -> Result<Tensor> {
        if self.ndim() == 2 {
            return self
                .unsqueeze(0)?
                .conv1d(weight, bias, params)?
                .squeeze_dim(0);
        }
        let p = params;
        let geom = check_conv(
            "conv1d",
            self,
            weight,
            bias,
            (&[p.stride], &[p.padding], &[p.dilation]),
            p.groups,
        )?;
        let (x2, w2) = (self.unsqueeze(2)?, weight.unsqueeze(2)?);
        conv_recorded("conv1d", Direction::Conv, &x2, &w2, bias, geom)?.squeeze_dim(2)
    }
}

#[cfg(test)]
mod tests {
    use crate::{gradcheck, Conv1dParams, Conv2dParams, GradcheckOptions, Tensor};

    fn params(s: (usize, usize), p: (usize, usize), d: (usize, usize), g: usize) -> Conv2dParams {
        Conv2dParams {
            stride: s,
            padding: p,
            dilation: d,
            groups: g,
        }
    }

    #[test]
    fn conv2d_gradchecks_across_configurations() {
        // (input shape, weight shape, params, bias)
        let cases = [
            (
                [2, 3, 5, 6],
                [4, 3, 3, 3],
                params((1, 1), (1, 1), (1, 1), 1),
                true,
            ),
            (
                [1, 4, 7, 5],
                [6, 2, 3, 2],
                params((2, 1), (0, 1), (1, 2), 2),
                true,
            ),
            (
                [2, 3, 6, 6],
                [3, 1, 3, 3],
                params((1, 1), (1, 1), (1, 1), 3),
                false,
            ), // depthwise
            (
                [1, 2, 5, 5],
                [4, 1, 2, 2],
                params((2, 2), (1, 0), (1, 1), 2),
                true,
            ), // multiplier 2
            (
                [2, 3, 4, 4],
                [5, 3, 1, 1],
                params((1, 1), (0, 0), (1, 1), 1),
                true,
            ), // pointwise
            (
                [1, 4, 3, 4],
                [2, 2, 1, 1],
                params((1, 1), (0, 0), (1, 1), 2),
                false,
            ), // grouped 1x1
            (
                [1, 2, 5, 5],
                [3, 2, 1, 1],
                params((2, 2), (1, 0), (1, 1), 1),
                true,
            ), // strided 1x1
            (
                [1, 1, 4, 4],
                [1, 1, 4, 4],
                params((1, 1), (0, 0), (1, 1), 1),
                true,
            ), // kernel = input
        ];
        for (xs, ws, p, bias) in cases {
            let mut inputs = vec![Tensor::randn(&xs), Tensor::randn(&ws)];
            if bias {
                inputs.push(Tensor::randn(&[ws[0]]));
            }
            gradcheck(
                |t| t[0].conv2d(&t[1], t.get(2), p),
                &inputs,
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{xs:?} * {ws:?} {p:?}: {e}"));
        }
    }

    #[test]
    fn conv2d_gradcheck_on_strided_views_and_unbatched_input() {
        // The input is stored NHWC and permuted to NCHW; the weight is a transposed view.
        gradcheck(
            |t| {
                let x = t[0].permute(&[0, 3, 1, 2])?;
                let w = t[1].transpose(2, 3)?;
                x.conv2d(&w, Some(&t[2]), params((1, 2), (1, 1), (1, 1), 1))
            },
            &[
                Tensor::randn(&[2, 5, 4, 3]),
                Tensor::randn(&[2, 3, 2, 3]),
                Tensor::randn(&[2]),
            ],
            GradcheckOptions::default(),
        )
        .unwrap();
        gradcheck(
            |t| t[0].conv2d(&t[1], None, params((1, 1), (1, 0), (1, 1), 1)),
            &[Tensor::randn(&[2, 4, 3]), Tensor::randn(&[3, 2, 2, 2])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn conv1d_gradchecks() {
        let p = Conv1dParams {
            stride: 2,
            padding: 2,
            dilation: 2,
            groups: 2,
        };
        gradcheck(
            |t| t[0].conv1d(&t[1], Some(&t[2]), p),
            &[
                Tensor::randn(&[2, 4, 9]),
                Tensor::randn(&[6, 2, 3]),
                Tensor::randn(&[6]),
            ],
            GradcheckOptions::default(),
        )
        .unwrap();
        gradcheck(
            |t| {
                t[0].transpose(0, 1)?
                    .conv1d(&t[1], None, Conv1dParams::default())
            },
            &[Tensor::randn(&[5, 3]), Tensor::randn(&[2, 3, 2])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn only_requested_gradients_are_computed() {
        let x = Tensor::randn(&[1, 2, 4, 4]);
        let w = Tensor::randn(&[3, 2, 3, 3]).requires_grad_();
        let b = Tensor::randn(&[3]);
        let y = x.conv2d(&w, Some(&b), Conv2dParams::default()).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        assert!(g.get(&x).is_none() && g.get(&b).is_none());
        assert_eq!(g.get(&w).unwrap().shape(), &[3, 2, 3, 3]);
        // Without any input requiring grad nothing is recorded.
        let y = x
            .conv2d(&w.detach(), None, Conv2dParams::default())
            .unwrap();
        assert!(!y.requires_grad());
    }

    #[test]
    fn shape_errors_name_the_shapes() {
        let x = Tensor::zeros(&[2, 3, 7, 6]);
        let err = |x: &Tensor, w: &[usize], b: Option<&[usize]>, p: Conv2dParams| {
            let b = b.map(Tensor::zeros);
            x.conv2d(&Tensor::zeros(w), b.as_ref(), p)
                .unwrap_err()
                .to_string()
        };
        let d = Conv2dParams::default();
        let e = err(&x, &[4, 2, 3, 3], None, d);
        assert_eq!(
            e,
            "conv2d: got shape [2, 3, 7, 6], weight [4, 2, 3, 3] with groups = 1 expects 2 \
             input channels (2 per group), but the input has 3 (dim 1)"
        );
        let e = err(&x, &[4, 1, 3, 3], None, params((1, 1), (0, 0), (1, 1), 2));
        assert!(
            e.contains("groups = 2 must be at least 1 and divide both the input channels 3"),
            "{e}"
        );
        let e = err(&x, &[4, 3, 3, 3], None, params((1, 1), (0, 0), (1, 1), 0));
        assert!(e.contains("groups = 0"), "{e}");
        let e = err(&x, &[4, 3, 9, 3], None, d);
        assert!(
            e.contains("the padded input 7x6 (padding [0, 0]) is smaller than the kernel 9x3"),
            "{e}"
        );
        let e = err(&x, &[4, 3, 5, 5], None, params((1, 1), (0, 0), (2, 2), 1));
        assert!(e.contains("smaller than the kernel 9x9"), "{e}");
        let e = err(&x, &[4, 3, 3, 3], None, params((0, 1), (0, 0), (1, 1), 1));
        assert!(e.contains("invalid argument `stride`"), "{e}");
        let e = err(&x, &[4, 3, 3, 3], Some(&[3]), d);
        assert!(e.contains("expected a bias of shape [4]"), "{e}");
        let e = err(&x, &[4, 3, 3], None, d);
        assert!(e.contains("expected a 4-D weight"), "{e}");
        let e = err(&Tensor::zeros(&[3, 7]), &[4, 3, 3, 3], None, d);
        assert!(
            e.contains("got shape [3, 7], expected a 4-D input [N, C, H, W]"),
            "{e}"
        );
        let e = Tensor::zeros(&[2, 3, 7])
            .conv1d(&Tensor::zeros(&[4, 2, 3]), None, Conv1dParams::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("conv1d: got shape [2, 3, 7], weight [4, 2, 3]"),
            "{e}"
        );
        // Absurd sizes are errors, not arithmetic overflows.
        let huge = usize::MAX / 2;
        let e = err(
            &x,
            &[4, 3, 3, 3],
            None,
            params((1, 1), (huge, 0), (1, 1), 1),
        );
        assert!(e.contains("is too large"), "{e}");
        let e = err(
            &x,
            &[4, 3, 3, 3],
            None,
            params((1, 1), (0, 0), (huge, 1), 1),
        );
        assert!(e.contains("is too large"), "{e}");
        let xi = Tensor::zeros_dtype(&[1, 1, 3, 3], crate::DType::I64);
        assert!(xi.conv2d(&xi, None, d).is_err());
        let x64 = Tensor::zeros_dtype(&[1, 1, 3, 3], crate::DType::F64);
        assert!(x64.conv2d(&Tensor::zeros(&[1, 1, 3, 3]), None, d).is_err());
    }
}
