//! Exact top-k query processing: exhaustive term-at-a-time (the reference), MaxScore
//! (Turtle & Flood, 1995; safe dynamic pruning, document at a time) and block-max pruning.
//! Scores are integers (`u16` query weights × `u8` or `u16` impacts), so every algorithm
//! returns exactly the same scores whatever order it adds them in; ties are broken by document
//! id, ascending — the given id, also when the index lays documents out in another order
//! ([`crate::DocOrder`]).

use std::{cmp::Reverse, collections::BinaryHeap};

use mmlsr_core::{Hit, Score, SparseRow, sort_hits};

use crate::{Error, Impact, InvertedIndex, Result, scratch::Scratch};

/// A result of the integer index.
pub type IndexHit = Hit<QuantisedScore>;

/// A query quantised for an index: strictly increasing term ids with `u16` weights
/// (`round(w / scale)`; zero weights are dropped). [`QueryWeights::new`] maps the largest
/// weight to `min(65,535, (2³²−1) / (255·n))` for a query of `n` terms, so that a score against
/// a `u8` index always fits its `u32` accumulator (and a `u16` index's `u64` one);
/// [`InvertedIndex::quantize_query`] uses the finest weights the index's impact type allows.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryWeights {
    /// Term ids, strictly increasing.
    pub(crate) terms: Vec<u32>,
    /// Quantised weights, bounded as above (private: the bound is what keeps every
    /// accumulator from overflowing).
    pub(crate) weights: Vec<u16>,
    /// Dequantisation factor.
    pub(crate) scale: f32,
}

impl QueryWeights {
    /// Term ids, strictly increasing.
    pub fn terms(&self) -> &[u32] {
        &self.terms
    }

    /// Quantised weights, aligned with [`QueryWeights::terms`].
    pub fn weights(&self) -> &[u16] {
        &self.weights
    }

    /// Dequantisation factor: a weight `q` stands for `q × scale`.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The score of an integer result against an index with impact scale `index_scale`.
    pub fn dequantize(&self, raw: u64, index_scale: f32) -> f32 {
        (raw as f64 * self.scale as f64 * index_scale as f64) as f32
    }

    /// Quantise a sparse query for any index; terms must be below `vocab_size` and weights ≥ 0.
    pub fn new(query: SparseRow<'_>, vocab_size: usize) -> Result<Self> {
        Self::for_impacts::<u8>(query, vocab_size)
    }

    /// Quantise a sparse query for an index with impacts of type `I`.
    pub fn for_impacts<I: Impact>(query: SparseRow<'_>, vocab_size: usize) -> Result<Self> {
        let max_w = query.values.iter().copied().fold(0.0f32, f32::max);
        let q_max = I::query_max(query.indices.len()) as f32;
        let scale = if max_w > 0.0 { max_w / q_max } else { 1.0 };
        let mut terms = Vec::with_capacity(query.indices.len());
        let mut weights = Vec::with_capacity(query.indices.len());
        for (&t, &w) in query.indices.iter().zip(query.values) {
            if t as usize >= vocab_size {
                return Err(Error::Query(format!(
                    "term {t} is outside the index's vocabulary of {vocab_size}"
                )));
            }
            if w < 0.0 {
                return Err(Error::Query(format!("term {t} has negative weight {w}")));
            }
            let q = (w / scale).round().clamp(0.0, q_max) as u16;
            if q > 0 {
                terms.push(t);
                weights.push(q);
            }
        }
        Ok(Self {
            terms,
            weights,
            scale,
        })
    }
}

