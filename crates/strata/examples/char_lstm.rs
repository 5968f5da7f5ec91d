//! A character-level language model written as your own module with `#[derive(Module)]`:
//! an `Embedding`, an `LSTM` and a `Linear` head, trained with stateful truncated
//! backpropagation through time (the LSTM's `(h, c)` carried across chunks, detached) on a
//! short built-in text, then asked to continue a prompt greedily.
//!
//! Everything comes from `strata::prelude`; the crate depends on `strata` only.
//!
//! Run: `cargo run --release --example char_lstm`. Set `STRATA_STEPS` to change the number
//! of training steps (default 300).

use strata::prelude::*;

const TEXT: &str = "the quick brown fox jumps over the lazy dog. \
                    the lazy dog sleeps while the quick brown fox runs. ";
const CHUNK: usize = 16;

/// The model: its fields are visited under their names, so the state dict reads
/// `embed.weight`, `lstm.weight_ih_l0`, ..., `head.bias`.
#[derive(Module)]
struct CharModel {
    embed: Embedding,
    lstm: LSTM,
    head: Linear,
}

impl CharModel {
    fn new(vocab: usize, hidden: usize) -> Result<CharModel, strata::nn::Error> {
        let batch_first = RecurrentConfig {
            batch_first: true,
            ..Default::default()
        };
        Ok(CharModel {
            embed: Embedding::new(vocab, 16)?,
            lstm: LSTM::with_config(16, hidden, batch_first)?,
            head: Linear::new(hidden, vocab)?,
        })
    }

    /// Logits `[B, T, vocab]` for ids `[B, T]`, starting from `state`, and the final state.
    fn step(
        &self,
        ids: &Tensor,
        state: Option<&LstmState>,
    ) -> Result<(Tensor, LstmState), strata::nn::Error> {
        let x = self.embed.forward(ids)?;
        let (out, state) = self
            .lstm
            .forward_with_state(&x, state.map(|(h, c)| (h, c)))?;
        Ok((self.head.forward(&out)?, state))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::var("STRATA_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    manual_seed(0);
    let text = CharText::from_string(TEXT.to_string());
    let vocab = text.vocab().len();
    let ids = text.ids().to_vec();
    let model = CharModel::new(vocab, 64)?;
    println!(
        "{} characters, vocabulary {vocab}, {} parameters: {:?}",
        ids.len(),
        model.num_parameters(),
        model
            .state_dict()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
    );
    let mut opt = Adam::new(model.parameters(), 1e-2)?;
    let mut state: Option<LstmState> = None;
    let mut start = 0;
    for step in 1..=steps {
        if start + CHUNK + 1 > ids.len() {
            (start, state) = (0, None); // back to the beginning of the text
        }
        let input = Tensor::from_vec(ids[start..start + CHUNK].to_vec(), &[1, CHUNK])?;
        let target = Tensor::from_vec(ids[start + 1..start + CHUNK + 1].to_vec(), &[CHUNK])?;
        let (logits, (h, c)) = model.step(&input, state.as_ref())?;
        let loss = cross_entropy(&logits.reshape(&[CHUNK, vocab])?, &target)?;
        opt.step(&loss.backward()?)?;
        state = Some((h.detach(), c.detach())); // carry the values, cut the graph
        start += CHUNK;
        if step % 50 == 0 {
            println!("step {step:4}  loss {:.3}", loss.item()?);
        }
    }

    // Greedy continuation of a prompt.
    let mut out = String::from("the quick");
    let prompt = text.vocab().encode(&out)?;
    let ids = Tensor::from_vec(prompt.clone(), &[1, prompt.len()])?;
    let (mut logits, mut state) = no_grad(|| model.step(&ids, None))?;
    for _ in 0..40 {
        let last = logits
            .narrow(1, logits.shape()[1] - 1, 1)?
            .reshape(&[vocab])?;
        let next = last.argmax(0, false)?.to_vec::<i64>()?[0];
        out.push_str(&text.vocab().decode(&[next])?);
        let ids = Tensor::from_vec(vec![next], &[1, 1])?;
        (logits, state) = no_grad(|| model.step(&ids, Some(&state)))?;
    }
    println!("continuation: {out:?}");
    Ok(())
}
