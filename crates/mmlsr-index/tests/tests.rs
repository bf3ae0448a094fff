//! Integration tests of mmlsr-index (one binary).

mod dense;
mod export;
mod format;
mod modes;
mod search;
