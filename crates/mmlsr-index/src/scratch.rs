//! Per-thread query buffers of the exact algorithms.

use std::{cmp::Reverse, collections::BinaryHeap};

/// Reusable per-thread buffers, so queries do not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Exhaustive scoring's per-document accumulator (`u8` impacts), block-max pruning's
    /// block bounds too, and the chunk accumulator of scoring over dense rows (either width);
    /// all zeros between queries.
    pub(crate) doc_acc: Vec<u32>,
    /// The same for `u16` impacts.
    pub(crate) doc_acc_wide: Vec<u64>,
    /// Scoring over dense rows: the sparse lists' exact scores of a chunk (all zeros between
    /// queries).
    pub(crate) list_acc: Vec<u64>,
    pub(crate) block_acc: Vec<u64>,
    pub(crate) blocks: Vec<(u64, u32)>,
    /// Query weights by term id (all zeros between queries).
    pub(crate) query_dense: Vec<u16>,
    pub(crate) cur_doc: Vec<u32>,
    pub(crate) heap: BinaryHeap<(Reverse<u64>, u32)>,
    pub(crate) order: Vec<usize>,
    pub(crate) cursors: Vec<usize>,
    pub(crate) cum: Vec<u64>,
    /// Chunked exhaustive scoring (`rows.rs`): the group's dense-row terms (row offset,
    /// weight), sparse lists (cursor, end, weight), each query's share of them, and its heap.
    pub(crate) row_terms: Vec<(usize, u16)>,
    pub(crate) lists: Vec<(usize, usize, u16)>,
    pub(crate) spans: Vec<QuerySpan>,
    pub(crate) heaps: Vec<BinaryHeap<(Reverse<u64>, u32)>>,
    /// Per query of a group (`u16` impacts): documents (position, filter score) to rescore.
    pub(crate) candidates: Vec<Vec<(u32, u64)>>,
    /// Postings visited by the last query (a cost measure; block-max pruning counts the
    /// forward-index entries of the blocks it scores that way).
    pub postings_scored: u64,
    /// Block maxima read by the last query (block-max pruning's bound computation).
    pub bounds_read: u64,
    /// Blocks scored by the last query (block-max pruning).
    pub blocks_scored: u64,
    /// Whether block-max pruning handed the last query to exhaustive scoring, or the dense
    /// rows' `u16` filter handed it to exhaustive scoring of its postings (for a group: any
    /// of its queries).
    pub fell_back: bool,
    /// Documents rescored exactly through the forward index: after the dense rows' filter
    /// (exhaustive scoring with `u16` impacts, [`crate::InvertedIndex::set_impact_rows`]), and
    /// the candidates of query-term pruning ([`crate::InvertedIndex::search_cut`]).
    pub rescored: u64,
}

impl Scratch {
    /// Zero the public work counters before a query (or a group of queries).
    pub(crate) fn reset_counters(&mut self) {
        self.postings_scored = 0;
        self.bounds_read = 0;
        self.blocks_scored = 0;
        self.fell_back = false;
        self.rescored = 0;
    }
}

/// A query of a group: its row terms `rows.0..rows.1` and sparse lists `lists.0..lists.1` in
/// the group's buffers. The rows hold top bytes and take weights `w' = w >> shift` (the
/// smallest shift that keeps `255 · Σ w'` over the row terms within `u32`); the lists take the
/// exact weights and impacts. A document's filter score `unit · A + L` (`A = Σ w' · top byte`
/// over the row terms, `L` the lists' exact score) is at most its exact score and at least
/// that minus `slack`: with impacts of `b` bits and `w = 2^shift · w' + r`, a row term's exact
/// product exceeds `unit · w' · top byte` (`unit = 2^(shift + b − 8)`) by `2^shift · w' · (low
/// b − 8 bits) + r · impact`, at most `2^shift · w' · (2^(b−8) − 1) + r · max impact of the
/// term`, summed into `slack`. For `u8` impacts, or a query without row terms, `slack` is 0
/// and the filter score is the score.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QuerySpan {
    pub(crate) rows: (usize, usize),
    pub(crate) lists: (usize, usize),
    pub(crate) unit: u64,
    pub(crate) slack: u64,
    /// The query's postings (what exhaustive scoring of its lists would read).
    pub(crate) postings: u64,
}
