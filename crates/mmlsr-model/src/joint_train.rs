//! Training and evaluation of the joint sparse–dense model (Song et al., CIKM 2025; the
//! released holi-lab/mm-sparse-retrieval `finetune_from_proj` mode).
//!
//! Output directory (as for D2S, see [`crate::train`]):
//! ```text
//! out/
//!   config.json             the JointTrainConfig (a resumed run must match it)
//!   train_log.csv           one row per step; val_r1 filled on the last step of each epoch
//!   epochs/epoch-0007/      the latest complete epoch and the best one:
//!     config.json, head.safetensors, projections.safetensors   a joint model directory
//!     optim_proj.mpk, optim_rest.mpk, state.json
//!   model/                  the best epoch's model directory, written at the end
//! ```
//! Every file is written atomically and an epoch directory is renamed into place only once
//! complete, so an interrupted run resumes from its last complete epoch with the same result.

use std::{path::Path, time::Instant};

use burn::{
    module::{AutodiffModule, ParamId},
    optim::{AdamW, AdamWConfig, GradientsParams, Optimizer, adaptor::OptimizerAdaptor},
    record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder},
    tensor::{
        Tensor, TensorData,
        backend::{AutodiffBackend, Backend},
    },
};
use mmlsr_core::{CsrMatrix, Qrels};
use mmlsr_metrics::{Measure, Run, evaluate, flops};
use mmlsr_store::{Projections, SplitView, WordVectors, atomic_write_bytes};
use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{
    EncodeOptions, EpochStats, Error, JointLossConfig, JointModel, OutputTerms, Result,
    SparseHeadConfig, StepStats, TrainData, TrainObserver, TrainPlan, TrainReport,
    eval::SparseScorer, joint_loss, lr_factor, ramped_weight,
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
    /// Hidden size of the sparse head (768).
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
    /// Check ranges before anything runs.
    pub fn validate_settings(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        crate::train::check_schedule(
            self.epochs,
            self.batch_size,
            self.reg_ramp_fraction,
            self.optim.warmup_fraction,
            self.patience,
        )?;
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

/// File names inside a joint model directory.
pub mod joint_files {
    /// The [`JointCard`](super::JointCard).
    pub const CONFIG: &str = "config.json";
    /// Sparse head parameters (PyTorch layout; the vocabulary bias is written as zeros).
    pub const HEAD: &str = "head.safetensors";
    /// The fine-tuned `text_proj` / `vision_proj` (readable by `mmlsr_store::Projections`).
    pub const PROJECTIONS: &str = "projections.safetensors";
}

/// Everything needed to rebuild and apply a trained joint model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointCard {
    /// Format version.
    pub format: u32,
    /// Always `"joint"`.
    pub kind: String,
    /// Pre-projection feature dimension (768 for BLIP/ALBEF).
    pub d_feature: usize,
    /// Dense embedding dimension (256).
    pub d_embed: usize,
    /// Head hidden size.
    pub d_hidden: usize,
    /// Head LayerNorm ε.
    pub layer_norm_epsilon: f64,
    /// Output columns.
    pub output: OutputTerms,
    /// The learnt τ.
    pub tau: f64,
    /// Training configuration.
    pub train: JointTrainConfig,
    /// Epoch (1-based) of these weights.
    pub epoch: usize,
    /// Validation sparse R@1 (×100) of these weights.
    pub val_r1: Option<f64>,
}

impl JointCard {
    /// Current format version.
    pub const FORMAT: u32 = 1;

    fn head_config(&self) -> SparseHeadConfig {
        SparseHeadConfig::new(self.d_embed, self.output.columns())
            .with_d_hidden(self.d_hidden)
            .with_layer_norm_epsilon(self.layer_norm_epsilon)
            .with_vocab_bias(false)
    }
}

/// Write a joint model into `dir` (created if needed; each file atomically).
pub fn save_joint_model<B: Backend>(
    dir: &Path,
    card: &JointCard,
    model: &JointModel<B>,
) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    crate::encode::write_head(&dir.join(joint_files::HEAD), &model.head)?;
    model
        .projections()
        .write(&dir.join(joint_files::PROJECTIONS))?;
    let json = serde_json::to_vec_pretty(card).expect("cards serialise");
    atomic_write_bytes(&dir.join(joint_files::CONFIG), &json)?;
    Ok(())
}