/// Which exact algorithm answers a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Algorithm {
    /// Term at a time into a dense accumulator, then top-k selection (the fastest at 123k
    /// documents in every setting `mmlsr bench` measures).
    #[default]
    Exhaustive,
    /// MaxScore: document at a time over the "essential" lists only, skipping documents
    /// whose upper bound cannot beat the current k-th score.
    MaxScore,
    /// Block-max pruning (Mallia, Suel & Tonellotto, SIGIR 2024): upper bounds of every block
    /// of `block_size` consecutive documents from the per-term block maxima (a frequent term's
    /// as one dense row, added in a vectorised pass), blocks visited in
    /// decreasing bound order (the most promising tier first) and scored exactly — through the
    /// forward index, or from the query terms' postings in the block, whichever is estimated
    /// cheaper —, stopping once no remaining block can beat the k-th score. When the blocks
    /// left after the first tier are estimated to cost more than exhaustive scoring, the query
    /// is answered exhaustively instead ([`Scratch::fell_back`]). Safe (exact). Pair it with a
    /// [`crate::DocOrder`] that gathers similar documents into blocks: from about a million
    /// documents on it then beats exhaustive scoring (results/peers/exact-pruning.md).
    BlockMax,
}

/// The score of an [`InvertedIndex`] result: the exact integer it ranks by and its value
/// `raw × query scale × impact scale` (see [`QueryWeights::dequantize`]). Two results compare
/// by `raw`, so every algorithm ranks identically.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuantisedScore {
    /// Exact integer score.
    pub raw: u64,
    /// Its dequantised value.
    pub value: f32,
}

impl Score for QuantisedScore {
    fn cmp_score(&self, other: &Self) -> std::cmp::Ordering {
        self.raw.cmp(&other.raw)
    }
    fn to_f64(self) -> f64 {
        self.value as f64
    }
}

impl QueryWeights {
    /// The score of an integer result against an index with impact scale `index_scale`.
    fn score_of(&self, raw: u64, index_scale: f32) -> QuantisedScore {
        QuantisedScore {
            raw,
            value: self.dequantize(raw, index_scale),
        }
    }
}

/// Queries that [`InvertedIndex::search_many`] scores per pass over the rows.
pub const ROW_QUERY_GROUP: usize = 32;

/// Relative costs (ns on the benchmark machine, `mmlsr bench`) behind block-max pruning's
/// choices; they decide speed only, never results: adding one posting to the exhaustive
/// accumulator,
pub(crate) const POSTING_COST: f64 = 0.6;
/// scoring one forward-index entry of a block against the dense query weights,
pub(crate) const FORWARD_ENTRY_COST: f64 = 1.5;
/// and finding one query term's postings in a block (a binary search among its blocks).
const BLOCK_SEARCH_COST: f64 = 40.0;

/// Keeps the k best (score desc, doc asc); the heap's top is the worst kept.
pub(crate) fn offer(heap: &mut BinaryHeap<(Reverse<u64>, u32)>, k: usize, doc: u32, raw: u64) {
    if raw == 0 || k == 0 {
        return;
    }
    let key = (Reverse(raw), doc);
    if heap.len() < k {
        heap.push(key);
    } else if let Some(top) = heap.peek()
        && key < *top
    {
        heap.pop();
        heap.push(key);
    }
}

pub(crate) fn drain(
    heap: &mut BinaryHeap<(Reverse<u64>, u32)>,
    q: &QueryWeights,
    scale: f32,
) -> Vec<IndexHit> {
    let mut v: Vec<IndexHit> = heap
        .drain()
        .map(|(Reverse(raw), doc)| Hit::new(doc, q.score_of(raw, scale)))
        .collect();
    sort_hits(&mut v);
    v
}

impl<I: Impact> InvertedIndex<I> {
    /// Quantise a sparse query for this index (the finest weights its impact type allows).
    pub fn quantize_query(&self, query: SparseRow<'_>) -> Result<QueryWeights> {
        QueryWeights::for_impacts::<I>(query, self.vocab_size())
    }

    /// The top `k` documents for `query` (documents with score 0 are never returned).
    ///
    /// `query` must come from [`QueryWeights::new`] or [`InvertedIndex::quantize_query`] of an
    /// index with the same impact type (their weight bounds keep every score in range).
    pub fn search(
        &self,
        query: &QueryWeights,
        k: usize,
        algorithm: Algorithm,
        scratch: &mut Scratch,
    ) -> Vec<IndexHit> {
        scratch.reset_counters();
        let scale = self.scale;
        match algorithm {
            Algorithm::Exhaustive => self.exhaustive(query, k, scratch, scale),
            Algorithm::MaxScore => self.maxscore(query, k, scratch, scale),
            Algorithm::BlockMax => self.block_max_pruning(query, k, scratch, scale),
        }
    }

