//! Sparse vectors in Parquet: a column `id` (utf8), a column `indices` (list of uint32 term
//! ids, strictly increasing) and a column `values` (list of float32 weights), one row per
//! caption or image. The vocabulary size is kept in the schema metadata under
//! [`SparseTable::VOCAB_SIZE_KEY`] so a reader can check it against a model or index.

use std::{collections::HashMap, fs::File, path::Path, sync::Arc};

use arrow_array::{
    Array, ArrayRef, Float32Array, ListArray, RecordBatch, UInt32Array, cast::AsArray,
    types::Float32Type, types::Float64Type, types::Int32Type, types::Int64Type, types::UInt32Type,
};
use arrow_schema::{DataType, Field, Schema};
use mmlsr_core::CsrMatrix;
use parquet::{
    arrow::{ArrowWriter, arrow_reader::ParquetRecordBatchReaderBuilder},
    basic::Compression,
    file::properties::WriterProperties,
};

use crate::{Error, IdIndex, Result, atomic, embeddings::find_column};

/// Rows per record batch (and row group) when writing.
const WRITE_BATCH_ROWS: usize = 8192;

/// Sparse vectors with their ids: row `r` of `matrix` belongs to `ids.id(r)`.
#[derive(Debug, Clone)]
pub struct SparseTable {
    /// Row ids (`sentid`s or `imgid`s).
    pub ids: IdIndex,
    /// One row per id; columns are vocabulary term ids.
    pub matrix: CsrMatrix,
}

impl SparseTable {
    /// Schema-metadata key holding the vocabulary size (decimal).
    pub const VOCAB_SIZE_KEY: &'static str = "mmlsr.vocab_size";

    /// Pair ids with rows.
    pub fn new(ids: IdIndex, matrix: CsrMatrix) -> Result<Self> {
        if ids.len() != matrix.n_rows() {
            return Err(Error::DimensionMismatch {
                what: "sparse table: ids vs matrix rows".into(),
                expected: ids.len(),
                found: matrix.n_rows(),
            });
        }
        Ok(Self { ids, matrix })
    }

    /// Write the table to `path` atomically (Snappy-compressed Parquet).
    pub fn write_parquet(&self, path: &Path) -> Result<()> {
        let item_u32 = Arc::new(Field::new("item", DataType::UInt32, false));
        let item_f32 = Arc::new(Field::new("item", DataType::Float32, false));
        let schema = Arc::new(Schema::new_with_metadata(
            vec![
                Field::new("id", DataType::Utf8, false),
                Field::new("indices", DataType::List(item_u32.clone()), false),
                Field::new("values", DataType::List(item_f32.clone()), false),
            ],
            HashMap::from([(
                Self::VOCAB_SIZE_KEY.to_string(),
                self.matrix.n_cols().to_string(),
            )]),
        ));
        let tmp = atomic::temp_beside(path)?;
        let file = tmp.as_file().try_clone().map_err(|e| Error::io(path, e))?;
        let pq = |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let arrow_err = |source| Error::Arrow {
            path: path.to_path_buf(),
            source,
        };
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_size(WRITE_BATCH_ROWS)
            .build();
        let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(pq)?;
        let (indptr, indices, values) = self.matrix.raw();
        let n = self.matrix.n_rows();
        let mut start = 0;
        while start < n || (n == 0 && start == 0) {
            let end = (start + WRITE_BATCH_ROWS).min(n);
            let (a, b) = (indptr[start], indptr[end]);
            let lengths = (start..end).map(|r| indptr[r + 1] - indptr[r]);
            let offsets = arrow_buffer::OffsetBuffer::from_lengths(lengths.clone());
            let ids: ArrayRef = Arc::new(arrow_array::StringArray::from_iter_values(
                (start..end).map(|r| self.ids.id(r)),
            ));
            let idx: ArrayRef = Arc::new(
                ListArray::try_new(
                    item_u32.clone(),
                    offsets.clone(),
                    Arc::new(UInt32Array::from(indices[a..b].to_vec())),
                    None,
                )
                .map_err(arrow_err)?,
            );
            let val: ArrayRef = Arc::new(
                ListArray::try_new(
                    item_f32.clone(),
                    offsets,
                    Arc::new(Float32Array::from(values[a..b].to_vec())),
                    None,
                )
                .map_err(arrow_err)?,
            );
            let batch =
                RecordBatch::try_new(schema.clone(), vec![ids, idx, val]).map_err(arrow_err)?;
            writer.write(&batch).map_err(pq)?;
            if n == 0 {
                break;
            }
            start = end;
        }
        writer.close().map_err(pq)?;
        atomic::persist(tmp, path)
    }

