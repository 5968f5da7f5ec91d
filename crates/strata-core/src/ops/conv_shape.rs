//! Checking the arguments of convolutions and transposed convolutions (1-D and 2-D) and
//! turning them into the geometry the kernels run on. Every mistake is an error naming the
//! op, the shapes involved and what was expected.

use super::conv_gemm::ConvGeom;
use crate::kernels::im2col::Window2d;
use crate::{Error, Result, Tensor};

/// `dims` as PyTorch prints a spatial size: `7x6`.
fn spatial(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

/// The padded size `size + 2·pad` and the window extent `dil·(k − 1) + 1` of one spatial dim,
/// or an error when either is too large for the index arithmetic of the kernels (sizes are
/// kept below `usize::MAX / 4`, so no later sum or product of them can overflow).
pub(super) fn padded_and_extent(
    op: &'static str,
    shape: &[usize],
    (size, pad, k, dil): (usize, usize, usize, usize),
) -> Result<(usize, usize)> {
    let wide = |v: usize| v as u128;
    let padded = wide(size) + 2 * wide(pad);
    let extent = wide(dil) * wide(k.saturating_sub(1)) + 1;
    let limit = wide(usize::MAX / 4);
    if padded > limit || extent > limit {
        return Err(Error::shape(
            op,
            shape,
            format!(
                "the padded size ({size} + 2 x {pad}) or the window extent ({dil} x ({k} - 1) + 1)                  is too large"
            ),
        ));
    }
    Ok((padded as usize, extent as usize))
}

/// Errors unless every entry of a stride or dilation is at least 1.
fn check_positive(op: &'static str, arg: &'static str, v: &[usize]) -> Result<()> {
    if v.contains(&0) {
        return Err(Error::invalid(
            op,
            arg,
            format!("must be at least 1 in every spatial dimension, got {v:?}"),
        ));
    }
    Ok(())
}

/// Errors unless `x`, `w` and the bias share one floating-point dtype.
fn check_dtypes(op: &'static str, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::dtype(
            op,
            "a floating-point dtype (f32 or f64)",
            x.dtype(),
        ));
    }
    for t in [Some(w), b].into_iter().flatten() {
        if t.dtype() != x.dtype() {
            return Err(Error::DTypeMismatch {
                op,
                lhs: x.dtype(),
                rhs: t.dtype(),
            });
        }
    }
    Ok(())
}

/// Errors unless the bias is `[channels]`.
fn check_bias(op: &'static str, b: Option<&Tensor>, channels: usize, w: &Tensor) -> Result<()> {
    match b {
        Some(b) if b.shape() != [channels] => Err(Error::shape(
            op,
            b.shape(),
            format!(
                "expected a bias of shape [{channels}] (one per output channel of weight {:?})",
                w.shape()
            ),
        )),
        _ => Ok(()),
    }
}

/// The checks every convolution starts with: dtypes, the ranks of the input and of the
/// weight (`weight_dims`: the weight's two leading dims, named), positive strides and
/// dilations (one entry per spatial dim).
fn check_operands(
    op: &'static str,
    (x, w, b): (&Tensor, &Tensor, Option<&Tensor>),
    weight_dims: &str,
    stride: &[usize],
    dilation: &[usize],
) -> Result<()> {
    let d = stride.len();
    let dims = if d == 1 { "L" } else { "H, W" };
    let kdims = if d == 1 { "k" } else { "kH, kW" };
    check_dtypes(op, x, w, b)?;
    let (xs, ws) = (x.shape(), w.shape());
    if xs.len() != d + 2 {
        return Err(Error::shape(
            op,
            xs,
            format!(
                "expected a {}-D input [N, C, {dims}] (or unbatched [C, {dims}])",
                d + 2
            ),
        ));
    }
    if ws.len() != d + 2 {
        return Err(Error::shape(
            op,
            ws,
            format!("expected a {}-D weight [{weight_dims}, {kdims}]", d + 2),
        ));
    }
    check_positive(op, "stride", stride)?;
    check_positive(op, "dilation", dilation)
}

