//! Sparse vector tables: round trips and malformed input.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, Int64Array, ListArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use mmlsr_core::CsrMatrix;
use mmlsr_store::{Error, IdIndex, SparseTable};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::write_batch;

fn random_table(rows: usize, vocab: usize, seed: u64) -> SparseTable {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut m = CsrMatrix::empty(vocab);
    for r in 0..rows {
        // Every 7th row is empty (captions restricted to nothing, images with no term).
        let (mut i, mut w) = (Vec::new(), Vec::new());
        if r % 7 != 3 {
            for t in 0..vocab as u32 {
                if rng.random_bool(0.05) {
                    i.push(t);
                    w.push(rng.random_range(0.001..3.0));
                }
            }
        }
        m.push_row(&i, &w).unwrap();
    }
    let ids = IdIndex::from_ids((0..rows).map(|r| format!("{}", 1000 + r))).unwrap();
    SparseTable::new(ids, m).unwrap()
}

#[test]
fn round_trips_including_empty_rows_and_many_batches() {
    let dir = tempfile::tempdir().unwrap();
    for rows in [0, 1, 20_000] {
        let t = random_table(rows, 600, rows as u64);
        let path = dir.path().join(format!("s{rows}.parquet"));
        t.write_parquet(&path).unwrap();
        let back = SparseTable::read_parquet(&path, Some(600)).unwrap();
        assert_eq!(back.matrix, t.matrix);
        assert_eq!(
            back.ids.iter().collect::<Vec<_>>(),
            t.ids.iter().collect::<Vec<_>>()
        );
        // Without an expected size the schema metadata gives it.
        assert_eq!(
            SparseTable::read_parquet(&path, None)
                .unwrap()
                .matrix
                .n_cols(),
            600
        );
    }
    let t = random_table(10, 600, 1);
    let path = dir.path().join("v.parquet");
    t.write_parquet(&path).unwrap();
    let err = SparseTable::read_parquet(&path, Some(30_522)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::DimensionMismatch {
                expected: 30_522,
                found: 600,
                ..
            }
        ),
        "{err}"
    );
}

fn lists(rows: &[Vec<i64>]) -> ArrayRef {
    let item = Arc::new(Field::new("item", DataType::Int64, false));
    let values: Vec<i64> = rows.iter().flatten().copied().collect();
    Arc::new(
        ListArray::try_new(
            item,
            arrow_buffer::OffsetBuffer::from_lengths(rows.iter().map(Vec::len)),
            Arc::new(Int64Array::from(values)),
            None,
        )
        .unwrap(),
    )
}

fn flists(rows: &[Vec<f32>]) -> ArrayRef {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let values: Vec<f32> = rows.iter().flatten().copied().collect();
    Arc::new(
        ListArray::try_new(
            item,
            arrow_buffer::OffsetBuffer::from_lengths(rows.iter().map(Vec::len)),
            Arc::new(Float32Array::from(values)),
            None,
        )
        .unwrap(),
    )
}

fn write(path: &std::path::Path, ids: &[&str], idx: &[Vec<i64>], val: &[Vec<f32>]) {
    let id: ArrayRef = Arc::new(StringArray::from(ids.to_vec()));
    let (a, b) = (lists(idx), flists(val));
    let schema = Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("indices", a.data_type().clone(), false),
        Field::new("values", b.data_type().clone(), false),
    ]);
    write_batch(
        path,
        RecordBatch::try_new(Arc::new(schema), vec![id, a, b]).unwrap(),
    );
}

#[test]
fn malformed_sparse_tables_name_the_row_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.parquet");
    type Case<'a> = (&'a [&'a str], Vec<Vec<i64>>, Vec<Vec<f32>>, &'a str);
    let cases: [Case; 5] = [
        (
            &["a", "b"],
            vec![vec![1, 5], vec![3, 2]],
            vec![vec![1.0, 1.0], vec![1.0, 1.0]],
            "row 1",
        ),
        (
            &["a", "b"],
            vec![vec![1], vec![2, 3]],
            vec![vec![1.0], vec![1.0]],
            "row 1: 2 indices but 1 values",
        ),
        (
            &["a", "b"],
            vec![vec![-4], vec![]],
            vec![vec![1.0], vec![]],
            "row 0: indices: -4",
        ),
        (
            &["a", "a"],
            vec![vec![1], vec![2]],
            vec![vec![1.0], vec![1.0]],
            "id a appears twice",
        ),
        (&["a"], vec![vec![1]], vec![vec![f32::NAN]], "not finite"),
    ];
    for (ids, idx, val, expect) in cases {
        write(&p, ids, &idx, &val);
        let err = SparseTable::read_parquet(&p, Some(10))
            .unwrap_err()
            .to_string();
        assert!(err.contains(expect), "expected {expect:?} in {err:?}");
        assert!(err.contains("bad.parquet"), "{err}");
    }
    // Out of the vocabulary.
    write(&p, &["a"], &[vec![12]], &[vec![1.0]]);
    let err = SparseTable::read_parquet(&p, Some(10))
        .unwrap_err()
        .to_string();
    assert!(err.contains("out of range"), "{err}");
    // Missing column.
    let id: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
    let schema = Schema::new(vec![Field::new("id", DataType::Utf8, false)]);
    write_batch(
        &p,
        RecordBatch::try_new(Arc::new(schema), vec![id]).unwrap(),
    );
    let err = SparseTable::read_parquet(&p, None).unwrap_err();
    assert!(
        matches!(
            err,
            Error::MissingColumn {
                column: "indices",
                ..
            }
        ),
        "{err}"
    );
    // Garbage.
    std::fs::write(&p, b"not parquet at all").unwrap();
    assert!(matches!(
        SparseTable::read_parquet(&p, None),
        Err(Error::Parquet { .. })
    ));
}
