//! D2S Table 2: sparse retrieval by backbone × η × expansion variant.

use std::{fmt::Write as _, path::Path};

use anyhow::Context;

use super::*;
use crate::pipelines::d2s::DenseNumbers;
/// R@1, R@5 and MRR@10 are means over the per-query file `pq`; FLOPs and the other columns
/// of the CSV come from the cells' records.
pub fn write_table2(
    exp: &Experiment,
    config_path: &Path,
    records: &[GridCell],
    dense: &BTreeMap<String, DenseNumbers>,
    pq: &PerQueryFile,
) -> anyhow::Result<()> {
    let out = &exp.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // Columns: data sets in grid order; rows: backbone, then dense, then η × variant.
    let groups = Groups::of(exp)?;
    let (datasets, backbones) = (&groups.datasets, &groups.backbones);
    let find = |d: &str, b: &str, eta: f64, v: &str| {
        records.iter().find(|r| {
            groups.group(&r.dataset) == (d.to_string(), b.to_string())
                && r.eta == eta
                && r.variant == v
        })
    };
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Table 2 (D2S): sparse text→image retrieval by expansion variant\n\n\
         Test split; R@1, R@5, MRR@10 in %, FLOPs per D2S eq. (1). Made by `mmlsr reproduce \
         table2` from `{}` ({} epochs max, batch {}, seed {}); each cell's provenance is in \
         `manifest.json`.\n",
        config_path.display(),
        exp.train.epochs,
        exp.train.batch_size,
        exp.train.seed
    );
    let mut header = "| backbone | η | exp |".to_string();
    let mut rule = "|---|---|---|".to_string();
    for d in datasets {
        let _ = write!(header, " {d} R@1 | R@5 | MRR@10 | FLOPs |");
        rule.push_str("---:|---:|---:|---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for b in backbones {
        let _ = write!(md, "| {b} | – | dense |");
        for d in datasets {
            let name = groups.folder(d, b);
            if dense.contains_key(&name) {
                let slot = Slot::dense(&name);
                let [r1, r5, mrr10] = means(pq, &slot)?;
                let _ = write!(md, " {r1:.2} | {r5:.2} | {mrr10:.2} | – |");
            } else {
                md.push_str(" – | – | – | – |");
            }
        }
        md.push('\n');
        for &eta in &exp.grid.eta {
            for label in variant_labels(exp) {
                let _ = write!(md, "| {b} | {eta:e} | {label} |");
                for d in datasets {
                    match find(d, b, eta, label) {
                        Some(r) => {
                            let slot = Slot::d2s(&r.dataset, &r.variant, r.eta);
                            let [r1, r5, mrr10] = means(pq, &slot)?;
                            let flops = r.metrics.sparse.flops;
                            let _ = write!(md, " {r1:.2} | {r5:.2} | {mrr10:.2} | {flops:.2} |");
                        }
                        None => md.push_str(" – | – | – | – |"),
                    }
                }
                md.push('\n');
            }
        }
    }
    let mut csv = String::from(
        "dataset,backbone,eta,variant,r1,r5,r10,mrr10,flops,exact20,active_text,active_image,best_epoch,seconds\n",
    );
    for r in records {
        let (d, b) = groups.group(&r.dataset);
        let s = &r.metrics.sparse;
        let slot = Slot::d2s(&r.dataset, &r.variant, r.eta);
        let [r1, r5, mrr10] = means(pq, &slot)?;
        let r10 = pq.mean(&slot, Measure::Recall(10))? * 100.0;
        let _ = writeln!(
            csv,
            "{d},{b},{:e},{},{},{},{},{},{},{},{},{},{},{:.1}",
            r.eta,
            r.variant,
            r1,
            r5,
            r10,
            mrr10,
            s.flops,
            s.exact20,
            s.active_text,
            s.active_image,
            r.metrics.best_epoch,
            r.seconds
        );
    }
    let json = serde_json::json!({
        "dense": dense,
        "cells": records.iter().map(|r| serde_json::json!({
            "dataset": r.dataset, "eta": r.eta, "variant": r.variant, "metrics": r.metrics,
        })).collect::<Vec<_>>(),
    });
    write_outputs(exp, config_path, records, "table2", &md, &csv, &json)
}

/// R@1, R@5 and MRR@10 of a slot, in %.
fn means(pq: &PerQueryFile, slot: &Slot) -> anyhow::Result<[f64; 3]> {
    let m = |ms| pq.mean(slot, ms).map(|v| v * 100.0);
    Ok([
        m(Measure::Recall(1))?,
        m(Measure::Recall(5))?,
        m(Measure::RR(10))?,
    ])
}
