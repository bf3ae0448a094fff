//! Training the joint sparse–dense model (Song et al., CIKM 2025; the released
//! holi-lab/mm-sparse-retrieval `finetune_from_proj` mode) as a [`Method`] of the shared
//! epoch loop ([`crate::trainer`]). An epoch directory holds a joint model directory
//! ([`super::joint_files`]) and `optim_proj.mpk`, `optim_rest.mpk`.

use std::path::Path;

use burn::{
    module::AutodiffModule,
    tensor::{Tensor, TensorData, backend::AutodiffBackend},
};
use mmlsr_metrics::Measure;
use mmlsr_store::{Projections, WordVectors, atomic_write_bytes};
use serde::{Deserialize, Serialize};

use super::{
    JointCard, JointLossConfig, JointLossParts, JointModel, RetrievalMode, encode_split_joint,
    joint_loss, load_joint_model, optim::JointOptimizer, save_joint_model,
};
use crate::{
    Error, OutputTerms, RegWeights, Result, SparseHeadConfig, StepStats, TrainData, TrainObserver,
    TrainReport, check_projections, check_word_vectors,
    train::{activity, scalar},
    trainer::{self, Batch, LogRow, LoopSettings, Method, RunDir, csv_option},
};

/// Optimiser settings of the joint model (defaults: the released code).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JointOptimConfig {
    /// Peak learning rate of every parameter and τ (released: one AdamW group; 5e-5 for
    /// blip-coco and albef-coco, 1e-5 for the Flickr configurations).
    pub lr: f64,
    /// A separate peak learning rate for the head's new first layer `W_1` (`None`: `lr`, as
    /// released). D2S trains that layer at 1e-3.
    pub lr_head_proj: Option<f64>,
    /// Fraction of all steps spent warming up linearly from 0 (released: 0.2), then linear
    /// decay to 0.
    pub warmup_fraction: f64,
    /// Decoupled weight decay on every parameter and τ (released: 0.05).
    pub weight_decay: f64,
    /// AdamW ε (released: 1e-8).
    pub epsilon: f64,
    /// Clip the global gradient norm over all parameters to this (released: 1.0; `None`: off).
    pub grad_clip_norm: Option<f64>,
}

impl Default for JointOptimConfig {
    fn default() -> Self {
        Self {
            lr: 5e-5,
            lr_head_proj: None,
            warmup_fraction: 0.2,
            weight_decay: 0.05,
            epsilon: 1e-8,
            grad_clip_norm: Some(1.0),
        }
    }
}

/// Everything that defines a joint training run. Defaults: the released blip-coco
/// configuration (except `epochs`, 200 there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JointTrainConfig {
    /// Maximum number of epochs (released: 200 with early stopping).
    pub epochs: usize,
    /// Caption–image pairs per batch (released: 256).
    pub batch_size: usize,
    /// Seed of initialisation and shuffling (released: 42).
    pub seed: u64,
    /// Hidden size of the sparse head (768; `mmlsr train` uses the data folder's word-vector
    /// width when its configuration leaves this unset).
    pub d_hidden: usize,
    /// ε of the head's new LayerNorm (PyTorch's default, 1e-5).
    pub layer_norm_epsilon: f64,
    /// Initial dense temperature τ (released: 0.07; learnable, clamped to [0.001, 0.5]).
    pub tau: f64,
    /// Loss weights and switches.
    pub loss: JointLossConfig,
    /// The L1 weights ramp up quadratically over this fraction of all steps (released: 0.2).
    pub reg_ramp_fraction: f64,
    /// Optimiser.
    pub optim: JointOptimConfig,
    /// Keep `text_proj` and `vision_proj` frozen (the "frozen last layer" ablation: only the
    /// head and τ train).
    pub freeze_projections: bool,
    /// Stop when validation sparse R@1 has not improved for this many epochs (released: 20).
    pub patience: Option<usize>,
    /// Validate after each epoch (sparse text→image R@1 on the val split).
    pub validate: bool,
    /// Validate on at most this many val captions (the first ones; `None`: all).
    pub max_val_queries: Option<usize>,
    /// Train on `restval` images too (the released joint code reads only train/val/test).
    pub use_restval: bool,
}

impl Default for JointTrainConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 256,
            seed: 42,
            d_hidden: 768,
            layer_norm_epsilon: 1e-5,
            tau: 0.07,
            loss: JointLossConfig::default(),
            reg_ramp_fraction: 0.2,
            optim: JointOptimConfig::default(),
            freeze_projections: false,
            patience: Some(20),
            validate: true,
            max_val_queries: None,
            use_restval: false,
        }
    }
}

