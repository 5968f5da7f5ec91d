//! `Embedding`: a lookup table of learnable vectors indexed by integer ids.

use crate::{hooks, Error, Forward, Module, Param, Result, Visitor};
use strata_core::{DType, Tensor};

/// A table of `num_embeddings` learnable vectors of size `embedding_dim` (parameter
/// `weight`, `[num_embeddings, embedding_dim]`, initialised standard normal like PyTorch).
/// An `i64` input of any shape `[*]` gives `[*, embedding_dim]`; an index outside
/// `0..num_embeddings` is an error naming it.
///
/// With `padding_idx`, that row starts at zero and never receives a gradient (its vector
/// stays fixed during training).
///
/// ```
/// use strata_nn::{Embedding, Forward};
/// use strata_core::Tensor;
/// let emb = Embedding::with_padding(10, 3, Some(0))?;
/// let ids = Tensor::from_vec(vec![0i64, 4, 9, 4], &[2, 2])?;
/// let y = emb.forward(&ids)?;
/// assert_eq!(y.shape(), &[2, 2, 3]);
/// assert_eq!(y.to_vec::<f32>()?[..3], [0.0, 0.0, 0.0]); // the padding row
/// let err = emb.forward(&Tensor::from_vec(vec![3i64, 10], &[2])?).unwrap_err();
/// assert_eq!(err.to_string(), "Embedding(10, 3, padding_idx=0): expected indices in 0..10, found 10, got input of shape [2]");
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub struct Embedding {
    weight: Param,
    padding_idx: Option<usize>,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of size `embedding_dim` (f32, standard normal).
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Result<Embedding> {
        Embedding::with_padding(num_embeddings, embedding_dim, None)
    }

    /// Like [`Embedding::new`], with an optional padding row that starts at zero and gets
    /// no gradient.
    pub fn with_padding(
        num_embeddings: usize,
        embedding_dim: usize,
        padding_idx: Option<usize>,
    ) -> Result<Embedding> {
        if num_embeddings == 0 || embedding_dim == 0 {
            return Err(Error::config(
                "Embedding",
                format!(
                    "num_embeddings and embedding_dim must be positive, got {num_embeddings} and {embedding_dim}"
                ),
            ));
        }
        // The same draws as `Tensor::randn`, but an absurd size is an error, not a panic.
        let weight = crate::init::Init::Normal {
            mean: 0.0,
            std: 1.0,
        }
        .tensor(&[num_embeddings, embedding_dim])?;
        let emb = Embedding::from_weight(weight, padding_idx)?;
        if let Some(p) = padding_idx {
            emb.weight.detach().select(0, p)?.fill_(0.0)?;
        }
        Ok(emb)
    }

    /// A table with the given vectors (`[num_embeddings, embedding_dim]`, floating point;
    /// PyTorch's `from_pretrained`). The padding row, if any, is kept as given.
    pub fn from_weight(weight: Tensor, padding_idx: Option<usize>) -> Result<Embedding> {
        if weight.ndim() != 2 || weight.numel() == 0 || !weight.dtype().is_float() {
            return Err(Error::config(
                "Embedding",
                format!(
                    "weight must be a non-empty [num_embeddings, embedding_dim] float tensor, got {} of shape {:?}",
                    weight.dtype(),
                    weight.shape()
                ),
            ));
        }
        if let Some(p) = padding_idx
            && p >= weight.shape()[0]
        {
            return Err(Error::config(
                "Embedding",
                format!(
                    "padding_idx {p} is out of range for {} embeddings",
                    weight.shape()[0]
                ),
            ));
        }
        Ok(Embedding {
            weight: Param::new(weight),
            padding_idx,
        })
    }

    /// The table, `[num_embeddings, embedding_dim]`.
    pub fn weight(&self) -> &Param {
        &self.weight
    }

    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    pub fn embedding_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The row that gets no gradient, if any.
    pub fn padding_idx(&self) -> Option<usize> {
        self.padding_idx
    }

    fn name(&self) -> String {
        format!("Embedding({})", self.extra_repr())
    }
}

impl Module for Embedding {
    fn visit(&self, visitor: &mut dyn Visitor) {
        visitor.param("weight", &self.weight);
    }

