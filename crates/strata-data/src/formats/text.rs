//! Plain text for character-level language models: a vocabulary, encoding and decoding, and
//! (input, next-character target) windows.

use crate::{check_index, DataError, Dataset, Example, Result};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use strata_core::Tensor;

/// The distinct characters of a text, sorted, each numbered by its position.
///
/// ```
/// use strata_data::CharVocab;
/// let vocab = CharVocab::from_text("hello");
/// assert_eq!(vocab.len(), 4); // e h l o
/// let ids = vocab.encode("hell")?;
/// assert_eq!(ids, vec![1, 0, 2, 2]);
/// assert_eq!(vocab.decode(&ids)?, "hell");
/// assert!(vocab.encode("hi").is_err());
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharVocab {
    chars: Vec<char>,
    index: HashMap<char, i64>,
}

impl CharVocab {
    /// The vocabulary of the characters in `text`.
    pub fn from_text(text: &str) -> CharVocab {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        CharVocab::from_chars(chars)
    }

    /// A vocabulary of the given characters in the given order (duplicates after the first
    /// are dropped).
    pub fn from_chars(chars: impl IntoIterator<Item = char>) -> CharVocab {
        let mut index = HashMap::new();
        let mut list = Vec::new();
        for c in chars {
            if let std::collections::hash_map::Entry::Vacant(e) = index.entry(c) {
                e.insert(list.len() as i64);
                list.push(c);
            }
        }
        CharVocab { chars: list, index }
    }

    /// The number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True when there are no characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters, in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, if it is in the vocabulary.
    pub fn id(&self, c: char) -> Option<i64> {
        self.index.get(&c).copied()
    }

    /// The ids of the characters of `text` (an error names the first unknown character).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>> {
        text.chars()
            .enumerate()
            .map(|(pos, c)| {
                self.id(c).ok_or_else(|| {
                    DataError::invalid(
                        "CharVocab::encode",
                        format!(
                            "character {c:?} (U+{:04X}) at position {pos} is not in the vocabulary of {} characters",
                            c as u32,
                            self.len()
                        ),
                    )
                })
            })
            .collect()
    }

    /// The text of `ids` (an error names the first id out of range).
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        ids.iter()
            .enumerate()
            .map(|(pos, &id)| {
                usize::try_from(id)
                    .ok()
                    .and_then(|i| self.chars.get(i))
                    .copied()
                    .ok_or_else(|| {
                        DataError::invalid(
                            "CharVocab::decode",
                            format!(
                                "id {id} at position {pos} is out of range for a vocabulary of {} characters",
                                self.len()
                            ),
                        )
                    })
            })
            .collect()
    }
}

/// A UTF-8 text file, its vocabulary and its characters as ids.
///
/// ```
/// # std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).unwrap();
/// use strata_data::{CharText, Dataset};
/// let text = CharText::load("data/shakespeare/shakespeare.txt")?;
/// assert!(text.len() > 1_000_000);
/// let (train, val) = text.windows(64, 64, 0.1)?;
/// let ex = train.get(0)?;
/// assert_eq!((ex.input.shape(), ex.target.shape()), (&[64][..], &[64][..]));
/// assert!(val.len() > 0);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CharText {
    text: String,
    vocab: CharVocab,
    ids: Arc<Vec<i64>>,
}

impl CharText {
    /// Reads the UTF-8 text file at `path` (raw or gzip).
    pub fn load(path: impl AsRef<Path>) -> Result<CharText> {
        let path = path.as_ref();
        let bytes = crate::io::read_maybe_gzip(path)?;
        CharText::parse(&bytes, path)
    }

    /// Builds from UTF-8 bytes (raw or gzip). `path` names the source in errors.
    ///
    /// ```
    /// use std::path::Path;
    /// use strata_data::CharText;
    /// let err = CharText::parse(b"ab\xffc", Path::new("t.txt")).unwrap_err();
    /// assert_eq!(err.to_string(), "t.txt: not valid UTF-8 at byte offset 2");
    /// # Ok::<(), strata_data::DataError>(())
    /// ```
    pub fn parse(bytes: &[u8], path: &Path) -> Result<CharText> {
        let bytes = crate::io::gunzip_if_gzip(bytes, path)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| {
            DataError::format(
                path,
                format!("not valid UTF-8 at byte offset {}", e.valid_up_to()),
            )
        })?;
        if text.is_empty() {
            return Err(DataError::format(path, "the file is empty"));
        }
        Ok(CharText::from_string(text.to_string()))
    }

    /// Builds from a string (which fixes the vocabulary).
    pub fn from_string(text: String) -> CharText {
        let vocab = CharVocab::from_text(&text);
        let ids = text.chars().filter_map(|c| vocab.id(c)).collect();
        CharText {
            text,
            vocab,
            ids: Arc::new(ids),
        }
    }

    /// The text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The vocabulary (sorted distinct characters).
    pub fn vocab(&self) -> &CharVocab {
        &self.vocab
    }

    /// The characters as ids.
    pub fn ids(&self) -> &[i64] {
        &self.ids
    }

    /// The number of characters.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no characters.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Training and validation windows of `seq_len` characters, starting every `stride`
    /// characters: the first `1 - val_fraction` of the text trains, the rest validates (a
    /// split in reading order, so no validation window overlaps a training one).
    pub fn windows(
        &self,
        seq_len: usize,
        stride: usize,
        val_fraction: f64,
    ) -> Result<(CharWindows, CharWindows)> {
        if !(0.0..1.0).contains(&val_fraction) {
            return Err(DataError::invalid(
                "CharText::windows",
                format!("val_fraction {val_fraction} is not in [0, 1)"),
            ));
        }
        let n = self.ids.len();
        let cut = n - ((n as f64) * val_fraction).round() as usize;
        let train = CharWindows::new(self.ids.clone(), 0..cut, seq_len, stride)?;
        let val = CharWindows::new(self.ids.clone(), cut..n, seq_len, stride)?;
        Ok((train, val))
    }
}

