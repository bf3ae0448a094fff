//! The on-disk format: round trips, and every kind of damage is an error, not a panic.

use mmlsr_core::CsrMatrix;
use mmlsr_index::{
    Algorithm, Error, Impact, IndexConfig, InvertedIndex, QueryWeights, Scratch, impact_bits,
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
    InvertedIndex::<I>::build(&docs, IndexConfig { block_size: 16 }).unwrap()
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
    b[8] = 3; // version 3
    let err = InvertedIndex::<u8>::from_bytes(&b).unwrap_err();
    assert!(err.contains("version 3"), "{err}");
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

/// Files of format version 1 (no impact-width field, u8 impacts) still load.
#[test]
fn version_1_files_still_load() {
    let idx = index();
    let v2 = idx.to_bytes();
    // Version 1 = version 2 without the 4-byte width at offset 28, checksum recomputed.
    let mut v1 = v2[..v2.len() - 4].to_vec();
    v1.drain(28..32);
    v1[8..12].copy_from_slice(&1u32.to_le_bytes());
    let crc = crc32fast::hash(&v1);
    v1.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(InvertedIndex::<u8>::from_bytes(&v1).unwrap(), idx);
    let err = InvertedIndex::<u16>::from_bytes(&v1).unwrap_err();
    assert!(err.contains("8-bit impacts"), "{err}");
}
