//! The one result type of every search: a document and its score, ranked score descending
//! then document ascending.

use std::cmp::Ordering;

/// A score a search ranks by: `f32` (dense, approximate and hybrid search), `f64` (the
/// unquantised exact index) or an index's own integer score with its float value.
pub trait Score: Copy + std::fmt::Debug {
    /// Total order of scores, higher is better (`total_cmp` for floats).
    fn cmp_score(&self, other: &Self) -> Ordering;
    /// The score as the `f64` a retrieval run and the metrics read.
    fn to_f64(self) -> f64;
}

impl Score for f32 {
    fn cmp_score(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Score for f64 {
    fn cmp_score(&self, other: &Self) -> Ordering {
        self.total_cmp(other)
    }
    fn to_f64(self) -> f64 {
        self
    }
}

/// One search result: a document (row of the searched matrix) and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit<S = f32> {
    /// Document (row of the searched matrix).
    pub doc: u32,
    /// Its score.
    pub score: S,
}

impl<S: Score> Hit<S> {
    /// A result.
    pub fn new(doc: u32, score: S) -> Self {
        Self { doc, score }
    }

    /// The order of a result list: score descending, then document ascending (so equal
    /// scores rank the same way in every index).
    pub fn rank_order(a: &Self, b: &Self) -> Ordering {
        b.score.cmp_score(&a.score).then(a.doc.cmp(&b.doc))
    }

    /// The same document with its score mapped (e.g. an integer score to its float value).
    pub fn map_score<T>(self, f: impl FnOnce(S) -> T) -> Hit<T> {
        Hit {
            doc: self.doc,
            score: f(self.score),
        }
    }
}

/// Sort results in [`Hit::rank_order`].
pub fn sort_hits<S: Score>(hits: &mut [Hit<S>]) {
    hits.sort_unstable_by(Hit::rank_order);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_order_is_score_descending_then_document_ascending() {
        let mut hits = vec![
            Hit::new(3, 1.0f32),
            Hit::new(1, 2.0),
            Hit::new(0, 1.0),
            Hit::new(2, f32::NEG_INFINITY),
        ];
        sort_hits(&mut hits);
        let docs: Vec<u32> = hits.iter().map(|h| h.doc).collect();
        assert_eq!(docs, vec![1, 0, 3, 2]);
        assert_eq!(Hit::new(5, 0.25f32).map_score(f64::from).score, 0.25f64);
    }
}
