//! `mmlsr reproduce`: run a paper table from its TOML configuration, resumably, and write
//! the table as Markdown, CSV and JSON with a manifest of what each number was made from.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use mmlsr_expansion::Variant;
use mmlsr_model::{BackendKind, TrainConfig};
use mmlsr_store::{Dataset, RestvalPolicy, Split};
use serde::{Deserialize, Serialize};

use super::{
    synth::{BackboneArg, DatasetArg, ScaleArg, SynthArgs},
    train::{Cell, DenseNumbers, train_and_evaluate},
};

/// Reproduce a table of the D2S paper on the data folders its configuration names (the
/// embedded synthetic default unless told otherwise): train every cell of the grid, evaluate
/// it on the test split, and write `results/<table>/` (`<table>.md` in the paper's layout,
/// `<table>.csv`, `<table>.json`, `manifest.json`).
///
/// Resumable: a cell whose `cell.json` exists with the same configuration hash is not
/// recomputed, and an interrupted cell continues from its last finished epoch. Missing
/// `synth-*` folders under the data folder are generated first (small scale, seed 42).
#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Which table.
    #[arg(value_enum)]
    pub table: Table,
    /// The experiment configuration (default: experiments/<table>.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Folder holding the data folders named in the configuration (overrides its `data`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where trained cells go (overrides the configuration's `runs`).
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// Where the table goes (overrides the configuration's `results`).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Burn backend (overrides the configuration's `backend`).
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// Show a progress bar per cell.
    #[arg(long)]
    pub progress: bool,
}

/// Tables this command reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Table {
    /// D2S Table 2: R@1, R@5, MRR@10 and FLOPs for every backbone × η × expansion variant.
    Table2,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Table2 => "table2",
        }
    }
}

/// An experiment file (`experiments/table2.toml`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// What the file reproduces (free text).
    #[serde(default)]
    pub description: String,
    /// Folder holding the data folders.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// Folder for trained cells.
    pub runs: PathBuf,
    /// Folder for the table.
    pub results: PathBuf,
    /// Burn backend.
    #[serde(default)]
    pub backend: Option<BackendKind>,
    /// The grid.
    pub grid: Grid,
    /// `TrainConfig` keys shared by every cell (the grid sets the variant and η).
    #[serde(default)]
    pub train: TrainConfig,
}

fn default_data() -> PathBuf {
    PathBuf::from("data")
}

/// Cells: every data folder × η × variant.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    /// Data folder names under `data` (e.g. `synth-coco-strong`).
    pub datasets: Vec<String>,
    /// Regulariser weights η (captions and images alike).
    pub eta: Vec<f64>,
    /// Expansion variants (`exp=0`, `exp=1`, `exp=c`, `exp=c+w`).
    pub variants: Vec<String>,
}

/// What `cell.json` records: the cell, how it was made, and its test metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CellRecord {
    dataset: String,
    eta: f64,
    variant: String,
    config_hash: String,
    data_checksum: String,
    seed: u64,
    git_commit: String,
    backend: String,
    seconds: f64,
    metrics: serde_json::Value,
}

