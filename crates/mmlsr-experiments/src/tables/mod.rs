//! One renderer per paper table. Each reads the cells' typed records (and, for the per-query
//! tables, their test runs), lays the table out as the paper does, and writes Markdown, CSV,
//! JSON and a manifest through [`write_outputs`].

use std::{collections::BTreeMap, path::Path};

use anyhow::Context;
use mmlsr_core::Qrels;
use mmlsr_expansion::Variant;
use mmlsr_metrics::{Measure, Run, evaluate};
use mmlsr_store::{Dataset, RestvalPolicy, Split};

use crate::{
    cells::GridCell,
    evaluation::{TEST_MEASURES, measure_name},
    experiments::{Experiment, cell_dir},
    per_query::{OVERLAP, PerQueryFile, Rows, Slot},
};

mod fig2;
pub mod joint;
mod table1;
mod table2;
mod table3;
mod table5;

pub use self::{
    fig2::write_fig2, table1::write_table1, table2::write_table2, table3::write_table3,
    table5::write_table5,
};

/// The grid's folders grouped into data sets (the tables' columns) and backbones (their row
/// groups), in grid order: from a folder's `mmlsr.toml` when it names them (real folders such
/// as `mscoco-blip-dense`), else from the folder name ([`split_name`]).
pub(crate) struct Groups {
    pub datasets: Vec<String>,
    pub backbones: Vec<String>,
    /// (folder, data set, backbone) for every folder of the grid.
    folders: Vec<(String, String, String)>,
}

impl Groups {
    pub fn of(exp: &Experiment) -> anyhow::Result<Self> {
        let mut g = Self {
            datasets: Vec::new(),
            backbones: Vec::new(),
            folders: Vec::new(),
        };
        for n in &exp.grid.datasets {
            let layout = mmlsr_store::FolderLayout::read(&exp.data.join(n))?;
            let (mut d, mut b) = split_name(n);
            if let Some(name) = layout.dataset() {
                d = name.to_string();
            }
            if let Some(name) = layout.backbone() {
                b = name.to_string();
            }
            if let Some((other, ..)) = g.folders.iter().find(|(_, od, ob)| *od == d && *ob == b) {
                anyhow::bail!(
                    "data folders {other} and {n} both hold data set {d}, backbone {b}: a table \
                     cell can show only one (set `dataset`/`backbone` in their mmlsr.toml)"
                );
            }
            if !g.datasets.contains(&d) {
                g.datasets.push(d.clone());
            }
            if !g.backbones.contains(&b) {
                g.backbones.push(b.clone());
            }
            g.folders.push((n.clone(), d, b));
        }
        Ok(g)
    }

    /// The (data set, backbone) of a grid folder.
    pub fn group(&self, folder: &str) -> (String, String) {
        self.folders
            .iter()
            .find(|(f, ..)| f == folder)
            .map_or_else(|| split_name(folder), |(_, d, b)| (d.clone(), b.clone()))
    }

    /// The grid folder holding a (data set, backbone).
    pub fn folder(&self, dataset: &str, backbone: &str) -> String {
        self.folders
            .iter()
            .find(|(_, d, b)| d == dataset && b == backbone)
            .map_or_else(|| folder_name(dataset, backbone), |(f, ..)| f.clone())
    }
}

/// The inverse of [`split_name`].
fn folder_name(dataset: &str, backbone: &str) -> String {
    if backbone == "-" {
        dataset.to_string()
    } else {
        format!("{dataset}-{backbone}")
    }
}

/// The grid's variants as labels (`run` has already checked that they parse).
pub(crate) fn variant_labels(exp: &Experiment) -> Vec<&'static str> {
    exp.grid
        .variants
        .iter()
        .filter_map(|v| v.parse::<Variant>().ok())
        .map(|v| v.label())
        .collect()
}

/// `synth-coco-strong` → (`synth-coco`, `strong`); other names keep backbone `-`.
fn split_name(name: &str) -> (String, String) {
    match name.rsplit_once('-') {
        Some((d, b)) if b == "strong" || b == "weak" => (d.to_string(), b.to_string()),
        _ => (name.to_string(), "-".to_string()),
    }
}

/// Write `<name>.md`, `<name>.csv`, `<name>.json` and `manifest.json` (atomically) and print
/// the Markdown.
pub(crate) fn write_outputs(
    exp: &Experiment,
    config_path: &Path,
    records: &[GridCell],
    name: &str,
    md: &str,
    csv: &str,
    json: &serde_json::Value,
) -> anyhow::Result<()> {
    let out = &exp.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let manifest = serde_json::json!({
        "config": config_path.display().to_string(),
        "experiment": exp,
        "cells": records.iter().map(|r| serde_json::json!({
            "dataset": r.dataset, "eta": r.eta, "variant": r.variant,
            "config_hash": r.config_hash, "data": exp.data.join(&r.dataset).display().to_string(),
            "data_checksum": r.data_checksum, "seed": r.seed, "git_commit": r.git_commit,
            "backend": r.backend, "seconds": r.seconds,
        })).collect::<Vec<_>>(),
    });
    mmlsr_store::atomic_write_bytes(&out.join(format!("{name}.md")), md.as_bytes())?;
    mmlsr_store::atomic_write_bytes(&out.join(format!("{name}.csv")), csv.as_bytes())?;
    mmlsr_store::atomic_write_bytes(
        &out.join(format!("{name}.json")),
        &serde_json::to_vec_pretty(json)?,
    )?;
    mmlsr_store::atomic_write_bytes(
        &out.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    println!("{md}");
    Ok(())
}

/// Keeps a grid table's `per_query.parquet` (`crate::per_query`) in step with its cells: the
/// dense backbone's test run of each data folder (computed once per folder and kept as
/// `<runs>/<dataset>/dense_test.trec`) and every cell's `test_run.trec`, evaluated on
/// [`TEST_MEASURES`] plus the top-10 overlap with the dense run ([`OVERLAP`]). A slot whose
/// rows differ from its run's (or that is missing) is replaced, one atomic write each.
pub(crate) struct PerQuerySync<'a> {
    exp: &'a Experiment,
    file: PerQueryFile,
    dense: BTreeMap<String, (Run, Qrels)>,
}