    fn block_max_pruning(
        &self,
        q: &QueryWeights,
        k: usize,
        s: &mut Scratch,
        scale: f32,
    ) -> Vec<IndexHit> {
        s.heap.clear();
        if k == 0 || q.terms.is_empty() || self.n_docs == 0 {
            return Vec::new();
        }
        let n_blocks = (self.n_docs as usize).div_ceil(self.block_size as usize);
        // Upper bound of every block: Σ_t q_t · max impact of t in the block, in the
        // exhaustive accumulator's type and buffer (scores fit it, so bounds do too; it is all
        // zeros between queries, and again once the bounds are taken back out below).
        let mut bounds = std::mem::take(I::accumulator(s));
        if bounds.len() < n_blocks {
            bounds.resize(n_blocks, I::Acc::default());
        }
        let acc = &mut bounds[..n_blocks];
        for (&t, &w) in q.terms.iter().zip(&q.weights) {
            let row = self.dense_row[t as usize];
            if row != u32::MAX {
                // A frequent term: its dense row of block maxima, added in one vectorised pass.
                let row = &self.dense_max[row as usize * n_blocks..][..n_blocks];
                s.bounds_read += n_blocks as u64;
                for (a, &m) in acc.iter_mut().zip(row) {
                    *a += I::product(w, m);
                }
                continue;
            }
            let (a, b) = self.term_blocks(t);
            s.bounds_read += (b - a) as u64;
            for (&blk, &m) in self.block_ids[a..b].iter().zip(&self.block_max[a..b]) {
                // SAFETY: block ids are `doc / block_size` of valid documents, so below
                // `n_blocks`.
                unsafe { *acc.get_unchecked_mut(blk as usize) += I::product(w, m) };
            }
        }
        let max_ub: u64 = acc.iter().copied().max().map_or(0, Into::into);
        if max_ub == 0 {
            *I::accumulator(s) = bounds;
            return Vec::new();
        }
        // Dense query weights for scoring a block through the forward index (all zeros
        // again afterwards).
        s.query_dense.resize(self.vocab_size as usize, 0);
        for (&t, &w) in q.terms.iter().zip(&q.weights) {
            s.query_dense[t as usize] = w;
        }
        let finished = self.score_blocks_by_bound(q, k, max_ub, &mut bounds[..n_blocks], s);
        for &t in &q.terms {
            s.query_dense[t as usize] = 0;
        }
        bounds[..n_blocks].fill(I::Acc::default());
        *I::accumulator(s) = bounds;
        if finished {
            drain(&mut s.heap, q, scale)
        } else {
            s.fell_back = true;
            self.exhaustive(q, k, s, scale)
        }
    }

