//! Exhaustive sparse scoring for validation and tests (the inverted index serves the same
//! scores fast; this is the simple reference).

use mmlsr_core::{CsrMatrix, Qrels};
use mmlsr_metrics::{Measure, Run, evaluate};

use crate::{Error, Result};

/// All query–document dot products, `queries × docs`, row-major, accumulated term at a time
/// over a term-major copy of the documents.
pub fn sparse_scores(queries: &CsrMatrix, docs: &CsrMatrix) -> Result<Vec<f32>> {
    if queries.n_cols() != docs.n_cols() {
        return Err(Error::Shape {
            what: "vocabulary size of documents vs queries".into(),
            expected: queries.n_cols(),
            found: docs.n_cols(),
        });
    }
    let v = docs.n_cols();
    let n_docs = docs.n_rows();
    // Term-major postings: for each term, (doc, weight).
    let mut start = vec![0usize; v + 1];
    let (_, d_idx, _) = docs.raw();
    for &t in d_idx {
        start[t as usize + 1] += 1;
    }
    for t in 0..v {
        start[t + 1] += start[t];
    }
    let mut fill = start.clone();
    let mut post_doc = vec![0u32; d_idx.len()];
    let mut post_w = vec![0f32; d_idx.len()];
    for (d, row) in docs.rows().enumerate() {
        for (&t, &w) in row.indices.iter().zip(row.values) {
            let p = &mut fill[t as usize];
            post_doc[*p] = d as u32;
            post_w[*p] = w;
            *p += 1;
        }
    }
    let mut scores = vec![0f32; queries.n_rows() * n_docs];
    for (q, acc) in queries.rows().zip(scores.chunks_exact_mut(n_docs.max(1))) {
        for (&t, &qw) in q.indices.iter().zip(q.values) {
            let (a, b) = (start[t as usize], start[t as usize + 1]);
            for (&d, &w) in post_doc[a..b].iter().zip(&post_w[a..b]) {
                acc[d as usize] += qw * w;
            }
        }
    }
    Ok(scores)
}

/// Text→image metrics of a score matrix: the top `depth` images per caption in trec_eval
/// order, evaluated on `measures` against `qrels`. Returns the run and the mean of each measure.
pub fn evaluate_scores<Q: AsRef<str>, D: AsRef<str>>(
    query_ids: &[Q],
    doc_ids: &[D],
    scores: &[f32],
    qrels: &Qrels,
    measures: &[Measure],
    depth: usize,
) -> (Run, Vec<f64>) {
    let run = Run::from_score_matrix(query_ids, doc_ids, scores, depth);
    let means = evaluate(&run, qrels, measures).aggregate();
    (run, means)
}
