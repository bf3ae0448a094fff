//! The dataset card (`README.md`) written into each folder, last.

use std::fmt::Write;

use crate::{
    Result,
    encoder::{BackboneProfile, EMBED_DIM, FEATURE_DIM},
    generate::{FolderReport, Scale, SynthConfig},
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
| projection fit | ridge (α = {alpha}) on the first {fit} training images and their captions |
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
        fit = config.fit_images.min(z.train),
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
