//! Exhaustive sparse scoring for validation and tests (the inverted index serves the same
//! scores fast; this is the simple reference).

use burn::tensor::backend::Backend;
use mmlsr_core::{CsrMatrix, Qrels, TermSets};
use mmlsr_expansion::Variant;
use mmlsr_metrics::{Measure, Run, evaluate, exact_at_k, flops};
use mmlsr_store::SplitView;
use serde::{Deserialize, Serialize};

use crate::{EncodeOptions, Error, OutputTerms, Result, SparseHead, TrainData, encode};

/// All query–document dot products, `queries × docs`, row-major, accumulated term at a time
/// over a term-major copy of the documents.
pub fn sparse_scores(queries: &CsrMatrix, docs: &CsrMatrix) -> Result<Vec<f32>> {
    let scorer = SparseScorer::new(docs);
    let mut scores = vec![0f32; queries.n_rows() * docs.n_rows()];
    scorer.score_rows(queries, 0..queries.n_rows(), &mut scores)?;
    Ok(scores)
}

/// Exhaustive sparse scoring against fixed documents: a term-major copy of them, built once,
/// scoring any block of queries.
pub struct SparseScorer {
    vocab: usize,
    n_docs: usize,
    start: Vec<usize>,
    post_doc: Vec<u32>,
    post_w: Vec<f32>,
}

impl SparseScorer {
    /// Index `docs` by term.
    pub fn new(docs: &CsrMatrix) -> Self {
        let v = docs.n_cols();
        let (_, d_idx, _) = docs.raw();
        let mut start = vec![0usize; v + 1];
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
        Self {
            vocab: v,
            n_docs: docs.n_rows(),
            start,
            post_doc,
            post_w,
        }
    }

    /// Scores of query rows `rows` of `queries` into `out` (`rows.len() × docs`, row-major;
    /// overwritten).
    pub fn score_rows(
        &self,
        queries: &CsrMatrix,
        rows: std::ops::Range<usize>,
        out: &mut [f32],
    ) -> Result<()> {
        if queries.n_cols() != self.vocab {
            return Err(Error::Shape {
                what: "vocabulary size of documents vs queries".into(),
                expected: queries.n_cols(),
                found: self.vocab,
            });
        }
        if out.len() != rows.len() * self.n_docs {
            return Err(Error::Shape {
                what: "score buffer (queries × documents)".into(),
                expected: rows.len() * self.n_docs,
                found: out.len(),
            });
        }
        out.fill(0.0);
        for (r, acc) in rows.zip(out.chunks_exact_mut(self.n_docs.max(1))) {
            let q = queries.row(r);
            for (&t, &qw) in q.indices.iter().zip(q.values) {
                let (a, b) = (self.start[t as usize], self.start[t as usize + 1]);
                for (&d, &w) in self.post_doc[a..b].iter().zip(&self.post_w[a..b]) {
                    acc[d as usize] += qw * w;
                }
            }
        }
        Ok(())
    }
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

/// Encode the first `n_q` captions and all images of a split with a head, captions as at
/// test time: an `exp=0` model keeps only each caption's own terms, every other variant is
/// unrestricted (D2S section 4; the released code tests unrestricted captions).
pub fn encode_split<B: Backend>(
    head: &SparseHead<B>,
    output: &OutputTerms,
    data: &TrainData<'_>,
    split: &mmlsr_store::SplitView,
    n_q: usize,
    variant: Variant,
    device: &B::Device,
) -> Result<(CsrMatrix, CsrMatrix)> {
    let d = data.dataset.dim();
    let mut q_in = Vec::with_capacity(n_q * d);
    for &r in &split.caption_rows[..n_q] {
        q_in.extend_from_slice(data.dataset.texts.row(r));
    }
    let mut i_in = Vec::with_capacity(split.image_rows.len() * d);
    for &r in &split.image_rows {
        i_in.extend_from_slice(data.dataset.images.row(r));
    }
    let own: Option<Vec<&[u32]>> = (variant == Variant::None).then(|| {
        split.caption_rows[..n_q]
            .iter()
            .map(|&r| data.terms.row(r))
            .collect()
    });
    let opts = EncodeOptions::default();
    let queries = encode(head, output, &q_in, d, own.as_deref(), &opts, device)?;
    let images = encode(head, output, &i_in, d, None, &opts, device)?;
    Ok((queries, images))
}

/// Sparse text→image effectiveness and efficiency of a head on one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SparseEval {
    /// Caption queries.
    pub queries: usize,
    /// Images searched.
    pub images: usize,
    /// R@1, R@5, R@10 (×100).
    pub r1: f64,
    /// R@5 (×100).
    pub r5: f64,
    /// R@10 (×100).
    pub r10: f64,
    /// MRR@10 (×100).
    pub mrr10: f64,
    /// FLOPs, D2S eq. (1).
    pub flops: f64,
    /// Exact@20 (×100): share of a caption vector's top-20 terms that occur in the caption.
    pub exact20: f64,
    /// Mean active terms per caption vector.
    pub active_text: f64,
    /// Mean active terms per image vector.
    pub active_image: f64,
}

/// Encoded vectors of a split and their evaluation.
pub struct SplitEncoding {
    /// Caption ids, in query order.
    pub query_ids: Vec<String>,
    /// Image ids.
    pub image_ids: Vec<String>,
    /// Caption vectors.
    pub queries: CsrMatrix,
    /// Image vectors.
    pub images: CsrMatrix,
    /// The top-10 run, trec_eval order.
    pub run: Run,
    /// The numbers.
    pub eval: SparseEval,
}

/// Encode a split with `head` and evaluate exhaustive sparse text→image retrieval on it.
pub fn evaluate_split<B: Backend>(
    head: &SparseHead<B>,
    output: &OutputTerms,
    variant: Variant,
    data: &TrainData<'_>,
    split: &SplitView,
    device: &B::Device,
) -> Result<SplitEncoding> {
    let n_q = split.caption_rows.len();
    let (queries, images) = encode_split(head, output, data, split, n_q, variant, device)?;
    let scores = sparse_scores(&queries, &images)?;
    let query_ids: Vec<String> = split
        .caption_rows
        .iter()
        .map(|&r| data.dataset.texts.ids().id(r).to_string())
        .collect();
    let image_ids: Vec<String> = split
        .image_rows
        .iter()
        .map(|&r| data.dataset.images.ids().id(r).to_string())
        .collect();
    let qrels = data.dataset.qrels(split);
    let measures = [
        Measure::Recall(1),
        Measure::Recall(5),
        Measure::Recall(10),
        Measure::RR(10),
    ];
    let (run, m) = evaluate_scores(&query_ids, &image_ids, &scores, &qrels, &measures, 10);
    let mut own = TermSets::new(data.vocab_size());
    for &r in &split.caption_rows {
        own.push_unsorted(data.terms.row(r).iter().copied())?;
    }
    let eval = SparseEval {
        queries: n_q,
        images: split.image_rows.len(),
        r1: m[0] * 100.0,
        r5: m[1] * 100.0,
        r10: m[2] * 100.0,
        mrr10: m[3] * 100.0,
        flops: flops(&queries, &images)?,
        exact20: exact_at_k(&queries, &own, 20)? * 100.0,
        active_text: queries.nnz() as f64 / n_q.max(1) as f64,
        active_image: images.nnz() as f64 / images.n_rows().max(1) as f64,
    };
    Ok(SplitEncoding {
        query_ids,
        image_ids,
        queries,
        images,
        run,
        eval,
    })
}
