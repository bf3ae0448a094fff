//! Where a data folder's files are: the lsr42 names by default, or what the folder's
//! `mmlsr.toml` says (holi-lab's `*_before_proj_blip.parquet`, a vocabulary shared by several
//! folders, …), and which data set and backbone the folder holds, so that real folders group
//! into the tables' columns and rows as the synthetic ones do.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result, files};

/// The optional configuration file of a data folder.
pub const LAYOUT_FILE: &str = "mmlsr.toml";

/// The file of each role inside a data folder, relative to the folder (or absolute). Every
/// field defaults to the lsr42 / holi-lab name in [`files`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileNames {
    /// Karpathy metadata (`dataset_meta.json`).
    pub meta: PathBuf,
    /// Projected image embeddings (`img_embs.parquet`).
    pub img_embs: PathBuf,
    /// Projected caption embeddings (`text_embs.parquet`).
    pub text_embs: PathBuf,
    /// Image features before the last projection (`img_embs_before_proj.parquet`; holi-lab
    /// publishes `img_embs_before_proj_{blip,albef}.parquet`).
    pub img_embs_before_proj: PathBuf,
    /// Caption features before the last projection (`text_embs_before_proj.parquet`).
    pub text_embs_before_proj: PathBuf,
    /// `text_proj` / `vision_proj` (`projections.safetensors`).
    pub projections: PathBuf,
    /// Static word vectors for Semantic@k (`word_vectors.safetensors`).
    pub word_vectors: PathBuf,
    /// WordPiece vocabulary (`vocab.txt`).
    pub vocab: PathBuf,
    /// Hugging Face tokenizer (`tokenizer.json`; preferred over `vocab` when present).
    pub tokenizer: PathBuf,
}

impl Default for FileNames {
    fn default() -> Self {
        Self {
            meta: files::META.into(),
            img_embs: files::IMG_EMBS.into(),
            text_embs: files::TEXT_EMBS.into(),
            img_embs_before_proj: files::IMG_EMBS_BEFORE_PROJ.into(),
            text_embs_before_proj: files::TEXT_EMBS_BEFORE_PROJ.into(),
            projections: files::PROJECTIONS.into(),
            word_vectors: files::WORD_VECTORS.into(),
            vocab: files::VOCAB.into(),
            tokenizer: files::TOKENIZER.into(),
        }
    }
}

/// The contents of `mmlsr.toml`:
///
/// ```toml
/// dataset = "mscoco"        # the tables' column (data set)
/// backbone = "blip"         # the tables' row group (dense model)
/// [files]                   # any file not named keeps its lsr42 name
/// img_embs_before_proj = "img_embs_before_proj_blip.parquet"
/// vocab = "../bert-base-uncased/vocab.txt"
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutConfig {
    /// Data set name (e.g. `mscoco`, `flickr30k`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Dense backbone name (e.g. `blip`, `albef`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backbone: Option<String>,
    /// File names by role.
    #[serde(default)]
    pub files: FileNames,
}

/// A data folder's files resolved to paths, plus its data set and backbone names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderLayout {
    dir: PathBuf,
    config: LayoutConfig,
    /// Whether the folder has an `mmlsr.toml`.
    configured: bool,
}

