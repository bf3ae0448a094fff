//! Approximate retrieval in the style of Seismic (Bruch, Nardini, Rulli & Venturini,
//! SIGIR 2024): every posting list is statically pruned to its heaviest entries, the kept
//! documents are clustered into blocks, and each block carries a summary vector (the
//! component-wise maximum of its documents, itself pruned to a fraction of its mass). A query
//! visits the lists of its heaviest terms only; a block is opened (its documents scored
//! exactly against the full query through the forward index) only when its summary's inner
//! product with the query, scaled by the heap factor, can enter the current top-k.
//!
//! Not exact: its answers are measured by their recall of the exact top-k.

use std::{cmp::Reverse, collections::BinaryHeap};

use mmlsr_core::{CsrMatrix, Hit, Score, SparseRow, sort_hits};
use rand::{SeedableRng, seq::index::sample};

use crate::{Error, Result};

/// How the posting lists are statically pruned before clustering (Seismic, §4.1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pruning {
    /// Every list keeps its λ heaviest postings (Seismic's fixed-size pruning).
    PerTerm,
    /// λ postings per non-empty list *on average*: the λ × (non-empty lists) heaviest postings
    /// of the whole collection are kept, wherever they are, but no list keeps more than
    /// `max_fraction` × λ (Seismic's global threshold; its Python default is 1.5). Lists of
    /// heavy terms keep more, lists of light terms fewer.
    Global {
        /// A list's cap, in multiples of λ (≥ 1).
        max_fraction: f32,
    },
}

/// How the forward index holds the weights that score an opened block's documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardWeights {
    /// IEEE half precision (11 significant bits), as Seismic stores them: with a vocabulary of
    /// at most 65,536 terms a row entry is 4 bytes (u16 term, f16 weight) instead of 8, so a
    /// 24-term document spans 2 cache lines, not 3. Scores are those of the f16-rounded
    /// documents. Weights above 65,504 (f16's largest) are refused.
    #[default]
    Half,
    /// The weights as given: an opened document's score is its exact f32 dot product.
    Full,
}

/// Build settings of the approximate index (Seismic's λ, β and α).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxConfig {
    /// λ: postings kept per term (the heaviest), exactly or on average ([`Pruning`]).
    pub postings_per_term: usize,
    /// How λ is applied.
    pub pruning: Pruning,
    /// Average documents per block: a kept list of `n` postings is clustered into
    /// `⌈n / block_size⌉` blocks (Seismic's β = λ / block_size).
    pub block_size: usize,
    /// α: a block summary keeps its heaviest terms up to this fraction of its L1 mass.
    pub summary_energy: f32,
    /// …and at most this many terms (bounds the memory of dense collections).
    pub max_summary_terms: usize,
    /// Terms of each document (its heaviest) compared with the cluster centres' to assign it
    /// to one. Seismic compares whole vectors; 64 (whole FLOPs-3 documents of 24 terms) on
    /// trained vectors of ~155 terms (`approx_sweep`) reached recall 0.955 scoring 2,245
    /// documents a query, where 8 terms' nearest setting scored 4,781 for 0.947.
    pub sketch_terms: usize,
    /// Seed of the cluster-centre draws.
    pub seed: u64,
    /// Precision of the forward index's weights.
    pub forward_weights: ForwardWeights,
}

impl Default for ApproxConfig {
    fn default() -> Self {
        Self {
            postings_per_term: 2_000,
            pruning: Pruning::PerTerm,
            block_size: 16,
            summary_energy: 0.5,
            max_summary_terms: 64,
            sketch_terms: 64,
            seed: 42,
            forward_weights: ForwardWeights::Half,
        }
    }
}

/// Query settings of the approximate index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxParams {
    /// Posting lists visited: those of the query's `query_cut` heaviest terms.
    pub query_cut: usize,
    /// A block is skipped when the heap holds `k` documents and
    /// `summary · query < heap_factor × k-th score`. In (0, 1]: lower is safer and slower.
    pub heap_factor: f32,
}

