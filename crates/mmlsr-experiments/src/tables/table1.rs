//! D2S Table 1: sparse against the dense backbone, with † from paired t-tests.

use std::{fmt::Write as _, path::Path};

use super::*;
use mmlsr_metrics::{bonferroni, paired_t_test_values};

/// Means and paired t-tests from the per-query file `pq` (polars: filtered slots, the cell
/// joined to the dense run on the query id).
pub fn write_table1(
    exp: &Experiment,
    config_path: &Path,
    records: &[GridCell],
    pq: &PerQueryFile,
) -> anyhow::Result<()> {
    let m = records.len() * TEST_MEASURES.len();
    let alpha = 0.05;
    let groups = Groups::of(exp)?;
    let (datasets, backbones) = (&groups.datasets, &groups.backbones);
    let mut md = format!(
        "# Table 1 (D2S): sparse against the dense backbone\n\nTest split, % (MRR@10 = mean \
         RR@10). † marks a paired two-tailed t-test against the dense row of the same data \
         folder with p < {alpha} after Bonferroni correction over {m} comparisons. Made by \
         `mmlsr reproduce table1` from `{}`.\n\n| backbone | model |",
        config_path.display()
    );
    let mut rule = String::from("|---|---|");
    for d in datasets {
        let _ = write!(md, " {d} R@1 | R@5 | R@10 | MRR@10 |");
        rule.push_str("---:|---:|---:|---:|");
    }
    let _ = writeln!(md, "\n{rule}");
    let mut csv = String::from("dataset,model,measure,mean,p,p_bonferroni,significant\n");
    let mut cells_json = Vec::new();
    for b in backbones {
        let _ = write!(md, "| {b} | dense |");
        for d in datasets {
            let name = groups.folder(d, b);
            if !exp.grid.datasets.contains(&name) {
                md.push_str(" – | – | – | – |");
                continue;
            }
            for ms in TEST_MEASURES {
                let v = pq.mean(&Slot::dense(&name), ms)? * 100.0;
                let _ = write!(md, " {v:.2} |");
                let _ = writeln!(csv, "{name},dense,{},{v},,,", measure_name(ms));
            }
        }
        md.push('\n');
        for &eta in &exp.grid.eta {
            for label in variant_labels(exp) {
                let _ = write!(md, "| {b} | D2S {label}, η {eta:e} |");
                for d in datasets {
                    let name = groups.folder(d, b);
                    if !records
                        .iter()
                        .any(|r| r.dataset == name && r.eta == eta && r.variant == label)
                    {
                        md.push_str(" – | – | – | – |");
                        continue;
                    }
                    let (cell, dense) = (Slot::d2s(&name, label, eta), Slot::dense(&name));
                    for ms in TEST_MEASURES {
                        let v = pq.mean(&cell, ms)? * 100.0;
                        let (a, b) = pq.paired(&cell, &dense, &measure_name(ms))?;
                        let t = paired_t_test_values(&a, &b)?;
                        let p = bonferroni(t.p_value, m);
                        let mark = if p < alpha { "†" } else { "" };
                        let _ = write!(md, " {v:.2}{mark} |");
                        let _ = writeln!(
                            csv,
                            "{name},D2S {label} eta {eta:e},{},{v},{},{p},{}",
                            measure_name(ms),
                            t.p_value,
                            p < alpha
                        );
                        cells_json.push(serde_json::json!({
                            "dataset": name, "variant": label, "eta": eta,
                            "measure": measure_name(ms), "mean": v, "t": t.t,
                            "p": t.p_value, "p_bonferroni": p, "significant": p < alpha,
                        }));
                    }
                }
                md.push('\n');
            }
        }
    }
    let json = serde_json::json!({ "comparisons": m, "alpha": alpha, "cells": cells_json });
    write_outputs(exp, config_path, records, "table1", &md, &csv, &json)
}
