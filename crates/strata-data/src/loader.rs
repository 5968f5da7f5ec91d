//! [`DataLoader`]: batches, seeded shuffling, and background prefetching on worker threads.
//!
//! With `W` workers, worker `w` builds batches `w, w + W, w + 2W, ...` of the epoch in that
//! order into its own bounded queue, and the epoch iterator takes batch `b` from queue
//! `b % W`. So batches arrive in order, each worker stays up to `prefetch` batches ahead of
//! training, and since every sample's randomness comes from (seed, epoch, position) the
//! batches are bit-identical for any number of workers.

use crate::seeding::{epoch_order, sample_generator};
use crate::shard::{batch_ranges, Shard};
use crate::{collate, DataError, Dataset, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;
use strata_core::Tensor;

/// A batch of examples: inputs `[B, ...]`, targets `[B, ...]`, and which dataset examples
/// they are.
#[derive(Clone)]
pub struct Batch {
    /// The stacked inputs.
    pub inputs: Tensor,
    /// The stacked targets (`[B]` for class labels).
    pub targets: Tensor,
    /// The dataset index of each example, in batch order.
    pub indices: Vec<usize>,
}

impl Batch {
    /// The number of examples.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True when the batch has no examples (never produced by a loader).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("inputs", &(self.inputs.dtype(), self.inputs.shape()))
            .field("targets", &(self.targets.dtype(), self.targets.shape()))
            .field("len", &self.indices.len())
            .finish()
    }
}

/// Turns a dataset into batches, epoch by epoch.
///
/// ```
/// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
/// use strata_data::{DataLoader, Mnist, Split};
/// let test = Mnist::load("data/mnist", Split::Test)?;
/// let loader = DataLoader::new(test).batch_size(1000).shuffle(7).workers(2);
/// assert_eq!(loader.len(), 10);
/// let mut seen = 0;
/// for batch in loader.epoch(0) {
///     let batch = batch?;
///     assert_eq!(batch.inputs.shape(), &[1000, 1, 28, 28]);
///     assert_eq!(batch.targets.shape(), &[1000]);
///     seen += batch.len();
/// }
/// assert_eq!(seen, 10_000);
/// # Ok::<(), strata_data::DataError>(())
/// ```
pub struct DataLoader<D> {
    dataset: Arc<D>,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    workers: usize,
    prefetch: usize,
    shard: Option<Shard>,
}

impl<D> Clone for DataLoader<D> {
    fn clone(&self) -> Self {
        self.over(self.dataset.clone())
    }
}

impl<D> DataLoader<D> {
    /// A loader over `dataset` with this loader's settings.
    fn over<E>(&self, dataset: Arc<E>) -> DataLoader<E> {
        DataLoader {
            dataset,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.seed,
            drop_last: self.drop_last,
            workers: self.workers,
            prefetch: self.prefetch,
            shard: self.shard,
        }
    }
}

