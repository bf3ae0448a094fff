//! Integration tests of mmlsr-index (one binary).

mod format;
mod search;
