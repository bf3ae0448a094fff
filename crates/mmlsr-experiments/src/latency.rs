//! The latency table (`mmlsr bench`, `mmlsr reproduce table6`) (D2S Table 6) — throughput and latency of every query
//! mode and algorithm of the inverted index, and of the dense baselines, on one thread.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;
use clap::Args;
use mmlsr_core::CsrMatrix;
use mmlsr_index::{
    Algorithm, ApproxConfig, ApproxIndex, ApproxParams, ApproxScratch, DenseFlat, DenseHnsw,
    DocOrder, ExactIndex, ExactScratch, ForwardWeights, Hit, HnswConfig, IndexConfig,
    InvertedIndex, Pruning, QueryCut, QueryMode, QueryWeights, Scratch, recall,
};
use mmlsr_store::{Dataset, SparseTable, Split, Vocabulary};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// Time the index's exact algorithms (exhaustive, MaxScore, block-max) in the D2S query modes
/// (exp, no-exp, hybrid), exhaustive scoring over u16 impacts and over unquantised f32
/// weights, the Seismic-style approximate mode, and the dense baselines (flat inner product and
/// HNSW), one thread, at k = 10, 100, 1000. Each row also gives the FLOPs of
/// its vectors and its recall of the exact `exp` top-10 (of the flat top-10 for dense rows).
/// Writes `table6.md`, `table6.csv` and `table6.json` to `--out`.
///
/// Collections: generated Zipf vectors over BERT's 30,522 terms at the `--flops` targets
/// (own terms of a generated query: a third of its terms, at random), and every `--encoded`
/// folder (`img_sparse.parquet` documents and `text_sparse.parquet` queries from
/// `mmlsr encode`; own terms from the captions of `--data`, whose dense vectors also feed the
/// dense rows).
///
/// In `experiments/table6.toml` (`[bench]`), every key but `out`, `encoded` and `data` (which
/// `mmlsr reproduce table6` sets) may be given, spelt as the flag with `_` for `-`.
#[derive(Debug, Clone, PartialEq, Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchPlan {
    /// Output folder.
    #[arg(long, default_value = "results/table6")]
    #[serde(skip)]
    pub out: PathBuf,
    /// Documents per generated collection (123,287: MSCOCO's images, the D2S setting).
    #[arg(long, default_value_t = 123_287)]
    pub docs: usize,
    /// Queries timed per collection.
    #[arg(long, default_value_t = 1_000)]
    pub queries: usize,
    /// FLOPs targets of the generated collections (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [3.0, 12.0, 80.0])]
    pub flops: Vec<f64>,
    /// Skip the generated collections (bench only `--encoded` ones).
    #[arg(long)]
    pub no_generated: bool,
    /// Folders written by `mmlsr encode` (trained vectors), each benchmarked as a collection.
    #[arg(long, value_delimiter = ',')]
    #[serde(skip)]
    pub encoded: Vec<PathBuf>,
    /// The data folder the encoded vectors come from (own terms; dense baselines).
    #[arg(long)]
    #[serde(skip)]
    pub data: Option<PathBuf>,
    /// Skip the dense baselines (flat and HNSW) of `--data`.
    #[arg(long)]
    pub no_dense: bool,
    /// Cut-offs.
    #[arg(long, value_delimiter = ',', default_values_t = [10, 100, 1000], value_parser = crate::values::positive)]
    pub ks: Vec<usize>,
    /// Candidates of the hybrid mode (at least k).
    #[arg(long, default_value_t = 100)]
    pub hybrid_candidates: usize,
    /// Documents per block of the exact index (block-max pruning's granularity).
    #[arg(long, default_value_t = IndexConfig::default().block_size)]
    pub block_size: usize,
    /// Document order of the exact index: `given` or `heaviest-terms:N` (same results).
    #[arg(long, default_value_t = IndexConfig::default().doc_order)]
    #[serde(with = "doc_order_text")]
    pub doc_order: DocOrder,
    /// Approximate mode: postings kept per term (Seismic's λ).
    #[arg(long, default_value_t = ApproxConfig::default().postings_per_term)]
    pub approx_lambda: usize,
    /// Approximate mode: average documents per block.
    #[arg(long, default_value_t = ApproxConfig::default().block_size)]
    pub approx_block: usize,
    /// Approximate mode: fraction of a block summary's mass kept (α).
    #[arg(long, default_value_t = ApproxConfig::default().summary_energy)]
    pub approx_alpha: f32,
    /// Approximate mode: most terms per block summary.
    #[arg(long, default_value_t = ApproxConfig::default().max_summary_terms)]
    pub approx_summary_terms: usize,
    /// Approximate mode: a document's heaviest terms compared with the cluster centres'.
    #[arg(long, default_value_t = ApproxConfig::default().sketch_terms)]
    pub approx_sketch_terms: usize,
    /// Approximate mode: query terms whose lists are visited.
    #[arg(long, default_value_t = ApproxParams::default().query_cut)]
    pub query_cut: usize,
    /// Approximate mode: heap factor.
    #[arg(long, default_value_t = ApproxParams::default().heap_factor)]
    pub heap_factor: f32,
    /// Query-term pruning (u16 index): each query's heaviest terms that score every document.
    #[arg(long, default_value_t = 40, value_parser = crate::values::positive)]
    pub cut_terms: usize,
    /// Query-term pruning: documents ranked by their exact score (at least k; raised to k for
    /// larger cut-offs).
    #[arg(long, default_value_t = 100, value_parser = crate::values::positive)]
    pub cut_candidates: usize,
    /// HNSW: neighbours per node (M).
    #[arg(long, default_value_t = HnswConfig::default().max_connections)]
    pub hnsw_m: usize,
    /// HNSW: candidate list while building.
    #[arg(long, default_value_t = HnswConfig::default().ef_construction)]
    pub hnsw_ef_construction: usize,
    /// HNSW: candidate list while searching.
    #[arg(long, default_value_t = HnswConfig::default().ef_search)]
    pub hnsw_ef_search: usize,
    /// Seed of the generated collections.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Lines printed under the table (what made the `--encoded` vectors); not a flag.
    #[arg(skip)]
    #[serde(skip)]
    pub notes: Vec<String>,
}

