//! Frequent terms as dense rows of impacts, and exhaustive scoring over document chunks that
//! reads them.
//!
//! A term held by a large share of the documents costs exhaustive scoring one scattered add
//! per posting (~0.6 ns on the benchmark machine). Kept as one row of bytes over all
//! documents (zeros where the term is absent), the same term is added by a contiguous,
//! vectorised pass. Trained heads over small vocabularies are made of such terms (on the
//! trained exp=c collection 568 of 593 terms are held by ≥ 1/16 of the images, and 99.4 % of
//! the postings are theirs), so this is what lets the inverted index keep up with a dense matrix
//! product there (results/peers/README.md, "Dense rows of impacts").
//!
//! Scoring runs over chunks of documents sized so that the chunk's slice of every row stays
//! in cache (2 MiB of rows a chunk): a group of queries scores one chunk after the other, each
//! query adding its rows (into a `u32` accumulator) and its sparse lists' postings in the chunk (into a
//! `u64` one), then offering the chunk's documents to its top-k heap. The rows are read from
//! memory once per group, not once per query.
//!
//! A row holds an impact's top 8 bits: the impact itself for `u8` impacts, so that the chunk's
//! scores are the exact integer scores; for `u16` impacts the high byte, so that they are a
//! filter: `filter ≤ score ≤ filter + slack`, where the slack bounds what the rows' low bytes
//! can add (see `QuerySpan`; the lists are scored exactly). Every document whose filter score
//! comes within `slack` of the k-th largest is rescored exactly through the forward index (on
//! the trained exp=c collection 15 per query at k = 10, the median over 300 queries), and a
//! query whose k-th filter score is not above its slack, or whose candidates would cost more
//! to rescore than its postings to score, is answered by exhaustive scoring of its postings
//! instead. Either way the results are the same exact integers, ranked the same way, as every
//! other algorithm's.

use std::collections::BinaryHeap;

use crate::{
    Impact, InvertedIndex,
    index::impact_rows,
    scratch::{QuerySpan, Scratch},
    search::{FORWARD_ENTRY_COST, IndexHit, POSTING_COST, QueryWeights, drain, offer},
};

/// Bytes of the rows' slices that one chunk of documents should keep in cache (L3 rather than
/// L2: with 256 KiB chunks, queries with many sparse lists spent more time re-entering each
/// list chunk after chunk than adding rows — Zipf FLOPs 80, 902 rows: 6.4 ms a query against
/// 3.4 ms with 2 MiB, and the trained exp=c collection no slower; `examples/rows_sweep.rs`).
const CHUNK_ROW_BYTES: usize = 2 << 20;

/// Documents per chunk for `n_rows` rows: their slices fill [`CHUNK_ROW_BYTES`], a multiple of
/// 64 between 256 and 4,096 (so that the chunk's accumulators, 4 + 8 bytes a document, stay
/// in L1/L2: with 16,384 the sparse FLOPs-3 collection ran 1.2× slower than without rows).
fn chunk_docs(n_rows: usize) -> usize {
    (CHUNK_ROW_BYTES / n_rows.max(1)).clamp(256, 4_096) / 64 * 64
}

/// `acc[i] += Σ w · rows[offset + start + i]` over the `(offset, w)` of `terms`, four rows at
/// a time (one load and store of the accumulator per four products). The caller bounds the
/// sum (see [`QuerySpan`]).
#[inline(always)]
fn add_rows_portable(acc: &mut [u32], rows: &[u8], terms: &[(usize, u16)], start: usize) {
    let len = acc.len();
    let row = |off: usize| &rows[off + start..][..len];
    let mut quads = terms.chunks_exact(4);
    for c in &mut quads {
        let (r0, r1, r2, r3) = (row(c[0].0), row(c[1].0), row(c[2].0), row(c[3].0));
        let (w0, w1, w2, w3) = (c[0].1 as u32, c[1].1 as u32, c[2].1 as u32, c[3].1 as u32);
        for ((((a, &x0), &x1), &x2), &x3) in acc.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
            *a += w0 * x0 as u32 + w1 * x1 as u32 + w2 * x2 as u32 + w3 * x3 as u32;
        }
    }
    for &(off, w) in quads.remainder() {
        for (a, &x) in acc.iter_mut().zip(row(off)) {
            *a += w as u32 * x as u32;
        }
    }
}

