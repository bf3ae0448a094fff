//! The joint sparse–dense method (Song et al., CIKM 2025) in the runner: one training run with
//! its three-mode test evaluation (`mmlsr train --method joint`), and `mmlsr reproduce joint`
//! (the paper's Table 1 layout with ablations).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};
use mmlsr_core::Qrels;
use mmlsr_metrics::{Evaluation, Measure, Run, bonferroni, evaluate, paired_t_test};
use mmlsr_model::{
    BackendKind, JointSplitEncoding, JointStart, JointTrainConfig, RetrievalMode as Mode, RunDir,
    TrainConfig, TrainData,
    host::{self, Card, SparseEncoder},
};
use mmlsr_store::{
    Dataset, DatasetFiles, Projections, RestvalPolicy, Split, Vocabulary, WordVectors, files,
};
use serde::{Deserialize, Serialize};

use super::{
    reproduce::config_hash,
    train::{Cell, Progress, train_and_evaluate},
};

/// The four measures of the joint tables.
const MEASURES: [Measure; 4] = [
    Measure::Recall(1),
    Measure::Recall(5),
    Measure::Recall(10),
    Measure::RR(10),
];

/// Test numbers of one retrieval mode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModeNumbers {
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub mrr10: f64,
    /// D2S eq. (1) FLOPs of the sparse vectors (sparse and fused modes).
    pub flops: Option<f64>,
}

impl ModeNumbers {
    fn of(means: &[f64], flops: Option<f64>) -> Self {
        Self {
            r1: means[0] * 100.0,
            r5: means[1] * 100.0,
            r10: means[2] * 100.0,
            mrr10: means[3] * 100.0,
            flops,
        }
    }
}

/// `test_metrics.json` of a joint run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JointMetrics {
    pub data: String,
    pub backend: String,
    pub best_epoch: usize,
    pub epochs_done: usize,
    pub val_r1: Option<f64>,
    pub train_seconds: f64,
    /// τ of the kept weights.
    pub tau: f64,
    pub dense: ModeNumbers,
    pub sparse: ModeNumbers,
    pub fused: ModeNumbers,
    /// Mean active terms per caption and per image vector.
    pub active_text: f64,
    pub active_image: f64,
}

/// One joint training run and its test evaluation.
pub struct JointCell<'a> {
    pub config: &'a JointTrainConfig,
    pub data: &'a Path,
    pub out: &'a Path,
    pub backend: BackendKind,
    pub resume: bool,
    pub quiet: bool,
    pub summary: bool,
}

/// A data folder opened for the joint method: pre-projection features, vocabulary, the dense
/// model's projections and the word vectors.
struct JointInputs {
    ds: Dataset,
    vocab: Vocabulary,
    projections: Projections,
    word_vectors: Option<WordVectors>,
}

impl JointInputs {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        let ds = Dataset::open_with(dir, DatasetFiles::BEFORE_PROJ).with_context(|| {
            format!(
                "opening the pre-projection features of {} (the joint method needs {} and {})",
                dir.display(),
                files::TEXT_EMBS_BEFORE_PROJ,
                files::IMG_EMBS_BEFORE_PROJ
            )
        })?;
        let vocab = Vocabulary::from_dir(dir)
            .with_context(|| format!("reading the vocabulary of {}", dir.display()))?;
        let proj_path = dir.join(files::PROJECTIONS);
        let projections = Projections::read(&proj_path).with_context(|| {
            format!(
                "reading the dense model's last layers from {} (export `text_proj`/`vision_proj` \
                 once; see datasets/README.md)",
                proj_path.display()
            )
        })?;
        let wv_path = dir.join(files::WORD_VECTORS);
        let word_vectors = if wv_path.is_file() {
            Some(WordVectors::read(&wv_path)?)
        } else {
            None
        };
        Ok(Self {
            ds,
            vocab,
            projections,
            word_vectors,
        })
    }
}