impl Default for BenchPlan {
    /// The flags' defaults (a test checks that the two agree).
    fn default() -> Self {
        Self {
            out: PathBuf::from("results/table6"),
            docs: 123_287,
            queries: 1_000,
            flops: vec![3.0, 12.0, 80.0],
            no_generated: false,
            encoded: Vec::new(),
            data: None,
            no_dense: false,
            ks: vec![10, 100, 1000],
            hybrid_candidates: 100,
            block_size: IndexConfig::default().block_size,
            doc_order: IndexConfig::default().doc_order,
            approx_lambda: ApproxConfig::default().postings_per_term,
            approx_block: ApproxConfig::default().block_size,
            approx_alpha: ApproxConfig::default().summary_energy,
            approx_summary_terms: ApproxConfig::default().max_summary_terms,
            approx_sketch_terms: ApproxConfig::default().sketch_terms,
            query_cut: ApproxParams::default().query_cut,
            heap_factor: ApproxParams::default().heap_factor,
            cut_terms: 40,
            cut_candidates: 100,
            hnsw_m: HnswConfig::default().max_connections,
            hnsw_ef_construction: HnswConfig::default().ef_construction,
            hnsw_ef_search: HnswConfig::default().ef_search,
            seed: 42,
            notes: Vec::new(),
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Serialize)]
struct Row {
    collection: String,
    method: String,
    flops: Option<f64>,
    recall_at_10: Option<f64>,
    /// (k, mean latency in ms, queries per second) per cut-off.
    timings: Vec<(usize, f64, f64)>,
}

/// A sparse collection with its queries and their own terms.
struct Collection {
    name: String,
    docs: CsrMatrix,
    queries: CsrMatrix,
    own: Vec<Vec<u32>>,
    /// Dense document vectors (row-major) and dense queries, when known.
    dense: Option<(usize, Vec<f32>, Vec<Vec<f32>>)>,
}

pub fn run(args: BenchPlan) -> anyhow::Result<()> {
    anyhow::ensure!(!args.ks.is_empty(), "--ks needs at least one cut-off");
    let machine = machine_description();
    eprintln!("{machine}");
    let mut rows = Vec::new();
    let zipf = mmlsr_synth::ZipfTerms::new(30_522);
    let targets: &[f64] = if args.no_generated { &[] } else { &args.flops };
    for &target in targets {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed ^ target.to_bits());
        let len = zipf.terms_for_flops(target);
        eprintln!(
            "generating {} documents and {} queries with {len} terms each (FLOPs ≈ {target})",
            args.docs, args.queries
        );
        let docs = zipf.sample(&mut rng, args.docs, len);
        let queries = zipf.sample(&mut rng, args.queries, len);
        let own = queries
            .rows()
            .map(|q| {
                use rand::seq::IndexedRandom;
                let mut t: Vec<u32> = q
                    .indices
                    .choose_multiple(&mut rng, len.div_ceil(3))
                    .copied()
                    .collect();
                t.sort_unstable();
                t
            })
            .collect();
        rows.extend(bench_collection(
            &args,
            Collection {
                name: format!("Zipf, FLOPs target {target}"),
                docs,
                queries,
                own,
                dense: None,
            },
        )?);
    }
    if !args.encoded.is_empty() {
        let data = args
            .data
            .as_ref()
            .context("--encoded needs --data (the folder the vectors were encoded from)")?;
        let ds = Dataset::open(data)
            .with_context(|| format!("opening data folder {}", data.display()))?;
        let vocab = Vocabulary::from_dir(data)?;
        for (i, dir) in args.encoded.iter().enumerate() {
            let mut c = load_encoded(dir, &ds, &vocab, args.queries)?;
            // The dense rows depend on the data folder only: time them once.
            if i > 0 || args.no_dense {
                c.dense = None;
            }
            rows.extend(bench_collection(&args, c)?);
        }
    }
    write_outputs(&args.out, &machine, &args, &rows)
}

