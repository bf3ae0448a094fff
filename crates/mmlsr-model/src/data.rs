//! What the trainer reads from a data folder: dense embeddings, the splits, and each caption's
//! own vocabulary terms.

use mmlsr_core::TermSets;
use mmlsr_store::{
    Dataset, Projections, RestvalPolicy, Split, SplitView, TokenCounts, Vocabulary, WordVectors,
};

use crate::{Error, Result};

/// A data folder prepared for D2S training.
pub struct TrainData<'a> {
    /// The data folder (metadata and dense embeddings).
    pub dataset: &'a Dataset,
    /// Own terms of every caption, indexed by the row of `dataset.texts` (vocabulary ids,
    /// special tokens excluded). Rows without metadata are empty.
    pub terms: TermSets,
    /// Training pairs (caption row, image row) of the train split.
    pub train_pairs: Vec<(u32, u32)>,
    /// The validation split.
    pub val: SplitView,
    /// The test split.
    pub test: SplitView,
    /// What was done with `restval` images.
    pub restval: RestvalPolicy,
    /// WordPiece tokens of every caption and how many were `[UNK]` (a vocabulary that does
    /// not fit the captions: their words become no term at all).
    pub tokens: TokenCounts,
}

impl<'a> TrainData<'a> {
    /// Tokenise every caption of `dataset` with `vocab` and collect the splits. `restval`
    /// says whether `restval` images join the training pairs.
    pub fn new(dataset: &'a Dataset, vocab: &Vocabulary, restval: RestvalPolicy) -> Result<Self> {
        let n_rows = dataset.texts().len();
        let mut rows: Vec<Vec<u32>> = vec![Vec::new(); n_rows];
        let mut tokens = TokenCounts::default();
        for img in &dataset.meta().images {
            for s in &img.sentences {
                let row = dataset.texts().ids().row(&s.sentid).ok_or_else(|| {
                    Error::Config(format!("caption {} has no embedding row", s.sentid))
                })?;
                let (ids, counts) = vocab.term_ids_counting(&s.raw)?;
                rows[row] = ids;
                tokens.add(counts);
            }
        }
        let mut terms = TermSets::new(vocab.len());
        for r in rows {
            terms.push_unsorted(r)?;
        }
        let train = dataset.split(Split::Train, restval);
        let train_pairs = train
            .caption_rows
            .iter()
            .zip(&train.caption_image)
            .map(|(&c, &i)| (c as u32, train.image_rows[i] as u32))
            .collect::<Vec<_>>();
        if train_pairs.is_empty() {
            return Err(Error::Config(format!(
                "{}: the train split has no captions",
                dataset.dir().display()
            )));
        }
        Ok(Self {
            dataset,
            terms,
            train_pairs,
            val: dataset.split(Split::Val, restval),
            test: dataset.split(Split::Test, restval),
            restval,
            tokens,
        })
    }

    /// The caption rows and the image rows of the training pairs `pairs` (indices into
    /// `train_pairs`), each `pairs.len() × dim`, row-major: a batch's dense inputs.
    pub fn batch_rows(&self, pairs: &[u32]) -> (Vec<f32>, Vec<f32>) {
        let d = self.dataset.dim();
        let mut texts = Vec::with_capacity(pairs.len() * d);
        let mut images = Vec::with_capacity(pairs.len() * d);
        for &p in pairs {
            let (c, i) = self.train_pairs[p as usize];
            texts.extend_from_slice(self.dataset.texts().row(c as usize));
            images.extend_from_slice(self.dataset.images().row(i as usize));
        }
        (texts, images)
    }

    /// Vocabulary size the term ids refer to.
    pub fn vocab_size(&self) -> usize {
        self.terms.vocab_size()
    }

    /// Normalised document frequency of every term over the training captions (D2S
    /// section 3.3), for word-level expansion control.
    pub fn train_document_frequency(&self) -> Vec<f32> {
        let mut counts = vec![0u32; self.vocab_size()];
        for &(c, _) in &self.train_pairs {
            for &t in self.terms.row(c as usize) {
                counts[t as usize] += 1;
            }
        }
        let n = self.train_pairs.len().max(1) as f32;
        counts.into_iter().map(|c| c as f32 / n).collect()
    }

    /// Terms that occur in at least one caption of the data folder, sorted: the kept output
    /// columns of a pruned head.
    pub fn occurring_terms(&self) -> Vec<u32> {
        let mut seen = vec![false; self.vocab_size()];
        for row in self.terms.rows() {
            for &t in row {
                seen[t as usize] = true;
            }
        }
        (0..self.vocab_size() as u32)
            .filter(|&t| seen[t as usize])
            .collect()
    }
}

/// The check training makes of a data folder's word vectors (D2S and the joint head initialise
/// their vocabulary projector from them): one row per vocabulary entry, `d_hidden` wide.
/// `mmlsr inspect` runs it too, so that a folder it passes trains.
pub fn check_word_vectors(wv: &WordVectors, vocab_size: usize, d_hidden: usize) -> Result<()> {
    if wv.vocab_size != vocab_size {
        return Err(Error::Shape {
            what: "word vectors' vocabulary size vs the tokenizer's".into(),
            expected: vocab_size,
            found: wv.vocab_size,
        });
    }
    if wv.dim != d_hidden {
        return Err(Error::Shape {
            what: "word vector dimension vs d_hidden".into(),
            expected: d_hidden,
            found: wv.dim,
        });
    }
    Ok(())
}

/// The joint method's check of the dense model's projections (`text_proj`, `vision_proj`)
/// against the pre-projection features they take.
pub fn check_projections(projections: &Projections, d_feature: usize) -> Result<()> {
    if projections.text.in_dim != d_feature {
        return Err(Error::Shape {
            what: "projection input dimension vs the pre-projection features".into(),
            expected: d_feature,
            found: projections.text.in_dim,
        });
    }
    Ok(())
}
