//! Layer constructors given absurd sizes return an error instead of aborting the process
//! in the allocator.

use strata_nn::{BatchNorm1d, Embedding, LayerNorm, Linear, PReLU, LSTM};

fn too_large(e: strata_nn::Error) -> String {
    let msg = e.to_string();
    assert!(msg.contains("too large"), "{msg}");
    msg
}

#[test]
fn layer_constructors_refuse_absurd_sizes() {
    let huge = 1usize << 40;
    let msg = too_large(Linear::new(huge, huge).err().expect("Linear"));
    assert!(
        msg.starts_with("uniform: shape [1099511627776, 1099511627776]"),
        "{msg}"
    );
    too_large(Embedding::new(huge, huge).err().expect("Embedding"));
    too_large(LSTM::new(huge, huge).err().expect("LSTM"));
    too_large(BatchNorm1d::new(1 << 62).err().expect("BatchNorm1d"));
    too_large(LayerNorm::new(&[huge, huge]).err().expect("LayerNorm"));
    too_large(PReLU::new(1 << 62).err().expect("PReLU"));
}
