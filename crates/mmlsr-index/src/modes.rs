//! Query modes of D2S section 5.3: search with every query term (`exp`), with only the terms
//! the caption contains (`no-exp`), or retrieve with the caption's own terms and rescore the
//! candidates with the full query through the forward index (`hybrid`).

use mmlsr_core::SparseRow;

use crate::{Algorithm, Error, Impact, InvertedIndex, QueryWeights, Result, Scratch};

/// How a caption's sparse vector is turned into a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryMode {
    /// All active terms of the caption vector.
    Exp,
    /// Only the caption's own (tokenised) terms.
    NoExp,
    /// Retrieve `candidates` documents with the own terms, then rank them by the full
    /// query's exact float dot product with the forward index.
    Hybrid {
        /// Candidates to rescore (at least `k`).
        candidates: usize,
    },
}

/// A ranked document with a float score (the query's dot product for `Hybrid`, the
/// dequantised integer score otherwise).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ranked {
    /// Document.
    pub doc: u32,
    /// Score.
    pub score: f32,
}

/// The entries of `query` whose term is in `own_terms` (strictly increasing term ids): the
/// `no-exp` query.
pub(crate) fn own_part(query: SparseRow<'_>, own_terms: &[u32]) -> (Vec<u32>, Vec<f32>) {
    query
        .indices
        .iter()
        .zip(query.values)
        .filter(|(t, _)| own_terms.binary_search(t).is_ok())
        .unzip()
}

/// The query restricted to `own_terms`, quantised.
fn restrict<I: Impact>(
    query: SparseRow<'_>,
    own_terms: &[u32],
    vocab_size: usize,
) -> Result<QueryWeights> {
    let (idx, val) = own_part(query, own_terms);
    QueryWeights::for_impacts::<I>(
        SparseRow {
            indices: &idx,
            values: &val,
        },
        vocab_size,
    )
}

impl<I: Impact> InvertedIndex<I> {
    /// Answer a caption query in one of the D2S query modes.
    pub fn search_mode(
        &self,
        query: SparseRow<'_>,
        own_terms: &[u32],
        mode: QueryMode,
        k: usize,
        algorithm: Algorithm,
        scratch: &mut Scratch,
    ) -> Result<Vec<Ranked>> {
        let to_ranked = |hits: Vec<crate::Hit>| {
            hits.into_iter()
                .map(|h| Ranked {
                    doc: h.doc,
                    score: h.score,
                })
                .collect()
        };
        match mode {
            QueryMode::Exp => {
                let q = self.quantize_query(query)?;
                Ok(to_ranked(self.search(&q, k, algorithm, scratch)))
            }
            QueryMode::NoExp => {
                let q = restrict::<I>(query, own_terms, self.vocab_size())?;
                Ok(to_ranked(self.search(&q, k, algorithm, scratch)))
            }
            QueryMode::Hybrid { candidates } => {
                if candidates < k {
                    return Err(Error::Query(format!(
                        "hybrid mode needs at least k = {k} candidates, got {candidates}"
                    )));
                }
                let q = restrict::<I>(query, own_terms, self.vocab_size())?;
                let hits = self.search(&q, candidates, algorithm, scratch);
                let mut out: Vec<Ranked> = hits
                    .into_iter()
                    .map(|h| Ranked {
                        doc: h.doc,
                        score: query.dot(&self.forward.row(h.doc as usize)),
                    })
                    .collect();
                out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
                out.truncate(k);
                Ok(out)
            }
        }
    }
}
