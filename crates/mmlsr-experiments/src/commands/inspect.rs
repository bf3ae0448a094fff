//! `mmlsr inspect`: validate a data folder in the lsr42 layout and summarise it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use mmlsr_core::MANIFEST;
use mmlsr_model::{TrainConfig, TrainData, check_projections, check_word_vectors};
use mmlsr_store::{Dataset, DatasetFiles, Projections, RestvalPolicy, Vocabulary, WordVectors};

/// Validate a data folder (the synthetic ones, or a local copy of `lsr42/*-dense`) and print
/// its splits, dimensions, optional files, and brute-force dense text→image R@1 / R@5 /
/// MRR@10 on the test split.
///
/// Checks the files against the folder's `MANIFEST.sha256` (when it has one), that every image
/// and caption id of `dataset_meta.json` has an embedding, that the two tables agree on the
/// dimension, that no value is NaN or infinite, and everything `mmlsr train` checks before it
/// starts: the vocabulary tokenises every caption (the share of `[UNK]` tokens is reported,
/// with a warning above 1 %), there are training pairs and a test split, the word vectors
/// have one row per vocabulary entry (their width is train's default `d_hidden`, noted when it
/// is not 768), and the projections take the pre-projection features' width.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The data folder (holding dataset_meta.json, img_embs.parquet, text_embs.parquet).
    dir: PathBuf,
    /// What to do with Karpathy's `restval` images when counting training pairs.
    #[arg(long, value_enum, default_value_t = RestvalArg::Train)]
    restval: RestvalArg,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum RestvalArg {
    /// Merge into train (Karpathy / BLIP convention).
    Train,
    /// Ignore (the joint method's released code).
    Drop,
}

pub fn run(args: InspectArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    let ds =
        Dataset::open(dir).with_context(|| format!("opening data folder {}", dir.display()))?;
    let restval = match args.restval {
        RestvalArg::Train => RestvalPolicy::MergeIntoTrain,
        RestvalArg::Drop => RestvalPolicy::Drop,
    };
    let layout = ds.layout();
    println!("{}", dir.display());
    if layout.is_configured() {
        println!(
            "  {}: data set {}, backbone {}",
            mmlsr_store::LAYOUT_FILE,
            layout.dataset().unwrap_or("(from the folder name)"),
            layout.backbone().unwrap_or("(from the folder name)")
        );
    }
    if dir.join(MANIFEST).is_file() {
        println!("  checksums: every file listed in {MANIFEST} matches");
    } else {
        println!("  checksums: no {MANIFEST} (not written by mmlsr): files not checked");
    }
    println!(
        "  images {} and captions {}, {}-d embeddings",
        ds.images().len(),
        ds.texts().len(),
        ds.dim()
    );
    for (split, n) in ds.meta().split_counts() {
        println!("  {split:<8} {n:>7} images");
    }
    // What `mmlsr train` checks before its first step, so that a folder inspect passes
    // trains: the vocabulary, every caption tokenised, a training split, the word vectors'
    // shape, the projections against the pre-projection features, a test split.
    let vocab = Vocabulary::from_layout(layout).with_context(|| {
        format!(
            "{}: training needs the captions' vocabulary ({} or {}; bert-base-uncased for BLIP \
             and ALBEF: `mmlsr fetch bert-base-uncased`)",
            dir.display(),
            layout.vocab().display(),
            layout.tokenizer().display()
        )
    })?;
    println!(
        "  vocabulary: {} entries ({})",
        vocab.len(),
        vocab.source().display()
    );
    let data = TrainData::new(&ds, &vocab, restval)
        .with_context(|| format!("preparing {} for training", dir.display()))?;
    println!(
        "  training pairs: {} (restval {:?})",
        data.train_pairs.len(),
        restval
    );
    println!(
        "  caption tokens: {}, [UNK] {} ({:.2} %)",
        data.tokens.tokens,
        data.tokens.unknown,
        100.0 * data.tokens.unknown_rate()
    );
    crate::pipelines::warn_unknown_tokens(dir, &data.tokens);
    let before = if layout.img_embs_before_proj().is_file() {
        let before = Dataset::open_with(dir, DatasetFiles::BEFORE_PROJ)
            .context("validating the pre-projection tables")?;
        println!("  pre-projection features: {}-d", before.dim());
        Some(before.dim())
    } else {
        None
    };
    let path = layout.projections();
    if path.is_file() {
        let p = Projections::read(&path)?;
        if let Some(d_feature) = before {
            check_projections(&p, d_feature).with_context(|| path.display().to_string())?;
        }
        println!("  projections: {}→{}", p.text.in_dim, p.text.out_dim);
    }
    let path = layout.word_vectors();
    if path.is_file() {
        let w = WordVectors::read(&path)?;
        // `mmlsr train` takes d_hidden from their width (unless a --config sets it).
        check_word_vectors(&w, vocab.len(), w.dim).with_context(|| {
            format!(
                "{}: training initialises the vocabulary projector from these",
                path.display()
            )
        })?;
        println!(
            "  word vectors: {} × {} (train's d_hidden: {})",
            w.vocab_size, w.dim, w.dim
        );
        if w.dim != TrainConfig::default().d_hidden {
            eprintln!(
                "note: {}: word vectors {} wide; `mmlsr train` uses d_hidden = {} (a --config \
                 file that sets d_hidden must match)",
                path.display(),
                w.dim,
                w.dim
            );
        }
    }
    let test = &data.test;
    anyhow::ensure!(
        !test.caption_rows.is_empty(),
        "{}: the test split is empty; training evaluates the kept epoch on it",
        dir.display()
    );
    let e = crate::evaluation::DenseNumbers::of(&ds, test)?;
    println!(
        "  dense text→image on test ({} captions × {} images): R@1 {:.2}  R@5 {:.2}  R@10 {:.2}  MRR@10 {:.2}",
        test.caption_rows.len(),
        test.image_rows.len(),
        e.r1,
        e.r5,
        e.r10,
        e.mrr10
    );
    Ok(())
}
