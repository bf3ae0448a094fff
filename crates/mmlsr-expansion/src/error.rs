/// Invalid expansion-control settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is out of its range.
    #[error("expansion config: {0}")]
    Config(String),
    /// A term id is not below the vocabulary size.
    #[error("caption {row}: term id {term} is out of range for a vocabulary of {vocab_size}")]
    TermOutOfRange {
        /// Caption (row of the batch).
        row: usize,
        /// The term id.
        term: u32,
        /// Vocabulary size.
        vocab_size: usize,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
