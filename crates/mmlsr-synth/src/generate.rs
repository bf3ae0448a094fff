//! Writing the synthetic data folders in the lsr42 / holi-lab layout.

use std::{path::Path, time::Instant};

use mmlsr_store::{
    DatasetMeta, EmbeddingWriter, Linear, MetaImage, MetaSentence, Projections, SPECIAL_TOKENS,
    Vocabulary, WordVectors, WriteOptions, files,
};
use rayon::prelude::*;

use crate::{
    CaptionStats, Error, Result,
    config::{
        CAPTIONS_PER_IMAGE, DatasetKind, FolderReport, Progress, SplitSizes, SynthConfig,
        WORD_VECTOR_DIM,
    },
    contrastive::pretrain,
    encoder::{
        Backbone, BackboneKind, EMBED_DIM, FEATURE_DIM, LATENT_DIM, MeaningNoise, World,
        scene_latent,
    },
    eval::{DenseEval, text_to_image},
    lexicon::Lexicon,
    linalg::{matmul_bt, ridge},
    rng::{fill_normal, normalize, stream},
    scene::{Caption, Scene, SceneSampler},
};

/// Rows per chunk when streaming features to Parquet.
const CHUNK_ROWS: usize = 4096;

/// Scenes and captions of one data set, shared by its backbones.
struct Corpus {
    kind: DatasetKind,
    sizes: SplitSizes,
    /// The written images and their captions (`CAPTIONS_PER_IMAGE` per image, in order).
    main: Pool,
    meta: DatasetMeta,
    /// The pretraining split: scenes and captions drawn like the others, not written.
    pretrain: Pool,
}

/// Scenes with `CAPTIONS_PER_IMAGE` captions each, and the tag of their noise streams.
struct Pool {
    tag: &'static str,
    scenes: Vec<Scene>,
    captions: Vec<Caption>,
}

/// Draw `n` scenes with their captions from the stream family `tag`.
fn draw_pool(sampler: &SceneSampler, seed: u64, tag: &'static str, n: usize) -> Pool {
    let per_image: Vec<(Scene, Vec<Caption>)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut rng = stream(seed, tag, i as u64);
            let scene = sampler.scene(&mut rng);
            let caps = (0..CAPTIONS_PER_IMAGE)
                .map(|_| sampler.caption(&mut rng, &scene))
                .collect();
            (scene, caps)
        })
        .collect();
    let mut scenes = Vec::with_capacity(n);
    let mut captions = Vec::with_capacity(n * CAPTIONS_PER_IMAGE);
    for (scene, caps) in per_image {
        scenes.push(scene);
        captions.extend(caps);
    }
    Pool {
        tag,
        scenes,
        captions,
    }
}

/// Generate every configured folder under `out` (created if missing). Each file is written
/// atomically, then each folder's checksum manifest (`MANIFEST.sha256`, which
/// `mmlsr_store::Dataset::open` verifies) and its `README.md` last, so a folder with a card
/// is complete.
pub fn generate(
    config: &SynthConfig,
    out: &Path,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<FolderReport>> {
    std::fs::create_dir_all(out).map_err(|e| Error::Io {
        path: out.to_path_buf(),
        source: e,
    })?;
    let lex = Lexicon::builtin();
    let vocab = build_vocabulary(&lex, config.vocab.as_deref())?;
    let world = World::new(&lex, config.seed);
    let word_vectors = word_vectors(&lex, &world, &vocab, config.seed)?;
    let mut reports = Vec::new();
    for &kind in &config.datasets {
        let corpus = build_corpus(&lex, kind, config, progress);
        let caption_stats = CaptionStats::measure(&test_tokens(&corpus, CALIBRATION_IMAGES))?;
        for &bk in &config.backbones {
            let start = Instant::now();
            let name = format!("{}-{}", kind.name(), bk.name());
            let dir = out.join(&name);
            std::fs::create_dir_all(&dir).map_err(|e| Error::Io {
                path: dir.clone(),
                source: e,
            })?;
            // A stale card would claim the folder is complete while it is being rewritten, and
            // a stale manifest would list the old files.
            for stale in ["README.md", mmlsr_core::MANIFEST] {
                let path = dir.join(stale);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(|e| Error::Io {
                        path: path.clone(),
                        source: e,
                    })?;
                }
            }
            corpus.meta.write_json(&dir.join(files::META))?;
            vocab.write_files(&dir)?;
            word_vectors.write(&dir.join(files::WORD_VECTORS))?;
            let backbone = Backbone::new(bk, &world, config.seed);
            let dense = write_backbone(&corpus, &world, &backbone, config, &dir, &name, progress)?;
            let report = FolderReport {
                name,
                dir: dir.clone(),
                sizes: corpus.sizes,
                captions: corpus.main.captions.len(),
                vocab_size: vocab.len(),
                mean_caption_words: corpus
                    .main
                    .captions
                    .iter()
                    .map(|c| c.tokens.len())
                    .sum::<usize>() as f64
                    / corpus.main.captions.len().max(1) as f64,
                caption_stats,
                dense,
                seconds: start.elapsed().as_secs_f64(),
            };
            mmlsr_core::write_manifest(&dir).map_err(mmlsr_store::Error::from)?;
            crate::card::write_card(&report, config, &backbone.kind.profile(), &lex)?;
            reports.push(report);
        }
    }
    Ok(reports)
}

