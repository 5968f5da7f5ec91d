//! Any bytes given to the CIFAR parser (raw or gzip, every kind) give `Ok` or `Err`, never a
//! panic; every parsed record can be read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use strata_data::{Cifar, CifarKind, Dataset};

fuzz_target!(|data: &[u8]| {
    for kind in [CifarKind::Cifar10, CifarKind::Cifar100Fine, CifarKind::Cifar100Coarse] {
        if let Ok(batch) = Cifar::parse(data, kind, Path::new("fuzz.bin")) {
            for i in 0..batch.len() {
                let ex = batch.get(i).unwrap();
                assert!((ex.target.item().unwrap() as usize) < kind.num_classes());
            }
        }
    }
});
