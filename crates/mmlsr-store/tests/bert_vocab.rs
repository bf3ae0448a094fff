//! The tokenizer on the real `bert-base-uncased` files, vendored under `tests/data` (Apache-2.0;
//! see its README). Two independent constructions must agree: Hugging Face's serialised
//! `tokenizer.json`, and mmlsr's BERT pipeline built from `vocab.txt`. The second test also
//! reads the research-only Flickr8k captions in `../shared/data` (skipped, with a message,
//! outside CI when they are missing; CI must have them).

use std::path::PathBuf;

use mmlsr_store::Vocabulary;

fn manifest_dir() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR for tests"),
    )
}

/// The vendored tokenizer files.
fn bert_dir() -> PathBuf {
    manifest_dir().join("tests/data/bert-base-uncased")
}

/// `../shared/data/flickr8k/Flickr8k.token.txt`, or `None` (with a message) outside CI when it
/// is missing. In CI (`CI` set) a missing file fails the test.
fn flickr8k_captions() -> Option<PathBuf> {
    let path = manifest_dir().join("../../../shared/data/flickr8k/Flickr8k.token.txt");
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide the research captions at {}",
        path.display()
    );
    eprintln!(
        "SKIPPED: the research-only Flickr8k captions are not at {} (they are in CI)",
        path.display()
    );
    None
}

#[test]
fn bert_ids_match_the_vocabulary_file() {
    let v = Vocabulary::from_file(&bert_dir().join("tokenizer.json")).unwrap();
    assert_eq!(v.len(), 30_522);
    // Ids read off vocab.txt line numbers (line − 1).
    let ids = v
        .encode("A child in a pink dress is climbing up a set of stairs in an entry way .")
        .unwrap();
    assert_eq!(
        ids,
        vec![
            1037, 2775, 1999, 1037, 5061, 4377, 2003, 8218, 2039, 1037, 2275, 1997, 5108, 1999,
            2019, 4443, 2126, 1012
        ]
    );
    assert_eq!(v.special_ids(), &[0, 100, 101, 102, 103]);
    assert_eq!(v.token_id("puppy"), Some(17022));
}

#[test]
fn vocab_txt_and_tokenizer_json_agree_on_every_flickr8k_caption() {
    let from_json = Vocabulary::from_file(&bert_dir().join("tokenizer.json")).unwrap();
    let from_txt = Vocabulary::from_file(&bert_dir().join("vocab.txt")).unwrap();
    assert_eq!(from_json.tokens().unwrap(), from_txt.tokens().unwrap());
    let Some(captions_file) = flickr8k_captions() else {
        return;
    };
    let text = std::fs::read_to_string(captions_file).unwrap();
    let captions: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(_, c)| c))
        .collect();
    assert_eq!(captions.len(), 40_460);
    let mut word_pieces = 0;
    for c in &captions {
        let a = from_json.encode(c).unwrap();
        assert_eq!(a, from_txt.encode(c).unwrap(), "{c}");
        word_pieces += a
            .iter()
            .filter(|&&id| from_json.token(id).unwrap().starts_with("##"))
            .count();
    }
    assert!(
        word_pieces > 100,
        "sub-word splitting was exercised ({word_pieces} pieces)"
    );

    // Term sets and document frequencies over the collection, checked by direct counting.
    let sets = from_json.term_sets(&captions).unwrap();
    let df = sets.document_frequency();
    let a = from_json.token_id("a").unwrap() as usize;
    let dog = from_json.token_id("dog").unwrap() as usize;
    let with_dog = captions
        .iter()
        .filter(|c| from_json.encode(c).unwrap().contains(&(dog as u32)))
        .count();
    assert!((df[dog] as f64 - with_dog as f64 / 40_460.0).abs() < 1e-7);
    assert!(
        df[a] > 0.5 && df[a] < 1.0,
        "'a' is in most captions: {}",
        df[a]
    );
    assert_eq!(df[101], 0.0, "[CLS] is not one of a caption's terms");
    for row in sets.rows() {
        assert!(row.windows(2).all(|w| w[0] < w[1]));
    }
}
