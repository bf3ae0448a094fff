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
use mmlsr_core::Qrels;
use mmlsr_expansion::Variant;
use mmlsr_index::DenseFlat;
use mmlsr_metrics::{Evaluation, Measure, Run, bonferroni, evaluate, paired_t_test, pearson};
use mmlsr_model::{BackendKind, TrainConfig};
use mmlsr_store::{Dataset, RestvalPolicy, Split};
use serde::{Deserialize, Serialize};

use super::{
    evaluate::measure_name,
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
    /// D2S Table 1: sparse against dense (R@1, R@5, R@10, MRR@10), † where a paired t-test
    /// with Bonferroni correction finds a difference from the dense backbone.
    Table1,
    /// D2S Table 2: R@1, R@5, MRR@10 and FLOPs for every backbone × η × expansion variant.
    Table2,
    /// D2S Table 3: Exact@20 and Semantic@20 of the caption vectors (semantic deviation).
    Table3,
    /// D2S Table 5: Pearson correlation of per-query R@1, R@5, MRR@10 between sparse and
    /// dense, over η.
    Table5,
    /// D2S Table 6: the latency table (`mmlsr bench` with its defaults).
    Table6,
    /// D2S Figure 2: R@1 against FLOPs per variant (2a) and the histogram of per-query top-10
    /// overlap with the dense backbone (2b), as SVG.
    Fig2,
    /// Joint sparse–dense optimisation (Song et al., CIKM 2025), its Table 1 layout: frozen
    /// dense backbone, D2S, the joint model's dense/sparse/fused rows and the ablations, with
    /// † from paired t-tests (Bonferroni).
    Joint,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Table1 => "table1",
            Table::Table2 => "table2",
            Table::Table3 => "table3",
            Table::Table5 => "table5",
            Table::Table6 => "table6",
            Table::Fig2 => "fig2",
            Table::Joint => "joint",
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
    if args.table == Table::Table6 {
        #[derive(clap::Parser)]
        struct BenchCli {
            #[command(flatten)]
            args: super::bench::BenchArgs,
        }
        let out = args
            .results
            .clone()
            .unwrap_or_else(|| PathBuf::from("results/table6"));
        let cli = <BenchCli as clap::Parser>::parse_from([
            std::ffi::OsStr::new("bench"),
            std::ffi::OsStr::new("--out"),
            out.as_os_str(),
        ]);
        return super::bench::run(cli.args);
    }
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("experiments/{table}.toml")));
    if args.table == Table::Joint {
        return super::joint::reproduce(
            &config_path,
            args.data.as_deref(),
            args.runs.as_deref(),
            args.results.as_deref(),
            args.backend,
            args.progress,
        );
    }
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
        // Read every file of the folder only when some cell of it is trained.
        let mut checksum: Option<String> = None;
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
                let out = cell_dir(&exp, name, variant.label(), eta);
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
                    data_checksum: match &checksum {
                        Some(c) => c.clone(),
                        None => checksum.insert(data_checksum(&dir)?).clone(),
                    },
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
    match args.table {
        Table::Table1 => write_table1(&exp, &config_path, &records)?,
        Table::Table2 => write_table2(&exp, &config_path, &records, &dense_rows)?,
        Table::Table3 => write_table3(&exp, &config_path, &records)?,
        Table::Table5 => write_table5(&exp, &config_path, &records)?,
        Table::Fig2 => write_fig2(&exp, &config_path, &records, &dense_rows)?,
        Table::Table6 | Table::Joint => unreachable!("handled above"),
    }
    eprintln!(
        "{table}: {n_cells} cells in {:.1} s; wrote {}",
        start.elapsed().as_secs_f64(),
        exp.results.display()
    );
    Ok(())
}

