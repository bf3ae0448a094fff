//! The in-memory inverted index: per-term postings sorted by document, 8-bit quantised
//! impacts, per-term and per-block maxima, and a forward index for rescoring.

use mmlsr_core::CsrMatrix;

use crate::{Error, Result};

/// Build settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexConfig {
    /// Postings per block (the granularity of block maxima). 64 by default.
    pub block_size: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self { block_size: 64 }
    }
}

/// An inverted index over sparse document vectors.
///
/// Impacts are quantised to `u8`: `q = round(w / scale)` with `scale = max_w / 255`, so the
/// heaviest weight of the collection maps to 255 and a weight below `scale / 2` to 0 (such
/// postings are dropped). Scores are computed exactly in integers (see
/// [`crate::QueryWeights`]) and reported as `f32` after multiplying by both scales.
#[derive(Debug, Clone, PartialEq)]
pub struct InvertedIndex {
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
    pub(crate) impacts: Vec<u8>,
    /// `block_start[t]..block_start[t + 1]` index `block_max` for term `t`.
    pub(crate) block_start: Vec<u64>,
    /// Largest impact of each block.
    pub(crate) block_max: Vec<u8>,
    /// Largest impact of each term.
    pub(crate) term_max: Vec<u8>,
    /// The original vectors, for rescoring.
    pub(crate) forward: CsrMatrix,
}

impl InvertedIndex {
    /// Index `docs` (one row per document; columns are term ids).
    pub fn build(docs: &CsrMatrix, config: IndexConfig) -> Result<Self> {
        if config.block_size == 0 || config.block_size > u32::MAX as usize {
            return Err(Error::Config(format!(
                "block_size must be in 1..=2^32-1, found {}",
                config.block_size
            )));
        }
        let n_docs = u32::try_from(docs.n_rows())
            .map_err(|_| Error::Config("more than 2^32-1 documents".into()))?;
        let v = docs.n_cols();
        let vocab_size =
            u32::try_from(v).map_err(|_| Error::Config("vocabulary larger than 2^32-1".into()))?;
        let (_, idx, val) = docs.raw();
        if let Some(&w) = val.iter().find(|&&w| w < 0.0) {
            return Err(Error::Config(format!(
                "document weights must be ≥ 0 (learned sparse vectors are), found {w}"
            )));
        }
        let max_w = val.iter().copied().fold(0.0f32, f32::max);
        let scale = if max_w > 0.0 { max_w / 255.0 } else { 1.0 };
        let quant = |w: f32| -> u8 { (w / scale).round().clamp(0.0, 255.0) as u8 };

        // Count kept postings per term, then fill term-major.
        let mut counts = vec![0u64; v + 1];
        for (&t, &w) in idx.iter().zip(val) {
            if quant(w) > 0 {
                counts[t as usize + 1] += 1;
            }
        }
        for t in 0..v {
            counts[t + 1] += counts[t];
        }
        let term_start = counts;
        let total = term_start[v] as usize;
        let mut fill: Vec<u64> = term_start[..v].to_vec();
        let mut post_docs = vec![0u32; total];
        let mut impacts = vec![0u8; total];
        for (d, row) in docs.rows().enumerate() {
            for (&t, &w) in row.indices.iter().zip(row.values) {
                let q = quant(w);
                if q > 0 {
                    let p = &mut fill[t as usize];
                    post_docs[*p as usize] = d as u32;
                    impacts[*p as usize] = q;
                    *p += 1;
                }
            }
        }
        let bs = config.block_size;
        let mut block_start = Vec::with_capacity(v + 1);
        let mut block_max = Vec::new();
        let mut term_max = Vec::with_capacity(v);
        block_start.push(0u64);
        for t in 0..v {
            let (a, b) = (term_start[t] as usize, term_start[t + 1] as usize);
            let mut m = 0u8;
            for chunk in impacts[a..b].chunks(bs) {
                let cm = chunk.iter().copied().max().unwrap_or(0);
                block_max.push(cm);
                m = m.max(cm);
            }
            term_max.push(m);
            block_start.push(block_max.len() as u64);
        }
        Ok(Self {
            n_docs,
            vocab_size,
            block_size: bs as u32,
            scale,
            term_start,
            docs: post_docs,
            impacts,
            block_start,
            block_max,
            term_max,
            forward: docs.clone(),
        })
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

    /// Term `t`'s postings: (document ids, quantised impacts).
    ///
    /// # Panics
    /// If `t` is not below the vocabulary size.
    pub fn postings(&self, t: u32) -> (&[u32], &[u8]) {
        let (a, b) = (
            self.term_start[t as usize] as usize,
            self.term_start[t as usize + 1] as usize,
        );
        (&self.docs[a..b], &self.impacts[a..b])
    }

    /// The forward index (the documents as given).
    pub fn forward(&self) -> &CsrMatrix {
        &self.forward
    }
}
