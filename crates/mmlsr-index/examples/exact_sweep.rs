//! The exact algorithms' speed by block size and document order: per setting, build time and
//! ms/query (one thread, one query per call, best of REPS passes) of exhaustive scoring and
//! block-max pruning (MaxScore too if asked), with `u8` and `u16` impacts, and the block maxima
//! block-max pruning reads a query (a dense row counts all its blocks). Every setting's hits are
//! checked equal to the first setting's exhaustive hits of the same width (the run stops
//! otherwise), so only speed differs.
//!
//! ```text
//! cargo run --release -p mmlsr-index --example exact_sweep -- \
//!     SOURCE [QUERIES=200] [BLOCKS=16,64] [ORDERS=given,heaviest-terms:3] [REPS=3] \
//!     [ALGORITHMS=exhaustive,block-max]
//! ```
//!
//! SOURCE is a folder written by `mmlsr encode` or `mmlsr synth-sparse` (`img_sparse.parquet`,
//! `text_sparse.parquet`), or `zipf:DOCS:FLOPS`: the collection `mmlsr synth-sparse --docs DOCS
//! --flops FLOPS` writes (seed 42, 30,522 terms), generated in memory.

use std::time::Instant;

use mmlsr_core::CsrMatrix;
use mmlsr_index::{Algorithm, DocOrder, Impact, IndexConfig, InvertedIndex, QueryWeights, Scratch};
use mmlsr_store::SparseTable;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn load(source: &str) -> Res<(CsrMatrix, CsrMatrix)> {
    if let Some(spec) = source.strip_prefix("zipf:") {
        let (docs, flops) = spec
            .split_once(':')
            .ok_or("expected zipf:DOCS:FLOPS, e.g. zipf:1000000:3")?;
        let zipf = mmlsr_synth::ZipfTerms::new(30_522);
        let len = zipf.terms_for_flops(flops.parse()?);
        // The seeds `mmlsr synth-sparse` uses by default (documents 42, queries (42+1) ^ 0x51).
        return Ok((
            zipf.sample_seeded(42, docs.parse()?, len),
            zipf.sample_seeded(43 ^ 0x51, 1000, len),
        ));
    }
    let dir = std::path::Path::new(source);
    let docs = SparseTable::read_parquet(&dir.join("img_sparse.parquet"), None)?;
    let queries =
        SparseTable::read_parquet(&dir.join("text_sparse.parquet"), Some(docs.matrix.n_cols()))?;
    Ok((docs.matrix, queries.matrix))
}

struct Sweep<'a> {
    docs: &'a CsrMatrix,
    queries: &'a CsrMatrix,
    reps: usize,
    algorithms: &'a [Algorithm],
}

/// One algorithm's best pass over the queries, with its hits and work (of the last pass).
struct Measured {
    ms: f64,
    hits: Vec<Vec<u32>>,
    bounds_read: u64,
    blocks_scored: u64,
    fell_back: usize,
}