    /// Read a table written by [`SparseTable::write_parquet`] (or any file with the same
    /// columns: ids utf8 or integer, indices list of uint32/int32/int64, values list of
    /// float32/float64). Every row is validated (sorted unique ids within the vocabulary,
    /// finite weights); `expected_vocab`, when given, must equal the file's vocabulary size.
    pub fn read_parquet(path: &Path, expected_vocab: Option<usize>) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let pq = |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
        let schema = builder.schema().clone();
        for name in ["id", "indices", "values"] {
            find_column(path, &schema, name)?;
        }
        let declared = match schema.metadata().get(Self::VOCAB_SIZE_KEY) {
            Some(v) => Some(v.parse::<usize>().map_err(|_| {
                Error::invalid(
                    path,
                    format!(
                        "schema metadata {}={v:?} is not an integer",
                        Self::VOCAB_SIZE_KEY
                    ),
                )
            })?),
            None => None,
        };
        if let (Some(e), Some(d)) = (expected_vocab, declared)
            && e != d
        {
            return Err(Error::DimensionMismatch {
                what: format!("{}: vocabulary size", path.display()),
                expected: e,
                found: d,
            });
        }
        let reader = builder.build().map_err(pq)?;
        let mut ids = IdIndex::with_capacity(0, 0);
        let mut indptr = vec![0usize];
        let mut indices: Vec<u32> = Vec::new();
        let mut values: Vec<f32> = Vec::new();
        for batch in reader {
            let batch = batch.map_err(|source| Error::Arrow {
                path: path.to_path_buf(),
                source,
            })?;
            let first = ids.len();
            let id_col = batch.column_by_name("id").expect("checked");
            for r in 0..batch.num_rows() {
                let row = first + r;
                if id_col.is_null(r) {
                    return Err(Error::Null {
                        path: path.to_path_buf(),
                        column: "id",
                        row,
                    });
                }
                let id = id_string(path, id_col, r)?;
                if let Err((first_row, row)) = ids.push(&id) {
                    return Err(Error::DuplicateId {
                        path: path.to_path_buf(),
                        id,
                        first_row,
                        row,
                    });
                }
            }
            let idx_col = batch.column_by_name("indices").expect("checked");
            let val_col = batch.column_by_name("values").expect("checked");
            for r in 0..batch.num_rows() {
                let row = first + r;
                let i = list_values(path, "indices", idx_col, r, row)?;
                let v = list_values(path, "values", val_col, r, row)?;
                let before = indices.len();
                push_indices(path, &i, row, &mut indices)?;
                push_floats(path, &v, row, &mut values)?;
                if indices.len() - before != values.len() - before {
                    return Err(Error::invalid(
                        path,
                        format!(
                            "row {row}: {} indices but {} values",
                            indices.len() - before,
                            values.len() - before
                        ),
                    ));
                }
                indptr.push(indices.len());
            }
        }
        let n_cols = expected_vocab
            .or(declared)
            .unwrap_or_else(|| indices.iter().max().map_or(0, |&m| m as usize + 1));
        let matrix = CsrMatrix::new(n_cols, indptr, indices, values)
            .map_err(|e| Error::invalid(path, e.to_string()))?;
        Ok(Self { ids, matrix })
    }
}

fn id_string(path: &Path, col: &ArrayRef, r: usize) -> Result<String> {
    Ok(match col.data_type() {
        DataType::Utf8 => col.as_string::<i32>().value(r).to_string(),
        DataType::LargeUtf8 => col.as_string::<i64>().value(r).to_string(),
        DataType::Utf8View => col.as_string_view().value(r).to_string(),
        DataType::Int64 => col.as_primitive::<Int64Type>().value(r).to_string(),
        DataType::Int32 => col.as_primitive::<Int32Type>().value(r).to_string(),
        DataType::UInt32 => col.as_primitive::<UInt32Type>().value(r).to_string(),
        other => {
            return Err(Error::ColumnType {
                path: path.to_path_buf(),
                column: "id",
                expected: "utf8 or an integer type",
                found: other.to_string(),
            });
        }
    })
}

/// The list at row `r` of a list or large-list column.
fn list_values(
    path: &Path,
    column: &'static str,
    col: &ArrayRef,
    r: usize,
    row: usize,
) -> Result<ArrayRef> {
    if col.is_null(r) {
        return Err(Error::Null {
            path: path.to_path_buf(),
            column,
            row,
        });
    }
    match col.data_type() {
        DataType::List(_) => Ok(col.as_list::<i32>().value(r)),
        DataType::LargeList(_) => Ok(col.as_list::<i64>().value(r)),
        other => Err(Error::ColumnType {
            path: path.to_path_buf(),
            column,
            expected: "a list",
            found: other.to_string(),
        }),
    }
}

fn push_indices(path: &Path, a: &ArrayRef, row: usize, out: &mut Vec<u32>) -> Result<()> {
    let bad = |what: String| Error::invalid(path, format!("row {row}: indices: {what}"));
    if a.null_count() > 0 {
        return Err(bad("null entry".into()));
    }
    match a.data_type() {
        DataType::UInt32 => out.extend(a.as_primitive::<UInt32Type>().values().iter()),
        DataType::Int32 => {
            for &x in a.as_primitive::<Int32Type>().values().iter() {
                out.push(u32::try_from(x).map_err(|_| bad(format!("{x} is not a term id")))?);
            }
        }
        DataType::Int64 => {
            for &x in a.as_primitive::<Int64Type>().values().iter() {
                out.push(u32::try_from(x).map_err(|_| bad(format!("{x} is not a term id")))?);
            }
        }
        other => {
            return Err(Error::ColumnType {
                path: path.to_path_buf(),
                column: "indices",
                expected: "list of uint32, int32 or int64",
                found: format!("list of {other}"),
            });
        }
    }
    Ok(())
}

fn push_floats(path: &Path, a: &ArrayRef, row: usize, out: &mut Vec<f32>) -> Result<()> {
    if a.null_count() > 0 {
        return Err(Error::invalid(
            path,
            format!("row {row}: values: null entry"),
        ));
    }
    match a.data_type() {
        DataType::Float32 => out.extend(a.as_primitive::<Float32Type>().values().iter()),
        DataType::Float64 => out.extend(
            a.as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|&x| x as f32),
        ),
        other => {
            return Err(Error::ColumnType {
                path: path.to_path_buf(),
                column: "values",
                expected: "list of float32 or float64",
                found: format!("list of {other}"),
            });
        }
    }
    Ok(())
}
