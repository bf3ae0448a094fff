//! Integration tests of mmlsr-index (one binary).

mod approx;
mod dense;
mod engines;
mod exact;
mod export;
mod format;
mod modes;
mod search;
