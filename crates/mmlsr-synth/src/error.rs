use std::path::PathBuf;

/// Errors of the synthetic data generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a data file failed.
    #[error(transparent)]
    Store(#[from] mmlsr_store::Error),
    /// A folder could not be created or cleaned.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A user vocabulary lacks words the captions use (each must be one whole token).
    #[error("{path}: {} caption words are not whole tokens of this vocabulary (e.g. {}); use an uncased BERT-style vocabulary such as bert-base-uncased", missing.len(), missing.iter().take(10).cloned().collect::<Vec<_>>().join(", "))]
    VocabularyMissingWords {
        /// The vocabulary file.
        path: PathBuf,
        /// The missing words.
        missing: Vec<String>,
    },
    /// Caption statistics could not be measured: malformed input (the message names the file
    /// and line, or the image, and what was expected).
    #[error("caption statistics: {0}")]
    Calibration(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
