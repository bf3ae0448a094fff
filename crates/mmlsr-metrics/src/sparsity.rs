//! Sparsity and interpretability of learned sparse vectors (D2S, section 3).

use mmlsr_core::{CsrMatrix, SparseRow, TermSets};
use rayon::prelude::*;

use crate::{Error, Result};

/// Number of queries (rows) with a non-zero weight on each column.
fn active_per_term(m: &CsrMatrix) -> Vec<u64> {
    let mut counts = vec![0u64; m.n_cols()];
    for row in m.rows() {
        for (&t, &v) in row.indices.iter().zip(row.values) {
            if v != 0.0 {
                counts[t as usize] += 1;
            }
        }
    }
    counts
}

/// FLOPs, eq. (1) of D2S (Nguyen et al., ECIR 2024), exact:
/// `Σ_v (#queries active on v) · (#docs active on v) / (|Q| · |D|)`, the expected number of
/// multiplications of one query–document dot product. Explicit zeros do not count as active.
pub fn flops(queries: &CsrMatrix, docs: &CsrMatrix) -> Result<f64> {
    if queries.n_cols() != docs.n_cols() {
        return Err(Error::Mismatch(format!(
            "FLOPs: queries have {} columns, documents {}",
            queries.n_cols(),
            docs.n_cols()
        )));
    }
    if queries.n_rows() == 0 || docs.n_rows() == 0 {
        return Err(Error::Undefined("FLOPs: no queries or no documents".into()));
    }
    let (q, d) = (active_per_term(queries), active_per_term(docs));
    let total: f64 = q.iter().zip(&d).map(|(a, b)| *a as f64 * *b as f64).sum();
    Ok(total / (queries.n_rows() as f64 * docs.n_rows() as f64))
}

/// Mean number of active (non-zero) terms per row, and the extremes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SparsityStats {
    /// Rows.
    pub rows: usize,
    /// Mean active terms per row.
    pub mean_active: f64,
    /// Fewest active terms in a row.
    pub min_active: usize,
    /// Most active terms in a row.
    pub max_active: usize,
}

/// Active-term statistics of a sparse matrix (queries or documents).
pub fn sparsity_stats(m: &CsrMatrix) -> SparsityStats {
    let counts: Vec<usize> = m
        .rows()
        .map(|r| r.values.iter().filter(|&&v| v != 0.0).count())
        .collect();
    SparsityStats {
        rows: counts.len(),
        mean_active: counts.iter().sum::<usize>() as f64 / counts.len().max(1) as f64,
        min_active: counts.iter().copied().min().unwrap_or(0),
        max_active: counts.iter().copied().max().unwrap_or(0),
    }
}

/// The `k` highest-weighted active terms of a row (ties by smaller term id first).
fn top_terms(row: SparseRow<'_>, k: usize) -> Vec<u32> {
    let mut terms: Vec<(u32, f32)> = row
        .indices
        .iter()
        .zip(row.values)
        .filter(|(_, v)| **v != 0.0)
        .map(|(&t, &v)| (t, v))
        .collect();
    terms.sort_unstable_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    terms.truncate(k);
    terms.into_iter().map(|(t, _)| t).collect()
}

fn check_aligned(vectors: &CsrMatrix, terms: &TermSets) -> Result<()> {
    if vectors.n_rows() != terms.len() {
        return Err(Error::Mismatch(format!(
            "{} sparse vectors for {} captions",
            vectors.n_rows(),
            terms.len()
        )));
    }
    Ok(())
}

/// Exact@k, eq. (2) of D2S: the share of a caption vector's top-k weighted terms that occur in
/// the caption, averaged over captions. A vector with fewer than k active terms is judged on
/// the terms it has; a vector with none scores 0.
pub fn exact_at_k(vectors: &CsrMatrix, caption_terms: &TermSets, k: usize) -> Result<f64> {
    check_aligned(vectors, caption_terms)?;
    let mut total = 0.0;
    for (r, row) in vectors.rows().enumerate() {
        let top = top_terms(row, k);
        if top.is_empty() {
            continue;
        }
        let own = caption_terms.row(r);
        let hits = top.iter().filter(|t| own.binary_search(t).is_ok()).count();
        total += hits as f64 / top.len() as f64;
    }
    Ok(total / vectors.n_rows().max(1) as f64)
}

/// Largest vocabulary (as |V|², the f64 cosines held) for which [`semantic_at_k`] tabulates
/// every term pair's cosine once instead of per caption: 32 MiB, |V| ≤ 2,048.
const SEMANTIC_TABLE_MAX: usize = 1 << 22;

/// Semantic@k, eq. (3) of D2S: for each of a caption vector's top-k terms, the best cosine
/// similarity between its static vector and the vector of any of the caption's own terms;
/// averaged over the top terms, then over captions. `word_vectors` is `|V| × dim`, row-major.
/// Captions with no active terms or no own terms score 0.
pub fn semantic_at_k(
    vectors: &CsrMatrix,
    caption_terms: &TermSets,
    word_vectors: &[f32],
    dim: usize,
    k: usize,
) -> Result<f64> {
    check_aligned(vectors, caption_terms)?;
    if dim == 0 || word_vectors.len() != vectors.n_cols() * dim {
        return Err(Error::Mismatch(format!(
            "word vectors hold {} values, expected {} × {dim}",
            word_vectors.len(),
            vectors.n_cols()
        )));
    }
    let norms: Vec<f64> = word_vectors
        .chunks_exact(dim)
        .map(|v| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt())
        .collect();
    let cos = |a: u32, b: u32| -> f64 {
        let (va, vb) = (
            &word_vectors[a as usize * dim..][..dim],
            &word_vectors[b as usize * dim..][..dim],
        );
        let dot: f64 = va.iter().zip(vb).map(|(x, y)| *x as f64 * *y as f64).sum();
        let n = norms[a as usize] * norms[b as usize];
        if n > 0.0 { dot / n } else { 0.0 }
    };
    // A small vocabulary's cosines are computed once for all pairs (the same values `cos`
    // gives); a large one's as the captions need them.
    let v = vectors.n_cols();
    let table: Option<Vec<f64>> = (v * v <= SEMANTIC_TABLE_MAX).then(|| {
        (0..v as u32)
            .into_par_iter()
            .flat_map_iter(|a| (0..v as u32).map(move |b| (a, b)))
            .map(|(a, b)| cos(a, b))
            .collect()
    });
    let similarity = |a: u32, b: u32| match &table {
        Some(t) => t[a as usize * v + b as usize],
        None => cos(a, b),
    };
    // Each caption's mean on all threads, then summed in row order (the sequential sum).
    let per_caption: Vec<Option<f64>> = (0..vectors.n_rows())
        .into_par_iter()
        .map(|r| {
            let own = caption_terms.row(r);
            let top = top_terms(vectors.row(r), k);
            if top.is_empty() || own.is_empty() {
                return None;
            }
            let sum: f64 = top
                .iter()
                .map(|&t| {
                    own.iter()
                        .map(|&c| similarity(t, c))
                        .fold(f64::NEG_INFINITY, f64::max)
                })
                .sum();
            Some(sum / top.len() as f64)
        })
        .collect();
    let total = per_caption
        .into_iter()
        .flatten()
        .fold(0.0, |acc, x| acc + x);
    Ok(total / vectors.n_rows().max(1) as f64)
}