impl Default for ApproxParams {
    fn default() -> Self {
        Self {
            query_cut: 10,
            heap_factor: 0.9,
        }
    }
}

/// The Seismic-style index: pruned, clustered posting lists with block summaries, and the
/// forward index that scores the documents of an opened block.
#[derive(Debug, Clone)]
pub struct ApproxIndex {
    vocab_size: usize,
    /// `term_blocks[t]..term_blocks[t + 1]`: term `t`'s blocks.
    term_blocks: Vec<u32>,
    /// `block_docs_start[b]..block_docs_start[b + 1]` index `block_docs`.
    block_docs_start: Vec<u32>,
    block_docs: Vec<u32>,
    /// `summary_start[b]..summary_start[b + 1]` index the summary terms and weights.
    summary_start: Vec<u32>,
    summary_terms: Vec<u32>,
    summary_weights: Vec<f32>,
    /// `block_rows[i]`: the forward row of `block_docs[i]`, packed ([`pack_row`]), so that
    /// opening a block reads its rows without a second lookup (as Seismic does).
    block_rows: Vec<u64>,
    /// The forward index: every document's (term, weight) pairs, interleaved, rows in
    /// document order (a row's pairs share its cache lines).
    forward: Forward,
    n_docs: usize,
}

/// Bits of a packed row's length ([`pack_row`]); the start takes the other 40.
const ROW_LEN_BITS: u32 = 24;

/// A forward row `start..start + len` packed into one `u64`: start in the high 40 bits, length in
/// the low 24.
fn pack_row(start: usize, len: usize) -> u64 {
    ((start as u64) << ROW_LEN_BITS) | len as u64
}

fn unpack_row(packed: u64) -> std::ops::Range<usize> {
    let start = (packed >> ROW_LEN_BITS) as usize;
    start..start + (packed & ((1 << ROW_LEN_BITS) - 1)) as usize
}

/// The forward index's rows in one of two layouts, chosen at build time.
#[derive(Debug, Clone)]
enum Forward {
    /// (term, f16 weight bits): [`ForwardWeights::Half`] with a vocabulary of at most 2^16.
    Compact(Vec<[u16; 2]>),
    /// (term, weight): any other vocabulary or precision (with `Half`, the weights are
    /// f16-rounded all the same, so results do not depend on the layout).
    Wide(Vec<(u32, f32)>),
}

/// One (term, weight) entry of a forward row.
trait RowEntry: Copy {
    fn term(self) -> usize;
    fn weight(self) -> f32;
}

impl RowEntry for (u32, f32) {
    #[inline]
    fn term(self) -> usize {
        self.0 as usize
    }
    #[inline]
    fn weight(self) -> f32 {
        self.1
    }
}

impl RowEntry for [u16; 2] {
    #[inline]
    fn term(self) -> usize {
        usize::from(self[0])
    }
    #[inline]
    fn weight(self) -> f32 {
        f16_to_f32(self[1])
    }
}

/// A non-negative, finite IEEE half's value: its exponent and mantissa bits shifted into an
/// f32's places read 2^-112 times the value (subnormals included), so one multiplication by
/// 2^112 restores it. Branch-free, needs no F16C; the build refuses infinities and negatives.
#[inline]
fn f16_to_f32(bits: u16) -> f32 {
    const TWO_POW_112: f32 = f32::from_bits((112 + 127) << 23);
    f32::from_bits(u32::from(bits) << 13) * TWO_POW_112
}

