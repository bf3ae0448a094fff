//! `mmlsr inspect`: validate a data folder in the lsr42 layout and summarise it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use mmlsr_store::{
    Dataset, DatasetFiles, Projections, RestvalPolicy, Split, Vocabulary, WordVectors, files,
};

/// Validate a data folder (the synthetic ones, or a local copy of `lsr42/*-dense`) and print
/// its splits, dimensions, optional files, and brute-force dense text→image R@1 / R@5 /
/// MRR@10 on the test split.
///
/// Checks that every image and caption id of `dataset_meta.json` has an embedding, that the
/// two tables agree on the dimension, and that no value is NaN or infinite.
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
    println!("{}", dir.display());
    println!(
        "  images {} and captions {}, {}-d embeddings",
        ds.images().len(),
        ds.texts().len(),
        ds.dim()
    );
    for (split, n) in ds.meta().split_counts() {
        println!("  {split:<8} {n:>7} images");
    }
    println!(
        "  training pairs: {} (restval {:?})",
        ds.meta().training_pairs(restval).len(),
        restval
    );
    if dir.join(files::IMG_EMBS_BEFORE_PROJ).is_file() {
        let before = Dataset::open_with(dir, DatasetFiles::BEFORE_PROJ)
            .context("validating the pre-projection tables")?;
        println!("  pre-projection features: {}-d", before.dim());
    }
    if dir.join(files::PROJECTIONS).is_file() {
        let p = Projections::read(&dir.join(files::PROJECTIONS))?;
        println!("  projections: {}→{}", p.text.in_dim, p.text.out_dim);
    }
    if dir.join(files::VOCAB).is_file() || dir.join(files::TOKENIZER).is_file() {
        let v = Vocabulary::from_dir(dir)?;
        println!(
            "  vocabulary: {} entries ({})",
            v.len(),
            v.source().display()
        );
    }
    if dir.join(files::WORD_VECTORS).is_file() {
        let w = WordVectors::read(&dir.join(files::WORD_VECTORS))?;
        println!("  word vectors: {} × {}", w.vocab_size, w.dim);
    }
    let test = ds.split(Split::Test, restval);
    if test.caption_rows.is_empty() {
        println!("  no test split: dense retrieval not evaluated");
        return Ok(());
    }
    let e = crate::evaluation::DenseNumbers::of(&ds, &test)?;
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
