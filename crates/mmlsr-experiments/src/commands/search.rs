//! `mmlsr search`: answer encoded caption queries from an index, as a TREC run.

use std::{path::PathBuf, time::Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mmlsr_index::{
    Algorithm, ExactIndex, ExactScratch, Hit, Impact, InvertedIndex, QueryMode, Scratch,
    impact_bits,
};
use mmlsr_metrics::Run;
use mmlsr_store::{Dataset, SparseTable, Vocabulary};

/// Search an index built by `mmlsr index` with the caption vectors of an `mmlsr encode`
/// folder (`text_sparse.parquet`) and write the top k images of every caption as a TREC run
/// (query id = sentid, document id = imgid). `--mode` picks the D2S §5.3 query mode: `exp`
/// (all active terms), `no-exp` (only the caption's own terms) or `hybrid` (retrieve with own
/// terms, rescore `--candidates` images with the full vector); the last two need `--data` to
/// tokenise the captions. `--exact` ranks by the unquantised dot products instead.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Folder written by `mmlsr index`.
    pub index: PathBuf,
    /// Folder written by `mmlsr encode` (its `text_sparse.parquet` are the queries).
    pub queries: PathBuf,
    /// The TREC run to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Images per caption.
    #[arg(long, default_value_t = 1000, value_parser = crate::values::positive)]
    pub k: usize,
    /// Query mode.
    #[arg(long, value_enum, default_value_t = ModeArg::Exp)]
    pub mode: ModeArg,
    /// Candidates rescored by the hybrid mode.
    #[arg(long, default_value_t = 1000)]
    pub candidates: usize,
    /// Exact top-k algorithm (all return the same ranking).
    #[arg(long, value_enum, default_value_t = AlgorithmArg::Exhaustive)]
    pub algorithm: AlgorithmArg,
    /// Rank by the unquantised dot products instead of the quantised impacts: the index's
    /// stored original vectors and the queries' f32 weights, exhaustively (for exactness checks;
    /// modes exp and no-exp).
    #[arg(long, conflicts_with = "algorithm")]
    pub exact: bool,
    /// The data folder (captions and vocabulary, for `no-exp` and `hybrid`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run tag (TREC column 6).
    #[arg(long, default_value = "mmlsr")]
    pub tag: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Every active query term.
    Exp,
    /// Only the caption's own terms.
    NoExp,
    /// Own terms, then rescoring with the full query.
    Hybrid,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AlgorithmArg {
    /// Term at a time over a dense accumulator.
    Exhaustive,
    /// MaxScore.
    Maxscore,
    /// Block-max pruning.
    BlockMax,
}

pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    crate::integrity::verify(&args.index, "index")?;
    crate::integrity::verify(&args.queries, "encoded vectors")?;
    let index_path = args.index.join("index.mmlsr");
    let t = Instant::now();
    let bits = impact_bits(&index_path)?;
    let loaded = |n: usize| {
        eprintln!(
            "loaded {} ({n} images, u{bits} impacts) in {:.2} s",
            index_path.display(),
            t.elapsed().as_secs_f64()
        )
    };
    match bits {
        16 => {
            let index = InvertedIndex::<u16>::read(&index_path)?;
            loaded(index.n_docs());
            search(&args, index)
        }
        _ => {
            let index = InvertedIndex::<u8>::read(&index_path)?;
            loaded(index.n_docs());
            search(&args, index)
        }
    }
}

