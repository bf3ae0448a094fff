//! The in-memory inverted index: per-term postings sorted by document, quantised impacts
//! (`u8` or `u16`), per-term and per-block maxima, and a forward index for rescoring.

use mmlsr_core::CsrMatrix;

use crate::{Error, Impact, Result};

/// Build settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// Documents per block: the index keeps, for every term, the largest impact in each range
    /// of `block_size` consecutive documents (the upper bounds of block-max pruning,
    /// Mallia et al., SIGIR 2024). 16 by default: on FLOPs-3 Zipf vectors at 4M documents
    /// blocks of 16 made block-max pruning 1.8× faster than exhaustive scoring, blocks of 64
    /// 0.7× (`u8`, given order, commit f58e8d1; `examples/exact_sweep.rs`,
    /// results/peers/exact-pruning.md).
    pub block_size: usize,
    /// The order the index lays the documents out in, and so which documents share a block.
    /// It changes speed only, never results: hits carry the given document ids, ties broken
    /// by the given id.
    pub doc_order: DocOrder,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self {
            block_size: 16,
            doc_order: DocOrder::Given,
        }
    }
}

/// How [`InvertedIndex::build`] orders the documents (document reordering, the companion of
/// block-max pruning: documents that share heavy terms in one block give that block a bound
/// that stands out, so the others can be skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DocOrder {
    /// As given.
    #[default]
    Given,
    /// Sorted by the ids of each document's `terms` heaviest terms (heaviest first, compared
    /// lexicographically; ties by the given id): a cheap stand-in for graph-bisection
    /// reordering. With 3 terms and blocks of 16 on FLOPs-3 Zipf vectors, block-max pruning
    /// runs 3.6× (1M documents) and 8.2× (4M) faster than exhaustive scoring, against 1.4×
    /// and 3.7× in the given order (`u8`; results/peers/zipf-f3-1m-exact.md and
    /// exact-pruning.md); the build also
    /// sorts the documents (1M: 2.5 s, against 1.8–2.9 s in the given order).
    HeaviestTerms {
        /// How many of a document's heaviest terms form its sort key (at least 1).
        terms: usize,
    },
}

impl std::str::FromStr for DocOrder {
    type Err = Error;

    /// `given`, or `heaviest-terms:N` (N ≥ 1).
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "document order {s:?}: expected `given` or `heaviest-terms:N` (N ≥ 1)"
            ))
        };
        match s {
            "given" => Ok(Self::Given),
            _ => match s.strip_prefix("heaviest-terms:").map(str::parse::<usize>) {
                Some(Ok(terms)) if terms > 0 => Ok(Self::HeaviestTerms { terms }),
                _ => Err(bad()),
            },
        }
    }
}

impl std::fmt::Display for DocOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Given => f.write_str("given"),
            Self::HeaviestTerms { terms } => write!(f, "heaviest-terms:{terms}"),
        }
    }
}

impl DocOrder {
    /// The permutation this order puts `docs` in: position `p` of the index holds given
    /// document `order[p]`; `None` for [`DocOrder::Given`].
    pub fn permutation(self, docs: &CsrMatrix) -> Option<Vec<u32>> {
        let DocOrder::HeaviestTerms { terms } = self else {
            return None;
        };
        let mut keyed: Vec<(Vec<u32>, u32)> = docs
            .rows()
            .enumerate()
            .map(|(d, row)| {
                let mut by_weight: Vec<(f32, u32)> = row
                    .values
                    .iter()
                    .copied()
                    .zip(row.indices.iter().copied())
                    .collect();
                by_weight.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                let key = by_weight.iter().take(terms).map(|&(_, t)| t).collect();
                (key, d as u32)
            })
            .collect();
        keyed.sort_unstable();
        Some(keyed.into_iter().map(|(_, d)| d).collect())
    }
}

