//! WordPiece vocabulary and tokenizer (BERT `bert-base-uncased` for real data, the synthetic
//! data set's own small vocabulary by default), through the `tokenizers` crate.

use std::path::{Path, PathBuf};

use mmlsr_core::TermSets;
use tokenizers::{
    AddedToken, Tokenizer, decoders::wordpiece::WordPiece as WordPieceDecoder,
    models::wordpiece::WordPiece, normalizers::bert::BertNormalizer,
    pre_tokenizers::bert::BertPreTokenizer, processors::bert::BertProcessing,
};

use crate::{Error, FolderLayout, Result, atomic, files};

/// BERT's special tokens, in the order they take ids 0–4 in vocabularies mmlsr writes.
/// (`bert-base-uncased` itself has them at 0, 100, 101, 102, 103.)
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// WordPiece tokens of some captions, and how many were `[UNK]`
/// ([`Vocabulary::term_ids_counting`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Tokens.
    pub tokens: usize,
    /// `[UNK]` tokens among them.
    pub unknown: usize,
}

impl TokenCounts {
    /// Add another caption's counts.
    pub fn add(&mut self, other: TokenCounts) {
        self.tokens += other.tokens;
        self.unknown += other.unknown;
    }

    /// The fraction of tokens that are `[UNK]` (0 without tokens).
    pub fn unknown_rate(&self) -> f64 {
        self.unknown as f64 / self.tokens.max(1) as f64
    }
}

/// A WordPiece tokenizer with its vocabulary.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    tokenizer: Tokenizer,
    source: PathBuf,
    special_ids: Vec<u32>,
    size: usize,
}