impl FolderLayout {
    /// The layout of `dir`: its `mmlsr.toml` when there is one, the lsr42 names otherwise.
    /// A malformed `mmlsr.toml` (bad TOML, an unknown key, an empty name) is an error naming
    /// the file and the field.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join(LAYOUT_FILE);
        if !path.is_file() {
            return Ok(Self {
                dir: dir.to_path_buf(),
                config: LayoutConfig::default(),
                configured: false,
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let config: LayoutConfig =
            toml::from_str(&text).map_err(|e| Error::invalid(&path, e.to_string()))?;
        for (field, value) in [("dataset", &config.dataset), ("backbone", &config.backbone)] {
            if let Some(v) = value
                && (v.trim().is_empty() || v.contains(['/', '\\']))
            {
                return Err(Error::invalid(
                    &path,
                    format!("`{field}` is {v:?}; expected a non-empty name without slashes"),
                ));
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            config,
            configured: true,
        })
    }

    /// The lsr42 layout of `dir` (no `mmlsr.toml` read).
    pub fn lsr42(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            config: LayoutConfig::default(),
            configured: false,
        }
    }

    /// Write `config` as `dir/mmlsr.toml` (atomically).
    pub fn write_config(dir: &Path, config: &LayoutConfig) -> Result<()> {
        let path = dir.join(LAYOUT_FILE);
        let mut text = String::from(
            "# How mmlsr reads this folder: the data set and backbone it holds (the tables'\n\
             # columns and rows) and any file whose name is not the lsr42 one.\n",
        );
        text.push_str(
            &toml::to_string_pretty(config).map_err(|e| Error::invalid(&path, e.to_string()))?,
        );
        crate::atomic_write_bytes(&path, text.as_bytes())
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the folder has an `mmlsr.toml`.
    pub fn is_configured(&self) -> bool {
        self.configured
    }

    /// The parsed configuration (defaults when the folder has none).
    pub fn config(&self) -> &LayoutConfig {
        &self.config
    }

    /// The data set name from `mmlsr.toml`, if it names one.
    pub fn dataset(&self) -> Option<&str> {
        self.config.dataset.as_deref()
    }

    /// The backbone name from `mmlsr.toml`, if it names one.
    pub fn backbone(&self) -> Option<&str> {
        self.config.backbone.as_deref()
    }

    fn resolve(&self, name: &Path) -> PathBuf {
        self.dir.join(name)
    }

    /// `dataset_meta.json`.
    pub fn meta(&self) -> PathBuf {
        self.resolve(&self.config.files.meta)
    }
    /// Projected image embeddings.
    pub fn img_embs(&self) -> PathBuf {
        self.resolve(&self.config.files.img_embs)
    }
    /// Projected caption embeddings.
    pub fn text_embs(&self) -> PathBuf {
        self.resolve(&self.config.files.text_embs)
    }
    /// Image features before the last projection.
    pub fn img_embs_before_proj(&self) -> PathBuf {
        self.resolve(&self.config.files.img_embs_before_proj)
    }
    /// Caption features before the last projection.
    pub fn text_embs_before_proj(&self) -> PathBuf {
        self.resolve(&self.config.files.text_embs_before_proj)
    }
    /// `projections.safetensors`.
    pub fn projections(&self) -> PathBuf {
        self.resolve(&self.config.files.projections)
    }
    /// `word_vectors.safetensors`.
    pub fn word_vectors(&self) -> PathBuf {
        self.resolve(&self.config.files.word_vectors)
    }
    /// `vocab.txt`.
    pub fn vocab(&self) -> PathBuf {
        self.resolve(&self.config.files.vocab)
    }
    /// `tokenizer.json`.
    pub fn tokenizer(&self) -> PathBuf {
        self.resolve(&self.config.files.tokenizer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_config_every_file_has_its_lsr42_name() {
        let dir = tempfile::tempdir().unwrap();
        let l = FolderLayout::read(dir.path()).unwrap();
        assert!(!l.is_configured());
        assert_eq!(l.img_embs(), dir.path().join("img_embs.parquet"));
        assert_eq!(l.vocab(), dir.path().join("vocab.txt"));
        assert_eq!(l.dataset(), None);
    }

    #[test]
    fn a_config_renames_files_and_names_the_group() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LAYOUT_FILE),
            "dataset = \"mscoco\"\nbackbone = \"blip\"\n[files]\n\
             img_embs_before_proj = \"img_embs_before_proj_blip.parquet\"\n\
             vocab = \"../bert/vocab.txt\"\n",
        )
        .unwrap();
        let l = FolderLayout::read(dir.path()).unwrap();
        assert_eq!((l.dataset(), l.backbone()), (Some("mscoco"), Some("blip")));
        assert_eq!(
            l.img_embs_before_proj(),
            dir.path().join("img_embs_before_proj_blip.parquet")
        );
        assert_eq!(l.vocab(), dir.path().join("../bert/vocab.txt"));
        assert_eq!(l.text_embs(), dir.path().join("text_embs.parquet"));
        // Written and read back: the same configuration.
        let other = tempfile::tempdir().unwrap();
        FolderLayout::write_config(other.path(), l.config()).unwrap();
        assert_eq!(
            FolderLayout::read(other.path()).unwrap().config(),
            l.config()
        );
    }

    #[test]
    fn a_typo_or_an_empty_name_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LAYOUT_FILE);
        std::fs::write(&path, "[files]\nimg_emb = \"x.parquet\"\n").unwrap();
        let msg = FolderLayout::read(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("mmlsr.toml") && msg.contains("img_emb"),
            "{msg}"
        );
        std::fs::write(&path, "backbone = \"\"\n").unwrap();
        let msg = FolderLayout::read(dir.path()).unwrap_err().to_string();
        assert!(
            msg.contains("`backbone`") && msg.contains("non-empty"),
            "{msg}"
        );
    }
}
