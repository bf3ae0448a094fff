//! The D2S training objective (Nguyen et al., ECIR 2024, section 3.2, eq. 2–4), as the
//! released `loss.py`/`train.py` compute it.

use burn::tensor::{
    Tensor,
    activation::{log_softmax, softmax},
    backend::Backend,
};
use serde::{Deserialize, Serialize};

/// Which sparsity regulariser to add to the distillation loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regulariser {
    /// `mean_b Σ_v |s_bv|` (the released code and the paper).
    #[default]
    L1,
    /// FLOPs regulariser (Paria et al., 2020): `Σ_v (mean_b |s_bv|)²`.
    Flops,
}

/// Settings of [`d2s_loss`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// Teacher temperature τ in `softmax(z_I·z_Cᵀ / τ)`. The paper and the released code
    /// use 1e-3 (near one-hot targets for normalised 256-d embeddings).
    pub temperature: f64,
    /// Final weight of the regulariser on caption (query) vectors; Table 2's η (1e-3, 1e-5).
    pub q_reg: f64,
    /// Final weight of the regulariser on image (document) vectors; Table 2's η.
    pub d_reg: f64,
    /// Which regulariser.
    pub regulariser: Regulariser,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            temperature: 1e-3,
            q_reg: 1e-3,
            d_reg: 1e-3,
            regulariser: Regulariser::L1,
        }
    }
}

/// The loss of one batch, by part. `total = distill + (reg_text + reg_image) / 2`, where the
/// regularisers already carry their ramped weights (the released code halves their sum).
#[derive(Debug, Clone)]
pub struct LossParts<B: Backend> {
    /// Everything, to back-propagate.
    pub total: Tensor<B, 1>,
    /// `(CE(i→t) + CE(t→i)) / 2` against the dense teacher.
    pub distill: Tensor<B, 1>,
    /// Weighted regulariser on captions.
    pub reg_text: Tensor<B, 1>,
    /// Weighted regulariser on images.
    pub reg_image: Tensor<B, 1>,
}

/// The regulariser weights of one step (η_q for captions, η_d for images), already ramped
/// ([`ramped_weight`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegWeights {
    /// Weight of the caption regulariser.
    pub text: f64,
    /// Weight of the image regulariser.
    pub image: f64,
}

/// The regulariser weight after `step` optimiser steps: `w · min(1, step / ramp_steps)²`
/// (the released `Regularizer.step`: zero at the first step, full from `ramp_steps` on).
pub fn ramped_weight(weight: f64, step: usize, ramp_steps: usize) -> f64 {
    if ramp_steps == 0 {
        return weight;
    }
    let r = (step as f64 / ramp_steps as f64).min(1.0);
    weight * r * r
}

/// Soft-target cross-entropy, averaged over rows: `−mean_i Σ_j p_ij · log softmax(s_i)_j`.
///
/// # Shapes
/// - `scores`, `targets`: `[n, m]`
pub fn soft_cross_entropy<B: Backend>(scores: Tensor<B, 2>, targets: Tensor<B, 2>) -> Tensor<B, 1> {
    (targets * log_softmax(scores, 1)).sum_dim(1).mean().neg()
}

/// Regulariser value of a batch of sparse vectors (unweighted).
///
/// # Shapes
/// - `reps`: `[batch, vocab]`
pub fn regulariser<B: Backend>(kind: Regulariser, reps: Tensor<B, 2>) -> Tensor<B, 1> {
    match kind {
        Regulariser::L1 => reps.abs().sum_dim(1).mean(),
        Regulariser::Flops => reps.abs().mean_dim(0).powi_scalar(2).sum(),
    }
}

/// The D2S loss of a batch of aligned caption–image pairs.
///
/// The teacher is the dense score distribution, `softmax(z_I·z_Cᵀ / τ)` by rows for image→text
/// and `softmax(z_C·z_Iᵀ / τ)` for text→image, with no gradient. The student is the sparse
/// score matrix `s_I·s_Cᵀ` with no temperature (eq. 3). `weights` are the
/// regulariser weights at this step (see [`ramped_weight`]).
///
/// # Shapes
/// - `sparse_text`, `sparse_image`: `[batch, vocab]`
/// - `dense_text`, `dense_image`: `[batch, d]`
pub fn d2s_loss<B: Backend>(
    sparse_text: Tensor<B, 2>,
    sparse_image: Tensor<B, 2>,
    dense_text: Tensor<B, 2>,
    dense_image: Tensor<B, 2>,
    config: &LossConfig,
    weights: RegWeights,
) -> LossParts<B> {
    d2s_loss_on_columns(
        sparse_text,
        sparse_image.clone(),
        sparse_image,
        dense_text,
        dense_image,
        config,
        weights,
    )
}

/// [`d2s_loss`] when the caption vectors are zero outside some columns: `sparse_text` holds
/// only those columns (`[batch, u]`), `image_on_columns` the same columns of the image vectors
/// (`[batch, u]`, for the score matrix) and `sparse_image` all of them (`[batch, vocab]`, for
/// the image regulariser). The value and every gradient equal [`d2s_loss`] on the full
/// vectors: the score matrix and the caption regulariser (L1 or FLOPs) get nothing from the
/// columns where every caption is zero.
pub fn d2s_loss_on_columns<B: Backend>(
    sparse_text: Tensor<B, 2>,
    image_on_columns: Tensor<B, 2>,
    sparse_image: Tensor<B, 2>,
    dense_text: Tensor<B, 2>,
    dense_image: Tensor<B, 2>,
    config: &LossConfig,
    weights: RegWeights,
) -> LossParts<B> {
    let dense_i2t = dense_image
        .detach()
        .matmul(dense_text.detach().transpose())
        .div_scalar(config.temperature);
    let teacher_i2t = softmax(dense_i2t.clone(), 1).detach();
    let teacher_t2i = softmax(dense_i2t.transpose(), 1).detach();
    let sparse_i2t = image_on_columns.matmul(sparse_text.clone().transpose());
    let distill = (soft_cross_entropy(sparse_i2t.clone(), teacher_i2t)
        + soft_cross_entropy(sparse_i2t.transpose(), teacher_t2i))
    .div_scalar(2.0);
    let reg_text = regulariser(config.regulariser, sparse_text).mul_scalar(weights.text);
    let reg_image = regulariser(config.regulariser, sparse_image).mul_scalar(weights.image);
    let total = distill.clone() + (reg_text.clone() + reg_image.clone()).div_scalar(2.0);
    LossParts {
        total,
        distill,
        reg_text,
        reg_image,
    }
}