impl<D: Dataset + 'static> DataLoader<D> {
    /// A loader with batch size 1, no shuffling, seed 0, no dropping, no workers (batches
    /// are built in the calling thread) and a prefetch depth of 2 batches per worker.
    pub fn new(dataset: D) -> Self {
        DataLoader::from_arc(Arc::new(dataset))
    }

    /// A loader over a shared dataset.
    pub fn from_arc(dataset: Arc<D>) -> Self {
        DataLoader {
            dataset,
            batch_size: 1,
            shuffle: false,
            seed: 0,
            drop_last: false,
            workers: 0,
            prefetch: 2,
            shard: None,
        }
    }

    /// Examples per batch (must be positive; a zero size makes each epoch yield one error).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size;
        self
    }

    /// Shuffles every epoch with a permutation drawn from (`seed`, epoch); `seed` also seeds
    /// the random augmentation.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = true;
        self.seed = seed;
        self
    }

    /// Seeds the random augmentation without shuffling (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Leaves out the last batch when it would be smaller than the batch size.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Background threads that build batches (0: build them in the calling thread).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many finished batches each worker may keep waiting (at least 1; default 2).
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches.max(1);
        self
    }

    /// Data-parallel training: this process is `rank` of `world`, and each of its batches
    /// is its slice of a global batch of `world × batch_size` examples drawn from the same
    /// (seed, epoch) permutation on every rank, so `world` processes with batch `B` see the
    /// batches one process with batch `world·B` would (see [`batch_ranges`](crate::batch_ranges)
    /// for the last, uneven batch). Augmentation depends on an example's position in the
    /// epoch, not on the rank. A rank outside `0..world` makes each epoch yield one error.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::arange(0.0, 8.0, 1.0)?, Tensor::zeros(&[8]))?;
    /// let rank1 = DataLoader::new(ds).batch_size(2).shard(1, 2);
    /// let firsts: Vec<Vec<usize>> = rank1.epoch(0).map(|b| b.map(|b| b.indices)).collect::<Result<_, _>>()?;
    /// assert_eq!(firsts, vec![vec![2, 3], vec![6, 7]]);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn shard(mut self, rank: usize, world: usize) -> Self {
        self.shard = Some(Shard { rank, world });
        self
    }

    /// This loader's share in data-parallel training, if any.
    pub fn get_shard(&self) -> Option<Shard> {
        self.shard
    }

    /// A loader over `dataset` with this loader's settings (batch size, shuffling, seed,
    /// workers, prefetch, dropping): how a validation split gets a loader like its
    /// training set's.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_data::{DataLoader, TensorDataset};
    /// let ds = |n: usize| TensorDataset::new(Tensor::zeros(&[n, 2]), Tensor::zeros(&[n]));
    /// let train = DataLoader::new(ds(10)?).batch_size(4).shuffle(3);
    /// let other = train.with_dataset(ds(6)?);
    /// assert_eq!(other.len(), 2);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn with_dataset<E: Dataset + 'static>(&self, dataset: E) -> DataLoader<E> {
        self.over(Arc::new(dataset))
    }

    /// Whether epochs are shuffled.
    pub fn is_shuffled(&self) -> bool {
        self.shuffle
    }

    /// The number of examples per batch.
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<D> {
        &self.dataset
    }

    /// The number of batches per epoch.
    pub fn len(&self) -> usize {
        self.ranges().len()
    }

    fn ranges(&self) -> Vec<std::ops::Range<usize>> {
        batch_ranges(
            self.dataset.len(),
            self.batch_size,
            self.drop_last,
            self.shard,
        )
    }

    /// True when an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batches of epoch `epoch`, in order. Dropping the iterator early stops the
    /// workers.
    ///
    /// ```
    /// use strata_core::Tensor;
    /// use strata_data::{DataLoader, TensorDataset};
    /// let ds = TensorDataset::new(Tensor::arange(0.0, 10.0, 1.0)?, Tensor::zeros(&[10]))?;
    /// let loader = DataLoader::new(ds).batch_size(4).drop_last(true);
    /// let sizes: Vec<usize> = loader.epoch(0).map(|b| b.map(|b| b.len())).collect::<Result<_, _>>()?;
    /// assert_eq!(sizes, vec![4, 4]);
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn epoch(&self, epoch: u64) -> Epoch<D> {
        let problem = match self.shard {
            _ if self.batch_size == 0 => {
                Some("batch_size must be positive (call .batch_size(n) with n > 0)".to_string())
            }
            Some(Shard { rank, world }) if rank >= world => Some(format!(
                "shard: rank {rank} is not one of {world} rank(s) (0..{world})"
            )),
            _ => None,
        };
        if let Some(reason) = problem {
            return Epoch {
                plan: None,
                next: 0,
                workers: Vec::new(),
                stop: Arc::new(AtomicBool::new(false)),
                pending_error: Some(DataError::invalid("DataLoader", reason)),
            };
        }
        let ranges = self.ranges();
        let plan = Arc::new(Plan {
            dataset: self.dataset.clone(),
            order: epoch_order(self.dataset.len(), self.shuffle, self.seed, epoch),
            batches: ranges.len(),
            ranges,
            seed: self.seed,
            epoch,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..self.workers.min(plan.batches))
            .map(|w| spawn_worker(plan.clone(), w, self.workers, self.prefetch, stop.clone()))
            .collect();
        Epoch {
            plan: Some(plan),
            next: 0,
            workers,
            stop,
            pending_error: None,
        }
    }
}

