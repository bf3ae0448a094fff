//! `mmlsr train`: train a D2S sparse head on a data folder, then evaluate it on the test split.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use mmlsr_expansion::Variant;
use mmlsr_model::{BackendKind, JointTrainConfig, TrainConfig};
use mmlsr_store::RestvalPolicy;

use crate::pipelines;

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
    /// projector when present, and its width is `d_hidden` unless `--config` sets it).
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
    /// Continue an interrupted run in --out (same settings; --epochs may be raised).
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,
    /// Replace a run already in --out (its checkpoints, model, log and test results).
    /// Without it, training into a folder that holds a run is refused.
    #[arg(long)]
    pub force: bool,
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

/// The `--config` file's text, if one was given.
fn config_text(args: &TrainArgs) -> anyhow::Result<Option<String>> {
    args.config
        .as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()
}

/// Whether a configuration text (already parsed as a configuration) sets `d_hidden` itself.
fn sets_d_hidden(text: Option<&str>) -> bool {
    text.and_then(|t| toml::from_str::<toml::Table>(t).ok())
        .is_some_and(|table| table.contains_key("d_hidden"))
}

/// `d_hidden` defaults to the width of the folder's word vectors
/// ([`pipelines::word_vector_width`]); a folder without word vectors keeps the default (768).
fn adopt_word_vector_width(d_hidden: &mut usize, data: &std::path::Path) -> anyhow::Result<()> {
    if let Some((width, path)) = crate::pipelines::word_vector_width(data)?
        && width != *d_hidden
    {
        eprintln!(
            "d_hidden = {width} (the width of {}; set d_hidden in a --config file to override)",
            path.display()
        );
        *d_hidden = width;
    }
    Ok(())
}

/// Defaults, then the TOML file (`d_hidden`, when the file does not set it: the width of the
/// data folder's word vectors), then flags.
pub fn plan(args: &TrainArgs) -> anyhow::Result<TrainConfig> {
    let text = config_text(args)?;
    let mut c = match (&args.config, &text) {
        (Some(p), Some(text)) => toml::from_str::<TrainConfig>(text)
            .with_context(|| format!("{}: not a valid training configuration", p.display()))?,
        _ => TrainConfig::default(),
    };
    if !sets_d_hidden(text.as_deref()) {
        adopt_word_vector_width(&mut c.d_hidden, &args.data)?;
    }
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

/// Defaults, then the TOML file (`d_hidden` as for [`plan`]), then flags, for `--method joint`.
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
    let text = config_text(args)?;
    let mut c = match (&args.config, &text) {
        (Some(p), Some(text)) => toml::from_str::<JointTrainConfig>(text).with_context(|| {
            format!("{}: not a valid joint training configuration", p.display())
        })?,
        _ => JointTrainConfig::default(),
    };
    if !sets_d_hidden(text.as_deref()) {
        adopt_word_vector_width(&mut c.d_hidden, &args.data)?;
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
    if let Some(r) = args.restval {
        c.use_restval = matches!(r, RestvalArg::Train);
    }
    c.validate_settings()?;
    Ok(c)
}

pub fn run(args: TrainArgs) -> anyhow::Result<()> {
    if args.method == Method::Joint {
        let config = plan_joint(&args)?;
        pipelines::joint::train_joint_and_evaluate(&pipelines::joint::JointCell {
            config: &config,
            data: &args.data,
            out: &args.out,
            backend: args.backend,
            resume: args.resume,
            force: args.force,
            quiet: args.quiet,
            summary: true,
        })?;
        return Ok(());
    }
    let config = plan(&args)?;
    pipelines::d2s::train_and_evaluate(&pipelines::d2s::D2sCell {
        config: &config,
        data: &args.data,
        out: &args.out,
        backend: args.backend,
        restval: args.restval.unwrap_or(RestvalArg::Train).policy(),
        resume: args.resume,
        force: args.force,
        quiet: args.quiet,
        summary: true,
        dense: None,
    })?;
    Ok(())
}
