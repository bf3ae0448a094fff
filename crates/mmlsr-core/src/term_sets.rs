//! The set of vocabulary ids each caption contains: the masks that expansion control needs.

use crate::{Error, Result};

/// For each caption (row), the sorted set of distinct vocabulary ids it contains.
///
/// A pattern-only CSR matrix: row `r` is `ids[offsets[r]..offsets[r + 1]]`, strictly
/// increasing and below `vocab_size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermSets {
    vocab_size: usize,
    offsets: Vec<usize>,
    ids: Vec<u32>,
}

impl TermSets {
    /// No rows yet, over a vocabulary of `vocab_size` entries.
    pub fn new(vocab_size: usize) -> Self {
        Self {
            vocab_size,
            offsets: vec![0],
            ids: Vec::new(),
        }
    }

    /// Append one caption's ids (any order, duplicates allowed: they are sorted and deduplicated).
    pub fn push_unsorted(&mut self, ids: impl IntoIterator<Item = u32>) -> Result<()> {
        let start = self.ids.len();
        self.ids.extend(ids);
        let row = &mut self.ids[start..];
        row.sort_unstable();
        let mut write = 0;
        for read in 0..row.len() {
            if write == 0 || row[read] != row[write - 1] {
                row[write] = row[read];
                write += 1;
            }
        }
        self.ids.truncate(start + write);
        if let Some(&last) = self.ids.last()
            && self.ids.len() > start
            && last as usize >= self.vocab_size
        {
            let row = self.len();
            self.ids.truncate(start);
            return Err(Error::IndexOutOfRange {
                row,
                id: last,
                n_cols: self.vocab_size,
            });
        }
        self.offsets.push(self.ids.len());
        Ok(())
    }

    /// Number of captions.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// True when there are no captions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The ids of caption `r`, strictly increasing.
    ///
    /// # Panics
    /// If `r >= self.len()`.
    pub fn row(&self, r: usize) -> &[u32] {
        &self.ids[self.offsets[r]..self.offsets[r + 1]]
    }

    /// Iterate over the rows.
    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[u32]> + '_ {
        (0..self.len()).map(|r| self.row(r))
    }

    /// Normalised document frequency `df_k = |{c : k ∈ c}| / |C|` of every vocabulary entry
    /// over these captions (D2S section 3.3, used to initialise `p_k = 1 − df_k`).
    /// All zeros when there are no captions.
    pub fn document_frequency(&self) -> Vec<f32> {
        let mut counts = vec![0u32; self.vocab_size];
        for &id in &self.ids {
            counts[id as usize] += 1;
        }
        let n = self.len().max(1) as f64;
        counts.into_iter().map(|c| (c as f64 / n) as f32).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_sorted_deduplicated_and_checked() {
        let mut t = TermSets::new(10);
        t.push_unsorted([5, 2, 5, 9, 2]).unwrap();
        t.push_unsorted([]).unwrap();
        t.push_unsorted([1]).unwrap();
        assert_eq!(t.row(0), &[2, 5, 9]);
        assert!(t.row(1).is_empty());
        assert!(t.push_unsorted([3, 10]).is_err());
        assert_eq!(t.len(), 3, "a rejected row is not appended");
        assert_eq!(t.row(2), &[1]);
    }

    #[test]
    fn document_frequency_counts_captions_not_occurrences() {
        let mut t = TermSets::new(4);
        t.push_unsorted([0, 0, 1]).unwrap();
        t.push_unsorted([1, 2]).unwrap();
        t.push_unsorted([1]).unwrap();
        t.push_unsorted([]).unwrap();
        assert_eq!(t.document_frequency(), vec![0.25, 0.75, 0.25, 0.0]);
    }
}
