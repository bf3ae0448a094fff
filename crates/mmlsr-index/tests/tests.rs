//! Integration tests of mmlsr-index (one binary).

mod export;
mod format;
mod modes;
mod search;