impl<'a> PerQuerySync<'a> {
    /// `<results>/per_query.parquet` of `exp`.
    pub fn open(exp: &'a Experiment) -> anyhow::Result<Self> {
        Ok(Self {
            exp,
            file: PerQueryFile::open(&exp.results.join(crate::per_query::FILE))?,
            dense: BTreeMap::new(),
        })
    }

    /// The dense test run and test qrels of a data folder, its rows brought up to date.
    fn dense(&mut self, name: &str) -> anyhow::Result<&(Run, Qrels)> {
        if !self.dense.contains_key(name) {
            let exp = self.exp;
            let dir = exp.data.join(name);
            let ds = Dataset::open(&dir)
                .with_context(|| format!("opening data folder {}", dir.display()))?;
            let test = ds.split(Split::Test, RestvalPolicy::MergeIntoTrain);
            let qrels = ds.qrels(&test);
            let path = exp.runs.join(name).join("dense_test.trec");
            let run = if path.is_file() {
                Run::read_trec(&path)?
            } else {
                eprintln!("{name}: dense top-10 run of the test split …");
                let run = crate::evaluation::dense_run(&ds, &test)?;
                std::fs::create_dir_all(exp.runs.join(name))?;
                run.write_trec(&path, "dense")?;
                run
            };
            let e = evaluate(&run, &qrels, &TEST_MEASURES);
            self.file
                .replace(&Slot::dense(name), Rows::of_evaluation(&e))?;
            self.dense.insert(name.to_string(), (run, qrels));
        }
        Ok(&self.dense[name])
    }

    /// Bring one cell's rows up to date from its test run.
    pub fn record(&mut self, r: &GridCell) -> anyhow::Result<()> {
        let path = cell_dir(self.exp, &r.dataset, &r.variant, r.eta).join("test_run.trec");
        let run = Run::read_trec(&path)?;
        let (dense_run, qrels) = self.dense(&r.dataset)?;
        let mut rows = Rows::of_evaluation(&evaluate(&run, qrels, &TEST_MEASURES));
        for (q, o) in mmlsr_metrics::topk_overlap(&run, dense_run, 10) {
            rows.push(&q, OVERLAP, o);
        }
        let slot = Slot::d2s(&r.dataset, &r.variant, r.eta);
        self.file.replace(&slot, rows)?;
        Ok(())
    }

    /// Every data folder's and every cell's rows up to date: the file the tables read.
    pub fn finish(mut self, records: &[GridCell]) -> anyhow::Result<PerQueryFile> {
        for name in &self.exp.grid.datasets {
            self.dense(name)?;
        }
        for r in records {
            self.record(r)?;
        }
        Ok(self.file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn experiment(data: &Path, datasets: &[&str]) -> Experiment {
        toml::from_str(&format!(
            "data = {:?}\nruns = \"r\"\nresults = \"t\"\n[grid]\ndatasets = {datasets:?}\n\
             eta = [1e-3]\nvariants = [\"exp=c\"]\n",
            data.display().to_string()
        ))
        .unwrap()
    }

    fn configure(dir: &Path, text: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(mmlsr_store::LAYOUT_FILE), text).unwrap();
    }

    #[test]
    fn folders_group_by_their_mmlsr_toml_else_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        configure(
            &tmp.path().join("mscoco-blip-dense"),
            "dataset = \"mscoco\"\nbackbone = \"blip\"\n",
        );
        configure(
            &tmp.path().join("coco-albef"),
            "dataset = \"mscoco\"\nbackbone = \"albef\"\n",
        );
        let exp = experiment(
            tmp.path(),
            &[
                "mscoco-blip-dense",
                "coco-albef",
                "synth-flickr-weak",
                "other",
            ],
        );
        let g = Groups::of(&exp).unwrap();
        assert_eq!(g.datasets, ["mscoco", "synth-flickr", "other"]);
        assert_eq!(g.backbones, ["blip", "albef", "weak", "-"]);
        assert_eq!(g.group("coco-albef"), ("mscoco".into(), "albef".into()));
        assert_eq!(g.folder("mscoco", "blip"), "mscoco-blip-dense");
        assert_eq!(g.folder("synth-flickr", "weak"), "synth-flickr-weak");
        assert_eq!(g.folder("other", "-"), "other");

        // Two folders claiming one cell of the table are refused, naming both.
        configure(
            &tmp.path().join("copy"),
            "dataset = \"mscoco\"\nbackbone = \"blip\"\n",
        );
        let exp = experiment(tmp.path(), &["mscoco-blip-dense", "copy"]);
        let msg = Groups::of(&exp).err().unwrap().to_string();
        assert!(
            msg.contains("mscoco-blip-dense and copy both hold"),
            "{msg}"
        );
    }
}
