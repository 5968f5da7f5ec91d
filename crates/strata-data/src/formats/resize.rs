//! Resizing 8-bit pictures with a triangle (bilinear) filter, one axis at a time.
//!
//! When shrinking, the filter widens by the shrink factor, so each output pixel averages
//! every source pixel under it instead of sampling two and aliasing; when growing it is
//! plain bilinear interpolation. This is the `Triangle` filter of the `image` crate and
//! Pillow's bilinear resize: rows first into floats, then columns, rounding once at the end.

/// Source pixels `first..first + weights.len()` and their normalised weights, for one
/// output pixel along one axis.
struct Taps {
    first: usize,
    weights: Vec<f32>,
}

/// The taps of every output pixel when `from` pixels become `to` along one axis.
fn taps(from: usize, to: usize) -> Vec<Taps> {
    let ratio = from as f32 / to as f32;
    let widen = ratio.max(1.0);
    let support = widen; // the triangle reaches one (widened) pixel each side
    (0..to)
        .map(|out| {
            // The output pixel's centre in source coordinates.
            let centre = (out as f32 + 0.5) * ratio;
            let first = ((centre - support).floor().max(0.0) as usize).min(from - 1);
            let end = ((centre + support).ceil() as usize).clamp(first + 1, from);
            let mut weights: Vec<f32> = (first..end)
                // Source pixel i's centre sits at i + 0.5.
                .map(|i| (1.0 - ((i as f32 + 0.5 - centre) / widen).abs()).max(0.0))
                .collect();
            let sum: f32 = weights.iter().sum();
            if sum > 0.0 {
                weights.iter_mut().for_each(|w| *w /= sum);
            } else {
                // Only when the one tap lies exactly on the triangle's edge.
                weights
                    .iter_mut()
                    .for_each(|w| *w = 1.0 / (end - first) as f32);
            }
            Taps { first, weights }
        })
        .collect()
}

/// `pixels` (`from = (width, height)`, `channels` interleaved) resized to `to`.
pub(super) fn triangle(
    pixels: &[u8],
    from: (usize, usize),
    to: (usize, usize),
    channels: usize,
) -> Vec<u8> {
    let ((w0, h0), (w1, h1)) = (from, to);
    // Vertical pass: h0 rows of w0 pixels become h1 rows, kept in floats.
    let row = w0 * channels;
    let mut tall = vec![0f32; h1 * row];
    for (out, t) in taps(h0, h1).iter().enumerate() {
        let dst = &mut tall[out * row..(out + 1) * row];
        for (k, &w) in t.weights.iter().enumerate() {
            let src = &pixels[(t.first + k) * row..(t.first + k + 1) * row];
            for (d, &s) in dst.iter_mut().zip(src) {
                *d += w * s as f32;
            }
        }
    }
    // Horizontal pass: each row's w0 pixels become w1, rounded to bytes.
    let columns = taps(w0, w1);
    let mut out = vec![0u8; h1 * w1 * channels];
    for (src, dst) in tall
        .chunks_exact(row)
        .zip(out.chunks_exact_mut(w1 * channels))
    {
        for (x, t) in columns.iter().enumerate() {
            for c in 0..channels {
                let v: f32 = t
                    .weights
                    .iter()
                    .enumerate()
                    .map(|(k, &w)| w * src[(t.first + k) * channels + c])
                    .sum();
                dst[x * channels + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_cover_the_source() {
        for (from, to) in [(28, 14), (28, 20), (5, 17), (1, 4), (9, 1), (100, 3)] {
            let all = taps(from, to);
            assert_eq!(all.len(), to);
            for t in &all {
                let sum: f32 = t.weights.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "{from}->{to}: {sum}");
                assert!(t.first + t.weights.len() <= from);
            }
            // Every source pixel has some weight in some output pixel when shrinking.
            if to < from {
                let mut seen = vec![false; from];
                for t in &all {
                    for (k, &w) in t.weights.iter().enumerate() {
                        seen[t.first + k] |= w > 0.0;
                    }
                }
                assert!(seen.iter().all(|&s| s), "{from}->{to}");
            }
        }
    }

    #[test]
    fn halving_averages_pairs_and_growing_interpolates() {
        // 4 → 2: output centres at 1 and 3, a triangle of half-width 2 over the source
        // centres 0.5, 1.5, 2.5, 3.5.
        let row = [0u8, 100, 200, 40];
        let out = triangle(&row, (4, 1), (2, 1), 1);
        // Output 0: taps 0..3 at distances 0.5, 0.5, 1.5 → weights 0.75, 0.75, 0.25 (/1.75).
        let o0 = (0.75 * 0.0 + 0.75 * 100.0 + 0.25 * 200.0) / 1.75;
        // Output 1: taps 1..4 at distances 1.5, 0.5, 0.5 → 0.25, 0.75, 0.75.
        let o1 = (0.25 * 100.0 + 0.75 * 200.0 + 0.75 * 40.0) / 1.75;
        assert_eq!(
            out,
            vec![(o0 as f32).round() as u8, (o1 as f32).round() as u8]
        );
        // 2 → 4: plain linear interpolation between the two centres, edges clamped.
        let out = triangle(&[0, 100], (2, 1), (4, 1), 1);
        assert_eq!(out, vec![0, 25, 75, 100]);
        // A constant picture stays constant in every direction and channel.
        let flat: Vec<u8> = [10u8, 20, 30].repeat(7 * 5);
        let out = triangle(&flat, (7, 5), (3, 9), 3);
        assert_eq!(out, [10u8, 20, 30].repeat(3 * 9));
    }
}