/// [`add_rows_portable`] compiled for AVX2 (8 documents per instruction).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_rows_avx2(acc: &mut [u32], rows: &[u8], terms: &[(usize, u16)], start: usize) {
    add_rows_portable(acc, rows, terms, start);
}

/// Whether [`add_rows`] may take the AVX2 path on this CPU.
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`add_rows_portable`], through AVX2 where `avx2` (from [`has_avx2`]).
#[inline]
fn add_rows(avx2: bool, acc: &mut [u32], rows: &[u8], terms: &[(usize, u16)], start: usize) {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        // SAFETY: `avx2` comes from `has_avx2`, the CPU's own answer.
        unsafe { add_rows_avx2(acc, rows, terms, start) };
        return;
    }
    let _ = avx2;
    add_rows_portable(acc, rows, terms, start);
}

impl<I: Impact> InvertedIndex<I> {
    /// Give every term held by at least `min_fraction` of the documents a dense row of its
    /// impacts (their top byte), which exhaustive scoring adds in a vectorised pass instead
    /// of one scattered add per posting (replacing the rows there were). Each row costs
    /// `n_docs` bytes; at the default fraction, [`crate::IMPACT_ROW_MIN_FRACTION`] (1/16), at most
    /// 3.2× the term's postings (`u8`; 2.7× for `u16`). `0.0` gives every term with a
    /// posting a row, anything above 1 none. Rows change speed only, never results; they are
    /// derived when an index is built or loaded, not stored.
    pub fn set_impact_rows(&mut self, min_fraction: f64) {
        let (row_of, rows) = impact_rows(
            &self.term_start,
            &self.docs,
            &self.impacts,
            self.n_docs as usize,
            min_fraction,
        );
        self.impact_row = row_of;
        self.impact_rows = rows;
    }

    /// How many terms have a dense row of impacts ([`InvertedIndex::set_impact_rows`]).
    pub fn n_impact_rows(&self) -> usize {
        if self.n_docs == 0 {
            0
        } else {
            self.impact_rows.len() / self.n_docs as usize
        }
    }

    /// Whether any term of `q` has a dense row (so that [`InvertedIndex::exhaustive_chunked`]
    /// serves it).
    pub(crate) fn uses_rows(&self, q: &QueryWeights) -> bool {
        !self.impact_rows.is_empty()
            && q.terms
                .iter()
                .any(|&t| self.impact_row[t as usize] != u32::MAX)
    }

    /// Query `q`'s terms into the group's buffers, and its span of them: row terms with their
    /// shifted weights, sparse lists with their own.
    fn split_query(
        &self,
        q: &QueryWeights,
        row_terms: &mut Vec<(usize, u16)>,
        lists: &mut Vec<(usize, usize, u16)>,
        s: &mut Scratch,
    ) -> QuerySpan {
        let n = self.n_docs as usize;
        let has_row = |t: u32| self.impact_row[t as usize] != u32::MAX;
        let total: u64 = q
            .terms
            .iter()
            .zip(&q.weights)
            .filter(|&(&t, _)| has_row(t))
            .map(|(_, &w)| w as u64)
            .sum();
        let mut shift = 0u32;
        while (total >> shift) * 255 > u32::MAX as u64 {
            shift += 1;
        }
        let low_bits = I::BITS - 8;
        let (r0, l0) = (row_terms.len(), lists.len());
        let mut slack = 0u64;
        let mut postings = 0u64;
        for (&t, &w) in q.terms.iter().zip(&q.weights) {
            let (a, b) = (
                self.term_start[t as usize] as usize,
                self.term_start[t as usize + 1] as usize,
            );
            postings += (b - a) as u64;
            if has_row(t) {
                let shifted = w >> shift;
                let rest = (w - (shifted << shift)) as u64;
                slack += ((shifted as u64) << shift) * ((1u64 << low_bits) - 1)
                    + rest * self.term_max[t as usize].get() as u64;
                let row = self.impact_row[t as usize] as usize;
                row_terms.push((row * n, shifted));
            } else if a < b {
                lists.push((a, b, w));
            }
        }
        s.postings_scored += postings;
        QuerySpan {
            rows: (r0, row_terms.len()),
            lists: (l0, lists.len()),
            unit: 1u64 << (shift + low_bits),
            slack,
            postings,
        }
    }

