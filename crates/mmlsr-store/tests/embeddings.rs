use std::sync::Arc;

use arrow_array::{
    ArrayRef, Float32Array, Int32Array, LargeStringArray, ListArray, RecordBatch, StringArray,
    StringViewArray, UInt64Array,
    builder::{Float32Builder, Float64Builder, ListBuilder},
};
use mmlsr_store::{EmbLayout, EmbeddingTable, Error, FloatType, IdIndex, IdType, WriteOptions};
use rand::{Rng, SeedableRng};

use crate::write_batch;

fn random_table(rows: usize, dim: usize, seed: u64) -> EmbeddingTable {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let ids = IdIndex::from_ids((0..rows).map(|i| (i * 7 + 3).to_string())).unwrap();
    let data = (0..rows * dim)
        .map(|_| rng.random_range(-2.0f32..2.0))
        .collect();
    EmbeddingTable::new(ids, dim, data).unwrap()
}

#[test]
fn round_trip_every_schema_variant() {
    let dir = tempfile::tempdir().unwrap();
    // Several row groups and a final partial one.
    let table = random_table(1000, 24, 1);
    for id_type in [IdType::Utf8, IdType::Int64] {
        for layout in [
            EmbLayout::List,
            EmbLayout::LargeList,
            EmbLayout::FixedSizeList,
        ] {
            for float in [FloatType::F32, FloatType::F64] {
                let opts = WriteOptions {
                    id_type,
                    layout,
                    float,
                    row_group_rows: 300,
                };
                let path = dir
                    .path()
                    .join(format!("{id_type:?}-{layout:?}-{float:?}.parquet"));
                table.write_parquet(&path, opts).unwrap();
                let back = EmbeddingTable::read_parquet(&path, None).unwrap();
                // f32 → f64 → f32 is exact, so the tables are equal bit for bit.
                assert_eq!(back, table, "{opts:?}");
                let again = EmbeddingTable::read_parquet(&path, Some(24)).unwrap();
                assert_eq!(again.get("10"), table.get("10"));
            }
        }
    }
}

fn f32_list(rows: &[Option<Vec<Option<f32>>>]) -> ArrayRef {
    let mut b = ListBuilder::new(Float32Builder::new());
    for r in rows {
        match r {
            Some(v) => {
                for x in v {
                    b.values().append_option(*x);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Arc::new(b.finish())
}

#[test]
fn reads_other_id_types_and_float64_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = ListBuilder::new(Float64Builder::new());
    for i in 0..3 {
        b.values().append_slice(&[i as f64, 0.5]);
        b.append(true);
    }
    let emb: ArrayRef = Arc::new(b.finish());
    let id_columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(vec![5, 6, 7])),
        Arc::new(UInt64Array::from(vec![5, 6, 7])),
        Arc::new(LargeStringArray::from(vec!["5", "6", "7"])),
        Arc::new(StringViewArray::from(vec!["5", "6", "7"])),
    ];
    for (k, id) in id_columns.into_iter().enumerate() {
        let path = dir.path().join(format!("ids{k}.parquet"));
        let batch = RecordBatch::try_from_iter([("emb", emb.clone()), ("id", id)]).unwrap();
        write_batch(&path, batch);
        let t = EmbeddingTable::read_parquet(&path, None).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.get("7"), Some(&[2.0, 0.5][..]), "id column {k}");
    }
}

#[test]
fn extra_columns_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("extra.parquet");
    let batch = RecordBatch::try_from_iter([
        (
            "caption",
            Arc::new(StringArray::from(vec!["x", "y"])) as ArrayRef,
        ),
        ("id", Arc::new(StringArray::from(vec!["a", "b"]))),
        (
            "emb",
            f32_list(&[Some(vec![Some(1.0)]), Some(vec![Some(2.0)])]),
        ),
    ])
    .unwrap();
    write_batch(&path, batch);
    let t = EmbeddingTable::read_parquet(&path, None).unwrap();
    assert_eq!(t.data(), &[1.0, 2.0]);
}

