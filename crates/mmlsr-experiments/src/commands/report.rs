//! `mmlsr report`: an ad-hoc table from a per-query file (`results/<table>/per_query.parquet`),
//! grouped and averaged with polars.

use std::{collections::BTreeMap, fmt::Write as _, path::PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use polars::prelude::*;

use crate::per_query::{COLUMNS, PerQueryFile};

/// Print a table of mean per-query values from the per-query file that `mmlsr reproduce`
/// writes beside each table (`results/<table>/per_query.parquet`) or that `mmlsr evaluate
/// --out P` writes (`P.per_query.parquet`): one row per group, one column per measure, in %.
///
/// Example: `mmlsr report results/table2 --group-by dataset,variant --measure r1,mrr10`.
/// Groups keep the order in which they first occur in the file.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A results folder holding per_query.parquet, or a per-query Parquet file.
    pub path: PathBuf,
    /// Columns to group by (run, dataset, variant, eta, query_id; comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "run,dataset,variant,eta")]
    pub group_by: Vec<String>,
    /// Measures, as the file names them (R@1, MRR@10, Overlap@10) or short (r1, r5, mrr10,
    /// ndcg10); comma-separated. Default: every measure in the file.
    #[arg(long, value_delimiter = ',')]
    pub measure: Vec<String>,
    /// Keep only rows whose column equals a value (`dataset=synth-coco-strong`, `eta=1e-3`);
    /// repeat for several.
    #[arg(long = "where", value_name = "COLUMN=VALUE")]
    pub filters: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: Format,
}

/// How `report` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A Markdown table, means in % to two decimals.
    Markdown,
    /// CSV, means as fractions at full precision.
    Csv,
}

/// `r1` → `R@1`, `mrr10` → `MRR@10`, `ndcg10` → `nDCG@10`, `p5` → `P@5`, `success1` →
/// `Success@1`, `overlap10` → `Overlap@10`; anything else as given.
fn measure_alias(m: &str) -> String {
    let lower = m.to_ascii_lowercase();
    let digits = lower.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let name = &lower[..lower.len() - digits.len()];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return m.to_string();
    }
    let canonical = match name {
        "r" | "recall" => "R",
        "mrr" | "rr" => "MRR",
        "ndcg" => "nDCG",
        "p" => "P",
        "success" => "Success",
        "overlap" => "Overlap",
        _ => return m.to_string(),
    };
    format!("{canonical}@{digits}")
}

/// A group key's cell as text (`eta` in scientific notation, null as `–`).
fn cell(v: &AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => "–".into(),
        AnyValue::Float64(x) => format!("{x:e}"),
        AnyValue::String(s) => (*s).to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    }
}

pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let file = PerQueryFile::open_in(&args.path)?;
    let path = file.path().display().to_string();
    let err = |e: PolarsError| anyhow::anyhow!("{path}: {e}");
    for g in &args.group_by {
        if !COLUMNS[..5].contains(&g.as_str()) {
            bail!(
                "--group-by {g}: no such column to group by; expected some of {}",
                COLUMNS[..5].join(", ")
            );
        }
    }
    let mut lf = file.frame().clone().lazy();
    for f in &args.filters {
        let (column, value) = f
            .split_once('=')
            .with_context(|| format!("--where {f}: expected COLUMN=VALUE"))?;
        let predicate = match column {
            "eta" => {
                let x: f64 = value
                    .parse()
                    .map_err(|_| anyhow::anyhow!("--where {f}: η must be a number"))?;
                col("eta").eq(lit(x))
            }
            "run" | "dataset" | "variant" | "query_id" | "measure" => col(column).eq(lit(value)),
            _ => bail!(
                "--where {f}: no column {column:?}; expected one of {}",
                COLUMNS[..6].join(", ")
            ),
        };
        lf = lf.filter(predicate);
    }
    // Measures in the file, in order of first occurrence.
    let present: Vec<String> = {
        let df = lf
            .clone()
            .select([col("measure")])
            .unique_stable(None, UniqueKeepStrategy::First)
            .collect()
            .map_err(err)?;
        df.column("measure")
            .and_then(|c| c.str().cloned())
            .map_err(err)?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect()
    };
    anyhow::ensure!(!present.is_empty(), "{path}: no rows match");
    let measures: Vec<String> = if args.measure.is_empty() {
        present.clone()
    } else {
        args.measure.iter().map(|m| measure_alias(m)).collect()
    };
    for m in &measures {
        if !present.contains(m) {
            bail!(
                "{path}: no measure {m:?} here; it holds {}",
                present.join(", ")
            );
        }
    }
    let mut keys: Vec<Expr> = args.group_by.iter().map(|g| col(g.as_str())).collect();
    keys.push(col("measure"));
    let grouped = lf
        .filter(measures.iter().fold(lit(false), |any, m| {
            any.or(col("measure").eq(lit(m.as_str())))
        }))
        .group_by_stable(keys)
        .agg([
            col("value").mean().alias("mean"),
            col("value").count().alias("queries"),
        ])
        .collect()
        .map_err(err)?;

    // One output row per group, one column per measure.
    let mut order: Vec<Vec<String>> = Vec::new();
    let mut table: BTreeMap<Vec<String>, (u64, BTreeMap<String, f64>)> = BTreeMap::new();
    let means = grouped
        .column("mean")
        .and_then(|c| c.f64().cloned())
        .map_err(err)?;
    let counts = grouped
        .column("queries")
        .and_then(|c| c.cast(&DataType::UInt64))
        .map_err(err)?;
    let counts = counts.u64().map_err(err)?;
    let measure_col = grouped
        .column("measure")
        .and_then(|c| c.str().cloned())
        .map_err(err)?;
    for i in 0..grouped.height() {
        let key: Vec<String> = args
            .group_by
            .iter()
            .map(|g| {
                grouped
                    .column(g.as_str())
                    .and_then(|c| c.get(i))
                    .map(|v| cell(&v))
            })
            .collect::<PolarsResult<_>>()
            .map_err(err)?;
        let entry = table.entry(key.clone()).or_insert_with(|| {
            order.push(key);
            (0, BTreeMap::new())
        });
        entry.0 = entry.0.max(counts.get(i).unwrap_or(0));
        entry.1.insert(
            measure_col.get(i).unwrap_or_default().to_string(),
            means.get(i).unwrap_or(f64::NAN),
        );
    }
    let mut out = String::new();
    match args.format {
        Format::Markdown => {
            let _ = writeln!(
                out,
                "| {} | queries | {} |",
                args.group_by.join(" | "),
                measures.join(" | ")
            );
            let _ = writeln!(
                out,
                "|{}---:|{}",
                "---|".repeat(args.group_by.len()),
                "---:|".repeat(measures.len())
            );
            for key in &order {
                let (n, vals) = &table[key];
                let _ = write!(out, "| {} | {n} |", key.join(" | "));
                for m in &measures {
                    match vals.get(m) {
                        Some(v) => {
                            let _ = write!(out, " {:.2} |", v * 100.0);
                        }
                        None => out.push_str(" – |"),
                    }
                }
                out.push('\n');
            }
            let _ = writeln!(out, "\nMeans over queries in %, from {path}.");
        }
        Format::Csv => {
            let _ = writeln!(
                out,
                "{},queries,{}",
                args.group_by.join(","),
                measures.join(",")
            );
            for key in &order {
                let (n, vals) = &table[key];
                let _ = write!(out, "{},{n}", key.join(","));
                for m in &measures {
                    let _ = write!(
                        out,
                        ",{}",
                        vals.get(m).map_or(String::new(), |v| v.to_string())
                    );
                }
                out.push('\n');
            }
        }
    }
    print!("{out}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_measure_names() {
        for (given, want) in [
            ("r1", "R@1"),
            ("R5", "R@5"),
            ("mrr10", "MRR@10"),
            ("ndcg10", "nDCG@10"),
            ("overlap10", "Overlap@10"),
            ("R@1", "R@1"),
            ("MRR@10", "MRR@10"),
            ("flops", "flops"),
            ("x1", "x1"),
        ] {
            assert_eq!(measure_alias(given), want, "{given}");
        }
    }
}
