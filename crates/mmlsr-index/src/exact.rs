//! The unquantised mode, for exactness checks: postings keep the documents' original `f32`
//! weights and queries keep theirs; scoring is exhaustive term at a time into an `f64`
//! accumulator. It ranks by exactly the dot products the quantised index approximates (and
//! [`crate::exact_top_k_f64`] computes by brute force), at the speed of an inverted index, so a
//! whole test split can be ranked both ways and compared.

use std::{cmp::Ordering, collections::BinaryHeap};

use mmlsr_core::{CsrMatrix, Hit, SparseRow, sort_hits};

use crate::{Error, Impact, InvertedIndex, QueryMode, Result, index::invert, modes::own_part};

/// An inverted index with unquantised `f32` weights (no pruning data: exhaustive only).
#[derive(Debug, Clone, PartialEq)]
pub struct ExactIndex {
    n_docs: u32,
    vocab_size: u32,
    /// `term_start[t]..term_start[t + 1]` are term `t`'s postings.
    term_start: Vec<u64>,
    /// Document ids, increasing within each term.
    docs: Vec<u32>,
    /// The documents' weights, aligned with `docs`.
    weights: Vec<f32>,
}

/// Reusable per-thread buffer of [`ExactIndex::search`] (all zeros between queries).
#[derive(Debug, Default)]
pub struct ExactScratch {
    acc: Vec<f64>,
}

/// A kept result, ordered so that the heap's top is the worst kept: the lowest score, then
/// the largest document id.
#[derive(Debug, PartialEq)]
struct Kept(f64, u32);

impl Eq for Kept {}

impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.total_cmp(&self.0).then(self.1.cmp(&other.1))
    }
}

impl ExactIndex {
    /// Index `docs` (one row per document; columns are term ids); weights are kept as given
    /// (a [`CsrMatrix`] holds only finite ones).
    pub fn build(docs: &CsrMatrix) -> Result<Self> {
        let n_docs = u32::try_from(docs.n_rows())
            .map_err(|_| Error::Config("more than 2^32-1 documents".into()))?;
        let v = docs.n_cols();
        let vocab_size =
            u32::try_from(v).map_err(|_| Error::Config("vocabulary larger than 2^32-1".into()))?;
        let (term_start, post_docs, weights) = invert(docs, None, Some);
        Ok(Self {
            n_docs,
            vocab_size,
            term_start,
            docs: post_docs,
            weights,
        })
    }

    /// The unquantised index of a quantised index's documents (the original vectors it keeps
    /// for rescoring).
    pub fn from_index<I: Impact>(index: &InvertedIndex<I>) -> Result<Self> {
        Self::build(index.forward())
    }

    /// Number of documents.
    pub fn n_docs(&self) -> usize {
        self.n_docs as usize
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size as usize
    }

    /// Number of postings.
    pub fn n_postings(&self) -> usize {
        self.docs.len()
    }

    /// The top `k` documents by the `f64` dot product with `query` (score descending, then
    /// document ascending; documents scoring ≤ 0 are left out). Terms must be below the
    /// vocabulary size and weights finite. Each document's products are added in increasing
    /// term order, as [`crate::exact_top_k_f64`] adds them, so both give identical scores.
    pub fn search(
        &self,
        query: SparseRow<'_>,
        k: usize,
        scratch: &mut ExactScratch,
    ) -> Result<Vec<Hit<f64>>> {
        self.check_query(query)?;
        let acc = &mut scratch.acc;
        self.accumulate(query, acc);
        let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(k.min(acc.len()) + 1);
        for (d, a) in acc.iter_mut().enumerate() {
            let s = std::mem::take(a);
            if s > 0.0 && k > 0 {
                let key = Kept(s, d as u32);
                if heap.len() < k {
                    heap.push(key);
                } else if heap.peek().is_some_and(|top| key < *top) {
                    heap.pop();
                    heap.push(key);
                }
            }
        }
        let mut hits: Vec<Hit<f64>> = heap.into_iter().map(|Kept(s, d)| Hit::new(d, s)).collect();
        sort_hits(&mut hits);
        Ok(hits)
    }

    /// Every document's score against each row in `rows` of `queries`, into `out`
    /// (`rows.len() × n_docs`, row-major, overwritten): the `f64` dot products of
    /// [`ExactIndex::search`] rounded to `f32`, documents scoring 0 included. This is the
    /// exhaustive score matrix that validation and test evaluation rank (in trec_eval's
    /// order, through `mmlsr_metrics::Run::from_score_matrix`) and that fused scoring adds to
    /// dense scores.
    pub fn score_rows(
        &self,
        queries: &CsrMatrix,
        rows: std::ops::Range<usize>,
        out: &mut [f32],
        scratch: &mut ExactScratch,
    ) -> Result<()> {
        let Some(n) = self.score_buffer(queries, &rows, out.len())? else {
            return Ok(());
        };
        for (r, row) in rows.zip(out.chunks_exact_mut(n)) {
            self.score_row(queries, r, row, &mut scratch.acc)?;
        }
        Ok(())
    }

