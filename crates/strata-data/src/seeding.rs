//! Where the loader's randomness comes from: one generator per (seed, epoch) for the
//! shuffle, one per (seed, epoch, position) for each sample's augmentation. Deriving them
//! from these numbers alone (never from a shared generator that threads take turns on)
//! makes every batch the same whatever the number of worker threads.

use strata_core::Generator;

/// SplitMix64's finaliser: a bijective mix of 64 bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Separate streams so the shuffle and the augmentation never share numbers.
const SHUFFLE_STREAM: u64 = 0x5348_5546; // "SHUF"
const SAMPLE_STREAM: u64 = 0x4155_474D; // "AUGM"

fn derive(parts: &[u64]) -> u64 {
    parts.iter().fold(0, |h, &p| mix(h ^ mix(p)))
}

/// The generator for the random augmentation of the sample at `position` of `epoch`.
///
/// ```
/// use strata_data::sample_generator;
/// let mut a = sample_generator(42, 3, 17);
/// let mut b = sample_generator(42, 3, 17);
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert_ne!(sample_generator(42, 3, 18).next_u64(), sample_generator(42, 3, 17).next_u64());
/// ```
pub fn sample_generator(seed: u64, epoch: u64, position: u64) -> Generator {
    Generator::new(derive(&[SAMPLE_STREAM, seed, epoch, position]))
}

/// The order in which an epoch visits the `n` examples: `0..n`, or a permutation drawn from
/// (seed, epoch) when shuffling.
///
/// ```
/// use strata_data::epoch_order;
/// assert_eq!(epoch_order(4, false, 1, 0), vec![0, 1, 2, 3]);
/// let a = epoch_order(100, true, 1, 0);
/// assert_eq!(a, epoch_order(100, true, 1, 0));
/// assert_ne!(a, epoch_order(100, true, 1, 1));
/// ```
pub fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: u64) -> Vec<usize> {
    if shuffle {
        Generator::new(derive(&[SHUFFLE_STREAM, seed, epoch])).permutation(n)
    } else {
        (0..n).collect()
    }
}
