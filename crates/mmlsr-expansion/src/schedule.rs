//! Expansion-control settings and the probability schedules (D2S section 3.3, Algorithm 1,
//! eq. 6; Nguyen et al., ECIR 2024).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::{BatchMask, Error, Result, RowMask};

/// The four expansion variants of D2S Table 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Variant {
    /// `exp=0`: caption vectors keep only the caption's own terms, always.
    #[serde(rename = "exp=0")]
    None,
    /// `exp=1`: no restriction.
    #[serde(rename = "exp=1")]
    Always,
    /// `exp=c`: caption-level control; with probability `1 − p_c` a caption is restricted to
    /// its own terms.
    #[serde(rename = "exp=c")]
    Caption,
    /// `exp=c+w`: caption-level control, and where expansion is allowed, word-level control
    /// over which terms may expand (see [`WordControl`]).
    #[serde(rename = "exp=c+w")]
    CaptionWord,
}

impl Variant {
    /// The paper's label (`exp=0`, `exp=1`, `exp=c`, `exp=c+w`).
    pub fn label(self) -> &'static str {
        match self {
            Variant::None => "exp=0",
            Variant::Always => "exp=1",
            Variant::Caption => "exp=c",
            Variant::CaptionWord => "exp=c+w",
        }
    }
}

impl std::str::FromStr for Variant {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim_start_matches("exp=") {
            "0" => Ok(Variant::None),
            "1" => Ok(Variant::Always),
            "c" => Ok(Variant::Caption),
            "c+w" | "cw" => Ok(Variant::CaptionWord),
            _ => Err(Error::Config(format!(
                "unknown variant {s:?}, expected exp=0, exp=1, exp=c or exp=c+w"
            ))),
        }
    }
}

/// How `p_c` (the probability that a caption may expand) moves over the epochs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    /// The paper's eq. (6): `p_c` rises by equal steps from `p_c0` after each epoch, and each
    /// `p_k` from `1 − df_k` by steps proportional to `df_k`. The paper's step is `1/#epochs`;
    /// mmlsr spreads the rise over the `E − 1` epoch transitions so that the last epoch trains
    /// with every probability at exactly 1: `p(e) = p(0) + (1 − p(0)) · e / (E − 1)`.
    #[default]
    Paper,
    /// The released code (thongnt99/lsr-multimodal): the restriction probability falls
    /// linearly from 1 to 0 over 95 % of the training, i.e. `p_c(e) = min(1, e / (0.95 (E − 1)))`
    /// (ends at 1 by the last epoch). Word-level probabilities, which the released code does
    /// not have, follow the paper's schedule.
    ReleasedLinear,
}

/// Whether a Bernoulli draw is shared by the whole batch or made for each caption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawLevel {
    /// One draw per batch (the released code's caption-level control).
    #[default]
    PerBatch,
    /// One draw per caption.
    PerCaption,
}

/// What the word-level draws `e_k ~ Ber(p_k)` govern under `exp=c+w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WordControl {
    /// The paper's text: word-level control decides which *expansion* terms (terms not in the
    /// caption) may be active; the caption's own terms are always kept. Frequent terms (small
    /// `p_k = 1 − df_k`) are held back from expansion early in training.
    #[default]
    ExpansionTerms,
    /// Algorithm 1 read literally: its else-branch multiplies the caption's *own* terms by
    /// `e_k` (own terms can be dropped) and leaves expansion terms unrestricted.
    LiteralAlgorithm1,
}

/// Settings of expansion control. Every draw is a function of `(seed, epoch, batch)`, so a
/// resumed run draws the same masks as an uninterrupted one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpansionConfig {
    /// Which Table-2 variant.
    pub variant: Variant,
    /// How `p_c` evolves.
    pub schedule: Schedule,
    /// Per batch (released) or per caption.
    pub draw: DrawLevel,
    /// What word-level control governs.
    pub word_control: WordControl,
    /// `p_c` in the first epoch (paper schedule). Range [0, 1]; default 0 (no expansion at
    /// first, as in the released ramp).
    pub initial_caption_probability: f64,
    /// Number of training epochs `E` (≥ 1).
    pub epochs: usize,
    /// Seed of every draw.
    pub seed: u64,
}

impl Default for ExpansionConfig {
    fn default() -> Self {
        Self {
            variant: Variant::CaptionWord,
            schedule: Schedule::Paper,
            draw: DrawLevel::PerBatch,
            word_control: WordControl::ExpansionTerms,
            initial_caption_probability: 0.0,
            epochs: 20,
            seed: 42,
        }
    }
}

/// Expansion control for one training run: probabilities per epoch and masks per batch.
#[derive(Debug, Clone)]
pub struct Scheduler {
    config: ExpansionConfig,
    df: Vec<f64>,
}

