#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod card;
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
    encoder::{BackboneKind, BackboneProfile, EMBED_DIM, FEATURE_DIM, LATENT_DIM, MeaningNoise},
    error::{Error, Result},
    eval::{DenseEval, text_to_image},
    generate::{
        CAPTIONS_PER_IMAGE, DatasetKind, FolderReport, Progress, Scale, SplitSizes, SynthConfig,
        WORD_VECTOR_DIM, generate,
    },
    lexicon::{FUNCTION_WORDS, Lexicon},
    sparse_gen::ZipfTerms,
};