/// Everything needed to build any batch of one epoch.
struct Plan<D> {
    dataset: Arc<D>,
    order: Vec<usize>,
    /// Positions in `order` of each batch.
    ranges: Vec<std::ops::Range<usize>>,
    batches: usize,
    seed: u64,
    epoch: u64,
}

impl<D: Dataset> Plan<D> {
    fn batch(&self, b: usize) -> Result<Batch> {
        let std::ops::Range { start, end } = self.ranges[b].clone();
        let mut examples = Vec::with_capacity(end - start);
        for position in start..end {
            let mut rng = sample_generator(self.seed, self.epoch, position as u64);
            examples.push(self.dataset.get_augmented(self.order[position], &mut rng)?);
        }
        let (inputs, targets) = collate(&examples)?;
        Ok(Batch {
            inputs,
            targets,
            indices: self.order[start..end].to_vec(),
        })
    }
}

struct Worker {
    queue: Receiver<Result<Batch>>,
    handle: Option<JoinHandle<()>>,
}

fn spawn_worker<D: Dataset + 'static>(
    plan: Arc<Plan<D>>,
    w: usize,
    stride: usize,
    prefetch: usize,
    stop: Arc<AtomicBool>,
) -> Worker {
    let (tx, queue) = sync_channel(prefetch);
    let handle = std::thread::Builder::new()
        .name(format!("strata-data-{w}"))
        .spawn(move || {
            for b in (w..plan.batches).step_by(stride) {
                if stop.load(Ordering::Relaxed) || tx.send(plan.batch(b)).is_err() {
                    return; // the epoch was dropped
                }
            }
        });
    match handle {
        Ok(handle) => Worker {
            queue,
            handle: Some(handle),
        },
        Err(e) => {
            // No thread: the queue reports the failure where batch `w` is expected.
            let (tx, queue) = sync_channel(1);
            let _ = tx.send(Err(DataError::Worker {
                worker: w,
                detail: format!("cannot start the thread: {e}"),
            }));
            Worker {
                queue,
                handle: None,
            }
        }
    }
}

/// The batches of one epoch (from [`DataLoader::epoch`]): an iterator of `Result<Batch>`.
pub struct Epoch<D> {
    plan: Option<Arc<Plan<D>>>,
    next: usize,
    workers: Vec<Worker>,
    stop: Arc<AtomicBool>,
    pending_error: Option<DataError>,
}

impl<D: Dataset + 'static> Iterator for Epoch<D> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        let plan = self.plan.as_ref()?;
        if self.next >= plan.batches {
            return None;
        }
        let b = self.next;
        self.next += 1;
        if self.workers.is_empty() {
            return Some(plan.batch(b));
        }
        let w = b % self.workers.len();
        let worker = &mut self.workers[w];
        match worker.queue.recv() {
            Ok(batch) => Some(batch),
            Err(_) => {
                // The worker ended without sending batch b: it panicked.
                let detail = match worker.handle.take().map(|h| h.join()) {
                    Some(Err(payload)) => payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_string()),
                    _ => "the thread ended early".to_string(),
                };
                self.next = plan.batches; // end the epoch after this error
                Some(Err(DataError::Worker { worker: w, detail }))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self
            .plan
            .as_ref()
            .map_or(0, |p| p.batches - self.next.min(p.batches))
            + usize::from(self.pending_error.is_some());
        (left, Some(left))
    }
}

impl<D: Dataset + 'static> ExactSizeIterator for Epoch<D> {}

impl<D> Drop for Epoch<D> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the queues wakes workers blocked on a full queue; then wait for them.
        let handles: Vec<JoinHandle<()>> = self
            .workers
            .drain(..)
            .filter_map(|w| {
                drop(w.queue);
                w.handle
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
    }
}
