//! The backward pass: an iterative topological walk from the output to the leaves.

use super::id_hash::{IdMap, IdSet};
use super::{GradFn, Gradients, NoGradGuard};
use crate::{Error, Result, Tensor};
use std::sync::Arc;

/// The callback of [`Tensor::backward_with_hook`]: a leaf and its final gradient.
type LeafHook<'a> = dyn FnMut(&Tensor, &Tensor) -> Result<()> + 'a;

/// Options of a backward pass.
#[derive(Clone, Copy, Debug, Default)]
pub struct BackwardOptions {
    /// Keep the graph after the pass so `backward` can run through it again. By default the
    /// graph is freed node by node as the pass goes, which lowers peak memory.
    pub retain_graph: bool,
}

/// Nodes reachable from `root`, each before all of its inputs (reverse post-order of an
/// explicit-stack depth-first search: no recursion, so depth is unlimited).
pub(crate) fn topological_order(root: &Tensor) -> Result<Vec<(Tensor, Arc<GradFn>)>> {
    let mut post: Vec<(Tensor, Arc<GradFn>)> = Vec::new();
    let mut visited = IdSet::default();
    let Some(root_fn) = root.grad_fn() else {
        return Ok(post);
    };
    visited.insert(root.id());
    let mut stack: Vec<(Tensor, Arc<GradFn>, usize)> = vec![(root.clone(), root_fn, 0)];
    while let Some((_, node, next)) = stack.last_mut() {
        if *next < node.inputs.len() {
            let child = node.inputs[*next].clone();
            *next += 1;
            if !child.requires_grad() || visited.contains(&child.id()) {
                continue;
            }
            if let Some(child_fn) = child.grad_fn() {
                visited.insert(child.id());
                stack.push((child, child_fn, 0));
            } else if child.graph_freed() {
                return Err(freed_error());
            }
        } else if let Some((t, node, _)) = stack.pop() {
            post.push((t, node));
        }
    }
    post.reverse();
    Ok(post)
}

fn freed_error() -> Error {
    Error::Backward(
        "the graph was already freed by an earlier backward(); pass \
         BackwardOptions { retain_graph: true } to the first call to run backward twice"
            .into(),
    )
}

impl Tensor {
    /// Backpropagates from this scalar (one-element) tensor and returns the gradient of every
    /// leaf tensor that requires grad. Frees the graph as it goes.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let x = Tensor::from_vec(vec![3.0f64], &[1])?.requires_grad_();
    /// let y = x.mul(&x)?.mul(&x)?.sum_all()?;      // x^3
    /// let g = y.backward()?;
    /// assert_eq!(g.get(&x).unwrap().to_vec::<f64>()?, vec![27.0]);
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn backward(&self) -> Result<Gradients> {
        if self.numel() != 1 {
            return Err(Error::Backward(format!(
                "backward() needs a tensor with one element (a loss), got shape {:?}; \
                 use backward_with(grad_output) for other shapes",
                self.shape()
            )));
        }
        let seed = Tensor::ones_like(self);
        self.backward_with_options(&seed, BackwardOptions::default())
    }

    /// Backpropagates with a given gradient of the output (same shape as `self`).
    pub fn backward_with(&self, grad_output: &Tensor) -> Result<Gradients> {
        self.backward_with_options(grad_output, BackwardOptions::default())
    }

    /// Backpropagation with every option.
    pub fn backward_with_options(
        &self,
        grad_output: &Tensor,
        options: BackwardOptions,
    ) -> Result<Gradients> {
        self.run_backward(grad_output, options, None)
    }

    /// Backpropagates from this scalar like [`backward`](Tensor::backward), and calls
    /// `on_leaf(leaf, gradient)` for each leaf as soon as its gradient is final (no op still
    /// to run feeds it), while the rest of the pass goes on. Data-parallel training uses it
    /// to start sending the last layers' gradients while the first layers' are still being
    /// computed. An error from `on_leaf` stops the pass and is returned.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// let w1 = Tensor::from_vec(vec![2.0f32], &[1])?.requires_grad_();
    /// let w2 = Tensor::from_vec(vec![3.0f32], &[1])?.requires_grad_();
    /// let loss = w1.mul_scalar(5.0)?.tanh()?.mul(&w2)?.sum_all()?;
    /// let mut ready = Vec::new();
    /// let grads = loss.backward_with_hook(&mut |leaf, grad| {
    ///     ready.push((leaf.id(), grad.to_vec::<f32>()?[0]));
    ///     Ok(())
    /// })?;
    /// // w2 (used last in the forward pass) is final first.
    /// assert_eq!(ready[0].0, w2.id());
    /// assert_eq!(ready[1], (w1.id(), grads.get(&w1).unwrap().to_vec::<f32>()?[0]));
    /// # Ok::<(), strata_core::Error>(())
    /// ```
    pub fn backward_with_hook(
        &self,
        on_leaf: &mut dyn FnMut(&Tensor, &Tensor) -> Result<()>,
    ) -> Result<Gradients> {
        if self.numel() != 1 {
            return Err(Error::Backward(format!(
                "backward_with_hook() needs a tensor with one element (a loss), got shape {:?}",
                self.shape()
            )));
        }
        let seed = Tensor::ones_like(self);
        self.run_backward(&seed, BackwardOptions::default(), Some(on_leaf))
    }

