//! Single-thread latency of the index's exact algorithms on trained sparse vectors: documents
//! from `DOCS/img_sparse.parquet`, queries from `QUERIES/text_sparse.parquet` (both written by
//! `mmlsr encode`), k = 10, 100, 1000.
//!
//! `cargo run --release -p mmlsr-experiments --example index_latency -- DOCS_DIR QUERIES_DIR [N_QUERIES] [DATA_DIR]`
//!
//! With `DATA_DIR` (the data folder the vectors were encoded from), the flat dense baseline
//! is timed on the same queries (its test captions against all images).

use std::{path::PathBuf, time::Instant};

use mmlsr_index::{Algorithm, DenseFlat, IndexConfig, InvertedIndex, QueryWeights, Scratch};
use mmlsr_store::SparseTable;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 2,
        "usage: index_latency DOCS_DIR QUERIES_DIR [N_QUERIES]"
    );
    let docs =
        SparseTable::read_parquet(&PathBuf::from(&args[0]).join("img_sparse.parquet"), None)?;
    let queries =
        SparseTable::read_parquet(&PathBuf::from(&args[1]).join("text_sparse.parquet"), None)?;
    let n_q = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000)
        .min(queries.matrix.n_rows());
    let t = Instant::now();
    let index = InvertedIndex::build(&docs.matrix, IndexConfig::default())?;
    let build = t.elapsed().as_secs_f64();
    let v = index.vocab_size();
    let qs: Vec<QueryWeights> = (0..n_q)
        .map(|r| QueryWeights::new(queries.matrix.row(r), v))
        .collect::<Result<_, _>>()?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("index.mmlsr");
    index.write(&path)?;
    let t = Instant::now();
    let loaded = InvertedIndex::read(&path)?;
    let load = t.elapsed().as_secs_f64();
    anyhow::ensure!(loaded == index, "the index read back differs");
    println!(
        "{} documents, {} postings, |V| = {v}; {n_q} queries; build {build:.2} s, file {:.1} MB, load {load:.2} s",
        index.n_docs(),
        index.n_postings(),
        std::fs::metadata(&path)?.len() as f64 / 1e6
    );
    println!(
        "{:>6} | {:>10} {:>10} {:>10} | {:>10}",
        "k", "exhaustive", "MaxScore", "BlockMax", "ns/posting"
    );
    let mut s = Scratch::default();
    for k in [10usize, 100, 1000] {
        let mut ms = [0.0f64; 3];
        let mut postings = 0u64;
        let mut first: Vec<Vec<u32>> = Vec::new();
        for (a, alg) in [
            Algorithm::Exhaustive,
            Algorithm::MaxScore,
            Algorithm::BlockMax,
        ]
        .into_iter()
        .enumerate()
        {
            let t = Instant::now();
            let mut ids = Vec::with_capacity(n_q);
            for q in &qs {
                let hits = index.search(q, k, alg, &mut s);
                if a == 0 {
                    postings += s.postings_scored;
                }
                ids.push(hits.iter().map(|h| h.doc).collect::<Vec<u32>>());
            }
            ms[a] = t.elapsed().as_secs_f64() * 1e3 / n_q as f64;
            if a == 0 {
                first = ids;
            } else {
                anyhow::ensure!(ids == first, "{alg:?} disagrees with exhaustive at k = {k}");
            }
        }
        println!(
            "{k:>6} | {:>10.3} {:>10.3} {:>10.3} | {:>10.2}",
            ms[0],
            ms[1],
            ms[2],
            ms[0] * 1e6 * n_q as f64 / postings as f64
        );
    }
    let t = Instant::now();
    let batch = index.search_batch(&qs, 10, Algorithm::Exhaustive);
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(batch.len() == n_q);
    println!(
        "exhaustive, k = 10, all {} threads (rayon): {:.0} queries/s",
        rayon_threads(),
        n_q as f64 / secs
    );
    if let Some(data) = args.get(3) {
        let ds = mmlsr_store::Dataset::open(std::path::Path::new(data))?;
        let test = ds.split(
            mmlsr_store::Split::Test,
            mmlsr_store::RestvalPolicy::MergeIntoTrain,
        );
        let flat = DenseFlat::new(ds.dim(), ds.images.data().to_vec())?;
        let t = Instant::now();
        for &r in test.caption_rows.iter().take(n_q) {
            std::hint::black_box(flat.search(ds.texts.row(r), 10)?);
        }
        println!(
            "dense flat inner product, {} × {}-d, k = 10, one thread: {:.3} ms/query",
            flat.len(),
            ds.dim(),
            t.elapsed().as_secs_f64() * 1e3 / n_q as f64
        );
    }
    Ok(())
}

fn rayon_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
