//! Query modes of D2S section 5.3: search with every query term (`exp`), with only the terms
//! the caption contains (`no-exp`), or retrieve with the caption's own terms and rescore the
//! candidates with the full query through the forward index (`hybrid`).

use mmlsr_core::{Hit, SparseRow, sort_hits};

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
    ) -> Result<Vec<Hit>> {
        let to_ranked = |hits: Vec<crate::IndexHit>| {
            hits.into_iter().map(|h| h.map_score(|s| s.value)).collect()
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
                let mut out: Vec<Hit> = hits
                    .into_iter()
                    .map(|h| Hit::new(h.doc, query.dot(&self.forward.row(h.doc as usize))))
                    .collect();
                sort_hits(&mut out);
                out.truncate(k);
                Ok(out)
            }
        }
    }
}