impl Scheduler {
    /// A scheduler over a vocabulary whose normalised document frequencies over the training
    /// captions are `df` (`df_k ∈ [0, 1]`, one per vocabulary entry).
    pub fn new(config: ExpansionConfig, df: &[f32]) -> Result<Self> {
        if config.epochs == 0 {
            return Err(Error::Config("epochs must be at least 1".into()));
        }
        let p0 = config.initial_caption_probability;
        if !(0.0..=1.0).contains(&p0) {
            return Err(Error::Config(format!(
                "initial caption probability {p0} is not in [0, 1]"
            )));
        }
        if let Some(k) = df.iter().position(|d| !(0.0..=1.0).contains(d)) {
            return Err(Error::Config(format!(
                "df of term {k} is {}, expected a value in [0, 1]",
                df[k]
            )));
        }
        Ok(Self {
            config,
            df: df.iter().map(|&d| d as f64).collect(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &ExpansionConfig {
        &self.config
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.df.len()
    }

    /// Fraction of the paper schedule's rise completed at `epoch` (0 in the first epoch, 1 in
    /// the last).
    fn progress(&self, epoch: usize) -> f64 {
        let e = self.config.epochs;
        if e <= 1 {
            1.0
        } else {
            (epoch as f64 / (e - 1) as f64).min(1.0)
        }
    }

    /// `p_c` at `epoch` (0-based): the probability that a caption may expand.
    pub fn caption_probability(&self, epoch: usize) -> f64 {
        match self.config.variant {
            Variant::None => return 0.0,
            Variant::Always => return 1.0,
            _ => {}
        }
        match self.config.schedule {
            Schedule::Paper => {
                let p0 = self.config.initial_caption_probability;
                (p0 + (1.0 - p0) * self.progress(epoch)).min(1.0)
            }
            Schedule::ReleasedLinear => {
                let e = self.config.epochs;
                if e <= 1 {
                    1.0
                } else {
                    (epoch as f64 / (0.95 * (e - 1) as f64)).min(1.0)
                }
            }
        }
    }

    /// `p_k` at `epoch`: starts at `1 − df_k`, reaches 1 in the last epoch (eq. 6).
    pub fn word_probability(&self, term: usize, epoch: usize) -> f64 {
        let df = self.df[term];
        ((1.0 - df) + df * self.progress(epoch)).min(1.0)
    }

    /// Draw the masks of one batch of captions, given each caption's own terms (strictly
    /// increasing vocabulary ids, e.g. rows of `mmlsr_core::TermSets`).
    pub fn batch_mask<T: AsRef<[u32]>>(
        &self,
        epoch: usize,
        batch: u64,
        own_terms: &[T],
    ) -> Result<BatchMask> {
        let v = self.df.len();
        for (row, t) in own_terms.iter().enumerate() {
            if let Some(&term) = t.as_ref().iter().find(|&&t| t as usize >= v) {
                return Err(Error::TermOutOfRange {
                    row,
                    term,
                    vocab_size: v,
                });
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed);
        rng.set_stream(((epoch as u64) << 40) ^ batch);
        let n = own_terms.len();
        let own = || {
            own_terms
                .iter()
                .map(|t| t.as_ref().to_vec())
                .collect::<Vec<_>>()
        };
        let rows: Vec<RowMask> = match self.config.variant {
            Variant::None => vec![RowMask::OwnOnly; n],
            Variant::Always => vec![RowMask::All; n],
            Variant::Caption | Variant::CaptionWord => {
                let p_c = self.caption_probability(epoch);
                let allow: Vec<bool> = match self.config.draw {
                    DrawLevel::PerBatch => vec![rng.random::<f64>() < p_c; n],
                    DrawLevel::PerCaption => (0..n).map(|_| rng.random::<f64>() < p_c).collect(),
                };
                let expanded: fn(usize) -> RowMask = if self.config.variant == Variant::Caption {
                    |_| RowMask::All
                } else {
                    match self.config.word_control {
                        WordControl::ExpansionTerms => RowMask::OwnPlusDrawn,
                        WordControl::LiteralAlgorithm1 => RowMask::DrawnOwnPlusAll,
                    }
                };
                let draw_of_row = |r: usize| match self.config.draw {
                    DrawLevel::PerBatch => 0,
                    DrawLevel::PerCaption => r,
                };
                allow
                    .iter()
                    .enumerate()
                    .map(|(r, &a)| {
                        if a {
                            expanded(draw_of_row(r))
                        } else {
                            RowMask::OwnOnly
                        }
                    })
                    .collect()
            }
        };
        // Word-level draws: one |V| vector for the batch, or one per caption.
        let needs_words = rows
            .iter()
            .any(|r| matches!(r, RowMask::OwnPlusDrawn(_) | RowMask::DrawnOwnPlusAll(_)));
        let word_draws = if needs_words {
            let count = match self.config.draw {
                DrawLevel::PerBatch => 1,
                DrawLevel::PerCaption => n,
            };
            (0..count)
                .map(|_| {
                    (0..v)
                        .map(|k| rng.random::<f64>() < self.word_probability(k, epoch))
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(BatchMask::new(v, rows, own(), word_draws))
    }
}
