//! Dense embedding tables in the lsr42 Parquet schema: a column `id` (utf8 or integer) and a
//! column `emb` (list, large list or fixed-size list of float32 or float64).
//!
//! Reading goes record batch by record batch straight into one contiguous row-major `f32`
//! matrix, reserved once from the row count in the Parquet footer, so a 600k × 768 table
//! loads without a per-row allocation and peak memory stays near the size of that matrix.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::Arc,
};

use arrow_array::{
    Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, Int64Array, LargeListArray,
    ListArray, RecordBatch,
    cast::AsArray,
    types::{
        Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
        UInt32Type, UInt64Type,
    },
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::{
    arrow::{ArrowWriter, ProjectionMask, arrow_reader::ParquetRecordBatchReaderBuilder},
    basic::Compression,
    file::properties::WriterProperties,
};

use crate::{Error, IdIndex, Result, atomic};

/// Rows per record batch when reading.
const READ_BATCH_ROWS: usize = 8192;

/// How the `id` column is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdType {
    /// `utf8` strings (the lsr42 files).
    #[default]
    Utf8,
    /// `int64`; every id must then parse as an integer.
    Int64,
}

/// How the `emb` column is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmbLayout {
    /// `list<float>` (what pandas / pyarrow write for a column of arrays).
    #[default]
    List,
    /// `large_list<float>`.
    LargeList,
    /// `fixed_size_list<float, dim>`.
    FixedSizeList,
}

/// Element type of the `emb` column when written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FloatType {
    /// float32.
    #[default]
    F32,
    /// float64 (values are read back as f32).
    F64,
}

/// Options for writing an embedding table. The defaults give the lsr42 schema with float32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Type of the `id` column.
    pub id_type: IdType,
    /// Layout of the `emb` column.
    pub layout: EmbLayout,
    /// Element type of the `emb` column.
    pub float: FloatType,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            id_type: IdType::Utf8,
            layout: EmbLayout::List,
            float: FloatType::F32,
            row_group_rows: 16_384,
        }
    }
}

/// A table of dense embeddings: ids in row order and one row-major `f32` matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingTable {
    ids: IdIndex,
    dim: usize,
    data: Vec<f32>,
}

impl EmbeddingTable {
    /// Build from ids and a row-major matrix of `ids.len() × dim` values, all finite.
    pub fn new(ids: IdIndex, dim: usize, data: Vec<f32>) -> Result<Self> {
        let origin = PathBuf::from("<memory>");
        if data.len() != ids.len() * dim {
            return Err(Error::invalid(
                origin,
                format!(
                    "{} values for {} ids of dimension {dim}, expected {}",
                    data.len(),
                    ids.len(),
                    ids.len() * dim
                ),
            ));
        }
        check_finite(&origin, &ids, dim, &data)?;
        Ok(Self { ids, dim, data })
    }

    /// Read a Parquet embedding table. `expected_dim`, when given, is enforced on every row;
    /// otherwise the first row sets the dimension.
    pub fn read_parquet(path: &Path, expected_dim: Option<usize>) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let pq = |source| Error::Parquet {
            path: path.to_path_buf(),
            source,
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
        let schema = builder.schema().clone();
        let id_col = find_column(path, &schema, "id")?;
        let emb_col = find_column(path, &schema, "emb")?;
        check_id_type(path, schema.field(id_col).data_type())?;
        let fixed_dim = check_emb_type(path, schema.field(emb_col).data_type())?;
        let n_rows = usize::try_from(builder.metadata().file_metadata().num_rows())
            .map_err(|_| Error::invalid(path, "negative row count in the Parquet footer"))?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [id_col, emb_col]);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(READ_BATCH_ROWS)
            .build()
            .map_err(pq)?;

