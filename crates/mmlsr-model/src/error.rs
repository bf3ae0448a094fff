use std::path::PathBuf;

/// Everything that can go wrong building, training, saving or loading a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the data folder, vocabulary or tensors failed.
    #[error(transparent)]
    Store(#[from] mmlsr_store::Error),
    /// The expansion scheduler rejected its settings or a caption's terms.
    #[error(transparent)]
    Expansion(#[from] mmlsr_expansion::Error),
    /// Evaluation failed.
    #[error(transparent)]
    Metrics(#[from] mmlsr_metrics::Error),
    /// Scoring through the index failed.
    #[error(transparent)]
    Index(#[from] mmlsr_index::Error),
    /// A sparse vector broke an invariant.
    #[error(transparent)]
    Core(#[from] mmlsr_core::Error),
    /// A setting is out of range or inconsistent with the data; the message names it.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Two sizes that must agree do not (embedding dimension, vocabulary size, …).
    #[error("{what}: expected {expected}, found {found}")]
    Shape {
        /// What was compared.
        what: String,
        /// Expected size.
        expected: usize,
        /// Found size.
        found: usize,
    },
    /// A checkpoint or model directory is missing a file, is corrupt, or belongs to another run.
    #[error("{path}: {message}")]
    Checkpoint {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The loss became NaN or infinite (learning rate or regularisation too large?).
    #[error("training diverged at step {step}: loss is {loss}")]
    Diverged {
        /// Global step (0-based).
        step: usize,
        /// The loss value.
        loss: f64,
    },
    /// The requested backend was not compiled into this build.
    #[error("backend `{0}` is not compiled in; rebuild with `--features {0}`")]
    BackendUnavailable(&'static str),
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

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }
}