/// Evaluate an encoded split in all three modes; write `test_run_<mode>.trec` into `out` when
/// given. Returns (dense, sparse, fused) numbers.
fn evaluate_modes(
    enc: &JointSplitEncoding,
    w1: f64,
    w2: f64,
    out: Option<&Path>,
    backend: BackendKind,
) -> anyhow::Result<[ModeNumbers; 3]> {
    let runs = enc.runs(&Mode::ALL, 10, w1, w2, backend)?;
    let flops = enc.flops()?;
    let mut numbers = Vec::new();
    for (mode, run) in Mode::ALL.iter().zip(&runs) {
        let (_, means) = enc.evaluate(run, &MEASURES);
        numbers.push(ModeNumbers::of(
            &means,
            (*mode != Mode::Dense).then_some(flops),
        ));
        if let Some(out) = out {
            run.write_trec(
                &out.join(format!("test_run_{}.trec", mode.name())),
                &format!("mmlsr-joint-{}", mode.name()),
            )
            .context("writing a test run")?;
        }
    }
    let [d, s, f]: [ModeNumbers; 3] = numbers.try_into().expect("three modes");
    Ok([d, s, f])
}

/// Train a joint model, keep the best epoch, evaluate it on the test split (dense, sparse,
/// fused), write `test_metrics.json` and `test_run_{dense,sparse,fused}.trec` into `cell.out`,
/// and return the metrics.
pub fn train_joint_and_evaluate(cell: &JointCell<'_>) -> anyhow::Result<JointMetrics> {
    let config = cell.config;
    cell.backend.ensure_compiled()?;
    let dir = cell.data;
    let inputs = JointInputs::open(dir)?;
    let data = TrainData::new(&inputs.ds, &inputs.vocab, config.restval_policy())?;
    if data.test.caption_rows.is_empty() {
        bail!("{}: the test split is empty", dir.display());
    }
    let mut progress = Progress::new(cell.quiet);
    let out = cell.out;
    let report = host::train_joint(
        cell.backend,
        config,
        &data,
        JointStart {
            projections: &inputs.projections,
            word_vectors: inputs.word_vectors.as_ref(),
        },
        RunDir {
            out,
            resume: cell.resume,
        },
        &mut progress,
    )?;
    progress.finish();
    let model_dir = report
        .model_dir
        .clone()
        .context("training did not finish")?;
    let model = SparseEncoder::open(&model_dir, cell.backend)?;
    let Card::Joint(card) = model.card() else {
        bail!("{}: not a joint model", model_dir.display());
    };
    let enc = model.encode_split_joint(&data, &data.test)?;
    let numbers = evaluate_modes(
        &enc,
        config.loss.w1,
        config.loss.w2,
        Some(out),
        cell.backend,
    )?;
    let active = (
        enc.queries.nnz() as f64 / enc.queries.n_rows().max(1) as f64,
        enc.images.nnz() as f64 / enc.images.n_rows().max(1) as f64,
    );
    let tau = card.tau;
    let [dense, sparse, fused] = numbers;
    let metrics = JointMetrics {
        data: dir.display().to_string(),
        backend: cell.backend.to_string(),
        best_epoch: report.best_epoch,
        epochs_done: report.epochs_done,
        val_r1: report.best_val_r1,
        train_seconds: report.seconds,
        tau,
        dense,
        sparse,
        fused,
        active_text: active.0,
        active_image: active.1,
    };
    mmlsr_store::atomic_write_bytes(
        &out.join("test_metrics.json"),
        &serde_json::to_vec_pretty(&metrics)?,
    )?;
    if cell.summary {
        println!(
            "{} joint: best epoch {} of {} (val sparse R@1 {}), τ {:.4}, {:.1} s",
            dir.display(),
            metrics.best_epoch,
            metrics.epochs_done,
            metrics.val_r1.map_or("-".into(), |v| format!("{v:.2}")),
            metrics.tau,
            report.seconds
        );
        println!("  test    R@1    R@5   R@10  MRR@10    FLOPs");
        for (name, m) in [
            ("dense", &metrics.dense),
            ("sparse", &metrics.sparse),
            ("fused", &metrics.fused),
        ] {
            println!(
                "  {name:<6} {:6.2} {:6.2} {:6.2} {:6.2} {}",
                m.r1,
                m.r5,
                m.r10,
                m.mrr10,
                m.flops.map_or("–".into(), |f| format!("{f:8.2}"))
            );
        }
    }
    Ok(metrics)
}

