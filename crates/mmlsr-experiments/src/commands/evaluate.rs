//! `mmlsr evaluate`: a TREC run and relevance judgements → metrics (JSON and Markdown).

use std::path::PathBuf;

use clap::Args;
use mmlsr_metrics::{Measure, Run};

use crate::{
    evaluation::{Judgements, measure_name, with_suffix},
    per_query::{PerQueryFile, Rows, Slot},
};

/// Evaluate a TREC run (e.g. from `mmlsr search`) against relevance judgements: the
/// caption→image pairs of a data folder's split (`--data`, `--split`) or a TREC qrels file
/// (`--qrels`). Every judged query counts, those without results as zero (trec_eval -c;
/// `--judged-only` for trec_eval's default); stderr says how many there were. Prints a
/// Markdown table; `--out P` also writes `P.json`, `P.md` and the per-query values
/// `P.per_query.parquet` (before printing; read them with `mmlsr report` or polars/pandas).
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
    /// Output prefix for `.json`, `.md` and `.per_query.parquet`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also put the per-query values into this Parquet file (created if missing; this run's
    /// earlier rows there are replaced), e.g. to compare runs with `mmlsr report FILE
    /// --group-by run`.
    #[arg(long)]
    pub per_query: Option<PathBuf>,
}

pub fn run(args: EvaluateArgs) -> anyhow::Result<()> {
    let measures = args.measures.as_slice();
    let qrels = args.judgements.load()?;
    let run = Run::read_trec(&args.run)?;
    let eval = args
        .judgements
        .evaluate(&run, &args.run, &qrels, measures)?;
    let means = eval.aggregate();
    let n_eval = eval.queries.len();
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
    // Files first: a closed stdout (`| head`) must not lose them.
    if let Some(out) = &args.out {
        let json = serde_json::json!({
            "run": args.run.display().to_string(),
            "queries": n_eval,
            "queries_without_results": eval.queries_without_results,
            "missing_queries": if args.judgements.judged_only { "left out" } else { "counted as 0" },
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
    let files = args
        .out
        .as_ref()
        .map(|out| with_suffix(out, ".per_query.parquet"))
        .into_iter()
        .chain(args.per_query.clone());
    for path in files {
        let slot = Slot {
            run: args.run.display().to_string(),
            dataset: args.judgements.source(),
            variant: String::new(),
            eta: None,
        };
        PerQueryFile::open(&path)?.replace(&slot, Rows::of_evaluation(&eval))?;
    }
    println!("{md}");
    Ok(())
}
