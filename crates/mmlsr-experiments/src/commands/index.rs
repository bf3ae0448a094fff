//! `mmlsr index`: build the inverted index over encoded image vectors.

use std::{path::PathBuf, time::Instant};

use anyhow::Context;
use clap::Args;
use mmlsr_index::{DocOrder, Impact, IndexConfig, InvertedIndex, write_jsonl};
use mmlsr_store::SparseTable as Table;
use mmlsr_store::{SparseTable, Vocabulary};

/// Build the inverted index (u8 or u16 impacts, block maxima; see crates/mmlsr-index/README.md)
/// over the image vectors of an `mmlsr encode` folder (`img_sparse.parquet`) and write
/// `OUT/index.mmlsr` (versioned, checksummed), `OUT/doc_ids.txt` (one image id per line,
/// in index order) and `OUT/MANIFEST.sha256` (the SHA-256 of every file, verified by
/// `search`). Optionally also export them for other engines: `--jsonl` (Seismic, Anserini
/// JsonVectorCollection) and `--ciff` (PISA, Anserini, BMP), which need the data folder's
/// vocabulary for the term strings.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Folder written by `mmlsr encode`.
    pub encoded: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Documents per block of the block-max bounds.
    #[arg(long, default_value_t = IndexConfig::default().block_size)]
    pub block_size: usize,
    /// Document order: `given`, or `heaviest-terms:N` (documents sorted by their N heaviest
    /// terms, so that block-max pruning skips more; results are the same, CIFF export in that
    /// order).
    #[arg(long, default_value_t = IndexConfig::default().doc_order)]
    pub doc_order: DocOrder,
    /// The data folder (its vocabulary names the terms of the JSONL and CIFF exports).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Also write `docs.jsonl` ({id, vector: {token: weight}} per image).
    #[arg(long)]
    pub jsonl: bool,
    /// Also write `index.ciff`.
    #[arg(long)]
    pub ciff: bool,
    /// Impact width: 8 bits (4× smaller postings than f32) or 16 (256× finer steps).
    #[arg(long, value_enum, default_value_t = ImpactsArg::U8)]
    pub impacts: ImpactsArg,
}

/// Impact width of an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImpactsArg {
    /// `u8` impacts.
    U8,
    /// `u16` impacts.
    U16,
}

pub fn run(args: IndexArgs) -> anyhow::Result<()> {
    crate::integrity::verify(&args.encoded, "encoded vectors")?;
    let path = args.encoded.join("img_sparse.parquet");
    let docs = SparseTable::read_parquet(&path, None)
        .with_context(|| format!("reading the image vectors {}", path.display()))?;
    match args.impacts {
        ImpactsArg::U8 => build::<u8>(&args, &path, &docs),
        ImpactsArg::U16 => build::<u16>(&args, &path, &docs),
    }
}

fn build<I: Impact>(args: &IndexArgs, path: &std::path::Path, docs: &Table) -> anyhow::Result<()> {
    let t = Instant::now();
    let index = InvertedIndex::<I>::build(
        &docs.matrix,
        IndexConfig {
            block_size: args.block_size,
            doc_order: args.doc_order,
        },
    )
    .with_context(|| format!("indexing {}", path.display()))?;
    let build = t.elapsed().as_secs_f64();
    check_quantisation::<I>(path, docs, index.n_postings())?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    crate::integrity::unseal(&args.out)?;
    index.write(&args.out.join("index.mmlsr"))?;
    let ids: Vec<String> = (0..docs.matrix.n_rows())
        .map(|r| docs.ids.id(r).to_string())
        .collect();
    let mut text = ids.join("\n");
    text.push('\n');
    mmlsr_store::atomic_write_bytes(&args.out.join("doc_ids.txt"), text.as_bytes())?;
    if args.jsonl || args.ciff {
        let data = args
            .data
            .as_ref()
            .context("--jsonl and --ciff need --data (the vocabulary names the terms)")?;
        let vocab = Vocabulary::from_dir(data)?;
        anyhow::ensure!(
            vocab.len() == index.vocab_size(),
            "{}: vocabulary of {} terms, the vectors have {}",
            data.display(),
            vocab.len(),
            index.vocab_size()
        );
        let tokens: Vec<String> = (0..vocab.len() as u32)
            .map(|t| vocab.token(t).unwrap_or_default())
            .collect();
        if args.jsonl {
            write_jsonl(&args.out.join("docs.jsonl"), &ids, &docs.matrix, &tokens)?;
        }
        if args.ciff {
            index.write_ciff(
                &args.out.join("index.ciff"),
                &ids,
                &tokens,
                &format!("mmlsr index of {}", path.display()),
            )?;
        }
    }
    // The manifest ties doc_ids.txt to index.mmlsr: a reordered id file is refused.
    crate::integrity::seal(&args.out)?;
    println!(
        "indexed {} images ({} postings, u{} impacts, |V| = {}, blocks of {}, {} order) in \
         {build:.2} s → {}",
        index.n_docs(),
        index.n_postings(),
        I::BITS,
        index.vocab_size(),
        args.block_size,
        args.doc_order,
        args.out.display()
    );
    Ok(())
}

/// Impacts are `round(w / (max weight / I::MAX))`: one outlier weight (a 1e30 in a column of
/// ~1s) sends every other weight to impact 0, and those postings are dropped. Refuse when
/// that loses most weights, naming the outlier; warn when it loses more than 1 %.
fn check_quantisation<I: Impact>(
    path: &std::path::Path,
    docs: &Table,
    postings: usize,
) -> anyhow::Result<()> {
    let nnz = docs.matrix.nnz();
    let dropped = nnz.saturating_sub(postings);
    if dropped * 100 <= nnz {
        return Ok(());
    }
    let (_, _, values) = docs.matrix.raw();
    let (at, max) = values
        .iter()
        .copied()
        .enumerate()
        .fold((0, f32::MIN), |b, (i, w)| if w > b.1 { (i, w) } else { b });
    let row = docs.matrix.row_of_entry(at);
    let mut copy = values.to_vec();
    let rank = (copy.len() - 1) * 99 / 100;
    let p99 = *copy.select_nth_unstable_by(rank, f32::total_cmp).1;
    let what = format!(
        "{}: u{} impacts drop {dropped} of {nnz} weights ({:.1} %) to zero: the largest weight, \
         {max:e} (image {}), sets the impact scale and is {:.3e}× the 99th-percentile weight \
         {p99:e}",
        path.display(),
        I::BITS,
        100.0 * dropped as f64 / nnz as f64,
        docs.ids.id(row),
        max / p99.max(f32::MIN_POSITIVE)
    );
    anyhow::ensure!(
        dropped * 2 <= nnz,
        "{what}; clip or remove the outliers before indexing (or try --impacts u16)"
    );
    eprintln!("warning: {what}");
    Ok(())
}
