//! Which positions of an epoch's order form each batch: consecutive runs of the batch
//! size, or, for data-parallel training, this process's share of each global batch.

use std::ops::Range;

/// One process's share of the data in data-parallel training: `rank` of `world`
/// processes, each taking its slice of every global batch of `world × batch_size`
/// examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub rank: usize,
    pub world: usize,
}

/// The positions (in the epoch's order) of each batch of `n` examples. Unsharded: runs of
/// `batch`, the last one shorter unless `drop_last`. Sharded: global batch `k` covers
/// positions `k·world·batch ..`; rank `r` takes its `r`-th slice of `batch`. A last global
/// batch that is short is split as evenly as possible (sizes differ by at most one) in
/// rank order, or left out when it has fewer examples than ranks (no rank may get an empty
/// batch) or with `drop_last`: every rank computes the same split, so all ranks run the
/// same number of steps.
pub fn batch_ranges(
    n: usize,
    batch: usize,
    drop_last: bool,
    shard: Option<Shard>,
) -> Vec<Range<usize>> {
    let Shard { rank, world } = shard.unwrap_or(Shard { rank: 0, world: 1 });
    if batch == 0 || world == 0 || rank >= world {
        return Vec::new();
    }
    let global = batch * world;
    let mut ranges = Vec::with_capacity(n.div_ceil(global));
    let mut start = 0;
    while start < n {
        let size = global.min(n - start);
        if size == global {
            ranges.push(start + rank * batch..start + (rank + 1) * batch);
        } else if !drop_last && size >= world {
            let (q, extra) = (size / world, size % world);
            let from = start + rank * q + rank.min(extra);
            ranges.push(from..from + q + usize::from(rank < extra));
        }
        start += size;
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(n: usize, b: usize, drop: bool, shard: Option<Shard>) -> Vec<usize> {
        batch_ranges(n, b, drop, shard)
            .iter()
            .map(|r| r.len())
            .collect()
    }

    #[test]
    fn unsharded_batches_are_runs_of_the_batch_size() {
        assert_eq!(batch_ranges(10, 4, false, None), vec![0..4, 4..8, 8..10]);
        assert_eq!(sizes(10, 4, true, None), vec![4, 4]);
        assert!(batch_ranges(10, 0, false, None).is_empty());
    }

    #[test]
    fn ranks_share_every_global_batch_without_overlap() {
        // 3 ranks, batch 4: global batches of 12; 29 = 12 + 12 + 5 (split 2, 2, 1).
        let all: Vec<Vec<Range<usize>>> = (0..3)
            .map(|rank| batch_ranges(29, 4, false, Some(Shard { rank, world: 3 })))
            .collect();
        assert_eq!(all[0], vec![0..4, 12..16, 24..26]);
        assert_eq!(all[1], vec![4..8, 16..20, 26..28]);
        assert_eq!(all[2], vec![8..12, 20..24, 28..29]);
        // Together, each global batch is the unsharded batch of 12.
        for k in 0..3 {
            let mut covered: Vec<usize> = all.iter().flat_map(|r| r[k].clone()).collect();
            covered.sort();
            assert_eq!(
                covered,
                batch_ranges(29, 12, false, None)[k]
                    .clone()
                    .collect::<Vec<_>>()
            );
        }
        // A last global batch with fewer examples than ranks is left out on every rank.
        for rank in 0..3 {
            assert_eq!(
                sizes(26, 4, false, Some(Shard { rank, world: 3 })),
                vec![4, 4]
            );
            assert_eq!(
                sizes(29, 4, true, Some(Shard { rank, world: 3 })),
                vec![4, 4]
            );
        }
        assert!(batch_ranges(10, 2, false, Some(Shard { rank: 3, world: 3 })).is_empty());
    }
}