/// Dense retrieval with the data folder's own (frozen) projections applied to the
/// pre-projection features: the "frozen backbone" row, scored by the same code path as the
/// joint model's dense mode. Writes `test_run_dense.trec` into `out`.
fn frozen_dense(dir: &Path, restval: RestvalPolicy, out: &Path) -> anyhow::Result<ModeNumbers> {
    let inputs = JointInputs::open(dir)?;
    let data = TrainData::new(&inputs.ds, &inputs.vocab, restval)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let enc = host::encode_split_frozen(BackendKind::Flex, &inputs.projections, &data, &data.test)?;
    let runs = enc.runs(&[Mode::Dense], 10, 1.0, 0.0, BackendKind::Flex)?;
    runs[0]
        .write_trec(&out.join("test_run_dense.trec"), "mmlsr-frozen-dense")
        .context("writing the frozen dense run")?;
    let (_, means) = enc.evaluate(&runs[0], &MEASURES);
    Ok(ModeNumbers::of(&means, None))
}

// ---------------------------------------------------------------------------------------------
// `mmlsr reproduce joint`

/// `experiments/joint.toml`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JointExperiment {
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_data")]
    pub data: PathBuf,
    pub runs: PathBuf,
    pub results: PathBuf,
    #[serde(default)]
    pub backend: Option<BackendKind>,
    /// Data folders (every row is trained on each).
    pub datasets: Vec<String>,
    /// `JointTrainConfig` keys shared by every joint row.
    #[serde(default)]
    pub joint: toml::Table,
    /// `TrainConfig` of the D2S row (trained on the same images: restval as `joint`).
    #[serde(default)]
    pub d2s: TrainConfig,
    /// The joint rows: a name and `JointTrainConfig` keys merged over `[joint]`.
    pub rows: Vec<JointRow>,
}

fn default_data() -> PathBuf {
    PathBuf::from("data")
}

/// One joint row of the table.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JointRow {
    /// Folder name of its cells and its label in the table.
    pub name: String,
    /// What the row is (free text, printed under the table).
    #[serde(default)]
    pub description: String,
    /// Only these data folders (default: all).
    #[serde(default)]
    pub datasets: Option<Vec<String>>,
    /// Keys merged over `[joint]`.
    #[serde(default)]
    pub set: toml::Table,
    /// Modes shown in the table (default: dense, sparse, fused; a frozen-projection row's
    /// dense mode is the frozen backbone, a dense-only row's sparse mode is untrained).
    #[serde(default = "all_modes")]
    pub modes: Vec<Mode>,
}

fn all_modes() -> Vec<Mode> {
    Mode::ALL.to_vec()
}

/// Merge `over` into `base` recursively (tables merge, everything else replaces).
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct JointCellRecord {
    dataset: String,
    row: String,
    config_hash: String,
    seed: u64,
    git_commit: String,
    backend: String,
    seconds: f64,
    metrics: serde_json::Value,
}

