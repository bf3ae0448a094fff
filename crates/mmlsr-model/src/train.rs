//! The D2S trainer: epochs over shuffled caption–image pairs, expansion masks from the
//! scheduler, the distillation loss, validation after each epoch, best-checkpoint selection,
//! early stopping, and resumable checkpoints.
//!
//! Output directory:
//! ```text
//! out/
//!   config.json             the TrainConfig (a resumed run must match it)
//!   train_log.csv           one row per step; val_r1 filled on the last step of each epoch
//!   epochs/epoch-0007/      the latest complete epoch and the best one (older ones removed):
//!     head.safetensors, config.json    a model directory (see `encode`)
//!     optim_proj.mpk, optim_rest.mpk   AdamW state of the two groups
//!     state.json                       step, best epoch, patience counter, the log so far
//!   model/                  the best epoch's model directory, written at the end
//! ```
//! Every file is written atomically and an epoch directory is renamed into place only once
//! complete, so an interrupted run resumes from its last complete epoch. Every random draw
//! (initialisation, shuffling, masks) is a function of the seed and the epoch, so a resumed
//! run reaches the same weights as an uninterrupted one.

use std::{
    ops::ControlFlow,
    path::{Path, PathBuf},
    time::Instant,
};

use burn::tensor::{Tensor, TensorData, backend::AutodiffBackend, backend::Backend};
use mmlsr_core::Qrels;
use mmlsr_expansion::{DrawLevel, ExpansionConfig, Schedule, Scheduler, Variant, WordControl};
use mmlsr_metrics::Measure;
use mmlsr_store::{WordVectors, atomic_write_bytes};
use rand::{SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{
    Error, HeadOptimizer, LossConfig, LossParts, ModelCard, OptimConfig, OutputTerms, Result,
    SparseHead, SparseHeadConfig, TrainData, d2s_loss, encode::save_model, eval, load_model,
    lr_factor, ramped_weight,
};

/// Expansion-control settings of a training run (D2S section 3.3); the number of epochs and
/// the seed come from [`TrainConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpansionSettings {
    /// Table-2 variant.
    pub variant: Variant,
    /// Schedule of `p_c`.
    pub schedule: Schedule,
    /// One caption-level draw per batch (released) or per caption.
    pub draw: DrawLevel,
    /// What word-level draws govern (`exp=c+w`).
    pub word_control: WordControl,
    /// `p_c` in the first epoch.
    pub initial_caption_probability: f64,
}

impl Default for ExpansionSettings {
    fn default() -> Self {
        let e = ExpansionConfig::default();
        Self {
            variant: e.variant,
            schedule: e.schedule,
            draw: e.draw,
            word_control: e.word_control,
            initial_caption_probability: e.initial_caption_probability,
        }
    }
}

/// Everything that defines a D2S training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Maximum number of epochs (released: 200 on MSCOCO; the synthetic default converges
    /// in about 10–20).
    pub epochs: usize,
    /// Caption–image pairs per batch (released: 512). The last batch of an epoch may be
    /// smaller.
    pub batch_size: usize,
    /// Seed of initialisation, shuffling and expansion draws.
    pub seed: u64,
    /// Hidden size of the head (768).
    pub d_hidden: usize,
    /// Loss settings (τ, regulariser weights).
    pub loss: LossConfig,
    /// The regulariser weights ramp up quadratically over this fraction of all steps
    /// (released: 0.2, the warm-up length).
    pub reg_ramp_fraction: f64,
    /// Optimiser settings.
    pub optim: OptimConfig,
    /// Expansion control.
    pub expansion: ExpansionSettings,
    /// Stop when validation R@1 has not improved for this many epochs (`None`: never).
    pub patience: Option<usize>,
    /// Validate after each epoch (sparse text→image R@1 on the val split). Without it the
    /// last epoch is kept.
    pub validate: bool,
    /// Validate on at most this many val captions (the first ones; `None`: all).
    pub max_val_queries: Option<usize>,
    /// Restrict the head's output to terms that occur in some caption of the data folder.
    pub prune_vocabulary: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 512,
            seed: 42,
            d_hidden: 768,
            loss: LossConfig::default(),
            reg_ramp_fraction: 0.2,
            optim: OptimConfig::default(),
            expansion: ExpansionSettings::default(),
            patience: None,
            validate: true,
            max_val_queries: None,
            prune_vocabulary: false,
        }
    }
}

