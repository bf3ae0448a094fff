//! Build an inverted index from a Parquet file of sparse image vectors (`img_sparse.parquet`,
//! written by `mmlsr encode`) and search it with the caption vectors of another
//! (`text_sparse.parquet`): the top-k images of the first captions, and the mean latency of
//! exhaustive scoring over all of them.
//!
//! ```text
//! cargo run --release -p mmlsr-index --example search_parquet -- \
//!     encoded/img_sparse.parquet encoded/text_sparse.parquet 10
//! ```

use std::time::Instant;

use mmlsr_index::{Algorithm, IndexConfig, InvertedIndex, Scratch};
use mmlsr_store::SparseTable;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [docs, queries, rest @ ..] = args.as_slice() else {
        return Err("usage: search_parquet DOCS.parquet QUERIES.parquet [K]".into());
    };
    let k: usize = rest.first().map_or(Ok(10), |s| s.parse())?;
    let docs = SparseTable::read_parquet(docs.as_ref(), None)?;
    let queries = SparseTable::read_parquet(queries.as_ref(), Some(docs.matrix.n_cols()))?;

    let start = Instant::now();
    let index = InvertedIndex::<u8>::build(&docs.matrix, IndexConfig::default())?;
    println!(
        "{} documents, {} postings, built in {:.2} s",
        docs.matrix.n_rows(),
        docs.matrix.nnz(),
        start.elapsed().as_secs_f64()
    );

    let mut scratch = Scratch::default();
    let start = Instant::now();
    for q in 0..queries.matrix.n_rows() {
        let weights = index.quantize_query(queries.matrix.row(q))?;
        let hits = index.search(&weights, k, Algorithm::Exhaustive, &mut scratch);
        if q < 3 {
            let top: Vec<String> = hits
                .iter()
                .map(|h| format!("{} ({:.3})", docs.ids.id(h.doc as usize), h.score.value))
                .collect();
            println!("{}: {}", queries.ids.id(q), top.join(", "));
        }
    }
    let n = queries.matrix.n_rows().max(1);
    println!(
        "{} queries, {:.3} ms/query (exhaustive, k = {k}, one thread)",
        queries.matrix.n_rows(),
        start.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    Ok(())
}
