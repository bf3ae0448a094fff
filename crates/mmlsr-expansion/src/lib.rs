#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod error;
mod mask;
mod schedule;

pub use crate::{
    error::{Error, Result},
    mask::{BatchMask, RowMask},
    schedule::{DrawLevel, ExpansionConfig, Schedule, Scheduler, Variant, WordControl},
};
