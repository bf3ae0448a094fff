//! D2S Table 6 end to end (`mmlsr reproduce table6`): train the configured heads on the small
//! default folder, encode every image and caption of a collection of MSCOCO's size with each,
//! and time the index on those vectors next to generated Zipf collections and the dense
//! baselines ([`crate::latency`]).

use std::{path::Path, time::Instant};

use anyhow::Context;
use mmlsr_model::{BackendKind, TrainConfig};
use mmlsr_store::RestvalPolicy;
use serde::{Deserialize, Serialize};

use super::{
    d2s::{D2sCell, train_and_evaluate},
    encode::{EncodeJob, EncodeRows, encode},
    synth::{ensure_data, ensure_data_at_scale, parse_scale},
};
use crate::{
    cells::{self, GridCell, config_hash, data_checksum, git_commit},
    experiments::{LatencyExperiment, merge},
    latency,
};

/// `source.json` of an encoded folder: the head it was encoded with and from which folder, so
/// a rerun re-encodes only when either changed.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct EncodedSource {
    config_hash: String,
    collection: String,
}

/// Each head's training configuration: `[train]` with the head's `set` merged over it and η.
pub fn head_configs(
    exp: &LatencyExperiment,
    config_path: &Path,
) -> anyhow::Result<Vec<TrainConfig>> {
    let base = toml::Value::try_from(&exp.train)
        .context("the [train] table")?
        .as_table()
        .cloned()
        .unwrap_or_default();
    let mut configs = Vec::new();
    for (i, head) in exp.heads.iter().enumerate() {
        anyhow::ensure!(
            !exp.heads[..i].iter().any(|h| h.name == head.name),
            "{}: two heads are named {:?}",
            config_path.display(),
            head.name
        );
        anyhow::ensure!(
            !head.name.is_empty() && !head.name.contains(['/', '\\']) && head.name != "..",
            "{}: head name {:?} must be a folder name",
            config_path.display(),
            head.name
        );
        let mut t = base.clone();
        merge(&mut t, &head.set);
        let mut c: TrainConfig = toml::Value::Table(t).try_into().with_context(|| {
            format!(
                "{}: head {:?}: not a valid training configuration",
                config_path.display(),
                head.name
            )
        })?;
        c.loss.q_reg = head.eta;
        c.loss.d_reg = head.eta;
        c.validate_settings()
            .with_context(|| format!("{}: head {:?}", config_path.display(), head.name))?;
        configs.push(c);
    }
    Ok(configs)
}

