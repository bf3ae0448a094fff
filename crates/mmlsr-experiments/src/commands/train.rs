//! `mmlsr train`: train a D2S sparse head on a data folder, then evaluate it on the test split.

use std::{
    ops::ControlFlow,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mmlsr_expansion::Variant;
use mmlsr_model::{
    BackendKind, EpochStats, JointTrainConfig, RunDir, StepStats, TrainConfig, TrainData,
    TrainObserver, TrainPlan,
    eval::SparseEval,
    host::{self, SparseEncoder},
};
use mmlsr_store::{Dataset, RestvalPolicy, Vocabulary, WordVectors, files};
use serde::Serialize;

/// Train a D2S sparse projection head (Nguyen et al., ECIR 2024) on the frozen dense vectors
/// of a data folder, or (`--method joint`) fine-tune the dense model's last layers together
/// with a sparse head (Song et al., CIKM 2025); keep the epoch with the best validation
/// (sparse) R@1, and evaluate it on the test split (exhaustive text→image R@1/R@5/R@10/MRR@10,
/// FLOPs; D2S: Exact@20 next to the dense numbers; joint: dense, sparse and fused modes).
///
/// Settings come from the defaults (the released code's), then `--config FILE.toml` (a
/// `TrainConfig`, or a `JointTrainConfig` with `--method joint`: unknown keys are errors), then
/// the flags given here. The output directory holds `config.json`, `train_log.csv`, the latest
/// and best epoch checkpoints, `model/` (the kept weights), `test_metrics.json` and the test
/// runs (`test_run.trec`; joint: `test_run_{dense,sparse,fused}.trec`). An interrupted run
/// continues with `--resume` and reaches the same weights.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The data folder (lsr42 layout: dataset_meta.json, img_embs.parquet, text_embs.parquet,
    /// vocab.txt or tokenizer.json; word_vectors.safetensors initialises the vocabulary
    /// projector when present).
    pub data: PathBuf,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// d2s: a head on frozen dense vectors; joint: also fine-tune `text_proj`/`vision_proj`
    /// from the folder's pre-projection features and projections.safetensors.
    #[arg(long, value_enum, default_value_t = Method::D2s)]
    pub method: Method,
    /// A TOML file with `TrainConfig` (or `JointTrainConfig`) keys (see experiments/README.md).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Expansion variant of D2S Table 2: exp=0, exp=1, exp=c or exp=c+w.
    #[arg(long)]
    pub variant: Option<Variant>,
    /// Regulariser weight η for both captions and images (Table 2: 1e-3 or 1e-5).
    #[arg(long)]
    pub eta: Option<f64>,
    /// Maximum epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Caption–image pairs per batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Seed of initialisation, shuffling and expansion draws.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Early-stopping patience in epochs.
    #[arg(long)]
    pub patience: Option<usize>,
    /// Restrict the head to the terms that occur in the folder's captions (faster with a
    /// 30,522-term vocabulary; other terms can never be activated).
    #[arg(long)]
    pub prune_vocab: bool,
    /// Burn backend: flex (default CPU), ndarray, cuda, tch (each needs its cargo feature).
    #[arg(long, default_value = "flex")]
    pub backend: BackendKind,
    /// Continue an interrupted run in --out.
    #[arg(long)]
    pub resume: bool,
    /// Merge Karpathy's restval images into train or drop them (default: train for D2S; the
    /// configuration's `use_restval`, false as released, for joint).
    #[arg(long, value_enum)]
    pub restval: Option<RestvalArg>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Which method `mmlsr train` trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// Dense2Sparse (Nguyen et al., ECIR 2024).
    D2s,
    /// Joint sparse–dense optimisation (Song et al., CIKM 2025).
    Joint,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RestvalArg {
    /// Merge into train (Karpathy / BLIP convention).
    Train,
    /// Ignore (the joint method's released code).
    Drop,
}

impl RestvalArg {
    pub fn policy(self) -> RestvalPolicy {
        match self {
            RestvalArg::Train => RestvalPolicy::MergeIntoTrain,
            RestvalArg::Drop => RestvalPolicy::Drop,
        }
    }
}

/// Defaults, then the TOML file, then flags.
pub fn plan(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let mut c = match &args.config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<TrainConfig>(&text)
                .with_context(|| format!("{}: not a valid training configuration", p.display()))?
        }
        None => TrainConfig::default(),
    };
    if let Some(v) = args.variant {
        c.expansion.variant = v;
    }
    if let Some(eta) = args.eta {
        c.loss.q_reg = eta;
        c.loss.d_reg = eta;
    }
    if let Some(e) = args.epochs {
        c.epochs = e;
    }
    if let Some(b) = args.batch_size {
        c.batch_size = b;
    }
    if let Some(s) = args.seed {
        c.seed = s;
    }
    if args.patience.is_some() {
        c.patience = args.patience;
    }
    if args.prune_vocab {
        c.prune_vocabulary = true;
    }
    c.validate_settings()?;
    Ok(c)
}

