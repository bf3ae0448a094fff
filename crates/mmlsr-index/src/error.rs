use std::path::PathBuf;

/// Errors of index building, querying and (de)serialisation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A build setting or the input collection is unusable.
    #[error("invalid index input: {0}")]
    Config(String),
    /// A query cannot be answered by this index (term outside the vocabulary, negative weight).
    #[error("invalid query: {0}")]
    Query(String),
    /// Reading or writing an index file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An index file is not one this version reads: wrong magic or version, truncated,
    /// checksum mismatch, or inconsistent contents.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