/// Read a joint model directory written by [`save_joint_model`].
pub fn load_joint_model<B: Backend>(
    dir: &Path,
    device: &B::Device,
) -> Result<(JointCard, JointModel<B>)> {
    let card_path = dir.join(joint_files::CONFIG);
    let bytes = std::fs::read(&card_path).map_err(|e| Error::io(&card_path, e))?;
    let card: JointCard = serde_json::from_slice(&bytes)
        .map_err(|e| Error::checkpoint(&card_path, format!("not a joint model card: {e}")))?;
    if card.format != JointCard::FORMAT || card.kind != "joint" {
        return Err(Error::checkpoint(
            &card_path,
            format!(
                "kind {:?} format {} is not a joint model of format {}",
                card.kind,
                card.format,
                JointCard::FORMAT
            ),
        ));
    }
    let head = crate::encode::read_head(&dir.join(joint_files::HEAD), &card.head_config(), device)?;
    let proj_path = dir.join(joint_files::PROJECTIONS);
    let projections = Projections::read(&proj_path)?;
    if projections.text.in_dim != card.d_feature {
        return Err(Error::checkpoint(
            &proj_path,
            format!(
                "projections take {}-d features, the card says {}",
                projections.text.in_dim, card.d_feature
            ),
        ));
    }
    let model = JointModel::new(&projections, head, card.tau, device)
        .map_err(|e| Error::checkpoint(dir, e.to_string()))?;
    Ok((card, model))
}

type Adaptor<B> = OptimizerAdaptor<AdamW, JointModel<B>, B>;

/// AdamW over the joint model: one group (released) or two when the head's first layer has
/// its own learning rate; global-norm gradient clipping; frozen projections get no update.
struct JointOptimizer<B: AutodiffBackend> {
    config: JointTrainConfig,
    head_proj: Adaptor<B>,
    rest: Adaptor<B>,
}

impl<B: AutodiffBackend> JointOptimizer<B> {
    fn new(config: &JointTrainConfig) -> Self {
        let adamw = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(config.optim.epsilon as f32)
            .with_weight_decay(config.optim.weight_decay as f32);
        Self {
            config: config.clone(),
            head_proj: adamw.init(),
            rest: adamw.init(),
        }
    }

    /// Back-propagate, clip, update, clamp τ. Returns the model and the gradient norm before
    /// clipping.
    fn step(
        &mut self,
        model: JointModel<B>,
        loss: Tensor<B, 1>,
        lr_scale: f64,
    ) -> (JointModel<B>, f64) {
        let mut grads = loss.backward();
        let split = self.config.optim.lr_head_proj.is_some();
        let mut head_proj = if split {
            GradientsParams::from_module(&mut grads, &model.head.proj)
        } else {
            GradientsParams::new()
        };
        let mut rest = GradientsParams::from_grads(grads, &model);
        if self.config.freeze_projections {
            for l in [&model.text_proj, &model.vision_proj] {
                rest.remove::<B::InnerBackend, 2>(l.weight.id);
                if let Some(b) = &l.bias {
                    rest.remove::<B::InnerBackend, 1>(b.id);
                }
            }
        }
        let (ids1, ids2) = param_ids(&model);
        let norm = clip_global_norm::<B>(
            &mut [&mut head_proj, &mut rest],
            &ids1,
            &ids2,
            self.config.optim.grad_clip_norm,
        );
        let lr = self.config.optim.lr * lr_scale;
        let mut model = self.rest.step(lr, model, rest);
        if let Some(lr_p) = self.config.optim.lr_head_proj {
            model = self.head_proj.step(lr_p * lr_scale, model, head_proj);
        }
        (model.clamp_tau(), norm)
    }

    fn to_bytes(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        let rec = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
        let enc = |o: &Adaptor<B>| {
            Recorder::<B>::record(&rec, o.to_record(), ())
                .map_err(|e| Error::Config(format!("cannot serialise optimiser state: {e}")))
        };
        Ok((enc(&self.head_proj)?, enc(&self.rest)?))
    }

