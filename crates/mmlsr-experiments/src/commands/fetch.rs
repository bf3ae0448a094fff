//! `mmlsr fetch`: download a published data set or the BERT vocabulary from the Hugging Face
//! hub into the folder layout mmlsr reads.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::HumanBytes;
use mmlsr_store::{FileNames, FolderLayout, LAYOUT_FILE, LayoutConfig, WordVectors, files};

use crate::hub::{Hub, Outcome, RepoFile, RepoKind};

/// Download from the Hugging Face hub into OUT/<name>, resumably and checked: every file's
/// size and hash must match the hub's listing (SHA-256 for LFS files, the git blob hash for
/// the others) before it is renamed into place; an interrupted download continues where it
/// stopped when the command is run again.
///
/// * `lsr42/{mscoco,flickr30k}-{blip,albef}-dense` (D2S's dense vectors): dataset_meta.json,
///   img_embs.parquet, text_embs.parquet, plus an mmlsr.toml that names the data set and
///   backbone (the tables' columns and rows), points the vocabulary and word vectors at
///   ../bert-base-uncased/, and gives holi-lab's pre-projection file names
///   ({img,text}_embs_before_proj_<backbone>.parquet) for the joint method.
/// * `bert-base-uncased`: vocab.txt, tokenizer.json, and the input word embeddings of
///   model.safetensors as word_vectors.safetensors (Semantic@20, the vocabulary projector's
///   initialisation; model.safetensors is removed afterwards unless --keep-model).
/// * any other repository: every file, or those matching --include.
///
/// The endpoint is --endpoint, else HF_ENDPOINT, else https://huggingface.co; the token
/// --token, else HF_TOKEN, else the one `huggingface-cli login` saved.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Repository id, e.g. `lsr42/mscoco-blip-dense` or `bert-base-uncased`.
    repo: String,
    /// Parent folder: the files go into OUT/<repository name> (e.g. real/mscoco-blip-dense).
    #[arg(long, default_value = "real")]
    out: PathBuf,
    /// Put the files into exactly this folder instead of OUT/<repository name>.
    #[arg(long)]
    into: Option<PathBuf>,
    /// Branch, tag or commit.
    #[arg(long, default_value = "main")]
    revision: String,
    /// Model or data-set repository (default: data set for lsr42/*, model for
    /// bert-base-uncased, otherwise data set, then model if there is none).
    #[arg(long, value_enum)]
    repo_type: Option<RepoKind>,
    /// Hub URL (default: HF_ENDPOINT, else https://huggingface.co).
    #[arg(long)]
    endpoint: Option<String>,
    /// Access token (default: HF_TOKEN, else the saved login).
    #[arg(long)]
    token: Option<String>,
    /// Only files whose path matches one of these patterns (`*` and `?` wildcards), for
    /// repositories other than the two above.
    #[arg(long, value_delimiter = ',')]
    include: Vec<String>,
    /// Keep bert-base-uncased's model.safetensors after taking its word embeddings.
    #[arg(long)]
    keep_model: bool,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
}

/// What a repository is to mmlsr.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Preset {
    /// `lsr42/<dataset>-<backbone>-dense`.
    Lsr42 {
        dataset: String,
        backbone: String,
    },
    /// `bert-base-uncased` (or `google-bert/bert-base-uncased`).
    Bert,
    Other,
}

impl Preset {
    fn of(repo: &str) -> Self {
        if matches!(repo, "bert-base-uncased" | "google-bert/bert-base-uncased") {
            return Preset::Bert;
        }
        if let Some(name) = repo.strip_prefix("lsr42/")
            && let Some(stem) = name.strip_suffix("-dense")
            && let Some((dataset, backbone)) = stem.rsplit_once('-')
            && !dataset.is_empty()
            && !backbone.is_empty()
        {
            return Preset::Lsr42 {
                dataset: dataset.to_string(),
                backbone: backbone.to_string(),
            };
        }
        Preset::Other
    }

    fn kinds(&self) -> &'static [RepoKind] {
        match self {
            Preset::Lsr42 { .. } => &[RepoKind::Dataset, RepoKind::Model],
            Preset::Bert => &[RepoKind::Model],
            Preset::Other => &[RepoKind::Dataset, RepoKind::Model],
        }
    }
}

/// The folder the vocabulary goes into, beside the data folders.
const BERT_DIR: &str = "bert-base-uncased";
const BERT_WEIGHTS: &str = "model.safetensors";

