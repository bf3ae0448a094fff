//! Encoding a data folder with a trained head: dense vectors (or a joint model's
//! pre-projection features) → sparse vectors in Parquet, with the folder sealed by a manifest.

use std::{collections::HashMap, path::Path};

use anyhow::Context;
use mmlsr_expansion::Variant;
use mmlsr_model::{
    BackendKind, EncodeOptions,
    host::{self, SparseEncoder},
};
use mmlsr_store::{Dataset, EmbeddingTable, IdIndex, SparseTable, Split, Vocabulary};

/// Which rows of a data folder to encode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodeRows {
    /// One split's captions and images (restval merged into train).
    Split(Split),
    /// Every row of both tables.
    All,
}

impl std::str::FromStr for EncodeRows {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "train" => EncodeRows::Split(Split::Train),
            "val" => EncodeRows::Split(Split::Val),
            "test" => EncodeRows::Split(Split::Test),
            "all" => EncodeRows::All,
            other => anyhow::bail!("unknown split {other:?}, expected train, val, test or all"),
        })
    }
}

impl std::fmt::Display for EncodeRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EncodeRows::Split(Split::Train) => "train",
            EncodeRows::Split(Split::Val) => "val",
            EncodeRows::Split(Split::Test) => "test",
            EncodeRows::Split(Split::Restval) => "restval",
            EncodeRows::All => "all",
        })
    }
}

/// One encoding: a model directory applied to some rows of a data folder.
pub struct EncodeJob<'a> {
    /// A model directory (`model/` inside a training output).
    pub model: &'a Path,
    /// The data folder.
    pub data: &'a Path,
    /// Output folder (`text_sparse.parquet`, `img_sparse.parquet`, the manifest).
    pub out: &'a Path,
    pub rows: EncodeRows,
    /// Keep only the k largest weights of each vector.
    pub top_k: Option<usize>,
    /// Keep weights strictly above this.
    pub threshold: f32,
    pub backend: BackendKind,
}

/// What an encoding wrote: (file, vectors, mean active terms) per file.
pub type EncodeSummary = Vec<(std::path::PathBuf, usize, f64)>;

/// Encode `job.rows` of `job.data` with `job.model` and write `text_sparse.parquet` and
/// `img_sparse.parquet` into `job.out`. Captions of an `exp=0` model keep only their own terms,
/// as at test time; a joint model encodes the folder's pre-projection features through its
/// fine-tuned projections.
pub fn encode(job: &EncodeJob<'_>) -> anyhow::Result<EncodeSummary> {
    let joint = host::is_joint_model(job.model);
    let files = if joint {
        mmlsr_store::DatasetFiles::BEFORE_PROJ
    } else {
        mmlsr_store::DatasetFiles::PROJECTED
    };
    let ds = Dataset::open_with(job.data, files)
        .with_context(|| format!("opening data folder {}", job.data.display()))?;
    let vocab = Vocabulary::from_dir(job.data)?;
    let (text_rows, image_rows): (Vec<usize>, Vec<usize>) = match job.rows {
        EncodeRows::All => (
            (0..ds.texts().len()).collect(),
            (0..ds.images().len()).collect(),
        ),
        EncodeRows::Split(split) => {
            let v = ds.split(split, mmlsr_store::RestvalPolicy::MergeIntoTrain);
            (v.caption_rows, v.image_rows)
        }
    };
    let opts = EncodeOptions {
        top_k: job.top_k,
        threshold: job.threshold,
        ..Default::default()
    };
    let gather = |t: &EmbeddingTable, rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .flat_map(|&r| t.row(r).iter().copied())
            .collect()
    };
    let mut text_by_id = HashMap::new();
    for img in &ds.meta().images {
        for s in &img.sentences {
            text_by_id.insert(s.sentid.as_str(), s.raw.as_str());
        }
    }
    let model = SparseEncoder::open(job.model, job.backend)?;
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
            job.data.display(),
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
        job.data.display(),
        job.rows,
        image_rows.len(),
        text_rows.len()
    );
    let texts = model.encode_texts(&gather(ds.texts(), &text_rows), restrict, &opts)?;
    let images = model.encode_images(&gather(ds.images(), &image_rows), &opts)?;
    for (what, m) in [("image", &images), ("caption", &texts)] {
        anyhow::ensure!(
            m.nnz() > 0,
            "threshold {} leaves every {what} vector empty (no weight is above it); lower it",
            job.threshold
        );
    }
    std::fs::create_dir_all(job.out).with_context(|| format!("creating {}", job.out.display()))?;
    crate::integrity::unseal(job.out)?;
    let ids = |t: &EmbeddingTable, rows: &[usize]| {
        IdIndex::from_ids(rows.iter().map(|&r| t.ids().id(r))).expect("ids are unique")
    };
    let mut summary = Vec::new();
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
        let path = job.out.join(name);
        table.write_parquet(&path)?;
        let n = table.matrix.n_rows();
        summary.push((path, n, table.matrix.nnz() as f64 / n.max(1) as f64));
    }
    crate::integrity::seal(job.out)?;
    Ok(summary)
}
