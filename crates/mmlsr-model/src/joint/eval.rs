//! Test-time retrieval with a joint model: encode a split (dense embeddings and sparse
//! vectors), score it in the dense, sparse or fused mode, evaluate.

use burn::tensor::backend::Backend;
use mmlsr_core::{CsrMatrix, Qrels};
use mmlsr_index::{DenseFlat, ExactIndex};
use mmlsr_metrics::{Measure, Run, evaluate, flops};
use mmlsr_store::SplitView;
use serde::{Deserialize, Serialize};

use super::JointModel;
use crate::{EncodeOptions, OutputTerms, Result, TrainData};

/// How the joint model scores a caption against an image at test time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetrievalMode {
    /// Cosine of the fine-tuned dense embeddings.
    Dense,
    /// Sparse dot product.
    Sparse,
    /// `w1·cos + w2·sparse` (the released evaluation's `dense_single`).
    Fused,
}

impl RetrievalMode {
    /// All three, in table order.
    pub const ALL: [RetrievalMode; 3] = [
        RetrievalMode::Dense,
        RetrievalMode::Sparse,
        RetrievalMode::Fused,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            RetrievalMode::Dense => "dense",
            RetrievalMode::Sparse => "sparse",
            RetrievalMode::Fused => "fused",
        }
    }
}

/// A split encoded by a joint model: dense embeddings and sparse vectors of its captions and
/// images, with ids and qrels.
pub struct JointSplitEncoding {
    /// Caption ids, in query order.
    pub query_ids: Vec<String>,
    /// Image ids.
    pub image_ids: Vec<String>,
    /// One relevant image per caption.
    pub qrels: Qrels,
    /// Dense caption embeddings, `queries × d_embed`, unit rows.
    pub dense_queries: Vec<f32>,
    /// Dense image embeddings, `images × d_embed`, unit rows.
    pub dense_images: Vec<f32>,
    /// Embedding dimension.
    pub d_embed: usize,
    /// Sparse caption vectors.
    pub queries: CsrMatrix,
    /// Sparse image vectors.
    pub images: CsrMatrix,
}

/// Encode the first `n_q` captions and all images of `split` with a joint model (captions
/// unrestricted, as the released evaluation does).
pub fn encode_split_joint<B: Backend>(
    model: &JointModel<B>,
    data: &TrainData<'_>,
    split: &SplitView,
    n_q: usize,
    device: &B::Device,
) -> Result<JointSplitEncoding> {
    let ds = data.dataset;
    let d_embed = model.text_proj.weight.val().dims()[1];
    let gather = |t: &mmlsr_store::EmbeddingTable, rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .flat_map(|&r| t.row(r).iter().copied())
            .collect()
    };
    let dense_queries = model.embed(
        false,
        &gather(ds.texts(), &split.caption_rows[..n_q]),
        device,
    )?;
    let dense_images = model.embed(true, &gather(ds.images(), &split.image_rows), device)?;
    let output = OutputTerms {
        vocab_size: data.vocab_size(),
        kept: None,
    };
    let opts = EncodeOptions::default();
    let queries = crate::encode(
        &model.head,
        &output,
        &dense_queries,
        d_embed,
        None,
        &opts,
        device,
    )?;
    let images = crate::encode(
        &model.head,
        &output,
        &dense_images,
        d_embed,
        None,
        &opts,
        device,
    )?;
    let query_ids: Vec<String> = split.caption_rows[..n_q]
        .iter()
        .map(|&r| ds.texts().ids().id(r).to_string())
        .collect();
    let image_ids: Vec<String> = split
        .image_rows
        .iter()
        .map(|&r| ds.images().ids().id(r).to_string())
        .collect();
    let qrels = ds.qrels(split);
    Ok(JointSplitEncoding {
        query_ids,
        image_ids,
        qrels,
        dense_queries,
        dense_images,
        d_embed,
        queries,
        images,
    })
}

impl JointSplitEncoding {
    /// Top-`depth` runs (trec_eval order) of each mode, scored exhaustively in blocks of
    /// queries through `mmlsr-index` (dense: `DenseFlat::score_rows` on the unit embeddings,
    /// i.e. cosine; sparse: `ExactIndex::score_rows`); fused scores are `w1·cos + w2·sparse`.
    pub fn runs(
        &self,
        modes: &[RetrievalMode],
        depth: usize,
        w1: f64,
        w2: f64,
    ) -> Result<Vec<Run>> {
        const BLOCK: usize = 2048;
        let n_q = self.query_ids.len();
        let n_i = self.image_ids.len();
        let d = self.d_embed;
        let mut runs: Vec<Run> = modes.iter().map(|_| Run::default()).collect();
        let need_dense = modes.iter().any(|m| *m != RetrievalMode::Sparse);
        let need_sparse = modes.iter().any(|m| *m != RetrievalMode::Dense);
        let dense_index = need_dense
            .then(|| DenseFlat::new(d, self.dense_images.clone()))
            .transpose()?;
        let sparse_index = need_sparse
            .then(|| ExactIndex::build(&self.images))
            .transpose()?;
        let (mut dense, mut sparse, mut fused) = (Vec::new(), Vec::new(), Vec::new());
        for start in (0..n_q).step_by(BLOCK) {
            let end = (start + BLOCK).min(n_q);
            let ids = &self.query_ids[start..end];
            if let Some(index) = &dense_index {
                dense.resize((end - start) * n_i, 0.0);
                index.score_rows(&self.dense_queries[start * d..end * d], &mut dense)?;
            }
            if let Some(index) = &sparse_index {
                sparse.resize((end - start) * n_i, 0.0);
                index.par_score_rows(&self.queries, start..end, &mut sparse)?;
            }
            for (m, run) in modes.iter().zip(runs.iter_mut()) {
                let scores: &[f32] = match m {
                    RetrievalMode::Dense => &dense,
                    RetrievalMode::Sparse => &sparse,
                    RetrievalMode::Fused => {
                        fused.clear();
                        fused.extend(
                            dense
                                .iter()
                                .zip(&sparse)
                                .map(|(&a, &b)| (w1 * a as f64 + w2 * b as f64) as f32),
                        );
                        &fused
                    }
                };
                run.extend_from_score_matrix(ids, &self.image_ids, scores, depth);
            }
        }
        Ok(runs)
    }

    /// Per-query evaluation of `run` and the means of `measures`.
    pub fn evaluate(
        &self,
        run: &Run,
        measures: &[Measure],
    ) -> (mmlsr_metrics::Evaluation, Vec<f64>) {
        let e = evaluate(run, &self.qrels, measures);
        let means = e.aggregate();
        (e, means)
    }

    /// FLOPs of the sparse vectors (D2S eq. 1).
    pub fn flops(&self) -> Result<f64> {
        Ok(flops(&self.queries, &self.images)?)
    }
}