impl Sweep<'_> {
    /// One impact width over every block size and order; `reference` holds the first
    /// setting's exhaustive hits, which every exact setting of this width must return.
    fn run<I: Impact>(
        &self,
        name: &str,
        blocks: &[usize],
        orders: &[DocOrder],
        reference: &mut Option<Vec<Vec<u32>>>,
    ) -> Res<()> {
        for &block_size in blocks {
            for &doc_order in orders {
                let start = Instant::now();
                let index = InvertedIndex::<I>::build(
                    self.docs,
                    IndexConfig {
                        block_size,
                        doc_order,
                    },
                )?;
                let build = start.elapsed().as_secs_f64();
                let qs: Vec<QueryWeights> = self
                    .queries
                    .rows()
                    .map(|q| index.quantize_query(q))
                    .collect::<Result<_, _>>()?;
                let mut exhaustive_ms = None;
                for &algorithm in self.algorithms {
                    let m = self.measure(&index, &qs, algorithm);
                    let want = reference.get_or_insert_with(|| m.hits.clone());
                    if *want != m.hits {
                        return Err(format!(
                            "{name}, block {block_size}, {doc_order}, {algorithm:?}: hits differ \
                             from the first setting's exhaustive scoring"
                        )
                        .into());
                    }
                    let vs = match (algorithm, exhaustive_ms) {
                        (Algorithm::Exhaustive, _) => {
                            exhaustive_ms = Some(m.ms);
                            "1.00×".to_string()
                        }
                        (_, Some(e)) => format!("{:.2}×", e / m.ms),
                        _ => "–".to_string(),
                    };
                    let n = qs.len() as f64;
                    println!(
                        "| {name} | {block_size} | {doc_order} | {build:.1} | {algorithm:?} | \
                         {:.3} | {vs} | {:.0} | {:.0} | {:.0} % |",
                        m.ms,
                        m.bounds_read as f64 / n,
                        m.blocks_scored as f64 / n,
                        100.0 * m.fell_back as f64 / n
                    );
                }
            }
        }
        Ok(())
    }

    /// One algorithm over the queries, `reps` passes.
    fn measure<I: Impact>(
        &self,
        index: &InvertedIndex<I>,
        qs: &[QueryWeights],
        algorithm: Algorithm,
    ) -> Measured {
        let mut s = Scratch::default();
        let mut m = Measured {
            ms: f64::MAX,
            hits: Vec::new(),
            bounds_read: 0,
            blocks_scored: 0,
            fell_back: 0,
        };
        for _ in 0..self.reps {
            m.hits.clear();
            (m.bounds_read, m.blocks_scored, m.fell_back) = (0, 0, 0);
            let t = Instant::now();
            for q in qs {
                let h = index.search(q, 10, algorithm, &mut s);
                m.bounds_read += s.bounds_read;
                m.blocks_scored += s.blocks_scored;
                m.fell_back += s.fell_back as usize;
                m.hits.push(h.iter().map(|h| h.doc).collect());
            }
            m.ms = m.ms.min(t.elapsed().as_secs_f64() * 1e3 / qs.len() as f64);
        }
        m
    }
}

/// A comma-separated argument, or `default` when it is absent.
fn list<T: std::str::FromStr>(arg: Option<&String>, default: &str) -> Res<Vec<T>>
where
    T::Err: std::error::Error + 'static,
{
    Ok(arg
        .map_or(default, String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(source) = args.first() else {
        return Err(
            "usage: exact_sweep SOURCE [QUERIES] [BLOCKS] [ORDERS] [REPS] [ALGORITHMS]".into(),
        );
    };
    let n_q: usize = args.get(1).map_or(Ok(200), |s| s.parse())?;
    let blocks: Vec<usize> = list(args.get(2), "16,64")?;
    let orders: Vec<DocOrder> = list(args.get(3), "given,heaviest-terms:3")?;
    let reps: usize = args.get(4).map_or(Ok(3), |s| s.parse())?;
    let algorithms: Vec<Algorithm> = args
        .get(5)
        .map_or("exhaustive,block-max", String::as_str)
        .split(',')
        .map(|a| match a {
            "exhaustive" => Ok(Algorithm::Exhaustive),
            "block-max" => Ok(Algorithm::BlockMax),
            "maxscore" => Ok(Algorithm::MaxScore),
            other => Err(format!(
                "algorithm {other:?}: exhaustive, block-max or maxscore"
            )),
        })
        .collect::<Result<_, _>>()?;
    if algorithms.first() != Some(&Algorithm::Exhaustive) {
        return Err("ALGORITHMS must start with exhaustive (the reference)".into());
    }
    let start = Instant::now();
    let (docs, all_queries) = load(source)?;
    let mut queries = CsrMatrix::empty(docs.n_cols());
    for q in all_queries.rows().take(n_q) {
        queries.push_row(q.indices, q.values)?;
    }
    println!(
        "{source}: {} documents, {} postings, {} queries, k = 10 (loaded in {:.1} s); ms/query \
         one thread, best of {reps}",
        docs.n_rows(),
        docs.nnz(),
        queries.n_rows(),
        start.elapsed().as_secs_f64()
    );
    println!(
        "| impacts | block | order | build s | algorithm | ms/query | speed vs exhaustive | \
         bounds read | blocks scored | fell back |"
    );
    println!("|---|---:|---|---:|---|---:|---:|---:|---:|---:|");
    let sweep = Sweep {
        docs: &docs,
        queries: &queries,
        reps,
        algorithms: &algorithms,
    };
    let mut reference = None;
    sweep.run::<u8>("u8", &blocks, &orders, &mut reference)?;
    reference = None;
    sweep.run::<u16>("u16", &blocks, &orders, &mut reference)?;
    Ok(())
}