/// Run `mmlsr reproduce joint`.
pub fn reproduce(
    config_path: &Path,
    data: Option<&Path>,
    runs: Option<&Path>,
    results: Option<&Path>,
    backend: Option<BackendKind>,
    progress: bool,
) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let mut exp: JointExperiment = toml::from_str(&text).with_context(|| {
        format!(
            "{}: not a valid joint experiment file",
            config_path.display()
        )
    })?;
    if let Some(d) = data {
        exp.data = d.to_path_buf();
    }
    if let Some(r) = runs {
        exp.runs = r.to_path_buf();
    }
    if let Some(r) = results {
        exp.results = r.to_path_buf();
    }
    let backend = backend.or(exp.backend).unwrap_or(BackendKind::Flex);
    anyhow::ensure!(
        !exp.datasets.is_empty() && !exp.rows.is_empty(),
        "{}: `datasets` and `rows` must not be empty",
        config_path.display()
    );
    // Every row's configuration, checked before anything trains.
    let mut row_configs = Vec::new();
    for row in &exp.rows {
        let mut t = exp.joint.clone();
        merge(&mut t, &row.set);
        let c: JointTrainConfig = toml::Value::Table(t).try_into().with_context(|| {
            format!(
                "{}: row {:?}: not a valid joint training configuration",
                config_path.display(),
                row.name
            )
        })?;
        c.validate_settings()
            .with_context(|| format!("{}: row {:?}", config_path.display(), row.name))?;
        row_configs.push(c);
    }
    let base: JointTrainConfig = toml::Value::Table(exp.joint.clone())
        .try_into()
        .with_context(|| format!("{}: [joint]", config_path.display()))?;
    exp.d2s
        .validate_settings()
        .with_context(|| format!("{}: [d2s]", config_path.display()))?;
    super::reproduce::ensure_data(&exp.data, &exp.datasets)?;
    let restval = base.restval_policy();
    let git_commit = super::reproduce::git_commit();
    let start = Instant::now();
    let mut records: Vec<JointCellRecord> = Vec::new();
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
        let rec = run_cell(
            &out,
            &d2s_hash,
            name,
            "d2s",
            seed,
            &git_commit,
            backend,
            |out| {
                eprintln!("{name} d2s: training ({} epochs max) …", exp.d2s.epochs);
                train_and_evaluate(&Cell {
                    config: &exp.d2s,
                    data: &dir,
                    out,
                    backend,
                    restval,
                    resume: true,
                    quiet: !progress,
                    summary: false,
                    dense: None,
                })
            },
        )?;
        records.push(rec);

        for (row, config) in exp.rows.iter().zip(&row_configs) {
            if row.datasets.as_ref().is_some_and(|d| !d.contains(name)) {
                continue;
            }
            let hash = config_hash(config, name);
            let out = exp.runs.join(name).join(&row.name);
            let seed = config.seed;
            let rec = run_cell(
                &out,
                &hash,
                name,
                &row.name,
                seed,
                &git_commit,
                backend,
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
                        quiet: !progress,
                        summary: false,
                    })?;
                    Ok(serde_json::to_value(m)?)
                },
            )?;
            records.push(rec);
        }
    }
    write_joint_table(&exp, config_path, &records, &frozen, restval)?;
    eprintln!(
        "joint: {} cells in {:.1} s; wrote {}",
        records.len(),
        start.elapsed().as_secs_f64(),
        exp.results.display()
    );
    Ok(())
}

fn restval_label(p: RestvalPolicy) -> &'static str {
    match p {
        RestvalPolicy::MergeIntoTrain => "restval-train",
        RestvalPolicy::Drop => "restval-drop",
    }
}

/// Reuse `out/cell.json` when its hash matches, otherwise train with `work` and record it.
#[allow(clippy::too_many_arguments)]
fn run_cell(
    out: &Path,
    hash: &str,
    dataset: &str,
    row: &str,
    seed: u64,
    git_commit: &str,
    backend: BackendKind,
    work: impl FnOnce(&Path) -> anyhow::Result<serde_json::Value>,
) -> anyhow::Result<JointCellRecord> {
    let path = out.join("cell.json");
    if path.is_file() {
        let rec: JointCellRecord = serde_json::from_slice(
            &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
        )
        .with_context(|| format!("{}: not a cell record", path.display()))?;
        if rec.config_hash != hash {
            bail!(
                "{} was made with another configuration (hash {} ≠ {hash}); remove {} to \
                 recompute it",
                path.display(),
                rec.config_hash,
                out.display()
            );
        }
        eprintln!("{dataset} {row}: done before, kept");
        return Ok(rec);
    }
    let t = Instant::now();
    let metrics = work(out).with_context(|| format!("cell {dataset} {row}"))?;
    let rec = JointCellRecord {
        dataset: dataset.to_string(),
        row: row.to_string(),
        config_hash: hash.to_string(),
        seed,
        git_commit: git_commit.to_string(),
        backend: backend.to_string(),
        seconds: t.elapsed().as_secs_f64(),
        metrics,
    };
    let s = |k: &str| &rec.metrics[k];
    eprintln!(
        "    sparse R@1 {:.2}  FLOPs {:.2}  dense R@1 {}  ({:.0} s)",
        s("sparse")["r1"].as_f64().unwrap_or(f64::NAN),
        s("sparse")["flops"].as_f64().unwrap_or(f64::NAN),
        s("dense")["r1"]
            .as_f64()
            .map_or("–".into(), |v| format!("{v:.2}")),
        rec.seconds
    );
    mmlsr_store::atomic_write_bytes(&path, &serde_json::to_vec_pretty(&rec)?)?;
    Ok(rec)
}

