use std::path::PathBuf;

/// Errors of the metrics crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of a TREC run or qrels file is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A run lists the same document twice for one query.
    #[error("run: query {query} lists document {doc} twice")]
    DuplicateDocument {
        /// Query id.
        query: String,
        /// Document id.
        doc: String,
    },
    /// A score is NaN.
    #[error("run: query {query}, document {doc}: score is NaN")]
    NanScore {
        /// Query id.
        query: String,
        /// Document id.
        doc: String,
    },
    /// A measure name could not be parsed.
    #[error("unknown measure {0:?}: expected R@k, Success@k, RR@k, nDCG@k or P@k (e.g. R@10)")]
    UnknownMeasure(String),
    /// Inputs that must be paired or aligned are not.
    #[error("{0}")]
    Mismatch(String),
    /// A statistic is undefined for these inputs (too few values, zero variance, …).
    #[error("{0}")]
    Undefined(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
