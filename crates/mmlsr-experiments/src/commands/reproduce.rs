//! `mmlsr reproduce`: run a paper table from its TOML configuration, resumably, and write
//! the table as Markdown, CSV and JSON with a manifest of what each number was made from.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;
use clap::{Args, ValueEnum};
use mmlsr_expansion::Variant;
use mmlsr_model::{BackendKind, JointTrainConfig};
use mmlsr_store::{Dataset, RestvalPolicy, Split};

use crate::{
    cells::{self, CellMetrics, GridCell, JointTableCell, config_hash, data_checksum, git_commit},
    experiments::{Experiment, JointExperiment, LatencyExperiment, cell_dir, merge, restval_label},
    pipelines::{
        d2s::{D2sCell, DenseNumbers, train_and_evaluate},
        joint::{JointCell, ModeNumbers, frozen_dense, train_joint_and_evaluate},
        latency_table::reproduce_table6,
        synth::ensure_data,
    },
    tables,
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

impl ReproduceArgs {
    /// The flags over the experiment file: `--data`, `--runs` and `--results` replace its
    /// folders; the backend is `--backend`, else the file's, else flex.
    fn apply(
        &self,
        data: &mut PathBuf,
        runs: &mut PathBuf,
        results: &mut PathBuf,
        file_backend: Option<BackendKind>,
    ) -> BackendKind {
        for (flag, field) in [
            (&self.data, data),
            (&self.runs, runs),
            (&self.results, results),
        ] {
            if let Some(p) = flag {
                *field = p.clone();
            }
        }
        self.backend.or(file_backend).unwrap_or(BackendKind::Flex)
    }
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
    /// D2S Table 6: the latency table (`mmlsr bench`) on generated collections and on heads
    /// trained and encoded over 123,287 images (experiments/table6.toml).
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
    /// Its name (`table2`): the experiment file, cell and results folders.
    pub fn name(self) -> &'static str {
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

pub fn run(args: ReproduceArgs) -> anyhow::Result<()> {
    let table = args.table.name();
    let config_path = args
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("experiments/{table}.toml")));
    if args.table == Table::Joint {
        return reproduce_joint(&args, &config_path);
    }
    if args.table == Table::Table6 {
        let text = std::fs::read_to_string(&config_path)
            .with_context(|| format!("reading {}", config_path.display()))?;
        let mut exp: LatencyExperiment = toml::from_str(&text).with_context(|| {
            format!(
                "{}: not a valid latency experiment file",
                config_path.display()
            )
        })?;
        let backend = args.apply(&mut exp.data, &mut exp.runs, &mut exp.results, exp.backend);
        return reproduce_table6(&exp, &config_path, backend, args.progress);
    }
    let text = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let mut exp: Experiment = toml::from_str(&text)
        .with_context(|| format!("{}: not a valid experiment file", config_path.display()))?;
    let backend = args.apply(&mut exp.data, &mut exp.runs, &mut exp.results, exp.backend);
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
    // `d_hidden` follows each folder's word vectors unless `[train]` sets it.
    let train_sets_d_hidden = toml::from_str::<toml::Table>(&text)
        .ok()
        .and_then(|t| t.get("train").and_then(|t| t.as_table()).cloned())
        .is_some_and(|t| t.contains_key("d_hidden"));
    let _lock = cells::RunsLock::acquire(&exp.runs)?;
    ensure_data(&exp.data, &exp.grid.datasets)?;
    let git_commit = git_commit();
    let start = Instant::now();
    let n_cells = exp.grid.datasets.len() * exp.grid.eta.len() * variants.len();
    let mut records = Vec::new();
    // Each trained cell's per-query rows are written as soon as it finishes.
    let mut per_query = tables::PerQuerySync::open(&exp)?;
    let mut dense_rows: BTreeMap<String, DenseNumbers> = BTreeMap::new();
    let mut done = 0;
    for name in &exp.grid.datasets {
        let dir = exp.data.join(name);
        let ds = Dataset::open(&dir)
            .with_context(|| format!("opening data folder {}", dir.display()))?;
        // Read every file of the folder only when some cell of it is trained.
        let mut checksum: Option<String> = None;
        let dense = DenseNumbers::of(&ds, &ds.split(Split::Test, RestvalPolicy::MergeIntoTrain))?;
        dense_rows.insert(name.clone(), dense.clone());
        drop(ds);
        let mut d_hidden = exp.train.d_hidden;
        if !train_sets_d_hidden
            && let Some((width, path)) = crate::pipelines::word_vector_width(&dir)?
            && width != d_hidden
        {
            eprintln!(
                "{name}: d_hidden = {width} (the width of {}; set d_hidden under [train] to \
                 override)",
                path.display()
            );
            d_hidden = width;
        }
        for &eta in &exp.grid.eta {
            for &variant in &variants {
                done += 1;
                let mut config = exp.train.clone();
                config.d_hidden = d_hidden;
                config.expansion.variant = variant;
                config.loss.q_reg = eta;
                config.loss.d_reg = eta;
                config
                    .validate_settings()
                    .with_context(|| format!("{}: [train]", config_path.display()))?;
                let hash = config_hash(&config, name);
                let out = cell_dir(&exp, name, variant.label(), eta);
                if let Some(rec) = cells::kept::<GridCell>(&out, &hash)? {
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
                let metrics = train_and_evaluate(&D2sCell {
                    config: &config,
                    data: &dir,
                    out: &out,
                    backend,
                    restval: RestvalPolicy::MergeIntoTrain,
                    resume: true,
                    force: false,
                    quiet: !args.progress,
                    summary: false,
                    dense: Some(dense.clone()),
                })
                .with_context(|| format!("cell {name} {} η={eta:e}", variant.label()))?;
                let rec = GridCell {
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
                let s = &rec.metrics.sparse;
                eprintln!(
                    "    R@1 {:.2}  R@5 {:.2}  MRR@10 {:.2}  FLOPs {:.2}  ({:.0} s)",
                    s.r1, s.r5, s.mrr10, s.flops, rec.seconds
                );
                cells::save(&out, &rec)?;
                per_query.record(&rec)?;
                records.push(rec);
            }
        }
    }
    let pq = per_query.finish(&records)?;
    match args.table {
        Table::Table1 => tables::write_table1(&exp, &config_path, &records, &pq)?,
        Table::Table2 => tables::write_table2(&exp, &config_path, &records, &dense_rows, &pq)?,
        Table::Table3 => tables::write_table3(&exp, &config_path, &records)?,
        Table::Table5 => tables::write_table5(&exp, &config_path, &records, &pq)?,
        Table::Fig2 => tables::write_fig2(&exp, &config_path, &records, &dense_rows, &pq)?,
        Table::Table6 | Table::Joint => unreachable!("handled above"),
    }
    eprintln!(
        "{table}: {n_cells} cells in {:.1} s; wrote {}",
        start.elapsed().as_secs_f64(),
        exp.results.display()
    );
    Ok(())
}

/// `mmlsr reproduce joint`: the frozen backbone, D2S and every joint row on each data folder.
fn reproduce_joint(args: &ReproduceArgs, config_path: &Path) -> anyhow::Result<()> {
    let progress = args.progress;
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let mut exp: JointExperiment = toml::from_str(&text).with_context(|| {
        format!(
            "{}: not a valid joint experiment file",
            config_path.display()
        )
    })?;
    let backend = args.apply(&mut exp.data, &mut exp.runs, &mut exp.results, exp.backend);
    anyhow::ensure!(
        !exp.datasets.is_empty() && !exp.rows.is_empty(),
        "{}: `datasets` and `rows` must not be empty",
        config_path.display()
    );
    // Every row's configuration on every data folder ([joint], then the folder's
    // [per_dataset] keys, then the row's `set`), checked before anything trains.
    for name in exp.per_dataset.keys() {
        anyhow::ensure!(
            exp.datasets.contains(name),
            "{}: [per_dataset.{name:?}] names no folder of `datasets`",
            config_path.display()
        );
    }
    let mut row_configs: BTreeMap<(usize, String), JointTrainConfig> = BTreeMap::new();
    for (i, row) in exp.rows.iter().enumerate() {
        for name in &exp.datasets {
            let mut t = exp.joint.clone();
            if let Some(over) = exp.per_dataset.get(name) {
                merge(&mut t, over);
            }
            merge(&mut t, &row.set);
            let c: JointTrainConfig = toml::Value::Table(t).try_into().with_context(|| {
                format!(
                    "{}: row {:?} on {name}: not a valid joint training configuration",
                    config_path.display(),
                    row.name
                )
            })?;
            c.validate_settings().with_context(|| {
                format!("{}: row {:?} on {name}", config_path.display(), row.name)
            })?;
            row_configs.insert((i, name.clone()), c);
        }
    }
    let base: JointTrainConfig = toml::Value::Table(exp.joint.clone())
        .try_into()
        .with_context(|| format!("{}: [joint]", config_path.display()))?;
    exp.d2s
        .validate_settings()
        .with_context(|| format!("{}: [d2s]", config_path.display()))?;
    let _lock = cells::RunsLock::acquire(&exp.runs)?;
    ensure_data(&exp.data, &exp.datasets)?;
    let restval = base.restval_policy();
    let git_commit = git_commit();
    let start = Instant::now();
    let mut records: Vec<JointTableCell> = Vec::new();
    let mut frozen: BTreeMap<String, ModeNumbers> = BTreeMap::new();
    for name in &exp.datasets {
        let dir = exp.data.join(name);
        // Frozen dense backbone.
        let fdir = exp.runs.join(name).join("frozen");
        let fjson = fdir.join("test_metrics.json");
        let numbers = match std::fs::read(&fjson) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("{}: not a metrics file", fjson.display()))?,
            Err(_) => {
                let n = frozen_dense(&dir, restval, &fdir)?;
                mmlsr_store::atomic_write_bytes(&fjson, &serde_json::to_vec_pretty(&n)?)?;
                n
            }
        };
        eprintln!("{name} frozen dense: R@1 {:.2}", numbers.r1);
        frozen.insert(name.clone(), numbers);

        // D2S on the same training images.
        let d2s_hash = config_hash(&(&exp.d2s, restval_label(restval)), name);
        let out = exp.runs.join(name).join("d2s");
        let seed = exp.d2s.seed;
        let rec = joint_table_cell(
            JointCellKey {
                out: &out,
                hash: &d2s_hash,
                dataset: name,
                row: "d2s",
                seed,
                git_commit: &git_commit,
                backend,
            },
            |out| {
                eprintln!("{name} d2s: training ({} epochs max) …", exp.d2s.epochs);
                train_and_evaluate(&D2sCell {
                    config: &exp.d2s,
                    data: &dir,
                    out,
                    backend,
                    restval,
                    resume: true,
                    force: false,
                    quiet: !progress,
                    summary: false,
                    dense: None,
                })
                .map(CellMetrics::D2s)
            },
        )?;
        records.push(rec);

        for (i, row) in exp.rows.iter().enumerate() {
            if row.datasets.as_ref().is_some_and(|d| !d.contains(name)) {
                continue;
            }
            let config = &row_configs[&(i, name.clone())];
            let hash = config_hash(config, name);
            let out = exp.runs.join(name).join(&row.name);
            let seed = config.seed;
            let rec = joint_table_cell(
                JointCellKey {
                    out: &out,
                    hash: &hash,
                    dataset: name,
                    row: &row.name,
                    seed,
                    git_commit: &git_commit,
                    backend,
                },
                |out| {
                    eprintln!(
                        "{name} {}: training ({} epochs max) …",
                        row.name, config.epochs
                    );
                    let m = train_joint_and_evaluate(&JointCell {
                        config,
                        data: &dir,
                        out,
                        backend,
                        resume: true,
                        force: false,
                        quiet: !progress,
                        summary: false,
                    })?;
                    Ok(CellMetrics::Joint(m))
                },
            )?;
            records.push(rec);
        }
    }
    tables::joint::write_joint_table(&exp, config_path, &records, &frozen, restval)?;
    eprintln!(
        "joint: {} cells in {:.1} s; wrote {}",
        records.len(),
        start.elapsed().as_secs_f64(),
        exp.results.display()
    );
    Ok(())
}

