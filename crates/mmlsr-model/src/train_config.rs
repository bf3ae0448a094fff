//! Everything that defines a D2S training run ([`TrainConfig`]), saved with every checkpoint
//! and model card.

use mmlsr_expansion::{DrawLevel, ExpansionConfig, Schedule, Variant, WordControl};
use serde::{Deserialize, Serialize};

use crate::{Error, LossConfig, OptimConfig, Result, trainer::LoopSettings};

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
    /// Hidden size of the head (768; `mmlsr train` uses the data folder's word-vector width
    /// when its configuration leaves this unset).
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
    pub(crate) fn loop_settings(&self) -> LoopSettings {
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