/// Windows over a sequence of ids: example `k` has input `ids[p..p + seq_len]` and target
/// `ids[p + 1..p + seq_len + 1]` (the next character at every step), with `p = start + k *
/// stride`. Both are i64 `[seq_len]`.
///
/// ```
/// use std::sync::Arc;
/// use strata_data::{CharWindows, Dataset};
/// let ids = Arc::new(vec![0i64, 1, 2, 3, 4, 5, 6]);
/// let w = CharWindows::new(ids, 0..7, 3, 2)?;
/// assert_eq!(w.len(), 2); // starts 0 and 2 (start 4 would need ids up to 7)
/// let ex = w.get(1)?;
/// assert_eq!(ex.input.to_vec::<i64>()?, vec![2, 3, 4]);
/// assert_eq!(ex.target.to_vec::<i64>()?, vec![3, 4, 5]);
/// # Ok::<(), strata_data::DataError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CharWindows {
    ids: Arc<Vec<i64>>,
    start: usize,
    seq_len: usize,
    stride: usize,
    count: usize,
}

impl CharWindows {
    /// Windows of `seq_len` ids every `stride` ids within `range` of `ids` (the targets stay
    /// inside the range too). Errors when the range is too short for one window.
    pub fn new(
        ids: Arc<Vec<i64>>,
        range: std::ops::Range<usize>,
        seq_len: usize,
        stride: usize,
    ) -> Result<CharWindows> {
        if seq_len == 0 || stride == 0 {
            return Err(DataError::invalid(
                "CharWindows::new",
                format!("seq_len ({seq_len}) and stride ({stride}) must be positive"),
            ));
        }
        if range.start > range.end || range.end > ids.len() {
            return Err(DataError::invalid(
                "CharWindows::new",
                format!("range {range:?} does not fit {} ids", ids.len()),
            ));
        }
        let span = range.end - range.start;
        if span < seq_len + 1 {
            return Err(DataError::invalid(
                "CharWindows::new",
                format!(
                    "{span} character(s) are too few for one window of {seq_len} plus its next-character target"
                ),
            ));
        }
        let count = (span - seq_len - 1) / stride + 1;
        Ok(CharWindows {
            ids,
            start: range.start,
            seq_len,
            stride,
            count,
        })
    }

    /// The window length.
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }
}

impl Dataset for CharWindows {
    fn len(&self) -> usize {
        self.count
    }

    fn get(&self, index: usize) -> Result<Example> {
        check_index(index, self.count)?;
        let p = self.start + index * self.stride;
        Ok(Example::new(
            Tensor::from_slice(&self.ids[p..p + self.seq_len], &[self.seq_len])?,
            Tensor::from_slice(&self.ids[p + 1..p + self.seq_len + 1], &[self.seq_len])?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_range_and_targets_are_shifted_inputs() {
        let ids = Arc::new((0..100i64).collect::<Vec<_>>());
        let w = CharWindows::new(ids.clone(), 10..30, 5, 3).unwrap();
        // Starts 10, 13, ..., 22 (22 + 5 + 1 = 28 <= 30; 25 + 6 = 31 > 30).
        assert_eq!(w.len(), 5);
        let last = w.get(4).unwrap();
        assert_eq!(
            last.input.to_vec::<i64>().unwrap(),
            vec![22, 23, 24, 25, 26]
        );
        assert_eq!(
            last.target.to_vec::<i64>().unwrap(),
            vec![23, 24, 25, 26, 27]
        );
        assert!(w.get(5).is_err());
        let exact = CharWindows::new(ids.clone(), 0..6, 5, 1).unwrap();
        assert_eq!(exact.len(), 1);
        assert!(CharWindows::new(ids.clone(), 0..5, 5, 1).is_err());
        assert!(CharWindows::new(ids.clone(), 0..101, 5, 1).is_err());
        assert!(CharWindows::new(ids, 0..50, 0, 1).is_err());
    }

    #[test]
    fn vocabulary_handles_unicode_and_reports_unknowns() {
        let t = CharText::from_string("äbä c".to_string());
        assert_eq!(t.vocab().chars(), &[' ', 'b', 'c', 'ä']);
        assert_eq!(t.ids(), &[3, 1, 3, 0, 2]);
        assert_eq!(t.vocab().decode(t.ids()).unwrap(), "äbä c");
        let e = t.vocab().encode("bé").unwrap_err().to_string();
        assert!(e.contains("'é' (U+00E9) at position 1"), "{e}");
        assert!(t.vocab().decode(&[4]).is_err());
        assert!(t.vocab().decode(&[-1]).is_err());
        assert!(CharText::parse(b"", Path::new("e.txt"))
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(t.windows(2, 1, 1.0).is_err());
    }
}
