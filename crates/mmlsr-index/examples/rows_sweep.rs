//! Exhaustive scoring with and without dense rows of impacts, by the share of documents a term
//! must hold to get a row ([`InvertedIndex::set_impact_rows`]): per setting and impact width,
//! the rows and their memory, ms/query one query per call, and q/s of `search_many` (one
//! thread, groups of queries sharing each pass over the rows) and of `search_batch` (every
//! thread of the rayon pool); best of REPS passes. Every setting's hits are checked equal to
//! exhaustive scoring without rows (the run stops otherwise), so only speed differs.
//!
//! ```text
//! cargo run --release -p mmlsr-index --example rows_sweep -- \
//!     SOURCE [QUERIES=200] [FRACTIONS=none,0.25,0.125,0.0625,0.03125] [REPS=3] [K=10]
//! ```
//!
//! SOURCE is a folder written by `mmlsr encode` or `mmlsr synth-sparse` (`img_sparse.parquet`,
//! `text_sparse.parquet`).

use std::time::Instant;

use mmlsr_core::CsrMatrix;
use mmlsr_index::{Algorithm, Impact, IndexConfig, InvertedIndex, QueryWeights, Scratch};
use mmlsr_store::SparseTable;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn best<T>(reps: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("at least one pass"))
}

fn ids(hits: &[Vec<mmlsr_index::IndexHit>]) -> Vec<Vec<(u32, u64)>> {
    hits.iter()
        .map(|h| h.iter().map(|x| (x.doc, x.score.raw)).collect())
        .collect()
}

fn sweep<I: Impact>(
    docs: &CsrMatrix,
    queries: &CsrMatrix,
    fractions: &[Option<f64>],
    reps: usize,
    k: usize,
) -> Res<()> {
    let mut index = InvertedIndex::<I>::build(docs, IndexConfig::default())?;
    let qs: Vec<QueryWeights> = queries
        .rows()
        .map(|r| index.quantize_query(r))
        .collect::<Result<_, _>>()?;
    let n_q = qs.len() as f64;
    let mut reference: Option<Vec<Vec<(u32, u64)>>> = None;
    for &fraction in fractions {
        index.set_impact_rows(fraction.unwrap_or(f64::INFINITY));
        let rows = index.n_impact_rows();
        let mib = (rows * index.n_docs()) as f64 / (1 << 20) as f64;
        let mut s = Scratch::default();
        let (one, hits) = best(reps, || {
            qs.iter()
                .map(|q| index.search(q, k, Algorithm::Exhaustive, &mut s))
                .collect::<Vec<_>>()
        });
        let (many, hits_many) = best(reps, || {
            index.search_many(&qs, k, Algorithm::Exhaustive, &mut s)
        });
        let (batch, hits_batch) = best(reps, || index.search_batch(&qs, k, Algorithm::Exhaustive));
        let got = ids(&hits);
        for (what, other) in [("search_many", &hits_many), ("search_batch", &hits_batch)] {
            if ids(other) != got {
                return Err(
                    format!("{what} differs from one by one at fraction {fraction:?}").into(),
                );
            }
        }
        match &reference {
            None => reference = Some(got),
            Some(r) if *r != got => {
                return Err(format!(
                    "hits at fraction {fraction:?} differ from the first setting's"
                )
                .into());
            }
            Some(_) => {}
        }
        let label = fraction.map_or("none".to_string(), |f| format!("{f}"));
        println!(
            "| u{} | {label} | {rows} | {mib:.1} | {:.3} | {:.0} | {:.0} |",
            I::BITS,
            one * 1e3 / n_q,
            n_q / many,
            n_q / batch,
        );
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let source = args.first().ok_or(
        "usage: rows_sweep SOURCE [QUERIES=200] [FRACTIONS=none,0.25,0.125,0.0625,0.03125] [REPS=3] [K=10]",
    )?;
    let n_q: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
    let fractions: Vec<Option<f64>> = args
        .get(2)
        .map_or("none,0.25,0.125,0.0625,0.03125", String::as_str)
        .split(',')
        .map(|f| {
            if f == "none" {
                Ok(None)
            } else {
                f.parse().map(Some)
            }
        })
        .collect::<Result<_, _>>()?;
    let reps: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let k: usize = args.get(4).map_or(Ok(10), |s| s.parse())?;
    let dir = std::path::Path::new(source);
    let docs = SparseTable::read_parquet(&dir.join("img_sparse.parquet"), None)?.matrix;
    let all =
        SparseTable::read_parquet(&dir.join("text_sparse.parquet"), Some(docs.n_cols()))?.matrix;
    let mut queries = CsrMatrix::empty(all.n_cols());
    for r in all.rows().take(n_q) {
        queries.push_row(r.indices, r.values)?;
    }
    println!(
        "{source}: {} documents, {} queries, top {k}, {} threads in the rayon pool",
        docs.n_rows(),
        queries.n_rows(),
        rayon::current_num_threads()
    );
    println!(
        "| impacts | row fraction | rows | row MiB | ms/query one call | q/s search_many (1 thread) | q/s search_batch |"
    );
    println!("|---|---|---|---|---|---|---|");
    sweep::<u8>(&docs, &queries, &fractions, reps, k)?;
    sweep::<u16>(&docs, &queries, &fractions, reps, k)?;
    Ok(())
}