/// Trained vectors: documents = every image of `img_sparse.parquet`, queries = the first
/// `n` test captions present in `text_sparse.parquet`.
fn load_encoded(
    dir: &Path,
    ds: &Dataset,
    vocab: &Vocabulary,
    n: usize,
) -> anyhow::Result<Collection> {
    crate::integrity::verify(dir, "encoded vectors")?;
    let docs = SparseTable::read_parquet(&dir.join("img_sparse.parquet"), Some(vocab.len()))?;
    let texts = SparseTable::read_parquet(&dir.join("text_sparse.parquet"), Some(vocab.len()))?;
    let raw = crate::evaluation::captions_by_id(ds);
    let test = ds.split(Split::Test, mmlsr_store::RestvalPolicy::MergeIntoTrain);
    let mut queries = CsrMatrix::empty(vocab.len());
    let (mut own, mut dense_q) = (Vec::new(), Vec::new());
    for &r in &test.caption_rows {
        if own.len() == n {
            break;
        }
        let sentid = ds.texts().ids().id(r);
        let Some(tr) = texts.ids.row(sentid) else {
            continue;
        };
        let row = texts.matrix.row(tr);
        queries.push_row(row.indices, row.values)?;
        own.push(vocab.term_ids(raw.get(sentid).copied().unwrap_or(""))?);
        dense_q.push(ds.texts().row(r).to_vec());
    }
    anyhow::ensure!(
        !own.is_empty(),
        "{}: no test caption of {} is in text_sparse.parquet",
        dir.display(),
        ds.dir().display()
    );
    let mut dense_docs = Vec::with_capacity(docs.matrix.n_rows() * ds.dim());
    for r in 0..docs.matrix.n_rows() {
        let id = docs.ids.id(r);
        let row = ds.images().ids().row(id).with_context(|| {
            format!(
                "{}: image {id} is not in {}",
                dir.join("img_sparse.parquet").display(),
                ds.dir().display()
            )
        })?;
        dense_docs.extend_from_slice(ds.images().row(row));
    }
    Ok(Collection {
        name: format!(
            "{} ({})",
            dir.file_name()
                .map_or("encoded".into(), |f| f.to_string_lossy()),
            ds.dir()
                .file_name()
                .map_or("".into(), |f| f.to_string_lossy())
        ),
        docs: docs.matrix,
        queries,
        own,
        dense: Some((ds.dim(), dense_docs, dense_q)),
    })
}

