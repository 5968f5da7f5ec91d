//! The data loader: order, coverage, determinism across worker counts, errors and panics.

use crate::common;
use common::data;
use std::sync::Arc;
use strata_core::{Generator, Tensor};
use strata_data::transforms::*;
use strata_data::*;

/// The first `n` MNIST test digits with the full augmentation set.
fn augmented_mnist(n: usize) -> impl Dataset + 'static {
    let test = Mnist::load(data("mnist"), Split::Test).unwrap();
    let augment = Compose::new()
        .then(RandomCrop::new(28, 2))
        .then(RandomHorizontalFlip::new(0.5).unwrap())
        .then(
            RandomAffine::new()
                .rotate(-15.0, 15.0)
                .unwrap()
                .translate(0.1, 0.1)
                .unwrap()
                .scale(0.9, 1.1)
                .unwrap(),
        )
        .then(ColorJitter::new(0.3, 0.3).unwrap())
        .then(GaussianNoise::new(0.05).unwrap())
        .then(RandomErasing::new(0.5).unwrap())
        .then(Normalize::new(&[0.1307], &[0.3081]).unwrap());
    Subset::range(Arc::new(test), 0..n)
        .unwrap()
        .transform(augment)
}

fn collect_epoch<D: Dataset + 'static>(
    loader: &DataLoader<D>,
    epoch: u64,
) -> Vec<(Vec<f32>, Vec<i64>, Vec<usize>)> {
    loader
        .epoch(epoch)
        .map(|b| {
            let b = b.unwrap();
            (
                b.inputs.to_vec::<f32>().unwrap(),
                b.targets.to_vec::<i64>().unwrap(),
                b.indices,
            )
        })
        .collect()
}

#[test]
fn batches_are_bit_identical_for_0_1_2_and_3_workers() {
    let ds = Arc::new(augmented_mnist(300));
    let base = DataLoader::from_arc(ds).batch_size(32).shuffle(11);
    let reference = collect_epoch(&base.clone().workers(0), 2);
    assert_eq!(reference.len(), 10);
    for workers in 1..=3 {
        let got = collect_epoch(&base.clone().workers(workers).prefetch(1), 2);
        assert!(got == reference, "{workers} worker(s) differ from 0");
    }
    // Augmentation really is random per sample and per epoch.
    let other_epoch = collect_epoch(&base.clone().workers(2), 3);
    assert_ne!(other_epoch[0].0, reference[0].0);
    let b = &reference[0].0;
    assert_ne!(b[..784], b[784..2 * 784]);
}

#[test]
fn same_example_in_two_epochs_gets_different_augmentation_but_same_seed_repeats() {
    let ds = Arc::new(augmented_mnist(8));
    let loader = DataLoader::from_arc(ds).batch_size(8).seed(5); // no shuffle
    let e0 = collect_epoch(&loader, 0);
    let e1 = collect_epoch(&loader, 1);
    assert_eq!(e0[0].2, (0..8).collect::<Vec<_>>());
    assert_eq!(e0[0].1, e1[0].1);
    assert_ne!(e0[0].0, e1[0].0);
    assert_eq!(collect_epoch(&loader, 0), e0);
    let reseeded = DataLoader::from_arc(loader.dataset().clone())
        .batch_size(8)
        .seed(6);
    assert_ne!(collect_epoch(&reseeded, 0)[0].0, e0[0].0);
}

fn numbers(n: usize) -> TensorDataset {
    let x = Tensor::arange(0.0, n as f64, 1.0).unwrap();
    let y = Tensor::arange_dtype(0.0, n as f64, 1.0, strata_core::DType::I64).unwrap();
    TensorDataset::new(x, y).unwrap()
}