    /// Exhaustive top-k of every query of `queries`, chunk by chunk of documents (see the
    /// module's documentation): the same results as exhaustive scoring query by query.
    /// `scratch`'s counters sum over the group.
    pub(crate) fn exhaustive_chunked(
        &self,
        queries: &[&QueryWeights],
        k: usize,
        s: &mut Scratch,
    ) -> Vec<Vec<IndexHit>> {
        if k == 0 || self.n_docs == 0 {
            return vec![Vec::new(); queries.len()];
        }
        let (thresholds, abandoned) = self.score_chunks(queries, k, false, s);
        let mut heaps = std::mem::take(&mut s.heaps);
        let candidates = std::mem::take(&mut s.candidates);
        let spans = std::mem::take(&mut s.spans);
        let mut hits = Vec::with_capacity(queries.len());
        for (qi, (q, span)) in queries.iter().zip(&spans).enumerate() {
            if span.slack == 0 {
                hits.push(drain(&mut heaps[qi], q, self.scale));
            } else if abandoned[qi] || heaps[qi].len() < k || thresholds[qi] <= span.slack {
                // Too many candidates to rescore, or a document with filter score 0 might
                // belong in the top k.
                s.fell_back = true;
                hits.push(self.exhaustive_lists(q, k, s, self.scale));
            } else {
                let floor = thresholds[qi] - span.slack;
                let n = candidates[qi].iter().filter(|c| c.1 >= floor).count() as u64;
                if self.rescoring_costlier(n, span.postings) {
                    s.fell_back = true;
                    hits.push(self.exhaustive_lists(q, k, s, self.scale));
                } else {
                    hits.push(self.rescore(q, k, &candidates[qi], floor, s));
                }
            }
        }
        s.heaps = heaps;
        s.candidates = candidates;
        s.spans = spans;
        hits
    }

    /// The `k` positions of best filter score (exact for `u8` impacts, the top byte's for
    /// `u16`; ties in no particular order) for every query of `queries`, chunk by chunk: the
    /// first stage of query-term pruning, for `k` ≥ 1.
    pub(crate) fn chunked_candidates(
        &self,
        queries: &[&QueryWeights],
        k: usize,
        s: &mut Scratch,
    ) -> Vec<Vec<(u32, u64)>> {
        if self.n_docs == 0 {
            return vec![Vec::new(); queries.len()];
        }
        self.score_chunks(queries, k, true, s);
        s.heaps[..queries.len()]
            .iter_mut()
            .map(|h| h.drain().map(|(a, pos)| (pos, a.0)).collect())
            .collect()
    }

    /// Whether rescoring `candidates` documents through the forward index is estimated to
    /// cost more than exhaustive scoring of a query's `postings`.
    fn rescoring_costlier(&self, candidates: u64, postings: u64) -> bool {
        let doc_terms = self.fwd_terms.len() as f64 / self.n_docs.max(1) as f64;
        candidates as f64 * doc_terms * FORWARD_ENTRY_COST > postings as f64 * POSTING_COST
    }

