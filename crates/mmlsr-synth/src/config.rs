//! What a generation run is asked for (scale, seed, data sets, backbones, vocabulary,
//! pretraining), what it reports back, and its progress events.

use std::path::PathBuf;

use mmlsr_store::Split;

use crate::{
    CaptionStats, DenseEval,
    contrastive::ContrastiveConfig,
    encoder::{BackboneKind, MeaningNoise},
};

/// Captions per image (as in MSCOCO and Flickr30k).
pub const CAPTIONS_PER_IMAGE: usize = 5;
/// Dimension of the static word vectors (BERT's 768).
pub const WORD_VECTOR_DIM: usize = 768;

/// Generation size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// Small training splits (the default; the Table-2 reproduction runs on it), full-size
    /// test splits.
    #[default]
    Small,
    /// Karpathy sizes (synth-coco: 113,287 / 5,000 / 5,000 images).
    Full,
    /// A few hundred images per data set, for end-to-end tests (seconds to generate and
    /// train on; too small for meaningful numbers).
    Tiny,
}

impl Scale {
    /// Default size of the pretraining split: larger than every training split of the scale,
    /// so the frozen projections sit near a contrastive optimum of the data's distribution,
    /// as a real pretrained model's do.
    pub fn pretrain_images(self) -> usize {
        match self {
            Scale::Tiny => 1_000,
            Scale::Small => 12_000,
            Scale::Full => 40_000,
        }
    }
}

/// Images per split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitSizes {
    /// `train` images.
    pub train: usize,
    /// `restval` images (MSCOCO only; merged into training by default).
    pub restval: usize,
    /// `val` images.
    pub val: usize,
    /// `test` images.
    pub test: usize,
}

impl SplitSizes {
    /// All images.
    pub fn total(&self) -> usize {
        self.train + self.restval + self.val + self.test
    }

    pub(crate) fn split_of(&self, i: usize) -> Split {
        if i < self.train {
            Split::Train
        } else if i < self.train + self.restval {
            Split::Restval
        } else if i < self.train + self.restval + self.val {
            Split::Val
        } else {
            Split::Test
        }
    }
}

/// Which synthetic data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    /// MSCOCO-shaped: 5,000 test images.
    Coco,
    /// Flickr30k-shaped: 1,000 test images.
    Flickr,
}

impl DatasetKind {
    /// Folder prefix (`synth-coco`, `synth-flickr`).
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Coco => "synth-coco",
            DatasetKind::Flickr => "synth-flickr",
        }
    }

    /// Split sizes at a scale.
    pub fn sizes(self, scale: Scale) -> SplitSizes {
        match (self, scale) {
            (DatasetKind::Coco, Scale::Small) => SplitSizes {
                train: 6_000,
                restval: 2_000,
                val: 1_000,
                test: 5_000,
            },
            (DatasetKind::Coco, Scale::Full) => SplitSizes {
                train: 82_783,
                restval: 30_504,
                val: 5_000,
                test: 5_000,
            },
            (DatasetKind::Flickr, Scale::Small) => SplitSizes {
                train: 4_000,
                restval: 0,
                val: 500,
                test: 1_000,
            },
            (DatasetKind::Coco, Scale::Tiny) => SplitSizes {
                train: 600,
                restval: 200,
                val: 100,
                test: 200,
            },
            (DatasetKind::Flickr, Scale::Tiny) => SplitSizes {
                train: 600,
                restval: 0,
                val: 100,
                test: 200,
            },
            (DatasetKind::Flickr, Scale::Full) => SplitSizes {
                train: 29_000,
                restval: 0,
                val: 1_014,
                test: 1_000,
            },
        }
    }
}

/// Everything that determines the generated data.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Size.
    pub scale: Scale,
    /// Master seed.
    pub seed: u64,
    /// A `vocab.txt` or `tokenizer.json` to use instead of the built-in small vocabulary
    /// (e.g. BERT's, so the data lives in the real 30,522-term space).
    pub vocab: Option<PathBuf>,
    /// Data sets to write.
    pub datasets: Vec<DatasetKind>,
    /// Backbones to write.
    pub backbones: Vec<BackboneKind>,
    /// Irreducible noise of images and captions.
    pub noise: MeaningNoise,
    /// Images of the pretraining split (drawn like the data set's, never written and never
    /// part of train/val/test) that the "pretrained" projections are trained on; `None`: by
    /// scale ([`Scale::pretrain_images`]).
    pub pretrain_images: Option<usize>,
    /// Ridge strength of the projections' warm start (relative to the mean feature variance).
    pub ridge_alpha: f64,
    /// Contrastive pretraining of the projections.
    pub contrastive: ContrastiveConfig,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            scale: Scale::Small,
            seed: 42,
            vocab: None,
            datasets: vec![DatasetKind::Coco, DatasetKind::Flickr],
            backbones: vec![BackboneKind::Strong, BackboneKind::Weak],
            noise: MeaningNoise::default(),
            pretrain_images: None,
            ridge_alpha: 0.05,
            contrastive: ContrastiveConfig::default(),
        }
    }
}

/// Progress of a generation run, for a progress bar.
#[derive(Debug, Clone)]
pub enum Progress {
    /// A stage starts: `total` units of work follow as [`Progress::Advance`].
    Stage {
        /// Folder (or data set) being written.
        folder: String,
        /// What is happening.
        stage: &'static str,
        /// Units of work in the stage.
        total: u64,
    },
    /// Units of work done.
    Advance(u64),
}

/// What one folder holds, as written to its dataset card.
#[derive(Debug, Clone)]
pub struct FolderReport {
    /// Folder name, e.g. `synth-coco-strong`.
    pub name: String,
    /// Its path.
    pub dir: PathBuf,
    /// Images per split.
    pub sizes: SplitSizes,
    /// Number of captions.
    pub captions: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Mean caption length in words.
    pub mean_caption_words: f64,
    /// Caption statistics of the first 1,000 test images (the calibration statistics).
    pub caption_stats: CaptionStats,
    /// Dense text→image effectiveness on the test split.
    pub dense: DenseEval,
    /// Seconds spent on this folder (its backbone's part).
    pub seconds: f64,
}
