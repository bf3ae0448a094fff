//! The joint sparse–dense method (Song et al., CIKM 2025) as one pipeline: train, keep the
//! best epoch, evaluate it on the test split in the dense, sparse and fused modes, and write
//! `test_metrics.json` and the three test runs; and the frozen dense backbone scored by the
//! same code.

use std::path::Path;

use anyhow::{Context, bail};
use mmlsr_model::{
    BackendKind, JointSplitEncoding, JointStart, JointTrainConfig, RetrievalMode as Mode, RunDir,
    TrainData,
    host::{self, Card, SparseEncoder},
};
use mmlsr_store::{
    Dataset, DatasetFiles, FolderLayout, Projections, RestvalPolicy, Vocabulary, WordVectors,
};
use serde::{Deserialize, Serialize};

use crate::{evaluation::TEST_MEASURES, progress::Progress};

/// Test numbers of one retrieval mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModeNumbers {
    pub r1: f64,
    pub r5: f64,
    pub r10: f64,
    pub mrr10: f64,
    /// D2S eq. (1) FLOPs of the sparse vectors (sparse and fused modes).
    pub flops: Option<f64>,
}

impl ModeNumbers {
    pub fn of(means: &[f64], flops: Option<f64>) -> Self {
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Replace a run found in `out` (its training files and test results).
    pub force: bool,
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
        let layout = FolderLayout::read(dir)?;
        let ds = Dataset::open_with(dir, DatasetFiles::BEFORE_PROJ).with_context(|| {
            format!(
                "opening the pre-projection features of {} (the joint method needs {} and {}; \
                 holi-lab's *_before_proj_{{blip,albef}}.parquet names go in the folder's \
                 mmlsr.toml)",
                dir.display(),
                layout.text_embs_before_proj().display(),
                layout.img_embs_before_proj().display()
            )
        })?;
        let vocab = Vocabulary::from_layout(&layout)
            .with_context(|| format!("reading the vocabulary of {}", dir.display()))?;
        let proj_path = layout.projections();
        let projections = Projections::read(&proj_path).with_context(|| {
            format!(
                "reading the dense model's last layers from {} (export `text_proj`/`vision_proj` \
                 once with scripts/export_projections.py; see datasets/README.md)",
                proj_path.display()
            )
        })?;
        let wv_path = layout.word_vectors();
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
) -> anyhow::Result<[ModeNumbers; 3]> {
    let runs = enc.runs(&Mode::ALL, 10, w1, w2)?;
    let flops = enc.flops()?;
    let mut numbers = Vec::new();
    for (mode, run) in Mode::ALL.iter().zip(&runs) {
        let (_, means) = enc.evaluate(run, &TEST_MEASURES);
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
    super::warn_unknown_tokens(dir, &data.tokens);
    if data.test.caption_rows.is_empty() {
        bail!("{}: the test split is empty", dir.display());
    }
    let out = cell.out;
    super::guard_test_results(out, cell.force)?;
    let mut progress = Progress::new(cell.quiet);
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
            force: cell.force,
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
    let numbers = evaluate_modes(&enc, config.loss.w1, config.loss.w2, Some(out))?;
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
pub fn frozen_dense(dir: &Path, restval: RestvalPolicy, out: &Path) -> anyhow::Result<ModeNumbers> {
    let inputs = JointInputs::open(dir)?;
    let data = TrainData::new(&inputs.ds, &inputs.vocab, restval)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let enc = host::encode_split_frozen(BackendKind::Flex, &inputs.projections, &data, &data.test)?;
    let runs = enc.runs(&[Mode::Dense], 10, 1.0, 0.0)?;
    runs[0]
        .write_trec(&out.join("test_run_dense.trec"), "mmlsr-frozen-dense")
        .context("writing the frozen dense run")?;
    let (_, means) = enc.evaluate(&runs[0], &TEST_MEASURES);
    Ok(ModeNumbers::of(&means, None))
}
