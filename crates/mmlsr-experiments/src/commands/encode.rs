//! `mmlsr encode`: dense vectors of a data folder → sparse vectors in Parquet.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use mmlsr_expansion::Variant;
use mmlsr_model::{
    BackendKind, EncodeOptions,
    host::{self, SparseEncoder},
};
use mmlsr_store::{Dataset, IdIndex, SparseTable, Split, Vocabulary};

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
    let joint = host::is_joint_model(&args.model);
    let files = if joint {
        mmlsr_store::DatasetFiles::BEFORE_PROJ
    } else {
        mmlsr_store::DatasetFiles::PROJECTED
    };
    let ds = Dataset::open_with(&args.data, files)
        .with_context(|| format!("opening data folder {}", args.data.display()))?;
    let vocab = Vocabulary::from_dir(&args.data)?;
    let (text_rows, image_rows): (Vec<usize>, Vec<usize>) = match args.split.as_str() {
        "all" => (
            (0..ds.texts().len()).collect(),
            (0..ds.images().len()).collect(),
        ),
        s => {
            let split = match s {
                "train" => Split::Train,
                "val" => Split::Val,
                "test" => Split::Test,
                other => anyhow::bail!("unknown split {other:?}, expected train, val, test or all"),
            };
            let v = ds.split(split, mmlsr_store::RestvalPolicy::MergeIntoTrain);
            (v.caption_rows, v.image_rows)
        }
    };
    let opts = EncodeOptions {
        top_k: args.top_k,
        threshold: args.threshold,
        ..Default::default()
    };
    let gather = |t: &mmlsr_store::EmbeddingTable, rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .flat_map(|&r| t.row(r).iter().copied())
            .collect()
    };
    let mut text_by_id = std::collections::HashMap::new();
    for img in &ds.meta().images {
        for s in &img.sentences {
            text_by_id.insert(s.sentid.as_str(), s.raw.as_str());
        }
    }
    let model = SparseEncoder::open(&args.model, args.backend)?;
    let card = model.card();
    if card.output().vocab_size != vocab.len() || card.input_dim() != ds.dim() {
        let inputs = if joint {
            "pre-projection features"
        } else {
            "embeddings"
        };
        anyhow::bail!(
            "the model expects {}-d {inputs} over a {}-term vocabulary; {} has {}-d {inputs} \
             and {} terms",
            card.input_dim(),
            card.output().vocab_size,
            args.data.display(),
            ds.dim(),
            vocab.len()
        );
    }
    // An exp=0 head keeps each caption's own terms only (joint models: never restricted).
    let own: Vec<Vec<u32>> = if card.variant() == Variant::None {
        text_rows
            .iter()
            .map(|&r| {
                let id = ds.texts().ids().id(r);
                text_by_id
                    .get(id)
                    .map_or(Ok(Vec::new()), |t| vocab.term_ids(t))
            })
            .collect::<Result<_, _>>()?
    } else {
        Vec::new()
    };
    let own_refs: Vec<&[u32]> = own.iter().map(Vec::as_slice).collect();
    let restrict = (card.variant() == Variant::None).then_some(own_refs.as_slice());
    anyhow::ensure!(
        !image_rows.is_empty() && !text_rows.is_empty(),
        "{}: the {} split has {} images and {} captions; there is nothing to encode",
        args.data.display(),
        args.split,
        image_rows.len(),
        text_rows.len()
    );
    let texts = model.encode_texts(&gather(ds.texts(), &text_rows), restrict, &opts)?;
    let images = model.encode_images(&gather(ds.images(), &image_rows), &opts)?;
    for (what, m) in [("image", &images), ("caption", &texts)] {
        anyhow::ensure!(
            m.nnz() > 0,
            "--threshold {} leaves every {what} vector empty (no weight is above it); lower it",
            args.threshold
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    crate::integrity::unseal(&args.out)?;
    let ids = |t: &mmlsr_store::EmbeddingTable, rows: &[usize]| {
        IdIndex::from_ids(rows.iter().map(|&r| t.ids().id(r))).expect("ids are unique")
    };
    for (name, table) in [
        (
            "text_sparse.parquet",
            SparseTable::new(ids(ds.texts(), &text_rows), texts)?,
        ),
        (
            "img_sparse.parquet",
            SparseTable::new(ids(ds.images(), &image_rows), images)?,
        ),
    ] {
        let path = args.out.join(name);
        table.write_parquet(&path)?;
        println!(
            "{}: {} vectors, {:.1} active terms on average",
            path.display(),
            table.matrix.n_rows(),
            table.matrix.nnz() as f64 / table.matrix.n_rows().max(1) as f64
        );
    }
    crate::integrity::seal(&args.out)
}