    /// Score `queries` (k ≥ 1, documents > 0) chunk by chunk into `s.heaps` (one per query)
    /// and `s.spans`, returning each query's k-th score so far and whether it was abandoned.
    /// A query whose filter scores are exact (`slack` 0) keeps its top k by given document id
    /// as exhaustive scoring does; any other query, or every query when `positions_only`,
    /// keeps the k best positions by filter score, and (unless `positions_only`) in
    /// `s.candidates` every position within its slack of the k-th — unless rescoring them
    /// would read more than the query's postings (a loose slack, a deep k), when the query is
    /// abandoned, for exhaustive scoring of its postings to answer.
    fn score_chunks(
        &self,
        queries: &[&QueryWeights],
        k: usize,
        positions_only: bool,
        s: &mut Scratch,
    ) -> (Vec<u64>, Vec<bool>) {
        let n = self.n_docs as usize;
        let mut row_terms = std::mem::take(&mut s.row_terms);
        let mut lists = std::mem::take(&mut s.lists);
        let mut spans = std::mem::take(&mut s.spans);
        row_terms.clear();
        lists.clear();
        spans.clear();
        for q in queries {
            let span = self.split_query(q, &mut row_terms, &mut lists, s);
            spans.push(span);
        }
        let mut heaps = std::mem::take(&mut s.heaps);
        heaps.resize_with(queries.len().max(heaps.len()), BinaryHeap::new);
        heaps.iter_mut().for_each(BinaryHeap::clear);
        let mut candidates = std::mem::take(&mut s.candidates);
        candidates.resize_with(queries.len().max(candidates.len()), Vec::new);
        candidates.iter_mut().for_each(Vec::clear);
        let mut thresholds = vec![0u64; queries.len()];
        let mut abandoned = vec![false; queries.len()];
        let costlier =
            |candidates: u64, postings: u64| self.rescoring_costlier(candidates, postings);
        let chunk = chunk_docs(self.n_impact_rows());
        // The `u8` exhaustive accumulator's first `chunk` entries for the rows, and the lists'
        // chunk accumulator: all zeros between queries (the selection below takes back what it
        // reads), as exhaustive scoring leaves them.
        let mut acc_vec = std::mem::take(&mut s.doc_acc);
        if acc_vec.len() < chunk.min(n) {
            acc_vec.resize(chunk.min(n), 0);
        }
        let mut list_acc_vec = std::mem::take(&mut s.list_acc);
        if list_acc_vec.len() < chunk.min(n) {
            list_acc_vec.resize(chunk.min(n), 0);
        }
        let avx2 = has_avx2();
        // Reordered, a later position may hold a smaller document id, so ties are offered.
        let ties = self.order.is_some();
        let keep = (8 * k).max(8192);
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            let acc = &mut acc_vec[..end - start];
            let list_acc = &mut list_acc_vec[..end - start];
            for (qi, span) in spans.iter().enumerate() {
                if abandoned[qi] {
                    continue;
                }
                add_rows(
                    avx2,
                    acc,
                    &self.impact_rows,
                    &row_terms[span.rows.0..span.rows.1],
                    start,
                );
                let query_lists = &mut lists[span.lists.0..span.lists.1];
                if span.unit == 1 {
                    // `u8` impacts, unshifted weights: the lists' exact products fit the rows'
                    // `u32` accumulator (the query's weight bound), which stays in L1.
                    for (cur, stop, w) in query_lists {
                        while *cur < *stop {
                            let d = self.docs[*cur] as usize;
                            if d >= end {
                                break;
                            }
                            acc[d - start] += *w as u32 * self.impacts[*cur].get();
                            *cur += 1;
                        }
                    }
                } else {
                    for (cur, stop, w) in query_lists {
                        while *cur < *stop {
                            let d = self.docs[*cur] as usize;
                            if d >= end {
                                break;
                            }
                            list_acc[d - start] += I::product(*w, self.impacts[*cur]).into();
                            *cur += 1;
                        }
                    }
                }
                let (heap, threshold) = (&mut heaps[qi], &mut thresholds[qi]);
                let unit = span.unit;
                // With `unit` 1 the lists went into the rows' accumulator and `l` is untouched.
                let score = |a: &mut u32, l: &mut u64| {
                    if unit == 1 {
                        std::mem::take(a) as u64
                    } else {
                        std::mem::take(a) as u64 * unit + std::mem::take(l)
                    }
                };
                if positions_only {
                    for (i, (a, l)) in acc.iter_mut().zip(list_acc.iter_mut()).enumerate() {
                        let a = score(a, l);
                        if a > *threshold {
                            offer(heap, k, (start + i) as u32, a);
                            if heap.len() == k {
                                *threshold = heap.peek().map_or(0, |t| t.0.0);
                            }
                        }
                    }
                } else if span.slack == 0 {
                    // Exact scores: offered as exhaustive scoring offers them.
                    for (i, (a, l)) in acc.iter_mut().zip(list_acc.iter_mut()).enumerate() {
                        let a = score(a, l);
                        if a > *threshold || (ties && a == *threshold) {
                            offer(heap, k, self.doc_id((start + i) as u32), a);
                            if heap.len() == k {
                                *threshold = heap.peek().map_or(0, |t| t.0.0);
                            }
                        }
                    }
                } else {
                    // Filter scores: the heap keeps the k largest (by position: which of tied
                    // documents it keeps does not matter), the candidates every document
                    // within `slack` of the k-th so far.
                    let cands = &mut candidates[qi];
                    for (i, (a, l)) in acc.iter_mut().zip(list_acc.iter_mut()).enumerate() {
                        let a = score(a, l);
                        if a == 0 || a + span.slack < *threshold {
                            continue;
                        }
                        cands.push(((start + i) as u32, a));
                        offer(heap, k, (start + i) as u32, a);
                        if heap.len() == k {
                            *threshold = heap.peek().map_or(0, |t| t.0.0);
                        }
                    }
                    if start == 0 && end < n {
                        // The first chunk foretells the rest: its r-th best filter score, r
                        // the k-th's share of a chunk, stands in for the final k-th, and its
                        // documents within the slack of it for the share that will need
                        // rescoring.
                        let r = (k * end).div_ceil(n).max(1);
                        if r <= cands.len() {
                            let mut scores: Vec<u64> = cands.iter().map(|c| c.1).collect();
                            let at = scores.len() - r;
                            let kth = *scores.select_nth_unstable(at).1;
                            let within = cands.iter().filter(|c| c.1 + span.slack >= kth).count();
                            abandoned[qi] = costlier((within * n / end) as u64, span.postings);
                        }
                    } else if cands.len() > keep {
                        let t = *threshold;
                        cands.retain(|&(_, a)| a + span.slack >= t);
                        abandoned[qi] = costlier(cands.len() as u64, span.postings);
                    }
                }
            }
        }
        s.doc_acc = acc_vec;
        s.list_acc = list_acc_vec;
        s.row_terms = row_terms;
        s.lists = lists;
        s.spans = spans;
        s.heaps = heaps;
        s.candidates = candidates;
        (thresholds, abandoned)
    }

    /// The top `k` of the `candidates` (position, filter score) whose filter score reaches
    /// `floor`, by their exact scores under `q` through the quantised forward index.
    pub(crate) fn rescore(
        &self,
        q: &QueryWeights,
        k: usize,
        candidates: &[(u32, u64)],
        floor: u64,
        s: &mut Scratch,
    ) -> Vec<IndexHit> {
        s.query_dense.resize(self.vocab_size as usize, 0);
        for (&t, &w) in q.terms.iter().zip(&q.weights) {
            s.query_dense[t as usize] = w;
        }
        let mut heap = std::mem::take(&mut s.heap);
        heap.clear();
        for &(pos, a) in candidates {
            if a < floor {
                continue;
            }
            let (from, to) = (
                self.fwd_start[pos as usize] as usize,
                self.fwd_start[pos as usize + 1] as usize,
            );
            let mut raw = 0u64;
            for (&t, &i) in self.fwd_terms[from..to]
                .iter()
                .zip(&self.fwd_impacts[from..to])
            {
                raw += s.query_dense[t as usize] as u64 * i.get() as u64;
            }
            offer(&mut heap, k, self.doc_id(pos), raw);
            s.rescored += 1;
        }
        for &t in &q.terms {
            s.query_dense[t as usize] = 0;
        }
        let hits = drain(&mut heap, q, self.scale);
        s.heap = heap;
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 path and the portable one add the same integers.
    #[test]
    fn avx2_and_portable_rows_add_alike() {
        let n = 1000;
        let rows: Vec<u8> = (0..7 * n).map(|i| ((i * 37 + 11) % 256) as u8).collect();
        let terms: Vec<(usize, u16)> = (0..7).map(|r| (r * n, 40_000 + r as u16 * 3000)).collect();
        for start in [0, 13, 200] {
            let len = n - start - 5;
            let mut a = vec![1u32; len];
            let mut b = vec![1u32; len];
            add_rows(has_avx2(), &mut a, &rows, &terms, start);
            add_rows_portable(&mut b, &rows, &terms, start);
            let want: Vec<u32> = (0..len)
                .map(|i| {
                    1 + terms
                        .iter()
                        .map(|&(off, w)| w as u32 * rows[off + start + i] as u32)
                        .sum::<u32>()
                })
                .collect();
            assert_eq!(a, want);
            assert_eq!(b, want);
        }
    }

    #[test]
    fn chunks_hold_their_rows_in_cache_within_bounds() {
        assert_eq!(chunk_docs(0), 4_096);
        // 2 MiB / 568 rows = 3,692 documents, down to a multiple of 64.
        assert_eq!(chunk_docs(568), 3_648);
        assert_eq!(chunk_docs(100_000), 256);
        assert_eq!(chunk_docs(1000) % 64, 0);
    }
}
