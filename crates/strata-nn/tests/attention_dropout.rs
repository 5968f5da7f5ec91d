//! Dropout on attention weights: in training only, reproducible from the global seed. Its
//! own test binary, so no other test draws from the global generator meanwhile.

use strata_core::{manual_seed, Tensor};
use strata_nn::{MhaOptions, ModuleExt, MultiheadAttention, MultiheadAttentionConfig};

#[test]
fn attention_dropout_in_training_only_and_seeded() {
    let m = MultiheadAttention::with_config(
        8,
        2,
        MultiheadAttentionConfig {
            dropout: 0.5,
            batch_first: true,
            ..Default::default()
        },
    )
    .unwrap();
    let x = Tensor::randn(&[2, 16, 8]);
    let o = MhaOptions {
        average_attn_weights: false,
        ..Default::default()
    };
    let run = |seed| {
        manual_seed(seed);
        let (out, w) = m.attend(&x, &x, &x, &o).unwrap();
        (
            out.to_vec::<f32>().unwrap(),
            w.unwrap().to_vec::<f32>().unwrap(),
        )
    };
    let (a, wa) = run(7);
    let (b, _) = run(7);
    let (c, _) = run(8);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let zeros = wa.iter().filter(|&&w| w == 0.0).count() as f64 / wa.len() as f64;
    assert!((zeros - 0.5).abs() < 0.06, "{zeros}");
    // Dropped rows are rescaled by 2: their sums average 1.
    let mean_row: f64 = wa
        .chunks(16)
        .map(|r| r.iter().sum::<f32>() as f64)
        .sum::<f64>()
        / 64.0;
    assert!((mean_row - 1.0).abs() < 0.15, "{mean_row}");
    m.eval();
    let (d, wd) = run(7);
    let (e, _) = run(8);
    assert_eq!(d, e);
    assert!(wd.iter().all(|&w| w > 0.0));
}
