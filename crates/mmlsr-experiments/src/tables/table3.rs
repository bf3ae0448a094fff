//! D2S Table 3: Exact@20 and Semantic@20 of the caption vectors (semantic deviation).

use std::{fmt::Write as _, path::Path};

use super::*;

pub fn write_table3(
    exp: &Experiment,
    config_path: &Path,
    records: &[GridCell],
) -> anyhow::Result<()> {
    let mut md = format!(
        "# Table 3 (D2S): semantic deviation of the caption vectors\n\nTest split, %. \
         Exact@20: share of a caption vector's 20 heaviest terms that occur in the caption \
         (eq. 2); Semantic@20: mean over those terms of the best cosine similarity between \
         their static word vectors and the caption's own terms' (eq. 3). Made by `mmlsr \
         reproduce table3` from `{}`.\n\n| data | η | exp | Exact@20 | Semantic@20 | FLOPs | R@1 |\n\
         |---|---|---|---:|---:|---:|---:|\n",
        config_path.display()
    );
    let mut csv = String::from("dataset,eta,variant,exact20,semantic20,flops,r1\n");
    let f = |v: Option<f64>| v.map_or("–".to_string(), |x| format!("{x:.2}"));
    for name in &exp.grid.datasets {
        for &eta in &exp.grid.eta {
            for label in variant_labels(exp) {
                let Some(r) = records
                    .iter()
                    .find(|r| &r.dataset == name && r.eta == eta && r.variant == label)
                else {
                    continue;
                };
                let s = &r.metrics.sparse;
                let sem = r.metrics.semantic20;
                let _ = writeln!(
                    md,
                    "| {name} | {eta:e} | {label} | {} | {} | {} | {} |",
                    f(Some(s.exact20)),
                    f(sem),
                    f(Some(s.flops)),
                    f(Some(s.r1))
                );
                // JSON number text (`100.0`, `null`), as the CSV has always had.
                let _ = writeln!(
                    csv,
                    "{name},{eta:e},{label},{},{},{},{}",
                    json_text(s.exact20),
                    json_text(sem),
                    json_text(s.flops),
                    json_text(s.r1)
                );
            }
        }
    }
    let json = serde_json::json!({ "cells": records.iter().map(|r| serde_json::json!({
        "dataset": r.dataset, "eta": r.eta, "variant": r.variant,
        "exact20": r.metrics.sparse.exact20, "semantic20": r.metrics.semantic20,
    })).collect::<Vec<_>>() });
    write_outputs(exp, config_path, records, "table3", &md, &csv, &json)
}

/// A value as JSON text.
fn json_text(v: impl serde::Serialize) -> String {
    serde_json::to_string(&v).expect("numbers serialise")
}