/// What identifies a cell of the joint table and how it is made.
struct JointCellKey<'a> {
    out: &'a Path,
    hash: &'a str,
    dataset: &'a str,
    row: &'a str,
    seed: u64,
    git_commit: &'a str,
    backend: BackendKind,
}

/// Reuse `out/cell.json` when its hash matches, otherwise train with `work` and record it.
fn joint_table_cell(
    key: JointCellKey<'_>,
    work: impl FnOnce(&Path) -> anyhow::Result<CellMetrics>,
) -> anyhow::Result<JointTableCell> {
    let JointCellKey {
        out,
        hash,
        dataset,
        row,
        ..
    } = key;
    if let Some(rec) = cells::kept::<JointTableCell>(out, hash)? {
        eprintln!("{dataset} {row}: done before, kept");
        return Ok(rec);
    }
    let t = Instant::now();
    let metrics = work(out).with_context(|| format!("cell {dataset} {row}"))?;
    let rec = JointTableCell {
        dataset: dataset.to_string(),
        row: row.to_string(),
        config_hash: hash.to_string(),
        seed: key.seed,
        git_commit: key.git_commit.to_string(),
        backend: key.backend.to_string(),
        seconds: t.elapsed().as_secs_f64(),
        metrics,
    };
    let (sparse_r1, flops, dense_r1) = match &rec.metrics {
        CellMetrics::Joint(m) => (
            m.sparse.r1,
            m.sparse.flops.unwrap_or(f64::NAN),
            Some(m.dense.r1),
        ),
        CellMetrics::D2s(m) => (m.sparse.r1, m.sparse.flops, Some(m.dense.r1)),
    };
    eprintln!(
        "    sparse R@1 {sparse_r1:.2}  FLOPs {flops:.2}  dense R@1 {}  ({:.0} s)",
        dense_r1.map_or("–".into(), |v| format!("{v:.2}")),
        rec.seconds
    );
    cells::save(out, &rec)?;
    Ok(rec)
}
