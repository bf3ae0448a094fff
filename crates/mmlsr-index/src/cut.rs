//! Approximate search over the exact index by query-term pruning: score every document with
//! only the query's heaviest terms (exhaustively, over the dense rows where the terms have
//! them), keep the best `candidates`, and rank those by their exact score under the whole
//! query. The classic two-stage cut of Seismic's `query_cut`, applied to exhaustive scoring
//! instead of to blocks: on collections whose terms are each held by many documents (trained
//! heads over small vocabularies) it costs a fraction of the exact scan in proportion to the
//! terms kept, where a Seismic-style index gains little (results/peers/README.md, "Query-term
//! pruning"). Not rank-safe: recall is measured, not assumed.

use crate::{
    Error, Impact, InvertedIndex, Result,
    scratch::Scratch,
    search::{IndexHit, QueryWeights, ROW_QUERY_GROUP},
};

/// How much of a query [`InvertedIndex::search_cut`] scores exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryCut {
    /// The query's heaviest terms (by quantised weight; ties by term id) that score every
    /// document (at least 1).
    pub terms: usize,
    /// The documents with the best scores under those terms that are rescored with the whole
    /// query (at least `k`).
    pub candidates: usize,
}

impl QueryCut {
    fn check(self, k: usize) -> Result<()> {
        if self.terms == 0 {
            return Err(Error::Query("a query cut needs at least 1 term".into()));
        }
        if self.candidates < k {
            return Err(Error::Query(format!(
                "a query cut needs at least k = {k} candidates, got {}",
                self.candidates
            )));
        }
        Ok(())
    }
}

impl QueryWeights {
    /// The `terms` heaviest terms of this query (ties by term id), with the same weights and
    /// scale.
    pub fn heaviest(&self, terms: usize) -> QueryWeights {
        if terms >= self.terms.len() {
            return self.clone();
        }
        let mut order: Vec<usize> = (0..self.terms.len()).collect();
        order.sort_unstable_by_key(|&i| (std::cmp::Reverse(self.weights[i]), self.terms[i]));
        order.truncate(terms);
        order.sort_unstable();
        QueryWeights {
            terms: order.iter().map(|&i| self.terms[i]).collect(),
            weights: order.iter().map(|&i| self.weights[i]).collect(),
            scale: self.scale,
        }
    }
}

impl<I: Impact> InvertedIndex<I> {
    /// The approximate top `k` for `query` by query-term pruning (see the module's
    /// documentation): exact scores, ranked as [`InvertedIndex::search`] ranks them, of the
    /// `cut.candidates` documents that score best under the `cut.terms` heaviest terms (with
    /// `u16` impacts: under their impacts' high byte). With `cut.terms` ≥ the query's terms and
    /// `u8` impacts it is exact.
    pub fn search_cut(
        &self,
        query: &QueryWeights,
        k: usize,
        cut: QueryCut,
        scratch: &mut Scratch,
    ) -> Result<Vec<IndexHit>> {
        Ok(self
            .search_cut_many(std::slice::from_ref(query), k, cut, scratch)?
            .pop()
            .unwrap_or_default())
    }

    /// [`InvertedIndex::search_cut`] of many queries on this thread, in groups of
    /// [`ROW_QUERY_GROUP`] that share each pass over the dense rows (as
    /// [`InvertedIndex::search_many`]); results in query order. `scratch`'s counters describe
    /// the last group.
    pub fn search_cut_many(
        &self,
        queries: &[QueryWeights],
        k: usize,
        cut: QueryCut,
        scratch: &mut Scratch,
    ) -> Result<Vec<Vec<IndexHit>>> {
        cut.check(k)?;
        let mut out = Vec::with_capacity(queries.len());
        for group in queries.chunks(ROW_QUERY_GROUP) {
            scratch.reset_counters();
            let short: Vec<QueryWeights> = group.iter().map(|q| q.heaviest(cut.terms)).collect();
            let short: Vec<&QueryWeights> = short.iter().collect();
            let candidates = if k == 0 {
                vec![Vec::new(); group.len()]
            } else {
                self.chunked_candidates(&short, cut.candidates, scratch)
            };
            for (q, c) in group.iter().zip(&candidates) {
                out.push(self.rescore(q, k, c, 0, scratch));
            }
        }
        Ok(out)
    }

    /// [`InvertedIndex::search_cut_many`] on all threads of the current rayon pool; results in
    /// query order.
    pub fn search_cut_batch(
        &self,
        queries: &[QueryWeights],
        k: usize,
        cut: QueryCut,
    ) -> Result<Vec<Vec<IndexHit>>> {
        use rayon::prelude::*;
        cut.check(k)?;
        let groups = queries
            .par_chunks(ROW_QUERY_GROUP)
            .map_init(Scratch::default, |s, g| self.search_cut_many(g, k, cut, s))
            .collect::<Result<Vec<_>>>()?;
        Ok(groups.into_iter().flatten().collect())
    }
}