/// Mean latency (ms) and throughput of `f` over `n` queries.
fn time(n: usize, mut f: impl FnMut(usize)) -> (f64, f64) {
    let t = Instant::now();
    for i in 0..n {
        f(i);
    }
    let s = t.elapsed().as_secs_f64();
    (s * 1e3 / n as f64, n as f64 / s)
}

fn bench_collection(args: &BenchPlan, c: Collection) -> anyhow::Result<Vec<Row>> {
    let n_q = c.queries.n_rows();
    let flops = mmlsr_metrics::flops(&c.queries, &c.docs)?;
    eprintln!(
        "{}: {} documents, {} queries, FLOPs {flops:.2}; building the indexes",
        c.name,
        c.docs.n_rows(),
        n_q
    );
    let t = Instant::now();
    let config = IndexConfig {
        block_size: args.block_size,
        doc_order: args.doc_order,
    };
    let index = InvertedIndex::<u8>::build(&c.docs, config)?;
    let build_exact = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let approx = ApproxIndex::build(
        &c.docs,
        ApproxConfig {
            pruning: Pruning::PerTerm,
            postings_per_term: args.approx_lambda,
            block_size: args.approx_block,
            summary_energy: args.approx_alpha,
            max_summary_terms: args.approx_summary_terms,
            sketch_terms: args.approx_sketch_terms,
            seed: args.seed,
            forward_weights: ForwardWeights::default(),
        },
    )?;
    let build_approx = t.elapsed().as_secs_f64();
    eprintln!(
        "  exact index {build_exact:.1} s ({} postings), approximate {build_approx:.1} s ({} postings, {} blocks)",
        index.n_postings(),
        approx.n_postings(),
        approx.n_blocks()
    );
    let v = index.vocab_size();
    let qw: Vec<QueryWeights> = c
        .queries
        .rows()
        .map(|q| QueryWeights::new(q, v))
        .collect::<Result<_, _>>()?;
    let mut s = Scratch::default();
    let exact10: Vec<Vec<u32>> = qw
        .iter()
        .map(|q| {
            index
                .search(q, 10, Algorithm::Exhaustive, &mut s)
                .iter()
                .map(|h| h.doc)
                .collect()
        })
        .collect();
    let mut rows = Vec::new();
    let modes = [
        ("exp", QueryMode::Exp),
        ("no-exp", QueryMode::NoExp),
        (
            "hybrid",
            QueryMode::Hybrid {
                candidates: args.hybrid_candidates,
            },
        ),
    ];
    for (mode_name, mode) in modes {
        for (alg_name, alg) in [
            ("exhaustive", Algorithm::Exhaustive),
            ("MaxScore", Algorithm::MaxScore),
            ("block-max", Algorithm::BlockMax),
        ] {
            let mut timings = Vec::new();
            for &k in &args.ks {
                let mode = match mode {
                    QueryMode::Hybrid { candidates } => QueryMode::Hybrid {
                        candidates: candidates.max(k),
                    },
                    m => m,
                };
                let (ms, qps) = time(n_q, |i| {
                    let r = index
                        .search_mode(c.queries.row(i), &c.own[i], mode, k, alg, &mut s)
                        .expect("validated queries");
                    std::hint::black_box(r);
                });
                timings.push((k, ms, qps));
            }
            let (mut rec, mut fell_back) = (0.0, 0usize);
            for (i, (own, exact)) in c.own.iter().zip(&exact10).enumerate() {
                let r = index.search_mode(c.queries.row(i), own, mode, 10, alg, &mut s)?;
                rec += recall(&r, exact);
                fell_back += s.fell_back as usize;
            }
            let fallback = if alg == Algorithm::BlockMax {
                format!(
                    " (b {}, {} order, exhaustive fallback {:.0} %)",
                    args.block_size,
                    args.doc_order,
                    100.0 * fell_back as f64 / n_q.max(1) as f64
                )
            } else {
                String::new()
            };
            let row = Row {
                collection: c.name.clone(),
                method: format!("sparse {mode_name} · {alg_name}{fallback}"),
                flops: Some(flops),
                recall_at_10: Some(rec / n_q as f64),
                timings,
            };
            eprintln!("  {}", summary(&row));
            rows.push(row);
        }
    }
    // The exhaustive reference over finer scores: u16 impacts, and unquantised f32 weights;
    // and query-term pruning over the u16 index (exp queries; recall = agreement with the u8
    // top-10).
    let index16 = InvertedIndex::<u16>::build(&c.docs, config)?;
    let qw16: Vec<QueryWeights> = c
        .queries
        .rows()
        .map(|q| index16.quantize_query(q))
        .collect::<Result<_, _>>()?;
    let exact = ExactIndex::build(&c.docs)?;
    let mut es = ExactScratch::default();
    let mut cut_scratch = Scratch::default();
    for (method, run) in [
        (
            "sparse exp · exhaustive, u16 impacts",
            &mut |i: usize, k: usize| -> Vec<Hit> {
                index16
                    .search(&qw16[i], k, Algorithm::Exhaustive, &mut s)
                    .iter()
                    .map(|h| h.map_score(|s| s.value))
                    .collect()
            } as &mut dyn FnMut(usize, usize) -> Vec<Hit>,
        ),
        (
            "sparse exp · exhaustive, f32 (unquantised)",
            &mut |i: usize, k: usize| -> Vec<Hit> {
                exact
                    .search(c.queries.row(i), k, &mut es)
                    .expect("validated queries")
                    .iter()
                    .map(|h| h.map_score(|s| s as f32))
                    .collect()
            },
        ),
        (
            &*format!(
                "sparse exp · query-term pruning, u16 impacts ({} terms, {} candidates)",
                args.cut_terms, args.cut_candidates
            ),
            &mut |i: usize, k: usize| -> Vec<Hit> {
                let cut = QueryCut {
                    terms: args.cut_terms,
                    candidates: args.cut_candidates.max(k),
                };
                index16
                    .search_cut(&qw16[i], k, cut, &mut cut_scratch)
                    .expect("a positive cut with at least k candidates")
                    .iter()
                    .map(|h| h.map_score(|s| s.value))
                    .collect()
            },
        ),
    ] {
        let timings = args
            .ks
            .iter()
            .map(|&k| {
                let (ms, qps) = time(n_q, |i| {
                    std::hint::black_box(run(i, k));
                });
                (k, ms, qps)
            })
            .collect();
        let rec: f64 = exact10
            .iter()
            .enumerate()
            .map(|(i, want)| recall(&run(i, 10), want))
            .sum();
        let row = Row {
            collection: c.name.clone(),
            method: method.to_string(),
            flops: Some(flops),
            recall_at_10: Some(rec / n_q as f64),
            timings,
        };
        eprintln!("  {}", summary(&row));
        rows.push(row);
    }
    // Approximate, exp queries.
    let params = ApproxParams {
        query_cut: args.query_cut,
        heap_factor: args.heap_factor,
    };
    let mut a = ApproxScratch::default();
    let mut timings = Vec::new();
    for &k in &args.ks {
        let (ms, qps) = time(n_q, |i| {
            std::hint::black_box(
                approx
                    .search(c.queries.row(i), k, params, &mut a)
                    .expect("validated queries"),
            );
        });
        timings.push((k, ms, qps));
    }
    let mut rec = 0.0;
    for (i, exact) in exact10.iter().enumerate() {
        let r: Vec<Hit> = approx.search(c.queries.row(i), 10, params, &mut a)?;
        rec += recall(&r, exact);
    }
    let row = Row {
        collection: c.name.clone(),
        method: format!(
            "sparse exp · approximate (λ {}, block {}, α {}, cut {}, heap {})",
            args.approx_lambda,
            args.approx_block,
            args.approx_alpha,
            args.query_cut,
            args.heap_factor
        ),
        flops: Some(flops),
        recall_at_10: Some(rec / n_q as f64),
        timings,
    };
    eprintln!("  {}", summary(&row));
    rows.push(row);
    // Batch throughput on every thread, for reference.
    let t = Instant::now();
    let batch = index.search_batch(&qw, 10, Algorithm::Exhaustive);
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(batch.len() == n_q);
    eprintln!(
        "  exp · exhaustive, k = 10, {} threads: {:.0} q/s",
        rayon::current_num_threads(),
        n_q as f64 / secs
    );

    if let Some((dim, docs, queries)) = &c.dense {
        let flat = DenseFlat::new(*dim, docs.clone())?;
        let flat10: Vec<Vec<u32>> = queries
            .iter()
            .map(|q| Ok(flat.search(q, 10)?.iter().map(|h| h.doc).collect()))
            .collect::<anyhow::Result<_>>()?;
        let mut timings = Vec::new();
        for &k in &args.ks {
            let (ms, qps) = time(n_q, |i| {
                std::hint::black_box(flat.search(&queries[i], k).expect("checked dims"));
            });
            timings.push((k, ms, qps));
        }
        let dense_name = format!(
            "dense vectors ({})",
            c.name
                .split_once(" (")
                .map_or("", |x| x.1)
                .trim_end_matches(')')
        );
        let row = Row {
            collection: dense_name.clone(),
            method: format!("dense flat ({dim}-d, f32)"),
            flops: None,
            recall_at_10: Some(1.0),
            timings,
        };
        eprintln!("  {}", summary(&row));
        rows.push(row);
        let t = Instant::now();
        let hnsw = DenseHnsw::build(
            *dim,
            docs,
            HnswConfig {
                max_connections: args.hnsw_m,
                ef_construction: args.hnsw_ef_construction,
                ef_search: args.hnsw_ef_search,
            },
        )?;
        eprintln!(
            "  HNSW built in {:.1} s on {} threads",
            t.elapsed().as_secs_f64(),
            rayon::current_num_threads()
        );
        let mut timings = Vec::new();
        for &k in &args.ks {
            let (ms, qps) = time(n_q, |i| {
                std::hint::black_box(hnsw.search(&queries[i], k).expect("checked dims"));
            });
            timings.push((k, ms, qps));
        }
        let mut rec = 0.0;
        for i in 0..n_q {
            let r = hnsw.search(&queries[i], 10)?;
            let found = flat10[i]
                .iter()
                .filter(|d| r.iter().any(|h| h.doc == **d))
                .count();
            rec += found as f64 / flat10[i].len().max(1) as f64;
        }
        let row = Row {
            collection: dense_name,
            method: format!(
                "dense HNSW (M {}, efC {}, ef {})",
                args.hnsw_m, args.hnsw_ef_construction, args.hnsw_ef_search
            ),
            flops: None,
            recall_at_10: Some(rec / n_q as f64),
            timings,
        };
        eprintln!("  {}", summary(&row));
        rows.push(row);
    }
    Ok(rows)
}