/// The vocabulary: the built-in one (special tokens, punctuation, function words, lexicon
/// forms) or a user's, which must contain every caption word as a whole token.
fn build_vocabulary(lex: &Lexicon, path: Option<&Path>) -> Result<Vocabulary> {
    let words: Vec<&str> = [".", ","].into_iter().chain(lex.caption_words()).collect();
    match path {
        None => {
            let tokens: Vec<&str> = SPECIAL_TOKENS.iter().copied().chain(words).collect();
            Ok(Vocabulary::from_tokens(&tokens)?)
        }
        Some(p) => {
            let vocab = Vocabulary::from_file(p)?;
            let missing: Vec<String> = words
                .iter()
                .filter(|w| {
                    vocab
                        .token_id(w)
                        .is_none_or(|id| vocab.encode(w).ok() != Some(vec![id]))
                })
                .map(|w| w.to_string())
                .collect();
            if !missing.is_empty() {
                return Err(Error::VocabularyMissingWords {
                    path: p.to_path_buf(),
                    missing,
                });
            }
            Ok(vocab)
        }
    }
}

/// A static vector per vocabulary entry: lexicon forms map their latent through a fixed
/// random linear map (so synonyms and category mates are close), other entries are random.
/// Rows have unit norm.
fn word_vectors(
    lex: &Lexicon,
    world: &World,
    vocab: &Vocabulary,
    seed: u64,
) -> Result<WordVectors> {
    let d = WORD_VECTOR_DIM;
    let mut map = vec![0.0; d * LATENT_DIM];
    fill_normal(&mut stream(seed, "word-vector-map", 0), &mut map, 1.0);
    let mut data = vec![0.0f32; vocab.len() * d];
    let form_of: std::collections::HashMap<&str, usize> =
        lex.forms.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    let tokens = vocab.tokens()?;
    data.par_chunks_mut(d).enumerate().for_each(|(k, row)| {
        let mut rng = stream(seed, "word-vector-noise", k as u64);
        fill_normal(&mut rng, row, 1.0);
        if let Some(&f) = form_of.get(tokens[k].as_str()) {
            let z = world.form(f);
            let mut signal = vec![0.0f32; d];
            for (o, s) in signal.iter_mut().enumerate() {
                *s = map[o * LATENT_DIM..][..LATENT_DIM]
                    .iter()
                    .zip(z)
                    .map(|(a, b)| a * b)
                    .sum();
            }
            normalize(&mut signal);
            normalize(row);
            row.iter_mut()
                .zip(&signal)
                .for_each(|(r, s)| *r = 0.95 * s + 0.3 * *r);
        }
        normalize(row);
    });
    Ok(WordVectors {
        vocab_size: vocab.len(),
        dim: d,
        data,
    })
}