    fn run_backward(
        &self,
        grad_output: &Tensor,
        options: BackwardOptions,
        mut on_leaf: Option<&mut LeafHook<'_>>,
    ) -> Result<Gradients> {
        if !self.requires_grad() {
            return Err(Error::Backward(
                "the tensor does not require grad: no input of the ops that made it has \
                 requires_grad set (or it was computed under no_grad)"
                    .into(),
            ));
        }
        if grad_output.shape() != self.shape() {
            return Err(Error::mismatch(
                "backward",
                self.shape(),
                grad_output.shape(),
                " (the output and its gradient must have the same shape)",
            ));
        }
        if grad_output.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch {
                op: "backward",
                lhs: self.dtype(),
                rhs: grad_output.dtype(),
            });
        }
        if self.graph_freed() {
            return Err(freed_error());
        }
        let _guard = NoGradGuard::new();
        let order = topological_order(self)?;
        let mut result = Gradients::new();
        if order.is_empty() {
            // A leaf: its gradient is the seed.
            if let Some(hook) = on_leaf.as_mut() {
                hook(self, grad_output)?;
            }
            result.insert_id(self.id(), grad_output.clone());
            return Ok(result);
        }
        let finishing = match on_leaf {
            Some(_) => leaves_by_last_use(&order),
            None => Vec::new(),
        };
        let mut pending = Gradients::new();
        pending.insert_id(self.id(), grad_output.clone());
        for (at, (tensor, node)) in order.into_iter().enumerate() {
            if let (Some(hook), Some(leaves)) = (on_leaf.as_mut(), finishing.get(at)) {
                // The leaves last fed by the node before this one are final now. (Run
                // here rather than after the node so that a `continue` cannot skip them.)
                call_hook(&mut **hook, leaves, &result)?;
            }
            if !options.retain_graph {
                tensor.free_grad_fn();
            }
            let Some(grad) = pending.remove_id(tensor.id()) else {
                continue;
            };
            if tensor.retains_grad() {
                result.insert_id(tensor.id(), grad.clone());
            }
            let input_grads = node.op.backward(&grad, &node.inputs)?;
            drop(grad);
            if input_grads.len() != node.inputs.len() {
                return Err(Error::Backward(format!(
                    "op {} returned {} gradients for {} inputs",
                    node.op.name(),
                    input_grads.len(),
                    node.inputs.len()
                )));
            }
            for (i, (input, g)) in node.inputs.iter().zip(input_grads).enumerate() {
                let Some(g) = g else { continue };
                if !input.requires_grad() {
                    continue;
                }
                if g.shape() != input.shape() {
                    return Err(Error::GradientShape {
                        op: node.op.name(),
                        input: i,
                        got: g.shape().into(),
                        expected: input.shape().into(),
                    });
                }
                if input.grad_fn().is_some() {
                    pending.accumulate(input.id(), g)?;
                } else {
                    // Leaf gradients feed optimisers: hand them over contiguous.
                    result.accumulate(input.id(), g.contiguous())?;
                }
            }
        }
        if let (Some(hook), Some(leaves)) = (on_leaf.as_mut(), finishing.last()) {
            call_hook(&mut **hook, leaves, &result)?;
        }
        Ok(result)
    }
}

/// For each position `i` of `order` plus one, the leaves (requiring grad) whose last
/// consumer is node `i - 1`: they are final once that node has run. Entry 0 is empty.
fn leaves_by_last_use(order: &[(Tensor, Arc<GradFn>)]) -> Vec<Vec<Tensor>> {
    let mut last: IdMap<(usize, Tensor)> = IdMap::default();
    for (i, (_, node)) in order.iter().enumerate() {
        for input in &node.inputs {
            if input.requires_grad() && input.grad_fn().is_none() {
                last.insert(input.id(), (i + 1, input.clone()));
            }
        }
    }
    let mut finishing = vec![Vec::new(); order.len() + 1];
    for (at, leaf) in last.into_values() {
        finishing[at].push(leaf);
    }
    // The same order on every run (and every rank): by the leaves' creation.
    finishing.iter_mut().for_each(|l| l.sort_by_key(|t| t.id()));
    finishing
}