        let mut loader = Loader {
            path,
            ids: IdIndex::with_capacity(n_rows, n_rows * 8),
            dim: expected_dim.or(fixed_dim),
            data: Vec::new(),
            n_rows,
        };
        if let Some(dim) = loader.dim {
            loader.reserve(dim)?;
        }
        for batch in reader {
            let batch = batch.map_err(|source| Error::Arrow {
                path: path.to_path_buf(),
                source,
            })?;
            loader.append(&batch)?;
        }
        let dim = loader.dim.unwrap_or(0);
        if let (Some(expected), Some(fixed)) = (expected_dim, fixed_dim)
            && expected != fixed
        {
            return Err(Error::DimensionMismatch {
                what: format!("{}: fixed-size list length", path.display()),
                expected,
                found: fixed,
            });
        }
        Ok(Self {
            ids: loader.ids,
            dim,
            data: loader.data,
        })
    }

    /// Write this table to `path` atomically.
    pub fn write_parquet(&self, path: &Path, options: WriteOptions) -> Result<()> {
        let mut writer = EmbeddingWriter::create(path, self.dim, options)?;
        let step = options.row_group_rows.max(1);
        let mut start = 0;
        while start < self.len() {
            let end = (start + step).min(self.len());
            let ids: Vec<&str> = (start..end).map(|r| self.ids.id(r)).collect();
            writer.write(&ids, &self.data[start * self.dim..end * self.dim])?;
            start = end;
        }
        writer.finish()?;
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The ids, in row order, with lookup.
    pub fn ids(&self) -> &IdIndex {
        &self.ids
    }

    /// The whole matrix, row-major, `len() × dim()`.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// Row `r`.
    ///
    /// # Panics
    /// If `r >= self.len()`.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.dim..(r + 1) * self.dim]
    }

    /// The embedding of `id`, if present.
    pub fn get(&self, id: &str) -> Option<&[f32]> {
        self.ids.row(id).map(|r| self.row(r))
    }
}