impl TrainConfig {
    /// Check ranges before anything runs.
    pub fn validate_settings(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        check_schedule(
            self.epochs,
            self.batch_size,
            self.reg_ramp_fraction,
            self.optim.warmup_fraction,
            self.patience,
        )?;
        if self.loss.temperature.is_nan() || self.loss.temperature <= 0.0 {
            return bad(format!(
                "loss.temperature must be > 0, found {}",
                self.loss.temperature
            ));
        }
        for (n, w) in [
            ("loss.q_reg", self.loss.q_reg),
            ("loss.d_reg", self.loss.d_reg),
        ] {
            if !(w >= 0.0 && w.is_finite()) {
                return bad(format!("{n} must be a finite number ≥ 0, found {w}"));
            }
        }
        if !(self.optim.lr_proj > 0.0 && self.optim.lr_pretrained >= 0.0) {
            return bad("learning rates must be positive".into());
        }
        Ok(())
    }
}

/// Range checks every trainer shares: epochs, batch size, the two ramp fractions, patience.
pub(crate) fn check_schedule(
    epochs: usize,
    batch_size: usize,
    reg_ramp_fraction: f64,
    warmup_fraction: f64,
    patience: Option<usize>,
) -> Result<()> {
    let bad = |m: String| Err(Error::Config(m));
    if epochs == 0 {
        return bad("epochs must be at least 1".into());
    }
    if batch_size < 2 {
        return bad(format!(
            "batch_size must be at least 2 (in-batch negatives), found {batch_size}"
        ));
    }
    for (n, f) in [
        ("reg_ramp_fraction", reg_ramp_fraction),
        ("optim.warmup_fraction", warmup_fraction),
    ] {
        if !(0.0..=1.0).contains(&f) {
            return bad(format!("{n} must be in [0, 1], found {f}"));
        }
    }
    if patience == Some(0) {
        return bad("patience must be at least 1 epoch".into());
    }
    Ok(())
}

/// Numbers of one optimiser step.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// Global step (1-based, after this step).
    pub step: usize,
    /// Epoch (1-based).
    pub epoch: usize,
    /// Total loss.
    pub loss: f64,
    /// Distillation part.
    pub distill: f64,
    /// Weighted caption regulariser.
    pub reg_text: f64,
    /// Weighted image regulariser.
    pub reg_image: f64,
    /// Mean active (non-zero) terms per caption vector, after masking.
    pub active_text: f64,
    /// Mean active terms per image vector.
    pub active_image: f64,
    /// In-batch FLOPs (D2S eq. 1 over the batch's captions and images).
    pub flops: f64,
    /// Learning-rate multiplier.
    pub lr_scale: f64,
    /// Validation R@1 (×100), on the last step of an epoch that was validated.
    pub val_r1: Option<f64>,
}

/// Summary of one epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochStats {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Steps done so far.
    pub step: usize,
    /// Mean total loss over the epoch.
    pub mean_loss: f64,
    /// Validation R@1 (×100).
    pub val_r1: Option<f64>,
    /// Best epoch so far.
    pub best_epoch: usize,
    /// Seconds spent in this epoch (training and validation).
    pub seconds: f64,
}

/// The shape of a run, given to [`TrainObserver::on_start`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainPlan {
    /// Steps per epoch.
    pub steps_per_epoch: usize,
    /// Steps of the whole run (all epochs).
    pub total_steps: usize,
    /// Steps already done (resumed runs).
    pub start_step: usize,
    /// Epochs already done.
    pub start_epoch: usize,
    /// Maximum epochs.
    pub epochs: usize,
}

/// Receives progress; the runner draws progress bars from it. Returning
/// `ControlFlow::Break` from [`TrainObserver::on_epoch`] stops after that epoch's checkpoint
/// (as an interruption would).
pub trait TrainObserver {
    /// Before the first step.
    fn on_start(&mut self, _plan: &TrainPlan) {}
    /// After every step.
    fn on_step(&mut self, _stats: &StepStats) {}
    /// After every epoch's checkpoint is written.
    fn on_epoch(&mut self, _stats: &EpochStats) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// An observer that ignores everything.
pub struct Silent;
impl TrainObserver for Silent {}

/// The outcome of [`train`].
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// Epochs completed (over all sessions of a resumed run).
    pub epochs_done: usize,
    /// Steps completed.
    pub steps_done: usize,
    /// The kept epoch.
    pub best_epoch: usize,
    /// Its validation R@1 (×100).
    pub best_val_r1: Option<f64>,
    /// Early stopping ended the run.
    pub stopped_early: bool,
    /// The observer stopped the run before its end (resume it to finish).
    pub interrupted: bool,
    /// The final model directory (`out/model`), written when the run finished.
    pub model_dir: Option<PathBuf>,
    /// Seconds spent in this session.
    pub seconds: f64,
}