/// The tokenised captions of the first `images` test images of data set `kind`, exactly as
/// [`generate`] writes them for `config` (no features are computed): the input of the
/// caption-statistics calibration ([`crate::CaptionStats`]).
pub fn test_captions(
    config: &SynthConfig,
    kind: DatasetKind,
    images: usize,
) -> Vec<Vec<Vec<String>>> {
    let corpus = build_corpus(
        &Lexicon::builtin(),
        kind,
        &SynthConfig {
            pretrain_images: Some(0),
            ..config.clone()
        },
        &|_| {},
    );
    test_tokens(&corpus, images)
}

/// Test images whose captions the dataset card's statistics are measured on (the size of
/// the real Flickr test splits they are compared with).
const CALIBRATION_IMAGES: usize = 1_000;

fn test_tokens(corpus: &Corpus, images: usize) -> Vec<Vec<Vec<String>>> {
    let test = &corpus.meta.images[corpus.sizes.total() - corpus.sizes.test..];
    test.iter()
        .take(images)
        .map(|im| im.sentences.iter().map(|s| s.tokens.clone()).collect())
        .collect()
}

fn build_corpus(
    lex: &Lexicon,
    kind: DatasetKind,
    config: &SynthConfig,
    progress: &(dyn Fn(Progress) + Sync),
) -> Corpus {
    let sizes = kind.sizes(config.scale);
    let n = sizes.total();
    progress(Progress::Stage {
        folder: kind.name().to_string(),
        stage: "scenes and captions",
        total: n as u64,
    });
    let sampler = SceneSampler::new(lex);
    let seed = dataset_seed(config.seed, kind);
    let pool = draw_pool(&sampler, seed, "scene", n);
    let pretrain = draw_pool(
        &sampler,
        seed,
        "pretrain-scene",
        config
            .pretrain_images
            .unwrap_or(config.scale.pretrain_images()),
    );
    progress(Progress::Advance(n as u64));
    let images = pool
        .scenes
        .iter()
        .enumerate()
        .map(|(i, _)| MetaImage {
            imgid: i.to_string(),
            split: sizes.split_of(i),
            filename: format!("{}_{i:06}.jpg", kind.name()),
            sentences: pool.captions[i * CAPTIONS_PER_IMAGE..][..CAPTIONS_PER_IMAGE]
                .iter()
                .enumerate()
                .map(|(k, c)| MetaSentence {
                    sentid: (i * CAPTIONS_PER_IMAGE + k).to_string(),
                    raw: c.raw.clone(),
                    tokens: c.tokens.iter().map(|t| t.to_string()).collect(),
                })
                .collect(),
        })
        .collect();
    Corpus {
        kind,
        sizes,
        main: pool,
        meta: DatasetMeta {
            images,
            dataset: Some(kind.name().to_string()),
        },
        pretrain,
    }
}

/// Separates the two backbones' pretraining streams.
fn backbone_salt(kind: BackboneKind) -> u64 {
    match kind {
        BackboneKind::Strong => 0x5157_0000,
        BackboneKind::Weak => 0x3eac_0000,
    }
}

fn dataset_seed(seed: u64, kind: DatasetKind) -> u64 {
    use rand::RngCore;
    stream(seed, kind.name(), 0).next_u64()
}

/// Target of the "pretrained" projections: a fixed random linear image of the scene's true
/// latent, plus the tower's modality offset.
struct TargetSpace {
    /// `EMBED_DIM × LATENT_DIM`.
    map: Vec<f32>,
    image_offset: Vec<f32>,
    text_offset: Vec<f32>,
}

impl TargetSpace {
    fn new(seed: u64) -> Self {
        let mut map = vec![0.0; EMBED_DIM * LATENT_DIM];
        fill_normal(
            &mut stream(seed, "target-map", 0),
            &mut map,
            1.0 / (LATENT_DIM as f32).sqrt(),
        );
        let offset = |tag| {
            let mut v = vec![0.0; EMBED_DIM];
            fill_normal(&mut stream(seed, tag, 0), &mut v, 1.0);
            normalize(&mut v);
            v.iter_mut().for_each(|x| *x *= 1.5);
            v
        };
        Self {
            map,
            image_offset: offset("image-gap"),
            text_offset: offset("text-gap"),
        }
    }

