//! The embedded default data: generating `synth-*` folders, with progress bars, and the
//! missing ones a table needs.

use std::{path::Path, sync::Mutex};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use mmlsr_synth::{
    BackboneKind, DatasetKind, FolderReport, Progress, Scale, SynthConfig, generate,
};

/// Generate the folders `config` asks for into `out`, with a progress bar per stage unless
/// `quiet`.
pub fn generate_folders(
    config: &SynthConfig,
    out: &Path,
    quiet: bool,
) -> anyhow::Result<Vec<FolderReport>> {
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let style =
        ProgressStyle::with_template("{prefix:>20} {msg:<20} [{bar:30}] {pos}/{len} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> ");
    let on_progress = |p: Progress| {
        if quiet {
            return;
        }
        let mut bar = bar.lock().expect("progress lock");
        match p {
            Progress::Stage {
                folder,
                stage,
                total,
            } => {
                if let Some(b) = bar.take() {
                    b.finish();
                }
                let b = ProgressBar::new(total).with_style(style.clone());
                b.set_prefix(folder);
                b.set_message(stage);
                *bar = Some(b);
            }
            Progress::Advance(n) => {
                if let Some(b) = bar.as_ref() {
                    b.inc(n);
                }
            }
        }
    };
    let reports = generate(config, out, &on_progress)
        .with_context(|| format!("generating the synthetic data in {}", out.display()))?;
    if let Some(b) = bar.lock().expect("progress lock").take() {
        b.finish();
    }
    Ok(reports)
}

/// Print each generated folder's size and dense test metrics.
pub fn print_reports(reports: &[FolderReport], out: &Path, seconds: f64) {
    println!(
        "\n{:<22} {:>8} {:>9} {:>7} {:>7} {:>7} {:>7} {:>7}",
        "folder", "images", "captions", "|V|", "R@1", "R@5", "MRR@10", "secs"
    );
    for r in reports {
        println!(
            "{:<22} {:>8} {:>9} {:>7} {:>7.2} {:>7.2} {:>7.2} {:>7.1}",
            r.name,
            r.sizes.total(),
            r.captions,
            r.vocab_size,
            r.dense.r1,
            r.dense.r5,
            r.dense.mrr10,
            r.seconds
        );
    }
    println!(
        "\nwrote {} folders to {} in {:.1} s (dense text→image metrics on each test split)",
        reports.len(),
        out.display(),
        seconds
    );
}

/// Generate missing `synth-*` folders (small scale, seed 42: the embedded default).
pub fn ensure_data(data: &Path, names: &[String]) -> anyhow::Result<()> {
    ensure_data_at_scale(data, names, Scale::Small)
}

/// A `--scale` name (`tiny`, `small`, `full`).
pub fn parse_scale(name: &str) -> anyhow::Result<Scale> {
    Ok(match name {
        "tiny" => Scale::Tiny,
        "small" => Scale::Small,
        "full" => Scale::Full,
        other => bail!("unknown scale {other:?}, expected tiny, small or full"),
    })
}

/// Generate missing `synth-*` folders at `scale` (seed 42).
pub fn ensure_data_at_scale(data: &Path, names: &[String], scale: Scale) -> anyhow::Result<()> {
    let missing: Vec<&String> = names.iter().filter(|n| !data.join(n).exists()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut datasets: Vec<DatasetKind> = Vec::new();
    let mut backbones: Vec<BackboneKind> = Vec::new();
    for n in &missing {
        let (ds, bb) = match n.as_str() {
            "synth-coco-strong" => (DatasetKind::Coco, BackboneKind::Strong),
            "synth-coco-weak" => (DatasetKind::Coco, BackboneKind::Weak),
            "synth-flickr-strong" => (DatasetKind::Flickr, BackboneKind::Strong),
            "synth-flickr-weak" => (DatasetKind::Flickr, BackboneKind::Weak),
            other if other.ends_with("-dense") => bail!(
                "data folder {} does not exist: download it with `mmlsr fetch lsr42/{other} \
                 --out {}` (see datasets/README.md)",
                data.join(other).display(),
                data.display()
            ),
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
        "generating the missing data under {} ({scale:?} scale): {}",
        data.display(),
        missing
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The generator writes every dataset × backbone pair asked for; ask for exactly the
    // missing folders' kinds (possibly regenerating an existing sibling identically).
    let datasets: Vec<DatasetKind> = [DatasetKind::Coco, DatasetKind::Flickr]
        .into_iter()
        .filter(|k| datasets.contains(k))
        .collect();
    let backbones: Vec<BackboneKind> = [BackboneKind::Strong, BackboneKind::Weak]
        .into_iter()
        .filter(|k| backbones.contains(k))
        .collect();
    let config = SynthConfig {
        scale,
        seed: 42,
        vocab: None,
        datasets,
        backbones,
        ..SynthConfig::default()
    };
    let start = std::time::Instant::now();
    let reports = generate_folders(&config, data, true)?;
    print_reports(&reports, data, start.elapsed().as_secs_f64());
    Ok(())
}