pub fn run(args: ReproduceArgs) -> anyhow::Result<()> {
    let table = args.table.name();
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("experiments/{table}.toml")));
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let mut exp: Experiment = toml::from_str(&text)
        .with_context(|| format!("{}: not a valid experiment file", config_path.display()))?;
    if let Some(d) = &args.data {
        exp.data = d.clone();
    }
    if let Some(r) = &args.runs {
        exp.runs = r.clone();
    }
    if let Some(r) = &args.results {
        exp.results = r.clone();
    }
    let backend = args.backend.or(exp.backend).unwrap_or(BackendKind::Flex);
    let variants: Vec<Variant> = exp
        .grid
        .variants
        .iter()
        .map(|v| {
            v.parse::<Variant>()
                .map_err(|e| anyhow::anyhow!("{}: grid.variants: {e}", config_path.display()))
        })
        .collect::<anyhow::Result<_>>()?;
    anyhow::ensure!(
        !exp.grid.datasets.is_empty() && !exp.grid.eta.is_empty() && !variants.is_empty(),
        "{}: the grid is empty",
        config_path.display()
    );
    ensure_data(&exp.data, &exp.grid.datasets)?;
    let git_commit = git_commit();
    let start = Instant::now();
    let n_cells = exp.grid.datasets.len() * exp.grid.eta.len() * variants.len();
    let mut records = Vec::new();
    let mut dense_rows: BTreeMap<String, DenseNumbers> = BTreeMap::new();
    let mut done = 0;
    for name in &exp.grid.datasets {
        let dir = exp.data.join(name);
        let ds = Dataset::open(&dir)
            .with_context(|| format!("opening data folder {}", dir.display()))?;
        let checksum = data_checksum(&dir)?;
        let dense = DenseNumbers::of(&ds, &ds.split(Split::Test, RestvalPolicy::MergeIntoTrain));
        dense_rows.insert(name.clone(), dense.clone());
        drop(ds);
        for &eta in &exp.grid.eta {
            for &variant in &variants {
                done += 1;
                let mut config = exp.train.clone();
                config.expansion.variant = variant;
                config.loss.q_reg = eta;
                config.loss.d_reg = eta;
                config
                    .validate_settings()
                    .with_context(|| format!("{}: [train]", config_path.display()))?;
                let hash = config_hash(&config, name);
                let out = exp
                    .runs
                    .join(name)
                    .join(format!("{}_eta{eta:e}", variant.label()));
                let record_path = out.join("cell.json");
                if record_path.is_file() {
                    let rec: CellRecord = serde_json::from_slice(
                        &std::fs::read(&record_path)
                            .with_context(|| format!("reading {}", record_path.display()))?,
                    )
                    .with_context(|| format!("{}: not a cell record", record_path.display()))?;
                    if rec.config_hash != hash {
                        bail!(
                            "{} was made with another configuration (hash {} ≠ {hash}); remove {} \
                             to recompute it",
                            record_path.display(),
                            rec.config_hash,
                            out.display()
                        );
                    }
                    eprintln!(
                        "[{done}/{n_cells}] {name} {} η={eta:e}: done before, kept",
                        variant.label()
                    );
                    records.push(rec);
                    continue;
                }
                eprintln!(
                    "[{done}/{n_cells}] {name} {} η={eta:e}: training ({} epochs max) …",
                    variant.label(),
                    config.epochs
                );
                let t = Instant::now();
                let metrics = train_and_evaluate(&Cell {
                    config: &config,
                    data: &dir,
                    out: &out,
                    backend,
                    restval: RestvalPolicy::MergeIntoTrain,
                    resume: true,
                    quiet: !args.progress,
                    summary: false,
                    dense: Some(dense.clone()),
                })
                .with_context(|| format!("cell {name} {} η={eta:e}", variant.label()))?;
                let rec = CellRecord {
                    dataset: name.clone(),
                    eta,
                    variant: variant.label().to_string(),
                    config_hash: hash,
                    data_checksum: checksum.clone(),
                    seed: config.seed,
                    git_commit: git_commit.clone(),
                    backend: backend.to_string(),
                    seconds: t.elapsed().as_secs_f64(),
                    metrics,
                };
                let s = &rec.metrics["sparse"];
                eprintln!(
                    "    R@1 {:.2}  R@5 {:.2}  MRR@10 {:.2}  FLOPs {:.2}  ({:.0} s)",
                    s["r1"].as_f64().unwrap_or(f64::NAN),
                    s["r5"].as_f64().unwrap_or(f64::NAN),
                    s["mrr10"].as_f64().unwrap_or(f64::NAN),
                    s["flops"].as_f64().unwrap_or(f64::NAN),
                    rec.seconds
                );
                mmlsr_store::atomic_write_bytes(&record_path, &serde_json::to_vec_pretty(&rec)?)?;
                records.push(rec);
            }
        }
    }
    write_table2(&exp, &config_path, &records, &dense_rows)?;
    eprintln!(
        "{table}: {n_cells} cells in {:.1} s; wrote {}",
        start.elapsed().as_secs_f64(),
        exp.results.display()
    );
    Ok(())
}

/// Generate missing `synth-*` folders (small scale, seed 42: the embedded default).
fn ensure_data(data: &Path, names: &[String]) -> anyhow::Result<()> {
    let missing: Vec<&String> = names.iter().filter(|n| !data.join(n).exists()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut datasets = Vec::new();
    let mut backbones = Vec::new();
    for n in &missing {
        let (ds, bb) = match n.as_str() {
            "synth-coco-strong" => (DatasetArg::Coco, BackboneArg::Strong),
            "synth-coco-weak" => (DatasetArg::Coco, BackboneArg::Weak),
            "synth-flickr-strong" => (DatasetArg::Flickr, BackboneArg::Strong),
            "synth-flickr-weak" => (DatasetArg::Flickr, BackboneArg::Weak),
            other => bail!(
                "data folder {} does not exist (only the synth-* folders are generated here; \
                 see datasets/README.md for the real ones)",
                data.join(other).display()
            ),
        };
        datasets.push(ds);
        backbones.push(bb);
    }
    eprintln!(
        "generating the missing default data under {}: {}",
        data.display(),
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The generator writes every dataset × backbone pair asked for; ask for exactly the
    // missing folders' kinds (possibly regenerating an existing sibling identically).
    datasets.sort_by_key(|d| *d as u8);
    datasets.dedup_by_key(|d| *d as u8);
    backbones.sort_by_key(|b| *b as u8);
    backbones.dedup_by_key(|b| *b as u8);
    super::synth::run(SynthArgs {
        out: data.to_path_buf(),
        scale: ScaleArg::Small,
        seed: 42,
        vocab: None,
        datasets,
        backbones,
        quiet: true,
    })
}

/// A stable hash of what defines a cell: its configuration and data folder name.
fn config_hash(config: &TrainConfig, dataset: &str) -> String {
    let json = serde_json::to_string(config).expect("configs serialise");
    let mut h = crc32fast::Hasher::new();
    h.update(json.as_bytes());
    h.update(b"\0");
    h.update(dataset.as_bytes());
    format!("{:08x}", h.finalize())
}

/// CRC-32 over the data folder's files (names, sizes and contents, in name order).
fn data_checksum(dir: &Path) -> anyhow::Result<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut h = crc32fast::Hasher::new();
    for p in names {
        let bytes = std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
        h.update(p.file_name().map_or(&[][..], |f| f.as_encoded_bytes()));
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(format!("{:08x}", h.finalize()))
}

/// The checked-out commit, with `-dirty` when tracked files differ from it; `unknown`
/// outside a git checkout.
fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(c) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{c}-dirty"),
            _ => c,
        },
        None => "unknown".into(),
    }
}