    /// Block-max pruning's visit of the blocks (their bounds, the largest `max_ub > 0`), in
    /// decreasing bound order and two tiers so that few blocks are ever sorted. Tier 0: the
    /// `FIRST_TIER` blocks of highest bound (candidates found with a 64-bucket histogram of the
    /// bounds, then selected), which set a k-th score early. Tier 1: every other block whose
    /// bound reaches that score. A block whose bound is below the k-th score cannot hold a
    /// result (not even a tie), and bounds only decrease along a tier. Returns false, leaving
    /// tier 1 unvisited, when it is estimated to cost more than exhaustive scoring (exact
    /// too), which should then answer the query.
    fn score_blocks_by_bound(
        &self,
        q: &QueryWeights,
        k: usize,
        max_ub: u64,
        bounds: &mut [I::Acc],
        s: &mut Scratch,
    ) -> bool {
        const FIRST_TIER: usize = 32;
        // Monotone in the bound (all that exactness needs of it): the bound's top 6 bits.
        let shift = (u64::BITS - max_ub.leading_zeros()).saturating_sub(6);
        let bucket = |u: u64| (u >> shift) as usize;
        let mut hist = [0usize; 64];
        for &u in bounds.iter() {
            let u: u64 = u.into();
            if u > 0 {
                hist[bucket(u)] += 1;
            }
        }
        let mut cut_bucket = 63;
        let mut count = hist[63];
        while cut_bucket > 0 && count < FIRST_TIER {
            cut_bucket -= 1;
            count += hist[cut_bucket];
        }
        let by_bound = |x: &(u64, u32), y: &(u64, u32)| y.0.cmp(&x.0).then(x.1.cmp(&y.1));
        let mut blocks = std::mem::take(&mut s.blocks);
        blocks.clear();
        blocks.extend(
            bounds
                .iter()
                .map(|&u| u.into())
                .enumerate()
                .filter(|&(_, u)| u > 0 && bucket(u) >= cut_bucket)
                .map(|(b, u)| (u, b as u32)),
        );
        if blocks.len() > FIRST_TIER {
            blocks.select_nth_unstable_by(FIRST_TIER - 1, by_bound);
            blocks.truncate(FIRST_TIER);
        }
        blocks.sort_unstable_by(by_bound);
        let mut threshold = 0u64;
        self.score_in_order(q, k, s, &blocks, &mut threshold);
        // Tier 1 takes the other blocks.
        for &(_, blk) in &blocks {
            bounds[blk as usize] = I::Acc::default();
        }
        let floor = if s.heap.len() == k { threshold } else { 1 };
        let postings: u64 = q
            .terms
            .iter()
            .map(|&t| self.term_start[t as usize + 1] - self.term_start[t as usize])
            .sum();
        // Exhaustive scoring's cost: tier 1 gives up as soon as its blocks' cost passes it.
        let budget = postings as f64 * POSTING_COST;
        let search_cost = q.terms.len() as f64 * BLOCK_SEARCH_COST;
        blocks.clear();
        let mut cost = 0.0;
        for (b, &u) in bounds.iter().enumerate() {
            if u.into() >= floor {
                blocks.push((u.into(), b as u32));
                cost += (self.block_entries[b] as f64 * FORWARD_ENTRY_COST).min(search_cost);
                if cost > budget {
                    s.blocks = blocks;
                    return false;
                }
            }
        }
        blocks.sort_unstable_by(by_bound);
        self.score_in_order(q, k, s, &blocks, &mut threshold);
        s.blocks = blocks;
        true
    }

    /// Score `blocks` (bound, block; in decreasing bound order) until a bound falls below the
    /// k-th score, which `threshold` tracks.
    fn score_in_order(
        &self,
        q: &QueryWeights,
        k: usize,
        s: &mut Scratch,
        blocks: &[(u64, u32)],
        threshold: &mut u64,
    ) {
        for &(ub, blk) in blocks {
            if s.heap.len() == k && ub < *threshold {
                break;
            }
            self.score_block(q, blk as usize, k, s);
            s.blocks_scored += 1;
            if s.heap.len() == k {
                *threshold = s.heap.peek().map_or(0, |t| t.0.0);
            }
        }
    }