/// Resumable state of a run, saved with each epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunState {
    epoch: usize,
    step: usize,
    best_epoch: usize,
    best_val_r1: Option<f64>,
    epochs_since_best: usize,
    stopped_early: bool,
    log: Vec<StepStats>,
}

const STATE: &str = "state.json";
const OPTIM_PROJ: &str = "optim_proj.mpk";
const OPTIM_REST: &str = "optim_rest.mpk";
const LOG: &str = "train_log.csv";
const CONFIG: &str = "config.json";

/// Train a D2S head on `data` into `out`. With `resume`, continue from the last complete
/// epoch in `out` (the configuration must be the same); without it, `out` must not hold a
/// run already.
///
/// `word_vectors` (`|V| × d_hidden`) initialise the vocabulary projector; pass the data
/// folder's `word_vectors.safetensors` (or BERT's word embeddings for real data).
pub fn train<B: AutodiffBackend>(
    config: &TrainConfig,
    data: &TrainData<'_>,
    word_vectors: Option<&WordVectors>,
    out: &Path,
    resume: bool,
    device: &B::Device,
    observer: &mut dyn TrainObserver,
) -> Result<TrainReport> {
    let t0 = Instant::now();
    config.validate_settings()?;
    let d = data.dataset.dim();
    let vocab_size = data.vocab_size();
    if let Some(wv) = word_vectors {
        if wv.vocab_size != vocab_size {
            return Err(Error::Shape {
                what: "word vectors' vocabulary size vs the tokenizer's".into(),
                expected: vocab_size,
                found: wv.vocab_size,
            });
        }
        if wv.dim != config.d_hidden {
            return Err(Error::Shape {
                what: "word vector dimension vs d_hidden".into(),
                expected: config.d_hidden,
                found: wv.dim,
            });
        }
    }

    // Output columns, expansion scheduler over those columns.
    let output = OutputTerms {
        vocab_size,
        kept: config.prune_vocabulary.then(|| data.occurring_terms()),
    };
    let cols = output.columns();
    let df_full = data.train_document_frequency();
    let df: Vec<f32> = (0..cols)
        .map(|c| df_full[output.term(c) as usize])
        .collect();
    let scheduler = Scheduler::new(
        ExpansionConfig {
            variant: config.expansion.variant,
            schedule: config.expansion.schedule,
            draw: config.expansion.draw,
            word_control: config.expansion.word_control,
            initial_caption_probability: config.expansion.initial_caption_probability,
            epochs: config.epochs,
            seed: config.seed,
        },
        &df,
    )?;
    // Own terms of every caption row, as head columns.
    let own_cols: Vec<Vec<u32>> = data
        .terms
        .rows()
        .map(|r| {
            r.iter()
                .filter_map(|&t| output.column(t).map(|c| c as u32))
                .collect()
        })
        .collect();

    let head_config = SparseHeadConfig::new(d, cols).with_d_hidden(config.d_hidden);
    let card = |epoch: usize, val_r1: Option<f64>| ModelCard {
        format: ModelCard::FORMAT,
        d_input: d,
        d_hidden: config.d_hidden,
        layer_norm_epsilon: head_config.layer_norm_epsilon,
        output: output.clone(),
        variant: config.expansion.variant,
        train: config.clone(),
        epoch,
        val_r1,
    };

    // Fresh run or resume.
    std::fs::create_dir_all(out.join("epochs")).map_err(|e| Error::io(out, e))?;
    let config_path = out.join(CONFIG);
    let latest = latest_epoch_dir(out)?;
    let (mut head, mut optim, mut state) = match (&latest, resume) {
        (Some(dir), true) => {
            let saved = std::fs::read(&config_path).map_err(|e| Error::io(&config_path, e))?;
            let saved: TrainConfig = serde_json::from_slice(&saved)
                .map_err(|e| Error::checkpoint(&config_path, format!("not a train config: {e}")))?;
            if &saved != config {
                return Err(Error::checkpoint(
                    &config_path,
                    "the run in this directory used a different configuration; resume with the \
                     same settings or train into a new directory",
                ));
            }
            let (saved_card, head) = load_model::<B>(dir, device)?;
            if saved_card.output != output {
                return Err(Error::checkpoint(
                    dir,
                    format!(
                        "checkpoint has {} output columns over a vocabulary of {}, the data gives {} over {}",
                        saved_card.output.columns(),
                        saved_card.output.vocab_size,
                        cols,
                        vocab_size
                    ),
                ));
            }
            let read = |n: &str| std::fs::read(dir.join(n)).map_err(|e| Error::io(dir.join(n), e));
            let optim = HeadOptimizer::<B>::new(config.optim).load_bytes(
                read(OPTIM_PROJ)?,
                read(OPTIM_REST)?,
                device,
                dir,
            )?;
            let state: RunState = serde_json::from_slice(&read(STATE)?)
                .map_err(|e| Error::checkpoint(dir.join(STATE), format!("not a run state: {e}")))?;
            (head, optim, state)
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
            let wv = word_vectors.map(|wv| pruned_rows(wv, &output));
            let head = head_config.init::<B>(wv.as_deref(), config.seed, device)?;
            let state = RunState {
                epoch: 0,
                step: 0,
                best_epoch: 0,
                best_val_r1: None,
                epochs_since_best: 0,
                stopped_early: false,
                log: Vec::new(),
            };
            (head, HeadOptimizer::new(config.optim), state)
        }
    };

    let n_pairs = data.train_pairs.len();
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
    let mut text_buf = Vec::with_capacity(config.batch_size * d);
    let mut img_buf = Vec::with_capacity(config.batch_size * d);
    let mut mask_buf: Vec<f32> = Vec::new();
    while state.epoch < config.epochs && !state.stopped_early {
        let epoch_start = Instant::now();
        let epoch = state.epoch; // 0-based inside the loop
        let mut order: Vec<u32> = (0..n_pairs as u32).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(epoch as u64 + 1);
        order.shuffle(&mut rng);
        let mut loss_sum = 0.0;
        for (b, chunk) in order.chunks(config.batch_size).enumerate() {
            let n = chunk.len();
            text_buf.clear();
            img_buf.clear();
            for &p in chunk {
                let (c, i) = data.train_pairs[p as usize];
                text_buf.extend_from_slice(data.dataset.texts.row(c as usize));
                img_buf.extend_from_slice(data.dataset.images.row(i as usize));
            }
            let own: Vec<&[u32]> = chunk
                .iter()
                .map(|&p| own_cols[data.train_pairs[p as usize].0 as usize].as_slice())
                .collect();
            let mask = scheduler.batch_mask(epoch, b as u64, &own)?;
            let dense_text =
                Tensor::<B, 2>::from_data(TensorData::new(text_buf.clone(), [n, d]), device);
            let dense_img =
                Tensor::<B, 2>::from_data(TensorData::new(img_buf.clone(), [n, d]), device);
            let mask = (!mask.is_unrestricted()).then(|| {
                mask_buf.resize(n * cols, 0.0);
                mask.write_dense(&mut mask_buf);
                Tensor::<B, 2>::from_data(TensorData::new(mask_buf.clone(), [n, cols]), device)
            });
            let step = state.step;
            let lr_scale = lr_factor(step, total_steps, warmup);
            let (new_head, out) = train_step(
                head,
                &mut optim,
                dense_text,
                dense_img,
                mask,
                &config.loss,
                ramped_weight(config.loss.q_reg, step, ramp),
                ramped_weight(config.loss.d_reg, step, ramp),
                lr_scale,
            );
            head = new_head;
            let parts = out.parts;
            let (active_text, active_image, flops) = activity(out.sparse_text, out.sparse_image);
            let scalar =
                |t: Tensor<B, 1>| -> f64 { t.into_data().iter::<f64>().next().unwrap_or(f64::NAN) };
            let stats = StepStats {
                step: step + 1,
                epoch: epoch + 1,
                loss: scalar(parts.total),
                distill: scalar(parts.distill.detach()),
                reg_text: scalar(parts.reg_text.detach()),
                reg_image: scalar(parts.reg_image.detach()),
                active_text,
                active_image,
                flops,
                lr_scale,
                val_r1: None,
            };
            if !stats.loss.is_finite() {
                return Err(Error::Diverged {
                    step,
                    loss: stats.loss,
                });
            }
            state.step += 1;
            loss_sum += stats.loss;
            observer.on_step(&stats);
            state.log.push(stats);
        }
        state.epoch += 1;

        // Validation and model selection.
        let val_r1 = if config.validate {
            Some(validate(&head, &output, data, config, device)?)
        } else {
            None
        };
        if let Some(last) = state.log.last_mut() {
            last.val_r1 = val_r1;
        }
        let improved = match (val_r1, state.best_val_r1) {
            (Some(v), Some(best)) => v > best,
            (Some(_), None) => true,
            (None, _) => true,
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
        write_epoch(out, &state, &card(state.epoch, val_r1), &head, &optim)?;
        write_log(out, &state.log)?;
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
        let best = epoch_dir(out, state.best_epoch);
        let (best_card, best_head) = load_model::<B::InnerBackend>(&best, &device.clone())?;
        let model = out.join("model");
        let tmp = out.join(".model.tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        save_model(&tmp, &best_card, &best_head)?;
        let _ = std::fs::remove_dir_all(&model);
        std::fs::rename(&tmp, &model).map_err(|e| Error::io(&model, e))?;
        Some(model)
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

/// What one [`train_step`] computed, detached from the graph.
pub struct StepOutput<B: AutodiffBackend> {
    /// The loss parts (values before the update).
    pub parts: LossParts<B>,
    /// The batch's caption vectors (after masking).
    pub sparse_text: Tensor<B, 2>,
    /// The batch's image vectors.
    pub sparse_image: Tensor<B, 2>,
}

/// One D2S optimiser step on a batch of aligned pairs: encode both sides with the shared head,
/// multiply the caption vectors by `mask` (1 = allowed, see `mmlsr_expansion::BatchMask`),
/// compute [`d2s_loss`] with regulariser weights `q_weight`/`d_weight`, back-propagate, and
/// update with both AdamW groups at `lr_scale` times their peak rates.
///
/// # Shapes
/// - `dense_text`, `dense_image`: `[batch, d]`
/// - `mask`: `[batch, columns]`
#[allow(clippy::too_many_arguments)]
pub fn train_step<B: AutodiffBackend>(
    head: SparseHead<B>,
    optim: &mut HeadOptimizer<B>,
    dense_text: Tensor<B, 2>,
    dense_image: Tensor<B, 2>,
    mask: Option<Tensor<B, 2>>,
    loss: &LossConfig,
    q_weight: f64,
    d_weight: f64,
    lr_scale: f64,
) -> (SparseHead<B>, StepOutput<B>) {
    let mut sparse_text = head.forward(dense_text.clone());
    if let Some(m) = mask {
        sparse_text = sparse_text * m;
    }
    let sparse_image = head.forward(dense_image.clone());
    let parts = d2s_loss(
        sparse_text.clone(),
        sparse_image.clone(),
        dense_text,
        dense_image,
        loss,
        q_weight,
        d_weight,
    );
    let total = parts.total.clone();
    let head = optim.step(head, total, lr_scale);
    let out = StepOutput {
        parts: LossParts {
            total: parts.total.detach(),
            distill: parts.distill.detach(),
            reg_text: parts.reg_text.detach(),
            reg_image: parts.reg_image.detach(),
        },
        sparse_text: sparse_text.detach(),
        sparse_image: sparse_image.detach(),
    };
    (head, out)
}

/// Mean active terms per caption and per image, and in-batch FLOPs (eq. 1).
pub(crate) fn activity<B: Backend>(text: Tensor<B, 2>, image: Tensor<B, 2>) -> (f64, f64, f64) {
    let n_t = text.dims()[0] as f64;
    let n_i = image.dims()[0] as f64;
    let at = text.greater_elem(0.0).float().sum_dim(0);
    let ai = image.greater_elem(0.0).float().sum_dim(0);
    let host = |t: Tensor<B, 2>| -> Vec<f64> { t.into_data().iter::<f64>().collect() };
    let (at, ai) = (host(at), host(ai));
    let flops = at.iter().zip(&ai).map(|(a, b)| a * b).sum::<f64>() / (n_t * n_i);
    (
        at.iter().sum::<f64>() / n_t,
        ai.iter().sum::<f64>() / n_i,
        flops,
    )
}

/// Sparse text→image R@1 (×100) on the val split, captions encoded as at test time.
fn validate<B: AutodiffBackend>(
    head: &SparseHead<B>,
    output: &OutputTerms,
    data: &TrainData<'_>,
    config: &TrainConfig,
    device: &B::Device,
) -> Result<f64> {
    use burn::module::AutodiffModule;
    let inner = head.valid();
    let val = &data.val;
    let n_q = config
        .max_val_queries
        .map_or(val.caption_rows.len(), |m| m.min(val.caption_rows.len()));
    if n_q == 0 || val.image_rows.is_empty() {
        return Err(Error::Config(format!(
            "{}: the val split is empty; disable validation to train without one",
            data.dataset.dir().display()
        )));
    }
    let (queries, images) = eval::encode_split(
        &inner,
        output,
        data,
        val,
        n_q,
        config.expansion.variant,
        device,
    )?;
    let scores = eval::sparse_scores(&queries, &images)?;
    let qids: Vec<&str> = val.caption_rows[..n_q]
        .iter()
        .map(|&r| data.dataset.texts.ids().id(r))
        .collect();
    let dids: Vec<&str> = val
        .image_rows
        .iter()
        .map(|&r| data.dataset.images.ids().id(r))
        .collect();
    let mut qrels = Qrels::new();
    for (q, &img) in qids.iter().zip(&val.caption_image) {
        qrels.insert(*q, dids[img], 1);
    }
    let (_, means) = eval::evaluate_scores(&qids, &dids, &scores, &qrels, &[Measure::Recall(1)], 1);
    Ok(means[0] * 100.0)
}

/// Rows of the word vectors for the kept output columns.
fn pruned_rows(wv: &WordVectors, output: &OutputTerms) -> Vec<f32> {
    match &output.kept {
        None => wv.data.clone(),
        Some(kept) => kept
            .iter()
            .flat_map(|&t| wv.row(t as usize).iter().copied())
            .collect(),
    }
}

pub(crate) fn epoch_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join("epochs").join(format!("epoch-{epoch:04}"))
}

/// The epoch of a complete epoch directory's name (`epoch-0007` → 7; temporaries → None).
fn epoch_number(name: &std::ffi::OsStr) -> Option<usize> {
    name.to_str()?.strip_prefix("epoch-")?.parse().ok()
}

/// The most recent complete epoch directory in `out`, if any.
pub(crate) fn latest_epoch_dir(out: &Path) -> Result<Option<PathBuf>> {
    let dir = out.join("epochs");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(None);
    };
    let mut best: Option<(usize, PathBuf)> = None;
    for e in entries {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        let Some(n) = epoch_number(&e.file_name()) else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, e.path()));
        }
    }
    Ok(best.map(|(_, p)| p))
}

