//! Sweep the approximate index's settings on an encoded folder and print, per setting, the
//! build time, ms/query (one thread, one query per call), recall@k of the exact f64 top k, and
//! the work done per query (documents scored, block summaries evaluated): where its time goes
//! as the collection grows.
//!
//! ```text
//! cargo run --release -p mmlsr-index --example approx_sweep -- \
//!     data/zipf/f3-1m [QUERIES=500] [LAMBDAS=4000] [BLOCK=16] [PRUNING=per-term] [WEIGHTS=half] \
//!     [SUMMARY_TERMS=64] [SKETCH_TERMS=64] [SUMMARY_ENERGY=0.5] \
//!     [SEARCHES=5:0.9,10:0.7,10:0.9,10:1.0,20:0.9]
//! ```
//!
//! LAMBDAS is comma-separated (e.g. `1000,2000,4000`); PRUNING `per-term` or `global:F`
//! (max_fraction F); WEIGHTS the forward index's `half` or `full` (f32) precision;
//! SUMMARY_TERMS the most terms a block summary keeps; SKETCH_TERMS the heaviest terms of a
//! document that assign it to a cluster; SUMMARY_ENERGY the L1 fraction a summary keeps;
//! SEARCHES the `query_cut:heap_factor` pairs searched on every build.

use std::time::Instant;

use mmlsr_index::{
    ApproxConfig, ApproxIndex, ApproxParams, ApproxScratch, ExactIndex, ForwardWeights, Pruning,
    recall,
};
use mmlsr_store::SparseTable;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        return Err(
            "usage: approx_sweep ENCODED_DIR [QUERIES] [LAMBDAS] [BLOCK] [PRUNING] [WEIGHTS] \
             [SUMMARY_TERMS] [SKETCH_TERMS] [SUMMARY_ENERGY] [SEARCHES]"
                .into(),
        );
    };
    let n_q: usize = args.get(1).map_or(Ok(500), |s| s.parse())?;
    let lambdas: Vec<usize> = args
        .get(2)
        .map_or("4000", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let block_size: usize = args.get(3).map_or(Ok(16), |s| s.parse())?;
    let pruning = match args.get(4).map_or("per-term", String::as_str) {
        "per-term" => Pruning::PerTerm,
        other => match other.strip_prefix("global:").map(str::parse) {
            Some(Ok(max_fraction)) => Pruning::Global { max_fraction },
            _ => return Err(format!("pruning {other:?}: expected per-term or global:F").into()),
        },
    };
    let forward_weights = match args.get(5).map_or("half", String::as_str) {
        "half" => ForwardWeights::Half,
        "full" => ForwardWeights::Full,
        other => return Err(format!("weights {other:?}: expected half or full").into()),
    };
    let max_summary_terms: usize = args
        .get(6)
        .map_or(Ok(ApproxConfig::default().max_summary_terms), |s| s.parse())?;
    let sketch_terms: usize = args
        .get(7)
        .map_or(Ok(ApproxConfig::default().sketch_terms), |s| s.parse())?;
    let summary_energy: f32 = args
        .get(8)
        .map_or(Ok(ApproxConfig::default().summary_energy), |s| s.parse())?;
    let searches: Vec<(usize, f32)> = args
        .get(9)
        .map_or("5:0.9,10:0.7,10:0.9,10:1.0,20:0.9", String::as_str)
        .split(',')
        .map(|pair| {
            let parsed = pair
                .split_once(':')
                .and_then(|(cut, heap)| Some((cut.parse().ok()?, heap.parse().ok()?)));
            parsed.ok_or_else(|| format!("search {pair:?}: expected query_cut:heap_factor"))
        })
        .collect::<Result<_, _>>()?;
    let k = 10;
    let dir = std::path::Path::new(dir);
    let docs = SparseTable::read_parquet(&dir.join("img_sparse.parquet"), None)?;
    let queries =
        SparseTable::read_parquet(&dir.join("text_sparse.parquet"), Some(docs.matrix.n_cols()))?;
    let n_q = n_q.min(queries.matrix.n_rows());

    let exact = ExactIndex::build(&docs.matrix)?;
    let mut queries_used = mmlsr_core::CsrMatrix::empty(docs.matrix.n_cols());
    for q in 0..n_q {
        let row = queries.matrix.row(q);
        queries_used.push_row(row.indices, row.values)?;
    }
    let truth: Vec<Vec<u32>> = exact
        .search_batch(&queries_used, k)?
        .into_iter()
        .map(|hits| hits.into_iter().map(|h| h.doc).collect())
        .collect();
    println!(
        "{} documents, {} postings, {n_q} queries, k = {k}",
        docs.matrix.n_rows(),
        docs.matrix.nnz()
    );
    println!(
        "| λ | block | query_cut | heap | build s | ms/query | recall | docs scored | blocks evaluated |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &lambda in &lambdas {
        let start = Instant::now();
        let index = ApproxIndex::build(
            &docs.matrix,
            ApproxConfig {
                postings_per_term: lambda,
                pruning,
                block_size,
                forward_weights,
                max_summary_terms,
                sketch_terms,
                summary_energy,
                ..ApproxConfig::default()
            },
        )?;
        let build = start.elapsed().as_secs_f64();
        for &(query_cut, heap_factor) in &searches {
            let params = ApproxParams {
                query_cut,
                heap_factor,
            };
            let mut scratch = ApproxScratch::default();
            let (mut docs_scored, mut blocks, mut found) = (0u64, 0u64, 0.0);
            let start = Instant::now();
            for (q, truth) in truth.iter().enumerate() {
                let hits = index.search(queries_used.row(q), k, params, &mut scratch)?;
                docs_scored += scratch.docs_scored;
                blocks += scratch.blocks_evaluated;
                found += recall(&hits, truth);
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / n_q as f64;
            println!(
                "| {lambda} | {block_size} | {query_cut} | {heap_factor} | {build:.1} | {ms:.3} | {:.4} | {} | {} |",
                found / n_q as f64,
                docs_scored / n_q as u64,
                blocks / n_q as u64
            );
        }
    }
    Ok(())
}
