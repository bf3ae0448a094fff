//! The joint method's table (Song et al., Table 1 layout): frozen backbone, D2S, the joint
//! rows' dense/sparse/fused modes, † from paired t-tests (Bonferroni) computed from the
//! table's per-query file (`crate::per_query`).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::Context;
use mmlsr_core::Qrels;
use mmlsr_metrics::{Run, bonferroni, evaluate, paired_t_test_values};
use mmlsr_model::RetrievalMode as Mode;
use mmlsr_store::{Dataset, RestvalPolicy, Split};

use crate::{
    cells::{CellMetrics, JointTableCell},
    evaluation::{TEST_MEASURES, measure_name},
    experiments::JointExperiment,
    per_query::{PerQueryFile, Rows, Slot},
    pipelines::joint::ModeNumbers,
};

/// One printed row: label, mode, run file, its per-query slot, numbers, and the baseline it
/// is tested against.
struct TableRow {
    dataset: String,
    label: String,
    mode: &'static str,
    run: PathBuf,
    slot: Slot,
    numbers: ModeNumbers,
    baseline: Option<Slot>,
}

pub fn write_joint_table(
    exp: &JointExperiment,
    config_path: &Path,
    records: &[JointTableCell],
    frozen: &BTreeMap<String, ModeNumbers>,
    restval: RestvalPolicy,
) -> anyhow::Result<()> {
    let mut rows: Vec<TableRow> = Vec::new();
    for name in &exp.datasets {
        let dir = exp.runs.join(name);
        let frozen_slot = Slot {
            run: "frozen".into(),
            ..Slot::dense(name)
        };
        let d2s_slot = Slot::d2s(name, exp.d2s.expansion.variant.label(), exp.d2s.loss.q_reg);
        rows.push(TableRow {
            dataset: name.clone(),
            label: "frozen backbone".into(),
            mode: "dense",
            run: dir.join("frozen").join("test_run_dense.trec"),
            slot: frozen_slot.clone(),
            numbers: frozen[name].clone(),
            baseline: None,
        });
        let find = |row: &str| records.iter().find(|r| r.dataset == *name && r.row == row);
        if let Some(r) = find("d2s") {
            rows.push(TableRow {
                dataset: name.clone(),
                label: format!(
                    "D2S {} η={:e}",
                    exp.d2s.expansion.variant.label(),
                    exp.d2s.loss.q_reg
                ),
                mode: "sparse",
                run: dir.join("d2s").join("test_run.trec"),
                slot: d2s_slot.clone(),
                numbers: match &r.metrics {
                    CellMetrics::D2s(m) => ModeNumbers {
                        r1: m.sparse.r1,
                        r5: m.sparse.r5,
                        r10: m.sparse.r10,
                        mrr10: m.sparse.mrr10,
                        flops: Some(m.sparse.flops),
                    },
                    CellMetrics::Joint(m) => m.sparse.clone(),
                },
                baseline: None,
            });
        }
        for row in &exp.rows {
            let Some(r) = find(&row.name) else { continue };
            for mode in Mode::ALL {
                if !row.modes.contains(&mode) {
                    continue;
                }
                let CellMetrics::Joint(m) = &r.metrics else {
                    continue;
                };
                let numbers = match mode {
                    Mode::Dense => m.dense.clone(),
                    Mode::Sparse => m.sparse.clone(),
                    Mode::Fused => m.fused.clone(),
                };
                rows.push(TableRow {
                    dataset: name.clone(),
                    label: row.name.clone(),
                    mode: mode.name(),
                    run: dir
                        .join(&row.name)
                        .join(format!("test_run_{}.trec", mode.name())),
                    slot: Slot {
                        run: row.name.clone(),
                        dataset: name.clone(),
                        variant: mode.name().into(),
                        eta: None,
                    },
                    numbers,
                    baseline: Some(if mode == Mode::Sparse {
                        d2s_slot.clone()
                    } else {
                        frozen_slot.clone()
                    }),
                });
            }
        }
    }
    // Every row's per-query values into `<results>/per_query.parquet` (a slot rewritten only
    // when its run changed), then paired t-tests of every tested row against its baseline,
    // per measure, from that file; Bonferroni over all of them.
    let mut qrels_of: BTreeMap<String, Qrels> = BTreeMap::new();
    for name in &exp.datasets {
        qrels_of.insert(name.clone(), test_qrels(&exp.data.join(name), restval)?);
    }
    let mut pq = PerQueryFile::open(&exp.results.join(crate::per_query::FILE))?;
    for r in &rows {
        let run = Run::read_trec(&r.run).with_context(|| format!("reading {}", r.run.display()))?;
        let e = evaluate(&run, &qrels_of[&r.dataset], &TEST_MEASURES);
        pq.replace(&r.slot, Rows::of_evaluation(&e))?;
    }
    let tested = rows.iter().filter(|r| r.baseline.is_some()).count();
    let m = tested * TEST_MEASURES.len();
    let mut p_values: Vec<Option<[f64; 4]>> = Vec::new();
    for r in &rows {
        let Some(base) = &r.baseline else {
            p_values.push(None);
            continue;
        };
        let mut ps = [1.0; 4];
        for (k, measure) in TEST_MEASURES.iter().enumerate() {
            let (a, b) = pq.paired(&r.slot, base, &measure_name(*measure))?;
            ps[k] = bonferroni(paired_t_test_values(&a, &b)?.p_value, m);
        }
        p_values.push(Some(ps));
    }

    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Joint sparse–dense optimisation (Song et al., CIKM 2025): Table 1 layout\n\n\
         Test split, text→image; R@1, R@5, R@10, MRR@10 in %, FLOPs per D2S eq. (1). Made by \
         `mmlsr reproduce joint` from `{}`. † marks a difference from the row's baseline (dense \
         and fused rows: the frozen backbone; sparse rows: D2S) by a paired two-tailed t-test, \
         p < 0.05 after Bonferroni over all {m} comparisons.\n",
        config_path.display()
    );
    let _ = writeln!(
        md,
        "| data | model | mode | R@1 | R@5 | R@10 | MRR@10 | FLOPs |\n|---|---|---|---:|---:|---:|---:|---:|"
    );
    let mut csv =
        String::from("dataset,model,mode,r1,r5,r10,mrr10,flops,p_r1,p_r5,p_r10,p_mrr10\n");
    for (r, ps) in rows.iter().zip(&p_values) {
        let n = &r.numbers;
        let vals = [n.r1, n.r5, n.r10, n.mrr10];
        let _ = write!(md, "| {} | {} | {} |", r.dataset, r.label, r.mode);
        for (k, v) in vals.iter().enumerate() {
            let mark = match ps {
                Some(p) if p[k] < 0.05 => "†",
                _ => "",
            };
            let _ = write!(md, " {v:.2}{mark} |");
        }
        let _ = writeln!(
            md,
            " {} |",
            n.flops.map_or("–".into(), |f| format!("{f:.2}"))
        );
        let p = |k: usize| ps.map_or(String::new(), |p| p[k].to_string());
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            r.dataset,
            r.label,
            r.mode,
            n.r1,
            n.r5,
            n.r10,
            n.mrr10,
            n.flops.map_or(String::new(), |f| f.to_string()),
            p(0),
            p(1),
            p(2),
            p(3)
        );
    }
    md.push_str("\nRows:\n");
    for row in &exp.rows {
        let _ = writeln!(md, "- `{}`: {}", row.name, row.description);
    }
    let out = &exp.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = serde_json::json!({
        "experiment": exp,
        "config": config_path.display().to_string(),
        "frozen": frozen,
        "cells": records,
    });
    mmlsr_store::atomic_write_bytes(&out.join("joint.md"), md.as_bytes())?;
    mmlsr_store::atomic_write_bytes(&out.join("joint.csv"), csv.as_bytes())?;
    mmlsr_store::atomic_write_bytes(&out.join("joint.json"), &serde_json::to_vec_pretty(&json)?)?;
    println!("{md}");
    Ok(())
}

/// Test-split qrels of a data folder (one relevant image per caption).
fn test_qrels(dir: &Path, restval: RestvalPolicy) -> anyhow::Result<Qrels> {
    let ds = Dataset::open(dir).with_context(|| format!("opening {}", dir.display()))?;
    let split = ds.split(Split::Test, restval);
    Ok(ds.qrels(&split))
}