/// An inverted index over sparse document vectors, with impacts of type `I` (`u8` by default,
/// or `u16`).
///
/// Impacts are quantised: `q = round(w / scale)` with `scale = max_w / I::MAX` (255 or
/// 65,535), so the heaviest weight of the collection maps to `I::MAX` and a weight below
/// `scale / 2` to 0 (such postings are dropped). Scores are computed exactly in integers (see
/// [`crate::QueryWeights`]) and reported as `f32` after multiplying by both scales.
#[derive(Debug, Clone, PartialEq)]
pub struct InvertedIndex<I: Impact = u8> {
    pub(crate) n_docs: u32,
    pub(crate) vocab_size: u32,
    pub(crate) block_size: u32,
    /// Dequantisation factor of the impacts.
    pub(crate) scale: f32,
    /// `term_start[t]..term_start[t + 1]` are term `t`'s postings.
    pub(crate) term_start: Vec<u64>,
    /// Document ids, increasing within each term.
    pub(crate) docs: Vec<u32>,
    /// Quantised impacts, aligned with `docs`.
    pub(crate) impacts: Vec<I>,
    /// `block_start[t]..block_start[t + 1]` index `block_ids`/`block_max` for term `t`.
    pub(crate) block_start: Vec<u64>,
    /// Document blocks (`doc / block_size`) in which each term occurs, increasing per term.
    pub(crate) block_ids: Vec<u32>,
    /// Largest impact of the term in that block.
    pub(crate) block_max: Vec<I>,
    /// Where the term's postings in that block start (an index into `docs`); they end where
    /// the term's next block starts, or at the end of the term's list.
    pub(crate) block_post: Vec<u64>,
    /// Terms frequent enough that block-max pruning adds their block maxima as one dense row
    /// (vectorised) rather than entry by entry: `dense_row[t]` is term `t`'s row of
    /// `dense_max`, or `u32::MAX` (derived from the block maxima, never stored).
    pub(crate) dense_row: Vec<u32>,
    /// Those terms' block maxima, one row of all blocks each (0 where the term is absent).
    pub(crate) dense_max: Vec<I>,
    /// Terms held by enough documents to get a dense row of impacts
    /// ([`InvertedIndex::set_impact_rows`]): `impact_row[t]` is term `t`'s row of
    /// `impact_rows`, or `u32::MAX` (derived from the postings, never stored).
    pub(crate) impact_row: Vec<u32>,
    /// Those terms' impacts' top bytes, one row of all document positions each (0 where
    /// absent).
    pub(crate) impact_rows: Vec<u8>,
    /// Forward-index entries of each block (saturated at `u32::MAX`): block-max pruning's
    /// cost estimate reads them for every candidate block, without striding `fwd_start`.
    pub(crate) block_entries: Vec<u32>,
    /// Quantised forward index (derived from the postings): `fwd_start[d]..fwd_start[d + 1]`.
    pub(crate) fwd_start: Vec<u64>,
    /// Terms of each document, increasing.
    pub(crate) fwd_terms: Vec<u32>,
    /// Their impacts.
    pub(crate) fwd_impacts: Vec<I>,
    /// Largest impact of each term.
    pub(crate) term_max: Vec<I>,
    /// The original vectors in the given order, for rescoring.
    pub(crate) forward: CsrMatrix,
    /// [`DocOrder`]'s permutation: position `p` of the postings, blocks and quantised forward
    /// index holds given document `order[p]`; `None` when the order is the given one.
    pub(crate) order: Option<Vec<u32>>,
}

