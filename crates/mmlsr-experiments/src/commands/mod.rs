//! One module per subcommand.

pub mod bench;
pub mod compare;
pub mod encode;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod fetch;
pub mod index;
pub mod inspect;
pub mod report;
pub mod reproduce;
pub mod search;
pub mod synth;
pub mod synth_sparse;
pub mod train;