pub fn run(args: FetchArgs) -> anyhow::Result<()> {
    let repo = args.repo.trim_matches('/');
    if repo.is_empty() || repo.split('/').count() > 2 || repo.contains("..") {
        bail!(
            "{:?}: expected a repository id such as lsr42/mscoco-blip-dense",
            args.repo
        );
    }
    let preset = Preset::of(repo);
    if preset != Preset::Other && !args.include.is_empty() {
        bail!("--include is for other repositories; {repo} has its own list of files");
    }
    let hub = Hub::new(args.endpoint.as_deref(), args.token.clone(), args.quiet)?;
    let name = repo.rsplit('/').next().unwrap_or(repo);
    let dir = args.into.clone().unwrap_or_else(|| args.out.join(name));

    // The listing: the given kind, or the preset's kinds in order (the first that exists).
    let kinds: Vec<RepoKind> = match args.repo_type {
        Some(k) => vec![k],
        None => preset.kinds().to_vec(),
    };
    let mut listed = None;
    let mut errors = Vec::new();
    for &kind in &kinds {
        match hub.list(kind, repo, &args.revision) {
            Ok(files) => {
                listed = Some((kind, files));
                break;
            }
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    let Some((kind, listing)) = listed else {
        bail!(
            "{repo}: could not list its files at {}:\n  {}",
            hub.endpoint(),
            errors.join("\n  ")
        );
    };

    let wanted = select(&preset, &listing, &dir, &args.include)
        .with_context(|| format!("{repo}@{}", args.revision))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    eprintln!(
        "{repo}@{} ({} repository at {}): {} file(s), {} → {}",
        args.revision,
        match kind {
            RepoKind::Model => "model",
            RepoKind::Dataset => "data-set",
        },
        hub.endpoint(),
        wanted.len(),
        HumanBytes(wanted.iter().map(|f| f.size).sum()),
        dir.display()
    );
    for file in &wanted {
        let outcome = hub.download(kind, repo, &args.revision, file, &dir)?;
        let what = match outcome {
            Outcome::AlreadyThere => "already there, checked".to_string(),
            Outcome::Downloaded => "downloaded, checked".to_string(),
            Outcome::Resumed { from } => format!("resumed at byte {from}, checked"),
        };
        eprintln!("  {} ({}): {what}", file.path, HumanBytes(file.size));
    }

    match &preset {
        Preset::Bert => extract_word_vectors(&dir, args.keep_model)?,
        Preset::Lsr42 { dataset, backbone } => write_layout(&dir, dataset, backbone)?,
        Preset::Other => {}
    }
    println!("{}", dir.display());
    if matches!(preset, Preset::Lsr42 { .. }) {
        eprintln!(
            "next: `mmlsr fetch bert-base-uncased --out {}` once (the vocabulary), then \
             `mmlsr inspect {}`",
            dir.parent().unwrap_or(Path::new(".")).display(),
            dir.display()
        );
    }
    Ok(())
}

/// The files of the listing to download for a preset (every required one present).
fn select(
    preset: &Preset,
    listing: &[RepoFile],
    dir: &Path,
    include: &[String],
) -> anyhow::Result<Vec<RepoFile>> {
    let find = |path: &str| listing.iter().find(|f| f.path == path).cloned();
    let missing = |path: &str| {
        anyhow::anyhow!(
            "the repository has no {path} (its files: {})",
            listing
                .iter()
                .map(|f| f.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match preset {
        Preset::Lsr42 { .. } => [files::META, files::IMG_EMBS, files::TEXT_EMBS]
            .iter()
            .map(|p| find(p).ok_or_else(|| missing(p)))
            .collect(),
        Preset::Bert => {
            let mut out = vec![find(files::VOCAB).ok_or_else(|| missing(files::VOCAB))?];
            out.extend(find(files::TOKENIZER));
            // The word vectors are taken from the model weights once; after that the weights
            // are not needed again.
            if !dir.join(files::WORD_VECTORS).is_file() {
                out.push(find(BERT_WEIGHTS).ok_or_else(|| missing(BERT_WEIGHTS))?);
            }
            Ok(out)
        }
        Preset::Other => {
            let patterns = include
                .iter()
                .map(|p| glob::Pattern::new(p).with_context(|| format!("--include {p:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let out: Vec<RepoFile> = listing
                .iter()
                .filter(|f| patterns.is_empty() || patterns.iter().any(|p| p.matches(&f.path)))
                .cloned()
                .collect();
            if out.is_empty() {
                return Err(missing(&format!("file matching {}", include.join(", "))));
            }
            Ok(out)
        }
    }
}

/// bert-base-uncased's input word embeddings (`bert.embeddings.word_embeddings.weight`,
/// 30,522 × 768) as `word_vectors.safetensors`.
fn extract_word_vectors(dir: &Path, keep_model: bool) -> anyhow::Result<()> {
    let weights = dir.join(BERT_WEIGHTS);
    let out = dir.join(files::WORD_VECTORS);
    if out.is_file() && !weights.is_file() {
        return Ok(());
    }
    let wv = WordVectors::read(&weights)
        .with_context(|| format!("taking the word embeddings from {}", weights.display()))?;
    let vocab = mmlsr_store::Vocabulary::from_dir(dir)?;
    anyhow::ensure!(
        wv.vocab_size == vocab.len(),
        "{}: {} word embeddings, but {} has {} entries",
        weights.display(),
        wv.vocab_size,
        vocab.source().display(),
        vocab.len()
    );
    wv.write(&out)?;
    eprintln!(
        "  {}: {} × {} word embeddings",
        files::WORD_VECTORS,
        wv.vocab_size,
        wv.dim
    );
    if !keep_model {
        std::fs::remove_file(&weights)
            .with_context(|| format!("removing {}", weights.display()))?;
    }
    Ok(())
}

/// The `mmlsr.toml` of an lsr42 folder (kept when the folder already has one: it may have
/// been edited).
fn write_layout(dir: &Path, dataset: &str, backbone: &str) -> anyhow::Result<()> {
    if dir.join(LAYOUT_FILE).is_file() {
        eprintln!(
            "  {LAYOUT_FILE}: kept as it is ({})",
            dir.join(LAYOUT_FILE).display()
        );
        return Ok(());
    }
    let shared = Path::new("..").join(BERT_DIR);
    let config = LayoutConfig {
        dataset: Some(dataset.to_string()),
        backbone: Some(backbone.to_string()),
        files: FileNames {
            img_embs_before_proj: format!("img_embs_before_proj_{backbone}.parquet").into(),
            text_embs_before_proj: format!("text_embs_before_proj_{backbone}.parquet").into(),
            vocab: shared.join(files::VOCAB),
            tokenizer: shared.join(files::TOKENIZER),
            word_vectors: shared.join(files::WORD_VECTORS),
            ..FileNames::default()
        },
    };
    FolderLayout::write_config(dir, &config)?;
    eprintln!("  {LAYOUT_FILE}: data set {dataset}, backbone {backbone}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_from_repository_names() {
        assert_eq!(
            Preset::of("lsr42/flickr30k-albef-dense"),
            Preset::Lsr42 {
                dataset: "flickr30k".into(),
                backbone: "albef".into()
            }
        );
        assert_eq!(Preset::of("google-bert/bert-base-uncased"), Preset::Bert);
        assert_eq!(Preset::of("lsr42/other"), Preset::Other);
        assert_eq!(Preset::of("holi-lab/mm-sparse-retrieval"), Preset::Other);
    }

    #[test]
    fn include_patterns_select_files() {
        let file = |p: &str| RepoFile {
            path: p.into(),
            size: 1,
            expected: crate::hub::Expected::GitBlob("0".repeat(40)),
        };
        let listing = [
            file("img_embs_before_proj_blip.parquet"),
            file("img_embs_before_proj_albef.parquet"),
            file("sub/text_embs_before_proj_blip.parquet"),
            file("README.md"),
        ];
        let dir = Path::new("unused");
        let pick = |pats: &[&str]| {
            let pats: Vec<String> = pats.iter().map(|s| s.to_string()).collect();
            select(&Preset::Other, &listing, dir, &pats)
                .map(|v| v.into_iter().map(|f| f.path).collect::<Vec<_>>())
        };
        assert_eq!(
            pick(&["*before_proj_blip*"]).unwrap(),
            [
                "img_embs_before_proj_blip.parquet",
                "sub/text_embs_before_proj_blip.parquet"
            ]
        );
        assert_eq!(pick(&[]).unwrap().len(), 4);
        let msg = pick(&["*.json"]).unwrap_err().to_string();
        assert!(
            msg.contains("no file matching *.json") && msg.contains("README.md"),
            "{msg}"
        );
        assert!(pick(&["[a"]).is_err());
    }
}
