//! Recurrent layers: `RNN`, `LSTM`, `GRU` (multi-layer, bidirectional, variable lengths)
//! and the single-step cells. Every layer-direction runs as one fused op with a
//! hand-written backward (`fused_op.rs`, gate kernels in `gates.rs`).

mod cells;
mod fused_op;
mod gates;
#[cfg(target_arch = "x86_64")]
mod gates16;
mod gru;
mod layer;
mod lstm;
mod rnn;
mod spare;
mod stack;
mod step;

pub use cells::{CellConfig, GRUCell, LSTMCell, RNNCell};
pub use gru::GRU;
pub use lstm::{LstmState, LSTM};
pub use rnn::{RNNNonlinearity, RNN};
pub use stack::RecurrentConfig;
