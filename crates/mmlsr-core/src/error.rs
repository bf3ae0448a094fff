use std::path::PathBuf;

/// Errors raised when a core type's invariant would be broken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Term ids of a sparse row are not strictly increasing (unsorted or duplicated).
    #[error(
        "row {row}: term ids must be strictly increasing, but position {position} holds {id} after {previous}"
    )]
    UnsortedIndices {
        /// Row of the matrix (0 for a single vector).
        row: usize,
        /// Position inside the row.
        position: usize,
        /// The id before it.
        previous: u32,
        /// The offending id.
        id: u32,
    },
    /// A term id is not below the number of columns (the vocabulary size).
    #[error("row {row}: term id {id} is out of range for {n_cols} columns")]
    IndexOutOfRange {
        /// Row of the matrix.
        row: usize,
        /// The offending id.
        id: u32,
        /// Number of columns.
        n_cols: usize,
    },
    /// Two arrays that must have the same length do not.
    #[error("{what}: expected length {expected}, found {found}")]
    LengthMismatch {
        /// Which arrays.
        what: &'static str,
        /// Expected length.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// A weight is NaN or infinite.
    #[error("row {row}: weight of term {id} is not finite ({value})")]
    NonFinite {
        /// Row of the matrix.
        row: usize,
        /// Term id.
        id: u32,
        /// The value.
        value: f32,
    },
    /// CSR row pointers are malformed (not starting at 0, decreasing, or not ending at nnz).
    #[error("malformed row pointers: {0}")]
    BadIndptr(String),
    /// A file of a folder does not match the folder's checksum manifest (changed, truncated,
    /// missing), or the manifest itself is malformed.
    #[error("{path}: {message}")]
    Integrity {
        /// The file that failed the check (or the manifest).
        path: PathBuf,
        /// What differs and what was expected.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