    fn targets(&self, latents: &[f32], offset: &[f32]) -> Vec<f32> {
        let rows = latents.len() / LATENT_DIM;
        let mut out = vec![0.0; rows * EMBED_DIM];
        matmul_bt(latents, rows, LATENT_DIM, &self.map, EMBED_DIM, &mut out);
        for row in out.chunks_exact_mut(EMBED_DIM) {
            row.iter_mut().zip(offset).for_each(|(x, o)| *x += o);
        }
        out
    }
}

/// Latents of images (`image`) or captions in `range` of `pool` as the backbone perceives
/// them, with image clutter or caption noise from the pool's stream family.
fn latents(
    pool: &Pool,
    backbone: &Backbone,
    seed: u64,
    noise: &MeaningNoise,
    image: bool,
    range: std::ops::Range<usize>,
) -> Vec<f32> {
    let tag = pool.tag;
    let (tag, std) = if image {
        (format!("{tag}-clutter"), noise.clutter)
    } else {
        (format!("{tag}-caption-noise"), noise.caption)
    };
    let mut out = vec![0.0; range.len() * LATENT_DIM];
    out.par_chunks_mut(LATENT_DIM)
        .zip(range)
        .for_each(|(z, i)| {
            let mut n = [0.0f32; LATENT_DIM];
            fill_normal(
                &mut stream(seed, &tag, i as u64),
                &mut n,
                std / (LATENT_DIM as f32).sqrt(),
            );
            if image {
                backbone.image_latent(&pool.scenes[i], &n, z);
            } else {
                backbone.caption_latent(&pool.captions[i], &n, z);
            }
        });
    out
}

/// Feature-noise rows of the pretraining split start here, so they never reuse the noise
/// streams of the written rows.
const PRETRAIN_ROW_OFFSET: u64 = 1 << 40;

/// `normalize(W x + b)` for each feature row.
fn project(linear: &Linear, features: &[f32]) -> Vec<f32> {
    let rows = features.len() / FEATURE_DIM;
    let mut out = vec![0.0; rows * EMBED_DIM];
    matmul_bt(
        features,
        rows,
        FEATURE_DIM,
        &linear.weight,
        EMBED_DIM,
        &mut out,
    );
    out.par_chunks_mut(EMBED_DIM).for_each(|row| {
        row.iter_mut().zip(&linear.bias).for_each(|(x, b)| *x += b);
        normalize(row);
    });
    out
}

