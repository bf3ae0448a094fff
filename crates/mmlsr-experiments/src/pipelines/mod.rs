//! One pipeline per method, each a whole cell of a table: open the data folder, train
//! (resumably), evaluate the kept epoch on the test split, write the cell's files, and return
//! typed metrics. Commands and `reproduce` call these; these never call commands.

pub mod d2s;
pub mod joint;
pub mod synth;