    /// Score every document of block `blk` exactly and offer it to the heap: through the
    /// forward index (each document's terms against the dense query weights) when the block
    /// holds few postings, otherwise from each query term's postings in the block (found by
    /// binary search among the term's blocks).
    fn score_block(&self, q: &QueryWeights, blk: usize, k: usize, s: &mut Scratch) {
        let bs = self.block_size as usize;
        let first = blk * bs;
        let last = (first + bs).min(self.n_docs as usize);
        let (fa, fb) = (
            self.fwd_start[first] as usize,
            self.fwd_start[last] as usize,
        );
        if (fb - fa) as f64 * FORWARD_ENTRY_COST <= q.terms.len() as f64 * BLOCK_SEARCH_COST {
            s.postings_scored += (fb - fa) as u64;
            for d in first..last {
                let (a, b) = (self.fwd_start[d] as usize, self.fwd_start[d + 1] as usize);
                let mut score = 0u64;
                for (&t, &i) in self.fwd_terms[a..b].iter().zip(&self.fwd_impacts[a..b]) {
                    score += s.query_dense[t as usize] as u64 * i.get() as u64;
                }
                offer(&mut s.heap, k, self.doc_id(d as u32), score);
            }
            return;
        }
        s.block_acc.clear();
        s.block_acc.resize(bs, 0);
        for (&t, &w) in q.terms.iter().zip(&q.weights) {
            let (a, b) = self.term_blocks(t);
            let Ok(e) = self.block_ids[a..b].binary_search(&(blk as u32)) else {
                continue;
            };
            let e = a + e;
            let from = self.block_post[e] as usize;
            let to = if e + 1 < b {
                self.block_post[e + 1] as usize
            } else {
                self.term_start[t as usize + 1] as usize
            };
            s.postings_scored += (to - from) as u64;
            let w = w as u64;
            for (&d, &i) in self.docs[from..to].iter().zip(&self.impacts[from..to]) {
                s.block_acc[d as usize - first] += w * i.get() as u64;
            }
        }
        for d in first..last {
            let score = std::mem::take(&mut s.block_acc[d - first]);
            offer(&mut s.heap, k, self.doc_id(d as u32), score);
        }
    }

    /// Exhaustive scoring: over document chunks when a term of the query has a dense row of
    /// impacts (`rows.rs`), otherwise [`InvertedIndex::exhaustive_lists`].
    fn exhaustive(&self, q: &QueryWeights, k: usize, s: &mut Scratch, scale: f32) -> Vec<IndexHit> {
        if self.uses_rows(q) {
            return self
                .exhaustive_chunked(&[q], k, s)
                .pop()
                .unwrap_or_default();
        }
        self.exhaustive_lists(q, k, s, scale)
    }

    /// Exhaustive scoring term at a time over the postings lists.
    pub(crate) fn exhaustive_lists(
        &self,
        q: &QueryWeights,
        k: usize,
        s: &mut Scratch,
        scale: f32,
    ) -> Vec<IndexHit> {
        // A dense accumulator (u32 for u8 impacts: about 0.5 MB for 123k documents, it stays
        // in L2); no overflow by the choice of the query scale.
        // It is all zeros between queries (the scan below resets what it reads), so it is only
        // resized, never cleared.
        let mut scored = 0u64;
        let mut heap = std::mem::take(&mut s.heap);
        let acc_vec = I::accumulator(s);
        acc_vec.resize(self.n_docs as usize, I::Acc::default());
        let acc = &mut acc_vec[..];
        for (&t, &w) in q.terms.iter().zip(&q.weights) {
            let (docs, imps) = self.postings(t);
            scored += docs.len() as u64;
            for (&d, &i) in docs.iter().zip(imps) {
                debug_assert!((d as usize) < acc.len());
                // SAFETY: every posting's document id is below `n_docs` = `acc.len()`: `build`
                // takes them from row numbers and `from_bytes` rejects any id ≥ n_docs, and
                // the postings are never modified afterwards. (The bounds check costs ~10 %
                // of exhaustive scoring: `cargo bench -p mmlsr-benches --bench index_search`.)
                unsafe { *acc.get_unchecked_mut(d as usize) += I::product(w, i) };
            }
        }
        // One pass over the accumulator in position order: in the given order a later
        // document with the same score as the k-th never displaces it, so ties go to the
        // smaller id.
        heap.clear();
        let mut threshold = 0u64;
        // Reordered, a later position may hold a smaller document id, so ties are offered.
        let ties = self.order.is_some();
        for (d, a) in acc.iter_mut().enumerate() {
            let a: u64 = std::mem::take(a).into();
            if (a > threshold || (ties && a == threshold)) && k > 0 {
                offer(&mut heap, k, self.doc_id(d as u32), a);
                if heap.len() == k {
                    threshold = heap.peek().map_or(0, |t| t.0.0);
                }
            }
        }
        s.postings_scored += scored;
        let hits = drain(&mut heap, q, scale);
        s.heap = heap;
        hits
    }