impl JointTrainConfig {
    fn loop_settings(&self) -> LoopSettings {
        LoopSettings {
            epochs: self.epochs,
            batch_size: self.batch_size,
            seed: self.seed,
            patience: self.patience,
            validate: self.validate,
            warmup_fraction: self.optim.warmup_fraction,
            reg_ramp_fraction: self.reg_ramp_fraction,
        }
    }

    /// Check ranges before anything runs.
    pub fn validate_settings(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        self.loop_settings().check()?;
        if !(self.tau >= crate::TAU_RANGE.0 && self.tau <= crate::TAU_RANGE.1) {
            return bad(format!(
                "tau must be in [{}, {}], found {}",
                crate::TAU_RANGE.0,
                crate::TAU_RANGE.1,
                self.tau
            ));
        }
        self.loss.validate()?;
        let lrs = [Some(self.optim.lr), self.optim.lr_head_proj];
        if lrs
            .iter()
            .flatten()
            .any(|lr| !(lr.is_finite() && *lr > 0.0))
        {
            return bad("learning rates must be positive".into());
        }
        if self
            .optim
            .grad_clip_norm
            .is_some_and(|c| !(c.is_finite() && c > 0.0))
        {
            return bad("optim.grad_clip_norm must be positive".into());
        }
        Ok(())
    }

    /// What the training data must do with `restval` images (see `use_restval`).
    pub fn restval_policy(&self) -> mmlsr_store::RestvalPolicy {
        if self.use_restval {
            mmlsr_store::RestvalPolicy::MergeIntoTrain
        } else {
            mmlsr_store::RestvalPolicy::Drop
        }
    }
}

/// One row of the joint training log.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JointStepStats {
    /// Global step (1-based).
    pub step: usize,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Total loss.
    pub loss: f64,
    /// InfoNCE part `L` (with its factor).
    pub contrastive: f64,
    /// Self-distillation part `L'` (with its factor).
    pub distill: f64,
    /// Weighted caption L1.
    pub reg_text: f64,
    /// Weighted image L1.
    pub reg_image: f64,
    /// τ after the step.
    pub tau: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Mean active terms per caption vector.
    pub active_text: f64,
    /// Mean active terms per image vector.
    pub active_image: f64,
    /// In-batch FLOPs (D2S eq. 1).
    pub flops: f64,
    /// Learning-rate multiplier.
    pub lr_scale: f64,
    /// Validation sparse R@1 (×100) on an epoch's last step.
    pub val_r1: Option<f64>,
}

impl LogRow for JointStepStats {
    const HEADER: &'static str = "step,epoch,loss,contrastive,distill,reg_text,reg_image,tau,grad_norm,active_text,active_image,flops,lr_scale,val_r1";

    fn csv(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            self.step,
            self.epoch,
            self.loss,
            self.contrastive,
            self.distill,
            self.reg_text,
            self.reg_image,
            self.tau,
            self.grad_norm,
            self.active_text,
            self.active_image,
            self.flops,
            self.lr_scale,
            csv_option(self.val_r1)
        )
    }

    fn loss(&self) -> f64 {
        self.loss
    }

    fn set_val_r1(&mut self, val_r1: Option<f64>) {
        self.val_r1 = val_r1;
    }

    fn progress(&self) -> StepStats {
        StepStats {
            step: self.step,
            epoch: self.epoch,
            loss: self.loss,
            distill: self.distill,
            reg_text: self.reg_text,
            reg_image: self.reg_image,
            active_text: self.active_text,
            active_image: self.active_image,
            flops: self.flops,
            lr_scale: self.lr_scale,
            val_r1: None,
        }
    }
}

const OPTIM_HEAD_PROJ: &str = "optim_proj.mpk";
const OPTIM_REST: &str = "optim_rest.mpk";

/// What a joint run starts from: the dense model's last layers and the word vectors that
/// initialise the head's vocabulary projector (`|V| × d_hidden`; BERT's word embeddings for
/// real data; `None`: random).
#[derive(Debug, Clone, Copy)]
pub struct JointStart<'a> {
    /// The dense model's `text_proj` / `vision_proj`.
    pub projections: &'a Projections,
    /// Initial vocabulary projector.
    pub word_vectors: Option<&'a WordVectors>,
}

/// What one [`joint_train_step`] computed, detached from the graph.
pub struct JointStepOutput<B: AutodiffBackend> {
    /// The loss parts (values before the update).
    pub parts: JointLossParts<B>,
    /// The batch's caption vectors.
    pub sparse_text: Tensor<B, 2>,
    /// The batch's image vectors.
    pub sparse_image: Tensor<B, 2>,
    /// The gradient's global norm before clipping.
    pub grad_norm: f64,
}

