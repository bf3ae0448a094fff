use std::path::PathBuf;

/// Everything that can go wrong reading or writing the store's formats. Each variant names
/// the file, and where it applies the row or id and what was expected.
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
    /// The Parquet reader or writer failed (corrupt or truncated file, bad footer, …).
    #[error("{path}: not a readable Parquet file: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The Parquet error.
        source: parquet::errors::ParquetError,
    },
    /// Arrow rejected an array while building or decoding a batch.
    #[error("{path}: {source}")]
    Arrow {
        /// The file.
        path: PathBuf,
        /// The Arrow error.
        source: arrow_schema::ArrowError,
    },
    /// A required column is absent.
    #[error("{path}: missing column `{column}` (found columns: {found})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column that was expected.
        column: &'static str,
        /// The columns that are there, comma-separated.
        found: String,
    },
    /// A column has a type this reader does not accept.
    #[error("{path}: column `{column}` has type {found}, expected {expected}")]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// What is accepted.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// A value is null where none is allowed.
    #[error("{path}: row {row}: column `{column}` is null")]
    Null {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// Row number (0-based, across the whole file).
        row: usize,
    },
    /// An embedding has a different length from the others (or from the expected one).
    #[error("{path}: row {row} (id {id}): embedding has {found} values, expected {expected}")]
    RaggedDimension {
        /// The file.
        path: PathBuf,
        /// Row number.
        row: usize,
        /// Row id.
        id: String,
        /// Expected dimension.
        expected: usize,
        /// Found length.
        found: usize,
    },
    /// An embedding value is NaN or infinite.
    #[error(
        "{path}: row {row} (id {id}): value {index} of the embedding is {value}, expected a finite number"
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// Row number.
        row: usize,
        /// Row id.
        id: String,
        /// Position inside the embedding.
        index: usize,
        /// The value.
        value: f64,
    },
    /// The same id appears twice.
    #[error("{path}: id {id} appears twice (rows {first_row} and {row})")]
    DuplicateId {
        /// The file.
        path: PathBuf,
        /// The id.
        id: String,
        /// First occurrence.
        first_row: usize,
        /// Second occurrence.
        row: usize,
    },
    /// A JSON file did not parse into the expected structure.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error, with line and column.
        source: serde_json::Error,
    },
    /// The metadata and an embedding table disagree: an id in the metadata has no row.
    #[error("{table}: no embedding for {role} id {id} listed in {meta}")]
    MissingEmbedding {
        /// The embedding table.
        table: PathBuf,
        /// The metadata file.
        meta: PathBuf,
        /// `image` or `caption`.
        role: &'static str,
        /// The id.
        id: String,
    },
    /// Two tables (or a table and a tensor) have different dimensions.
    #[error("dimension mismatch: {what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// What was compared, naming the files.
        what: String,
        /// Expected dimension.
        expected: usize,
        /// Found dimension.
        found: usize,
    },
    /// Input that is structurally valid but unusable (empty table, bad id, …).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// The tokenizer could not be loaded, built or run.
    #[error("{path}: tokenizer: {message}")]
    Tokenizer {
        /// The tokenizer file (or the vocabulary it was built from).
        path: PathBuf,
        /// The tokenizers crate's message.
        message: String,
    },
    /// A safetensors file could not be read or lacks a tensor of the expected shape.
    #[error("{path}: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A file failed its folder's checksum manifest, or a core invariant was broken.
    #[error(transparent)]
    Core(#[from] mmlsr_core::Error),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}
