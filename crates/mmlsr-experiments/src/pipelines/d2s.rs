//! D2S as one pipeline: train a head on a data folder, keep the best epoch, evaluate it on
//! the test split next to the dense backbone, and write `test_metrics.json` and the test run.

use std::{path::Path, time::Instant};

use anyhow::{Context, bail};
use mmlsr_model::{
    BackendKind, RunDir, TrainConfig, TrainData,
    eval::SparseEval,
    host::{self, SparseEncoder},
};
use mmlsr_store::{Dataset, RestvalPolicy, Vocabulary, WordVectors};
use serde::{Deserialize, Serialize};

pub use crate::evaluation::DenseNumbers;
use crate::progress::Progress;

/// `test_metrics.json` of a D2S run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct D2sMetrics {
    /// The data folder.
    pub data: String,
    /// The Burn backend it trained on.
    pub backend: String,
    /// Expansion variant label (`exp=c`).
    pub variant: String,
    /// Caption regulariser weight η_q.
    pub q_reg: f64,
    /// Image regulariser weight η_d.
    pub d_reg: f64,
    /// The kept epoch.
    pub best_epoch: usize,
    /// Its validation R@1 (×100).
    pub val_r1: Option<f64>,
    /// Training seconds.
    pub train_seconds: f64,
    /// The dense backbone on the same test split.
    pub dense: DenseNumbers,
    /// The sparse vectors on the test split.
    pub sparse: SparseEval,
    /// Semantic@20 (D2S eq. 3, ×100) of the caption vectors against the folder's static
    /// word vectors; absent when the folder has none.
    pub semantic20: Option<f64>,
}

/// One training run and its test evaluation.
pub struct D2sCell<'a> {
    pub config: &'a TrainConfig,
    pub data: &'a Path,
    pub out: &'a Path,
    pub backend: BackendKind,
    pub restval: RestvalPolicy,
    /// Continue a run found in `out` (a fresh directory starts a new run either way).
    pub resume: bool,
    /// Replace a run found in `out` (its training files and test results).
    pub force: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Print the test summary.
    pub summary: bool,
    /// Dense test numbers when already known (computed otherwise).
    pub dense: Option<DenseNumbers>,
}

/// Train, keep the best epoch, evaluate it on the test split, write `test_metrics.json` and
/// `test_run.trec` into `cell.out`, and return the metrics (as written).
pub fn train_and_evaluate(cell: &D2sCell<'_>) -> anyhow::Result<D2sMetrics> {
    let config = cell.config;
    let backend = cell.backend;
    backend.ensure_compiled()?;
    let dir = cell.data;
    let ds =
        Dataset::open(dir).with_context(|| format!("opening data folder {}", dir.display()))?;
    let vocab = Vocabulary::from_layout(ds.layout())
        .with_context(|| format!("reading the vocabulary of {}", dir.display()))?;
    let wv_path = ds.layout().word_vectors();
    let wv = if wv_path.is_file() {
        Some(WordVectors::read(&wv_path)?)
    } else {
        None
    };
    let data = TrainData::new(&ds, &vocab, cell.restval)?;
    super::warn_unknown_tokens(dir, &data.tokens);
    if data.test.caption_rows.is_empty() {
        bail!("{}: the test split is empty", dir.display());
    }
    let start = Instant::now();
    let out = cell.out;
    super::guard_test_results(out, cell.force)?;
    let mut progress = Progress::new(cell.quiet);
    let report = host::train(
        backend,
        config,
        &data,
        wv.as_ref(),
        RunDir {
            out,
            resume: cell.resume,
            force: cell.force,
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
        None => DenseNumbers::of(&ds, &data.test)?,
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
    let metrics = D2sMetrics {
        data: dir.display().to_string(),
        backend: backend.to_string(),
        variant: config.expansion.variant.label().to_string(),
        q_reg: config.loss.q_reg,
        d_reg: config.loss.d_reg,
        best_epoch: report.best_epoch,
        val_r1: report.best_val_r1,
        train_seconds: report.seconds,
        dense: dense.clone(),
        sparse: s.clone(),
        semantic20,
    };
    // Through a JSON value, whose keys are sorted: the layout of the files written so far.
    let json = serde_json::to_value(&metrics)?;
    mmlsr_store::atomic_write_bytes(
        &out.join("test_metrics.json"),
        &serde_json::to_vec_pretty(&json)?,
    )?;
    enc.run
        .write_trec(&out.join("test_run.trec"), "mmlsr-d2s")
        .context("writing the test run")?;
    if !cell.summary {
        return Ok(metrics);
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
    Ok(metrics)
}
