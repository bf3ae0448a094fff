//! The on-disk format: round trips, and every kind of damage is an error, not a panic.

use mmlsr_core::CsrMatrix;
use mmlsr_index::{
    Algorithm, DocOrder, Error, Impact, IndexConfig, InvertedIndex, QueryWeights, Scratch,
    impact_bits,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn index() -> InvertedIndex {
    index_of::<u8>()
}

fn index_of<I: Impact>() -> InvertedIndex<I> {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let v = 30;
    let mut docs = CsrMatrix::empty(v);
    for _ in 0..400 {
        let (mut i, mut w) = (Vec::new(), Vec::new());
        for t in 0..v as u32 {
            if rng.random_bool(0.2) {
                i.push(t);
                w.push(rng.random_range(0.0f32..2.0));
            }
        }
        docs.push_row(&i, &w).unwrap();
    }
    InvertedIndex::<I>::build(
        &docs,
        IndexConfig {
            block_size: 16,
            ..IndexConfig::default()
        },
    )
    .unwrap()
}

#[test]
fn round_trip_through_a_file() {
    let idx = index();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coco.mmlsr");
    idx.write(&path).unwrap();
    let back = InvertedIndex::<u8>::read(&path).unwrap();
    assert_eq!(back, idx);
    let mut q = CsrMatrix::empty(30);
    q.push_row(&[1, 5, 7], &[0.5, 1.0, 2.0]).unwrap();
    let q = QueryWeights::new(q.row(0), 30).unwrap();
    let mut s = Scratch::default();
    assert_eq!(
        back.search(&q, 10, Algorithm::MaxScore, &mut s),
        idx.search(&q, 10, Algorithm::MaxScore, &mut s)
    );
    // No temporary files are left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn damaged_files_are_errors() {
    let bytes = index().to_bytes();
    // Every truncation.
    for cut in [0, 7, 8, 30, 52, 100, bytes.len() / 2, bytes.len() - 1] {
        let err = InvertedIndex::<u8>::from_bytes(&bytes[..cut]).unwrap_err();
        assert!(!err.is_empty());
    }
    // Every single-byte flip is caught (by the checksum or the structure checks).
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..300 {
        let mut b = bytes.clone();
        let i = rng.random_range(0..b.len());
        b[i] ^= 1 << rng.random_range(0..8);
        assert!(
            InvertedIndex::<u8>::from_bytes(&b).is_err(),
            "flip at byte {i} accepted"
        );
    }
    let mut b = bytes.clone();
    b[8] = 5; // version 5
    let err = InvertedIndex::<u8>::from_bytes(&b).unwrap_err();
    assert!(err.contains("version 5"), "{err}");
    let err =
        InvertedIndex::<u8>::from_bytes(b"PARQUET1 and some more bytes to pass the length check..")
            .unwrap_err();
    assert!(err.contains("magic"), "{err}");
    // Through a file, the error names it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.mmlsr");
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    match InvertedIndex::<u8>::read(&path) {
        Err(Error::Format { path: p, message }) => {
            assert_eq!(p, path);
            assert!(
                message.contains("checksum") || message.contains("length"),
                "{message}"
            );
        }
        other => panic!("expected a format error, got {other:?}"),
    }
}

#[test]
fn u16_indexes_round_trip_and_the_width_is_checked() {
    let idx = index_of::<u16>();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.mmlsr");
    idx.write(&path).unwrap();
    assert_eq!(impact_bits(&path).unwrap(), 16);
    let back = InvertedIndex::<u16>::read(&path).unwrap();
    assert_eq!(back, idx);
    // Loading with the other width is a clear error, not garbage.
    match InvertedIndex::<u8>::read(&path) {
        Err(Error::Format { message, .. }) => {
            assert!(message.contains("16-bit impacts"), "{message}")
        }
        other => panic!("expected a format error, got {other:?}"),
    }
    let narrow = dir.path().join("narrow.mmlsr");
    index().write(&narrow).unwrap();
    assert_eq!(impact_bits(&narrow).unwrap(), 8);
    assert!(InvertedIndex::<u16>::read(&narrow).is_err());
    // Every single-byte flip of a u16 file is caught too.
    let bytes = idx.to_bytes();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for _ in 0..200 {
        let mut b = bytes.clone();
        let i = rng.random_range(0..b.len());
        b[i] ^= 1 << rng.random_range(0..8);
        assert!(
            InvertedIndex::<u16>::from_bytes(&b).is_err(),
            "flip at byte {i} accepted"
        );
    }
    std::fs::write(dir.path().join("junk"), b"not an index at all, no").unwrap();
    assert!(impact_bits(&dir.path().join("junk")).is_err());
}

/// The bytes of an older format version (1: 44-byte header, u8 only; 2: 48-byte header with
/// the impact width, both with plain u32 document and term ids; 3: packed ids, 64-byte header
/// without the document order), rebuilt from a version-4 file of an index in the given order.
fn legacy(v4: &[u8], version: u32) -> Vec<u8> {
    let u32_at = |o: usize| u32::from_le_bytes(v4[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(v4[o..o + 8].try_into().unwrap());
    assert_eq!(u64_at(64), 0, "legacy files have no document order");
    let mut b = v4[..8].to_vec();
    b.extend_from_slice(&version.to_le_bytes());
    if version == 3 {
        b.extend_from_slice(&v4[12..64]);
        b.extend_from_slice(&v4[72..v4.len() - 4]);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        return b;
    }
    let (n_docs, vocab) = (u32_at(12) as usize, u32_at(16) as usize);
    let (p, c, g) = (u64_at(32), u64_at(48) as usize, u64_at(56) as usize);
    let width = u32_at(28) as usize / 8;
    let u64s = |s: &[u8]| -> Vec<u64> {
        s.chunks_exact(8)
            .map(|x| u64::from_le_bytes(x.try_into().unwrap()))
            .collect()
    };
    let ts_end = 72 + 8 * (vocab + 1);
    let term_start = u64s(&v4[72..ts_end]);
    let docs = mmlsr_index::codec::decode_doc_ids(&term_start, &v4[ts_end..ts_end + c]).unwrap();
    let imp_end = ts_end + c + width * p as usize;
    let ip_end = imp_end + 8 * (n_docs + 1);
    let indptr = u64s(&v4[imp_end..ip_end]);
    let terms = mmlsr_index::codec::decode_doc_ids(&indptr, &v4[ip_end..ip_end + g]).unwrap();
    b.extend_from_slice(&v4[12..28]); // n_docs, vocab, block size, scale
    if version == 2 {
        b.extend_from_slice(&v4[28..32]); // impact bits
    }
    b.extend_from_slice(&p.to_le_bytes());
    b.extend_from_slice(&v4[40..48]); // forward nnz
    b.extend_from_slice(&v4[72..ts_end]);
    docs.iter()
        .for_each(|d| b.extend_from_slice(&d.to_le_bytes()));
    b.extend_from_slice(&v4[ts_end + c..ip_end]); // impacts, forward indptr
    terms
        .iter()
        .for_each(|t| b.extend_from_slice(&t.to_le_bytes()));
    b.extend_from_slice(&v4[ip_end + g..v4.len() - 4]); // forward values
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Files of format versions 1 and 2 (plain document ids) and 3 (no document order) still
/// load; version 3 packed the ids into fewer bytes.
#[test]
fn older_versions_still_load_and_version_3_is_smaller() {
    let idx = index();
    let v4 = idx.to_bytes();
    let v3 = legacy(&v4, 3);
    assert_eq!(InvertedIndex::<u8>::from_bytes(&v3).unwrap(), idx);
    let v1 = legacy(&v4, 1);
    assert_eq!(InvertedIndex::<u8>::from_bytes(&v1).unwrap(), idx);
    let err = InvertedIndex::<u16>::from_bytes(&v1).unwrap_err();
    assert!(err.contains("8-bit impacts"), "{err}");
    let v2 = legacy(&v4, 2);
    assert_eq!(InvertedIndex::<u8>::from_bytes(&v2).unwrap(), idx);
    let wide = index_of::<u16>();
    let w4 = wide.to_bytes();
    assert_eq!(
        InvertedIndex::<u16>::from_bytes(&legacy(&w4, 2)).unwrap(),
        wide
    );
    assert_eq!(
        InvertedIndex::<u16>::from_bytes(&legacy(&w4, 3)).unwrap(),
        wide
    );
    // 400 documents: gaps need at most 9 bits, so the ids shrink by well over half.
    let saved = v2.len() - v3.len();
    assert!(
        saved * 2 > 4 * idx.n_postings(),
        "saved {saved} bytes of {}",
        4 * idx.n_postings()
    );
}

/// A reordered index keeps its document order through a file, and an order that is not a
/// permutation is refused by position.
#[test]
fn document_order_round_trips_and_is_validated() {
    let docs = index().forward().clone();
    let config = IndexConfig {
        block_size: 16,
        doc_order: DocOrder::HeaviestTerms { terms: 2 },
    };
    let idx = InvertedIndex::<u16>::build(&docs, config).unwrap();
    let order = idx.doc_order().expect("reordered").to_vec();
    assert_ne!(order, (0..order.len() as u32).collect::<Vec<_>>());
    let bytes = idx.to_bytes();
    let back = InvertedIndex::<u16>::from_bytes(&bytes).unwrap();
    assert_eq!(back, idx);
    // Repeat the first entry in the second position (checksum recomputed).
    let n = order.len();
    let start = bytes.len() - 4 - 4 * n;
    let mut b = bytes[..bytes.len() - 4].to_vec();
    b[start + 4..start + 8].copy_from_slice(&order[0].to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let err = InvertedIndex::<u16>::from_bytes(&b).unwrap_err();
    assert!(
        err.contains("document order, position 1") && err.contains("permutation"),
        "{err}"
    );
    // An order of the wrong length.
    let mut b = bytes[..bytes.len() - 4].to_vec();
    b[64..72].copy_from_slice(&5u64.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let err = InvertedIndex::<u16>::from_bytes(&b).unwrap_err();
    assert!(err.contains("expected 0 or n_docs"), "{err}");
}
