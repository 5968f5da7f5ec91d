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
            format!(
                "expected a {}-D weight [out_channels, in_channels / groups, {kdims}]",
                d + 2
            ),
        ));
    }
    check_positive(op, "stride", stride)?;
    check_positive(op, "dilation", dilation)?;
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
    let mut out = Vec::with_capacity(d);
    for i in 0..d {
        let extent = dilation[i] * k[i].saturating_sub(1) + 1;
        if k[i] == 0 || sp[i] + 2 * padding[i] < extent {
            return Err(Error::shape(
                op,
                xs,
                format!(
                    "the padded input {} (padding {padding:?}) is smaller than the kernel {} \
                     (weight {ws:?}, dilation {dilation:?}), or the kernel is empty",
                    spatial(
                        &sp.iter()
                            .zip(padding)
                            .map(|(s, p)| s + 2 * p)
                            .collect::<Vec<_>>()
                    ),
                    spatial(
                        &k.iter()
                            .zip(dilation)
                            .map(|(k, d)| d * k.saturating_sub(1) + 1)
                            .collect::<Vec<_>>()
                    ),
                ),
            ));
        }
        out.push((sp[i] + 2 * padding[i] - extent) / stride[i] + 1);
    }
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
            format!(
                "expected a {}-D weight [in_channels, out_channels / groups, {kdims}]",
                d + 2
            ),
        ));
    }
    check_positive(op, "stride", stride)?;
    check_positive(op, "dilation", dilation)?;
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
        let full = (sp[i] as i64 - 1) * stride[i] as i64
            + (dilation[i] * k[i].saturating_sub(1)) as i64
            + output_padding[i] as i64
            + 1;
        let size = full - 2 * padding[i] as i64;
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
