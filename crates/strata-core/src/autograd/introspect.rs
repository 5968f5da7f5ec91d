//! Graph introspection: the recorded ops behind a tensor, for visualisation and debugging.

use super::engine::topological_order;
use crate::{DType, Result, Tensor, TensorId};

/// One input of a recorded op.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphInput {
    /// The input tensor's id (matches [`GraphNode::id`] when the input is itself recorded).
    pub id: TensorId,
    pub shape: Vec<usize>,
    /// True for leaves: parameters and plain inputs.
    pub is_leaf: bool,
    pub requires_grad: bool,
}

/// One recorded op in the graph that produced a tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// The id of the tensor this op produced.
    pub id: TensorId,
    /// The op's name, e.g. `"matmul"`.
    pub op: &'static str,
    pub output_shape: Vec<usize>,
    pub dtype: DType,
    pub inputs: Vec<GraphInput>,
}

impl Tensor {
    /// The recorded ops that produced this tensor, inputs before the ops that use them
    /// (the output's own op comes last). Empty for a leaf.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let w = Tensor::ones(&[3, 2]).requires_grad_();
    /// let x = Tensor::ones(&[4, 3]);
    /// let y = x.matmul(&w)?.relu()?.sum_all()?;
    /// let ops: Vec<&str> = y.graph()?.iter().map(|n| n.op).collect();
    /// assert_eq!(ops, ["matmul", "relu", "sum"]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn graph(&self) -> Result<Vec<GraphNode>> {
        let order = topological_order(self)?;
        Ok(order
            .into_iter()
            .rev()
            .map(|(t, node)| GraphNode {
                id: t.id(),
                op: node.name(),
                output_shape: t.shape().to_vec(),
                dtype: t.dtype(),
                inputs: node
                    .inputs()
                    .iter()
                    .map(|i| GraphInput {
                        id: i.id(),
                        shape: i.shape().to_vec(),
                        is_leaf: i.grad_fn().is_none(),
                        requires_grad: i.requires_grad(),
                    })
                    .collect(),
            })
            .collect())
    }
}
