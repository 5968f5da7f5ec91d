//! Transposed convolutions `conv_transpose2d` and `conv_transpose1d` (PyTorch's
//! "deconvolution"), forward and backward.
//!
//! `conv_transpose2d(x, w)` is the gradient of `conv2d(·, w)` with respect to its input,
//! applied to `x`: each input pixel scatters a weighted copy of the kernel into the output.
//! So its forward pass is the input-gradient pass of a convolution (a product then col2im),
//! its input gradient is a plain convolution, and its weight gradient is a convolution's
//! weight gradient with the roles of input and output swapped; all three come from
//! `conv_gemm.rs`.

use super::conv_op::{conv_recorded, Direction};
use super::conv_shape::check_conv_transpose;
use crate::{Result, Tensor};

/// Options of [`Tensor::conv_transpose2d`], as `(height, width)` pairs, with PyTorch's
/// defaults (stride 1, no padding, no output padding, no dilation, one group).
///
/// As in PyTorch, `padding` is the padding of the convolution this op transposes, so it
/// trims `padding` rows and columns from each border of the full output; `output_padding`
/// adds rows/columns at the bottom and right (to pick among the input sizes that a strided
/// convolution maps to the same output size).
///
/// ```
/// use strata_core::ConvTranspose2dParams;
/// let p = ConvTranspose2dParams { stride: (2, 2), output_padding: (1, 1), ..Default::default() };
/// assert_eq!(p.groups, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose2dParams {
    /// Stride of the transposed convolution (at least 1).
    pub stride: (usize, usize),
    /// Rows/columns trimmed from each border of the output.
    pub padding: (usize, usize),
    /// Extra rows/columns at the bottom/right; must be smaller than the stride or the
    /// dilation in that dim.
    pub output_padding: (usize, usize),
    /// Spacing between kernel taps (at least 1).
    pub dilation: (usize, usize),
    /// Channel groups (input and output channels split into independent blocks).
    pub groups: usize,
}

impl Default for ConvTranspose2dParams {
    fn default() -> Self {
        ConvTranspose2dParams {
            stride: (1, 1),
            padding: (0, 0),
            output_padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        }
    }
}

/// Options of [`Tensor::conv_transpose1d`] (see [`ConvTranspose2dParams`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvTranspose1dParams {
    pub stride: usize,
    pub padding: usize,
    pub output_padding: usize,
    pub dilation: usize,
    pub groups: usize,
}

impl Default for ConvTranspose1dParams {
    fn default() -> Self {
        ConvTranspose1dParams {
            stride: 1,
            padding: 0,
            output_padding: 0,
            dilation: 1,
            groups: 1,
        }
    }
}

