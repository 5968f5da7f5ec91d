//! Fits XOR with a 2-8-1 network built from raw tensors and autodiff: no layers, no
//! optimiser, just `matmul`, activations, `backward()` and a hand-written SGD step.
//!
//! Run: `cargo run --release --example xor`

use strata_core::{manual_seed, Result, Tensor};

fn sgd_step(params: &[&Tensor], grads: &strata_core::Gradients, lr: f32) -> Result<()> {
    for p in params {
        let Some(g) = grads.get(p) else { continue };
        let g = g.read::<f32>()?;
        let mut w = p.write::<f32>()?;
        for (w, g) in w.iter_mut().zip(g.iter()) {
            *w -= lr * g;
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    manual_seed(0);
    let x = Tensor::from_vec(vec![0.0f32, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2])?;
    let y = Tensor::from_vec(vec![0.0f32, 1.0, 1.0, 0.0], &[4, 1])?;

    let w1 = Tensor::randn(&[2, 8]).requires_grad_();
    let b1 = Tensor::zeros(&[8]).requires_grad_();
    let w2 = Tensor::randn(&[8, 1]).mul_scalar(0.5)?.requires_grad_();
    let b2 = Tensor::zeros(&[1]).requires_grad_();

    let forward = |x: &Tensor| -> Result<Tensor> {
        let h = x.matmul(&w1)?.add(&b1)?.tanh()?;
        h.matmul(&w2)?.add(&b2)?.sigmoid()
    };

    let mut loss_value = f64::NAN;
    for step in 0..2000 {
        let pred = forward(&x)?;
        let loss = pred.sub(&y)?.square()?.mean_all()?;
        loss_value = loss.item()?;
        let grads = loss.backward()?;
        sgd_step(&[&w1, &b1, &w2, &b2], &grads, 2.0)?;
        if step % 400 == 0 {
            println!("step {step:4}  loss {loss_value:.5}");
        }
    }
    let pred = strata_core::no_grad(|| forward(&x))?;
    println!("predictions: {}", pred.reshape(&[4])?);
    let correct = pred
        .to_vec::<f32>()?
        .iter()
        .zip([0.0, 1.0, 1.0, 0.0])
        .filter(|(p, t)| (**p > 0.5) == (*t > 0.5))
        .count();
    println!("final: loss={loss_value:.5} correct={correct}/4");
    Ok(())
}
