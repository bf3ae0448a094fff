//! Approximate search over the exact index by query-term pruning: score every document with
//! only the query's heaviest terms (exhaustively, over the dense rows where the terms have
//! them), keep the best `candidates`, and rank those by their exact score under the whole
//! query. The classic two-stage cut of Seismic's `query_cut`, applied to exhaustive scoring
//! instead of to blocks: on collections whose terms are each held by many documents (trained
//! heads over small vocabularies) it costs a fraction of the exact scan in proportion to the
//! terms kept, where a Seismic-style index gains little (results/peers/README.md, "Query-term
//! pruning"). Not rank-safe: recall is measured, not assumed.

use crate::{
    Algorithm, Error, Impact, InvertedIndex, Result,
    scratch::Scratch,
    search::{IndexHit, QueryWeights, ROW_QUERY_GROUP, drain, offer},
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
    /// `cut.candidates` documents that score best under the `cut.terms` heaviest terms. With
    /// `cut.terms` ≥ the query's terms it is exact.
    pub fn search_cut(
        &self,
        query: &QueryWeights,
        k: usize,
        cut: QueryCut,
        scratch: &mut Scratch,
    ) -> Result<Vec<IndexHit>> {
        cut.check(k)?;
        let short = query.heaviest(cut.terms);
        let candidates = self.search(&short, cut.candidates, Algorithm::Exhaustive, scratch);
        Ok(self.rerank(query, k, &candidates, scratch))
    }

    /// [`InvertedIndex::search_cut`] of many queries on this thread, in groups of
    /// [`ROW_QUERY_GROUP`] that share each pass over the dense rows (as
    /// [`InvertedIndex::search_many`]); results in query order.
    pub fn search_cut_many(
        &self,
        queries: &[QueryWeights],
        k: usize,
        cut: QueryCut,
        scratch: &mut Scratch,
    ) -> Result<Vec<Vec<IndexHit>>> {
        cut.check(k)?;
        let short: Vec<QueryWeights> = queries.iter().map(|q| q.heaviest(cut.terms)).collect();
        let candidates = self.search_many(&short, cut.candidates, Algorithm::Exhaustive, scratch);
        Ok(queries
            .iter()
            .zip(&candidates)
            .map(|(q, c)| self.rerank(q, k, c, scratch))
            .collect())
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

    /// The top `k` of `candidates` by their exact integer score under `query`, from the
    /// documents' vectors quantised as the index quantised them.
    fn rerank(
        &self,
        query: &QueryWeights,
        k: usize,
        candidates: &[IndexHit],
        s: &mut Scratch,
    ) -> Vec<IndexHit> {
        s.query_dense.resize(self.vocab_size as usize, 0);
        for (&t, &w) in query.terms.iter().zip(&query.weights) {
            s.query_dense[t as usize] = w;
        }
        let top = I::MAX as f32;
        let mut heap = std::mem::take(&mut s.heap);
        heap.clear();
        for hit in candidates {
            let row = self.forward.row(hit.doc as usize);
            let mut raw = 0u64;
            for (&t, &w) in row.indices.iter().zip(row.values) {
                let q = s.query_dense[t as usize];
                if q > 0 {
                    // The index's quantisation (`InvertedIndex::build`).
                    let impact = (w / self.scale).round().clamp(0.0, top) as u64;
                    raw += q as u64 * impact;
                }
            }
            offer(&mut heap, k, hit.doc, raw);
        }
        s.rescored += candidates.len() as u64;
        for &t in &query.terms {
            s.query_dense[t as usize] = 0;
        }
        let hits = drain(&mut heap, query, self.scale);
        s.heap = heap;
        hits
    }
}
