//! `mmlsr encode`: dense vectors of a data folder → sparse vectors in Parquet.

use std::path::PathBuf;

use clap::Args;
use mmlsr_model::BackendKind;

use crate::pipelines::encode::{EncodeJob, EncodeRows, encode};

/// Encode the captions and images of one split (or all rows) with a trained head and write
/// `text_sparse.parquet` and `img_sparse.parquet` (columns `id`, `indices` list<uint32>,
/// `values` list<float32>; the vocabulary size in the schema metadata). Captions of an `exp=0`
/// model keep only their own terms, as at test time. A joint model (`mmlsr train --method
/// joint`) encodes the folder's pre-projection features through its fine-tuned projections.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// A model directory (`model/` inside a training output).
    pub model: PathBuf,
    /// The data folder.
    pub data: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Which split to encode (train, val, test) or `all` rows of the tables.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Keep only the k largest weights of each vector.
    #[arg(long, value_parser = crate::values::positive)]
    pub top_k: Option<usize>,
    /// Keep weights strictly above this (finite; a threshold that empties every image
    /// vector is refused).
    #[arg(long, default_value_t = 0.0, value_parser = crate::values::finite)]
    pub threshold: f32,
    /// Burn backend.
    #[arg(long, default_value = "flex")]
    pub backend: BackendKind,
}

pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let rows: EncodeRows = args.split.parse()?;
    let summary = encode(&EncodeJob {
        model: &args.model,
        data: &args.data,
        out: &args.out,
        rows,
        top_k: args.top_k,
        threshold: args.threshold,
        backend: args.backend,
    })?;
    for (path, n, mean) in summary {
        println!(
            "{}: {n} vectors, {mean:.1} active terms on average",
            path.display()
        );
    }
    Ok(())
}