/// Write the epoch's checkpoint into a temporary directory, rename it into place, then remove
/// epoch directories that are neither this one nor the best.
fn write_epoch<B: AutodiffBackend>(
    out: &Path,
    state: &RunState,
    card: &ModelCard,
    head: &SparseHead<B>,
    optim: &HeadOptimizer<B>,
) -> Result<()> {
    let final_dir = epoch_dir(out, state.epoch);
    let tmp = out
        .join("epochs")
        .join(format!(".epoch-{:04}.tmp", state.epoch));
    let _ = std::fs::remove_dir_all(&tmp);
    save_model(&tmp, card, head)?;
    let (p, r) = optim.to_bytes()?;
    atomic_write_bytes(&tmp.join(OPTIM_PROJ), &p)?;
    atomic_write_bytes(&tmp.join(OPTIM_REST), &r)?;
    let json = serde_json::to_vec(state).expect("states serialise");
    atomic_write_bytes(&tmp.join(STATE), &json)?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    remove_other_epochs(out, &[state.epoch, state.best_epoch]);
    Ok(())
}

/// Remove complete epoch directories other than `keep`.
pub(crate) fn remove_other_epochs(out: &Path, keep: &[usize]) {
    if let Ok(entries) = std::fs::read_dir(out.join("epochs")) {
        for e in entries.flatten() {
            if let Some(n) = epoch_number(&e.file_name())
                && !keep.contains(&n)
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// The training log as CSV.
fn write_log(out: &Path, log: &[StepStats]) -> Result<()> {
    use std::fmt::Write;
    let mut s = String::from(
        "step,epoch,loss,distill,reg_text,reg_image,active_text,active_image,flops,lr_scale,val_r1\n",
    );
    for r in log {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{}",
            r.step,
            r.epoch,
            r.loss,
            r.distill,
            r.reg_text,
            r.reg_image,
            r.active_text,
            r.active_image,
            r.flops,
            r.lr_scale,
            r.val_r1.map_or(String::new(), |v| v.to_string())
        );
    }
    atomic_write_bytes(&out.join(LOG), s.as_bytes())?;
    Ok(())
}
