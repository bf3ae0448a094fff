//! What evaluation shares across commands: where judgements come from (`--data`/`--split`
//! or `--qrels`), measure names, output prefixes, the dense text→image reference, and
//! caption texts by id.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use mmlsr_core::Qrels;
use mmlsr_index::DenseFlat;
use mmlsr_metrics::{Measure, Run, evaluate};
use mmlsr_store::{Dataset, RestvalPolicy, Split, SplitView};
use serde::{Deserialize, Serialize};

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
    let q = ds.qrels(&view);
    anyhow::ensure!(
        q.n_queries() > 0,
        "{}: the {split:?} split has no captions",
        data.display()
    );
    Ok(q)
}

/// The four measures of the dense and sparse test numbers (R@1, R@5, R@10, MRR@10).
pub const TEST_MEASURES: [Measure; 4] = [
    Measure::Recall(1),
    Measure::Recall(5),
    Measure::Recall(10),
    Measure::RR(10),
];

/// Dense text→image numbers on a split (×100), for comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseNumbers {
    /// R@1.
    pub r1: f64,
    /// R@5.
    pub r5: f64,
    /// R@10.
    pub r10: f64,
    /// MRR@10.
    pub mrr10: f64,
}

impl DenseNumbers {
    /// The dense backbone's numbers on `split`: [`dense_run`] evaluated by `mmlsr-metrics`,
    /// the path every table's dense row takes.
    pub fn of(ds: &Dataset, split: &SplitView) -> anyhow::Result<Self> {
        Ok(Self::from_run(&dense_run(ds, split)?, &ds.qrels(split)))
    }

    /// The numbers of a dense top-10 run.
    pub fn from_run(run: &Run, qrels: &Qrels) -> Self {
        let m = evaluate(run, qrels, &TEST_MEASURES).aggregate();
        Self {
            r1: m[0] * 100.0,
            r5: m[1] * 100.0,
            r10: m[2] * 100.0,
            mrr10: m[3] * 100.0,
        }
    }
}

/// The dense backbone's top-10 text→image run on `split`: every caption against every image
/// by exhaustive inner product (`mmlsr_index::DenseFlat`), in trec_eval order.
pub fn dense_run(ds: &Dataset, split: &SplitView) -> anyhow::Result<Run> {
    use rayon::prelude::*;
    let image_ids: Vec<&str> = split
        .image_rows
        .iter()
        .map(|&r| ds.images().ids().id(r))
        .collect();
    let query_ids: Vec<&str> = split
        .caption_rows
        .iter()
        .map(|&r| ds.texts().ids().id(r))
        .collect();
    let data: Vec<f32> = split
        .image_rows
        .iter()
        .flat_map(|&r| ds.images().row(r).iter().copied())
        .collect();
    let flat = DenseFlat::new(ds.dim(), data)?;
    let lists: Vec<Vec<mmlsr_index::Hit>> = split
        .caption_rows
        .par_iter()
        .map(|&r| flat.search(ds.texts().row(r), 10))
        .collect::<Result<_, _>>()?;
    Ok(Run::from_ranked_lists(&query_ids, &image_ids, &lists)?)
}

/// Every caption's raw text by `sentid`.
pub fn captions_by_id(ds: &mmlsr_store::Dataset) -> std::collections::HashMap<&str, &str> {
    ds.meta()
        .images
        .iter()
        .flat_map(|i| {
            i.sentences
                .iter()
                .map(|s| (s.sentid.as_str(), s.raw.as_str()))
        })
        .collect()
}