    fn extra_repr(&self) -> String {
        match self.padding_idx {
            Some(p) => format!(
                "{}, {}, padding_idx={p}",
                self.num_embeddings(),
                self.embedding_dim()
            ),
            None => format!("{}, {}", self.num_embeddings(), self.embedding_dim()),
        }
    }
}

impl Forward for Embedding {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        if input.dtype() != DType::I64 {
            return Err(Error::Input {
                layer: self.name(),
                expected: format!("i64 indices, not {}", input.dtype()),
                got: input.shape().into(),
            });
        }
        let flat = input.reshape(&[input.numel()])?;
        let rows = lookup(&self.weight, &flat, self.padding_idx).map_err(|e| match e {
            // `index_select` checks every index; the layer's message names the table size.
            strata_core::Error::IndexOutOfRange { index, .. } => Error::Input {
                layer: self.name(),
                expected: format!("indices in 0..{}, found {index}", self.num_embeddings()),
                got: input.shape().into(),
            },
            other => other.into(),
        })?;
        let mut shape = input.shape().to_vec();
        shape.push(self.embedding_dim());
        let y = rows.reshape(&shape)?;
        hooks::emit(self, &y);
        Ok(y)
    }
}

/// The rows `indices` (flat `i64`) of `weight`, as `[len, dim]`: core `index_select`, whose
/// backward scatter-adds the gradient rows into the table, with the padding row frozen
/// (selected, but never given a gradient).
fn lookup(
    weight: &Tensor,
    indices: &Tensor,
    padding_idx: Option<usize>,
) -> strata_core::Result<Tensor> {
    match padding_idx {
        Some(p) => weight.index_select_frozen(0, indices, p),
        None => weight.index_select(0, indices),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ModuleExt;
    use strata_core::{gradcheck, GradcheckOptions};

    #[test]
    fn repeated_indices_accumulate_and_padding_gets_nothing() {
        let emb = Embedding::with_padding(5, 2, Some(1)).unwrap();
        assert_eq!(
            emb.weight().select(0, 1).unwrap().to_vec::<f32>().unwrap(),
            [0.0, 0.0]
        );
        let ids = Tensor::from_vec(vec![3i64, 1, 3, 0, 1, 3], &[3, 2]).unwrap();
        let y = emb.forward(&ids).unwrap();
        assert_eq!(y.shape(), &[3, 2, 2]);
        let g = Tensor::arange(0.0, 12.0, 1.0)
            .unwrap()
            .reshape(&[3, 2, 2])
            .unwrap();
        let grads = y.backward_with(&g).unwrap();
        let gw = emb.weight().grad(&grads).unwrap().to_vec::<f32>().unwrap();
        // Row 3 gets positions 0, 2 and 5; row 0 position 3; padding row 1 nothing.
        assert_eq!(
            gw,
            [
                6.0,
                7.0,
                0.0,
                0.0,
                0.0,
                0.0,
                0.0 + 4.0 + 10.0,
                1.0 + 5.0 + 11.0,
                0.0,
                0.0
            ]
        );
    }

    #[test]
    fn gradcheck_through_the_table() {
        let ids = Tensor::from_vec(vec![2i64, 0, 2, 3], &[2, 2]).unwrap();
        gradcheck(
            // Through the op directly: a layer would make its own leaf of the table.
            |t| lookup(&t[0], &ids.reshape(&[4])?, None),
            &[Tensor::randn(&[4, 3])],
            GradcheckOptions::default(),
        )
        .unwrap();
    }

    #[test]
    fn errors() {
        let emb = Embedding::new(4, 2).unwrap();
        let err = emb.forward(&Tensor::zeros(&[3])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Embedding(4, 2): expected i64 indices, not f32, got input of shape [3]"
        );
        let err = emb
            .forward(&Tensor::from_vec(vec![-1i64], &[1]).unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("found -1"), "{err}");
        assert!(Embedding::with_padding(4, 2, Some(4)).is_err());
        assert!(Embedding::new(0, 2).is_err());
        assert_eq!(emb.num_parameters(), 8);
        // An empty batch of indices gives an empty batch of vectors.
        let y = emb
            .forward(&Tensor::from_vec(Vec::<i64>::new(), &[0, 5]).unwrap())
            .unwrap();
        assert_eq!(y.shape(), &[0, 5, 2]);
    }
}