    /// [`ExactIndex::score_rows`] on all threads of the current rayon pool (one accumulator
    /// per thread, one query row per task): the same scores, bit for bit, since each row is
    /// computed exactly as the sequential call computes it. The first bad query (in row order)
    /// is the error.
    pub fn par_score_rows(
        &self,
        queries: &CsrMatrix,
        rows: std::ops::Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        use rayon::prelude::*;
        let Some(n) = self.score_buffer(queries, &rows, out.len())? else {
            return Ok(());
        };
        let start = rows.start;
        out.par_chunks_exact_mut(n)
            .enumerate()
            .map_init(ExactScratch::default, |scratch, (i, row)| {
                self.score_row(queries, start + i, row, &mut scratch.acc)
            })
            .collect::<Vec<Result<()>>>()
            .into_iter()
            .collect()
    }

    /// Checks of a score-matrix call: the queries' vocabulary, the buffer's size, and (with no
    /// documents, when there is nothing to score) every query. The row width, or `None` when
    /// there are no documents.
    fn score_buffer(
        &self,
        queries: &CsrMatrix,
        rows: &std::ops::Range<usize>,
        out_len: usize,
    ) -> Result<Option<usize>> {
        if queries.n_cols() != self.vocab_size as usize {
            return Err(Error::Query(format!(
                "queries over a vocabulary of {}, the index has {}",
                queries.n_cols(),
                self.vocab_size
            )));
        }
        let n = self.n_docs as usize;
        if out_len != rows.len() * n {
            return Err(Error::Query(format!(
                "score buffer of {out_len} for {} queries × {n} documents",
                rows.len()
            )));
        }
        if n > 0 {
            return Ok(Some(n));
        }
        rows.clone().try_for_each(|r| {
            self.check_query(queries.row(r))
                .map_err(|e| query_error(r, e))
        })?;
        Ok(None)
    }

    /// Query row `r`'s score for every document into `out` (`acc`: zeros on entry and exit).
    fn score_row(
        &self,
        queries: &CsrMatrix,
        r: usize,
        out: &mut [f32],
        acc: &mut Vec<f64>,
    ) -> Result<()> {
        let q = queries.row(r);
        self.check_query(q).map_err(|e| query_error(r, e))?;
        self.accumulate(q, acc);
        for (o, a) in out.iter_mut().zip(acc.iter_mut()) {
            *o = std::mem::take(a) as f32;
        }
        Ok(())
    }

    /// Add `query`'s products into `acc` (resized to the documents; all zeros on entry), each
    /// document's products in increasing term order.
    fn accumulate(&self, query: SparseRow<'_>, acc: &mut Vec<f64>) {
        acc.resize(self.n_docs as usize, 0.0);
        for (&t, &w) in query.indices.iter().zip(query.values) {
            let (a, b) = (
                self.term_start[t as usize] as usize,
                self.term_start[t as usize + 1] as usize,
            );
            let w = w as f64;
            for (&d, &x) in self.docs[a..b].iter().zip(&self.weights[a..b]) {
                acc[d as usize] += x as f64 * w;
            }
        }
    }

    /// Terms below the vocabulary size, strictly increasing; weights finite.
    fn check_query(&self, query: SparseRow<'_>) -> Result<()> {
        let mut prev: Option<u32> = None;
        for (&t, &w) in query.indices.iter().zip(query.values) {
            if t >= self.vocab_size {
                return Err(Error::Query(format!(
                    "term {t} is outside the index's vocabulary of {}",
                    self.vocab_size
                )));
            }
            if !w.is_finite() {
                return Err(Error::Query(format!("term {t} has weight {w}")));
            }
            if prev.is_some_and(|p| p >= t) {
                return Err(Error::Query(format!(
                    "term ids must increase, found {t} after {}",
                    prev.unwrap_or_default()
                )));
            }
            prev = Some(t);
        }
        Ok(())
    }

    /// Answer a caption query in the D2S query mode `Exp` (all its terms) or `NoExp` (only
    /// `own_terms`, strictly increasing); `Hybrid` is refused (it already rescores with the
    /// unquantised dot product).
    pub fn search_mode(
        &self,
        query: SparseRow<'_>,
        own_terms: &[u32],
        mode: QueryMode,
        k: usize,
        scratch: &mut ExactScratch,
    ) -> Result<Vec<Hit<f64>>> {
        match mode {
            QueryMode::Exp => self.search(query, k, scratch),
            QueryMode::NoExp => {
                let (indices, values) = own_part(query, own_terms);
                self.search(
                    SparseRow {
                        indices: &indices,
                        values: &values,
                    },
                    k,
                    scratch,
                )
            }
            QueryMode::Hybrid { .. } => Err(Error::Query(
                "the unquantised index answers exp and no-exp queries (hybrid already rescores \
                 exactly)"
                    .into(),
            )),
        }
    }

    /// Answer every row of `queries` on all threads of the current rayon pool; results in
    /// query order.
    pub fn search_batch(&self, queries: &CsrMatrix, k: usize) -> Result<Vec<Vec<Hit<f64>>>> {
        use rayon::prelude::*;
        (0..queries.n_rows())
            .into_par_iter()
            .map_init(ExactScratch::default, |s, r| {
                self.search(queries.row(r), k, s).map_err(|e| match e {
                    Error::Query(m) => Error::Query(format!("query {r}: {m}")),
                    other => other,
                })
            })
            .collect()
    }
}

/// A bad query row, numbered.
fn query_error(row: usize, e: Error) -> Error {
    Error::Query(format!("query {row}: {e}"))
}