impl<I: Impact> InvertedIndex<I> {
    /// Index `docs` (one row per document; columns are term ids).
    pub fn build(docs: &CsrMatrix, config: IndexConfig) -> Result<Self> {
        if let DocOrder::HeaviestTerms { terms: 0 } = config.doc_order {
            return Err(Error::Config(
                "doc_order HeaviestTerms needs at least 1 term".into(),
            ));
        }
        if config.block_size == 0 || config.block_size > u32::MAX as usize {
            return Err(Error::Config(format!(
                "block_size must be in 1..=2^32-1, found {}",
                config.block_size
            )));
        }
        // Checked here so that `from_postings` may narrow them.
        u32::try_from(docs.n_rows())
            .map_err(|_| Error::Config("more than 2^32-1 documents".into()))?;
        u32::try_from(docs.n_cols())
            .map_err(|_| Error::Config("vocabulary larger than 2^32-1".into()))?;
        let (_, idx, val) = docs.raw();
        if let Some(i) = val.iter().position(|&w| w < 0.0) {
            let row = docs.row_of_entry(i);
            return Err(Error::Config(format!(
                "document {row} (row of the indexed matrix), term {}: weight {}; document \
                 weights must be ≥ 0 (learned sparse vectors are)",
                idx[i], val[i]
            )));
        }
        let max_w = val.iter().copied().fold(0.0f32, f32::max);
        let top = I::MAX as f32;
        let scale = if max_w > 0.0 { max_w / top } else { 1.0 };
        let quant = |w: f32| -> I { I::from_u32((w / scale).round().clamp(0.0, top) as u32) };

        let order = config.doc_order.permutation(docs);
        let (term_start, post_docs, impacts) = invert(docs, order.as_deref(), |w| {
            Some(quant(w)).filter(|&q| q > I::default())
        });
        Ok(Self::from_postings(
            config.block_size as u32,
            scale,
            term_start,
            post_docs,
            impacts,
            docs.clone(),
            order,
        ))
    }

