//! Evaluation of a D2S head on a split: encode it as at test time, score it exhaustively
//! through `mmlsr-index`, rank in trec_eval's order, measure with `mmlsr-metrics`.

use burn::tensor::backend::Backend;
use mmlsr_core::{CsrMatrix, TermSets};
use mmlsr_expansion::Variant;
use mmlsr_index::ExactIndex;
use mmlsr_metrics::{Measure, Run, evaluate, exact_at_k, flops};
use mmlsr_store::SplitView;
use serde::{Deserialize, Serialize};

use crate::{EncodeOptions, Error, OutputTerms, Result, SparseHead, TrainData, encode};

/// All query–document dot products, `queries × docs`, row-major: the exhaustive score matrix
/// of `mmlsr_index::ExactIndex` (`f64` products rounded to `f32`, zero scores included), the
/// one exhaustive sparse scorer of the workspace, on all threads of the current rayon pool.
pub fn sparse_scores(queries: &CsrMatrix, docs: &CsrMatrix) -> Result<Vec<f32>> {
    check_vocabularies(queries, docs)?;
    let index = ExactIndex::build(docs)?;
    let mut scores = vec![0f32; queries.n_rows() * docs.n_rows()];
    index.par_score_rows(queries, 0..queries.n_rows(), &mut scores)?;
    Ok(scores)
}

/// Queries scored at a time by [`sparse_run`]: the score buffer holds this many rows.
const SCORE_BLOCK: usize = 1024;

/// The top `depth` documents of every query in trec_eval order, from the same scores as
/// [`sparse_scores`] (so the same run as ranking that matrix), scored in blocks of
/// [`SCORE_BLOCK`] queries on all threads instead of holding the whole matrix.
pub fn sparse_run<Q: AsRef<str>, D: AsRef<str>>(
    queries: &CsrMatrix,
    docs: &CsrMatrix,
    query_ids: &[Q],
    doc_ids: &[D],
    depth: usize,
) -> Result<Run> {
    check_vocabularies(queries, docs)?;
    for (what, ids, rows) in [
        ("query ids vs queries", query_ids.len(), queries.n_rows()),
        ("document ids vs documents", doc_ids.len(), docs.n_rows()),
    ] {
        if ids != rows {
            return Err(Error::Shape {
                what: what.into(),
                expected: rows,
                found: ids,
            });
        }
    }
    let index = ExactIndex::build(docs)?;
    let n_docs = docs.n_rows();
    let mut run = Run::default();
    let mut block = Vec::new();
    for start in (0..queries.n_rows()).step_by(SCORE_BLOCK) {
        let end = (start + SCORE_BLOCK).min(queries.n_rows());
        block.resize((end - start) * n_docs, 0.0);
        index.par_score_rows(queries, start..end, &mut block)?;
        run.extend_from_score_matrix(&query_ids[start..end], doc_ids, &block, depth);
    }
    Ok(run)
}

fn check_vocabularies(queries: &CsrMatrix, docs: &CsrMatrix) -> Result<()> {
    if queries.n_cols() != docs.n_cols() {
        return Err(Error::Shape {
            what: "vocabulary size of documents vs queries".into(),
            expected: queries.n_cols(),
            found: docs.n_cols(),
        });
    }
    Ok(())
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
        q_in.extend_from_slice(data.dataset.texts().row(r));
    }
    let mut i_in = Vec::with_capacity(split.image_rows.len() * d);
    for &r in &split.image_rows {
        i_in.extend_from_slice(data.dataset.images().row(r));
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
    let query_ids: Vec<String> = split
        .caption_rows
        .iter()
        .map(|&r| data.dataset.texts().ids().id(r).to_string())
        .collect();
    let image_ids: Vec<String> = split
        .image_rows
        .iter()
        .map(|&r| data.dataset.images().ids().id(r).to_string())
        .collect();
    let qrels = data.dataset.qrels(split);
    let measures = [
        Measure::Recall(1),
        Measure::Recall(5),
        Measure::Recall(10),
        Measure::RR(10),
    ];
    let run = sparse_run(&queries, &images, &query_ids, &image_ids, 10)?;
    let m = evaluate(&run, &qrels, &measures).aggregate();
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
