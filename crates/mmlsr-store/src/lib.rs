#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod atomic;
mod dataset;
mod embeddings;
mod error;
mod ids;
mod layout;
mod meta;
mod sparse;
mod tensors;
mod vocab;

pub use crate::{
    atomic::{atomic_write, atomic_write_bytes},
    dataset::{Dataset, DatasetFiles, SplitView},
    embeddings::{EmbLayout, EmbeddingTable, EmbeddingWriter, FloatType, IdType, WriteOptions},
    error::{Error, Result},
    ids::IdIndex,
    layout::{FileNames, FolderLayout, LAYOUT_FILE, LayoutConfig},
    meta::{DatasetMeta, MetaImage, MetaSentence, RestvalPolicy, Split},
    sparse::SparseTable,
    tensors::{Linear, Projections, WordVectors, read_tensor_f32, write_tensors_f32},
    vocab::{SPECIAL_TOKENS, TokenCounts, Vocabulary},
};

/// File names of the lsr42 / holi-lab data layout that every command reads.
pub mod files {
    /// Karpathy-format metadata: images, splits, captions.
    pub const META: &str = "dataset_meta.json";
    /// Dense image embeddings (after projection; 256-d for BLIP/ALBEF).
    pub const IMG_EMBS: &str = "img_embs.parquet";
    /// Dense caption embeddings (after projection).
    pub const TEXT_EMBS: &str = "text_embs.parquet";
    /// Image features before the last projection layer (768-d), for joint training.
    pub const IMG_EMBS_BEFORE_PROJ: &str = "img_embs_before_proj.parquet";
    /// Caption features before the last projection layer (768-d), for joint training.
    pub const TEXT_EMBS_BEFORE_PROJ: &str = "text_embs_before_proj.parquet";
    /// The two last projection layers (`text_proj`, `vision_proj`) as safetensors.
    pub const PROJECTIONS: &str = "projections.safetensors";
    /// A static vector per vocabulary entry (`word_vectors`, shape `[|V|, d]`).
    pub const WORD_VECTORS: &str = "word_vectors.safetensors";
    /// WordPiece vocabulary, one token per line.
    pub const VOCAB: &str = "vocab.txt";
    /// Hugging Face tokenizers file.
    pub const TOKENIZER: &str = "tokenizer.json";
}
