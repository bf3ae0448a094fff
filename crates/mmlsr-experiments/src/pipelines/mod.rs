//! One pipeline per method, each a whole cell of a table: open the data folder, train
//! (resumably), evaluate the kept epoch on the test split, write the cell's files, and return
//! typed metrics. Commands and `reproduce` call these; these never call commands.

use std::path::{Path, PathBuf};

use anyhow::Context;

pub mod d2s;
pub mod encode;
pub mod joint;
pub mod latency_table;
pub mod synth;

/// Above this fraction of `[UNK]` caption tokens, training and `inspect` warn.
const UNKNOWN_TOKEN_WARNING: f64 = 0.01;

/// The width of a data folder's word vectors (`word_vectors.safetensors`, or the file its
/// `mmlsr.toml` names), if it has them: the default `d_hidden` of a head trained on it (they
/// initialise the vocabulary projector, `|V| × d_hidden`; 768 for BERT's, 384 for a
/// MiniLM-sized model's).
pub fn word_vector_width(dir: &Path) -> anyhow::Result<Option<(usize, PathBuf)>> {
    let path = mmlsr_store::FolderLayout::read(dir)?.word_vectors();
    if !path.is_file() {
        return Ok(None);
    }
    let wv = mmlsr_store::WordVectors::read(&path)
        .with_context(|| format!("reading the word vectors {}", path.display()))?;
    Ok(Some((wv.dim, path)))
}

/// Warn on stderr when many caption tokens of `dir` are `[UNK]` in its vocabulary: those words
/// become no term, so the sparse vectors cannot represent them.
pub fn warn_unknown_tokens(dir: &Path, tokens: &mmlsr_store::TokenCounts) {
    if tokens.unknown_rate() > UNKNOWN_TOKEN_WARNING {
        eprintln!(
            "warning: {}: {:.1} % of the caption tokens ({} of {}) are [UNK] in this vocabulary; \
             those words become no term. Is it the vocabulary the captions belong to \
             (bert-base-uncased for BLIP and ALBEF)?",
            dir.display(),
            100.0 * tokens.unknown_rate(),
            tokens.unknown,
            tokens.tokens
        );
    }
}

/// The test results a pipeline writes into a run directory: `test_metrics.json` and the
/// `test_run*.trec` runs.
fn test_results(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n == "test_metrics.json" || (n.starts_with("test_run") && n.ends_with(".trec"))
            })
        })
        .collect();
    found.sort();
    found
}

/// Before training into `out`: with `force`, remove the test results an earlier run left
/// there (the trainer removes its own files); without, refuse when there are test results
/// but no epoch checkpoint to continue from, since a fresh run would replace them.
fn guard_test_results(out: &Path, force: bool) -> anyhow::Result<()> {
    let found = test_results(out);
    if force {
        for p in &found {
            std::fs::remove_file(p)
                .map_err(|e| anyhow::anyhow!("removing {}: {e}", p.display()))?;
        }
        return Ok(());
    }
    let has_checkpoint = std::fs::read_dir(out.join("epochs")).is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("epoch-")))
    });
    if let Some(first) = found.first()
        && !has_checkpoint
    {
        anyhow::bail!(
            "{}: the test results of an earlier run are here but no epoch checkpoint to \
             resume from; pass --force to replace the run, or choose another output directory",
            first.display()
        );
    }
    Ok(())
}
