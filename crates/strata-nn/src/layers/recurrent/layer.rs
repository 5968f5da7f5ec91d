//! The plumbing every recurrent layer (`RNN`, `LSTM`, `GRU`) shares, written once: the
//! accessors of its [`Stack`](super::stack::Stack), its `Module` impl (parameters,
//! training mode, description) and its `Forward` impl (the output sequence from a zero
//! state). A layer file keeps its cell kind, its state type and its docs.
//!
//! A new layer holds `stack: Stack`, defines `forward_with_state(&self, input, None)`
//! returning `(output, state)`, and invokes `recurrent_layer!(Name, "Name", extra)` where
//! `extra` gives what its description adds to the stack's (`|_| String::new()` for none).
//! A layer whose state is `h` alone (`RNN`, `GRU`) gets `forward_with_state` and
//! `forward_with_lengths` from [`hidden_state_forward!`] instead of writing them.

/// See the module docs.
macro_rules! recurrent_layer {
    ($layer:ident, $name:literal, $extra:expr) => {
        impl $layer {
            /// The hyperparameters.
            pub fn config(&self) -> RecurrentConfig {
                self.stack.config()
            }

            /// Features per input step.
            pub fn input_size(&self) -> usize {
                self.stack.input_size()
            }

            /// Units of the hidden state.
            pub fn hidden_size(&self) -> usize {
                self.stack.hidden_size()
            }

            /// The name errors give, e.g. `LSTM(4, 5)`.
            fn name(&self) -> String {
                format!(
                    concat!($name, "({}, {})"),
                    self.input_size(),
                    self.hidden_size()
                )
            }
        }

        impl Module for $layer {
            fn visit(&self, visitor: &mut dyn Visitor) {
                self.stack.visit(visitor);
            }

            fn set_training(&self, training: bool) {
                self.stack.set_training(training);
            }

            fn is_training(&self) -> Option<bool> {
                Some(self.stack.is_training())
            }

            fn extra_repr(&self) -> String {
                let extra: fn(&$layer) -> String = $extra;
                format!("{}{}", self.stack.extra_repr(), extra(self))
            }
        }

        impl Forward for $layer {
            /// The output sequence from a zero initial state.
            fn forward(&self, input: &Tensor) -> Result<Tensor> {
                Ok(self.forward_with_state(input, None)?.0)
            }
        }
    };
}
pub(super) use recurrent_layer;

/// `forward_with_state` and `forward_with_lengths` of a layer whose state is the hidden
/// state `h` alone (`RNN`, `GRU`; an LSTM also carries `c`), both running its `stack`.
/// The doc comments given before `fn forward_with_lengths` document that method (its
/// example is the layer's own).
macro_rules! hidden_state_forward {
    ($layer:ident, $(#[$lengths_doc:meta])* fn forward_with_lengths) => {
        impl $layer {
            /// The output sequence and the final hidden state, starting from `h0`
            /// (`[D·num_layers, B, H]`, zeros when `None`).
            pub fn forward_with_state(
                &self,
                input: &Tensor,
                h0: Option<&Tensor>,
            ) -> Result<(Tensor, Tensor)> {
                self.run(input, h0, None)
            }

            $(#[$lengths_doc])*
            pub fn forward_with_lengths(
                &self,
                input: &Tensor,
                h0: Option<&Tensor>,
                lengths: &[usize],
            ) -> Result<(Tensor, Tensor)> {
                self.run(input, h0, Some(lengths))
            }

            fn run(
                &self,
                input: &Tensor,
                h0: Option<&Tensor>,
                lengths: Option<&[usize]>,
            ) -> Result<(Tensor, Tensor)> {
                let o = self.stack.run(&self.name(), input, h0, None, lengths)?;
                hooks::emit(self, &o.out);
                Ok((o.out, o.h_n))
            }
        }
    };
}
pub(super) use hidden_state_forward;
