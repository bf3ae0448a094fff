#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod calibration;
mod card;
mod config;
mod contrastive;
mod encoder;
mod error;
mod eval;
mod generate;
mod lexicon;
mod linalg;
mod rng;
mod scene;
mod sparse_gen;

pub use crate::{
    calibration::{
        Band, CalibrationBands, CaptionStats, DF_RANKS, REAL_FLICKR8K_TEST, REAL_FLICKR30K_TEST,
        STOP_WORDS, read_caption_lines, read_flickr8k, tokenize,
    },
    config::{
        CAPTIONS_PER_IMAGE, DatasetKind, FolderReport, Progress, Scale, SplitSizes, SynthConfig,
        WORD_VECTOR_DIM,
    },
    contrastive::{ContrastiveConfig, ContrastiveReport},
    encoder::{BackboneKind, BackboneProfile, EMBED_DIM, FEATURE_DIM, LATENT_DIM, MeaningNoise},
    error::{Error, Result},
    eval::{DenseEval, text_to_image},
    generate::{generate, test_captions},
    lexicon::{FUNCTION_WORDS, Lexicon},
    sparse_gen::ZipfTerms,
};
