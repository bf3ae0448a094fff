//! D2S Table 5: Pearson correlation of per-query sparse and dense effectiveness over η.

use std::{fmt::Write as _, path::Path};

use super::*;
use mmlsr_metrics::pearson;
/// Correlations from the per-query file `pq` (each cell joined to its dense run on the
/// query id with polars).
pub fn write_table5(
    exp: &Experiment,
    config_path: &Path,
    records: &[GridCell],
    pq: &PerQueryFile,
) -> anyhow::Result<()> {
    let shown = [Measure::Recall(1), Measure::Recall(5), Measure::RR(10)];
    let mut md = format!(
        "# Table 5 (D2S): agreement of sparse and dense per query\n\nPearson's r between \
         the sparse model's and the dense backbone's per-query R@1, R@5 and MRR@10 on the test \
         split. Made by `mmlsr reproduce table5` from `{}`.\n\n| data | exp | η | r(R@1) | \
         r(R@5) | r(MRR@10) | sparse R@1 | FLOPs |\n|---|---|---|---:|---:|---:|---:|---:|\n",
        config_path.display()
    );
    let mut csv = String::from("dataset,variant,eta,measure,pearson\n");
    let mut cells_json = Vec::new();
    for r in records {
        let (cell, dense) = (
            Slot::d2s(&r.dataset, &r.variant, r.eta),
            Slot::dense(&r.dataset),
        );
        let _ = write!(md, "| {} | {} | {:e} |", r.dataset, r.variant, r.eta);
        for ms in shown {
            let (a, b) = pq.paired(&cell, &dense, &measure_name(ms))?;
            let rho = pearson(&a, &b).ok();
            let _ = write!(md, " {} |", rho.map_or("–".into(), |x| format!("{x:.3}")));
            let _ = writeln!(
                csv,
                "{},{},{:e},{},{}",
                r.dataset,
                r.variant,
                r.eta,
                measure_name(ms),
                rho.map_or(String::new(), |x| x.to_string())
            );
            cells_json.push(serde_json::json!({
                "dataset": r.dataset, "variant": r.variant, "eta": r.eta,
                "measure": measure_name(ms), "pearson": rho,
            }));
        }
        let s = &r.metrics.sparse;
        let _ = writeln!(md, " {:.2} | {:.2} |", s.r1, s.flops);
    }
    let json = serde_json::json!({ "cells": cells_json });
    write_outputs(exp, config_path, records, "table5", &md, &csv, &json)
}