/// Write one record batch of `columns` to `dir/name` and return its path.
fn table<const N: usize>(
    dir: &tempfile::TempDir,
    name: &str,
    columns: [(&str, ArrayRef); N],
) -> std::path::PathBuf {
    let path = dir.path().join(name);
    write_batch(&path, RecordBatch::try_from_iter(columns).unwrap());
    path
}

fn expect_err(path: &std::path::Path, expected_dim: Option<usize>) -> (Error, String) {
    let err = EmbeddingTable::read_parquet(path, expected_dim).unwrap_err();
    let msg = err.to_string();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "message does not name the file: {msg}");
    (err, msg)
}

#[test]
fn malformed_tables_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ids = || Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef;
    let good_emb = || {
        f32_list(&[
            Some(vec![Some(1.0), Some(2.0)]),
            Some(vec![Some(3.0), Some(4.0)]),
        ])
    };

    let p = table(
        &dir,
        "missing.parquet",
        [("id", ids()), ("vec", good_emb())],
    );
    let (e, msg) = expect_err(&p, None);
    assert!(
        matches!(e, Error::MissingColumn { column: "emb", .. }),
        "{msg}"
    );
    assert!(msg.contains("found columns: id, vec"), "{msg}");

    let ints: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
    let p = table(&dir, "wrongtype.parquet", [("id", ids()), ("emb", ints)]);
    let (e, msg) = expect_err(&p, None);
    assert!(
        matches!(e, Error::ColumnType { column: "emb", .. }),
        "{msg}"
    );

    let fl: ArrayRef = Arc::new(Float32Array::from(vec![1.0, 2.0]));
    let p = table(&dir, "idtype.parquet", [("id", fl), ("emb", good_emb())]);
    assert!(matches!(
        expect_err(&p, None).0,
        Error::ColumnType { column: "id", .. }
    ));

    let ragged = f32_list(&[Some(vec![Some(1.0), Some(2.0)]), Some(vec![Some(3.0)])]);
    let p = table(&dir, "ragged.parquet", [("id", ids()), ("emb", ragged)]);
    let (e, msg) = expect_err(&p, None);
    assert!(
        matches!(&e, Error::RaggedDimension { row: 1, id, expected: 2, found: 1, .. } if id == "b"),
        "{msg}"
    );
    // The same file against an expected dimension that no row has.
    let (e, _) = expect_err(&p, Some(3));
    assert!(matches!(
        e,
        Error::RaggedDimension {
            row: 0,
            expected: 3,
            found: 2,
            ..
        }
    ));

    let nan = f32_list(&[
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![Some(3.0), Some(f32::NAN)]),
    ]);
    let p = table(&dir, "nan.parquet", [("id", ids()), ("emb", nan)]);
    let (e, msg) = expect_err(&p, None);
    assert!(
        matches!(
            &e,
            Error::NonFinite {
                row: 1,
                index: 1,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("id b"), "{msg}");

    let mut b = ListBuilder::new(Float64Builder::new());
    b.values().append_slice(&[1.0, 1e300]);
    b.append(true);
    let big: ArrayRef = Arc::new(b.finish());
    let one: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
    let p = table(&dir, "inf64.parquet", [("id", one), ("emb", big)]);
    let (e, msg) = expect_err(&p, None);
    assert!(
        matches!(e, Error::NonFinite { index: 1, .. }),
        "f64 overflowing f32: {msg}"
    );

    let nulls = f32_list(&[None, Some(vec![Some(3.0), Some(4.0)])]);
    let p = table(&dir, "nullrow.parquet", [("id", ids()), ("emb", nulls)]);
    assert!(matches!(
        expect_err(&p, None).0,
        Error::Null {
            column: "emb",
            row: 0,
            ..
        }
    ));

    let nulls = f32_list(&[
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![None, Some(4.0)]),
    ]);
    let p = table(&dir, "nullvalue.parquet", [("id", ids()), ("emb", nulls)]);
    assert!(matches!(
        expect_err(&p, None).0,
        Error::Null {
            column: "emb",
            row: 1,
            ..
        }
    ));

    let null_ids: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), None]));
    let p = table(
        &dir,
        "nullid.parquet",
        [("id", null_ids), ("emb", good_emb())],
    );
    assert!(matches!(
        expect_err(&p, None).0,
        Error::Null {
            column: "id",
            row: 1,
            ..
        }
    ));

    let dup: ArrayRef = Arc::new(StringArray::from(vec!["a", "a"]));
    let p = table(&dir, "dup.parquet", [("id", dup), ("emb", good_emb())]);
    let (e, msg) = expect_err(&p, None);
    assert!(
        matches!(
            e,
            Error::DuplicateId {
                first_row: 0,
                row: 1,
                ..
            }
        ),
        "{msg}"
    );
}