#[test]
fn every_example_once_per_epoch_with_shuffle_and_drop_last() {
    let loader = DataLoader::new(numbers(103))
        .batch_size(10)
        .shuffle(1)
        .workers(2);
    assert_eq!(loader.len(), 11);
    let epoch = collect_epoch(&loader, 0);
    assert_eq!(epoch.len(), 11);
    assert_eq!(epoch[10].2.len(), 3);
    let mut seen: Vec<usize> = epoch.iter().flat_map(|b| b.2.clone()).collect();
    // Inputs are the dataset values in batch order.
    let values: Vec<usize> = epoch
        .iter()
        .flat_map(|b| b.0.iter().map(|&v| v as usize))
        .collect();
    assert_eq!(values, seen);
    assert_ne!(seen, (0..103).collect::<Vec<_>>(), "not shuffled");
    seen.sort();
    assert_eq!(seen, (0..103).collect::<Vec<_>>());
    assert_eq!(
        epoch_order(103, true, 1, 0),
        epoch.iter().flat_map(|b| b.2.clone()).collect::<Vec<_>>()
    );
    assert_ne!(epoch_order(103, true, 1, 0), epoch_order(103, true, 1, 1));

    let dropped = DataLoader::new(numbers(103))
        .batch_size(10)
        .drop_last(true)
        .workers(1);
    assert_eq!(dropped.len(), 10);
    let e = collect_epoch(&dropped, 0);
    assert_eq!(e.len(), 10);
    assert_eq!(
        e.iter().flat_map(|b| b.2.clone()).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(dropped.epoch(0).len(), 10);
}

#[test]
fn empty_datasets_zero_batch_size_and_early_drop() {
    let empty = DataLoader::new(numbers(0)).batch_size(4).workers(2);
    assert_eq!(empty.epoch(0).count(), 0);
    let zero = DataLoader::new(numbers(5)).batch_size(0);
    let results: Vec<_> = zero.epoch(0).collect();
    assert_eq!(results.len(), 1);
    assert!(results[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("batch_size must be positive"));
    // Taking one batch and dropping the rest must not hang the workers (queues are full).
    let big = DataLoader::new(numbers(10_000))
        .batch_size(1)
        .workers(3)
        .prefetch(1);
    for _ in 0..20 {
        let mut epoch = big.epoch(0);
        assert_eq!(epoch.next().unwrap().unwrap().indices, vec![0]);
    }
}

/// Fails at one index, panics at another.
struct Faulty {
    fail: usize,
    panic: Option<usize>,
}

impl Dataset for Faulty {
    fn len(&self) -> usize {
        40
    }
    fn get(&self, index: usize) -> Result<Example> {
        if Some(index) == self.panic {
            panic!("boom at {index}");
        }
        if index == self.fail {
            return Err(DataError::Record {
                path: "faulty.bin".into(),
                record: index,
                detail: "bad record".into(),
            });
        }
        Ok(Example::new(
            Tensor::scalar(index as f32),
            Tensor::scalar(0i64),
        ))
    }
}

#[test]
fn dataset_errors_reach_the_batch_that_needs_them() {
    for workers in [0, 2] {
        let loader = DataLoader::new(Faulty {
            fail: 17,
            panic: None,
        })
        .batch_size(5)
        .workers(workers);
        let results: Vec<Result<Batch>> = loader.epoch(0).collect();
        assert_eq!(results.len(), 8);
        for (b, r) in results.iter().enumerate() {
            match r {
                Err(e) => {
                    assert_eq!(b, 3);
                    assert_eq!(e.to_string(), "faulty.bin: record 17: bad record");
                }
                Ok(batch) => assert_eq!(batch.indices[0], b * 5),
            }
        }
        assert!(results[3].is_err());
    }
}

#[test]
fn a_panicking_dataset_is_an_error_not_a_hang() {
    let loader = DataLoader::new(Faulty {
        fail: 99,
        panic: Some(12),
    })
    .batch_size(5)
    .workers(2);
    let results: Vec<Result<Batch>> = loader.epoch(0).collect();
    // Batches 0 and 1 arrive, batch 2 reports the panic, and the epoch ends.
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[1].is_ok());
    let e = results[2].as_ref().unwrap_err();
    assert!(matches!(e, DataError::Worker { worker: 0, .. }), "{e}");
    assert!(e.to_string().contains("boom at 12"), "{e}");
}

#[test]
fn collation_errors_name_the_example() {
    struct Ragged;
    impl Dataset for Ragged {
        fn len(&self) -> usize {
            3
        }
        fn get(&self, index: usize) -> Result<Example> {
            Ok(Example::new(
                Tensor::zeros(&[index + 1]),
                Tensor::scalar(0i64),
            ))
        }
    }
    let e = DataLoader::new(Ragged)
        .batch_size(3)
        .epoch(0)
        .next()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "collate: example 1 of the batch has input f32 [2] but example 0 is f32 [1]"
    );
}

#[test]
fn concat_subset_split_and_map_compose_in_a_loader() {
    let (train, val) = train_val_split(numbers(50).concat(numbers(50)), 0.2, 9).unwrap();
    assert_eq!((train.len(), val.len()), (80, 20));
    let doubled = train.map(|mut ex| {
        ex.input = ex.input.mul_scalar(2.0)?;
        Ok(ex)
    });
    let loader = DataLoader::new(doubled).batch_size(16).workers(1);
    let mut total = 0.0;
    for batch in loader.epoch(0) {
        let batch = batch.unwrap();
        let x = batch.inputs.to_vec::<f32>().unwrap();
        let y = batch.targets.to_vec::<i64>().unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert_eq!(*a, 2.0 * *b as f32);
        }
        total += x.iter().sum::<f32>();
    }
    let val_sum: f32 = (0..20)
        .map(|i| val.get(i).unwrap().input.item().unwrap() as f32)
        .sum();
    assert_eq!(total / 2.0 + val_sum, 2.0 * (0..50).sum::<i32>() as f32);
    // get_augmented on a wrapped transform is repeatable with the same generator.
    let ds = augmented_mnist(4);
    let a = ds
        .get_augmented(1, &mut Generator::new(3))
        .unwrap()
        .input
        .to_vec::<f32>()
        .unwrap();
    let b = ds
        .get_augmented(1, &mut Generator::new(3))
        .unwrap()
        .input
        .to_vec::<f32>()
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(
        ds.get(1).unwrap().input.to_vec::<f32>().unwrap(),
        ds.get(1).unwrap().input.to_vec::<f32>().unwrap()
    );
}