impl Tensor {
    /// 2-D transposed convolution (as `torch.nn.functional.conv_transpose2d`) of an input
    /// `[N, Cin, H, W]` (or unbatched `[Cin, H, W]`) with a weight
    /// `[Cin, Cout / groups, kH, kW]` and an optional bias `[Cout]`. The output is
    /// `[N, Cout, OH, OW]` with
    /// `OH = (H − 1)·stride − 2·padding + dilation·(kH − 1) + output_padding + 1`.
    ///
    /// It is the gradient of [`Tensor::conv2d`] with respect to its input: for `y` of the
    /// right shape, `<conv2d(x, w), y> == <x, conv_transpose2d(y, w)>`. Differentiable in the
    /// input, the weight and the bias.
    ///
    /// ```
    /// use strata_core::{ConvTranspose2dParams, Tensor};
    /// let x = Tensor::ones(&[1, 1, 2, 2]);
    /// let w = Tensor::ones(&[1, 1, 2, 2]);
    /// let p = ConvTranspose2dParams { stride: (2, 2), ..Default::default() };
    /// let y = x.conv_transpose2d(&w, None, p)?;
    /// assert_eq!(y.shape(), &[1, 1, 4, 4]);
    /// assert_eq!(y.to_vec::<f32>()?, vec![1.0; 16]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn conv_transpose2d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: ConvTranspose2dParams,
    ) -> Result<Tensor> {
        if self.ndim() == 3 {
            return self
                .unsqueeze(0)?
                .conv_transpose2d(weight, bias, params)?
                .squeeze_dim(0);
        }
        let p = params;
        let geom = check_conv_transpose(
            "conv_transpose2d",
            self,
            weight,
            bias,
            (
                &[p.stride.0, p.stride.1],
                &[p.padding.0, p.padding.1],
                &[p.output_padding.0, p.output_padding.1],
                &[p.dilation.0, p.dilation.1],
            ),
            p.groups,
        )?;
        conv_recorded(
            "conv_transpose2d",
            Direction::Transposed,
            self,
            weight,
            bias,
            geom,
        )
    }

    /// 1-D transposed convolution (as `torch.nn.functional.conv_transpose1d`) of an input
    /// `[N, Cin, L]` (or unbatched `[Cin, L]`) with a weight `[Cin, Cout / groups, k]`: the
    /// output is `[N, Cout, (L − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1]`.
    ///
    /// ```
    /// use strata_core::{ConvTranspose1dParams, Tensor};
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], &[1, 1, 2])?;
    /// let w = Tensor::from_vec(vec![1.0f32, 10.0, 100.0], &[1, 1, 3])?;
    /// let y = x.conv_transpose1d(&w, None, ConvTranspose1dParams::default())?;
    /// assert_eq!(y.to_vec::<f32>()?, vec![1.0, 12.0, 120.0, 200.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn conv_transpose1d(
        &self,
        weight: &Tensor,
        bias: Option<&Tensor>,
        params: ConvTranspose1dParams,
    ) -> Result<Tensor> {
        if self.ndim() == 2 {
            return self
                .unsqueeze(0)?
                .conv_transpose1d(weight, bias, params)?
                .squeeze_dim(0);
        }
        let p = params;
        let geom = check_conv_transpose(
            "conv_transpose1d",
            self,
            weight,
            bias,
            (
                &[p.stride],
                &[p.padding],
                &[p.output_padding],
                &[p.dilation],
            ),
            p.groups,
        )?;
        let (x2, w2) = (self.unsqueeze(2)?, weight.unsqueeze(2)?);
        conv_recorded(
            "conv_transpose1d",
            Direction::Transposed,
            &x2,
            &w2,
            bias,
            geom,
        )?
        .squeeze_dim(2)
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        gradcheck, ConvTranspose1dParams, ConvTranspose2dParams, GradcheckOptions, Tensor,
    };

    fn params(
        s: (usize, usize),
        p: (usize, usize),
        op: (usize, usize),
        d: (usize, usize),
        g: usize,
    ) -> ConvTranspose2dParams {
        ConvTranspose2dParams {
            stride: s,
            padding: p,
            output_padding: op,
            dilation: d,
            groups: g,
        }
    }

    #[test]
    fn conv_transpose2d_gradchecks_across_configurations() {
        let cases = [
            (
                [2, 3, 3, 4],
                [3, 2, 3, 3],
                params((1, 1), (1, 1), (0, 0), (1, 1), 1),
                true,
            ),
            (
                [1, 2, 3, 3],
                [2, 3, 3, 2],
                params((2, 2), (1, 0), (1, 1), (1, 1), 1),
                true,
            ),
            (
                [1, 4, 3, 2],
                [4, 1, 2, 3],
                params((2, 1), (0, 1), (0, 0), (2, 1), 2),
                false,
            ),
            (
                [2, 3, 3, 3],
                [3, 1, 3, 3],
                params((3, 2), (2, 1), (2, 1), (1, 1), 3),
                true,
            ),
            (
                [2, 3, 3, 3],
                [3, 2, 1, 1],
                params((1, 1), (0, 0), (0, 0), (1, 1), 1),
                true,
            ),
            (
                [1, 2, 2, 3],
                [2, 2, 2, 2],
                params((1, 1), (0, 0), (1, 0), (2, 2), 1),
                false,
            ),
        ];
        for (xs, ws, p, bias) in cases {
            let mut inputs = vec![Tensor::randn(&xs), Tensor::randn(&ws)];
            if bias {
                inputs.push(Tensor::randn(&[ws[1] * p.groups]));
            }
            gradcheck(
                |t| t[0].conv_transpose2d(&t[1], t.get(2), p),
                &inputs,
                GradcheckOptions::default(),
            )
            .unwrap_or_else(|e| panic!("{xs:?} * {ws:?} {p:?}: {e}"));
        }
    }

    #[test]
    fn gradchecks_on_views_unbatched_and_1d() {
        gradcheck(
            |t| {
                let x = t[0].permute(&[0, 3, 1, 2])?;
                x.conv_transpose2d(
                    &t[1],
                    Some(&t[2]),
                    params((2, 2), (0, 0), (0, 1), (1, 1), 1),
                )
            },
            &[
                Tensor::randn(&[2, 3, 2, 2]),
                Tensor::randn(&[2, 3, 2, 2]),
                Tensor::randn(&[3]),
            ],
            GradcheckOptions::default(),
        )
        .unwrap();
        gradcheck(
            |t| t[0].conv_transpose2d(&t[1], None, ConvTranspose2dParams::default()),
            &[Tensor::randn(&[2, 3, 2]), Tensor::randn(&[2, 2, 2, 2])],
            GradcheckOptions::default(),
        )
        .unwrap();
        let p = ConvTranspose1dParams {
            stride: 3,
            padding: 1,
            output_padding: 2,
            dilation: 1,
            groups: 2,
        };
        gradcheck(
            |t| t[0].conv_transpose1d(&t[1], Some(&t[2]), p),
            &[
                Tensor::randn(&[2, 4, 5]),
                Tensor::randn(&[4, 3, 3]),
                Tensor::randn(&[6]),
            ],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn output_size_follows_pytorch() {
        // (H - 1)·s − 2p + d·(k − 1) + op + 1 = 4·2 − 2 + 2 + 1 + 1 = 10
        let y = Tensor::zeros(&[1, 2, 5, 5])
            .conv_transpose2d(
                &Tensor::zeros(&[2, 1, 3, 3]),
                None,
                params((2, 2), (1, 1), (1, 0), (1, 1), 1),
            )
            .unwrap();
        assert_eq!(y.shape(), &[1, 1, 10, 9]);
    }

    #[test]
    fn errors_name_the_problem() {
        let x = Tensor::zeros(&[1, 4, 3, 3]);
        let err = |w: &[usize], p: ConvTranspose2dParams| {
            x.conv_transpose2d(&Tensor::zeros(w), None, p)
                .unwrap_err()
                .to_string()
        };
        let d = ConvTranspose2dParams::default();
        let e = err(&[3, 2, 3, 3], d);
        assert_eq!(
            e,
            "conv_transpose2d: got shape [1, 4, 3, 3], weight [3, 2, 3, 3] expects 3 input \
             channels (its dim 0), but the input has 4 (dim 1)"
        );
        let e = err(&[4, 2, 3, 3], params((2, 2), (0, 0), (2, 0), (1, 1), 1));
        assert!(
            e.contains("`output_padding`: [2, 0] must be smaller"),
            "{e}"
        );
        let e = err(&[4, 2, 3, 3], params((1, 1), (0, 0), (0, 0), (1, 1), 3));
        assert!(
            e.contains("groups = 3 must be at least 1 and divide the input channels 4"),
            "{e}"
        );
        let e = err(&[4, 2, 1, 1], params((1, 1), (2, 2), (0, 0), (1, 1), 1));
        assert!(
            e.contains("the output size would be empty or negative"),
            "{e}"
        );
        let e = err(&[4, 2, 3, 3], params((1, 0), (0, 0), (0, 0), (1, 1), 1));
        assert!(e.contains("`stride`"), "{e}");
        let e = err(
            &[4, 2, 3, 3],
            params((usize::MAX, 1), (0, 0), (0, 0), (1, 1), 1),
        );
        assert!(e.contains("is too large"), "{e}");
        let b = Tensor::zeros(&[4]);
        let e = x
            .conv_transpose2d(&Tensor::zeros(&[4, 2, 3, 3]), Some(&b), d)
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a bias of shape [2]"), "{e}");
    }
}
