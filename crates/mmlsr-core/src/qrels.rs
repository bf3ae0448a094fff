//! Relevance judgements: query id → (document id → grade).

use std::collections::BTreeMap;

/// Relevance judgements, keyed by query id then document id, as in a TREC qrels file.
/// Ordered maps keep iteration (and so every file written from it) deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Qrels {
    judgements: BTreeMap<String, BTreeMap<String, i32>>,
}

impl Qrels {
    /// No judgements.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record that `doc` has grade `relevance` for `query` (a later call overwrites).
    pub fn insert(&mut self, query: impl Into<String>, doc: impl Into<String>, relevance: i32) {
        self.judgements
            .entry(query.into())
            .or_default()
            .insert(doc.into(), relevance);
    }

    /// The judged documents of one query.
    pub fn get(&self, query: &str) -> Option<&BTreeMap<String, i32>> {
        self.judgements.get(query)
    }

    /// Number of judged queries.
    pub fn n_queries(&self) -> usize {
        self.judgements.len()
    }

    /// Number of (query, document) judgements.
    pub fn n_judgements(&self) -> usize {
        self.judgements.values().map(BTreeMap::len).sum()
    }

    /// Iterate over `(query, judged documents)` in query-id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &BTreeMap<String, i32>)> + '_ {
        self.judgements.iter().map(|(q, d)| (q.as_str(), d))
    }

    /// Write in TREC qrels format (`query 0 doc grade`, one line each).
    pub fn write_trec<W: std::io::Write>(&self, mut out: W) -> std::io::Result<()> {
        for (q, docs) in &self.judgements {
            for (d, rel) in docs {
                writeln!(out, "{q} 0 {d} {rel}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_counts_and_trec_lines() {
        let mut q = Qrels::new();
        q.insert("c2", "i1", 1);
        q.insert("c1", "i1", 1);
        q.insert("c1", "i0", 1);
        q.insert("c1", "i0", 2);
        assert_eq!(q.n_queries(), 2);
        assert_eq!(q.n_judgements(), 3);
        let mut buf = Vec::new();
        q.write_trec(&mut buf).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "c1 0 i0 2\nc1 0 i1 1\nc2 0 i1 1\n"
        );
    }
}