/// `synth-coco-strong` → (`synth-coco`, `strong`); other names keep backbone `-`.
fn split_name(name: &str) -> (String, String) {
    match name.rsplit_once('-') {
        Some((d, b)) if b == "strong" || b == "weak" => (d.to_string(), b.to_string()),
        _ => (name.to_string(), "-".to_string()),
    }
}

fn write_table2(
    exp: &Experiment,
    config_path: &Path,
    records: &[CellRecord],
    dense: &BTreeMap<String, DenseNumbers>,
) -> anyhow::Result<()> {
    let out = &exp.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // Columns: data sets in grid order; rows: backbone, then dense, then η × variant.
    let mut datasets: Vec<String> = Vec::new();
    let mut backbones: Vec<String> = Vec::new();
    for n in &exp.grid.datasets {
        let (d, b) = split_name(n);
        if !datasets.contains(&d) {
            datasets.push(d);
        }
        if !backbones.contains(&b) {
            backbones.push(b);
        }
    }
    let find = |d: &str, b: &str, eta: f64, v: &str| {
        records.iter().find(|r| {
            split_name(&r.dataset) == (d.to_string(), b.to_string())
                && r.eta == eta
                && r.variant == v
        })
    };
    let f2 = |x: &serde_json::Value| x.as_f64().map_or("–".to_string(), |v| format!("{v:.2}"));
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
    for d in &datasets {
        let _ = write!(header, " {d} R@1 | R@5 | MRR@10 | FLOPs |");
        rule.push_str("---:|---:|---:|---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    for b in &backbones {
        let _ = write!(md, "| {b} | – | dense |");
        for d in &datasets {
            let name = if b == "-" {
                d.clone()
            } else {
                format!("{d}-{b}")
            };
            match dense.get(&name) {
                Some(x) => {
                    let _ = write!(md, " {:.2} | {:.2} | {:.2} | – |", x.r1, x.r5, x.mrr10);
                }
                None => md.push_str(" – | – | – | – |"),
            }
        }
        md.push('\n');
        for &eta in &exp.grid.eta {
            for v in &exp.grid.variants {
                let label = v.parse::<Variant>().map(|v| v.label()).unwrap_or("?");
                let _ = write!(md, "| {b} | {eta:e} | {label} |");
                for d in &datasets {
                    match find(d, b, eta, label) {
                        Some(r) => {
                            let s = &r.metrics["sparse"];
                            let _ = write!(
                                md,
                                " {} | {} | {} | {} |",
                                f2(&s["r1"]),
                                f2(&s["r5"]),
                                f2(&s["mrr10"]),
                                f2(&s["flops"])
                            );
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
        let (d, b) = split_name(&r.dataset);
        let s = &r.metrics["sparse"];
        let g = |k: &str| s[k].as_f64().map_or(String::new(), |v| v.to_string());
        let _ = writeln!(
            csv,
            "{d},{b},{:e},{},{},{},{},{},{},{},{},{},{},{:.1}",
            r.eta,
            r.variant,
            g("r1"),
            g("r5"),
            g("r10"),
            g("mrr10"),
            g("flops"),
            g("exact20"),
            g("active_text"),
            g("active_image"),
            r.metrics["best_epoch"],
            r.seconds
        );
    }
    let json = serde_json::json!({
        "dense": dense,
        "cells": records.iter().map(|r| serde_json::json!({
            "dataset": r.dataset, "eta": r.eta, "variant": r.variant, "metrics": r.metrics,
        })).collect::<Vec<_>>(),
    });
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
    mmlsr_store::atomic_write_bytes(&out.join("table2.md"), md.as_bytes())?;
    mmlsr_store::atomic_write_bytes(&out.join("table2.csv"), csv.as_bytes())?;
    mmlsr_store::atomic_write_bytes(&out.join("table2.json"), &serde_json::to_vec_pretty(&json)?)?;
    mmlsr_store::atomic_write_bytes(
        &out.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    println!("{md}");
    Ok(())
}
