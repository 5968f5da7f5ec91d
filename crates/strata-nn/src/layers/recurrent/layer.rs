//! The plumbing every recurrent layer (`RNN`, `LSTM`, `GRU`) shares, written once: the
//! accessors of its [`Stack`](super::stack::Stack), its `Module` impl (parameters,
//! training mode, description) and its `Forward` impl (the output sequence from a zero
//! state). A layer file keeps its cell kind, its state type and its docs.
//!
//! A new layer holds `stack: Stack`, defines `forward_with_state(&self, input, None)`
//! returning `(output, state)`, and invokes `recurrent_layer!(Name, "Name", extra)` where
//! `extra` gives what its description adds to the stack's (`|_| String::new()` for none).

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
