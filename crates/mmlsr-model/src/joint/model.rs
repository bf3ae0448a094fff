//! Joint sparse–dense optimisation (Song, Lee, Cho, Song, Kim, Jo, CIKM 2025, "Sparse and
//! Dense Retrievers Learn Better Together"): the last dense layer of each tower (`text_proj`,
//! `vision_proj`, 768→256) is fine-tuned together with a shared sparse head whose input is the
//! L2-normalised projection output, so sparse gradients reach the projections (section 3).
//!
//! Scores of a batch (images × captions, as the released `loss.py` orients them):
//! dense `S_d = cos / τ` (τ learnable), sparse `S_s = s_I · s_Cᵀ`, integrated
//! `S_int = w1·S_d + w2·S_s`. The loss combines InfoNCE on all three with self-knowledge
//! distillation of `S_d` and `S_s` towards `softmax(S_int)` and the ramped L1 of D2S; see
//! [`joint_loss`] for the released constant factors and the paper's form.

use burn::{
    module::{Module, Param, ParamId},
    nn::{Linear, LinearConfig},
    tensor::{
        Tensor, TensorData,
        activation::{log_softmax, softmax},
        backend::Backend,
    },
};
use mmlsr_store::Projections;
use serde::{Deserialize, Serialize};

use crate::{Error, RegWeights, Result, SparseHead, loss::soft_cross_entropy};

/// The trainable part of the joint model: both towers' last layers, the shared sparse head
/// and the dense temperature τ.
#[derive(Module, Debug)]
pub struct JointModel<B: Backend> {
    /// `text_proj`: pre-projection caption features → dense caption embedding.
    pub text_proj: Linear<B>,
    /// `vision_proj`: pre-projection image features → dense image embedding.
    pub vision_proj: Linear<B>,
    /// The shared sparse head (input: the L2-normalised dense embedding).
    pub head: SparseHead<B>,
    /// Dense temperature τ, shape `[1]` (released: starts at 0.07, clamped to [0.001, 0.5]).
    pub tau: Param<Tensor<B, 1>>,
}

// Fixed parameter ids (the head uses 1–6), so saved optimiser state finds its parameters.
const TEXT_W: u64 = 11;
const TEXT_B: u64 = 12;
const VISION_W: u64 = 13;
const VISION_B: u64 = 14;
const TAU: u64 = 15;

/// Bounds of τ (the released `temp.clamp_(0.001, 0.5)` before every forward pass).
pub const TAU_RANGE: (f64, f64) = (0.001, 0.5);

/// Dense and sparse encodings of one side of a batch.
pub struct JointEncoding<B: Backend> {
    /// L2-normalised dense embeddings, `[batch, d_embed]`.
    pub dense: Tensor<B, 2>,
    /// Sparse term weights, `[batch, columns]`.
    pub sparse: Tensor<B, 2>,
}

impl<B: Backend> JointModel<B> {
    /// Assemble a model from the dense model's projections (PyTorch layout), a sparse head
    /// whose input dimension is the projections' output dimension, and τ.
    pub fn new(
        projections: &Projections,
        head: SparseHead<B>,
        tau: f64,
        device: &B::Device,
    ) -> Result<Self> {
        let (t, v) = (&projections.text, &projections.vision);
        let d_head = head.proj.weight.val().dims()[0];
        if t.out_dim != d_head || v.out_dim != d_head {
            return Err(Error::Shape {
                what: "projection output dimension vs the sparse head's input".into(),
                expected: d_head,
                found: t.out_dim,
            });
        }
        if !(tau.is_finite() && tau > 0.0) {
            return Err(Error::Config(format!(
                "τ must be a positive number, found {tau}"
            )));
        }
        let linear = |l: &mmlsr_store::Linear, wid: u64, bid: u64| {
            let mut lin = LinearConfig::new(l.in_dim, l.out_dim).init::<B>(device);
            let w = crate::head::transpose(&l.weight, l.out_dim, l.in_dim);
            lin.weight = Param::initialized(
                ParamId::from(wid),
                Tensor::from_data(TensorData::new(w, [l.in_dim, l.out_dim]), device).require_grad(),
            );
            lin.bias = Some(Param::initialized(
                ParamId::from(bid),
                Tensor::from_data(TensorData::new(l.bias.clone(), [l.out_dim]), device)
                    .require_grad(),
            ));
            lin
        };
        Ok(Self {
            text_proj: linear(t, TEXT_W, TEXT_B),
            vision_proj: linear(v, VISION_W, VISION_B),
            head,
            tau: tau_param(tau, device),
        })
    }