    fn load_bytes(
        mut self,
        head_proj: Vec<u8>,
        rest: Vec<u8>,
        device: &B::Device,
        what: &Path,
    ) -> Result<Self> {
        let rec = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
        let bad = |e: burn::record::RecorderError| {
            Error::checkpoint(what, format!("unreadable optimiser state: {e}"))
        };
        let p = Recorder::<B>::load(&rec, head_proj, device).map_err(bad)?;
        let r = Recorder::<B>::load(&rec, rest, device).map_err(bad)?;
        self.head_proj = self.head_proj.load_record(p);
        self.rest = self.rest.load_record(r);
        Ok(self)
    }
}

/// Ids of the model's rank-1 and rank-2 parameters.
fn param_ids<B: Backend>(m: &JointModel<B>) -> (Vec<ParamId>, Vec<ParamId>) {
    let mut ids1 = vec![m.tau.id, m.head.norm.gamma.id];
    let ids2 = vec![
        m.text_proj.weight.id,
        m.vision_proj.weight.id,
        m.head.proj.weight.id,
        m.head.vocab.weight.id,
    ];
    for b in [
        &m.text_proj.bias,
        &m.vision_proj.bias,
        &m.head.proj.bias,
        &m.head.norm.beta,
        &m.head.vocab.bias,
    ]
    .into_iter()
    .flatten()
    {
        ids1.push(b.id);
    }
    (ids1, ids2)
}

/// Scale every gradient by `max / (‖g‖ + 1e-6)` when the global norm `‖g‖` over all of them
/// exceeds `max` (PyTorch's `clip_grad_norm_`, which Lightning's `gradient_clip_val` calls).
/// Returns `‖g‖` before clipping.
fn clip_global_norm<B: AutodiffBackend>(
    groups: &mut [&mut GradientsParams],
    ids1: &[ParamId],
    ids2: &[ParamId],
    max: Option<f64>,
) -> f64 {
    let mut total = 0.0f64;
    for g in groups.iter() {
        for &id in ids1 {
            if let Some(t) = g.get::<B::InnerBackend, 1>(id) {
                total += scalar(t.powi_scalar(2).sum());
            }
        }
        for &id in ids2 {
            if let Some(t) = g.get::<B::InnerBackend, 2>(id) {
                total += scalar(t.powi_scalar(2).sum());
            }
        }
    }
    let norm = total.sqrt();
    if let Some(max) = max
        && norm > max
    {
        let s = max / (norm + 1e-6);
        for g in groups.iter_mut() {
            for &id in ids1 {
                if let Some(t) = g.remove::<B::InnerBackend, 1>(id) {
                    g.register(id, t.mul_scalar(s));
                }
            }
            for &id in ids2 {
                if let Some(t) = g.remove::<B::InnerBackend, 2>(id) {
                    g.register(id, t.mul_scalar(s));
                }
            }
        }
    }
    norm
}