/// Fit one backbone's projections, stream its four tables, and evaluate dense retrieval.
fn write_backbone(
    corpus: &Corpus,
    world: &World,
    backbone: &Backbone,
    config: &SynthConfig,
    dir: &Path,
    name: &str,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<DenseEval> {
    let seed = dataset_seed(config.seed, corpus.kind);
    let noise = &config.noise;
    let target = TargetSpace::new(config.seed);

    // 1. "Pretraining" on the pretraining split: a ridge warm start of each tower's
    //    projection towards a shared target space, then symmetric InfoNCE.
    let pre = &corpus.pretrain;
    let n_pre = pre.scenes.len();
    progress(Progress::Stage {
        folder: name.to_string(),
        stage: "pretrain projections",
        total: 2 + config.contrastive.epochs as u64,
    });
    let mut clean = vec![0.0; n_pre * LATENT_DIM];
    for (scene, z) in pre.scenes.iter().zip(clean.chunks_exact_mut(LATENT_DIM)) {
        scene_latent(world, scene, z);
    }
    let mut clean_per_caption = Vec::with_capacity(n_pre * CAPTIONS_PER_IMAGE * LATENT_DIM);
    for z in clean.chunks_exact(LATENT_DIM) {
        for _ in 0..CAPTIONS_PER_IMAGE {
            clean_per_caption.extend_from_slice(z);
        }
    }
    let features_of = |image: bool| {
        let rows = if image {
            n_pre
        } else {
            n_pre * CAPTIONS_PER_IMAGE
        };
        let z = latents(pre, backbone, seed, noise, image, 0..rows);
        let mut feats = vec![0.0; rows * FEATURE_DIM];
        backbone.features(image, &z, PRETRAIN_ROW_OFFSET, &mut feats);
        feats
    };
    let (image_feats, caption_feats) = (features_of(true), features_of(false));
    let warm_start = |feats: &[f32], targets: Vec<f32>| {
        let rows = feats.len() / FEATURE_DIM;
        let (weight, bias) = ridge(
            feats,
            &targets,
            rows,
            FEATURE_DIM,
            EMBED_DIM,
            config.ridge_alpha,
        );
        progress(Progress::Advance(1));
        Linear {
            in_dim: FEATURE_DIM,
            out_dim: EMBED_DIM,
            weight,
            bias,
        }
    };
    let mut vision = warm_start(&image_feats, target.targets(&clean, &target.image_offset));
    let mut text = warm_start(
        &caption_feats,
        target.targets(&clean_per_caption, &target.text_offset),
    );
    let report = pretrain(
        &mut text,
        &mut vision,
        &image_feats,
        &caption_feats,
        CAPTIONS_PER_IMAGE,
        &config.contrastive,
        seed ^ backbone_salt(backbone.kind),
    );
    progress(Progress::Advance(config.contrastive.epochs as u64));
    log::debug!("{name}: contrastive loss by epoch {:?}", report.epoch_loss);
    let projections = Projections { vision, text };
    projections.write(&dir.join(files::PROJECTIONS))?;

    // 2. Stream images, then captions, into the projected and pre-projection tables.
    let opts = WriteOptions::default();
    let test_start = corpus.sizes.total() - corpus.sizes.test;
    let mut test_images = Vec::with_capacity(corpus.sizes.test * EMBED_DIM);
    let mut test_texts = Vec::with_capacity(corpus.sizes.test * CAPTIONS_PER_IMAGE * EMBED_DIM);
    for image in [true, false] {
        let (rows, proj_file, feat_file, linear) = if image {
            (
                corpus.main.scenes.len(),
                files::IMG_EMBS,
                files::IMG_EMBS_BEFORE_PROJ,
                &projections.vision,
            )
        } else {
            (
                corpus.main.captions.len(),
                files::TEXT_EMBS,
                files::TEXT_EMBS_BEFORE_PROJ,
                &projections.text,
            )
        };
        progress(Progress::Stage {
            folder: name.to_string(),
            stage: if image { "images" } else { "captions" },
            total: rows as u64,
        });
        let mut proj_writer = EmbeddingWriter::create(&dir.join(proj_file), EMBED_DIM, opts)?;
        let mut feat_writer = EmbeddingWriter::create(&dir.join(feat_file), FEATURE_DIM, opts)?;
        let test_first_row = if image {
            test_start
        } else {
            test_start * CAPTIONS_PER_IMAGE
        };
        for start in (0..rows).step_by(CHUNK_ROWS) {
            let end = (start + CHUNK_ROWS).min(rows);
            let latents = latents(&corpus.main, backbone, seed, noise, image, start..end);
            let mut feats = vec![0.0; (end - start) * FEATURE_DIM];
            backbone.features(image, &latents, start as u64, &mut feats);
            let embs = project(linear, &feats);
            let ids: Vec<String> = (start..end).map(|r| r.to_string()).collect();
            feat_writer.write(&ids, &feats)?;
            proj_writer.write(&ids, &embs)?;
            if end > test_first_row {
                let from = test_first_row.max(start) - start;
                let keep = &embs[from * EMBED_DIM..];
                if image {
                    &mut test_images
                } else {
                    &mut test_texts
                }
                .extend_from_slice(keep);
            }
            progress(Progress::Advance((end - start) as u64));
        }
        feat_writer.finish()?;
        proj_writer.finish()?;
    }

    // 3. Dense text→image retrieval on the test split.
    progress(Progress::Stage {
        folder: name.to_string(),
        stage: "evaluate dense",
        total: 1,
    });
    let ids: Vec<String> = (test_start..corpus.sizes.total())
        .map(|i| i.to_string())
        .collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let caption_image: Vec<usize> = (0..corpus.sizes.test * CAPTIONS_PER_IMAGE)
        .map(|c| c / CAPTIONS_PER_IMAGE)
        .collect();
    let dense = text_to_image(
        &test_images,
        &id_refs,
        &test_texts,
        &caption_image,
        EMBED_DIM,
    );
    progress(Progress::Advance(1));
    Ok(dense)
}
