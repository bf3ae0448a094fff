//! Load one Parquet embedding table and report its shape, load time and matrix size.
//! Run under `/usr/bin/time -v` to compare peak memory with the size of the f32 matrix:
//!
//! ```text
//! cargo run --release -p mmlsr-store --example load_table -- data/synth-coco-strong/text_embs_before_proj.parquet
//! ```

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args_os()
        .nth(1)
        .ok_or("usage: load_table FILE.parquet")?;
    let start = Instant::now();
    let table = mmlsr_store::EmbeddingTable::read_parquet(path.as_ref(), None)?;
    let secs = start.elapsed().as_secs_f64();
    let matrix_mb = (table.data().len() * 4) as f64 / 1e6;
    println!(
        "{} rows × {} dims in {secs:.2} s; f32 matrix {matrix_mb:.0} MB",
        table.len(),
        table.dim()
    );
    Ok(())
}