/// Ask the memory system for the cache lines of `row` ahead of scoring it (a block's documents
/// are random rows of the forward index: without this each costs a full memory round trip).
#[inline]
fn prefetch_row<E>(row: &[E]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // One prefetch per 64-byte cache line.
        for pair in row.iter().step_by((64 / size_of::<E>()).max(1)) {
            // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never faults: it
            // only hints at an address (here one inside `row`).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(pair).cast::<i8>()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Reusable per-thread buffers of [`ApproxIndex::search`].
#[derive(Debug, Default)]
pub struct ApproxScratch {
    query: Vec<f32>,
    /// One bit per document: scored by the current query (cleared through `scored`).
    visited: Vec<u64>,
    scored: Vec<u32>,
    heap: BinaryHeap<(Reverse<OrdF32>, u32)>,
    cut: Vec<(f32, u32)>,
    /// Documents scored by the last query.
    pub docs_scored: u64,
    /// Blocks whose summary was evaluated by the last query.
    pub blocks_evaluated: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct OrdF32(f32);
impl Eq for OrdF32 {}
impl PartialOrd for OrdF32 {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for OrdF32 {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&o.0)
    }
}

impl ApproxIndex {
    /// Build from document vectors (rows; weights ≥ 0).
    pub fn build(docs: &CsrMatrix, config: ApproxConfig) -> Result<Self> {
        if config.postings_per_term == 0 || config.block_size == 0 || config.sketch_terms == 0 {
            return Err(Error::Config(
                "postings_per_term, block_size and sketch_terms must be at least 1".into(),
            ));
        }
        if let Pruning::Global { max_fraction } = config.pruning
            && !(max_fraction >= 1.0 && max_fraction.is_finite())
        {
            return Err(Error::Config(format!(
                "max_fraction must be finite and at least 1, found {max_fraction}"
            )));
        }
        if !(config.summary_energy > 0.0 && config.summary_energy <= 1.0) {
            return Err(Error::Config(format!(
                "summary_energy must be in (0, 1], found {}",
                config.summary_energy
            )));
        }
        let n_docs = docs.n_rows();
        if u32::try_from(n_docs).is_err() {
            return Err(Error::Config("more than 2^32-1 documents".into()));
        }
        let v = docs.n_cols();
        let (starts, terms, weights) = docs.raw();
        if let Some(&w) = weights.iter().find(|&&w| !(w >= 0.0 && w.is_finite())) {
            return Err(Error::Config(format!(
                "document weights must be finite and ≥ 0, found {w}"
            )));
        }
        // Posting lists (doc, weight) per term.
        let mut lists: Vec<Vec<(u32, f32)>> = vec![Vec::new(); v];
        for (d, row) in docs.rows().enumerate() {
            for (&t, &w) in row.indices.iter().zip(row.values) {
                if w > 0.0 {
                    lists[t as usize].push((d as u32, w));
                }
            }
        }
        let (list_cap, min_weight) = static_pruning(&lists, weights, &config);
        // Each document's sketch: its heaviest terms, for cluster assignment.
        let sketches: Vec<Vec<(u32, f32)>> = docs
            .rows()
            .map(|row| {
                let mut s: Vec<(u32, f32)> = row
                    .indices
                    .iter()
                    .copied()
                    .zip(row.values.iter().copied())
                    .collect();
                s.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                s.truncate(config.sketch_terms);
                s
            })
            .collect();

        if let Some(d) = (0..n_docs).find(|&d| starts[d + 1] - starts[d] >= 1 << ROW_LEN_BITS) {
            return Err(Error::Config(format!(
                "document {d} has {} terms; the approximate index takes at most 2^{ROW_LEN_BITS} - 1",
                starts[d + 1] - starts[d]
            )));
        }
        if terms.len() as u64 >= 1 << (64 - ROW_LEN_BITS) {
            return Err(Error::Config(format!(
                "{} postings; the approximate index takes at most 2^{} - 1",
                terms.len(),
                64 - ROW_LEN_BITS
            )));
        }
        let mut out = Self {
            vocab_size: v,
            term_blocks: vec![0],
            block_docs_start: vec![0],
            block_docs: Vec::new(),
            summary_start: vec![0],
            summary_terms: Vec::new(),
            summary_weights: Vec::new(),
            block_rows: Vec::new(),
            forward: forward_rows(starts, terms, weights, v, config.forward_weights)?,
            n_docs,
        };
        // Terms are independent: prune, cluster and summarise them on all threads, then
        // concatenate in term order.
        use rayon::prelude::*;
        let per_term: Vec<Vec<Block>> = lists
            .par_iter_mut()
            .enumerate()
            .map_init(
                || Buffers::new(v),
                |buf, (t, list)| {
                    if min_weight > 0.0 {
                        list.retain(|p| p.1 >= min_weight);
                    }
                    term_blocks(t, list, list_cap, &sketches, docs, &config, buf)
                },
            )
            .collect();
        for blocks in per_term {
            for (block, summary) in blocks {
                out.block_docs.extend_from_slice(&block);
                out.block_docs_start.push(out.block_docs.len() as u32);
                out.summary_terms.extend(summary.iter().map(|p| p.0));
                out.summary_weights.extend(summary.iter().map(|p| p.1));
                out.summary_start.push(out.summary_terms.len() as u32);
            }
            out.term_blocks.push(out.block_docs_start.len() as u32 - 1);
        }
        out.block_rows = out
            .block_docs
            .iter()
            .map(|&d| {
                let d = d as usize;
                pack_row(starts[d], starts[d + 1] - starts[d])
            })
            .collect();
        Ok(out)
    }

    /// Number of documents.
    pub fn n_docs(&self) -> usize {
        self.n_docs
    }

    /// Number of blocks.
    pub fn n_blocks(&self) -> usize {
        self.block_docs_start.len() - 1
    }

    /// Postings kept after static pruning.
    pub fn n_postings(&self) -> usize {
        self.block_docs.len()
    }

    /// The approximate top `k` (score desc, doc asc) of `query`, scored exactly (f32 dot
    /// product of the full query with the forward row, f16-rounded with
    /// [`ForwardWeights::Half`]) for every document that is looked at.
    pub fn search(
        &self,
        query: SparseRow<'_>,
        k: usize,
        params: ApproxParams,
        s: &mut ApproxScratch,
    ) -> Result<Vec<Hit>> {
        s.docs_scored = 0;
        s.blocks_evaluated = 0;
        s.heap.clear();
        if let Some((&t, _)) = query
            .indices
            .iter()
            .zip(query.values)
            .find(|(t, w)| **t as usize >= self.vocab_size || !w.is_finite())
        {
            return Err(Error::Query(format!(
                "term {t} is outside the vocabulary of {} or has a non-finite weight",
                self.vocab_size
            )));
        }
        if k == 0 {
            return Ok(Vec::new());
        }
        s.query.resize(self.vocab_size, 0.0);
        let words = self.n_docs.div_ceil(64);
        if s.visited.len() != words {
            s.visited = vec![0; words];
        }
        for (&t, &w) in query.indices.iter().zip(query.values) {
            s.query[t as usize] = w;
        }
        s.cut.clear();
        s.cut.extend(
            query
                .indices
                .iter()
                .zip(query.values)
                .filter(|(_, w)| **w > 0.0)
                .map(|(&t, &w)| (w, t)),
        );
        s.cut
            .sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        s.cut.truncate(params.query_cut);
        match &self.forward {
            Forward::Compact(rows) => self.visit_blocks(rows, k, params, s),
            Forward::Wide(rows) => self.visit_blocks(rows, k, params, s),
        }
        s.docs_scored = s.scored.len() as u64;
        for &d in &s.scored {
            s.visited[d as usize / 64] = 0;
        }
        s.scored.clear();
        for &t in query.indices {
            s.query[t as usize] = 0.0;
        }
        let mut out: Vec<Hit> = s
            .heap
            .drain()
            .map(|(Reverse(OrdF32(score)), doc)| Hit::new(doc, score))
            .collect();
        sort_hits(&mut out);
        Ok(out)
    }

    /// The blocks of the lists in `s.cut`, each opened unless its summary rules it out, its
    /// documents scored against `s.query` through `forward` into `s.heap`.
    fn visit_blocks<E: RowEntry>(
        &self,
        forward: &[E],
        k: usize,
        params: ApproxParams,
        s: &mut ApproxScratch,
    ) {
        for ci in 0..s.cut.len() {
            let t = s.cut[ci].1 as usize;
            for b in self.term_blocks[t] as usize..self.term_blocks[t + 1] as usize {
                if s.heap.len() == k && self.summary_bound(b, s) < params.heap_factor * kth(&s.heap)
                {
                    continue;
                }
                // First ask for every new document's row, then score them: the loads overlap.
                self.prefetch_block(forward, b, &s.visited);
                self.score_block(forward, b, k, s);
            }
        }
    }

    /// Block `b`'s summary · the query: an upper bound of its documents' scores (exact with
    /// summaries at full mass). Counted in `s.blocks_evaluated`.
    fn summary_bound(&self, b: usize, s: &mut ApproxScratch) -> f32 {
        let (a, e) = (
            self.summary_start[b] as usize,
            self.summary_start[b + 1] as usize,
        );
        s.blocks_evaluated += 1;
        self.summary_terms[a..e]
            .iter()
            .zip(&self.summary_weights[a..e])
            .map(|(&term, &w)| s.query[term as usize] * w)
            .sum()
    }

    /// The index range of block `b`'s documents in `block_docs` and `block_rows`.
    fn block_range(&self, b: usize) -> std::ops::Range<usize> {
        self.block_docs_start[b] as usize..self.block_docs_start[b + 1] as usize
    }

    /// Ask for the forward rows of block `b`'s documents not yet scored.
    fn prefetch_block<E>(&self, forward: &[E], b: usize, visited: &[u64]) {
        let r = self.block_range(b);
        for (&d, &row) in self.block_docs[r.clone()].iter().zip(&self.block_rows[r]) {
            if visited[d as usize / 64] & (1 << (d % 64)) == 0 {
                prefetch_row(&forward[unpack_row(row)]);
            }
        }
    }

    /// Score block `b`'s documents not yet scored into the heap of the best `k`.
    fn score_block<E: RowEntry>(&self, forward: &[E], b: usize, k: usize, s: &mut ApproxScratch) {
        let r = self.block_range(b);
        for (&d, &row) in self.block_docs[r.clone()].iter().zip(&self.block_rows[r]) {
            let (word, bit) = (d as usize / 64, 1u64 << (d % 64));
            if s.visited[word] & bit != 0 {
                continue;
            }
            s.visited[word] |= bit;
            s.scored.push(d);
            let score: f32 = forward[unpack_row(row)]
                .iter()
                .map(|&e| s.query[e.term()] * e.weight())
                .sum();
            if score <= 0.0 {
                continue;
            }
            let key = (Reverse(OrdF32(score)), d);
            if s.heap.len() < k {
                s.heap.push(key);
            } else if key < *s.heap.peek().expect("full heap") {
                s.heap.pop();
                s.heap.push(key);
            }
        }
    }
}

/// The k-th best score of a full heap.
fn kth(heap: &BinaryHeap<(Reverse<OrdF32>, u32)>) -> f32 {
    heap.peek().expect("full heap").0.0.0
}

/// The forward rows in the layout `precision` and the vocabulary allow ([`Forward`]).
fn forward_rows(
    starts: &[usize],
    terms: &[u32],
    weights: &[f32],
    vocab_size: usize,
    precision: ForwardWeights,
) -> Result<Forward> {
    if precision == ForwardWeights::Full {
        return Ok(Forward::Wide(huge_page_vec(
            terms.iter().copied().zip(weights.iter().copied()),
            terms.len(),
        )));
    }
    if let Some(i) = weights
        .iter()
        .position(|&w| half::f16::from_f32(w).is_infinite())
    {
        let doc = starts.partition_point(|&s| s <= i) - 1;
        return Err(Error::Config(format!(
            "document {doc} has weight {} above half precision's largest (65504); \
             build with ForwardWeights::Full",
            weights[i]
        )));
    }
    // Weights are ≥ 0; `+ 0.0` turns -0 into +0, whose sign bit the decoding does not read.
    let half = weights.iter().map(|&w| half::f16::from_f32(w + 0.0));
    Ok(if vocab_size <= 1 << 16 {
        Forward::Compact(huge_page_vec(
            terms
                .iter()
                .zip(half)
                .map(|(&t, w)| [t as u16, w.to_bits()]),
            terms.len(),
        ))
    } else {
        Forward::Wide(huge_page_vec(
            terms.iter().copied().zip(half.map(half::f16::to_f32)),
            terms.len(),
        ))
    })
}

/// `items` (`len` of them) collected into a vector whose memory Linux is asked, before it is
/// first written, to back with 2 MiB pages (transparent huge pages, `madvise` mode). The
/// forward index is read at random: in 4 KiB pages nearly every opened document is a TLB
/// miss (a page walk, dearer still in a virtual machine). Elsewhere, or if the advice is
/// refused, an ordinary vector.
fn huge_page_vec<T>(items: impl Iterator<Item = T>, len: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        let spare = out.spare_capacity_mut();
        let start = spare.as_ptr() as usize;
        let bytes = std::mem::size_of_val(spare);
        // madvise takes a page-aligned start; the bytes before ours in that page are the
        // allocator's, and advice about them changes nothing they hold.
        let aligned = start & !4095;
        if bytes >= 2 << 20 {
            // SAFETY: the range lies within pages mapped for this allocation; MADV_HUGEPAGE is
            // advice only (it neither reads nor changes their contents), and its failure is
            // harmless, so its result is ignored.
            unsafe {
                libc::madvise(
                    aligned as *mut libc::c_void,
                    bytes + (start - aligned),
                    libc::MADV_HUGEPAGE,
                );
            }
        }
    }
    out.extend(items);
    out
}

/// One block while building: its documents and its summary (term, weight), by term.
type Block = (Vec<u32>, Vec<(u32, f32)>);

/// Per-thread buffers of the build.
struct Buffers {
    dense: Vec<f32>,
    touched: Vec<u32>,
    centre_of_term: Vec<Vec<(u32, f32)>>,
    centre_terms: Vec<u32>,
}

impl Buffers {
    fn new(v: usize) -> Self {
        Self {
            dense: vec![0.0; v],
            touched: Vec::new(),
            centre_of_term: vec![Vec::new(); v],
            centre_terms: Vec::new(),
        }
    }
}

/// Static pruning's two limits: the most postings a list keeps (its heaviest), and the least
/// weight a kept posting has (0: none; with [`Pruning::Global`], the weight of the
/// collection's budget-th heaviest posting, so that about λ × non-empty lists are kept).
fn static_pruning(
    lists: &[Vec<(u32, f32)>],
    weights: &[f32],
    config: &ApproxConfig,
) -> (usize, f32) {
    let lambda = config.postings_per_term;
    match config.pruning {
        Pruning::PerTerm => (lambda, 0.0),
        Pruning::Global { max_fraction } => {
            let cap = ((max_fraction as f64 * lambda as f64) as usize).max(lambda);
            let non_empty = lists.iter().filter(|l| !l.is_empty()).count();
            let budget = lambda.saturating_mul(non_empty);
            let mut positive: Vec<f32> = weights.iter().copied().filter(|&w| w > 0.0).collect();
            if budget >= positive.len() {
                return (cap, 0.0);
            }
            let (_, &mut kth, _) =
                positive.select_nth_unstable_by(budget - 1, |a, b| b.total_cmp(a));
            (cap, kth)
        }
    }
}

/// One term's blocks: its heaviest postings (at most `cap`) clustered, each block with its
/// summary.
fn term_blocks(
    t: usize,
    list: &mut Vec<(u32, f32)>,
    cap: usize,
    sketches: &[Vec<(u32, f32)>],
    docs: &CsrMatrix,
    config: &ApproxConfig,
    buf: &mut Buffers,
) -> Vec<Block> {
    let mut out = Vec::new();
    // Static pruning: the `cap` heaviest postings.
    if list.len() > cap {
        list.select_nth_unstable_by(cap - 1, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        list.truncate(cap);
    }
    list.sort_unstable_by_key(|p| p.0);
    let n_blocks = list.len().div_ceil(config.block_size);
    let clusters: Vec<Vec<u32>> = if n_blocks <= 1 {
        vec![list.iter().map(|p| p.0).collect()]
    } else {
        // Shallow clustering: random documents as centres, each document to the
        // centre whose sketch has the largest inner product with its own.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            config.seed ^ (t as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let centres: Vec<u32> = sample(&mut rng, list.len(), n_blocks)
            .into_iter()
            .map(|i| list[i].0)
            .collect();
        buf.centre_terms.clear();
        for (c, &doc) in centres.iter().enumerate() {
            for &(term, w) in &sketches[doc as usize] {
                if buf.centre_of_term[term as usize].is_empty() {
                    buf.centre_terms.push(term);
                }
                buf.centre_of_term[term as usize].push((c as u32, w));
            }
        }
        let mut clusters: Vec<Vec<u32>> = vec![Vec::new(); n_blocks];
        let mut unmatched: Vec<u32> = Vec::new();
        let mut score = vec![0.0f32; n_blocks];
        for &(doc, _) in list.iter() {
            score.iter_mut().for_each(|s| *s = 0.0);
            for &(term, w) in &sketches[doc as usize] {
                for &(c, cw) in &buf.centre_of_term[term as usize] {
                    score[c as usize] += w * cw;
                }
            }
            let (best, &s) = score
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                .expect("at least two blocks");
            if s > 0.0 {
                clusters[best].push(doc);
            } else {
                unmatched.push(doc);
            }
        }
        for &term in &buf.centre_terms {
            buf.centre_of_term[term as usize].clear();
        }
        clusters.retain(|c| !c.is_empty());
        clusters.extend(unmatched.chunks(config.block_size).map(<[u32]>::to_vec));
        clusters
    };
    for block in clusters.into_iter().filter(|b| !b.is_empty()) {
        // Summary: component-wise max over the block's documents, pruned to α mass.
        for &d in &block {
            let row = docs.row(d as usize);
            for (&term, &w) in row.indices.iter().zip(row.values) {
                let slot = &mut buf.dense[term as usize];
                if *slot == 0.0 && w > 0.0 {
                    buf.touched.push(term);
                }
                *slot = slot.max(w);
            }
        }
        let mut summary: Vec<(u32, f32)> = buf
            .touched
            .iter()
            .map(|&t| (t, buf.dense[t as usize]))
            .collect();
        for &term in &buf.touched {
            buf.dense[term as usize] = 0.0;
        }
        buf.touched.clear();
        let mass: f32 = summary.iter().map(|p| p.1).sum();
        // Only the heaviest `max_summary_terms` can be kept: select them, then sort those
        // (a block of long documents touches thousands of terms).
        let heaviest_first =
            |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        let cap = config.max_summary_terms.max(1);
        if summary.len() > cap {
            summary.select_nth_unstable_by(cap - 1, heaviest_first);
            summary.truncate(cap);
        }
        summary.sort_unstable_by(heaviest_first);
        let mut kept = 0.0f32;
        let keep = summary
            .iter()
            .take_while(|p| {
                let more = kept < config.summary_energy * mass;
                kept += p.1;
                more
            })
            .count()
            .max(1);
        // A new vector, not a truncated one: the truncated one would keep the capacity of
        // every touched term, block after block.
        let mut summary: Vec<(u32, f32)> = summary[..keep].to_vec();
        summary.sort_unstable_by_key(|p| p.0);
        out.push((block, summary));
    }
    out
}

/// Fraction of `exact`'s documents that `approx` also returns (recall of the exact top-k).
/// 1 when `exact` is empty.
pub fn recall<S: Score>(approx: &[Hit<S>], exact: &[u32]) -> f64 {
    if exact.is_empty() {
        return 1.0;
    }
    let found = exact
        .iter()
        .filter(|d| approx.iter().any(|r| r.doc == **d))
        .count();
    found as f64 / exact.len() as f64
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn f16_decoding_matches_the_half_crate_for_every_non_negative_finite_value() {
        // 0x7C00 is +infinity: every bit pattern below it is a non-negative finite half.
        for bits in 0..0x7C00u16 {
            let want = half::f16::from_bits(bits).to_f32();
            assert_eq!(
                f16_to_f32(bits).to_bits(),
                want.to_bits(),
                "bits {bits:#06x}"
            );
        }
    }
}
