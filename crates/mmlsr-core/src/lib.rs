#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod atomic;
mod error;
mod qrels;
mod sparse;
mod term_sets;

pub use crate::{
    error::{Error, Result},
    qrels::Qrels,
    sparse::{CsrMatrix, SparseRow, SparseVec},
    term_sets::TermSets,
};
