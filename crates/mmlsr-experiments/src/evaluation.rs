//! What evaluation shares across commands: where judgements come from (`--data`/`--split`
//! or `--qrels`), measure names, output prefixes, the dense text→image reference, and
//! caption texts by id.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use mmlsr_core::Qrels;
use mmlsr_metrics::Measure;
use mmlsr_store::{Dataset, RestvalPolicy, Split};

/// Where relevance judgements come from (shared by `evaluate` and `compare`).
#[derive(Debug, Args)]
pub struct Judgements {
    /// Data folder whose split gives the judgements (each caption → its image).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Split of `--data`.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// A TREC qrels file instead of `--data`.
    #[arg(long, conflicts_with = "data")]
    pub qrels: Option<PathBuf>,
}

/// `P.json` for `P` and `.json`: an output prefix with its suffix.
pub fn with_suffix(prefix: &Path, suffix: &str) -> PathBuf {
    let mut p = prefix.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// The measure's display name (`MRR@10` for reciprocal rank, as the papers write it).
pub fn measure_name(m: Measure) -> String {
    match m {
        Measure::RR(k) => format!("MRR@{k}"),
        m => m.to_string(),
    }
}

impl Judgements {
    /// Judgements from `--data`/`--split` or `--qrels`.
    pub fn load(&self) -> anyhow::Result<Qrels> {
        load_qrels(self.data.as_deref(), &self.split, self.qrels.as_deref())
    }
}

fn load_qrels(data: Option<&Path>, split: &str, qrels: Option<&Path>) -> anyhow::Result<Qrels> {
    if let Some(p) = qrels {
        return Ok(mmlsr_metrics::read_qrels(p)?);
    }
    let data = data.context("give the judgements: --data DIR (with --split) or --qrels FILE")?;
    let ds =
        Dataset::open(data).with_context(|| format!("opening data folder {}", data.display()))?;
    let split = match split {
        "train" => Split::Train,
        "val" => Split::Val,
        "test" => Split::Test,
        other => anyhow::bail!("unknown split {other:?}, expected train, val or test"),
    };
    let view = ds.split(split, RestvalPolicy::MergeIntoTrain);
    let mut q = Qrels::new();
    for (&c, &i) in view.caption_rows.iter().zip(&view.caption_image) {
        q.insert(
            ds.texts.ids().id(c),
            ds.images.ids().id(view.image_rows[i]),
            1,
        );
    }
    anyhow::ensure!(
        q.n_queries() > 0,
        "{}: the {split:?} split has no captions",
        data.display()
    );
    Ok(q)
}

/// Brute-force dense text→image metrics of a split (every caption against every image).
pub fn dense_text_to_image(
    ds: &mmlsr_store::Dataset,
    split: &mmlsr_store::SplitView,
) -> mmlsr_synth::DenseEval {
    let gather = |table: &mmlsr_store::EmbeddingTable, rows: &[usize]| -> Vec<f32> {
        rows.iter()
            .flat_map(|&r| table.row(r).iter().copied())
            .collect()
    };
    let ids: Vec<&str> = split
        .image_rows
        .iter()
        .map(|&r| ds.images.ids().id(r))
        .collect();
    mmlsr_synth::text_to_image(
        &gather(&ds.images, &split.image_rows),
        &ids,
        &gather(&ds.texts, &split.caption_rows),
        &split.caption_image,
        ds.dim(),
    )
}

/// Every caption's raw text by `sentid`.
pub fn captions_by_id(ds: &mmlsr_store::Dataset) -> std::collections::HashMap<&str, &str> {
    ds.meta
        .images
        .iter()
        .flat_map(|i| {
            i.sentences
                .iter()
                .map(|s| (s.sentid.as_str(), s.raw.as_str()))
        })
        .collect()
}