    /// Encode pre-projection caption features, `[batch, d_feature]`.
    pub fn encode_text(&self, features: Tensor<B, 2>) -> JointEncoding<B> {
        self.encode(&self.text_proj, features)
    }

    /// Encode pre-projection image features, `[batch, d_feature]`.
    pub fn encode_image(&self, features: Tensor<B, 2>) -> JointEncoding<B> {
        self.encode(&self.vision_proj, features)
    }

    fn encode(&self, proj: &Linear<B>, features: Tensor<B, 2>) -> JointEncoding<B> {
        let dense = l2_normalize(proj.forward(features));
        let sparse = self.head.forward(dense.clone());
        JointEncoding { dense, sparse }
    }

    /// L2-normalised dense embeddings of pre-projection features on the host (`rows ×
    /// d_feature`, row-major, in batches of 1,024), through `text_proj` (`image = false`) or
    /// `vision_proj`. Returns `rows × d_embed`.
    pub fn embed(&self, image: bool, features: &[f32], device: &B::Device) -> Result<Vec<f32>> {
        let proj = if image {
            &self.vision_proj
        } else {
            &self.text_proj
        };
        let [d_feature, d_embed] = proj.weight.val().dims();
        if features.len() % d_feature != 0 {
            return Err(Error::Shape {
                what: "pre-projection features (a multiple of the projection's input)".into(),
                expected: d_feature,
                found: features.len(),
            });
        }
        let mut out = Vec::with_capacity(features.len() / d_feature * d_embed);
        for chunk in features.chunks(1024 * d_feature) {
            let n = chunk.len() / d_feature;
            let x =
                Tensor::<B, 2>::from_data(TensorData::new(chunk.to_vec(), [n, d_feature]), device);
            out.extend(l2_normalize(proj.forward(x)).into_data().iter::<f32>());
        }
        Ok(out)
    }

    /// The current τ.
    pub fn tau_value(&self) -> f64 {
        self.tau
            .val()
            .into_data()
            .iter::<f64>()
            .next()
            .unwrap_or(f64::NAN)
    }

    /// τ clamped into [`TAU_RANGE`] (applied after every optimiser step, which is what the
    /// released in-place clamp before each forward pass amounts to).
    pub fn clamp_tau(mut self) -> Self {
        let t = self.tau_value().clamp(TAU_RANGE.0, TAU_RANGE.1);
        let device = self.tau.val().device();
        let require_grad = self.tau.val().is_require_grad();
        let mut p = Tensor::<B, 1>::from_data(TensorData::new(vec![t as f32], [1]), &device);
        if require_grad {
            p = p.require_grad();
        }
        self.tau = Param::initialized(ParamId::from(TAU), p);
        self
    }

    /// The fine-tuned projections as host tensors (PyTorch layout).
    pub fn projections(&self) -> Projections {
        let host = |l: &Linear<B>| {
            let [i, o] = l.weight.val().dims();
            let w: Vec<f32> = l.weight.val().into_data().iter::<f32>().collect();
            let b: Vec<f32> = l.bias.as_ref().map_or(vec![0.0; o], |b| {
                b.val().into_data().iter::<f32>().collect()
            });
            mmlsr_store::Linear {
                in_dim: i,
                out_dim: o,
                weight: crate::head::transpose(&w, i, o),
                bias: b,
            }
        };
        Projections {
            text: host(&self.text_proj),
            vision: host(&self.vision_proj),
        }
    }
}

fn tau_param<B: Backend>(tau: f64, device: &B::Device) -> Param<Tensor<B, 1>> {
    Param::initialized(
        ParamId::from(TAU),
        Tensor::from_data(TensorData::new(vec![tau as f32], [1]), device).require_grad(),
    )
}

/// `x / max(‖x‖₂, 1e-12)` by rows (PyTorch's `F.normalize`).
pub fn l2_normalize<B: Backend>(x: Tensor<B, 2>) -> Tensor<B, 2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// Which constant factors [`joint_loss`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JointLossForm {
    /// The released `BICELoss` with two poolings (dense, single):
    /// `½·(L/2 + L'/2) + ½·(L1_C + L1_I)`.
    #[default]
    Released,
    /// The paper's equations without the halvings: `L + L' + L1_C + L1_I`.
    Paper,
}