#[test]
fn truncated_and_garbage_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let table = random_table(500, 16, 2);
    let path = dir.path().join("full.parquet");
    table.write_parquet(&path, WriteOptions::default()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 4, 100, bytes.len() / 2, bytes.len() - 9, bytes.len() - 1] {
        let p = dir.path().join(format!("cut{cut}.parquet"));
        std::fs::write(&p, &bytes[..cut]).unwrap();
        let msg = EmbeddingTable::read_parquet(&p, None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains(&format!("cut{cut}.parquet")), "{msg}");
    }
    // Corrupt the middle of the data pages: an error (or, if the damage lands in padding, the
    // same rows), never a panic.
    let mut corrupt = bytes.clone();
    for b in &mut corrupt[200..2000] {
        *b ^= 0x5a;
    }
    let p = dir.path().join("corrupt.parquet");
    std::fs::write(&p, &corrupt).unwrap();
    let _ = EmbeddingTable::read_parquet(&p, None);
    let missing = dir.path().join("nope.parquet");
    assert!(matches!(
        EmbeddingTable::read_parquet(&missing, None),
        Err(Error::Io { .. })
    ));
}

#[test]
fn writer_rejects_bad_rows_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.parquet");
    let mut w = mmlsr_store::EmbeddingWriter::create(&path, 2, WriteOptions::default()).unwrap();
    assert!(w.write(&["a"], &[1.0]).is_err());
    assert!(matches!(
        w.write(&["a"], &[1.0, f32::INFINITY]),
        Err(Error::NonFinite { .. })
    ));
    drop(w);
    assert!(
        !path.exists(),
        "an unfinished writer must not leave the final file"
    );
    let opts = WriteOptions {
        id_type: IdType::Int64,
        ..WriteOptions::default()
    };
    let mut w = mmlsr_store::EmbeddingWriter::create(&path, 1, opts).unwrap();
    let msg = w.write(&["x7"], &[1.0]).unwrap_err().to_string();
    assert!(msg.contains("not an integer"), "{msg}");
}

#[test]
fn list_with_sliced_child_offsets_reads_correctly() {
    // A list array whose offsets do not start at zero (as produced by slicing).
    let full = f32_list(&[
        Some(vec![Some(9.0), Some(9.0)]),
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![Some(3.0), Some(4.0)]),
    ]);
    let sliced = full.slice(1, 2);
    let list = sliced.as_any().downcast_ref::<ListArray>().unwrap();
    assert_eq!(list.value_offsets()[0], 2);
    let dir = tempfile::tempdir().unwrap();
    let ids: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
    let p = table(&dir, "sliced.parquet", [("id", ids), ("emb", sliced)]);
    let t = EmbeddingTable::read_parquet(&p, None).unwrap();
    assert_eq!(t.data(), &[1.0, 2.0, 3.0, 4.0]);
}