/// Progress bar with loss, active terms and ETA.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
}

impl Progress {
    pub(crate) fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }

    /// Remove the bar.
    pub(crate) fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl TrainObserver for Progress {
    fn on_start(&mut self, plan: &TrainPlan) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(plan.total_steps as u64).with_style(
            ProgressStyle::with_template(
                "{prefix:>9} [{bar:30}] {pos}/{len} steps {msg} ({elapsed}, ETA {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_position(plan.start_step as u64);
        bar.set_prefix(format!("epoch {}", plan.start_epoch + 1));
        self.bar = Some(bar);
    }

    fn on_step(&mut self, s: &StepStats) {
        if let Some(b) = &self.bar {
            b.set_prefix(format!("epoch {}", s.epoch));
            b.set_message(format!(
                "loss {:.4} (kd {:.4})  terms q {:.1} d {:.1}  flops {:.2}",
                s.loss, s.distill, s.active_text, s.active_image, s.flops
            ));
            b.inc(1);
        }
    }

    fn on_epoch(&mut self, e: &EpochStats) -> ControlFlow<()> {
        let line = format!(
            "epoch {:>3}: mean loss {:.4}  val R@1 {}  best epoch {}  ({:.1} s)",
            e.epoch,
            e.mean_loss,
            e.val_r1.map_or("-".into(), |v| format!("{v:.2}")),
            e.best_epoch,
            e.seconds
        );
        match &self.bar {
            Some(b) => b.println(line),
            None if !self.quiet => println!("{line}"),
            None => {}
        }
        ControlFlow::Continue(())
    }
}

/// Dense text→image numbers on a split, for comparison.
#[derive(Debug, Clone, Serialize)]
pub struct DenseNumbers {
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub mrr10: f64,
}

impl DenseNumbers {
    /// Brute-force dense text→image metrics of `split`.
    pub fn of(ds: &Dataset, split: &mmlsr_store::SplitView) -> Self {
        let e = super::dense_text_to_image(ds, split);
        Self {
            r1: e.r1,
            r5: e.r5,
            r10: e.r10,
            mrr10: e.mrr10,
        }
    }
}

#[derive(Debug, Serialize)]
struct TestMetrics<'a> {
    data: String,
    backend: String,
    variant: &'static str,
    q_reg: f64,
    d_reg: f64,
    best_epoch: usize,
    val_r1: Option<f64>,
    train_seconds: f64,
    dense: &'a DenseNumbers,
    sparse: &'a SparseEval,
    /// Semantic@20 (D2S eq. 3, ×100) of the caption vectors against the folder's static
    /// word vectors; absent when the folder has none.
    semantic20: Option<f64>,
}

/// Defaults, then the TOML file, then flags, for `--method joint`.
pub fn plan_joint(args: &TrainArgs) -> anyhow::Result<JointTrainConfig> {
    for (given, flag) in [
        (args.variant.is_some(), "--variant"),
        (args.eta.is_some(), "--eta"),
        (args.prune_vocab, "--prune-vocab"),
    ] {
        if given {
            bail!(
                "{flag} applies to D2S only; set the joint loss weights (loss.q_reg, loss.d_reg, …) \
                 in a --config file"
            );
        }
    }
    let mut c = match &args.config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str::<JointTrainConfig>(&text).with_context(|| {
                format!("{}: not a valid joint training configuration", p.display())
            })?
        }
        None => JointTrainConfig::default(),
    };
    if let Some(e) = args.epochs {
        c.epochs = e;
    }
    if let Some(b) = args.batch_size {
        c.batch_size = b;
    }
    if let Some(s) = args.seed {
        c.seed = s;
    }
    if args.patience.is_some() {
        c.patience = args.patience;
    }
    if let Some(r) = args.restval {
        c.use_restval = matches!(r, RestvalArg::Train);
    }
    c.validate_settings()?;
    Ok(c)
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if args.method == Method::Joint {
        let config = plan_joint(&args)?;
        super::joint::train_joint_and_evaluate(&super::joint::JointCell {
            config: &config,
            data: &args.data,
            out: &args.out,
            backend: args.backend,
            resume: args.resume,
            quiet: args.quiet,
            summary: true,
        })?;
        return Ok(());
    }
    let config = plan(&args)?;
    train_and_evaluate(&Cell {
        config: &config,
        data: &args.data,
        out: &args.out,
        backend: args.backend,
        restval: args.restval.unwrap_or(RestvalArg::Train).policy(),
        resume: args.resume,
        quiet: args.quiet,
        summary: true,
        dense: None,
    })?;
    Ok(())
}