/// Which distribution teaches the text→image direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextToImageTeacher {
    /// The released code: `softmax(S_int)` by rows of the images × captions matrix, the same
    /// matrix as the image→text teacher (so the student's caption rows are taught by image
    /// rows).
    #[default]
    Untransposed,
    /// `softmax(S_intᵀ)` by rows: each caption's distribution over images (the paper's intent).
    Transposed,
}

/// Settings of [`joint_loss`]. Defaults: the released blip-coco configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JointLossConfig {
    /// Weight of the dense score in `S_int` (and in fused retrieval).
    pub w1: f64,
    /// Weight of the sparse score in `S_int` (and in fused retrieval).
    pub w2: f64,
    /// Weight λ1 of the dense terms (InfoNCE and self-distillation).
    pub lambda1: f64,
    /// Weight λ2 of the sparse terms.
    pub lambda2: f64,
    /// Final L1 weight on caption vectors (ramped as in D2S).
    pub q_reg: f64,
    /// Final L1 weight on image vectors.
    pub d_reg: f64,
    /// Include the self-distillation loss `L'` (off: the "no self-distillation" ablation,
    /// which keeps the InfoNCE on `S_int`).
    pub self_distillation: bool,
    /// Stop the teacher's gradient (`softmax(S_int)` detached, the usual self-distillation).
    /// The released code lets gradients flow through the teacher (`false`).
    pub detach_teacher: bool,
    /// The text→image teacher.
    pub t2i_teacher: TextToImageTeacher,
    /// Constant factors.
    pub form: JointLossForm,
}

impl Default for JointLossConfig {
    fn default() -> Self {
        Self {
            w1: 0.1,
            w2: 0.1,
            lambda1: 0.9,
            lambda2: 0.3,
            q_reg: 5e-4,
            d_reg: 3e-5,
            self_distillation: true,
            detach_teacher: false,
            t2i_teacher: TextToImageTeacher::Untransposed,
            form: JointLossForm::Released,
        }
    }
}

impl JointLossConfig {
    /// The released `training_config/<name>.json` values (`blip-coco`, `blip-flickr`,
    /// `albef-coco`, `albef-flickr`): (w1, w2, λ1, λ2, q_reg, d_reg), with the switches at
    /// their released defaults.
    pub fn released(name: &str) -> Option<Self> {
        let (w1, w2, lambda1, lambda2, q_reg, d_reg) = match name {
            "albef-coco" => (0.2, 0.5, 0.9, 0.3, 1e-5, 3e-5),
            "albef-flickr" => (0.1, 0.2, 0.3, 0.3, 1e-4, 2e-5),
            "blip-coco" => (0.1, 0.1, 0.9, 0.3, 5e-4, 3e-5),
            "blip-flickr" => (0.1, 0.2, 0.7, 0.7, 1e-4, 2e-5),
            _ => return None,
        };
        Some(Self {
            w1,
            w2,
            lambda1,
            lambda2,
            q_reg,
            d_reg,
            ..Self::default()
        })
    }

    /// Check ranges.
    pub fn validate(&self) -> Result<()> {
        for (n, v) in [
            ("w1", self.w1),
            ("w2", self.w2),
            ("lambda1", self.lambda1),
            ("lambda2", self.lambda2),
            ("q_reg", self.q_reg),
            ("d_reg", self.d_reg),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!(
                    "joint loss: {n} must be a finite number ≥ 0, found {v}"
                )));
            }
        }
        Ok(())
    }
}

/// The joint loss of one batch, by part (values include their weights and factors).
#[derive(Debug, Clone)]
pub struct JointLossParts<B: Backend> {
    /// Everything, to back-propagate.
    pub total: Tensor<B, 1>,
    /// The InfoNCE part `L` as it enters `total`.
    pub contrastive: Tensor<B, 1>,
    /// The self-distillation part `L'` as it enters `total`.
    pub distill: Tensor<B, 1>,
    /// Weighted L1 of the caption vectors as it enters `total`.
    pub reg_text: Tensor<B, 1>,
    /// Weighted L1 of the image vectors as it enters `total`.
    pub reg_image: Tensor<B, 1>,
}

