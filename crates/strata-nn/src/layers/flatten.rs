//! `Flatten`: merges a range of dims into one (the bridge from convolutions to `Linear`).

use crate::{hooks, Forward, Module, Result, Visitor};
use strata_core::Tensor;

/// Merges dims `start_dim..=end_dim` into one, like PyTorch's `nn.Flatten` (defaults
/// `start_dim = 1`, `end_dim = -1`: `[N, C, H, W]` → `[N, C·H·W]`). Negative dims count
/// from the back. The result is a view when the input's layout allows it.
///
/// ```
/// use strata_nn::{Flatten, Forward};
/// use strata_core::Tensor;
/// let x = Tensor::zeros(&[2, 3, 4, 5]);
/// assert_eq!(Flatten::new().forward(&x)?.shape(), &[2, 60]);
/// assert_eq!(Flatten::with_dims(1, 2).forward(&x)?.shape(), &[2, 12, 5]);
/// assert_eq!(Flatten::with_dims(0, -1).forward(&x)?.shape(), &[120]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Flatten {
    start_dim: isize,
    end_dim: isize,
}

impl Flatten {
    /// Flattens everything after the batch dim (`start_dim = 1`, `end_dim = -1`).
    pub fn new() -> Flatten {
        Flatten::with_dims(1, -1)
    }

    /// Flattens dims `start_dim..=end_dim` (checked against the input at forward time).
    pub fn with_dims(start_dim: isize, end_dim: isize) -> Flatten {
        Flatten { start_dim, end_dim }
    }

    /// The first merged dim.
    pub fn start_dim(&self) -> isize {
        self.start_dim
    }

    /// The last merged dim.
    pub fn end_dim(&self) -> isize {
        self.end_dim
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn visit(&self, _: &mut dyn Visitor) {}

    fn extra_repr(&self) -> String {
        format!("start_dim={}, end_dim={}", self.start_dim, self.end_dim)
    }
}

impl Forward for Flatten {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        let y = input.flatten(self.start_dim, self.end_dim)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_core::{gradcheck, GradcheckOptions};

    #[test]
    fn out_of_range_dims_are_errors() {
        let err = Flatten::new().forward(&Tensor::zeros(&[4])).unwrap_err();
        assert!(err.to_string().contains("flatten"), "{err}");
        assert!(Flatten::with_dims(2, 1)
            .forward(&Tensor::zeros(&[2, 3, 4]))
            .is_err());
    }

    #[test]
    fn gradient_flows_back_in_the_input_shape_also_from_a_strided_view() {
        let f = Flatten::new();
        gradcheck(
            |t| {
                f.forward(&t[0].transpose(1, 2)?).map_err(|e| match e {
                    crate::Error::Tensor(e) => e,
                    other => panic!("{other}"),
                })
            },
            &[Tensor::randn(&[2, 3, 4])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }
}