/// One joint optimiser step on a batch of aligned pre-projection features
/// (`[batch, d_feature]` each): encode both sides, [`joint_loss`] with this step's regulariser
/// weights, back-propagate, clip, update and clamp τ ([`JointOptimizer::step`]) at `lr_scale`
/// times the peak rate. The trainer's step; benchmarks time the same function.
pub fn joint_train_step<B: AutodiffBackend>(
    model: JointModel<B>,
    optim: &mut JointOptimizer<B>,
    text_features: Tensor<B, 2>,
    image_features: Tensor<B, 2>,
    loss: &JointLossConfig,
    weights: RegWeights,
    lr_scale: f64,
) -> (JointModel<B>, JointStepOutput<B>) {
    let t = model.encode_text(text_features);
    let i = model.encode_image(image_features);
    let parts = joint_loss(&t, &i, model.tau.val(), loss, weights);
    let total = parts.total.clone();
    let (model, grad_norm) = optim.step(model, total, lr_scale);
    let out = JointStepOutput {
        parts: JointLossParts {
            total: parts.total.detach(),
            contrastive: parts.contrastive.detach(),
            distill: parts.distill.detach(),
            reg_text: parts.reg_text.detach(),
            reg_image: parts.reg_image.detach(),
        },
        sparse_text: t.sparse.detach(),
        sparse_image: i.sparse.detach(),
        grad_norm,
    };
    (model, out)
}

/// Train a joint model on `data` (a data folder opened with its pre-projection features,
/// `mmlsr_store::DatasetFiles::BEFORE_PROJ`) into `run.out`, starting from `start`. With
/// `run.resume`, continue from the last complete epoch there.
pub fn train_joint<B: AutodiffBackend>(
    config: &JointTrainConfig,
    data: &TrainData<'_>,
    start: JointStart<'_>,
    run: RunDir<'_>,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<TrainReport> {
    let method = Joint::<B>::new(config, data, start, device)?;
    trainer::run(&method, run, observer)
}

/// The joint method as a [`Method`] of the epoch loop.
struct Joint<'a, 'd, B: AutodiffBackend> {
    config: &'a JointTrainConfig,
    data: &'a TrainData<'d>,
    start: JointStart<'a>,
    device: &'a B::Device,
    output: OutputTerms,
    head_config: SparseHeadConfig,
    d_embed: usize,
}

/// A joint model and its optimiser.
struct JointWeights<B: AutodiffBackend> {
    model: JointModel<B>,
    optim: JointOptimizer<B>,
}

impl<'a, 'd, B: AutodiffBackend> Joint<'a, 'd, B> {
    fn new(
        config: &'a JointTrainConfig,
        data: &'a TrainData<'d>,
        start: JointStart<'a>,
        device: &'a B::Device,
    ) -> Result<Self> {
        config.validate_settings()?;
        let d_feature = data.dataset.dim();
        let projections = start.projections;
        check_projections(projections, d_feature)?;
        let d_embed = projections.text.out_dim;
        let vocab_size = data.vocab_size();
        if let Some(wv) = start.word_vectors {
            check_word_vectors(wv, vocab_size, config.d_hidden)?;
        }
        let output = OutputTerms {
            vocab_size,
            kept: None,
        };
        let head_config = SparseHeadConfig::new(d_embed, vocab_size)
            .with_d_hidden(config.d_hidden)
            .with_layer_norm_epsilon(config.layer_norm_epsilon)
            .with_vocab_bias(false);
        if data.restval != config.restval_policy() {
            return Err(Error::Config(format!(
                "the training data were prepared with restval {:?}, the configuration asks for \
                 {:?} (use_restval = {})",
                data.restval,
                config.restval_policy(),
                config.use_restval
            )));
        }
        Ok(Self {
            config,
            data,
            start,
            device,
            output,
            head_config,
            d_embed,
        })
    }

    fn card(&self, epoch: usize, val_r1: Option<f64>, tau: f64) -> JointCard {
        JointCard {
            format: JointCard::FORMAT,
            kind: "joint".into(),
            d_feature: self.data.dataset.dim(),
            d_embed: self.d_embed,
            d_hidden: self.config.d_hidden,
            layer_norm_epsilon: self.config.layer_norm_epsilon,
            output: self.output.clone(),
            tau,
            train: self.config.clone(),
            epoch,
            val_r1,
        }
    }
}

impl<B: AutodiffBackend> Method for Joint<'_, '_, B> {
    type Config = JointTrainConfig;
    type Weights = JointWeights<B>;
    type Row = JointStepStats;
    const CONFIG_KIND: &'static str = "joint train config";