fn call_hook(hook: &mut LeafHook<'_>, leaves: &[Tensor], result: &Gradients) -> Result<()> {
    for leaf in leaves {
        if let Some(g) = result.get_id(leaf.id()) {
            hook(leaf, g)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn diamond_accumulates_both_paths() {
        // y = a*b + a  => dy/da = b + 1
        let a = Tensor::from_vec(vec![2.0f64, 3.0], &[2])
            .unwrap()
            .requires_grad_();
        let b = Tensor::from_vec(vec![5.0f64, 7.0], &[2])
            .unwrap()
            .requires_grad_();
        let y = a.mul(&b).unwrap().add(&a).unwrap().sum_all().unwrap();
        let g = y.backward().unwrap();
        assert_eq!(g.get(&a).unwrap().to_vec::<f64>().unwrap(), vec![6.0, 8.0]);
        assert_eq!(g.get(&b).unwrap().to_vec::<f64>().unwrap(), vec![2.0, 3.0]);
    }

    #[test]
    fn hook_sees_each_leaf_once_with_its_final_gradient_before_earlier_layers_finish() {
        // A three-layer chain where the first weight is used twice (at both ends), so it is
        // final only at the very end, while w3 is final right after the last layer's node.
        let leaf = |v: f64| Tensor::from_vec(vec![v], &[1]).unwrap().requires_grad_();
        let (w1, w2, w3, x) = (leaf(0.5), leaf(-1.5), leaf(2.0), leaf(0.3));
        let h1 = x.mul(&w1).unwrap().tanh().unwrap();
        let h2 = h1.mul(&w2).unwrap().tanh().unwrap();
        let out = h2.mul(&w3).unwrap().add(&w1).unwrap().sum_all().unwrap();
        let mut seen: Vec<(crate::TensorId, f64, usize)> = Vec::new();
        let mut calls = 0;
        let grads = out
            .backward_with_hook(&mut |leaf, g| {
                calls += 1;
                seen.push((leaf.id(), g.to_vec::<f64>()?[0], calls));
                Ok(())
            })
            .unwrap();
        let ids: Vec<_> = seen.iter().map(|s| s.0).collect();
        assert_eq!(ids.len(), 4, "each leaf exactly once: {ids:?}");
        // w3 before w2, and w2 before w1 and x (which finish with the first layer).
        let pos = |t: &Tensor| ids.iter().position(|&i| i == t.id()).unwrap();
        assert!(pos(&w3) < pos(&w2) && pos(&w2) < pos(&w1) && pos(&w2) < pos(&x));
        for (id, g, _) in &seen {
            assert_eq!(grads.get_id(*id).unwrap().to_vec::<f64>().unwrap()[0], *g);
        }
        // Against the plain pass.
        let h1 = x.mul(&w1).unwrap().tanh().unwrap();
        let h2 = h1.mul(&w2).unwrap().tanh().unwrap();
        let out = h2.mul(&w3).unwrap().add(&w1).unwrap().sum_all().unwrap();
        let plain = out.backward().unwrap();
        for t in [&w1, &w2, &w3, &x] {
            assert_eq!(
                plain.get(t).unwrap().to_vec::<f64>().unwrap(),
                grads.get(t).unwrap().to_vec::<f64>().unwrap()
            );
        }
    }

    #[test]
    fn gradients_summed_in_place_never_touch_a_tensor_someone_else_holds() {
        // A custom op whose gradient is a view of a tensor the caller still holds:
        // summing a leaf's gradients must not write into either.
        use crate::BackwardOp;
        struct Gives(Tensor);
        impl BackwardOp for Gives {
            fn name(&self) -> &'static str {
                "gives"
            }
            fn backward(&self, _: &Tensor, _: &[Tensor]) -> crate::Result<Vec<Option<Tensor>>> {
                // A fresh handle on the held storage: only the storage is shared.
                Ok(vec![Some(self.0.reshape(&[1, 2])?.reshape(&[2])?)])
            }
        }
        let held = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
        let wide = Tensor::from_vec(vec![10.0f32, 20.0, 30.0, 40.0], &[2, 2]).unwrap();
        let view = wide.select(0, 1).unwrap();
        let w = Tensor::zeros(&[2]).requires_grad_();
        let a = crate::no_grad(|| w.mul_scalar(1.0))
            .unwrap()
            .record(&[&w], Gives(held.clone()));
        let b = crate::no_grad(|| w.mul_scalar(1.0))
            .unwrap()
            .record(&[&w], Gives(view.clone()));
        // Whichever arrives first is held elsewhere; the second is added to it.
        let loss = a.add(&b).unwrap().sum_all().unwrap();
        let g = loss.backward().unwrap();
        assert_eq!(
            g.get(&w).unwrap().to_vec::<f32>().unwrap(),
            vec![31.0, 42.0]
        );
        assert_eq!(held.to_vec::<f32>().unwrap(), vec![1.0, 2.0]);
        assert_eq!(wide.to_vec::<f32>().unwrap(), vec![10.0, 20.0, 30.0, 40.0]);
    }

    #[test]
    fn hook_error_stops_the_pass() {
        let w = Tensor::ones(&[2]).requires_grad_();
        let out = w.mul_scalar(2.0).unwrap().sum_all().unwrap();
        let err = out
            .backward_with_hook(&mut |_, _| Err(crate::Error::Backward("link down".into())))
            .unwrap_err();
        assert!(err.to_string().contains("link down"), "{err}");
        let leaf = Tensor::ones(&[1]).requires_grad_();
        let mut n = 0;
        leaf.backward_with_hook(&mut |_, _| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1, "a leaf loss is its own final gradient");
    }

    #[test]
    fn second_backward_needs_retain_graph() {
        let a = Tensor::ones(&[2]).requires_grad_();
        let y = a.mul_scalar(2.0).unwrap().sum_all().unwrap();
        y.backward().unwrap();
        let err = y.backward().unwrap_err();
        assert!(err.to_string().contains("already freed"), "{err}");

        let y = a.mul_scalar(2.0).unwrap().sum_all().unwrap();
        let opts = crate::BackwardOptions { retain_graph: true };
        let seed = Tensor::ones_like(&y);
        let g1 = y.backward_with_options(&seed, opts).unwrap();
        let g2 = y.backward_with_options(&seed, opts).unwrap();
        assert_eq!(
            g1.get(&a).unwrap().to_vec::<f32>().unwrap(),
            g2.get(&a).unwrap().to_vec::<f32>().unwrap()
        );
    }

    #[test]
    fn backward_without_grad_is_an_error() {
        let a = Tensor::ones(&[1]);
        assert!(a.backward().is_err());
        let b = Tensor::ones(&[2]).requires_grad_();
        let err = b.mul_scalar(1.0).unwrap().backward().unwrap_err();
        assert!(err.to_string().contains("one element"), "{err}");
    }

    #[test]
    fn retained_intermediate_gradient_is_returned() {
        let a = Tensor::from_vec(vec![1.0f32, 2.0], &[2])
            .unwrap()
            .requires_grad_();
        let h = a.mul_scalar(3.0).unwrap();
        h.retain_grad();
        let y = h.mul(&h).unwrap().sum_all().unwrap();
        let g = y.backward().unwrap();
        assert_eq!(g.get(&h).unwrap().to_vec::<f32>().unwrap(), vec![6.0, 12.0]);
        assert_eq!(
            g.get(&a).unwrap().to_vec::<f32>().unwrap(),
            vec![18.0, 36.0]
        );
    }

    #[test]
    fn deep_chain_backpropagates_and_drops_without_overflow() {
        // A 1,000-layer chain and a 10,000-step recurrence, on a small stack.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let x = Tensor::from_vec(vec![1.0f64], &[1])
                    .unwrap()
                    .requires_grad_();
                let mut h = x.clone();
                for _ in 0..10_000 {
                    h = h.mul_scalar(1.0001).unwrap().add_scalar(0.0).unwrap();
                }
                let loss = h.sum_all().unwrap();
                let g = loss.backward().unwrap();
                let expected = 1.0001f64.powi(10_000);
                let got = g.get(&x).unwrap().to_vec::<f64>().unwrap()[0];
                assert!((got - expected).abs() < 1e-9 * expected);

                // Build another deep graph and just drop it (no backward).
                let mut h = x.clone();
                for _ in 0..20_000 {
                    h = h.mul_scalar(1.0).unwrap();
                }
                drop(h);
            })
            .unwrap();
        handle.join().unwrap();
    }
}