/// Checks a batched convolution `x [N, C, *spatial]` with `w [Cout, C / groups, *kernel]`
/// (one or two spatial dims) and returns its geometry as a 2-D problem (a 1-D one has
/// height 1).
pub(super) fn check_conv(
    op: &'static str,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    (stride, padding, dilation): (&[usize], &[usize], &[usize]),
    groups: usize,
) -> Result<ConvGeom> {
    check_operands(
        op,
        (x, w, b),
        "out_channels, in_channels / groups",
        stride,
        dilation,
    )?;
    let d = stride.len();
    let (xs, ws) = (x.shape(), w.shape());
    let (cin, cout) = (xs[1], ws[0]);
    if groups == 0 || cin % groups != 0 || cout % groups != 0 {
        return Err(Error::invalid(
            op,
            "groups",
            format!(
                "groups = {groups} must be at least 1 and divide both the input channels {cin} \
                 (input {xs:?}) and the output channels {cout} (weight {ws:?})"
            ),
        ));
    }
    if ws[1] * groups != cin {
        return Err(Error::shape(
            op,
            xs,
            format!(
                "weight {ws:?} with groups = {groups} expects {} input channels ({} per group), \
                 but the input has {cin} (dim 1)",
                ws[1] * groups,
                ws[1]
            ),
        ));
    }
    check_bias(op, b, cout, w)?;
    let (sp, k) = (&xs[2..], &ws[2..]);
    let mut sizes = Vec::with_capacity(d);
    for i in 0..d {
        sizes.push(padded_and_extent(
            op,
            xs,
            (sp[i], padding[i], k[i], dilation[i]),
        )?);
    }
    if k.contains(&0) || sizes.iter().any(|&(padded, extent)| padded < extent) {
        let (padded, extents): (Vec<usize>, Vec<usize>) = sizes.iter().copied().unzip();
        return Err(Error::shape(
            op,
            xs,
            format!(
                "the padded input {} (padding {padding:?}) is smaller than the kernel {} \
                 (weight {ws:?}, dilation {dilation:?}), or the kernel is empty",
                spatial(&padded),
                spatial(&extents),
            ),
        ));
    }
    let out: Vec<usize> = sizes
        .iter()
        .zip(stride)
        .map(|(&(padded, extent), &s)| (padded - extent) / s + 1)
        .collect();
    let win = Window2d::from_dims(sp, (k, stride, padding, dilation), &out);
    Ok(ConvGeom {
        batch: xs[0],
        groups,
        x_channels: cin,
        y_channels: cout,
        win,
    })
}

/// Stride, padding, output padding and dilation, one entry per spatial dim.
type Spec<'a> = (&'a [usize], &'a [usize], &'a [usize], &'a [usize]);

/// Checks a batched transposed convolution `x [N, Cin, *spatial]` with
/// `w [Cin, Cout / groups, *kernel]` and returns the geometry of the convolution it
/// transposes, as a 2-D problem (a 1-D one has height 1): that convolution maps the output
/// (`Cout` channels) to the input (`Cin` channels).
pub(super) fn check_conv_transpose(
    op: &'static str,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    (stride, padding, output_padding, dilation): Spec,
    groups: usize,
) -> Result<ConvGeom> {
    check_operands(
        op,
        (x, w, b),
        "in_channels, out_channels / groups",
        stride,
        dilation,
    )?;
    let d = stride.len();
    let (xs, ws) = (x.shape(), w.shape());
    let cin = xs[1];
    if groups == 0 || cin % groups != 0 {
        return Err(Error::invalid(
            op,
            "groups",
            format!("groups = {groups} must be at least 1 and divide the input channels {cin} (input {xs:?})"),
        ));
    }
    if ws[0] != cin {
        return Err(Error::shape(
            op,
            xs,
            format!("weight {ws:?} expects {} input channels (its dim 0), but the input has {cin} (dim 1)", ws[0]),
        ));
    }
    let cout = ws[1] * groups;
    check_bias(op, b, cout, w)?;
    let (sp, k) = (&xs[2..], &ws[2..]);
    let mut out = Vec::with_capacity(d);
    for i in 0..d {
        // The convolution this op transposes must have sane sizes too.
        padded_and_extent(op, xs, (0, padding[i], k[i], dilation[i]))?;
        if output_padding[i] >= stride[i] && output_padding[i] >= dilation[i] {
            return Err(Error::invalid(
                op,
                "output_padding",
                format!(
                    "{output_padding:?} must be smaller than either the stride {stride:?} or the \
                     dilation {dilation:?} in every dim"
                ),
            ));
        }
        let wide = |v: usize| v as i128;
        let full = (wide(sp[i]) - 1) * wide(stride[i])
            + wide(dilation[i]) * (wide(k[i]) - 1)
            + wide(output_padding[i])
            + 1;
        let size = full - 2 * wide(padding[i]);
        if size > wide(usize::MAX / 4) {
            return Err(Error::shape(
                op,
                xs,
                format!("the output size {size} along dim {} is too large", i + 2),
            ));
        }
        if k[i] == 0 || sp[i] == 0 || size <= 0 {
            return Err(Error::shape(
                op,
                xs,
                format!(
                    "the output size would be empty or negative: input {} with weight {ws:?}, \
                     stride {stride:?}, padding {padding:?}, output padding {output_padding:?}, \
                     dilation {dilation:?}",
                    spatial(sp)
                ),
            ));
        }
        out.push(size as usize);
    }
    // The transposed convolution's output is the input of the convolution it transposes.
    let win = Window2d::from_dims(&out, (k, stride, padding, dilation), sp);
    Ok(ConvGeom {
        batch: xs[0],
        groups,
        x_channels: cout,
        y_channels: cin,
        win,
    })
}
