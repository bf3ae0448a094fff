//! What evaluation shares across commands: where judgements come from (`--data`/`--split`
//! or `--qrels`), measure names, output prefixes, the dense text→image reference, and
//! caption texts by id.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use mmlsr_core::Qrels;
use mmlsr_index::DenseFlat;
use mmlsr_metrics::{Evaluation, Measure, Run, evaluate, evaluate_complete};
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
    /// Average over the judged queries the run has results for (trec_eval's default) instead
    /// of over every judged query with missing ones scoring 0 (trec_eval -c, the default).
    #[arg(long)]
    pub judged_only: bool,
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
    /// Where the judgements come from, for a per-query file's `dataset` column: the data
    /// folder's name (with the split unless it is `test`), else the qrels file.
    pub fn source(&self) -> String {
        match (&self.data, &self.qrels) {
            (Some(d), _) => {
                let name = d
                    .file_name()
                    .map_or_else(|| d.display().to_string(), |n| n.to_string_lossy().into());
                if self.split == "test" {
                    name
                } else {
                    format!("{name}:{}", self.split)
                }
            }
            (None, Some(q)) => q.display().to_string(),
            (None, None) => String::new(),
        }
    }

    /// Judgements from `--data`/`--split` or `--qrels`, with a warning on stderr for pairs a
    /// qrels file judges twice with different grades and for queries with no relevant
    /// document.
    pub fn load(&self) -> anyhow::Result<Qrels> {
        let qrels = load_qrels(self.data.as_deref(), &self.split, self.qrels.as_deref())?;
        let unanswerable: Vec<&str> = qrels
            .iter()
            .filter(|(_, docs)| docs.values().all(|&g| g < 1))
            .map(|(q, _)| q)
            .collect();
        if let Some(first) = unanswerable.first() {
            eprintln!(
                "warning: {} of the {} judged queries have no relevant document (grade ≥ 1), \
                 e.g. {first}; they score 0 on every measure",
                unanswerable.len(),
                qrels.n_queries()
            );
        }
        Ok(qrels)
    }

    /// Evaluate `run` (read from `path`) on `measures`: over every judged query, missing ones
    /// scoring 0, or with `--judged-only` over those the run answers. Says on stderr how many
    /// judged queries the run misses and how many of its queries are not judged (a run over
    /// another split); refuses a run none of whose queries is judged.
    pub fn evaluate(
        &self,
        run: &Run,
        path: &Path,
        qrels: &Qrels,
        measures: &[Measure],
    ) -> anyhow::Result<Evaluation> {
        let answered = run.query_ids().filter(|q| qrels.get(q).is_some()).count();
        anyhow::ensure!(
            answered > 0,
            "{}: none of its {} queries is judged",
            path.display(),
            run.len()
        );
        let unjudged = run.len() - answered;
        if unjudged > 0 {
            eprintln!(
                "warning: {}: {unjudged} of its {} queries are not judged here (a run over \
                 another split or data set?); they are left out",
                path.display(),
                run.len()
            );
        }
        let e = if self.judged_only {
            evaluate(run, qrels, measures)
        } else {
            evaluate_complete(run, qrels, measures)
        };
        if e.queries_without_results > 0 {
            eprintln!(
                "{}: {} of the {} judged queries have no results: {}",
                path.display(),
                e.queries_without_results,
                qrels.n_queries(),
                if self.judged_only {
                    "left out (--judged-only)"
                } else {
                    "counted as 0 (--judged-only leaves them out)"
                }
            );
        }
        Ok(e)
    }
}

fn load_qrels(data: Option<&Path>, split: &str, qrels: Option<&Path>) -> anyhow::Result<Qrels> {
    if let Some(p) = qrels {
        let (q, conflicts) = mmlsr_metrics::read_qrels_reporting(p)?;
        for c in conflicts.iter().take(3) {
            eprintln!(
                "warning: {}:{}: query {} document {} has grade {} here and {} at line {}; \
                 the later line is kept",
                p.display(),
                c.kept.0,
                c.query,
                c.doc,
                c.kept.1,
                c.first.1,
                c.first.0
            );
        }
        if conflicts.len() > 3 {
            eprintln!(
                "warning: {}: {} more pairs judged twice with different grades",
                p.display(),
                conflicts.len() - 3
            );
        }
        anyhow::ensure!(q.n_queries() > 0, "{}: no judgements", p.display());
        return Ok(q);
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
    let queries: Vec<f32> = split
        .caption_rows
        .iter()
        .flat_map(|&r| ds.texts().row(r).iter().copied())
        .collect();
    let lists = flat.search_batch(&queries, 10)?;
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
