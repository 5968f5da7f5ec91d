//! Renaming state-dict keys by prefix, for transfer learning.

use strata_core::Tensor;

/// Keeps the entries whose names start with `from` and replaces that prefix by `to`.
///
/// - `rename_prefix(entries, "encoder.", "")` takes the encoder out of a bigger model's
///   checkpoint, named as the encoder's own module names its weights;
/// - `rename_prefix(entries, "", "backbone.")` puts a whole checkpoint under `backbone.`;
/// - `rename_prefix(entries, "module.", "")` strips the prefix PyTorch's `DataParallel`
///   adds.
///
/// ```
/// use strata_nn::checkpoint::{load_weights, rename_prefix};
/// use strata_nn::{Linear, ModuleExt, Sequential};
/// let big = Sequential::new().push(Linear::new(4, 3)?).push(Linear::new(3, 2)?);
/// // Load the first layer of `big` (keys `0.weight`, `0.bias`) into a lone Linear.
/// let first = Linear::new(4, 3)?;
/// let report = load_weights(&first, &rename_prefix(&big.state_dict(), "0.", ""), true)?;
/// assert_eq!(report.loaded, ["weight", "bias"]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn rename_prefix(entries: &[(String, Tensor)], from: &str, to: &str) -> Vec<(String, Tensor)> {
    entries
        .iter()
        .filter_map(|(name, t)| {
            let rest = name.strip_prefix(from)?;
            Some((format!("{to}{rest}"), t.clone()))
        })
        .collect()
}

/// Keeps the entries whose names start with `prefix`, names unchanged: the part of a
/// checkpoint that belongs to one sub-module (`features.` of a CNN for transfer learning).
///
/// ```
/// use strata_nn::checkpoint::select_prefix;
/// use strata_nn::{Linear, ModuleExt, Sequential};
/// let model = Sequential::new().push(Linear::new(4, 3)?).push(Linear::new(3, 2)?);
/// let first: Vec<String> =
///     select_prefix(&model.state_dict(), "0.").into_iter().map(|(n, _)| n).collect();
/// assert_eq!(first, ["0.weight", "0.bias"]);
/// # Ok::<(), strata_nn::Error>(())
/// ```
pub fn select_prefix(entries: &[(String, Tensor)], prefix: &str) -> Vec<(String, Tensor)> {
    rename_prefix(entries, prefix, prefix)
}