    /// Assemble an index from its stored parts (postings and the original vectors), deriving
    /// the block and term maxima and the quantised forward index.
    pub(crate) fn from_postings(
        block_size: u32,
        scale: f32,
        term_start: Vec<u64>,
        docs: Vec<u32>,
        impacts: Vec<I>,
        forward: CsrMatrix,
        order: Option<Vec<u32>>,
    ) -> Self {
        let n_docs = forward.n_rows() as u32;
        let (block_start, block_ids, block_max, block_post, term_max) =
            block_maxima(&term_start, &docs, &impacts, block_size);
        let (fwd_start, fwd_terms, fwd_impacts) =
            transpose(&term_start, &docs, &impacts, n_docs as usize);
        let n_blocks = (n_docs as usize).div_ceil(block_size as usize);
        let (dense_row, dense_max) =
            dense_block_maxima(&block_start, &block_ids, &block_max, n_blocks);
        let (impact_row, impact_rows) = impact_rows(
            &term_start,
            &docs,
            &impacts,
            n_docs as usize,
            IMPACT_ROW_MIN_FRACTION,
        );
        let block_entries = (0..n_blocks)
            .map(|b| {
                let first = b * block_size as usize;
                let last = (first + block_size as usize).min(n_docs as usize);
                u32::try_from(fwd_start[last] - fwd_start[first]).unwrap_or(u32::MAX)
            })
            .collect();
        Self {
            n_docs,
            vocab_size: forward.n_cols() as u32,
            block_size,
            scale,
            term_start,
            docs,
            impacts,
            block_start,
            block_ids,
            block_max,
            block_post,
            dense_row,
            dense_max,
            impact_row,
            impact_rows,
            block_entries,
            term_max,
            fwd_start,
            fwd_terms,
            fwd_impacts,
            forward,
            order,
        }
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

    /// Dequantisation factor of the impacts.
    pub fn scale(&self) -> f32 {
        self.scale
    }

    /// The given id of the document at position `pos` of the index (its postings, blocks and
    /// [`InvertedIndex::postings`] use positions; they are the given ids unless the index was
    /// built with a [`DocOrder`] other than [`DocOrder::Given`]).
    #[inline]
    pub fn doc_id(&self, pos: u32) -> u32 {
        match &self.order {
            None => pos,
            Some(order) => order[pos as usize],
        }
    }

    /// The document order: `Some(order)` where position `p` holds given document `order[p]`,
    /// `None` for the given order.
    pub fn doc_order(&self) -> Option<&[u32]> {
        self.order.as_deref()
    }

    /// Term `t`'s postings: (document positions, quantised impacts); positions are document
    /// ids unless the index reorders documents ([`InvertedIndex::doc_id`] maps them).
    ///
    /// # Panics
    /// If `t` is not below the vocabulary size.
    pub fn postings(&self, t: u32) -> (&[u32], &[I]) {
        let (a, b) = (
            self.term_start[t as usize] as usize,
            self.term_start[t as usize + 1] as usize,
        );
        (&self.docs[a..b], &self.impacts[a..b])
    }

    /// Where term `t`'s entries of `block_ids`/`block_max`/`block_post` start and end.
    pub(crate) fn term_blocks(&self, t: u32) -> (usize, usize) {
        (
            self.block_start[t as usize] as usize,
            self.block_start[t as usize + 1] as usize,
        )
    }

    /// The forward index (the documents as given).
    pub fn forward(&self) -> &CsrMatrix {
        &self.forward
    }
}

/// Term-major postings of `docs` (one row per document): every entry `keep` maps to
/// `Some(value)`, as `term_start` offsets (`term_start[t]..term_start[t + 1]` are term `t`'s),
/// document positions (increasing within each term) and values. Position `p` is document
/// `order[p]` (a permutation of the rows), or row `p` without an order.
pub(crate) fn invert<T: Copy + Default>(
    docs: &CsrMatrix,
    order: Option<&[u32]>,
    keep: impl Fn(f32) -> Option<T>,
) -> (Vec<u64>, Vec<u32>, Vec<T>) {
    let v = docs.n_cols();
    let (_, idx, val) = docs.raw();
    let mut term_start = vec![0u64; v + 1];
    for (&t, &w) in idx.iter().zip(val) {
        if keep(w).is_some() {
            term_start[t as usize + 1] += 1;
        }
    }
    for t in 0..v {
        term_start[t + 1] += term_start[t];
    }
    let total = term_start[v] as usize;
    let mut fill: Vec<u64> = term_start[..v].to_vec();
    let mut post_docs = vec![0u32; total];
    let mut values = vec![T::default(); total];
    for pos in 0..docs.n_rows() {
        let row = docs.row(order.map_or(pos, |o| o[pos] as usize));
        for (&t, &w) in row.indices.iter().zip(row.values) {
            if let Some(x) = keep(w) {
                let p = &mut fill[t as usize];
                post_docs[*p as usize] = pos as u32;
                values[*p as usize] = x;
                *p += 1;
            }
        }
    }
    (term_start, post_docs, values)
}

/// Block maxima: per term, the blocks it occurs in, its largest impact and the offset of
/// its first posting in each; and per-term maxima.
#[allow(clippy::type_complexity)]
pub(crate) fn block_maxima<I: Impact>(
    term_start: &[u64],
    docs: &[u32],
    impacts: &[I],
    block_size: u32,
) -> (Vec<u64>, Vec<u32>, Vec<I>, Vec<u64>, Vec<I>) {
    let v = term_start.len() - 1;
    let mut block_start = Vec::with_capacity(v + 1);
    let mut block_ids = Vec::new();
    let mut block_max: Vec<I> = Vec::new();
    let mut block_post: Vec<u64> = Vec::new();
    let mut term_max = Vec::with_capacity(v);
    block_start.push(0u64);
    for t in 0..v {
        let (a, b) = (term_start[t] as usize, term_start[t + 1] as usize);
        let first = block_ids.len();
        for (p, (&d, &i)) in docs[a..b].iter().zip(&impacts[a..b]).enumerate() {
            let blk = d / block_size;
            if block_ids.len() > first && *block_ids.last().expect("non-empty") == blk {
                let m = block_max.last_mut().expect("non-empty");
                *m = (*m).max(i);
            } else {
                block_ids.push(blk);
                block_max.push(i);
                block_post.push((a + p) as u64);
            }
        }
        term_max.push(block_max[first..].iter().copied().max().unwrap_or_default());
        block_start.push(block_ids.len() as u64);
    }
    (block_start, block_ids, block_max, block_post, term_max)
}

/// A term occurring in at least one block in `DENSE_BLOCKS` gets a dense row of block maxima,
/// added to the bounds in one vectorised pass instead of a scattered add per entry of its
/// sparse list (with a cheaper cost estimate beside it, block-max ran 1.45–2.7× faster at 4M
/// FLOPs-3 documents; results/peers/exact-pruning.md). 8 is a first choice, not tuned.
const DENSE_BLOCKS: usize = 8;

/// Dense rows of block maxima for the terms that occur in at least one block in
/// [`DENSE_BLOCKS`] (the index's `dense_row`/`dense_max`): per term its row or `u32::MAX`,
/// and the rows (`n_blocks` maxima each).
pub(crate) fn dense_block_maxima<I: Impact>(
    block_start: &[u64],
    block_ids: &[u32],
    block_max: &[I],
    n_blocks: usize,
) -> (Vec<u32>, Vec<I>) {
    let mut dense_row = Vec::with_capacity(block_start.len() - 1);
    let mut dense_max = Vec::new();
    for w in block_start.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        // (A term with no blocks stays sparse, so `n_blocks` > 0 below.)
        if (b - a) * DENSE_BLOCKS < n_blocks.max(1) {
            dense_row.push(u32::MAX);
            continue;
        }
        dense_row.push((dense_max.len() / n_blocks) as u32);
        let row = dense_max.len();
        dense_max.resize(row + n_blocks, I::default());
        for (&blk, &m) in block_ids[a..b].iter().zip(&block_max[a..b]) {
            dense_max[row + blk as usize] = m;
        }
    }
    (dense_row, dense_max)
}

