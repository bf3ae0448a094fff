//! `mmlsr compare`: paired t-tests of several runs against a baseline, Bonferroni-corrected.

use std::{fmt::Write as _, path::PathBuf};

use anyhow::Context;
use clap::Args;
use mmlsr_metrics::{Measure, Run, bonferroni, paired_t_test};

use crate::evaluation::{Judgements, measure_name, with_suffix};

/// Compare runs with a baseline the way the papers mark their tables: per measure, a paired
/// two-tailed t-test over the queries of each run against the first, Bonferroni-corrected over
/// all (run, measure) comparisons; `†` marks a corrected p below `--alpha`. Prints a Markdown
/// table; `--out P` also writes `P.json` and `P.md`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline run, then the runs to compare with it.
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    #[command(flatten)]
    pub judgements: Judgements,
    /// Measures (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "R@1,R@5,MRR@10")]
    pub measures: Vec<Measure>,
    /// Significance level after correction.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Output prefix for `.json` and `.md`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let measures = args.measures.as_slice();
    anyhow::ensure!(
        args.alpha > 0.0 && args.alpha < 1.0,
        "--alpha {}: the significance level must lie strictly between 0 and 1",
        args.alpha
    );
    let qrels = args.judgements.load()?;
    let evals = args
        .runs
        .iter()
        .map(|p| {
            args.judgements
                .evaluate(&Run::read_trec(p)?, p, &qrels, measures)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let m = (args.runs.len() - 1) * measures.len();
    let mut md = String::from("| run |");
    for &ms in measures {
        let _ = write!(md, " {} |", measure_name(ms));
    }
    let _ = writeln!(md, "\n|---|{}", "---:|".repeat(measures.len()));
    let mut json_rows = Vec::new();
    for (i, (path, e)) in args.runs.iter().zip(&evals).enumerate() {
        let _ = write!(
            md,
            "| {}{} |",
            path.display(),
            if i == 0 { " (baseline)" } else { "" }
        );
        let mut cells = serde_json::Map::new();
        for &ms in measures {
            let mean = e.mean(ms).context("measure evaluated")? * 100.0;
            if i == 0 {
                let _ = write!(md, " {mean:.2} |");
                cells.insert(measure_name(ms), serde_json::json!({ "mean": mean }));
                continue;
            }
            let t = paired_t_test(e, &evals[0], ms)
                .with_context(|| format!("t-test of {} against the baseline", path.display()))?;
            let p = bonferroni(t.p_value, m);
            let mark = if p < args.alpha { "†" } else { "" };
            let _ = write!(md, " {mean:.2}{mark} |");
            cells.insert(
                measure_name(ms),
                serde_json::json!({ "mean": mean, "t": t.t, "p": t.p_value, "p_bonferroni": p, "significant": p < args.alpha }),
            );
        }
        md.push('\n');
        json_rows.push(serde_json::json!({ "run": path.display().to_string(), "measures": cells }));
    }
    let _ = writeln!(
        md,
        "\n† paired two-tailed t-test against the baseline, Bonferroni-corrected over {m} \
         comparisons, p < {}; {} queries.",
        args.alpha,
        evals[0].queries.len()
    );
    // Files first: a closed stdout (`| head`) must not lose them.
    if let Some(out) = &args.out {
        let json = serde_json::json!({ "comparisons": m, "alpha": args.alpha, "runs": json_rows });
        mmlsr_store::atomic_write_bytes(
            &with_suffix(out, ".json"),
            &serde_json::to_vec_pretty(&json)?,
        )?;
        mmlsr_store::atomic_write_bytes(&with_suffix(out, ".md"), md.as_bytes())?;
    }
    println!("{md}");
    Ok(())
}
