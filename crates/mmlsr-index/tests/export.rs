//! JSONL and CIFF exports, read back.

use mmlsr_core::CsrMatrix;
use mmlsr_index::{CiffDoc, CiffPosting, IndexConfig, InvertedIndex, read_ciff, write_jsonl};

fn collection() -> (CsrMatrix, Vec<String>, Vec<String>) {
    let mut docs = CsrMatrix::empty(6);
    docs.push_row(&[0, 2, 5], &[1.0, 0.5, 2.0]).unwrap();
    docs.push_row(&[], &[]).unwrap();
    docs.push_row(&[2, 3], &[2.0, 0.25]).unwrap();
    docs.push_row(&[5], &[0.001]).unwrap(); // quantises to 0: not in the index
    let ids = ["img-7", "img \"8\"", "img-9", "img-10"]
        .map(String::from)
        .to_vec();
    let tokens = ["dog", "cat", "grass", "ball", "##s", "frisbee"]
        .map(String::from)
        .to_vec();
    (docs, ids, tokens)
}

#[test]
fn jsonl_lines_parse_back_to_the_vectors() {
    let (docs, ids, tokens) = collection();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.jsonl");
    write_jsonl(&path, &ids, &docs, &tokens).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[1]["id"], "img \"8\"");
    assert_eq!(lines[0]["vector"]["frisbee"], 2.0);
    assert_eq!(lines[2]["vector"]["ball"], 0.25);
    assert!(lines[1]["vector"].as_object().unwrap().is_empty());
}

#[test]
fn ciff_round_trip_matches_the_postings() {
    let (docs, ids, tokens) = collection();
    let index = InvertedIndex::<u8>::build(&docs, IndexConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index.ciff");
    index
        .write_ciff(&path, &ids, &tokens, "mmlsr test")
        .unwrap();
    let ciff = read_ciff(&path).unwrap();
    assert_eq!(ciff.num_docs, 4);
    // Token order: ball, dog, frisbee, grass (cat and ##s have no postings).
    let names: Vec<&str> = ciff.postings.iter().map(|p| p.term.as_str()).collect();
    assert_eq!(names, ["ball", "dog", "frisbee", "grass"]);
    for list in &ciff.postings {
        let t = tokens.iter().position(|x| *x == list.term).unwrap() as u32;
        let (d, imp) = index.postings(t);
        let want: Vec<CiffPosting> = d
            .iter()
            .zip(imp)
            .map(|(&doc, &i)| CiffPosting { doc, tf: i as u32 })
            .collect();
        assert_eq!(list.postings, want, "{}", list.term);
    }
    assert_eq!(
        ciff.docs[1],
        CiffDoc {
            docid: 1,
            collection_id: "img \"8\"".to_string(),
            length: 0
        }
    );
    assert_eq!(
        ciff.docs[0].length,
        ciff.postings
            .iter()
            .flat_map(|p| &p.postings)
            .filter(|x| x.doc == 0)
            .map(|x| x.tf as u64)
            .sum::<u64>()
    );
    // A truncated file is an error.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    assert!(read_ciff(&path).is_err());
}