fn scalar<B: Backend>(t: Tensor<B, 1>) -> f64 {
    t.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JointRunState {
    epoch: usize,
    step: usize,
    best_epoch: usize,
    best_val_r1: Option<f64>,
    epochs_since_best: usize,
    stopped_early: bool,
    log: Vec<JointStepStats>,
}

const STATE: &str = "state.json";
const OPTIM_HEAD_PROJ: &str = "optim_proj.mpk";
const OPTIM_REST: &str = "optim_rest.mpk";
const LOG: &str = "train_log.csv";
const CONFIG: &str = "config.json";

/// Train a joint model on `data` (a data folder opened with its pre-projection features,
/// `mmlsr_store::DatasetFiles::BEFORE_PROJ`) into `out`, starting from the dense model's
/// `projections` and a head whose vocabulary projector is a copy of `word_vectors`
/// (`|V| × d_hidden`; BERT's word embeddings for real data). With `resume`, continue from the
/// last complete epoch in `out`.
#[allow(clippy::too_many_arguments)]
pub fn train_joint<B: AutodiffBackend>(
    config: &JointTrainConfig,
    data: &TrainData<'_>,
    projections: &Projections,
    word_vectors: Option<&WordVectors>,
    out: &Path,
    resume: bool,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<TrainReport> {
    let t0 = Instant::now();
    config.validate_settings()?;
    let d_feature = data.dataset.dim();
    if projections.text.in_dim != d_feature {
        return Err(Error::Shape {
            what: "projection input dimension vs the pre-projection features".into(),
            expected: d_feature,
            found: projections.text.in_dim,
        });
    }
    let d_embed = projections.text.out_dim;
    let vocab_size = data.vocab_size();
    if let Some(wv) = word_vectors
        && (wv.vocab_size != vocab_size || wv.dim != config.d_hidden)
    {
        return Err(Error::Config(format!(
            "word vectors are {} × {}, expected vocabulary {} × d_hidden {}",
            wv.vocab_size, wv.dim, vocab_size, config.d_hidden
        )));
    }
    let output = OutputTerms {
        vocab_size,
        kept: None,
    };
    let head_config = SparseHeadConfig::new(d_embed, vocab_size)
        .with_d_hidden(config.d_hidden)
        .with_layer_norm_epsilon(config.layer_norm_epsilon)
        .with_vocab_bias(false);
    let card = |epoch: usize, val_r1: Option<f64>, tau: f64| JointCard {
        format: JointCard::FORMAT,
        kind: "joint".into(),
        d_feature,
        d_embed,
        d_hidden: config.d_hidden,
        layer_norm_epsilon: config.layer_norm_epsilon,
        output: output.clone(),
        tau,
        train: config.clone(),
        epoch,
        val_r1,
    };
    if data.restval != config.restval_policy() {
        return Err(Error::Config(format!(
            "the training data were prepared with restval {:?}, the configuration asks for {:?} \
             (use_restval = {})",
            data.restval,
            config.restval_policy(),
            config.use_restval
        )));
    }
    let train_pairs = &data.train_pairs;

    std::fs::create_dir_all(out.join("epochs")).map_err(|e| Error::io(out, e))?;
    let config_path = out.join(CONFIG);
    let latest = crate::train::latest_epoch_dir(out)?;
    let (mut model, mut optim, mut state) = match (&latest, resume) {
        (Some(dir), true) => {
            let saved = std::fs::read(&config_path).map_err(|e| Error::io(&config_path, e))?;
            let saved: JointTrainConfig = serde_json::from_slice(&saved).map_err(|e| {
                Error::checkpoint(&config_path, format!("not a joint train config: {e}"))
            })?;
            if &saved != config {
                return Err(Error::checkpoint(
                    &config_path,
                    "the run in this directory used a different configuration; resume with the \
                     same settings or train into a new directory",
                ));
            }
            let (_, model) = load_joint_model::<B>(dir, device)?;
            let read = |n: &str| std::fs::read(dir.join(n)).map_err(|e| Error::io(dir.join(n), e));
            let optim = JointOptimizer::<B>::new(config).load_bytes(
                read(OPTIM_HEAD_PROJ)?,
                read(OPTIM_REST)?,
                device,
                dir,
            )?;
            let state: JointRunState = serde_json::from_slice(&read(STATE)?)
                .map_err(|e| Error::checkpoint(dir.join(STATE), format!("not a run state: {e}")))?;
            (model, optim, state)
        }
        (Some(dir), false) => {
            return Err(Error::checkpoint(
                dir,
                "a training run already exists here; pass resume to continue it, or choose \
                 another output directory",
            ));
        }
        (None, _) => {
            let json = serde_json::to_vec_pretty(config).expect("configs serialise");
            atomic_write_bytes(&config_path, &json)?;
            let head = head_config.init::<B>(
                word_vectors.map(|w| w.data.as_slice()),
                config.seed,
                device,
            )?;
            let model = JointModel::new(projections, head, config.tau, device)?;
            let state = JointRunState {
                epoch: 0,
                step: 0,
                best_epoch: 0,
                best_val_r1: None,
                epochs_since_best: 0,
                stopped_early: false,
                log: Vec::new(),
            };
            (model, JointOptimizer::new(config), state)
        }
    };

    let n_pairs = train_pairs.len();
    let steps_per_epoch = n_pairs.div_ceil(config.batch_size);
    let total_steps = steps_per_epoch * config.epochs;
    let warmup = (config.optim.warmup_fraction * total_steps as f64) as usize;
    let ramp = (config.reg_ramp_fraction * total_steps as f64) as usize;
    observer.on_start(&TrainPlan {
        steps_per_epoch,
        total_steps,
        start_step: state.step,
        start_epoch: state.epoch,
        epochs: config.epochs,
    });
    let mut interrupted = false;
    let mut text_buf = Vec::with_capacity(config.batch_size * d_feature);
    let mut img_buf = Vec::with_capacity(config.batch_size * d_feature);
    while state.epoch < config.epochs && !state.stopped_early {
        let epoch_start = Instant::now();
        let epoch = state.epoch;
        let mut order: Vec<u32> = (0..n_pairs as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(epoch as u64 + 1);
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for chunk in order.chunks(config.batch_size) {
            let n = chunk.len();
            text_buf.clear();
            img_buf.clear();
            for &p in chunk {
                let (c, i) = train_pairs[p as usize];
                text_buf.extend_from_slice(data.dataset.texts.row(c as usize));
                img_buf.extend_from_slice(data.dataset.images.row(i as usize));
            }
            let x_t = Tensor::<B, 2>::from_data(
                TensorData::new(text_buf.clone(), [n, d_feature]),
                device,
            );
            let x_i =
                Tensor::<B, 2>::from_data(TensorData::new(img_buf.clone(), [n, d_feature]), device);
            let step = state.step;
            let lr_scale = lr_factor(step, total_steps, warmup);
            let t = model.encode_text(x_t);
            let i = model.encode_image(x_i);
            let parts = joint_loss(
                t.dense,
                i.dense,
                t.sparse.clone(),
                i.sparse.clone(),
                model.tau.val(),
                &config.loss,
                ramped_weight(config.loss.q_reg, step, ramp),
                ramped_weight(config.loss.d_reg, step, ramp),
            );
            let values = [
                parts.total.clone(),
                parts.contrastive.clone(),
                parts.distill.clone(),
                parts.reg_text.clone(),
                parts.reg_image.clone(),
            ]
            .map(|x| scalar(x.detach()));
            if !values[0].is_finite() {
                return Err(Error::Diverged {
                    step,
                    loss: values[0],
                });
            }
            let (active_text, active_image, batch_flops) =
                crate::train::activity(t.sparse.detach(), i.sparse.detach());
            let (new_model, grad_norm) = optim.step(model, parts.total, lr_scale);
            model = new_model;
            let stats = JointStepStats {
                step: step + 1,
                epoch: epoch + 1,
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
                lr_scale,
                val_r1: None,
            };
            state.step += 1;
            loss_sum += stats.loss;
            observer.on_step(&StepStats {
                step: stats.step,
                epoch: stats.epoch,
                loss: stats.loss,
                distill: stats.distill,
                reg_text: stats.reg_text,
                reg_image: stats.reg_image,
                active_text,
                active_image,
                flops: batch_flops,
                lr_scale,
                val_r1: None,
            });
            state.log.push(stats);
        }
        state.epoch += 1;

        let val_r1 = if config.validate {
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
            let inner = model.valid();
            let enc = encode_split_joint(&inner, data, &data.val, n_q, device)?;
            let runs = enc.runs::<B::InnerBackend>(
                &[Mode::Sparse],
                1,
                config.loss.w1,
                config.loss.w2,
                device,
            )?;
            Some(enc.evaluate(&runs[0], &[Measure::Recall(1)]).1[0] * 100.0)
        } else {
            None
        };
        if let Some(last) = state.log.last_mut() {
            last.val_r1 = val_r1;
        }
        let improved = match (val_r1, state.best_val_r1) {
            (Some(v), Some(best)) => v > best,
            _ => true,
        };
        if improved {
            state.best_epoch = state.epoch;
            state.best_val_r1 = val_r1;
            state.epochs_since_best = 0;
        } else {
            state.epochs_since_best += 1;
            if config
                .patience
                .is_some_and(|p| state.epochs_since_best >= p)
            {
                state.stopped_early = true;
            }
        }
        write_joint_epoch(
            out,
            &state,
            &card(state.epoch, val_r1, model.tau_value()),
            &model,
            &optim,
        )?;
        write_joint_log(out, &state.log)?;
        let ctl = observer.on_epoch(&EpochStats {
            epoch: state.epoch,
            step: state.step,
            mean_loss: loss_sum / steps_per_epoch.max(1) as f64,
            val_r1,
            best_epoch: state.best_epoch,
            seconds: epoch_start.elapsed().as_secs_f64(),
        });
        if ctl.is_break() && state.epoch < config.epochs && !state.stopped_early {
            interrupted = true;
            break;
        }
    }

    let model_dir = if interrupted {
        None
    } else {
        let best = crate::train::epoch_dir(out, state.best_epoch);
        let (best_card, best_model) = load_joint_model::<B::InnerBackend>(&best, &device.clone())?;
        let final_dir = out.join("model");
        let tmp = out.join(".model.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        save_joint_model(&tmp, &best_card, &best_model)?;
        let _ = std::fs::remove_dir_all(&final_dir);
        std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
        Some(final_dir)
    };
    Ok(TrainReport {
        epochs_done: state.epoch,
        steps_done: state.step,
        best_epoch: state.best_epoch,
        best_val_r1: state.best_val_r1,
        stopped_early: state.stopped_early,
        interrupted,
        model_dir,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

fn write_joint_epoch<B: AutodiffBackend>(
    out: &Path,
    state: &JointRunState,
    card: &JointCard,
    model: &JointModel<B>,
    optim: &JointOptimizer<B>,
) -> Result<()> {
    let final_dir = crate::train::epoch_dir(out, state.epoch);
    let tmp = out
        .join("epochs")
        .join(format!(".epoch-{:04}.tmp", state.epoch));
    let _ = std::fs::remove_dir_all(&tmp);
    save_joint_model(&tmp, card, model)?;
    let (p, r) = optim.to_bytes()?;
    atomic_write_bytes(&tmp.join(OPTIM_HEAD_PROJ), &p)?;
    atomic_write_bytes(&tmp.join(OPTIM_REST), &r)?;
    let json = serde_json::to_vec(state).expect("states serialise");
    atomic_write_bytes(&tmp.join(STATE), &json)?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    crate::train::remove_other_epochs(out, &[state.epoch, state.best_epoch]);
    Ok(())
}

fn write_joint_log(out: &Path, log: &[JointStepStats]) -> Result<()> {
    use std::fmt::Write;
    let mut s = String::from(
        "step,epoch,loss,contrastive,distill,reg_text,reg_image,tau,grad_norm,active_text,active_image,flops,lr_scale,val_r1\n",
    );
    for r in log {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.step,
            r.epoch,
            r.loss,
            r.contrastive,
            r.distill,
            r.reg_text,
            r.reg_image,
            r.tau,
            r.grad_norm,
            r.active_text,
            r.active_image,
            r.flops,
            r.lr_scale,
            r.val_r1.map_or(String::new(), |v| v.to_string())
        );
    }
    atomic_write_bytes(&out.join(LOG), s.as_bytes())
        .map_err(Error::from)
        .map(|_| ())
}

/// A retrieval mode of the joint model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Cosine of the fine-tuned dense embeddings.
    Dense,
    /// Sparse dot product.
    Sparse,
    /// `w1·cos + w2·sparse` (the released evaluation's `dense_single`).
    Fused,
}

impl Mode {
    /// All three, in table order.
    pub const ALL: [Mode; 3] = [Mode::Dense, Mode::Sparse, Mode::Fused];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dense => "dense",
            Mode::Sparse => "sparse",
            Mode::Fused => "fused",
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
        &gather(&ds.texts, &split.caption_rows[..n_q]),
        device,
    )?;
    let dense_images = model.embed(true, &gather(&ds.images, &split.image_rows), device)?;
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
        .map(|&r| ds.texts.ids().id(r).to_string())
        .collect();
    let image_ids: Vec<String> = split
        .image_rows
        .iter()
        .map(|&r| ds.images.ids().id(r).to_string())
        .collect();
    let mut qrels = Qrels::new();
    for (q, &img) in query_ids.iter().zip(&split.caption_image) {
        qrels.insert(q.as_str(), image_ids[img].as_str(), 1);
    }
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
    /// queries; fused scores are `w1·cos + w2·sparse`.
    pub fn runs<B: Backend>(
        &self,
        modes: &[Mode],
        depth: usize,
        w1: f64,
        w2: f64,
        device: &B::Device,
    ) -> Result<Vec<Run>> {
        const BLOCK: usize = 2048;
        let n_q = self.query_ids.len();
        let n_i = self.image_ids.len();
        let d = self.d_embed;
        let images_t =
            Tensor::<B, 2>::from_data(TensorData::new(self.dense_images.clone(), [n_i, d]), device)
                .transpose();
        let mut runs: Vec<Run> = modes.iter().map(|_| Run::default()).collect();
        let need_dense = modes.iter().any(|m| *m != Mode::Sparse);
        let need_sparse = modes.iter().any(|m| *m != Mode::Dense);
        let scorer = need_sparse.then(|| SparseScorer::new(&self.images));
        let mut sparse = Vec::new();
        let mut fused = Vec::new();
        for start in (0..n_q).step_by(BLOCK) {
            let end = (start + BLOCK).min(n_q);
            let ids = &self.query_ids[start..end];
            let dense: Vec<f32> = if need_dense {
                let q = Tensor::<B, 2>::from_data(
                    TensorData::new(
                        self.dense_queries[start * d..end * d].to_vec(),
                        [end - start, d],
                    ),
                    device,
                );
                q.matmul(images_t.clone())
                    .into_data()
                    .iter::<f32>()
                    .collect()
            } else {
                Vec::new()
            };
            if let Some(scorer) = &scorer {
                sparse.resize((end - start) * n_i, 0.0);
                scorer.score_rows(&self.queries, start..end, &mut sparse)?;
            }
            for (m, run) in modes.iter().zip(runs.iter_mut()) {
                let scores: &[f32] = match m {
                    Mode::Dense => &dense,
                    Mode::Sparse => &sparse,
                    Mode::Fused => {
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

#[cfg(all(test, feature = "flex"))]
mod tests {
    use burn::tensor::TensorData;

    use super::*;

    type B = burn::backend::Autodiff<burn::backend::Flex>;
    type I = burn::backend::Flex;

    #[test]
    fn global_norm_clipping_scales_all_groups_like_pytorch() {
        let device = Default::default();
        let (a, b, c) = (ParamId::from(1), ParamId::from(2), ParamId::from(3));
        let t1 =
            |x: Vec<f32>| Tensor::<I, 1>::from_data(TensorData::new(x.clone(), [x.len()]), &device);
        let mut g1 = GradientsParams::new();
        let mut g2 = GradientsParams::new();
        g1.register(a, t1(vec![3.0, 0.0]));
        g2.register(b, t1(vec![0.0, 4.0]));
        g2.register(
            c,
            Tensor::<I, 2>::from_data(TensorData::new(vec![12.0f32, 0.0], [1, 2]), &device),
        );
        // ‖g‖ = √(9 + 16 + 144) = 13 over both groups.
        let norm = clip_global_norm::<B>(&mut [&mut g1, &mut g2], &[a, b], &[c], Some(1.0));
        assert!((norm - 13.0).abs() < 1e-9);
        let s = 1.0 / (13.0 + 1e-6);
        let host = |t: Tensor<I, 1>| t.into_data().iter::<f64>().collect::<Vec<_>>();
        let ga = host(g1.get::<I, 1>(a).unwrap());
        let gb = host(g2.get::<I, 1>(b).unwrap());
        let gc: Vec<f64> = g2
            .get::<I, 2>(c)
            .unwrap()
            .into_data()
            .iter::<f64>()
            .collect();
        for (got, want) in [(ga[0], 3.0 * s), (gb[1], 4.0 * s), (gc[0], 12.0 * s)] {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Below the limit nothing changes; without a limit the norm is still reported.
        let norm = clip_global_norm::<B>(&mut [&mut g1], &[a], &[], Some(1.0));
        assert!((norm - 3.0 * s).abs() < 1e-6);
        assert_eq!(host(g1.get::<I, 1>(a).unwrap())[0], ga[0]);
        let norm = clip_global_norm::<B>(&mut [&mut g2], &[b], &[c], None);
        assert!((norm - s * 160f64.sqrt()).abs() < 1e-6);
    }
}