impl Vocabulary {
    /// Load from a `tokenizer.json` (any file ending in `.json`) or a BERT `vocab.txt`
    /// (anything else; it is given BERT uncased normalisation and pre-tokenisation).
    /// Padding and truncation settings in a `tokenizer.json` are switched off.
    pub fn from_file(path: &Path) -> Result<Self> {
        let tok_err = |message: String| Error::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        if !path.is_file() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "tokenizer file not found"),
            ));
        }
        let tokenizer = if path.extension().is_some_and(|e| e == "json") {
            Tokenizer::from_file(path).map_err(|e| tok_err(e.to_string()))?
        } else {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            bert_tokenizer(&bytes).map_err(tok_err)?
        };
        Self::wrap(tokenizer, path.to_path_buf())
    }

    /// Load from a data folder: `tokenizer.json` if present, else `vocab.txt` (the names or
    /// paths its `mmlsr.toml` gives; [`FolderLayout`]).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_layout(&FolderLayout::read(dir)?)
    }

    /// Load from a resolved folder layout: its tokenizer file if present, else its vocabulary.
    pub fn from_layout(layout: &FolderLayout) -> Result<Self> {
        let json = layout.tokenizer();
        if json.is_file() {
            Self::from_file(&json)
        } else {
            Self::from_file(&layout.vocab())
        }
    }

    /// Build a BERT-style uncased WordPiece tokenizer from tokens in id order.
    pub fn from_tokens<S: AsRef<str>>(tokens: &[S]) -> Result<Self> {
        let source = PathBuf::from("<memory>");
        let mut bytes = Vec::new();
        for t in tokens {
            let t = t.as_ref();
            if t.is_empty() || t.contains(char::is_whitespace) {
                return Err(Error::Tokenizer {
                    path: source,
                    message: format!("token {t:?} is empty or contains whitespace"),
                });
            }
            bytes.extend_from_slice(t.as_bytes());
            bytes.push(b'\n');
        }
        let tokenizer = bert_tokenizer(&bytes).map_err(|message| Error::Tokenizer {
            path: source.clone(),
            message,
        })?;
        Self::wrap(tokenizer, source)
    }

    fn wrap(mut tokenizer: Tokenizer, source: PathBuf) -> Result<Self> {
        // A caption's term set must see every token: no padding, no truncation (a
        // tokenizer.json exported for a model often carries both).
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Tokenizer {
                path: source.clone(),
                message: e.to_string(),
            })?;
        let size = tokenizer.get_vocab_size(true);
        let special_ids = SPECIAL_TOKENS
            .iter()
            .filter_map(|t| tokenizer.token_to_id(t))
            .collect();
        let vocab = Self {
            tokenizer,
            source,
            special_ids,
            size,
        };
        // Ids must be exactly 0..size so that they index vectors of length `size`.
        vocab.tokens()?;
        Ok(vocab)
    }

    /// Where this vocabulary was loaded from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Number of entries |V| (30,522 for `bert-base-uncased`).
    pub fn len(&self) -> usize {
        self.size
    }

    /// True for an empty vocabulary.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Id of a token.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.tokenizer.token_to_id(token)
    }

    /// Token of an id.
    pub fn token(&self, id: u32) -> Option<String> {
        self.tokenizer.id_to_token(id)
    }

    /// Ids of the special tokens present (`[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`).
    pub fn special_ids(&self) -> &[u32] {
        &self.special_ids
    }

    /// All tokens in id order.
    pub fn tokens(&self) -> Result<Vec<String>> {
        let mut tokens = vec![None; self.size];
        for (tok, id) in self.tokenizer.get_vocab(true) {
            match tokens.get_mut(id as usize) {
                Some(slot) => *slot = Some(tok),
                None => {
                    return Err(Error::Tokenizer {
                        path: self.source.clone(),
                        message: format!(
                            "token {tok:?} has id {id}, beyond the vocabulary size {}",
                            self.size
                        ),
                    });
                }
            }
        }
        tokens
            .into_iter()
            .enumerate()
            .map(|(id, t)| {
                t.ok_or_else(|| Error::Tokenizer {
                    path: self.source.clone(),
                    message: format!("no token has id {id}; expected ids 0..{}", self.size),
                })
            })
            .collect()
    }

    /// WordPiece token ids of a text, in order, without special tokens added.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| Error::Tokenizer {
                path: self.source.clone(),
                message: format!("encoding {text:?}: {e}"),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    /// The set of vocabulary ids a caption contains, sorted and deduplicated, without
    /// special tokens (`[CLS]`, `[SEP]`, and `[UNK]` for out-of-vocabulary words): the
    /// caption's "own terms" that expansion control always keeps.
    pub fn term_ids(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self.term_ids_counting(text)?.0)
    }

    /// [`Vocabulary::term_ids`], and how many of the caption's WordPiece tokens there were and
    /// how many of them are `[UNK]`: words this vocabulary cannot spell, which no term
    /// represents (a vocabulary that does not fit the captions shows as a high rate).
    pub fn term_ids_counting(&self, text: &str) -> Result<(Vec<u32>, TokenCounts)> {
        let mut ids = self.encode(text)?;
        let unk = self.tokenizer.token_to_id("[UNK]");
        let counts = TokenCounts {
            tokens: ids.len(),
            unknown: ids.iter().filter(|&&id| Some(id) == unk).count(),
        };
        ids.retain(|id| !self.special_ids.contains(id));
        ids.sort_unstable();
        ids.dedup();
        Ok((ids, counts))
    }

    /// [`Vocabulary::term_ids`] of every caption, as rows of a [`TermSets`].
    pub fn term_sets<S: AsRef<str>>(&self, texts: &[S]) -> Result<TermSets> {
        let mut sets = TermSets::new(self.size);
        for text in texts {
            let ids = self.term_ids(text.as_ref())?;
            sets.push_unsorted(ids).map_err(|e| Error::Tokenizer {
                path: self.source.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(sets)
    }

    /// Write `vocab.txt` and `tokenizer.json` into `dir`, atomically.
    pub fn write_files(&self, dir: &Path) -> Result<()> {
        let tokens = self.tokens()?;
        let vocab_path = dir.join(files::VOCAB);
        atomic::atomic_write(&vocab_path, |w| {
            for t in &tokens {
                writeln!(w, "{t}")?;
            }
            Ok(())
        })?;
        let json_path = dir.join(files::TOKENIZER);
        let json = self
            .tokenizer
            .to_string(true)
            .map_err(|e| Error::Tokenizer {
                path: json_path.clone(),
                message: e.to_string(),
            })?;
        atomic::atomic_write_bytes(&json_path, json.as_bytes())
    }
}

/// A `bert-base-uncased`-style tokenizer over the vocabulary in `vocab_txt` (one token a line).
fn bert_tokenizer(vocab_txt: &[u8]) -> std::result::Result<Tokenizer, String> {
    let vocab = WordPiece::read_bytes(vocab_txt).map_err(|e| e.to_string())?;
    if vocab.is_empty() {
        return Err("the vocabulary is empty".into());
    }
    let id = |t: &str| vocab.get(t).copied();
    let unk = if id("[UNK]").is_some() {
        "[UNK]"
    } else {
        return Err("the vocabulary has no [UNK] token".into());
    };
    let (cls, sep) = (id("[CLS]"), id("[SEP]"));
    let specials: Vec<AddedToken> = SPECIAL_TOKENS
        .iter()
        .filter(|t| vocab.contains_key(**t))
        .map(|t| AddedToken::from(*t, true))
        .collect();
    let model = WordPiece::builder()
        .vocab(vocab)
        .unk_token(unk.into())
        .build()
        .map_err(|e| e.to_string())?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer
        .with_normalizer(Some(BertNormalizer::new(true, true, None, true)))
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_decoder(Some(WordPieceDecoder::default()));
    if let (Some(cls), Some(sep)) = (cls, sep) {
        tokenizer.with_post_processor(Some(BertProcessing::new(
            ("[SEP]".into(), sep),
            ("[CLS]".into(), cls),
        )));
    }
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_vocabulary_round_trips_through_files() {
        let mut tokens: Vec<&str> = SPECIAL_TOKENS.to_vec();
        tokens.extend([
            "a", "dog", "puppy", "runs", "##s", "on", "the", "beach", ".",
        ]);
        let v = Vocabulary::from_tokens(&tokens).unwrap();
        assert_eq!(v.len(), 14);
        assert_eq!(v.token_id("dog"), Some(6));
        assert_eq!(
            v.encode("A Dog runs on the beach.").unwrap(),
            vec![5, 6, 8, 10, 11, 12, 13]
        );
        assert_eq!(v.encode("dogs").unwrap(), vec![6, 9]);
        // Out-of-vocabulary words become [UNK], which term_ids drops; duplicates collapse.
        assert_eq!(v.term_ids("a dog, a zebra").unwrap(), vec![5, 6]);
        // a · dog · , · a · [UNK]: "," is not in this vocabulary either.
        let (_, counts) = v.term_ids_counting("a dog, a zebra").unwrap();
        assert_eq!(
            counts,
            TokenCounts {
                tokens: 5,
                unknown: 2
            }
        );
        assert!((counts.unknown_rate() - 0.4).abs() < 1e-12);
        let dir = tempfile::tempdir().unwrap();
        v.write_files(dir.path()).unwrap();
        let from_json = Vocabulary::from_dir(dir.path()).unwrap();
        let from_txt = Vocabulary::from_file(&dir.path().join("vocab.txt")).unwrap();
        for other in [&from_json, &from_txt] {
            assert_eq!(other.tokens().unwrap(), v.tokens().unwrap());
            assert_eq!(
                other.encode("a puppy runs").unwrap(),
                v.encode("a puppy runs").unwrap()
            );
        }
        let sets = v.term_sets(&["a dog", "the dog", "a puppy"]).unwrap();
        let df = sets.document_frequency();
        assert!((df[6] - 2.0 / 3.0).abs() < 1e-7 && (df[5] - 2.0 / 3.0).abs() < 1e-7);
    }

    #[test]
    fn missing_and_broken_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let msg = Vocabulary::from_dir(dir.path()).unwrap_err().to_string();
        assert!(msg.contains("vocab.txt"), "{msg}");
        let p = dir.path().join("tokenizer.json");
        std::fs::write(&p, "{not json").unwrap();
        let msg = Vocabulary::from_file(&p).unwrap_err().to_string();
        assert!(
            msg.contains("tokenizer.json") && msg.contains("tokenizer"),
            "{msg}"
        );
        let p = dir.path().join("vocab.txt");
        std::fs::write(&p, "a\nb\n").unwrap();
        let msg = Vocabulary::from_file(&p).unwrap_err().to_string();
        assert!(msg.contains("[UNK]"), "{msg}");
    }
}
