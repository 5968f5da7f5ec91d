//! Hash maps keyed by [`TensorId`] for the backward pass. Ids are a counter, so SipHash's
//! resistance to chosen keys buys nothing here, and hashing is a measurable share of a
//! backward pass over small tensors (W6). One multiplication by a 64-bit odd constant
//! (Fibonacci hashing) spreads consecutive ids over the high bits hashbrown reads.

use crate::TensorId;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A map from tensor ids.
pub(crate) type IdMap<V> = HashMap<TensorId, V, BuildHasherDefault<IdHasher>>;
/// A set of tensor ids.
pub(crate) type IdSet = HashSet<TensorId, BuildHasherDefault<IdHasher>>;

/// Hashes the one `u64` a [`TensorId`] writes.
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for TensorId (it hashes one u64); kept correct for any other input.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    #[test]
    fn consecutive_ids_spread_over_the_high_bits() {
        let ids: Vec<TensorId> = (0..64).map(|_| Tensor::zeros(&[1]).id()).collect();
        let distinct: IdSet = ids.iter().copied().collect();
        assert_eq!(distinct.len(), 64);
        let high: std::collections::HashSet<u64> = ids
            .iter()
            .map(|id| {
                let mut h = IdHasher::default();
                std::hash::Hash::hash(id, &mut h);
                h.finish() >> 57
            })
            .collect();
        // 64 consecutive ids land on many of the 128 values of hashbrown's 7 control bits.
        assert!(high.len() > 32, "{}", high.len());
    }
}
