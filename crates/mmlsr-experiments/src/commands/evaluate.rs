//! `mmlsr evaluate`: a TREC run and relevance judgements → metrics (JSON and Markdown).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use mmlsr_core::Qrels;
use mmlsr_metrics::{Measure, Run, evaluate};
use mmlsr_store::{Dataset, RestvalPolicy, Split};

/// Evaluate a TREC run (e.g. from `mmlsr search`) against relevance judgements: the
/// caption→image pairs of a data folder's split (`--data`, `--split`) or a TREC qrels file
/// (`--qrels`). Queries without results count as zero. Prints a Markdown table; `--out P`
/// also writes `P.json` and `P.md`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The TREC run.
    pub run: PathBuf,
    #[command(flatten)]
    pub judgements: Judgements,
    /// Measures (R@k, MRR@k, nDCG@k, Success@k, P@k; comma-separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "R@1,R@5,R@10,MRR@10,nDCG@10"
    )]
    pub measures: Vec<Measure>,
    /// Output prefix for `.json` and `.md`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

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

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let measures = args.measures.as_slice();
    let qrels = args.judgements.load()?;
    let run = Run::read_trec(&args.run)?;
    let eval = evaluate(&run, &qrels, measures);
    let means = eval.aggregate();
    let n_eval = eval.column(0).len();
    anyhow::ensure!(
        n_eval > 0,
        "{}: none of its {} queries is judged",
        args.run.display(),
        run.len()
    );
    let mut md = format!(
        "| run | queries | {} |\n|---|---:|{}\n| {} | {} |",
        measures
            .iter()
            .map(|&m| measure_name(m))
            .collect::<Vec<_>>()
            .join(" | "),
        "---:|".repeat(measures.len()),
        args.run.display(),
        n_eval
    );
    for m in &means {
        md.push_str(&format!(" {:.2} |", m * 100.0));
    }
    md.push('\n');
    println!("{md}");
    if let Some(out) = &args.out {
        let json = serde_json::json!({
            "run": args.run.display().to_string(),
            "queries": n_eval,
            "measures": measures.iter().zip(&means)
                .map(|(&m, &v)| (measure_name(m), serde_json::json!(v * 100.0)))
                .collect::<serde_json::Map<_, _>>(),
        });
        mmlsr_store::atomic_write_bytes(
            &with_suffix(out, ".json"),
            &serde_json::to_vec_pretty(&json)?,
        )?;
        mmlsr_store::atomic_write_bytes(&with_suffix(out, ".md"), md.as_bytes())?;
    }
    Ok(())
}