    fn maxscore(&self, q: &QueryWeights, k: usize, s: &mut Scratch, scale: f32) -> Vec<IndexHit> {
        let n = q.terms.len();
        s.heap.clear();
        if k == 0 || n == 0 {
            return Vec::new();
        }
        // Whether a document whose score is at most `bound` cannot enter a full top k whose
        // k-th score is `threshold`: in the given order a later document that ties never
        // displaces it; reordered, a later position may hold a smaller id, so ties can enter.
        let ties = self.order.is_some();
        let cannot_enter =
            |bound: u64, threshold: u64| bound < threshold || (!ties && bound == threshold);
        // Terms by upper bound, ascending; cumulative bounds.
        let ub = |i: usize| q.weights[i] as u64 * self.term_max[q.terms[i] as usize].get() as u64;
        s.order.clear();
        s.order.extend(0..n);
        s.order.sort_by_key(|&i| (ub(i), q.terms[i]));
        s.cum.clear();
        let mut c = 0u64;
        for &i in &s.order {
            c += ub(i);
            s.cum.push(c);
        }
        s.cursors.clear();
        s.cursors.resize(n, 0);
        let lists: Vec<(&[u32], &[I], u64)> = s
            .order
            .iter()
            .map(|&i| {
                let (d, imp) = self.postings(q.terms[i]);
                (d, imp, q.weights[i] as u64)
            })
            .collect();
        s.cur_doc.clear();
        s.cur_doc.extend(
            lists
                .iter()
                .map(|l| l.0.first().copied().unwrap_or(u32::MAX)),
        );
        let mut first_essential = 0usize;
        let mut threshold = 0u64;
        loop {
            // Next candidate: the smallest current document among essential lists.
            let d = s.cur_doc[first_essential..]
                .iter()
                .copied()
                .min()
                .unwrap_or(u32::MAX);
            if d == u32::MAX {
                break;
            }
            let mut score = 0u64;
            #[allow(clippy::needless_range_loop)] // j indexes three parallel arrays
            for j in first_essential..n {
                if s.cur_doc[j] == d {
                    let p = s.cursors[j];
                    score += lists[j].2 * lists[j].1[p].get() as u64;
                    s.cursors[j] = p + 1;
                    s.cur_doc[j] = lists[j].0.get(p + 1).copied().unwrap_or(u32::MAX);
                    s.postings_scored += 1;
                }
            }
            let full = s.heap.len() == k;
            let mut pruned = false;
            for j in (0..first_essential).rev() {
                if full && cannot_enter(score + s.cum[j], threshold) {
                    pruned = true;
                    break;
                }
                // Advance list j to the first document ≥ d (galloping, then binary search).
                let docs = lists[j].0;
                let start = s.cursors[j];
                // Invariant: docs[start..lo] < d, and docs[hi] ≥ d or hi = len.
                let (mut lo, mut hi, mut step) = (start, start, 1);
                while hi < docs.len() && docs[hi] < d {
                    lo = hi + 1;
                    hi = start + step;
                    step *= 2;
                }
                let hi = hi.min(docs.len());
                let pos = lo + docs[lo..hi].partition_point(|&x| x < d);
                let mut pos = pos;
                if pos < docs.len() && docs[pos] == d {
                    score += lists[j].2 * lists[j].1[pos].get() as u64;
                    pos += 1;
                    s.postings_scored += 1;
                }
                s.cursors[j] = pos;
                s.cur_doc[j] = docs.get(pos).copied().unwrap_or(u32::MAX);
            }
            if pruned {
                continue;
            }
            offer(&mut s.heap, k, self.doc_id(d), score);
            if s.heap.len() == k {
                threshold = s.heap.peek().map_or(0, |t| t.0.0);
                while first_essential < n && cannot_enter(s.cum[first_essential], threshold) {
                    first_essential += 1;
                }
            }
        }
        drain(&mut s.heap, q, scale)
    }
}