/// The document-major copy of the postings.
pub(crate) fn transpose<I: Impact>(
    term_start: &[u64],
    docs: &[u32],
    impacts: &[I],
    n_docs: usize,
) -> (Vec<u64>, Vec<u32>, Vec<I>) {
    let mut start = vec![0u64; n_docs + 1];
    for &d in docs {
        start[d as usize + 1] += 1;
    }
    for d in 0..n_docs {
        start[d + 1] += start[d];
    }
    let mut fill: Vec<u64> = start[..n_docs].to_vec();
    let mut terms = vec![0u32; docs.len()];
    let mut imps = vec![I::default(); docs.len()];
    for t in 0..term_start.len() - 1 {
        let (a, b) = (term_start[t] as usize, term_start[t + 1] as usize);
        for (&d, &i) in docs[a..b].iter().zip(&impacts[a..b]) {
            let p = &mut fill[d as usize];
            terms[*p as usize] = t as u32;
            imps[*p as usize] = i;
            *p += 1;
        }
    }
    (start, terms, imps)
}

/// Default of [`InvertedIndex::set_impact_rows`]: a term held by at least this share of the
/// documents gets a dense row. Of 1/8, 1/16 and 1/32, 1/16 was fastest or within noise of the
/// fastest on the trained exp=c collection, Zipf FLOPs 3 at 123k and 1M documents and FLOPs 12
/// at 1M, 1/32 on the 1,024-term Zipf collection (`examples/rows_sweep.rs`,
/// results/peers/README.md "Dense rows of impacts").
pub const IMPACT_ROW_MIN_FRACTION: f64 = 1.0 / 16.0;

/// Dense rows of impacts' top bytes (in document positions) for the terms of `term_start`
/// holding at least `min_fraction` of the `n_docs` documents: per term its row or `u32::MAX`,
/// and the rows (`n_docs` bytes each, 0 where the term is absent).
pub(crate) fn impact_rows<I: Impact>(
    term_start: &[u64],
    docs: &[u32],
    impacts: &[I],
    n_docs: usize,
    min_fraction: f64,
) -> (Vec<u32>, Vec<u8>) {
    let min_postings = min_fraction * n_docs as f64;
    let mut row_of = vec![u32::MAX; term_start.len().saturating_sub(1)];
    let mut n_rows = 0usize;
    for (t, w) in term_start.windows(2).enumerate() {
        let len = w[1] - w[0];
        if len > 0 && len as f64 >= min_postings {
            row_of[t] = n_rows as u32;
            n_rows += 1;
        }
    }
    let mut rows = vec![0u8; n_rows * n_docs];
    for (t, &r) in row_of.iter().enumerate() {
        if r == u32::MAX {
            continue;
        }
        let row = &mut rows[r as usize * n_docs..][..n_docs];
        let (a, b) = (term_start[t] as usize, term_start[t + 1] as usize);
        for (&d, &i) in docs[a..b].iter().zip(&impacts[a..b]) {
            row[d as usize] = i.top_byte();
        }
    }
    (row_of, rows)
}