fn summary(r: &Row) -> String {
    let mut s = format!("{:<60}", r.method);
    for (k, ms, qps) in &r.timings {
        let _ = write!(s, " @{k}: {ms:.3} ms {qps:.0} q/s;");
    }
    if let Some(rec) = r.recall_at_10 {
        let _ = write!(s, " recall@10 {rec:.3}");
    }
    s
}

/// CPU model and logical core count (from /proc/cpuinfo where it exists).
fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{cpu}, {cores} logical cores, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

fn write_outputs(out: &Path, machine: &str, args: &BenchPlan, rows: &[Row]) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Table 6: retrieval latency and throughput\n\nOne thread (except the HNSW build), \
         release build. Machine: {machine}. Made by `mmlsr {}`.\n",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    let mut header = "| collection | method | FLOPs | recall@10 |".to_string();
    let mut rule = "|---|---|---:|---:|".to_string();
    for k in &args.ks {
        let _ = write!(header, " q/s @{k} | ms @{k} |");
        rule.push_str("---:|---:|");
    }
    let _ = writeln!(md, "{header}\n{rule}");
    let mut csv = String::from("collection,method,flops,recall_at_10,k,latency_ms,queries_per_s\n");
    for r in rows {
        let _ = write!(
            md,
            "| {} | {} | {} | {} |",
            r.collection,
            r.method,
            r.flops.map_or("–".into(), |f| format!("{f:.2}")),
            r.recall_at_10.map_or("–".into(), |x| format!("{x:.3}"))
        );
        for (k, ms, qps) in &r.timings {
            let _ = write!(md, " {qps:.0} | {ms:.3} |");
            let _ = writeln!(
                csv,
                "\"{}\",\"{}\",{},{},{k},{ms:.6},{qps:.3}",
                r.collection,
                r.method,
                r.flops.map_or(String::new(), |f| f.to_string()),
                r.recall_at_10.map_or(String::new(), |f| f.to_string())
            );
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "\nrecall@10: share of the exact `exp` top-10 of the u8 index (for dense rows, of the \
         flat top-10) that the row returns; for the u16, f32 and query-term pruning rows, \
         their agreement with it. Hybrid rescoring uses max(k, {}) candidates, query-term \
         pruning max(k, {}).",
        args.hybrid_candidates, args.cut_candidates
    );
    for note in &args.notes {
        let _ = writeln!(md, "\n{note}");
    }
    let json = serde_json::json!({ "machine": machine, "queries": args.queries, "rows": rows });
    mmlsr_store::atomic_write_bytes(&out.join("table6.md"), md.as_bytes())?;
    mmlsr_store::atomic_write_bytes(&out.join("table6.csv"), csv.as_bytes())?;
    mmlsr_store::atomic_write_bytes(
        &out.join("table6.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    println!("{md}");
    eprintln!("wrote {}", out.join("table6.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{FromArgMatches, Parser};

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        plan: BenchPlan,
    }

    #[test]
    fn default_plan_equals_the_flags_defaults() {
        let parsed = Cli::try_parse_from(["bench"]).unwrap().plan;
        assert_eq!(parsed, BenchPlan::default());
        // And a flag still overrides it.
        let cmd = <Cli as clap::CommandFactory>::command();
        let m = cmd.try_get_matches_from(["bench", "--docs", "7"]).unwrap();
        assert_eq!(Cli::from_arg_matches(&m).unwrap().plan.docs, 7);
    }
}

/// `doc_order` in a TOML config: the text the command line takes (`given`, `heaviest-terms:N`).
mod doc_order_text {
    use mmlsr_index::DocOrder;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(order: &DocOrder, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(order)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DocOrder, D::Error> {
        String::deserialize(d)?.parse().map_err(D::Error::custom)
    }
}