/// One printed row: label, mode, run file, numbers, and the baseline it is tested against.
struct TableRow {
    dataset: String,
    label: String,
    mode: &'static str,
    run: PathBuf,
    numbers: ModeNumbers,
    baseline: Option<PathBuf>,
}

fn numbers_of(v: &serde_json::Value) -> Option<ModeNumbers> {
    serde_json::from_value(v.clone()).ok()
}

fn write_joint_table(
    exp: &JointExperiment,
    config_path: &Path,
    records: &[JointCellRecord],
    frozen: &BTreeMap<String, ModeNumbers>,
    restval: RestvalPolicy,
) -> anyhow::Result<()> {
    let mut rows: Vec<TableRow> = Vec::new();
    for name in &exp.datasets {
        let dir = exp.runs.join(name);
        let frozen_run = dir.join("frozen").join("test_run_dense.trec");
        let d2s_run = dir.join("d2s").join("test_run.trec");
        rows.push(TableRow {
            dataset: name.clone(),
            label: "frozen backbone".into(),
            mode: "dense",
            run: frozen_run.clone(),
            numbers: frozen[name].clone(),
            baseline: None,
        });
        let find = |row: &str| records.iter().find(|r| r.dataset == *name && r.row == row);
        if let Some(r) = find("d2s") {
            let s = &r.metrics["sparse"];
            rows.push(TableRow {
                dataset: name.clone(),
                label: format!(
                    "D2S {} η={:e}",
                    exp.d2s.expansion.variant.label(),
                    exp.d2s.loss.q_reg
                ),
                mode: "sparse",
                run: d2s_run.clone(),
                numbers: ModeNumbers {
                    r1: s["r1"].as_f64().unwrap_or(f64::NAN),
                    r5: s["r5"].as_f64().unwrap_or(f64::NAN),
                    r10: s["r10"].as_f64().unwrap_or(f64::NAN),
                    mrr10: s["mrr10"].as_f64().unwrap_or(f64::NAN),
                    flops: s["flops"].as_f64(),
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
                let Some(numbers) = numbers_of(&r.metrics[mode.name()]) else {
                    continue;
                };
                rows.push(TableRow {
                    dataset: name.clone(),
                    label: row.name.clone(),
                    mode: mode.name(),
                    run: dir
                        .join(&row.name)
                        .join(format!("test_run_{}.trec", mode.name())),
                    numbers,
                    baseline: Some(if mode == Mode::Sparse {
                        d2s_run.clone()
                    } else {
                        frozen_run.clone()
                    }),
                });
            }
        }
    }
    // Paired t-tests of every tested row against its baseline, per measure; Bonferroni over
    // all of them.
    let mut qrels_of: BTreeMap<String, Qrels> = BTreeMap::new();
    for name in &exp.datasets {
        qrels_of.insert(name.clone(), test_qrels(&exp.data.join(name), restval)?);
    }
    let mut evals: BTreeMap<PathBuf, Evaluation> = BTreeMap::new();
    let mut eval_of = |path: &Path, qrels: &Qrels| -> anyhow::Result<Evaluation> {
        if let Some(e) = evals.get(path) {
            return Ok(e.clone());
        }
        let run = Run::read_trec(path).with_context(|| format!("reading {}", path.display()))?;
        let e = evaluate(&run, qrels, &MEASURES);
        evals.insert(path.to_path_buf(), e.clone());
        Ok(e)
    };
    let tested = rows.iter().filter(|r| r.baseline.is_some()).count();
    let m = tested * MEASURES.len();
    let mut p_values: Vec<Option<[f64; 4]>> = Vec::new();
    for r in &rows {
        let Some(base) = &r.baseline else {
            p_values.push(None);
            continue;
        };
        let qrels = &qrels_of[&r.dataset];
        let a = eval_of(&r.run, qrels)?;
        let b = eval_of(base, qrels)?;
        let mut ps = [1.0; 4];
        for (k, measure) in MEASURES.iter().enumerate() {
            ps[k] = bonferroni(paired_t_test(&a, &b, *measure)?.p_value, m);
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
    let mut qrels = Qrels::new();
    for (&c, &i) in split.caption_rows.iter().zip(&split.caption_image) {
        qrels.insert(
            ds.texts.ids().id(c),
            ds.images.ids().id(split.image_rows[i]),
            1,
        );
    }
    Ok(qrels)
}
