//! A data folder in the lsr42 layout, joined and validated: metadata plus the two embedding
//! tables, every id in the metadata backed by a row, dimensions in agreement.

use std::path::{Path, PathBuf};

use mmlsr_core::Qrels;

use crate::{DatasetMeta, EmbeddingTable, Error, FolderLayout, RestvalPolicy, Result, Split};

/// Which embedding files of a data folder to join with the metadata (their names come from
/// the folder's [`FolderLayout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetFiles {
    /// The projected dense embeddings (`img_embs.parquet`, `text_embs.parquet`; lsr42).
    Projected,
    /// The pre-projection features (holi-lab; `*_embs_before_proj.parquet`).
    BeforeProj,
}

impl DatasetFiles {
    /// The projected dense embeddings (`img_embs.parquet`, `text_embs.parquet`; lsr42).
    pub const PROJECTED: Self = Self::Projected;
    /// The pre-projection features (holi-lab; `*_embs_before_proj.parquet`).
    pub const BEFORE_PROJ: Self = Self::BeforeProj;

    /// The image and caption tables' paths in `layout`.
    pub fn paths(self, layout: &FolderLayout) -> (PathBuf, PathBuf) {
        match self {
            Self::Projected => (layout.img_embs(), layout.text_embs()),
            Self::BeforeProj => (
                layout.img_embs_before_proj(),
                layout.text_embs_before_proj(),
            ),
        }
    }
}

/// Metadata and embedding tables of one data folder, validated on construction. The fields
/// are private because they are validated together (every id of the metadata has a row, both
/// tables have one dimension); read them through [`Dataset::meta`], [`Dataset::images`] and
/// [`Dataset::texts`].
#[derive(Debug, Clone)]
pub struct Dataset {
    layout: FolderLayout,
    meta: DatasetMeta,
    images: EmbeddingTable,
    texts: EmbeddingTable,
}

/// Row indices of one split inside a [`Dataset`]'s tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitView {
    /// The split.
    pub split: Split,
    /// Rows of the image table, in metadata order.
    pub image_rows: Vec<usize>,
    /// Rows of the caption table, in metadata order (image by image).
    pub caption_rows: Vec<usize>,
    /// For each caption, the position of its image in `image_rows`.
    pub caption_image: Vec<usize>,
}

/// The file name of `path` for messages (the whole path when it has none).
fn name_of(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

impl Dataset {
    /// The parsed `dataset_meta.json`.
    pub fn meta(&self) -> &DatasetMeta {
        &self.meta
    }

    /// Image embeddings (ids are `imgid`s).
    pub fn images(&self) -> &EmbeddingTable {
        &self.images
    }

    /// Caption embeddings (ids are `sentid`s).
    pub fn texts(&self) -> &EmbeddingTable {
        &self.texts
    }

    /// Open `dir` with the projected embeddings (`img_embs.parquet`, `text_embs.parquet`).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, DatasetFiles::PROJECTED)
    }

    /// Open `dir` with the given embedding files, named as its `mmlsr.toml` says (lsr42 names
    /// without one; [`FolderLayout`]). A folder with a `MANIFEST.sha256` (every folder
    /// `mmlsr synth` writes) is first checked against it ([`mmlsr_core::verify_manifest`]);
    /// downloaded folders without one are read unchecked.
    pub fn open_with(dir: &Path, files: DatasetFiles) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "data folder not found"),
            ));
        }
        let layout = FolderLayout::read(dir)?;
        let meta_path = layout.meta();
        let (img_path, txt_path) = files.paths(&layout);
        if !meta_path.is_file() {
            return Err(Error::invalid(
                dir,
                format!(
                    "no {} in this data folder (expected the lsr42 layout: {}, {}, {}; other \
                     file names go in its mmlsr.toml)",
                    name_of(&meta_path),
                    name_of(&meta_path),
                    name_of(&img_path),
                    name_of(&txt_path)
                ),
            ));
        }
        mmlsr_core::verify_manifest(dir)?;
        let meta = DatasetMeta::read_json(&meta_path)?;
        let images = EmbeddingTable::read_parquet(&img_path, None)?;
        let texts = EmbeddingTable::read_parquet(&txt_path, None)?;
        let ds = Self {
            layout,
            meta,
            images,
            texts,
        };
        ds.validate(files)?;
        Ok(ds)
    }

    /// Join in-memory parts (validated as [`Dataset::open_with`] does, `dir` naming them).
    pub fn from_parts(
        dir: &Path,
        meta: DatasetMeta,
        images: EmbeddingTable,
        texts: EmbeddingTable,
        files: DatasetFiles,
    ) -> Result<Self> {
        let ds = Self {
            layout: FolderLayout::lsr42(dir),
            meta,
            images,
            texts,
        };
        ds.validate(files)?;
        Ok(ds)
    }

    fn validate(&self, files: DatasetFiles) -> Result<()> {
        let meta_path = self.layout.meta();
        let (img_path, txt_path) = files.paths(&self.layout);
        if self.images.dim() == 0 || self.images.is_empty() {
            return Err(Error::invalid(&img_path, "the table has no embeddings"));
        }
        if self.texts.dim() != self.images.dim() {
            return Err(Error::DimensionMismatch {
                what: format!("{} vs {}", txt_path.display(), img_path.display()),
                expected: self.images.dim(),
                found: self.texts.dim(),
            });
        }
        for img in &self.meta.images {
            if self.images.ids().row(&img.imgid).is_none() {
                return Err(Error::MissingEmbedding {
                    table: img_path,
                    meta: meta_path,
                    role: "image",
                    id: img.imgid.clone(),
                });
            }
            for s in &img.sentences {
                if self.texts.ids().row(&s.sentid).is_none() {
                    return Err(Error::MissingEmbedding {
                        table: txt_path,
                        meta: meta_path,
                        role: "caption",
                        id: s.sentid.clone(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The data folder.
    pub fn dir(&self) -> &Path {
        self.layout.dir()
    }

    /// Where the folder's files are ([`FolderLayout`]).
    pub fn layout(&self) -> &FolderLayout {
        &self.layout
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.images.dim()
    }

    /// Table rows of a split (`Train` includes `restval` under
    /// [`RestvalPolicy::MergeIntoTrain`]).
    pub fn split(&self, split: Split, restval: RestvalPolicy) -> SplitView {
        let mut view = SplitView {
            split,
            image_rows: Vec::new(),
            caption_rows: Vec::new(),
            caption_image: Vec::new(),
        };
        for img in self.meta.images_in(split, restval) {
            let pos = view.image_rows.len();
            view.image_rows
                .push(self.images.ids().row(&img.imgid).expect("validated"));
            for s in &img.sentences {
                view.caption_rows
                    .push(self.texts.ids().row(&s.sentid).expect("validated"));
                view.caption_image.push(pos);
            }
        }
        view
    }

    /// Text→image qrels of a split view: each of its captions has its image as the one
    /// relevant document (grade 1). Every table and validation builds its judgements here.
    pub fn qrels(&self, view: &SplitView) -> Qrels {
        let mut q = Qrels::new();
        for (&c, &i) in view.caption_rows.iter().zip(&view.caption_image) {
            q.insert(
                self.texts.ids().id(c),
                self.images.ids().id(view.image_rows[i]),
                1,
            );
        }
        q
    }
}
