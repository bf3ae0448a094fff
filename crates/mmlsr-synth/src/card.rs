//! The dataset card (`README.md`) written into each folder, last.

use std::fmt::Write;

use crate::{
    CalibrationBands, CaptionStats, REAL_FLICKR8K_TEST, REAL_FLICKR30K_TEST, Result,
    config::{FolderReport, Scale, SynthConfig},
    encoder::{BackboneProfile, EMBED_DIM, FEATURE_DIM},
    lexicon::Lexicon,
};

pub(crate) fn write_card(
    r: &FolderReport,
    config: &SynthConfig,
    profile: &BackboneProfile,
    lex: &Lexicon,
) -> Result<()> {
    let mut s = String::new();
    let scale = match config.scale {
        Scale::Small => "small",
        Scale::Full => "full",
        Scale::Tiny => "tiny",
    };
    let vocab = config
        .vocab
        .as_ref()
        .map_or("the built-in vocabulary".to_string(), |p| {
            format!("`{}`", p.display())
        });
    let z = &r.sizes;
    let _ = write!(
        s,
        "# {name}

A synthetic text→image retrieval data set written by `mmlsr synth` (crate `mmlsr-synth`)
in the lsr42 / holi-lab layout, so that every mmlsr command reads it exactly as it reads
the real `lsr42/*-dense` files. Everything here is deterministic from the settings below.

Regenerate: `mmlsr synth --out DIR --scale {scale} --seed {seed}{vocab_flag}`

## Settings

| setting | value |
|---|---|
| scale | {scale} |
| seed | {seed} |
| vocabulary | {vocab} ({vsize} entries) |
| backbone | `{backbone}`: image distortion {idist}, text distortion {tdist}, feature noise {fnoise} |
| image clutter / caption noise | {clutter} / {cnoise} |
| projection pretraining | symmetric InfoNCE (τ = {tau}, {epochs} epochs, batch {batch}, Adam lr {lr}) on a separate pretraining split of {fit} images and their captions, after a ridge warm start (α = {alpha}) |
| lexicon | {concepts} concepts in {cats} categories, {forms} surface forms |

## Splits

| split | images | captions |
|---|---:|---:|
| train | {tr} | {trc} |
| restval | {rv} | {rvc} |
| val | {va} | {vac} |
| test | {te} | {tec} |
| all | {all} | {allc} |

`restval` (Karpathy's MSCOCO convention) is merged into training by default; it is never
evaluated on. Mean caption length: {words:.2} words.

## Caption statistics: real and synthetic

Measured by `mmlsr_synth::CaptionStats` with the same code on this folder's first
{cal_n} test images and on the real test captions of Flickr8k and Flickr30k (1,000 images
each; see the crate README for the definitions and the tolerance bands a test holds the
generator to).

{stats_table}
## Dense text→image retrieval on the test split

Brute-force inner product of the L2-normalised {edim}-d embeddings, {q} caption queries
against {n} images, ties broken as trec_eval does.

| R@1 | R@5 | R@10 | MRR@10 |
|---:|---:|---:|---:|
| {r1:.2} | {r5:.2} | {r10:.2} | {mrr:.2} |

## Files

| file | content |
|---|---|
| `dataset_meta.json` | Karpathy format: `images[].{{imgid, split, filename, sentences[].{{sentid, raw, tokens}}}}` |
| `img_embs.parquet`, `text_embs.parquet` | `id` (utf8), `emb` (list<float32>, {edim}-d, unit norm) |
| `img_embs_before_proj.parquet`, `text_embs_before_proj.parquet` | `id`, `emb` ({fdim}-d features before the last layer) |
| `projections.safetensors` | `vision_proj` / `text_proj` weight [{edim}, {fdim}] and bias: `emb = normalize(W·x + b)` |
| `word_vectors.safetensors` | `word_vectors` [{vsize}, 768], unit rows |
| `vocab.txt`, `tokenizer.json` | WordPiece vocabulary and tokenizer (BERT uncased pipeline) |

Generation of this folder took {secs:.1} s.
",
        name = r.name,
        seed = config.seed,
        vocab_flag = config
            .vocab
            .as_ref()
            .map_or(String::new(), |p| format!(" --vocab {}", p.display())),
        vsize = r.vocab_size,
        backbone = r.name.rsplit('-').next().unwrap_or(""),
        idist = profile.image_distortion,
        tdist = profile.text_distortion,
        fnoise = profile.feature_noise,
        clutter = config.noise.clutter,
        cnoise = config.noise.caption,
        alpha = config.ridge_alpha,
        fit = config
            .pretrain_images
            .unwrap_or(config.scale.pretrain_images()),
        tau = config.contrastive.temperature,
        epochs = config.contrastive.epochs,
        batch = config.contrastive.batch,
        lr = config.contrastive.lr,
        concepts = lex.concepts.len(),
        cats = lex.categories.len(),
        forms = lex.forms.len(),
        tr = z.train,
        trc = z.train * 5,
        rv = z.restval,
        rvc = z.restval * 5,
        va = z.val,
        vac = z.val * 5,
        te = z.test,
        tec = z.test * 5,
        all = z.total(),
        allc = r.captions,
        words = r.mean_caption_words,
        cal_n = r.caption_stats.images,
        stats_table = stats_table(&r.caption_stats),
        edim = EMBED_DIM,
        fdim = FEATURE_DIM,
        q = r.dense.queries,
        n = r.dense.images,
        r1 = r.dense.r1,
        r5 = r.dense.r5,
        r10 = r.dense.r10,
        mrr = r.dense.mrr10,
        secs = r.seconds,
    );
    mmlsr_store::atomic_write_bytes(&r.dir.join("README.md"), s.as_bytes())?;
    Ok(())
}

/// The calibration statistics of `synthetic` beside the real ones and the bands, as Markdown.
pub(crate) fn stats_table(synthetic: &CaptionStats) -> String {
    let bands = CalibrationBands::default();
    let (a, b, c) = (&REAL_FLICKR8K_TEST, &REAL_FLICKR30K_TEST, synthetic);
    let mut s = String::from(
        "| statistic | Flickr8k test | Flickr30k test | this folder | band |\n|---|---:|---:|---:|---:|\n",
    );
    let band = |b: crate::Band| format!("{}–{}", b.lo, b.hi);
    let _ = writeln!(
        s,
        "| words per caption: mean | {:.2} | {:.2} | {:.2} | {} |",
        a.mean_words,
        b.mean_words,
        c.mean_words,
        band(bands.mean_words)
    );
    let q = |x: &CaptionStats| {
        format!(
            "{} / {} / {}",
            x.quartiles[0], x.quartiles[1], x.quartiles[2]
        )
    };
    let _ = writeln!(
        s,
        "| words per caption: quartiles | {} | {} | {} | median {} |",
        q(a),
        q(b),
        q(c),
        band(bands.median_words)
    );
    let _ = writeln!(
        s,
        "| distinct words | {} | {} | {} | – |",
        a.vocabulary, b.vocabulary, c.vocabulary
    );
    for (i, rank) in crate::DF_RANKS.iter().enumerate() {
        let _ = writeln!(
            s,
            "| captions containing the rank-{rank} word | {:.4} | {:.4} | {:.4} | {} |",
            a.df_profile[i],
            b.df_profile[i],
            c.df_profile[i],
            band(bands.df_profile[i])
        );
    }
    let _ = writeln!(
        s,
        "| within-image agreement of content words | {:.3} | {:.3} | {:.3} | {} |",
        a.agreement,
        b.agreement,
        c.agreement,
        band(bands.agreement)
    );
    let _ = writeln!(
        s,
        "| BM25 R@1 against the other captions | {:.3} | {:.3} | {:.3} | {} |",
        a.bm25_r1,
        b.bm25_r1,
        c.bm25_r1,
        band(bands.bm25_r1)
    );
    s
}