/// Symmetric InfoNCE of a square score matrix whose diagonal holds the positives:
/// `½·(CE(S, I) + CE(Sᵀ, I))`.
pub fn info_nce<B: Backend>(scores: Tensor<B, 2>) -> Tensor<B, 1> {
    let n = scores.dims()[0];
    let eye = Tensor::<B, 2>::eye(n, &scores.device());
    let rows = (log_softmax(scores.clone(), 1) * eye.clone())
        .sum_dim(1)
        .mean();
    let cols = (log_softmax(scores.transpose(), 1) * eye).sum_dim(1).mean();
    (rows + cols).div_scalar(-2.0)
}

/// The joint loss (Song et al., section 3.2) of a batch of aligned caption–image pairs.
///
/// With `S_d = dense_image·dense_textᵀ / τ`, `S_s = sparse_image·sparse_textᵀ`,
/// `S_int = w1·S_d + w2·S_s`, `P = softmax(S_int)` by rows and `Q` the text→image teacher
/// (`P` itself or `softmax(S_intᵀ)`, see [`TextToImageTeacher`]):
/// * `L = λ1·NCE(S_d) + λ2·NCE(S_s) + NCE(S_int)` ([`info_nce`]),
/// * `L' = λ1·½(KD(S_d, P) + KD(S_dᵀ, Q)) + λ2·½(KD(S_s, P) + KD(S_sᵀ, Q))` with
///   `KD(S, P) = −mean_rows Σ P·log softmax(S)` (zero without self-distillation),
/// * L1 = `weights.text·mean_b Σ|s_C| `, `weights.image·mean_b Σ|s_I|` (already ramped).
///
/// Released form: `total = ½·(L/2 + L'/2) + ½·(L1_C + L1_I)` (the `/2` is `len(pooling)`);
/// paper form: `L + L' + L1_C + L1_I`.
///
/// # Shapes
/// - `text`, `image`: dense `[batch, d_embed]` (L2-normalised) and sparse `[batch, columns]`
/// - `tau`: `[1]`
pub fn joint_loss<B: Backend>(
    text: &JointEncoding<B>,
    image: &JointEncoding<B>,
    tau: Tensor<B, 1>,
    config: &JointLossConfig,
    weights: RegWeights,
) -> JointLossParts<B> {
    let (dense_text, sparse_text) = (text.dense.clone(), text.sparse.clone());
    let (dense_image, sparse_image) = (image.dense.clone(), image.sparse.clone());
    let s_d = dense_image.matmul(dense_text.transpose()) / tau.unsqueeze::<2>();
    let s_s = sparse_image.clone().matmul(sparse_text.clone().transpose());
    let s_int = s_d.clone().mul_scalar(config.w1) + s_s.clone().mul_scalar(config.w2);
    let l = info_nce(s_d.clone()).mul_scalar(config.lambda1)
        + info_nce(s_s.clone()).mul_scalar(config.lambda2)
        + info_nce(s_int.clone());
    let l_prime = if config.self_distillation {
        let teacher_of = |s: Tensor<B, 2>| {
            let p = softmax(s, 1);
            if config.detach_teacher { p.detach() } else { p }
        };
        let p = teacher_of(s_int.clone());
        let q = match config.t2i_teacher {
            TextToImageTeacher::Untransposed => p.clone(),
            TextToImageTeacher::Transposed => teacher_of(s_int.transpose()),
        };
        let kd = |s: Tensor<B, 2>| {
            (soft_cross_entropy(s.clone(), p.clone())
                + soft_cross_entropy(s.transpose(), q.clone()))
            .div_scalar(2.0)
        };
        kd(s_d).mul_scalar(config.lambda1) + kd(s_s).mul_scalar(config.lambda2)
    } else {
        l.zeros_like()
    };
    let l1 = |x: Tensor<B, 2>| x.abs().sum_dim(1).mean();
    let reg_text = l1(sparse_text).mul_scalar(weights.text);
    let reg_image = l1(sparse_image).mul_scalar(weights.image);
    let (contrastive, distill, reg_text, reg_image) = match config.form {
        JointLossForm::Released => (
            l.div_scalar(4.0),
            l_prime.div_scalar(4.0),
            reg_text.div_scalar(2.0),
            reg_image.div_scalar(2.0),
        ),
        JointLossForm::Paper => (l, l_prime, reg_text, reg_image),
    };
    let total = contrastive.clone() + distill.clone() + reg_text.clone() + reg_image.clone();
    JointLossParts {
        total,
        contrastive,
        distill,
        reg_text,
        reg_image,
    }
}