/// One training run and its test evaluation.
pub struct Cell<'a> {
    pub config: &'a TrainConfig,
    pub data: &'a Path,
    pub out: &'a Path,
    pub backend: BackendKind,
    pub restval: RestvalPolicy,
    /// Continue a run found in `out` (a fresh directory starts a new run either way).
    pub resume: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Print the test summary.
    pub summary: bool,
    /// Dense test numbers when already known (computed otherwise).
    pub dense: Option<DenseNumbers>,
}

/// Train, keep the best epoch, evaluate it on the test split, write `test_metrics.json` and
/// `test_run.trec` into `cell.out`, and return the metrics (as written).
pub fn train_and_evaluate(cell: &Cell<'_>) -> anyhow::Result<serde_json::Value> {
    let config = cell.config;
    let backend = cell.backend;
    backend.ensure_compiled()?;
    let dir = cell.data;
    let ds =
        Dataset::open(dir).with_context(|| format!("opening data folder {}", dir.display()))?;
    let vocab = Vocabulary::from_dir(dir)
        .with_context(|| format!("reading the vocabulary of {}", dir.display()))?;
    let wv_path = dir.join(files::WORD_VECTORS);
    let wv = if wv_path.is_file() {
        Some(WordVectors::read(&wv_path)?)
    } else {
        None
    };
    let data = TrainData::new(&ds, &vocab, cell.restval)?;
    if data.test.caption_rows.is_empty() {
        bail!("{}: the test split is empty", dir.display());
    }
    let start = Instant::now();
    let mut progress = Progress::new(cell.quiet);
    let out = cell.out;
    let report = host::train(
        backend,
        config,
        &data,
        wv.as_ref(),
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
    let dense = match &cell.dense {
        Some(d) => d.clone(),
        None => DenseNumbers::of(&ds, &data.test),
    };
    let enc = SparseEncoder::open(&model_dir, backend)?.evaluate_split(&data, &data.test)?;
    let s = &enc.eval;
    let semantic20 = match &wv {
        Some(wv) if wv.vocab_size == enc.queries.n_cols() => {
            let mut own = mmlsr_core::TermSets::new(data.vocab_size());
            for &r in &data.test.caption_rows {
                own.push_unsorted(data.terms.row(r).iter().copied())?;
            }
            Some(mmlsr_metrics::semantic_at_k(&enc.queries, &own, &wv.data, wv.dim, 20)? * 100.0)
        }
        _ => None,
    };
    let metrics = TestMetrics {
        data: dir.display().to_string(),
        backend: backend.to_string(),
        variant: config.expansion.variant.label(),
        q_reg: config.loss.q_reg,
        d_reg: config.loss.d_reg,
        best_epoch: report.best_epoch,
        val_r1: report.best_val_r1,
        train_seconds: report.seconds,
        dense: &dense,
        sparse: s,
        semantic20,
    };
    let json = serde_json::to_value(&metrics)?;
    mmlsr_store::atomic_write_bytes(
        &out.join("test_metrics.json"),
        &serde_json::to_vec_pretty(&json)?,
    )?;
    enc.run
        .write_trec(&out.join("test_run.trec"), "mmlsr-d2s")
        .context("writing the test run")?;
    if !cell.summary {
        return Ok(json);
    }
    println!(
        "{} {} η={:e}: best epoch {} of {} (val R@1 {}), {:.1} s",
        dir.display(),
        config.expansion.variant.label(),
        config.loss.q_reg,
        report.best_epoch,
        report.epochs_done,
        report.best_val_r1.map_or("-".into(), |v| format!("{v:.2}")),
        start.elapsed().as_secs_f64()
    );
    println!(
        "  test ({} captions × {} images)   R@1    R@5   R@10  MRR@10    FLOPs  Exact@20  terms q/d",
        s.queries, s.images
    );
    println!(
        "  dense                        {:6.2} {:6.2} {:6.2} {:6.2}",
        dense.r1, dense.r5, dense.r10, dense.mrr10
    );
    println!(
        "  sparse                       {:6.2} {:6.2} {:6.2} {:6.2} {:8.3} {:8.2}  {:.1}/{:.1}",
        s.r1, s.r5, s.r10, s.mrr10, s.flops, s.exact20, s.active_text, s.active_image
    );
    Ok(json)
}