pub(crate) fn find_column(path: &Path, schema: &Schema, name: &'static str) -> Result<usize> {
    schema.index_of(name).map_err(|_| Error::MissingColumn {
        path: path.to_path_buf(),
        column: name,
        found: schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

fn check_id_type(path: &Path, dt: &DataType) -> Result<()> {
    use DataType::*;
    match dt {
        Utf8 | LargeUtf8 | Utf8View | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32
        | UInt64 => Ok(()),
        other => Err(Error::ColumnType {
            path: path.to_path_buf(),
            column: "id",
            expected: "utf8 or an integer type",
            found: other.to_string(),
        }),
    }
}

/// Check the `emb` type; returns the fixed dimension for a fixed-size list.
fn check_emb_type(path: &Path, dt: &DataType) -> Result<Option<usize>> {
    let bad = || Error::ColumnType {
        path: path.to_path_buf(),
        column: "emb",
        expected: "list, large_list or fixed_size_list of float32 or float64",
        found: dt.to_string(),
    };
    let (item, fixed) = match dt {
        DataType::List(f) | DataType::LargeList(f) => (f, None),
        DataType::FixedSizeList(f, n) => (f, Some(*n as usize)),
        _ => return Err(bad()),
    };
    match item.data_type() {
        DataType::Float32 | DataType::Float64 => Ok(fixed),
        _ => Err(bad()),
    }
}

/// Decodes record batches into the growing matrix.
struct Loader<'a> {
    path: &'a Path,
    ids: IdIndex,
    dim: Option<usize>,
    data: Vec<f32>,
    n_rows: usize,
}

impl Loader<'_> {
    fn reserve(&mut self, dim: usize) -> Result<()> {
        let want = self
            .n_rows
            .checked_mul(dim)
            .ok_or_else(|| Error::invalid(self.path, "row count × dimension overflows"))?;
        self.data.try_reserve_exact(want).map_err(|_| {
            Error::invalid(
                self.path,
                format!(
                    "cannot allocate {want} floats for {} rows of dimension {dim}",
                    self.n_rows
                ),
            )
        })
    }

    fn append(&mut self, batch: &RecordBatch) -> Result<()> {
        let first_row = self.ids.len();
        let id_col = batch.column_by_name("id").expect("projected column");
        let emb_col = batch.column_by_name("emb").expect("projected column");
        self.append_ids(id_col, first_row)?;
        match emb_col.data_type() {
            DataType::List(_) => {
                let list = emb_col.as_list::<i32>();
                let offsets = list.value_offsets();
                self.append_embs(list, list.values(), first_row, |i| {
                    (offsets[i] as usize, offsets[i + 1] as usize)
                })
            }
            DataType::LargeList(_) => {
                let list = emb_col.as_list::<i64>();
                let offsets = list.value_offsets();
                self.append_embs(list, list.values(), first_row, |i| {
                    (offsets[i] as usize, offsets[i + 1] as usize)
                })
            }
            DataType::FixedSizeList(_, n) => {
                let list = emb_col.as_fixed_size_list();
                let n = *n as usize;
                self.append_embs(list, list.values(), first_row, |i| {
                    let a = list.value_offset(i) as usize;
                    (a, a + n)
                })
            }
            _ => unreachable!("checked against the schema"),
        }
    }

    fn append_ids(&mut self, col: &ArrayRef, first_row: usize) -> Result<()> {
        if let Some(i) = (0..col.len()).find(|&i| col.is_null(i)) {
            return Err(Error::Null {
                path: self.path.to_path_buf(),
                column: "id",
                row: first_row + i,
            });
        }
        macro_rules! push_all {
            ($iter:expr, $push:ident) => {
                for v in $iter {
                    let v = v.expect("nulls checked above");
                    self.ids
                        .$push(v)
                        .map_err(|(first, row)| Error::DuplicateId {
                            path: self.path.to_path_buf(),
                            id: self.ids.id(first).to_string(),
                            first_row: first,
                            row,
                        })?;
                }
            };
        }
        match col.data_type() {
            DataType::Utf8 => push_all!(col.as_string::<i32>().iter(), push),
            DataType::LargeUtf8 => push_all!(col.as_string::<i64>().iter(), push),
            DataType::Utf8View => push_all!(col.as_string_view().iter(), push),
            DataType::Int8 => push_all!(col.as_primitive::<Int8Type>().iter(), push_display),
            DataType::Int16 => push_all!(col.as_primitive::<Int16Type>().iter(), push_display),
            DataType::Int32 => push_all!(col.as_primitive::<Int32Type>().iter(), push_display),
            DataType::Int64 => push_all!(col.as_primitive::<Int64Type>().iter(), push_display),
            DataType::UInt8 => push_all!(col.as_primitive::<UInt8Type>().iter(), push_display),
            DataType::UInt16 => push_all!(col.as_primitive::<UInt16Type>().iter(), push_display),
            DataType::UInt32 => push_all!(col.as_primitive::<UInt32Type>().iter(), push_display),
            DataType::UInt64 => push_all!(col.as_primitive::<UInt64Type>().iter(), push_display),
            _ => unreachable!("checked against the schema"),
        }
        Ok(())
    }

    fn append_embs(
        &mut self,
        list: &dyn Array,
        values: &ArrayRef,
        first_row: usize,
        range: impl Fn(usize) -> (usize, usize),
    ) -> Result<()> {
        enum Floats<'v> {
            F32(&'v [f32]),
            F64(&'v [f64]),
        }
        let floats = match values.data_type() {
            DataType::Float32 => Floats::F32(values.as_primitive::<Float32Type>().values()),
            DataType::Float64 => Floats::F64(values.as_primitive::<Float64Type>().values()),
            _ => unreachable!("checked against the schema"),
        };
        let child_nulls = values.logical_nulls();
        for i in 0..list.len() {
            let row = first_row + i;
            if list.is_null(i) {
                return Err(self.null_emb(row));
            }
            let (a, b) = range(i);
            if let Some(nulls) = &child_nulls
                && (a..b).any(|k| nulls.is_null(k))
            {
                return Err(self.null_emb(row));
            }
            let found = b - a;
            let dim = match self.dim {
                Some(d) => d,
                None => {
                    self.dim = Some(found);
                    self.reserve(found)?;
                    found
                }
            };
            if found != dim {
                return Err(Error::RaggedDimension {
                    path: self.path.to_path_buf(),
                    row,
                    id: self.ids.id(row).to_string(),
                    expected: dim,
                    found,
                });
            }
            let start = self.data.len();
            match floats {
                Floats::F32(v) => self.data.extend_from_slice(&v[a..b]),
                Floats::F64(v) => self.data.extend(v[a..b].iter().map(|&x| x as f32)),
            }
            if let Some(k) = self.data[start..].iter().position(|x| !x.is_finite()) {
                let value = match floats {
                    Floats::F32(v) => v[a + k] as f64,
                    Floats::F64(v) => v[a + k],
                };
                return Err(Error::NonFinite {
                    path: self.path.to_path_buf(),
                    row,
                    id: self.ids.id(row).to_string(),
                    index: k,
                    value,
                });
            }
        }
        Ok(())
    }

    fn null_emb(&self, row: usize) -> Error {
        Error::Null {
            path: self.path.to_path_buf(),
            column: "emb",
            row,
        }
    }
}

fn check_finite(path: &Path, ids: &IdIndex, dim: usize, data: &[f32]) -> Result<()> {
    if let Some(p) = data.iter().position(|x| !x.is_finite()) {
        let row = p / dim.max(1);
        return Err(Error::NonFinite {
            path: path.to_path_buf(),
            row,
            id: ids.id(row).to_string(),
            index: p % dim.max(1),
            value: data[p] as f64,
        });
    }
    Ok(())
}

/// Streams an embedding table to Parquet chunk by chunk; the file appears at its final path
/// only when [`EmbeddingWriter::finish`] succeeds.
pub struct EmbeddingWriter {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    dim: usize,
    options: WriteOptions,
    rows: usize,
}

impl EmbeddingWriter {
    /// Start writing `path` with embeddings of dimension `dim`.
    pub fn create(path: &Path, dim: usize, options: WriteOptions) -> Result<Self> {
        let tmp = atomic::temp_beside(path)?;
        let file = tmp.as_file().try_clone().map_err(|e| Error::io(path, e))?;
        let id_type = match options.id_type {
            IdType::Utf8 => DataType::Utf8,
            IdType::Int64 => DataType::Int64,
        };
        let item = Arc::new(Field::new("item", float_type(options.float), true));
        let emb_type = match options.layout {
            EmbLayout::List => DataType::List(item),
            EmbLayout::LargeList => DataType::LargeList(item),
            EmbLayout::FixedSizeList => DataType::FixedSizeList(
                item,
                i32::try_from(dim)
                    .map_err(|_| Error::invalid(path, format!("dimension {dim} too large")))?,
            ),
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", id_type, false),
            Field::new("emb", emb_type, false),
        ]));
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_size(options.row_group_rows.max(1))
            .build();
        let writer = ArrowWriter::try_new(file, schema.clone(), Some(props)).map_err(|source| {
            Error::Parquet {
                path: path.to_path_buf(),
                source,
            }
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            tmp,
            writer,
            schema,
            dim,
            options,
            rows: 0,
        })
    }

    /// Append rows: `data` holds `ids.len() × dim` finite values, row-major.
    pub fn write<S: AsRef<str>>(&mut self, ids: &[S], data: &[f32]) -> Result<()> {
        let n = ids.len();
        if data.len() != n * self.dim {
            return Err(Error::invalid(
                &self.path,
                format!(
                    "{} values for {n} rows of dimension {}, expected {}",
                    data.len(),
                    self.dim,
                    n * self.dim
                ),
            ));
        }
        if let Some(p) = data.iter().position(|x| !x.is_finite()) {
            let row = p / self.dim.max(1);
            return Err(Error::NonFinite {
                path: self.path.clone(),
                row: self.rows + row,
                id: ids[row].as_ref().to_string(),
                index: p % self.dim.max(1),
                value: data[p] as f64,
            });
        }
        let id_array: ArrayRef = match self.options.id_type {
            IdType::Utf8 => Arc::new(arrow_array::StringArray::from_iter_values(
                ids.iter().map(AsRef::as_ref),
            )),
            IdType::Int64 => {
                let mut parsed = Vec::with_capacity(n);
                for (i, id) in ids.iter().enumerate() {
                    let id = id.as_ref();
                    parsed.push(id.parse::<i64>().map_err(|_| {
                        Error::invalid(
                            &self.path,
                            format!(
                                "row {}: id {id:?} is not an integer, but the id column is int64",
                                self.rows + i
                            ),
                        )
                    })?);
                }
                Arc::new(Int64Array::from(parsed))
            }
        };
        let values: ArrayRef = match self.options.float {
            FloatType::F32 => Arc::new(Float32Array::from(data.to_vec())),
            FloatType::F64 => Arc::new(Float64Array::from_iter_values(
                data.iter().map(|&x| x as f64),
            )),
        };
        let item = Arc::new(Field::new("item", float_type(self.options.float), true));
        let arrow_err = |source| Error::Arrow {
            path: self.path.clone(),
            source,
        };
        let emb_array: ArrayRef = match self.options.layout {
            EmbLayout::List => Arc::new(
                ListArray::try_new(
                    item,
                    arrow_buffer::OffsetBuffer::from_lengths(std::iter::repeat_n(self.dim, n)),
                    values,
                    None,
                )
                .map_err(arrow_err)?,
            ),
            EmbLayout::LargeList => Arc::new(
                LargeListArray::try_new(
                    item,
                    arrow_buffer::OffsetBuffer::from_lengths(std::iter::repeat_n(self.dim, n)),
                    values,
                    None,
                )
                .map_err(arrow_err)?,
            ),
            EmbLayout::FixedSizeList => Arc::new(
                FixedSizeListArray::try_new(item, self.dim as i32, values, None)
                    .map_err(arrow_err)?,
            ),
        };
        let batch = RecordBatch::try_new(self.schema.clone(), vec![id_array, emb_array])
            .map_err(arrow_err)?;
        self.writer.write(&batch).map_err(|source| Error::Parquet {
            path: self.path.clone(),
            source,
        })?;
        self.rows += n;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Close the Parquet file and move it to its final path. Returns the number of rows.
    pub fn finish(self) -> Result<usize> {
        self.writer.close().map_err(|source| Error::Parquet {
            path: self.path.clone(),
            source,
        })?;
        atomic::persist(self.tmp, &self.path)?;
        Ok(self.rows)
    }
}

fn float_type(f: FloatType) -> DataType {
    match f {
        FloatType::F32 => DataType::Float32,
        FloatType::F64 => DataType::Float64,
    }
}