fn search<I: Impact>(args: &SearchArgs, index: InvertedIndex<I>) -> anyhow::Result<()> {
    let index_path = args.index.join("index.mmlsr");
    let ids_path = args.index.join("doc_ids.txt");
    let doc_ids: Vec<String> = std::fs::read_to_string(&ids_path)
        .with_context(|| format!("reading {}", ids_path.display()))?
        .lines()
        .map(str::to_string)
        .collect();
    anyhow::ensure!(
        doc_ids.len() == index.n_docs(),
        "{}: {} ids for the {} documents of {}",
        ids_path.display(),
        doc_ids.len(),
        index.n_docs(),
        index_path.display()
    );
    let mut seen = std::collections::HashMap::with_capacity(doc_ids.len());
    for (line, id) in doc_ids.iter().enumerate() {
        anyhow::ensure!(
            !id.is_empty(),
            "{}:{}: empty image id",
            ids_path.display(),
            line + 1
        );
        if let Some(first) = seen.insert(id.as_str(), line) {
            anyhow::bail!(
                "{}:{}: image id {id} repeats line {}; every document of the index needs its \
                 own id (rebuild the folder with `mmlsr index`)",
                ids_path.display(),
                line + 1,
                first + 1
            );
        }
    }
    let qpath = args.queries.join("text_sparse.parquet");
    let queries = SparseTable::read_parquet(&qpath, Some(index.vocab_size()))
        .with_context(|| format!("reading the caption vectors {}", qpath.display()))?;
    let mode = match args.mode {
        ModeArg::Exp => QueryMode::Exp,
        ModeArg::NoExp => QueryMode::NoExp,
        ModeArg::Hybrid => QueryMode::Hybrid {
            candidates: args.candidates.max(args.k),
        },
    };
    let n = queries.matrix.n_rows();
    let own: Vec<Vec<u32>> = match mode {
        QueryMode::Exp => vec![Vec::new(); n],
        _ => {
            let data = args
                .data
                .as_ref()
                .context("--mode no-exp and hybrid need --data (the captions to tokenise)")?;
            let ds = Dataset::open(data)
                .with_context(|| format!("opening data folder {}", data.display()))?;
            let vocab = Vocabulary::from_dir(data)?;
            let raw = crate::evaluation::captions_by_id(&ds);
            (0..n)
                .map(|r| {
                    let id = queries.ids.id(r);
                    let text = raw.get(id).with_context(|| {
                        format!(
                            "{}: caption {id} is not in {}",
                            qpath.display(),
                            data.display()
                        )
                    })?;
                    Ok(vocab.term_ids(text)?)
                })
                .collect::<anyhow::Result<_>>()?
        }
    };
    let algorithm = match args.algorithm {
        AlgorithmArg::Exhaustive => Algorithm::Exhaustive,
        AlgorithmArg::Maxscore => Algorithm::MaxScore,
        AlgorithmArg::BlockMax => Algorithm::BlockMax,
    };
    let bar = ProgressBar::new(n as u64).with_style(
        ProgressStyle::with_template(
            "searching [{bar:30}] {pos}/{len} captions ({elapsed}, ETA {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let exact = if args.exact {
        anyhow::ensure!(
            !matches!(mode, QueryMode::Hybrid { .. }),
            "--exact ranks with exp or no-exp queries (hybrid already rescores exactly)"
        );
        let t = Instant::now();
        let exact = ExactIndex::from_index(&index)?;
        eprintln!(
            "unquantised index of {} postings built in {:.2} s",
            exact.n_postings(),
            t.elapsed().as_secs_f64()
        );
        Some(exact)
    } else {
        None
    };
    let t = Instant::now();
    let mut scratch = Scratch::default();
    let mut exact_scratch = ExactScratch::default();
    let mut lists = Vec::with_capacity(n);
    for (r, own) in own.iter().enumerate() {
        let row = queries.matrix.row(r);
        // The run file keeps `f32` scores from either index.
        let hits: Vec<Hit> = match &exact {
            Some(exact) => exact
                .search_mode(row, own, mode, args.k, &mut exact_scratch)?
                .into_iter()
                .map(|h| h.map_score(|s| s as f32))
                .collect(),
            None => index.search_mode(row, own, mode, args.k, algorithm, &mut scratch)?,
        };
        lists.push(hits);
        if r % 256 == 0 {
            bar.set_position(r as u64);
        }
    }
    bar.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    let qids: Vec<&str> = (0..n).map(|r| queries.ids.id(r)).collect();
    let run = Run::from_ranked_lists(&qids, &doc_ids, &lists)?;
    run.write_trec(&args.out, &args.tag)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "{n} captions searched in {secs:.2} s ({:.3} ms each, one thread) → {}",
        secs * 1e3 / n.max(1) as f64,
        args.out.display()
    );
    Ok(())
}
