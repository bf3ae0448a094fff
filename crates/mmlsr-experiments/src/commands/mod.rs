//! One module per subcommand.

pub mod encode;
pub mod explain;
pub mod inspect;
pub mod synth;
pub mod train;
