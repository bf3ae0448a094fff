//! Folder contents, determinism, and the real-vocabulary path.

use std::path::PathBuf;

use mmlsr_store::{
    Dataset, DatasetFiles, Projections, RestvalPolicy, Split, Vocabulary, WordVectors, files,
};
use mmlsr_synth::{
    BackboneKind, CAPTIONS_PER_IMAGE, DatasetKind, EMBED_DIM, FEATURE_DIM, SynthConfig, generate,
};

fn flickr_strong() -> SynthConfig {
    SynthConfig {
        datasets: vec![DatasetKind::Flickr],
        backbones: vec![BackboneKind::Strong],
        ..SynthConfig::default()
    }
}

#[test]
fn a_folder_is_complete_and_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let r = &generate(&flickr_strong(), dir.path(), &|_| {}).unwrap()[0];
    assert_eq!(r.dir, dir.path().join("synth-flickr-strong"));
    let ds = Dataset::open(&r.dir).unwrap();
    let sizes = DatasetKind::Flickr.sizes(mmlsr_synth::Scale::Small);
    assert_eq!(ds.images().len(), sizes.total());
    assert_eq!(ds.texts().len(), sizes.total() * CAPTIONS_PER_IMAGE);
    assert_eq!(ds.dim(), EMBED_DIM);
    let counts = ds.meta().split_counts();
    assert_eq!(
        counts.map(|(_, n)| n),
        [sizes.train, sizes.val, sizes.test, sizes.restval]
    );
    assert_eq!(
        ds.meta()
            .training_pairs(RestvalPolicy::MergeIntoTrain)
            .len(),
        sizes.train * 5
    );
    // Projected embeddings have unit norm.
    for r in [0, 17, ds.images().len() - 1] {
        let n: f32 = ds.images().row(r).iter().map(|x| x * x).sum();
        assert!((n - 1.0).abs() < 1e-4);
    }

    // The projected table is normalize(W·x + b) of the pre-projection table.
    let before = Dataset::open_with(&r.dir, DatasetFiles::BEFORE_PROJ).unwrap();
    assert_eq!(before.dim(), FEATURE_DIM);
    let proj = Projections::read(&r.dir.join(files::PROJECTIONS)).unwrap();
    assert_eq!(
        (proj.text.in_dim, proj.text.out_dim),
        (FEATURE_DIM, EMBED_DIM)
    );
    for (table, feats, lin) in [
        (ds.images(), &before.images(), &proj.vision),
        (ds.texts(), &before.texts(), &proj.text),
    ] {
        for id in ["0", "1234", "4999"] {
            let mut y = vec![0.0; EMBED_DIM];
            lin.apply(feats.get(id).unwrap(), &mut y);
            let n = y.iter().map(|v| v * v).sum::<f32>().sqrt();
            for (a, b) in y.iter().zip(table.get(id).unwrap()) {
                assert!((a / n - b).abs() < 1e-4);
            }
        }
    }

    // Captions tokenise into the folder's own vocabulary with no unknown words, and the
    // metadata tokens are the caption's words.
    let vocab = Vocabulary::from_dir(&r.dir).unwrap();
    assert_eq!(vocab.len(), r.vocab_size);
    let unk = vocab.token_id("[UNK]").unwrap();
    for img in ds.meta().images.iter().step_by(97) {
        for s in &img.sentences {
            let ids = vocab.encode(&s.raw).unwrap();
            assert!(!ids.contains(&unk), "{}", s.raw);
            let words: Vec<String> = ids
                .iter()
                .map(|&i| vocab.token(i).unwrap())
                .filter(|t| t != "." && t != ",")
                .collect();
            assert_eq!(words, s.tokens);
        }
    }
    let wv = WordVectors::read(&r.dir.join(files::WORD_VECTORS)).unwrap();
    assert_eq!((wv.vocab_size, wv.dim), (vocab.len(), 768));
    // Synonyms are closer than unrelated words in the static vectors.
    let cos = |a: &str, b: &str| {
        let (x, y) = (
            wv.row(vocab.token_id(a).unwrap() as usize),
            wv.row(vocab.token_id(b).unwrap() as usize),
        );
        x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>()
    };
    assert!(
        cos("dog", "puppy") > 0.7 && cos("dog", "pizza") < 0.5,
        "{} {}",
        cos("dog", "puppy"),
        cos("dog", "pizza")
    );
    let card = std::fs::read_to_string(r.dir.join("README.md")).unwrap();
    assert!(card.contains("| test | 1000 | 5000 |"), "{card}");
    let test = ds.split(Split::Test, RestvalPolicy::MergeIntoTrain);
    assert_eq!(test.image_rows.len(), 1000);
}

#[test]
fn same_seed_same_bytes_other_seed_other_data() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate(&flickr_strong(), a.path(), &|_| {}).unwrap();
    generate(&flickr_strong(), b.path(), &|_| {}).unwrap();
    generate(
        &SynthConfig {
            seed: 7,
            ..flickr_strong()
        },
        c.path(),
        &|_| {},
    )
    .unwrap();
    let folder = |d: &tempfile::TempDir| d.path().join("synth-flickr-strong");
    for f in [
        files::META,
        files::IMG_EMBS,
        files::TEXT_EMBS_BEFORE_PROJ,
        files::PROJECTIONS,
        files::TOKENIZER,
    ] {
        let x = std::fs::read(folder(&a).join(f)).unwrap();
        assert!(
            x == std::fs::read(folder(&b).join(f)).unwrap(),
            "{f} differs between identical runs"
        );
        if f != files::TOKENIZER {
            assert!(
                x != std::fs::read(folder(&c).join(f)).unwrap(),
                "{f} ignores the seed"
            );
        }
    }
}

#[test]
fn bert_vocabulary_puts_the_data_in_the_real_30522_term_space() {
    let bert = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests"),
    )
    .join("../mmlsr-store/tests/data/bert-base-uncased/vocab.txt");
    assert!(
        bert.is_file(),
        "the vendored BERT vocabulary (mmlsr-store's test data) is missing at {}",
        bert.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        vocab: Some(bert.clone()),
        ..flickr_strong()
    };
    let r = &generate(&cfg, dir.path(), &|_| {}).unwrap()[0];
    assert_eq!(r.vocab_size, 30_522);
    let ours = Vocabulary::from_dir(&r.dir).unwrap();
    let reference = Vocabulary::from_file(&bert).unwrap();
    let ds = mmlsr_store::DatasetMeta::read_json(&r.dir.join(files::META)).unwrap();
    let caption = &ds.images[3].sentences[0].raw;
    assert_eq!(
        ours.encode(caption).unwrap(),
        reference.encode(caption).unwrap()
    );
    assert_eq!(ours.token_id("puppy"), Some(17022));
    let wv = WordVectors::read(&r.dir.join(files::WORD_VECTORS)).unwrap();
    assert_eq!(wv.vocab_size, 30_522);

    // A vocabulary without the lexicon's words is refused with the words named.
    let small = dir.path().join("small_vocab.txt");
    std::fs::write(&small, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nthe\n").unwrap();
    let err = generate(
        &SynthConfig {
            vocab: Some(small),
            ..flickr_strong()
        },
        dir.path(),
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("small_vocab.txt") && err.contains("not whole tokens"),
        "{err}"
    );
}
