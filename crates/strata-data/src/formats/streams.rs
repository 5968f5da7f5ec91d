//! [`TextStreams`]: a sequence of token ids cut into parallel contiguous streams, for
//! stateful truncated backpropagation through time.

use crate::{DataError, Result};
use strata_core::Tensor;

/// The ids cut into `batch` equal contiguous streams (the remainder at the end is dropped),
/// read `steps` ids at a time: batch `k` holds ids `k·steps .. (k+1)·steps` of every stream
/// as `inputs` `[batch, steps]` and the ids one further on as `targets`. Row `b` of batch
/// `k + 1` continues row `b` of batch `k`, so a recurrent model can carry its state
/// (`h`, `c`) from one batch to the next, detached, and learn dependencies longer than
/// `steps` (Zaremba et al. 2014; `torchtext`'s BPTT iterator). The last batch may be
/// shorter than `steps`.
///
/// ```
/// use strata_data::TextStreams;
/// let ids: Vec<i64> = (0..11).collect();
/// let streams = TextStreams::new(&ids, 2, 3)?; // streams 0..5 and 5..10; 10 is dropped
/// assert_eq!(streams.len(), 2);
/// let (x, y) = streams.batch(0)?;
/// assert_eq!(x.to_vec::<i64>()?, vec![0, 1, 2, 5, 6, 7]);
/// assert_eq!(y.to_vec::<i64>()?, vec![1, 2, 3, 6, 7, 8]);
/// let (x, y) = streams.batch(1)?; // the rest: 1 step
/// assert_eq!(x.shape(), &[2, 1]);
/// assert_eq!(x.to_vec::<i64>()?, vec![3, 8]);
/// assert_eq!(y.to_vec::<i64>()?, vec![4, 9]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
///
/// A training loop carries the state across batches and cuts the graph between them:
///
/// ```
/// use strata_core::Tensor;
/// use strata_data::TextStreams;
/// use strata_nn::{Embedding, Forward, LSTM, RecurrentConfig};
/// let ids: Vec<i64> = (0..200).map(|i| i % 7).collect();
/// let streams = TextStreams::new(&ids, 4, 10)?;
/// let embed = Embedding::new(7, 8)?;
/// let config = RecurrentConfig { batch_first: true, ..Default::default() };
/// let lstm = LSTM::with_config(8, 16, config)?;
/// let mut state: Option<(Tensor, Tensor)> = None;
/// for batch in streams.iter() {
///     let (x, _y) = batch?;
///     let (out, (h, c)) = lstm.forward_with_state(
///         &embed.forward(&x)?,
///         state.as_ref().map(|(h, c)| (h, c)),
///     )?;
///     assert_eq!(out.shape()[2], 16);
///     // ... loss, backward, step ...
///     state = Some((h.detach(), c.detach())); // carried on, outside the next graph
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TextStreams {
    /// `streams[b * len + t]`: id `t` of stream `b`, plus one id after each stream.
    ids: Vec<i64>,
    batch: usize,
    /// Ids per stream that are inputs (each has its target after it).
    len: usize,
    steps: usize,
}

impl TextStreams {
    /// Cuts `ids` into `batch` streams read `steps` at a time. Errors when a stream would
    /// hold no input-target pair.
    pub fn new(ids: &[i64], batch: usize, steps: usize) -> Result<TextStreams> {
        if batch == 0 || steps == 0 {
            return Err(DataError::invalid(
                "TextStreams::new",
                format!("batch ({batch}) and steps ({steps}) must be positive"),
            ));
        }
        // Stream b covers ids[b·span .. (b+1)·span]: `span - 1` inputs and their targets.
        let span = ids.len() / batch;
        if span < 2 {
            return Err(DataError::invalid(
                "TextStreams::new",
                format!(
                    "{} id(s) are too few for {batch} stream(s) of at least one input and its target",
                    ids.len()
                ),
            ));
        }
        Ok(TextStreams {
            ids: ids[..batch * span].to_vec(),
            batch,
            len: span - 1,
            steps,
        })
    }

    /// The number of batches.
    pub fn len(&self) -> usize {
        self.len.div_ceil(self.steps)
    }

    /// Never true: a stream holds at least one input.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of streams (rows of every batch).
    pub fn streams(&self) -> usize {
        self.batch
    }

    /// Inputs and targets of batch `k`, both i64 `[streams, steps]` (fewer steps in the
    /// last batch when the streams do not divide evenly).
    pub fn batch(&self, k: usize) -> Result<(Tensor, Tensor)> {
        crate::check_index(k, self.len())?;
        let start = k * self.steps;
        let steps = self.steps.min(self.len - start);
        let span = self.len + 1;
        let mut inputs = Vec::with_capacity(self.batch * steps);
        let mut targets = Vec::with_capacity(self.batch * steps);
        for b in 0..self.batch {
            let from = b * span + start;
            inputs.extend_from_slice(&self.ids[from..from + steps]);
            targets.extend_from_slice(&self.ids[from + 1..from + steps + 1]);
        }
        let shape = [self.batch, steps];
        Ok((
            Tensor::from_vec(inputs, &shape)?,
            Tensor::from_vec(targets, &shape)?,
        ))
    }

    /// The batches in order.
    pub fn iter(&self) -> impl Iterator<Item = Result<(Tensor, Tensor)>> + '_ {
        (0..self.len()).map(|k| self.batch(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_continue_across_batches_and_cover_every_stream_once() {
        let ids: Vec<i64> = (0..103).collect();
        let s = TextStreams::new(&ids, 4, 7).unwrap();
        // 103 / 4 = 25 ids per stream: 24 inputs each, read as 4 batches of 7 and one of 3.
        assert_eq!((s.len(), s.streams()), (4, 4));
        let mut rows: Vec<Vec<i64>> = vec![Vec::new(); 4];
        for batch in s.iter() {
            let (x, y) = batch.unwrap();
            let steps = x.shape()[1];
            let (x, y) = (x.to_vec::<i64>().unwrap(), y.to_vec::<i64>().unwrap());
            for b in 0..4 {
                let row = &x[b * steps..(b + 1) * steps];
                // Every target is the next id of its stream.
                assert!(row.iter().zip(&y[b * steps..]).all(|(a, t)| t - a == 1));
                rows[b].extend_from_slice(row);
            }
        }
        for (b, row) in rows.iter().enumerate() {
            let start = 25 * b as i64;
            assert_eq!(row, &(start..start + 24).collect::<Vec<_>>());
        }
        assert!(s.batch(4).is_err());
    }

    #[test]
    fn too_little_text_is_an_error() {
        assert!(TextStreams::new(&[1, 2, 3], 2, 5).is_err());
        assert!(TextStreams::new(&[1, 2, 3, 4], 2, 0).is_err());
        let s = TextStreams::new(&[1, 2, 3, 4], 2, 5).unwrap();
        assert_eq!(s.batch(0).unwrap().0.to_vec::<i64>().unwrap(), vec![1, 3]);
    }
}