    fn config(&self) -> &JointTrainConfig {
        self.config
    }

    fn settings(&self) -> LoopSettings {
        self.config.loop_settings()
    }

    fn n_pairs(&self) -> usize {
        self.data.train_pairs.len()
    }

    fn init(&self) -> Result<JointWeights<B>> {
        let head = self.head_config.init::<B>(
            self.start.word_vectors.map(|w| w.data.as_slice()),
            self.config.seed,
            self.device,
        )?;
        let model = JointModel::new(self.start.projections, head, self.config.tau, self.device)?;
        Ok(JointWeights {
            model,
            optim: JointOptimizer::new(self.config),
        })
    }

    fn load(&self, dir: &Path) -> Result<JointWeights<B>> {
        let (_, model) = load_joint_model::<B>(dir, self.device)?;
        let optim = JointOptimizer::<B>::new(self.config).load_files(
            &dir.join(OPTIM_HEAD_PROJ),
            &dir.join(OPTIM_REST),
            self.device,
        )?;
        Ok(JointWeights { model, optim })
    }

    fn step(
        &self,
        weights: JointWeights<B>,
        batch: &Batch<'_>,
    ) -> Result<(JointWeights<B>, JointStepStats)> {
        let JointWeights { model, mut optim } = weights;
        let (data, d_feature, device) = (self.data, self.data.dataset.dim(), self.device);
        let n = batch.pairs.len();
        let (texts, images) = data.batch_rows(batch.pairs);
        let x_t = Tensor::<B, 2>::from_data(TensorData::new(texts, [n, d_feature]), device);
        let x_i = Tensor::<B, 2>::from_data(TensorData::new(images, [n, d_feature]), device);
        let loss = &self.config.loss;
        let weights = RegWeights {
            text: batch.ramped(loss.q_reg),
            image: batch.ramped(loss.d_reg),
        };
        let (model, out) =
            joint_train_step(model, &mut optim, x_t, x_i, loss, weights, batch.lr_scale);
        let parts = &out.parts;
        let values = [
            parts.total.clone(),
            parts.contrastive.clone(),
            parts.distill.clone(),
            parts.reg_text.clone(),
            parts.reg_image.clone(),
        ]
        .map(scalar);
        if !values[0].is_finite() {
            return Err(Error::Diverged {
                step: batch.step,
                loss: values[0],
            });
        }
        let (active_text, active_image, batch_flops) = activity(out.sparse_text, out.sparse_image);
        let grad_norm = out.grad_norm;
        let stats = JointStepStats {
            step: batch.step + 1,
            epoch: batch.epoch + 1,
            loss: values[0],
            contrastive: values[1],
            distill: values[2],
            reg_text: values[3],
            reg_image: values[4],
            tau: model.tau_value(),
            grad_norm,
            active_text,
            active_image,
            flops: batch_flops,
            lr_scale: batch.lr_scale,
            val_r1: None,
        };
        Ok((JointWeights { model, optim }, stats))
    }

    fn validate(&self, weights: &JointWeights<B>) -> Result<f64> {
        let (config, data) = (self.config, self.data);
        let n_q = config
            .max_val_queries
            .map_or(data.val.caption_rows.len(), |m| {
                m.min(data.val.caption_rows.len())
            });
        if n_q == 0 || data.val.image_rows.is_empty() {
            return Err(Error::Config(format!(
                "{}: the val split is empty; disable validation to train without one",
                data.dataset.dir().display()
            )));
        }
        let inner = weights.model.valid();
        let enc = encode_split_joint(&inner, data, &data.val, n_q, self.device)?;
        let runs = enc.runs(&[RetrievalMode::Sparse], 1, config.loss.w1, config.loss.w2)?;
        Ok(enc.evaluate(&runs[0], &[Measure::Recall(1)]).1[0] * 100.0)
    }

    fn save(
        &self,
        weights: &JointWeights<B>,
        dir: &Path,
        epoch: usize,
        val_r1: Option<f64>,
    ) -> Result<()> {
        let card = self.card(epoch, val_r1, weights.model.tau_value());
        save_joint_model(dir, &card, &weights.model)?;
        let (p, r) = weights.optim.to_bytes()?;
        atomic_write_bytes(&dir.join(OPTIM_HEAD_PROJ), &p)?;
        atomic_write_bytes(&dir.join(OPTIM_REST), &r)?;
        Ok(())
    }

    fn export(&self, epoch_dir: &Path, model_dir: &Path) -> Result<()> {
        let (card, model) = load_joint_model::<B::InnerBackend>(epoch_dir, &self.device.clone())?;
        save_joint_model(model_dir, &card, &model)
    }
}
