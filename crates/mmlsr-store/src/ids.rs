//! An id column stored as one string buffer plus offsets, with a hash index from id to row:
//! loading 600k ids allocates a handful of buffers, not one `String` per row.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

/// Row ids in order, with O(1) lookup of the row of an id.
#[derive(Clone, Default)]
pub struct IdIndex {
    buf: String,
    ends: Vec<usize>,
    table: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl std::fmt::Debug for IdIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdIndex")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl PartialEq for IdIndex {
    fn eq(&self, other: &Self) -> bool {
        self.buf == other.buf && self.ends == other.ends
    }
}

impl IdIndex {
    /// An empty index with room for `rows` ids of about `bytes` bytes in all.
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        Self {
            buf: String::with_capacity(bytes),
            ends: Vec::with_capacity(rows),
            table: HashTable::with_capacity(rows),
            hasher: DefaultHashBuilder::default(),
        }
    }

    /// Build from ids in row order.
    ///
    /// Returns `Err((first_row, row))` for the first id that repeats.
    pub fn from_ids<S: AsRef<str>>(
        ids: impl IntoIterator<Item = S>,
    ) -> std::result::Result<Self, (usize, usize)> {
        let mut index = Self::default();
        for id in ids {
            index.push(id.as_ref())?;
        }
        Ok(index)
    }

    /// Append an id at the next row. Returns `Err((first_row, row))` if it is already present
    /// (the index is left unchanged).
    pub fn push(&mut self, id: &str) -> std::result::Result<usize, (usize, usize)> {
        let start = self.buf.len();
        self.buf.push_str(id);
        self.push_last_written(start)
    }

    /// Append an id formatted with `Display` (integers) without an intermediate `String`.
    pub fn push_display(
        &mut self,
        id: impl std::fmt::Display,
    ) -> std::result::Result<usize, (usize, usize)> {
        use std::fmt::Write;
        let start = self.buf.len();
        write!(self.buf, "{id}").expect("writing to a String cannot fail");
        self.push_last_written(start)
    }

    fn push_last_written(&mut self, start: usize) -> std::result::Result<usize, (usize, usize)> {
        let row = self.ends.len();
        let id = &self.buf[start..];
        let hash = self.hasher.hash_one(id);
        let (buf, ends) = (&self.buf, &self.ends);
        let slice = |r: u32| -> &str {
            let r = r as usize;
            let a = if r == 0 { 0 } else { ends[r - 1] };
            &buf[a..ends[r]]
        };
        if let Some(&first) = self.table.find(hash, |&r| slice(r) == id) {
            self.buf.truncate(start);
            return Err((first as usize, row));
        }
        let hasher = &self.hasher;
        self.table
            .insert_unique(hash, row as u32, |&r| hasher.hash_one(slice(r)));
        self.ends.push(self.buf.len());
        Ok(row)
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The id of `row`.
    ///
    /// # Panics
    /// If `row >= self.len()`.
    pub fn id(&self, row: usize) -> &str {
        let a = if row == 0 { 0 } else { self.ends[row - 1] };
        &self.buf[a..self.ends[row]]
    }

    /// The row of `id`, if present.
    pub fn row(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.table
            .find(hash, |&r| self.id(r as usize) == id)
            .map(|&r| r as usize)
    }

    /// Iterate over the ids in row order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|r| self.id(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_duplicates() {
        let mut ix = IdIndex::from_ids(["a", "bb", "", "ccc"]).unwrap();
        assert_eq!(ix.len(), 4);
        assert_eq!(ix.row("bb"), Some(1));
        assert_eq!(ix.row(""), Some(2));
        assert_eq!(ix.row("b"), None);
        assert_eq!(ix.id(3), "ccc");
        assert_eq!(ix.push("bb"), Err((1, 4)));
        assert_eq!(ix.len(), 4);
        assert_eq!(ix.push_display(42u64), Ok(4));
        assert_eq!(ix.row("42"), Some(4));
        assert_eq!(ix.iter().collect::<Vec<_>>(), ["a", "bb", "", "ccc", "42"]);
    }

    #[test]
    fn many_ids_resize_correctly() {
        let mut ix = IdIndex::default();
        for i in 0..10_000u32 {
            ix.push_display(i).unwrap();
        }
        for i in (0..10_000u32).step_by(97) {
            assert_eq!(ix.row(&i.to_string()), Some(i as usize));
        }
    }
}
