//! `mmlsr synth`: generate the embedded default data sets.

use std::{path::PathBuf, time::Instant};

use clap::{Args, ValueEnum};
use mmlsr_synth::{BackboneKind, DatasetKind, Scale, SynthConfig};

use crate::pipelines;

/// Generate the synthetic benchmark: `synth-coco` and `synth-flickr`, each with a `strong`
/// (BLIP-like) and a `weak` (ALBEF-like) backbone, as four folders in the lsr42 layout
/// (`OUT/synth-coco-strong/`, …), each with a dataset card (README.md) stating its dense
/// text→image R@1, R@5, R@10 and MRR@10 on the test split.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Folder to write the data sets into (created if missing).
    #[arg(long, default_value = "data")]
    pub out: PathBuf,
    /// `small`: reduced training splits, full test splits (seconds; the default tables run on
    /// it). `full`: Karpathy sizes (synth-coco: 113,287 / 5,000 / 5,000 images).
    #[arg(long, value_enum, default_value_t = ScaleArg::Small)]
    pub scale: ScaleArg,
    /// Master seed; the same seed gives the same files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// A `vocab.txt` or `tokenizer.json` (e.g. bert-base-uncased's) to use instead of the
    /// built-in small vocabulary; every caption word must be one of its whole tokens.
    #[arg(long)]
    pub vocab: Option<PathBuf>,
    /// Data sets to write.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [DatasetArg::Coco, DatasetArg::Flickr])]
    pub datasets: Vec<DatasetArg>,
    /// Backbones to write.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [BackboneArg::Strong, BackboneArg::Weak])]
    pub backbones: Vec<BackboneArg>,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScaleArg {
    Small,
    Full,
    /// A few hundred images per data set, for tests.
    Tiny,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DatasetArg {
    Coco,
    Flickr,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum BackboneArg {
    Strong,
    Weak,
}

/// Validate the flags into a generation plan.
fn plan(args: &SynthArgs) -> anyhow::Result<SynthConfig> {
    if let Some(v) = &args.vocab {
        anyhow::ensure!(v.is_file(), "--vocab {}: no such file", v.display());
    }
    let mut datasets: Vec<DatasetKind> = args
        .datasets
        .iter()
        .map(|d| match d {
            DatasetArg::Coco => DatasetKind::Coco,
            DatasetArg::Flickr => DatasetKind::Flickr,
        })
        .collect();
    datasets.dedup();
    let mut backbones: Vec<BackboneKind> = args
        .backbones
        .iter()
        .map(|b| match b {
            BackboneArg::Strong => BackboneKind::Strong,
            BackboneArg::Weak => BackboneKind::Weak,
        })
        .collect();
    backbones.dedup();
    Ok(SynthConfig {
        scale: match args.scale {
            ScaleArg::Small => Scale::Small,
            ScaleArg::Full => Scale::Full,
            ScaleArg::Tiny => Scale::Tiny,
        },
        seed: args.seed,
        vocab: args.vocab.clone(),
        datasets,
        backbones,
        ..SynthConfig::default()
    })
}

pub fn run(args: SynthArgs) -> anyhow::Result<()> {
    let config = plan(&args)?;
    let start = Instant::now();
    let reports = pipelines::synth::generate_folders(&config, &args.out, args.quiet)?;
    pipelines::synth::print_reports(&reports, &args.out, start.elapsed().as_secs_f64());
    Ok(())
}