/// Train (or keep) every head, encode the collection with it (or keep the encoding), and write
/// the latency table to `exp.results`.
pub fn reproduce_table6(
    exp: &LatencyExperiment,
    config_path: &Path,
    backend: BackendKind,
    progress: bool,
) -> anyhow::Result<()> {
    let configs = head_configs(exp, config_path)?;
    let scale = parse_scale(&exp.collection_scale)
        .with_context(|| format!("{}: collection_scale", config_path.display()))?;
    let _lock = cells::RunsLock::acquire(&exp.runs)?;
    let start = Instant::now();
    let collection = exp.data.join(&exp.collection);
    let mut plan = exp.bench.clone();
    plan.out = exp.results.clone();
    let mut heads: Vec<GridCell> = Vec::new();
    if !configs.is_empty() {
        ensure_data(&exp.data, std::slice::from_ref(&exp.train_on))?;
        if !collection.exists() {
            let (parent, name) = match (collection.parent(), collection.file_name()) {
                (Some(p), Some(n)) => (p, n.to_string_lossy().into_owned()),
                _ => anyhow::bail!(
                    "{}: collection {:?} is not a folder path",
                    config_path.display(),
                    exp.collection
                ),
            };
            ensure_data_at_scale(parent, &[name], scale)?;
        }
        let train_dir = exp.data.join(&exp.train_on);
        same_vocabulary(&train_dir, &collection)?;
        let commit = git_commit();
        let mut checksum: Option<String> = None;
        let n = configs.len();
        for (i, (head, config)) in exp.heads.iter().zip(&configs).enumerate() {
            let label = format!("[{}/{n}] head {}", i + 1, head.name);
            let hash = config_hash(config, &exp.train_on);
            let cell_dir = exp.runs.join(&exp.train_on).join(&head.name);
            let cell = match cells::kept::<GridCell>(&cell_dir, &hash)? {
                Some(rec) => {
                    eprintln!("{label}: trained before, kept");
                    rec
                }
                None => {
                    eprintln!(
                        "{label}: training on {} ({} epochs max) …",
                        train_dir.display(),
                        config.epochs
                    );
                    let t = Instant::now();
                    let metrics = train_and_evaluate(&D2sCell {
                        config,
                        data: &train_dir,
                        out: &cell_dir,
                        backend,
                        restval: RestvalPolicy::MergeIntoTrain,
                        resume: true,
                        force: false,
                        quiet: !progress,
                        summary: false,
                        dense: None,
                    })
                    .with_context(|| format!("head {}", head.name))?;
                    let rec = GridCell {
                        dataset: exp.train_on.clone(),
                        eta: head.eta,
                        variant: config.expansion.variant.label().to_string(),
                        config_hash: hash.clone(),
                        data_checksum: match &checksum {
                            Some(c) => c.clone(),
                            None => checksum.insert(data_checksum(&train_dir)?).clone(),
                        },
                        seed: config.seed,
                        git_commit: commit.clone(),
                        backend: backend.to_string(),
                        seconds: t.elapsed().as_secs_f64(),
                        metrics,
                    };
                    cells::save(&cell_dir, &rec)?;
                    rec
                }
            };
            let encoded = exp.runs.join("encoded").join(&head.name);
            let source = EncodedSource {
                config_hash: hash,
                collection: collection.display().to_string(),
            };
            if encoded_is_current(&encoded, &source)? {
                eprintln!("{label}: {} encoded before, kept", encoded.display());
            } else {
                eprintln!(
                    "{label}: encoding every image and caption of {} …",
                    collection.display()
                );
                let source_path = encoded.join("source.json");
                if source_path.exists() {
                    std::fs::remove_file(&source_path)
                        .with_context(|| format!("removing {}", source_path.display()))?;
                }
                encode(&EncodeJob {
                    model: &cell_dir.join("model"),
                    data: &collection,
                    out: &encoded,
                    rows: EncodeRows::All,
                    top_k: None,
                    threshold: 0.0,
                    backend,
                })
                .with_context(|| {
                    format!("head {}: encoding {}", head.name, collection.display())
                })?;
                mmlsr_store::atomic_write_bytes(
                    &source_path,
                    &serde_json::to_vec_pretty(&source)?,
                )?;
            }
            let m = &cell.metrics;
            plan.notes.push(format!(
                "`{}`: a D2S head trained on {} ({}, η = {:e}, {}, epoch {} of at most {} \
                 kept; on that folder's test split R@1 {:.2}, FLOPs {:.2}), \
                 encoding every image and caption of {}.",
                head.name,
                exp.train_on,
                cell.variant,
                head.eta,
                match config.expansion.draw {
                    mmlsr_expansion::DrawLevel::PerBatch => "caption draws per batch",
                    mmlsr_expansion::DrawLevel::PerCaption => "caption draws per caption",
                },
                m.best_epoch,
                config.epochs,
                m.sparse.r1,
                m.sparse.flops,
                exp.collection
            ));
            plan.encoded.push(encoded);
            heads.push(cell);
        }
        plan.data = Some(collection.clone());
    }
    plan.notes.push(format!(
        "Made by `mmlsr reproduce table6` from {} in {:.0} s before the timings (training and \
         encoding; finished heads and encodings are kept between runs).",
        config_path.display(),
        start.elapsed().as_secs_f64()
    ));
    latency::run(plan)?;
    // What every number was made from, as the other tables' manifests.
    let manifest = serde_json::json!({
        "config": config_path.display().to_string(),
        "experiment": exp,
        "git_commit": git_commit(),
        "cells": heads.iter().zip(&exp.heads).map(|(r, h)| serde_json::json!({
            "head": h.name, "dataset": r.dataset, "eta": r.eta, "variant": r.variant,
            "config_hash": r.config_hash,
            "data": exp.data.join(&r.dataset).display().to_string(),
            "data_checksum": r.data_checksum, "seed": r.seed, "git_commit": r.git_commit,
            "backend": r.backend, "seconds": r.seconds,
            "test_r1": r.metrics.sparse.r1, "test_flops": r.metrics.sparse.flops,
        })).collect::<Vec<_>>(),
    });
    mmlsr_store::atomic_write_bytes(
        &exp.results.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    Ok(())
}

/// The heads train on one folder and encode another: both must number terms alike.
fn same_vocabulary(a: &Path, b: &Path) -> anyhow::Result<()> {
    let read = |d: &Path| -> anyhow::Result<Vec<String>> {
        let v = mmlsr_store::Vocabulary::from_dir(d)
            .with_context(|| format!("reading the vocabulary of {}", d.display()))?;
        Ok(v.tokens()?)
    };
    anyhow::ensure!(
        read(a)? == read(b)?,
        "{} and {} have different vocabularies: a head trained on the first cannot encode the \
         second (generate both with the same seed and --vocab)",
        a.display(),
        b.display()
    );
    Ok(())
}

/// Whether `dir` holds a sealed encoding made from `source`.
fn encoded_is_current(dir: &Path, source: &EncodedSource) -> anyhow::Result<bool> {
    let Ok(bytes) = std::fs::read(dir.join("source.json")) else {
        return Ok(false);
    };
    let Ok(recorded) = serde_json::from_slice::<EncodedSource>(&bytes) else {
        return Ok(false);
    };
    if &recorded != source {
        return Ok(false);
    }
    Ok(matches!(
        mmlsr_core::verify_manifest(dir),
        Ok(mmlsr_core::Integrity::Verified { .. })
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiments::{Experiment, JointExperiment};

    fn parse(text: &str) -> anyhow::Result<LatencyExperiment> {
        Ok(toml::from_str(text)?)
    }

    const BASE: &str = "runs = \"r\"\nresults = \"o\"\ntrain_on = \"a\"\ncollection = \"b\"\n\
                        collection_scale = \"full\"\n";

    #[test]
    fn bench_keys_override_the_flag_defaults_and_unknown_ones_are_refused() {
        let exp = parse(&format!(
            "{BASE}[bench]\nqueries = 7\nheap_factor = 0.5\nheads = []\n"
        ));
        // `heads` inside [bench] is not a bench key.
        assert!(exp.is_err());
        let exp = parse(&format!(
            "{BASE}heads = []\n[bench]\nqueries = 7\nheap_factor = 0.5\n"
        ))
        .unwrap();
        let want = latency::BenchPlan {
            queries: 7,
            heap_factor: 0.5,
            ..latency::BenchPlan::default()
        };
        assert_eq!(exp.bench, want);
        // The folders are the pipeline's to set, not the file's.
        for key in [
            "out = \"x\"",
            "encoded = [\"x\"]",
            "data = \"x\"",
            "notes = []",
        ] {
            let err = parse(&format!("{BASE}heads = []\n[bench]\n{key}\n")).unwrap_err();
            assert!(
                format!("{err:#}").contains("unknown field"),
                "{key}: {err:#}"
            );
        }
    }

    #[test]
    fn head_configs_merge_over_train_and_set_eta() {
        let exp = parse(&format!(
            "{BASE}[train]\nepochs = 3\nseed = 9\n\
             [[heads]]\nname = \"a\"\neta = 1e-2\nset = {{ expansion = {{ variant = \"exp=0\" }} }}\n\
             [[heads]]\nname = \"b\"\neta = 1e-4\n\
             set = {{ epochs = 5, expansion = {{ variant = \"exp=c\", draw = \"per_caption\" }} }}\n"
        ))
        .unwrap();
        let c = head_configs(&exp, Path::new("t.toml")).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].expansion.variant, mmlsr_expansion::Variant::None);
        assert_eq!((c[0].epochs, c[0].seed), (3, 9));
        assert_eq!((c[0].loss.q_reg, c[0].loss.d_reg), (1e-2, 1e-2));
        assert_eq!(c[1].expansion.variant, mmlsr_expansion::Variant::Caption);
        assert_eq!(c[1].expansion.draw, mmlsr_expansion::DrawLevel::PerCaption);
        assert_eq!((c[1].epochs, c[1].seed), (5, 9));
        assert_eq!(c[1].loss.q_reg, 1e-4);
        // The defaults of what neither sets.
        assert_eq!(c[1].batch_size, TrainConfig::default().batch_size);
    }

    #[test]
    fn head_configs_refuse_bad_heads_by_name() {
        let head =
            |name: &str, set: &str| format!("[[heads]]\nname = \"{name}\"\neta = 1e-3\n{set}\n");
        for (heads, want) in [
            (head("a", "") + &head("a", ""), "two heads are named \"a\""),
            (head("x/y", ""), "must be a folder name"),
            (head("", ""), "must be a folder name"),
            (
                head("a", "set = { expansion = { variant = \"exp=2\" } }"),
                "head \"a\": not a valid training configuration",
            ),
            (head("a", "set = { epochs = 0 }"), "head \"a\""),
        ] {
            let exp = parse(&format!("{BASE}{heads}")).unwrap();
            let err = head_configs(&exp, Path::new("t.toml")).unwrap_err();
            assert!(format!("{err:#}").contains(want), "{heads}: {err:#}");
        }
    }

    /// Every committed experiment file (experiments/ and experiments/real/) parses with its
    /// command's schema.
    #[test]
    fn committed_experiment_files_parse() {
        let root = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../experiments"));
        let mut seen = 0;
        for dir in [root.to_path_buf(), root.join("real")] {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|e| e != "toml") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let name = path.file_stem().unwrap().to_string_lossy().into_owned();
                let parsed: anyhow::Result<()> = match name.as_str() {
                    "joint" => toml::from_str::<JointExperiment>(&text)
                        .map(drop)
                        .map_err(Into::into),
                    "table6" => parse(&text).and_then(|e| {
                        assert!(!e.heads.is_empty());
                        head_configs(&e, &path).map(drop)
                    }),
                    _ => toml::from_str::<Experiment>(&text)
                        .map(drop)
                        .map_err(Into::into),
                };
                parsed.unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 15, "found {seen} experiment files");
    }
}