impl<I: Impact> InvertedIndex<I> {
    /// Answer many queries on all threads of the current rayon pool (one [`Scratch`] per
    /// worker, groups of [`ROW_QUERY_GROUP`] queries as in
    /// [`InvertedIndex::search_many`]); results in query order.
    pub fn search_batch(
        &self,
        queries: &[QueryWeights],
        k: usize,
        algorithm: Algorithm,
    ) -> Vec<Vec<IndexHit>> {
        use rayon::prelude::*;
        let groups: Vec<Vec<Vec<IndexHit>>> = queries
            .par_chunks(ROW_QUERY_GROUP)
            .map_init(Scratch::default, |s, g| {
                self.search_many(g, k, algorithm, s)
            })
            .collect();
        groups.into_iter().flatten().collect()
    }

    /// Answer many queries on this thread; results in query order, the same as
    /// [`InvertedIndex::search`]'s one by one. Exhaustive scoring takes them in groups of
    /// [`ROW_QUERY_GROUP`] that share each pass over the dense rows of impacts
    /// ([`InvertedIndex::set_impact_rows`]); the other algorithms one by one. `scratch`'s
    /// counters then describe the last group or query.
    pub fn search_many(
        &self,
        queries: &[QueryWeights],
        k: usize,
        algorithm: Algorithm,
        scratch: &mut Scratch,
    ) -> Vec<Vec<IndexHit>> {
        if algorithm != Algorithm::Exhaustive || self.impact_rows.is_empty() {
            return queries
                .iter()
                .map(|q| self.search(q, k, algorithm, scratch))
                .collect();
        }
        let mut out = Vec::with_capacity(queries.len());
        for g in queries.chunks(ROW_QUERY_GROUP) {
            scratch.reset_counters();
            let group: Vec<&QueryWeights> = g.iter().collect();
            out.extend(self.exhaustive_chunked(&group, k, scratch));
        }
        out
    }
}

/// Reference top-k by brute force over the forward index: every document's dot product with
/// the query on the same quantised values the index uses, then a full sort (score desc, doc
/// asc). For tests; it shares no code with the index's postings.
pub fn brute_force_top_k<I: Impact>(
    index: &InvertedIndex<I>,
    query: &QueryWeights,
    k: usize,
) -> Vec<IndexHit> {
    let scale = index.scale;
    let top = I::MAX as f32;
    let mut all: Vec<(u64, u32)> = Vec::new();
    for (d, row) in index.forward.rows().enumerate() {
        let mut raw = 0u64;
        let (mut a, mut b) = (0, 0);
        while a < row.indices.len() && b < query.terms.len() {
            match row.indices[a].cmp(&query.terms[b]) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    let imp = (row.values[a] / scale).round().clamp(0.0, top) as u64;
                    raw += imp * query.weights[b] as u64;
                    a += 1;
                    b += 1;
                }
            }
        }
        if raw > 0 {
            all.push((raw, d as u32));
        }
    }
    all.sort_unstable_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
    all.truncate(k);
    all.into_iter()
        .map(|(raw, doc)| Hit::new(doc, query.score_of(raw, scale)))
        .collect()
}

/// The unquantised reference: the top `k` documents of `docs` by the exact dot product with
/// `query` (accumulated in `f64`), score descending then document ascending; documents with
/// score 0 are left out. What the quantised index approximates, for exactness checks.
pub fn exact_top_k_f64(
    docs: &mmlsr_core::CsrMatrix,
    query: SparseRow<'_>,
    k: usize,
) -> Vec<Hit<f64>> {
    let mut all: Vec<Hit<f64>> = Vec::new();
    for (d, row) in docs.rows().enumerate() {
        let (mut a, mut b, mut s) = (0, 0, 0.0f64);
        while a < row.indices.len() && b < query.indices.len() {
            match row.indices[a].cmp(&query.indices[b]) {
                std::cmp::Ordering::Less => a += 1,
                std::cmp::Ordering::Greater => b += 1,
                std::cmp::Ordering::Equal => {
                    s += row.values[a] as f64 * query.values[b] as f64;
                    a += 1;
                    b += 1;
                }
            }
        }
        if s > 0.0 {
            all.push(Hit::new(d as u32, s));
        }
    }
    sort_hits(&mut all);
    all.truncate(k);
    all
}
