//! `mmlsr synth-sparse`: a generated sparse collection for index benchmarks, in the layout
//! `mmlsr encode` writes.

use std::{fmt::Write as _, path::PathBuf, time::Instant};

use anyhow::Context;
use clap::Args;
use mmlsr_store::{IdIndex, SparseTable};
use mmlsr_synth::ZipfTerms;

use crate::integrity;

/// Generate a sparse collection for index benchmarks at any size: documents and queries whose
/// terms follow a Zipf(1) law over `--vocab-size` term ids (BERT's 30,522 by default), every
/// vector with the number of distinct terms that makes the expected FLOPs (D2S eq. 1) equal
/// `--flops`, weights LogNormal(0, 0.6). Documents and queries are drawn independently.
///
/// Writes `OUT/img_sparse.parquet` (documents `d0`, `d1`, …), `OUT/text_sparse.parquet`
/// (queries `q0`, …), a card `OUT/README.md` (settings, measured FLOPs, sizes, time, peak
/// memory) and a checksum manifest: the folder `mmlsr index`, `mmlsr bench --encoded`, the
/// Python package and `scripts/peers/run_peers.py` read. The same seed gives the same files,
/// whatever the number of threads.
#[derive(Debug, Args)]
pub struct SynthSparseArgs {
    /// Output folder (created; files already there are replaced).
    #[arg(long)]
    pub out: PathBuf,
    /// Documents.
    #[arg(long, default_value_t = 1_000_000)]
    pub docs: usize,
    /// Queries.
    #[arg(long, default_value_t = 1_000)]
    pub queries: usize,
    /// Expected FLOPs (D2S eq. 1) of a query against a document.
    #[arg(long, default_value_t = 3.0)]
    pub flops: f64,
    /// Vocabulary size (term ids 0..V).
    #[arg(long, default_value_t = 30_522)]
    pub vocab_size: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// This process's peak resident memory in bytes (Linux `VmHWM`), when known.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn run(args: SynthSparseArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.docs > 0 && args.queries > 0,
        "--docs and --queries must be at least 1"
    );
    anyhow::ensure!(args.vocab_size > 0, "--vocab-size must be at least 1");
    anyhow::ensure!(
        args.flops.is_finite() && args.flops > 0.0,
        "--flops {}: expected a positive number",
        args.flops
    );
    let start = Instant::now();
    let zipf = ZipfTerms::new(args.vocab_size);
    let len = zipf.terms_for_flops(args.flops);
    eprintln!(
        "generating {} documents and {} queries, {len} terms each (FLOPs ≈ {}) …",
        args.docs, args.queries, args.flops
    );
    let docs = zipf.sample_seeded(args.seed, args.docs, len);
    let queries = zipf.sample_seeded(args.seed.wrapping_add(1) ^ 0x51, args.queries, len);
    let flops = mmlsr_metrics::flops(&queries, &docs)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    integrity::unseal(&args.out)?;
    let ids = |prefix: char, n: usize| {
        let mut index = IdIndex::with_capacity(n, n * 8);
        for i in 0..n {
            index
                .push_display(format_args!("{prefix}{i}"))
                .map_err(|_| anyhow::anyhow!("generated ids are unique"))?;
        }
        anyhow::Ok(index)
    };
    let (n_docs, nnz_docs) = (docs.n_rows(), docs.nnz());
    let doc_path = args.out.join("img_sparse.parquet");
    SparseTable::new(ids('d', n_docs)?, docs)?.write_parquet(&doc_path)?;
    let query_path = args.out.join("text_sparse.parquet");
    SparseTable::new(ids('q', args.queries)?, queries)?.write_parquet(&query_path)?;
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let seconds = start.elapsed().as_secs_f64();
    let peak = peak_rss_bytes();
    let mut card = String::new();
    let _ = writeln!(
        card,
        "# Generated sparse collection\n\nMade by `mmlsr synth-sparse --docs {} --queries {} \
         --flops {} --vocab-size {} --seed {}`.\n\n| | |\n|---|---:|\n\
         | documents (`img_sparse.parquet`) | {n_docs} |\n| queries (`text_sparse.parquet`) | {} |\n\
         | vocabulary | {} |\n| terms per vector | {len} |\n| postings | {nnz_docs} |\n\
         | FLOPs asked | {} |\n| FLOPs measured (D2S eq. 1) | {flops:.3} |\n\
         | img_sparse.parquet | {:.1} MB |\n| text_sparse.parquet | {:.1} MB |\n\
         | in memory as CSR (u32 ids + f32 weights) | {:.1} MB |\n\
         | generation | {seconds:.1} s |\n| peak memory of the generator | {} |\n\n\
         Terms follow a Zipf(1) law over the vocabulary (ranks mapped to ids by a fixed \
         permutation); weights LogNormal(0, 0.6); documents and queries drawn independently.",
        args.docs,
        args.queries,
        args.flops,
        args.vocab_size,
        args.seed,
        args.queries,
        args.vocab_size,
        args.flops,
        size(&doc_path) as f64 / 1e6,
        size(&query_path) as f64 / 1e6,
        nnz_docs as f64 * 8.0 / 1e6,
        peak.map_or("unknown".into(), |b| format!("{:.0} MB", b as f64 / 1e6)),
    );
    mmlsr_store::atomic_write_bytes(&args.out.join("README.md"), card.as_bytes())?;
    integrity::seal(&args.out)?;
    println!("{card}");
    Ok(())
}