/// Generate missing `synth-*` folders (small scale, seed 42: the embedded default).
pub(crate) fn ensure_data(data: &Path, names: &[String]) -> anyhow::Result<()> {
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

/// A stable hash of what defines a cell: its configuration (any serialisable settings) and
/// data folder name.
pub(crate) fn config_hash(config: &impl Serialize, dataset: &str) -> String {
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
pub(crate) fn git_commit() -> String {
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

/// The grid's data sets and backbones (from the folder names), in grid order.
fn columns(exp: &Experiment) -> (Vec<String>, Vec<String>) {
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
    (datasets, backbones)
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
fn variant_labels(exp: &Experiment) -> Vec<&'static str> {
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

fn write_table2(
    exp: &Experiment,
    config_path: &Path,
    records: &[CellRecord],
    dense: &BTreeMap<String, DenseNumbers>,
) -> anyhow::Result<()> {
    let out = &exp.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    // Columns: data sets in grid order; rows: backbone, then dense, then η × variant.
    let (datasets, backbones) = columns(exp);
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
            match dense.get(&folder_name(d, b)) {
                Some(x) => {
                    let _ = write!(md, " {:.2} | {:.2} | {:.2} | – |", x.r1, x.r5, x.mrr10);
                }
                None => md.push_str(" – | – | – | – |"),
            }
        }
        md.push('\n');
        for &eta in &exp.grid.eta {
            for label in variant_labels(exp) {
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
    write_outputs(exp, config_path, records, "table2", &md, &csv, &json)
}

/// Write `<name>.md`, `<name>.csv`, `<name>.json` and `manifest.json` (atomically) and print
/// the Markdown.
fn write_outputs(
    exp: &Experiment,
    config_path: &Path,
    records: &[CellRecord],
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

/// Where a cell trains.
fn cell_dir(exp: &Experiment, dataset: &str, variant: &str, eta: f64) -> PathBuf {
    exp.runs.join(dataset).join(format!("{variant}_eta{eta:e}"))
}

/// The four measures of the per-query tables.
const PER_QUERY: [Measure; 4] = [
    Measure::Recall(1),
    Measure::Recall(5),
    Measure::Recall(10),
    Measure::RR(10),
];

/// Per-query evaluations of every cell's test run and of the dense backbone's (its top-10 run
/// is computed once per data folder and kept as `<runs>/<dataset>/dense_test.trec`).
struct PerQuery {
    dense: BTreeMap<String, Evaluation>,
    cells: Vec<Evaluation>,
}

fn per_query(exp: &Experiment, records: &[CellRecord]) -> anyhow::Result<PerQuery> {
    let mut dense = BTreeMap::new();
    let mut qrels_of: BTreeMap<String, Qrels> = BTreeMap::new();
    for name in &exp.grid.datasets {
        let dir = exp.data.join(name);
        let ds = Dataset::open(&dir)
            .with_context(|| format!("opening data folder {}", dir.display()))?;
        let test = ds.split(Split::Test, RestvalPolicy::MergeIntoTrain);
        let image_ids: Vec<&str> = test
            .image_rows
            .iter()
            .map(|&r| ds.images.ids().id(r))
            .collect();
        let query_ids: Vec<&str> = test
            .caption_rows
            .iter()
            .map(|&r| ds.texts.ids().id(r))
            .collect();
        let mut qrels = Qrels::new();
        for (q, &i) in query_ids.iter().zip(&test.caption_image) {
            qrels.insert(*q, image_ids[i], 1);
        }
        let path = exp.runs.join(name).join("dense_test.trec");
        let run = if path.is_file() {
            Run::read_trec(&path)?
        } else {
            eprintln!("{name}: dense top-10 run of the test split …");
            let data: Vec<f32> = test
                .image_rows
                .iter()
                .flat_map(|&r| ds.images.row(r).iter().copied())
                .collect();
            let flat = DenseFlat::new(ds.dim(), data)?;
            use rayon::prelude::*;
            let lists: Vec<Vec<(u32, f32)>> = test
                .caption_rows
                .par_iter()
                .map(|&r| flat.search(ds.texts.row(r), 10))
                .collect::<Result<_, _>>()?;
            let run = Run::from_ranked_lists(&query_ids, &image_ids, &lists)?;
            std::fs::create_dir_all(exp.runs.join(name))?;
            run.write_trec(&path, "dense")?;
            run
        };
        dense.insert(name.clone(), evaluate(&run, &qrels, &PER_QUERY));
        qrels_of.insert(name.clone(), qrels);
    }
    let cells = records
        .iter()
        .map(|r| {
            let path = cell_dir(exp, &r.dataset, &r.variant, r.eta).join("test_run.trec");
            let run = Run::read_trec(&path)?;
            Ok(evaluate(&run, &qrels_of[&r.dataset], &PER_QUERY))
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(PerQuery { dense, cells })
}

fn write_table1(
    exp: &Experiment,
    config_path: &Path,
    records: &[CellRecord],
) -> anyhow::Result<()> {
    let pq = per_query(exp, records)?;
    let m = records.len() * PER_QUERY.len();
    let alpha = 0.05;
    let (datasets, backbones) = columns(exp);
    let mut md = format!(
        "# Table 1 (D2S): sparse against the dense backbone\n\nTest split, % (MRR@10 = mean \
         RR@10). † marks a paired two-tailed t-test against the dense row of the same data \
         folder with p < {alpha} after Bonferroni correction over {m} comparisons. Made by \
         `mmlsr reproduce table1` from `{}`.\n\n| backbone | model |",
        config_path.display()
    );
    let mut rule = String::from("|---|---|");
    for d in &datasets {
        let _ = write!(md, " {d} R@1 | R@5 | R@10 | MRR@10 |");
        rule.push_str("---:|---:|---:|---:|");
    }
    let _ = writeln!(md, "\n{rule}");
    let mut csv = String::from("dataset,model,measure,mean,p,p_bonferroni,significant\n");
    let mut cells_json = Vec::new();
    for b in &backbones {
        let _ = write!(md, "| {b} | dense |");
        for d in &datasets {
            match pq.dense.get(&folder_name(d, b)) {
                Some(e) => {
                    for ms in PER_QUERY {
                        let v = e.mean(ms).unwrap_or(f64::NAN) * 100.0;
                        let _ = write!(md, " {v:.2} |");
                        let _ = writeln!(
                            csv,
                            "{},dense,{},{v},,,",
                            folder_name(d, b),
                            measure_name(ms)
                        );
                    }
                }
                None => md.push_str(" – | – | – | – |"),
            }
        }
        md.push('\n');
        for &eta in &exp.grid.eta {
            for label in variant_labels(exp) {
                let _ = write!(md, "| {b} | D2S {label}, η {eta:e} |");
                for d in &datasets {
                    let name = folder_name(d, b);
                    let found = records
                        .iter()
                        .position(|r| r.dataset == name && r.eta == eta && r.variant == label);
                    let (Some(i), Some(de)) = (found, pq.dense.get(&name)) else {
                        md.push_str(" – | – | – | – |");
                        continue;
                    };
                    let e = &pq.cells[i];
                    for ms in PER_QUERY {
                        let v = e.mean(ms).unwrap_or(f64::NAN) * 100.0;
                        let t = paired_t_test(e, de, ms)?;
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

fn write_table3(
    exp: &Experiment,
    config_path: &Path,
    records: &[CellRecord],
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
    let f = |v: &serde_json::Value| v.as_f64().map_or("–".to_string(), |x| format!("{x:.2}"));
    for name in &exp.grid.datasets {
        for &eta in &exp.grid.eta {
            for label in variant_labels(exp) {
                let Some(r) = records
                    .iter()
                    .find(|r| &r.dataset == name && r.eta == eta && r.variant == label)
                else {
                    continue;
                };
                let s = &r.metrics["sparse"];
                let sem = &r.metrics["semantic20"];
                let _ = writeln!(
                    md,
                    "| {name} | {eta:e} | {label} | {} | {} | {} | {} |",
                    f(&s["exact20"]),
                    f(sem),
                    f(&s["flops"]),
                    f(&s["r1"])
                );
                let _ = writeln!(
                    csv,
                    "{name},{eta:e},{label},{},{},{},{}",
                    s["exact20"], sem, s["flops"], s["r1"]
                );
            }
        }
    }
    let json = serde_json::json!({ "cells": records.iter().map(|r| serde_json::json!({
        "dataset": r.dataset, "eta": r.eta, "variant": r.variant,
        "exact20": r.metrics["sparse"]["exact20"], "semantic20": r.metrics["semantic20"],
    })).collect::<Vec<_>>() });
    write_outputs(exp, config_path, records, "table3", &md, &csv, &json)
}

fn write_table5(
    exp: &Experiment,
    config_path: &Path,
    records: &[CellRecord],
) -> anyhow::Result<()> {
    let pq = per_query(exp, records)?;
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
    for (r, e) in records.iter().zip(&pq.cells) {
        let de = &pq.dense[&r.dataset];
        let _ = write!(md, "| {} | {} | {:e} |", r.dataset, r.variant, r.eta);
        for ms in shown {
            let (a, b) = mmlsr_metrics::paired_values(e, de, ms)?;
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
        let s = &r.metrics["sparse"];
        let _ = writeln!(
            md,
            " {:.2} | {:.2} |",
            s["r1"].as_f64().unwrap_or(f64::NAN),
            s["flops"].as_f64().unwrap_or(f64::NAN)
        );
    }
    let json = serde_json::json!({ "cells": cells_json });
    write_outputs(exp, config_path, records, "table5", &md, &csv, &json)
}

/// Variant colours of the figures (exp=0, exp=1, exp=c, exp=c+w, others).
fn variant_colour(v: &str) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match v {
        "exp=0" => RGBColor(0x1b, 0x9e, 0x77),
        "exp=1" => RGBColor(0xd9, 0x5f, 0x02),
        "exp=c" => RGBColor(0x75, 0x70, 0xb3),
        "exp=c+w" => RGBColor(0xe7, 0x29, 0x8a),
        _ => RGBColor(0x66, 0x66, 0x66),
    }
}

fn write_fig2(
    exp: &Experiment,
    config_path: &Path,
    records: &[CellRecord],
    dense: &BTreeMap<String, DenseNumbers>,
) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let out = &exp.results;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut md = format!(
        "# Figure 2 (D2S): efficiency against effectiveness, and agreement with dense\n\n\
         Made by `mmlsr reproduce fig2` from `{}`. Per data folder: `fig2a-<folder>.svg` (test \
         R@1 against FLOPs, log scale, one point per η and variant; the dashed line is the \
         dense backbone) and `fig2b-<folder>.svg` (share of test captions by how many of the \
         dense top-10 images the sparse top-10 shares; η = {:e}).\n\n\
         | data | exp | η | R@1 | FLOPs | mean top-10 overlap with dense |\n|---|---|---|---:|---:|---:|\n",
        config_path.display(),
        exp.grid.eta[0]
    );
    let mut csv = String::from("dataset,variant,eta,r1,flops,overlap_mean");
    for i in 0..=10 {
        let _ = write!(csv, ",share_overlap_{i}");
    }
    csv.push('\n');
    let mut json_cells = Vec::new();
    let io = |e: &dyn std::fmt::Display| anyhow::anyhow!("drawing: {e}");
    for name in &exp.grid.datasets {
        let cells: Vec<&CellRecord> = records.iter().filter(|r| &r.dataset == name).collect();
        let dense_run = Run::read_trec(&exp.runs.join(name).join("dense_test.trec")).ok();
        let dense_run = match dense_run {
            Some(r) => r,
            None => {
                // per_query computes and caches the dense run.
                per_query(exp, &[])?;
                Run::read_trec(&exp.runs.join(name).join("dense_test.trec"))?
            }
        };
        // Histograms and table rows.
        let mut hist_of: Vec<(String, f64, [f64; 11])> = Vec::new();
        for r in &cells {
            let run = Run::read_trec(
                &cell_dir(exp, &r.dataset, &r.variant, r.eta).join("test_run.trec"),
            )?;
            let ov = mmlsr_metrics::topk_overlap(&run, &dense_run, 10);
            let mut hist = [0.0f64; 11];
            for (_, o) in &ov {
                hist[(o * 10.0).round() as usize] += 1.0;
            }
            let n = ov.len().max(1) as f64;
            hist.iter_mut().for_each(|h| *h /= n);
            let mean = ov.iter().map(|x| x.1).sum::<f64>() / n * 10.0;
            let s = &r.metrics["sparse"];
            let (r1, flops) = (
                s["r1"].as_f64().unwrap_or(f64::NAN),
                s["flops"].as_f64().unwrap_or(f64::NAN),
            );
            let _ = writeln!(
                md,
                "| {name} | {} | {:e} | {r1:.2} | {flops:.2} | {mean:.2} |",
                r.variant, r.eta
            );
            let _ = write!(csv, "{name},{},{:e},{r1},{flops},{mean}", r.variant, r.eta);
            for h in hist {
                let _ = write!(csv, ",{h}");
            }
            csv.push('\n');
            json_cells.push(serde_json::json!({
                "dataset": name, "variant": r.variant, "eta": r.eta, "r1": r1, "flops": flops,
                "overlap_mean": mean, "overlap_histogram": hist,
            }));
            if r.eta == exp.grid.eta[0] {
                hist_of.push((r.variant.clone(), mean, hist));
            }
        }
        // 2a: R@1 against FLOPs.
        let pts: Vec<(String, f64, f64)> = cells
            .iter()
            .map(|r| {
                let s = &r.metrics["sparse"];
                (
                    r.variant.clone(),
                    s["flops"].as_f64().unwrap_or(f64::NAN).max(1e-3),
                    s["r1"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .filter(|p| p.1.is_finite() && p.2.is_finite())
            .collect();
        let dense_r1 = dense.get(name).map(|d| d.r1);
        let (xmin, xmax) = pts
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let (xmin, xmax) = if pts.is_empty() {
            (0.1, 1000.0)
        } else {
            (xmin / 2.0, xmax * 2.0)
        };
        let ymax = pts
            .iter()
            .map(|p| p.2)
            .chain(dense_r1)
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.1;
        let path = out.join(format!("fig2a-{name}.svg"));
        {
            let root = SVGBackend::new(&path, (720, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| io(&e))?;
            let mut chart = ChartBuilder::on(&root)
                .caption(format!("{name}: R@1 against FLOPs"), ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((xmin..xmax).log_scale(), 0.0..ymax)
                .map_err(|e| io(&e))?;
            chart
                .configure_mesh()
                .x_desc("FLOPs (D2S eq. 1, log scale)")
                .y_desc("test R@1 (%)")
                .draw()
                .map_err(|e| io(&e))?;
            if let Some(d) = dense_r1 {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(xmin, d), (xmax, d)],
                        6,
                        4,
                        BLACK.stroke_width(1),
                    ))
                    .map_err(|e| io(&e))?
                    .label(format!("dense ({d:.1})"))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
            }
            for v in &exp.grid.variants {
                let c = variant_colour(v);
                let mine: Vec<(f64, f64)> = pts
                    .iter()
                    .filter(|p| &p.0 == v)
                    .map(|p| (p.1, p.2))
                    .collect();
                if mine.is_empty() {
                    continue;
                }
                chart
                    .draw_series(
                        mine.iter()
                            .map(|&(x, y)| Circle::new((x, y), 5, c.filled())),
                    )
                    .map_err(|e| io(&e))?
                    .label(v.clone())
                    .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::LowerRight)
                .draw()
                .map_err(|e| io(&e))?;
            root.present().map_err(|e| io(&e))?;
        }
        // 2b: overlap histograms, one line per variant.
        let path = out.join(format!("fig2b-{name}.svg"));
        {
            let root = SVGBackend::new(&path, (720, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| io(&e))?;
            let ymax = hist_of
                .iter()
                .flat_map(|h| h.2.iter().copied())
                .fold(0.0f64, f64::max)
                .max(0.01)
                * 1.1;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!("{name}: top-10 overlap with dense"),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(0f64..10f64, 0f64..ymax)
                .map_err(|e| io(&e))?;
            chart
                .configure_mesh()
                .x_desc("images shared with the dense top-10")
                .y_desc("share of test captions")
                .draw()
                .map_err(|e| io(&e))?;
            for (v, mean, hist) in &hist_of {
                let c = variant_colour(v);
                chart
                    .draw_series(LineSeries::new(
                        hist.iter().enumerate().map(|(i, &h)| (i as f64, h)),
                        c.stroke_width(2),
                    ))
                    .map_err(|e| io(&e))?
                    .label(format!("{v} (mean {mean:.1})"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c));
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .position(SeriesLabelPosition::UpperLeft)
                .draw()
                .map_err(|e| io(&e))?;
            root.present().map_err(|e| io(&e))?;
        }
    }
    let json = serde_json::json!({ "cells": json_cells });
    write_outputs(exp, config_path, records, "fig2", &md, &csv, &json)
}
