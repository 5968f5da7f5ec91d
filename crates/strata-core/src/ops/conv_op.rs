//! The one recorded op behind [`Tensor::conv2d`], [`Tensor::conv1d`] and their transposes:
//! a convolution and a transposed convolution are the same three im2col + GEMM passes of
//! `conv_gemm.rs` in swapped roles, so one forward and one backward serve both.
//!
//! | pass            | convolution                  | transposed convolution          |
//! |-----------------|------------------------------|---------------------------------|
//! | forward         | `forward(x, w, b)`           | `backward_data(x, w, b)`        |
//! | input gradient  | `backward_data(gy, w)`       | `forward(gy, w)`                |
//! | weight gradient | `backward_weight(gy, x)`     | `backward_weight(x, gy)`        |
//! | bias gradient   | sum of `gy` over `y` planes  | sum of `gy` over `x` planes     |
//!
//! `geom` always describes the convolution (x side = its input, y side = its output), so a
//! transposed convolution's input is the y side.

use super::conv_gemm::{self, ConvGeom};
use super::float_dispatch;
use crate::autograd::{needs_grad, BackwardOp};
use crate::{FloatElement, Result, Tensor};

/// Which way the op runs the convolution of its geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Conv,
    Transposed,
}

impl Direction {
    /// The 4-D output shape.
    fn out_shape(self, g: &ConvGeom) -> [usize; 4] {
        match self {
            Direction::Conv => [g.batch, g.y_channels, g.win.oh, g.win.ow],
            Direction::Transposed => [g.batch, g.x_channels, g.win.h, g.win.w],
        }
    }

    /// The op itself on contiguous operands.
    fn apply<T: FloatElement>(self, g: &ConvGeom, x: &[T], w: &[T], b: Option<&[T]>) -> Vec<T> {
        match self {
            Direction::Conv => conv_gemm::forward(g, x, w, b),
            Direction::Transposed => conv_gemm::backward_data(g, x, w, b),
        }
    }

    /// The gradient of the op's input, from the gradient of its output.
    fn input_grad<T: FloatElement>(self, g: &ConvGeom, gy: &[T], w: &[T]) -> Vec<T> {
        match self {
            Direction::Conv => conv_gemm::backward_data(g, gy, w, None),
            Direction::Transposed => conv_gemm::forward(g, gy, w, None),
        }
    }

    /// The gradient of the weight, from the op's input and its output's gradient.
    fn weight_grad<T: FloatElement>(self, g: &ConvGeom, gy: &[T], x: &[T]) -> Vec<T> {
        match self {
            Direction::Conv => conv_gemm::backward_weight(g, gy, x),
            Direction::Transposed => conv_gemm::backward_weight(g, x, gy),
        }
    }

    /// The gradient of the bias: the output gradient summed over each channel's planes.
    fn bias_grad<T: FloatElement>(self, g: &ConvGeom, gy: &[T]) -> Vec<T> {
        match self {
            Direction::Conv => conv_gemm::bias_grad(gy, g.y_channels, g.win.out_len()),
            Direction::Transposed => conv_gemm::bias_grad(gy, g.x_channels, g.win.in_len()),
        }
    }
}

/// Runs the checked op on 4-D operands (1-D ops pass views with height 1) and records its
/// backward.
pub(crate) fn conv_recorded(
    op: &'static str,
    dir: Direction,
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    geom: ConvGeom,
) -> Result<Tensor> {
    let shape = dir.out_shape(&geom);
    let out = float_dispatch!(x.dtype(), op, T => {
        let (xc, wc) = (x.detach().contiguous(), w.detach().contiguous());
        let bc = b.map(|b| b.detach().contiguous());
        let (xs, ws) = (xc.read::<T>()?, wc.read::<T>()?);
        let bs = match &bc {
            Some(b) => Some(b.read::<T>()?),
            None => None,
        };
        let y = dir.apply(&geom, &xs, &ws, bs.as_deref());
        Tensor::from_data(T::into_storage(y), &shape)
    });
    let inputs: Vec<&Tensor> = [Some(x), Some(w), b].into_iter().flatten().collect();
    if !needs_grad(&inputs) {
        return Ok(out);
    }
    Ok(out.record(&inputs, ConvBackward { geom, op, dir }))
}

/// The backward pass: input, weight and (when recorded) bias gradients, each only when
/// asked for.
struct ConvBackward {
    geom: ConvGeom,
    op: &'static str,
    dir: Direction,
}

impl BackwardOp for ConvBackward {
    fn name(&self) -> &'static str {
        self.op
    }

    fn backward(&self, grad: &Tensor, inputs: &[Tensor]) -> Result<Vec<Option<Tensor>>> {
        let (x, w, b) = (&inputs[0], &inputs[1], inputs.get(2));
        let (geom, dir) = (&self.geom, self.dir);
        float_dispatch!(grad.dtype(), self.op, T => {
            let gc = grad.detach().contiguous();
            let gy = gc.read::<T>()?;
            let gx = if x.requires_grad() {
                let wc = w.detach().contiguous();
                let v = dir.input_grad(geom, &gy, &wc.read::<T>()?);
                Some(Tensor::from_data(T::into_storage(v), x.shape()))
            } else {
                None
            };
            let gw = if w.requires_grad() {
                let xc = x.detach().contiguous();
                let v = dir.weight_grad(geom, &gy, &xc.read::<T>()?);
                Some(Tensor::from_data(T::into_storage(v), w.shape()))
            } else {
                None
            };
            let mut grads = vec![gx, gw];
            if let Some(b) = b {
                grads.push(b.requires_grad().then(|| {
                    let v = dir.bias_grad(geom, &gy);
                    Tensor::from_data(T::into_storage(v), b.shape())
                }));
            }
            Ok(grads)
        })
    }
}
