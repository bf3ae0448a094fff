#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod atomic;
mod error;
mod hit;
mod manifest;
mod qrels;
mod sparse;
mod term_sets;

pub use crate::{
    error::{Error, Result},
    hit::{Hit, Score, sort_hits},
    manifest::{Integrity, MANIFEST, verify_manifest, write_manifest},
    qrels::Qrels,
    sparse::{CsrMatrix, SparseRow, SparseVec},
    term_sets::TermSets,
};
